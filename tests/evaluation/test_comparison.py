"""The main job's comparison: pre-trained vs random init on held-out places and dates."""

import re
from pathlib import Path

import pytest
import torch
from torchgeo.main import main as torchgeo_main

from torchgeo_geossl.datasets.demo import generate_demo_data
from torchgeo_geossl.evaluation import random_init_twin
from torchgeo_geossl.trainers import GeoMoCoTask

CONFIG = Path(__file__).resolve().parents[2] / 'configs' / 'demo.yaml'
LINE = re.compile(
    r'^held-out place recognition top-1: pretrained (0\.\d\d|1\.00) vs random init '
    r'(0\.\d\d|1\.00) \(chance (0\.\d\d)\)$'
)


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('comparison_demo')
    generate_demo_data(root, size=128)
    return root


def demo_arguments(root: Path, *extra: str) -> list[str]:
    """The main job's config at a tiny budget (128-px tiles, 32-px patches)."""
    return [
        'fit',
        '--config',
        str(CONFIG),
        f'--data.init_args.root={root}',
        '--data.init_args.tile_size=128',
        '--data.init_args.patch_size=32',
        '--data.init_args.batch_size=4',
        '--data.init_args.length=8',
        '--data.init_args.num_workers=0',
        '--data.init_args.holdout.cell_size=640',
        '--model.init_args.size=24',
        '--model.init_args.queue_size=64',
        '--trainer.enable_progress_bar=false',
        *extra,
    ]


def test_demo_config_prints_the_comparison_line(
    demo_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # the config writes under relative paths
    torchgeo_main(demo_arguments(demo_root, '--trainer.fast_dev_run=1'))
    lines = [
        line for line in capsys.readouterr().out.splitlines() if 'held-out' in line
    ]
    assert len(lines) == 1, lines
    match = LINE.match(lines[0])
    assert match is not None, lines[0]
    assert 0 < float(match.group(3)) < 1


def test_rerun_replaces_the_last_checkpoint(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 12: the second run wrote last-v1.ckpt and demo.sh exported the first
    monkeypatch.chdir(tmp_path)
    checkpoints = tmp_path / 'outputs' / 'demo' / 'checkpoints'
    for steps in (1, 2):
        torchgeo_main(demo_arguments(demo_root, f'--trainer.max_steps={steps}'))
    assert sorted(p.name for p in checkpoints.iterdir()) == [
        'gassl-demo.ckpt',
        'last.ckpt',
    ]
    last = torch.load(checkpoints / 'last.ckpt', map_location='cpu', weights_only=False)
    assert last['global_step'] == 2


def test_random_init_twin_is_the_untrained_same_architecture() -> None:
    torch.manual_seed(0)
    task = GeoMoCoTask(
        model='resnet18', in_channels=4, geo_classes=0, queue_size=16, size=16
    )
    with torch.no_grad():
        for p in task.model.parameters():
            p.add_(1.0)  # stands in for training
    state = torch.get_rng_state()
    twin = random_init_twin(task, seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # global random state untouched
    torch.manual_seed(3)
    fresh = GeoMoCoTask(
        model='resnet18', in_channels=4, geo_classes=0, queue_size=16, size=16
    )
    assert type(twin) is GeoMoCoTask
    assert not twin.training
    for (name, a), b, c in zip(
        twin.model.state_dict().items(),
        fresh.model.state_dict().values(),
        task.model.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b), name
        if a.is_floating_point() and name.endswith('weight'):
            assert not torch.equal(a, c), name

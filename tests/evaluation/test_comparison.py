"""The main job's comparison: pre-trained vs random init on held-out places and dates."""

import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch.cli import LightningCLI
from torch import Tensor, nn
from torchgeo.datamodules import BaseDataModule
from torchgeo.datasets.utils import Sample
from torchgeo.main import main as torchgeo_main
from torchgeo.tasks import BaseTask

from torchgeo_geossl.datasets.demo import (
    DEMO_LOCATIONS,
    DemoTimeSeries,
    generate_demo_data,
)
from torchgeo_geossl.evaluation import (
    HeldOutComparison,
    comparison,
    place_seeds,
    random_init_twin,
    shifted_crops,
)
from torchgeo_geossl.trainers import GeoMoCoTask

CONFIG = Path(__file__).resolve().parents[2] / 'configs' / 'demo.yaml'
VALIDATION = CONFIG.with_name('demo_validation.yaml')
LINE = re.compile(
    r'^held-out (?:region|place) recognition top-1( \(val split\))?: pretrained '
    r'(0\.\d\d|1\.00) vs random init (0\.\d\d|1\.00) \(chance (0\.\d\d)\)$'
)
INTERVAL = re.compile(
    r'^  pretrained - random init: ([+-]\d\.\d\d), 95% bootstrap interval '
    r'\[([+-]\d\.\d\d), ([+-]\d\.\d\d)\] over (\d+) places; (\d+) vs (\d+) views '
    r'recognised by one only, exact McNemar p = (\S+) \((\d+) views\)$'
)
CONTROL = re.compile(
    r'^  random init with batch-norm statistics of these views: (0\.\d\d|1\.00); '
    r'pretrained - it: ([+-]\d\.\d\d), 95% bootstrap interval '
    r'\[([+-]\d\.\d\d), ([+-]\d\.\d\d)\]; (\d+) vs (\d+) views recognised by '
    r'one only, exact McNemar p = (\S+)$'
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
    torchgeo_main(demo_arguments(demo_root, '--trainer.max_steps=1'))
    out = capsys.readouterr().out.splitlines()
    lines = [line for line in out if line.startswith('held-out')]
    # the headline (regions: the demo sites) first, then place recognition
    assert [line.split(' top-1')[0] for line in lines] == [
        'held-out region recognition',
        'held-out place recognition',
    ], lines
    for line in lines:
        match = LINE.match(line)
        assert match is not None, line
        assert match.group(1) is None  # the test split
        assert 0 < float(match.group(4)) < 1
        interval = INTERVAL.match(out[out.index(line) + 1])
        assert interval is not None, out
        low, gain, high = (float(interval.group(i)) for i in (2, 1, 3))
        assert low <= gain <= high
        places, views = int(interval.group(4)), int(interval.group(8))
        assert views == 2 * places
        difference = float(match.group(2)) - float(match.group(3))
        assert gain == pytest.approx(difference, abs=0.011)
        assert 0 <= float(interval.group(7)) <= 1
        control = CONTROL.match(out[out.index(line) + 2])
        assert control is not None, out
        low, gain, high = (float(control.group(i)) for i in (3, 2, 4))
        assert low <= gain <= high
        difference = float(match.group(2)) - float(control.group(1))
        assert gain == pytest.approx(difference, abs=0.011)
    metrics = next((tmp_path / 'outputs' / 'demo').rglob('metrics.csv')).read_text()
    for key in ('region', 'place'):
        assert f'test_{key}_top1_gain_low' in metrics
        assert f'test_{key}_mcnemar_p' in metrics
        assert f'test_{key}_top1_random_bn' in metrics
        assert f'test_{key}_top1_gain_random_bn_high' in metrics


def test_every_encoder_sees_the_same_views(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the comparison is paired (McNemar, bootstrap over places): the trained
    # encoder, the random init and the batch-norm control must score the same
    # views of the same places
    seen: list[tuple[int, list[Tensor]]] = []
    bank = comparison.held_out_bank

    def recording(
        encoders: Sequence[Callable[[Tensor], Tensor]],
        batches: Iterable[Sample],
        prepare: Callable[[Sample], Tensor],
        size: int,
    ) -> tuple[list[Tensor], Tensor]:
        kept = list(batches)
        views = [torch.cat([b['time'] for b in kept]), *map(prepare, kept)]
        seen.append((len(encoders), views))
        return bank(encoders, kept, prepare, size)

    monkeypatch.setattr(comparison, 'held_out_bank', recording)
    monkeypatch.chdir(tmp_path)
    torchgeo_main(demo_arguments(demo_root, '--trainer.max_steps=1'))
    # one pass embeds with the trained encoder and the random init while the
    # control learns the statistics; a second pass embeds with the control
    assert [count for count, _ in seen] == [3, 1]
    (_, first), (_, second) = seen
    assert len(first) == len(second) > 1
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


def test_validation_config_compares_on_the_validation_split(
    demo_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    arguments = demo_arguments(demo_root, '--trainer.max_steps=1')
    arguments[3:3] = ['--config', str(VALIDATION)]
    torchgeo_main(arguments)
    lines = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('held-out')
    ]
    assert len(lines) == 2, lines
    for line in lines:
        match = LINE.match(line)
        assert match is not None, line
        assert match.group(1) == ' (val split)'
    metrics = next((tmp_path / 'outputs').rglob('metrics.csv')).read_text()
    assert 'val_place_top1_pretrained' in metrics
    assert 'test_place' not in metrics


def test_comparison_split_must_be_held_out() -> None:
    with pytest.raises(ValueError, match="split='train' must be 'test' or 'val'"):
        HeldOutComparison(split='train')  # type: ignore[arg-type]


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


def parse(*configs: Path) -> LightningCLI:
    arguments = [item for config in configs for item in ('--config', str(config))]
    return LightningCLI(
        model_class=BaseTask,
        datamodule_class=BaseDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        run=False,
        args=arguments,
    )


def test_validation_config_is_the_main_job_scored_on_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the settings are chosen with this config: it must train exactly the main job
    monkeypatch.chdir(tmp_path)
    main, selection = parse(CONFIG), parse(CONFIG, VALIDATION)
    assert dict(selection.model.hparams) == dict(main.model.hparams)
    assert selection.datamodule.hparams == main.datamodule.hparams
    assert vars(selection.datamodule.holdout) == vars(main.datamodule.holdout)
    assert selection.trainer.max_epochs == main.trainer.max_epochs
    splits = [
        (type(c).__name__, c.split)
        for trainer in (main.trainer, selection.trainer)
        for c in trainer.callbacks
        if isinstance(c, HeldOutComparison)
    ]
    assert splits == [('HeldOutComparison', 'test'), ('HeldOutComparison', 'val')]


def test_batch_norm_reset_takes_the_statistics_of_the_crops() -> None:
    torch.manual_seed(0)
    encoder = nn.Sequential(
        nn.Conv2d(3, 5, 3), nn.BatchNorm2d(5), nn.ReLU(), nn.AdaptiveAvgPool2d(1)
    )
    encoder.eval()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    batches = [
        {'image': torch.randn(4, 2, 3, 12, 12) * 3 + 1, 'point': torch.rand(4, 2) * 90}
        for _ in range(3)
    ]
    control = comparison.batch_norm_reset(encoder)
    assert control.training
    comparison.held_out_bank([control], batches, lambda b: b['image'], size=8)
    control.eval()
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, before[key]), key  # the encoder is left unchanged
    # independent numpy: the conv outputs of the same shifted crops, batch by batch;
    # the running statistics are the plain averages of the batch means and of the
    # unbiased batch variances
    weight = encoder[0].weight.detach().double().numpy()
    bias = encoder[0].bias.detach().double().numpy()
    means, variances = [], []
    for batch in batches:
        seeds = place_seeds(batch['point'])
        crops = shifted_crops(batch['image'], 8, seeds).flatten(0, 1).double().numpy()
        out = np.zeros((crops.shape[0], 5, 6, 6))
        for i in range(6):
            for j in range(6):
                window = crops[:, :, i : i + 3, j : j + 3]
                out[:, :, i, j] = np.einsum('nchw,ochw->no', window, weight) + bias
        values = out.transpose(1, 0, 2, 3).reshape(5, -1)
        means.append(values.mean(axis=1))
        variances.append(values.var(axis=1, ddof=1))
    bn = control[1]
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean(means, 0), rtol=1e-4)
    np.testing.assert_allclose(bn.running_var.numpy(), np.mean(variances, 0), rtol=1e-4)
    assert int(bn.num_batches_tracked) == 3


def test_batch_norm_reset_needs_batch_norm() -> None:
    with pytest.raises(ValueError, match='Sequential has no batch-norm layer'):
        comparison.batch_norm_reset(nn.Sequential(nn.Conv2d(3, 5, 3)))


def test_held_out_bank_crops_do_not_depend_on_the_batching() -> None:
    # The same places and views, batched by 2 and by 3: each place is cropped from
    # its own point, so every encoder sees the same crops of it either way (with
    # crops seeded by the batch index, the batch size changed what was scored).
    torch.manual_seed(0)
    images = torch.rand(6, 2, 3, 16, 16)
    points = torch.rand(6, 2) * 90

    def batched(size: int) -> list[dict[str, torch.Tensor]]:
        return [
            {'image': images[i : i + size], 'point': points[i : i + size]}
            for i in range(0, 6, size)
        ]

    def flatten(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)

    (by_two,), points_two = comparison.held_out_bank(
        [flatten], batched(2), lambda b: b['image'], 8
    )
    (by_three,), points_three = comparison.held_out_bank(
        [flatten], batched(3), lambda b: b['image'], 8
    )
    assert torch.equal(points_two, points_three)
    assert torch.equal(by_two, by_three)
    # and they are crops of the places' own views, at the offsets of their points
    expected = shifted_crops(images, 8, place_seeds(points)).flatten(2)
    assert torch.equal(by_two, expected)


def test_distinct_footprints_count_each_tile_once() -> None:
    # The demo fixture: ten sites, six dates each, one tile footprint per site.
    dataset = DemoTimeSeries(Path(__file__).resolve().parents[1] / 'data' / 'demo')
    footprints = comparison.distinct_footprints(dataset)
    assert len(dataset.index) == 6 * len(DEMO_LOCATIONS)
    assert len(footprints) == len(DEMO_LOCATIONS)
    points = torch.tensor([[loc.lon, loc.lat] for loc in DEMO_LOCATIONS])
    regions = comparison.footprint_regions(dataset, points)
    assert sorted(regions.tolist()) == list(range(len(DEMO_LOCATIONS)))

"""Tests of benchmarks/demo_ceiling.py: its task, its crops and a quick run."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import torch
from conftest import BENCHMARKS, import_benchmark
from torch import Tensor

from torchgeo_geossl.datasets.demo import DEMO_LOCATIONS, DemoTimeSeries

REPO = Path(__file__).resolve().parents[2]
SCRIPT = BENCHMARKS / 'demo_ceiling.py'
FIXTURE = REPO / 'tests' / 'data' / 'demo'


@pytest.fixture(scope='module')
def ceiling() -> ModuleType:
    return import_benchmark('demo_ceiling')


def sites_batch(sites: Tensor) -> dict[str, Tensor]:
    """A batch of one patch at the centre of each of *sites* (demo site indices)."""
    points = torch.tensor(
        [[DEMO_LOCATIONS[s].lon, DEMO_LOCATIONS[s].lat] for s in sites.tolist()]
    )
    return {
        'image': torch.rand(len(sites), 2, 4, 20, 20),
        'point': points,
        'label': sites % 3,
        'time': torch.stack([torch.zeros(len(sites)), torch.ones(len(sites))], 1),
    }


def region_task(ceiling: ModuleType) -> Any:
    """The region-supervised task, set up on the demo fixture."""
    task = ceiling.RegionSupervisedTask(
        model='resnet18', in_channels=4, geo_classes=0, size=16, queue_size=64
    )
    dataset = DemoTimeSeries(FIXTURE)
    task._trainer = SimpleNamespace(datamodule=SimpleNamespace(geo_dataset=dataset))
    task.setup('fit')
    return task


def test_region_task_refuses_patches_outside_every_footprint(
    ceiling: ModuleType,
) -> None:
    task = region_task(ceiling)
    batch = sites_batch(torch.tensor([0, 1]))
    batch['point'][1] = torch.tensor([0.0, 0.0])  # in the Gulf of Guinea
    with pytest.raises(ValueError, match='1 training patches lie in no file footprint'):
        task.training_step(batch, 0)


def test_region_task_trains_on_the_site_of_each_patch(
    ceiling: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two patches of every demo site, in shuffled order, each with a geo-cluster
    # label that is NOT its site: the loss must use the sites.
    order = torch.randperm(
        2 * len(DEMO_LOCATIONS), generator=torch.Generator().manual_seed(0)
    )
    sites = (torch.arange(2 * len(DEMO_LOCATIONS)) % len(DEMO_LOCATIONS))[order]
    batch = sites_batch(sites)
    task = region_task(ceiling)
    assert task.region_head.out_features == len(DEMO_LOCATIONS)
    logged: dict[str, Tensor] = {}
    monkeypatch.setattr(
        task, 'log', lambda name, value, **_: logged.update({name: value})
    )
    seen: list[Tensor] = []
    cross_entropy = torch.nn.functional.cross_entropy

    def spy(logits: Tensor, labels: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        seen.append(labels)
        return cross_entropy(logits, labels, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, 'cross_entropy', spy)
    loss = task.training_step(batch, 0)
    (labels,) = seen
    same_label = labels[:, None] == labels[None, :]
    same_site = sites[:, None] == sites[None, :]
    assert torch.equal(same_label, same_site)
    assert torch.equal(logged['train_loss'], loss)
    loss.backward()
    assert task.region_head.weight.grad is not None
    assert next(task.model.parameters()).grad is not None


def test_crop_only_draws_new_offsets_at_every_call(ceiling: ModuleType) -> None:
    crop = ceiling.CropOnly(size=4)
    views = torch.arange(2 * 2 * 1 * 16 * 16, dtype=torch.float).reshape(
        2, 2, 1, 16, 16
    )
    first, second = crop(views), crop(views)
    assert first.shape == (2, 2, 1, 4, 4)
    assert not torch.equal(first, second)
    # every crop is a window of its own view
    for crops in (first, second):
        for i in range(2):
            for j in range(2):
                corner = int(crops[i, j, 0, 0, 0]) - int(views[i, j, 0, 0, 0])
                top, left = divmod(corner, 16)
                window = views[i, j, :, top : top + 4, left : left + 4]
                assert torch.equal(crops[i, j], window)


@pytest.mark.slow
def test_quick_run_writes_both_pipelines(tmp_path: Path) -> None:
    out = tmp_path / 'out'
    result = subprocess.run(
        [sys.executable, str(SCRIPT), '--quick', '--out', str(out)],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=os.environ | {'OMP_WAIT_POLICY': 'PASSIVE'},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads((out / 'demo_ceiling.json').read_text())
    assert payload['quick'] is True
    runs = payload['runs']
    assert [run['pipeline'] for run in runs] == ['augmented', 'crop']
    for run in runs:
        assert run['steps'] == 2
        for question in ('region', 'place'):
            for key in ('top1_pretrained', 'top1_random', 'top1_random_bn', 'chance'):
                assert 0 <= run[f'{question}_{key}'] <= 1
            gain = run[f'{question}_top1_gain_random_bn']
            expected = (
                run[f'{question}_top1_pretrained'] - run[f'{question}_top1_random_bn']
            )
            assert gain == pytest.approx(expected, abs=1e-9)
    assert (out / 'demo_ceiling.png').stat().st_size > 0
    assert '| augmented | 16 | 2 | 0 |' in result.stdout
    assert not (tmp_path / 'data').exists()

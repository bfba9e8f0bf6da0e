from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from conftest import SeriesDataset, monthly, write_series
from lightning.fabric.plugins.environments.lightning import find_free_network_port
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import Tensor

from torchgeo_geossl.datamodules import PointsDataModule, TemporalGeoDataModule
from torchgeo_geossl.datasets import DemoTimeSeries
from torchgeo_geossl.resume import RestoreRNGState, ResumableDataLoader
from torchgeo_geossl.samplers import ShardedGeoSampler, ShardedIndexSampler

DATA = Path(__file__).resolve().parents[1] / 'data'
POINTS = {'lon_column': 'lon', 'lat_column': 'lat', 'label_column': 'biome'}


def demo_module(**kwargs: Any) -> TemporalGeoDataModule:
    options = {'paths': str(DATA / 'demo'), 'batch_size': 2, 'patch_size': 4}
    return TemporalGeoDataModule(DemoTimeSeries, **{**options, 'length': 8, **kwargs})


def as_rank(datamodule: Any, rank: int, world: int) -> Any:
    """Attach a stand-in for a trainer of *world* processes."""
    kwargs = {'num_replicas': world, 'rank': rank} if world > 1 else None
    datamodule.trainer = SimpleNamespace(distributed_sampler_kwargs=kwargs)
    return datamodule


def locations(loader: Any, epoch: int = 0) -> list[tuple[float, ...]]:
    loader.sampler.set_epoch(epoch)
    return [
        (*point, *time)
        for batch in loader
        for point, time in zip(
            batch['point'].tolist(), batch['time'].tolist(), strict=True
        )
    ]


def test_temporal_module_shards_its_epoch() -> None:
    datamodule = demo_module()
    datamodule.setup('fit')
    single = datamodule.train_dataloader()
    assert isinstance(single, ResumableDataLoader)
    assert isinstance(single.sampler, ShardedGeoSampler)
    assert len(single) == 4
    everything = locations(single)

    shards = []
    for rank in range(2):
        loader = as_rank(datamodule, rank, 2).train_dataloader()
        assert len(loader) == 2
        shards.append(locations(loader))
    assert not set(shards[0]) & set(shards[1])
    assert sorted(shards[0] + shards[1]) == sorted(everything)
    assert locations(single, epoch=1) != everything


def test_map_style_module_shards_its_epoch() -> None:
    datamodule = PointsDataModule(
        DATA / 'points' / 'points.csv', **POINTS, batch_size=2
    )
    datamodule.setup('fit')
    assert datamodule.train_dataset is not None
    single = datamodule.train_dataloader()
    assert isinstance(single.sampler, ShardedIndexSampler)
    assert single.sampler.seed == 0  # the data module's seed

    def points(loader: Any) -> list[tuple[float, float]]:
        return [tuple(p) for batch in loader for p in batch['point'].tolist()]

    shards = [points(as_rank(datamodule, r, 2).train_dataloader()) for r in range(2)]
    assert len(shards[0]) == len(shards[1])
    assert not set(shards[0]) & set(shards[1])
    assert set(points(single)) <= set(shards[0]) | set(shards[1])


class _Recorder(LightningModule):
    """Saves the samples each process trains on, per epoch."""

    def __init__(self, out: Path) -> None:
        super().__init__()
        self.out = out
        self.weight = torch.nn.Parameter(torch.ones(()))
        self.seen: list[Tensor] = []

    def on_train_start(self) -> None:
        loader = self.trainer.train_dataloader
        assert isinstance(loader, ResumableDataLoader)
        assert isinstance(loader.sampler, ShardedGeoSampler)  # not wrapped
        assert loader.sampler.num_replicas == 2
        assert loader.sampler.rank == self.global_rank

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        self.seen.append(torch.cat([batch['point'], batch['time']], dim=1))
        return self.weight * batch['image'].mean()

    def on_train_epoch_end(self) -> None:
        self.out.mkdir(exist_ok=True)
        path = self.out / f'rank{self.global_rank}_epoch{self.current_epoch}.pt'
        torch.save(torch.cat(self.seen), path)
        self.seen = []

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.0)


def _ddp_fit(
    datamodule: Any,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    ckpt_path: Path | None = None,
) -> None:
    # Lightning leaves MASTER_PORT set after a run: take a free port every time
    monkeypatch.setenv('MASTER_PORT', str(find_free_network_port()))
    trainer = Trainer(
        accelerator='cpu',
        devices=2,
        strategy='ddp_spawn',
        max_epochs=2,
        logger=False,
        callbacks=[
            RestoreRNGState(),
            ModelCheckpoint(dirpath=out.parent, filename='mid', every_n_train_steps=3),
        ],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(_Recorder(out), datamodule=datamodule, ckpt_path=ckpt_path)


@pytest.mark.slow
@pytest.mark.filterwarnings('ignore:TemporalViewSampler skipping')
def test_ddp_processes_draw_their_shards_and_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # half of the area has a single date: processes skip different locations
    write_series(tmp_path / 'data', site='many', dates=monthly(6), origin=(5e5, 5e6))
    write_series(tmp_path / 'data', site='one', dates=monthly(1), origin=(6e5, 5e6))

    def module() -> TemporalGeoDataModule:
        return TemporalGeoDataModule(
            SeriesDataset,
            paths=str(tmp_path / 'data'),
            res=10.0,
            batch_size=2,
            patch_size=4,
            length=8,
        )

    _ddp_fit(module(), tmp_path / 'full', monkeypatch)  # 2 steps per epoch, process

    def saved(run: str, rank: int, epoch: int) -> Tensor:
        return torch.load(tmp_path / run / f'rank{rank}_epoch{epoch}.pt')

    reference = module()
    reference.setup('fit')
    for epoch in range(2):
        ranks = [saved('full', r, epoch) for r in range(2)]
        for rank, rows in enumerate(ranks):
            expected = locations(as_rank(reference, rank, 2).train_dataloader(), epoch)
            assert [tuple(row) for row in rows.tolist()] == expected
        assert not {tuple(r) for r in ranks[0].tolist()} & {
            tuple(r) for r in ranks[1].tolist()
        }
    assert not torch.equal(saved('full', 0, 0), saved('full', 0, 1))

    # step 3 is the first of epoch 1: each process stored its own position
    checkpoint = torch.load(tmp_path / 'mid.ckpt', weights_only=True)
    (loader,) = checkpoint['loops']['fit_loop']['state_dict']['combined_loader']
    assert [p['consumed'] for p in loader['processes']] == [2, 2]
    assert [p['epoch'] for p in loader['processes']] == [1, 1]
    assert len(checkpoint['callbacks']['RestoreRNGState']['processes']) == 2

    _ddp_fit(module(), tmp_path / 'resumed', monkeypatch, tmp_path / 'mid.ckpt')
    for rank in range(2):
        assert torch.equal(saved('resumed', rank, 1), saved('full', rank, 1)[2:])

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.fabric.plugins.environments.lightning import find_free_network_port
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from litdata import StreamingDataLoader
from torch import Tensor

from torchgeo_geossl.chip import METADATA, chip
from torchgeo_geossl.datamodules import StreamingViewsDataModule, TemporalGeoDataModule
from torchgeo_geossl.datasets import DemoTimeSeries
from torchgeo_geossl.resume import RestoreRNGState

DATA = Path(__file__).resolve().parents[1] / 'data'
SOURCE: dict[str, Any] = {
    'paths': str(DATA / 'demo'),
    'batch_size': 4,
    'patch_size': 8,
    'length': 24,
    'views': 3,
    'geo_clusters': 3,
    'mean': 1000.0,
    'std': 2000.0,
    'scale': 10_000.0,
    'seed': 5,
}


def source() -> TemporalGeoDataModule:
    return TemporalGeoDataModule(DemoTimeSeries, **SOURCE)


@pytest.fixture(scope='module')
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp('store') / 'chips'
    chip(source(), out, num_workers=2)
    return out


def streaming(store: Path, **kwargs: Any) -> StreamingViewsDataModule:
    options = {'batch_size': 4, 'shuffle': False, 'cache_dir': store.parent / 'cache'}
    datamodule = StreamingViewsDataModule(store, **{**options, **kwargs})
    datamodule.setup('fit')
    return datamodule


def rows(batches: list[dict[str, Tensor]]) -> list[tuple[float, ...]]:
    return [
        (*point, *time)
        for batch in batches
        for point, time in zip(
            batch['point'].tolist(), batch['time'].tolist(), strict=True
        )
    ]


def test_yields_the_source_batches_bitwise(store: Path) -> None:
    reference = source()
    reference.setup('fit')
    loader = reference.train_dataloader()
    loader.sampler.set_epoch(0)
    expected = list(loader)
    datamodule = streaming(store)
    got = list(datamodule.train_dataloader())
    assert len(got) == len(expected) == 6
    for want, have in zip(expected, got, strict=True):
        assert sorted(have) == sorted(want)
        for key, value in want.items():
            assert have[key].dtype == value.dtype, key
            assert have[key].shape == value.shape, key
            assert torch.equal(have[key], value), key
    assert got[0]['image'].shape == (4, 3, 4, 8, 8)
    assert got[0]['skipped'].tolist() == [0, 0, 0, 0]
    # every epoch without shuffling is the chipped one
    assert rows(list(datamodule.train_dataloader())) == rows(got)


def test_carries_the_source_settings(store: Path) -> None:
    reference = source()
    reference.setup('fit')
    datamodule = streaming(store)
    assert datamodule.geo_clusters is not None
    assert reference.geo_clusters is not None
    assert torch.equal(
        datamodule.geo_clusters.centroids, reference.geo_clusters.centroids
    )
    assert datamodule.num_geo_clusters == 3
    image = torch.full((1, 1, 4, 2, 2), 3000.0)
    # raw 3000 -> 0.3 for the augmentation -> (3000 - 1000) / 2000 = 1
    rescaled = datamodule.on_after_batch_transfer({'image': image.clone()}, 0)
    assert torch.allclose(rescaled['image'], torch.full_like(image, 0.3))
    assert torch.allclose(datamodule.standardize(rescaled['image']), image / 3000)
    assert datamodule.patch_size == 8
    assert datamodule.views == 3
    metadata = json.loads((store / METADATA).read_text())
    assert (metadata['samples'], metadata['drawn'], metadata['skipped']) == (24, 24, 0)
    assert metadata['seed'] == 5


def test_shuffle_serves_the_same_samples_in_new_orders(store: Path) -> None:
    ordered = rows(list(streaming(store).train_dataloader()))
    shuffled = streaming(store, shuffle=True, seed=1)
    loader = shuffled.train_dataloader()
    assert isinstance(loader, StreamingDataLoader)
    first, second = rows(list(loader)), rows(list(loader))
    assert sorted(first) == sorted(second) == sorted(ordered)
    assert first != ordered
    assert first != second
    again = rows(list(streaming(store, shuffle=True, seed=1).train_dataloader()))
    assert again == first


def test_incomplete_batches_are_dropped(store: Path) -> None:
    batches = list(streaming(store, batch_size=5).train_dataloader())
    assert [len(batch['point']) for batch in batches] == [5] * 4


@pytest.mark.parametrize('stage', ['validate', 'test', 'predict'])
def test_other_stages_name_the_source_config(store: Path, stage: str) -> None:
    datamodule = streaming(store)
    with pytest.raises(ValueError, match=f"streams training samples only.*'{stage}'"):
        datamodule.setup(stage)


def test_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r'has no geossl\.json: it is not a store'):
        StreamingViewsDataModule(tmp_path)
    (tmp_path / METADATA).write_text(json.dumps({'version': 99}))
    with pytest.raises(ValueError, match='has version 99'):
        StreamingViewsDataModule(tmp_path)


@pytest.mark.parametrize(('option', 'value'), [('batch_size', 0), ('num_workers', -1)])
def test_bad_options(store: Path, option: str, value: int) -> None:
    with pytest.raises(ValueError, match=option):
        StreamingViewsDataModule(store, **{option: value})


class _Recorder(LightningModule):
    """Saves the samples each process trains on, per epoch."""

    def __init__(self, out: Path) -> None:
        super().__init__()
        self.out = out
        self.weight = torch.nn.Parameter(torch.ones(()))
        self.seen: list[Tensor] = []

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
    datamodule: StreamingViewsDataModule,
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
            ModelCheckpoint(dirpath=out.parent, filename='mid', every_n_train_steps=4),
        ],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(_Recorder(out), datamodule=datamodule, ckpt_path=ckpt_path)


@pytest.mark.slow
def test_ddp_processes_stream_their_shards_and_resume(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def module() -> StreamingViewsDataModule:
        return StreamingViewsDataModule(
            store, batch_size=4, shuffle=True, seed=2, cache_dir=tmp_path / 'cache'
        )

    _ddp_fit(module(), tmp_path / 'full', monkeypatch)  # 3 steps per epoch, process

    def saved(run: str, rank: int, epoch: int) -> list[tuple[float, ...]]:
        rows = torch.load(tmp_path / run / f'rank{rank}_epoch{epoch}.pt')
        return [tuple(row) for row in rows.tolist()]

    everything = sorted(rows(list(streaming(store).train_dataloader())))
    for epoch in range(2):
        shards = [saved('full', rank, epoch) for rank in range(2)]
        assert [len(shard) for shard in shards] == [12, 12]
        assert not set(shards[0]) & set(shards[1])
        assert sorted(shards[0] + shards[1]) == everything
    assert saved('full', 0, 0) != saved('full', 0, 1)

    # step 4 is the first of epoch 1: LitData's loader state is in the checkpoint
    checkpoint = torch.load(tmp_path / 'mid.ckpt', weights_only=False)
    (loader,) = checkpoint['loops']['fit_loop']['state_dict']['combined_loader']
    assert loader['num_samples_yielded'] == 4
    assert loader['dataset']['world_size'] == 2

    _ddp_fit(module(), tmp_path / 'resumed', monkeypatch, tmp_path / 'mid.ckpt')
    for rank in range(2):
        assert saved('resumed', rank, 1) == saved('full', rank, 1)[4:]

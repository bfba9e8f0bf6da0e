from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import (
    Callback,
    LightningDataModule,
    LightningModule,
    Trainer,
    seed_everything,
)
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import Tensor

from torchgeo_geossl.datamodules import DemoDataModule, S2100kDataModule
from torchgeo_geossl.resume import RestoreRNGState
from torchgeo_geossl.trainers import CSPTask, GeoMoCoTask

SMALL = {
    'model': 'test_resnet',
    'in_channels': 4,
    'size': 16,
    'queue_size': 24,
    'geo_classes': 4,
}
STEPS_PER_EPOCH = 4  # length 16, batches of 4
TOTAL = 7  # one epoch and three steps: the resumed runs cross an epoch end
S2100K = Path(__file__).resolve().parents[1] / 'data' / 's2100k'  # 6 patches


@pytest.fixture(scope='module', autouse=True)
def one_thread() -> Iterator[None]:
    # tiny convolutions on 2 shared cores: threads only contend
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('demo')
    DemoDataModule(root=root, tile_size=64).prepare_data()
    return root


class _Recorder(Callback):
    """Records the loss and the sample locations of every training step."""

    def __init__(self) -> None:
        self.losses: dict[int, Tensor] = {}
        self.points: dict[int, Tensor] = {}

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.losses[trainer.global_step] = outputs['loss'].detach().clone()
        self.points[trainer.global_step] = batch['point'].clone()


Make = Callable[[int], tuple[LightningModule, LightningDataModule]]


def _gassl(root: Path) -> Make:
    def make(num_workers: int) -> tuple[LightningModule, LightningDataModule]:
        datamodule = DemoDataModule(
            root=root,
            tile_size=64,
            patch_size=32,
            batch_size=4,
            length=4 * STEPS_PER_EPOCH,
            geo_clusters=4,
            num_workers=num_workers,
        )
        return GeoMoCoTask(**SMALL), datamodule  # type: ignore[arg-type]

    return make


def _fit(
    make: Make,
    tmp_path: Path,
    *,
    max_steps: int,
    num_workers: int = 0,
    callbacks: tuple[Callback, ...] = (),
    ckpt_path: Path | None = None,
) -> tuple[Any, Trainer, _Recorder]:
    seed_everything(0)
    task, datamodule = make(num_workers)
    recorder = _Recorder()
    trainer = Trainer(
        max_steps=max_steps,
        max_epochs=3,
        accelerator='cpu',
        deterministic=True,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=bool(callbacks),
        callbacks=[recorder, *callbacks],
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=datamodule, ckpt_path=ckpt_path)
    return task, trainer, recorder


@pytest.fixture(scope='module')
def uninterrupted(
    demo_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[GeoMoCoTask, Trainer, _Recorder]:
    return _fit(_gassl(demo_root), tmp_path_factory.mktemp('full'), max_steps=TOTAL)


def _interrupt_and_resume(
    make: Make, tmp_path: Path, at: int, total: int = TOTAL, **kwargs: Any
) -> tuple[Any, Trainer, _Recorder, dict[str, Any]]:
    checkpoints = ModelCheckpoint(
        dirpath=tmp_path, filename='interrupted', every_n_train_steps=at
    )
    _fit(make, tmp_path, max_steps=at, callbacks=(checkpoints,), **kwargs)
    ckpt = tmp_path / 'interrupted.ckpt'
    checkpoint = torch.load(ckpt, weights_only=True)
    task, trainer, recorder = _fit(
        make, tmp_path, max_steps=total, ckpt_path=ckpt, **kwargs
    )
    return task, trainer, recorder, checkpoint


def _assert_same_losses(
    resumed: _Recorder, full: _Recorder, at: int, total: int = TOTAL
) -> None:
    assert sorted(full.losses) == list(range(1, total + 1))
    assert sorted(resumed.losses) == list(range(at + 1, total + 1))
    for step in range(at + 1, total + 1):
        assert torch.equal(resumed.points[step], full.points[step]), step
        assert torch.equal(resumed.losses[step], full.losses[step]), step


def _assert_same_training_state(
    task: LightningModule, trainer: Trainer, reference: LightningModule, ref: Trainer
) -> None:
    state, expected = task.state_dict(), reference.state_dict()
    assert state.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(state[name], value), name
    optimizer = trainer.optimizers[0].state_dict()
    ref_optimizer = ref.optimizers[0].state_dict()
    assert optimizer['param_groups'] == ref_optimizer['param_groups']  # lr
    assert optimizer['state'].keys() == ref_optimizer['state'].keys()
    for key, buffers in ref_optimizer['state'].items():
        for name, value in buffers.items():
            assert torch.equal(optimizer['state'][key][name], value), (key, name)
    schedulers = [c.scheduler.state_dict() for c in trainer.lr_scheduler_configs]
    assert schedulers == [c.scheduler.state_dict() for c in ref.lr_scheduler_configs]


def _assert_same_state(
    task: GeoMoCoTask, trainer: Trainer, reference: GeoMoCoTask, ref: Trainer
) -> None:
    # encoders, EMA key encoder, heads, queue, optimizer and scheduler
    _assert_same_training_state(task, trainer, reference, ref)
    assert int(task.queue.ptr) == int(reference.queue.ptr)
    assert task.avg_output_std == reference.avg_output_std  # collapse monitor
    assert task.geo_clusters is not None
    assert reference.geo_clusters is not None
    assert torch.equal(task.geo_clusters.centroids, reference.geo_clusters.centroids)
    scheduler = trainer.lr_scheduler_configs[0].scheduler.state_dict()
    assert scheduler['last_epoch'] == 1  # stepped once, at the end of epoch 0


@pytest.mark.parametrize('at', [2, 4, 5])
def test_mid_epoch_resume_gives_the_same_losses(
    at: int,
    demo_root: Path,
    tmp_path: Path,
    uninterrupted: tuple[GeoMoCoTask, Trainer, _Recorder],
) -> None:
    reference, ref_trainer, full = uninterrupted
    task, trainer, resumed, checkpoint = _interrupt_and_resume(
        _gassl(demo_root), tmp_path, at
    )

    # the checkpoint holds the loader position and the RNG states
    (loader_state,) = checkpoint['loops']['fit_loop']['state_dict']['combined_loader']
    epoch = (at - 1) // STEPS_PER_EPOCH
    assert loader_state['batches'] == at - epoch * STEPS_PER_EPOCH
    assert loader_state['sampler']['epoch'] == epoch
    assert loader_state['sampler']['consumed'] == 4 * loader_state['batches']
    rng = checkpoint['callbacks']['RestoreRNGState']['processes']
    assert len(rng) == 1
    assert set(rng[0]) >= {'torch', 'numpy', 'python'}

    _assert_same_losses(resumed, full, at)
    _assert_same_state(task, trainer, reference, ref_trainer)


@pytest.mark.slow
def test_mid_epoch_resume_with_a_worker(
    demo_root: Path,
    tmp_path: Path,
    uninterrupted: tuple[GeoMoCoTask, Trainer, _Recorder],
) -> None:
    reference, ref_trainer, full = uninterrupted
    task, trainer, resumed, _ = _interrupt_and_resume(
        _gassl(demo_root), tmp_path, at=2, num_workers=1
    )
    _assert_same_losses(resumed, full, at=2)
    _assert_same_state(task, trainer, reference, ref_trainer)


def test_without_the_rng_states_the_augmentations_differ(
    demo_root: Path,
    tmp_path: Path,
    uninterrupted: tuple[GeoMoCoTask, Trainer, _Recorder],
) -> None:
    # the same data, but a resumed run that skips the RNG restore augments otherwise
    _, _, full = uninterrupted
    _fit(
        _gassl(demo_root),
        tmp_path,
        max_steps=2,
        callbacks=(
            ModelCheckpoint(
                dirpath=tmp_path, filename='interrupted', every_n_train_steps=2
            ),
        ),
    )
    original = RestoreRNGState.on_train_start
    try:
        RestoreRNGState.on_train_start = lambda *args: None  # type: ignore[method-assign]
        _, _, resumed = _fit(
            _gassl(demo_root),
            tmp_path,
            max_steps=3,
            ckpt_path=tmp_path / 'interrupted.ckpt',
        )
    finally:
        RestoreRNGState.on_train_start = original  # type: ignore[method-assign]
    assert torch.equal(resumed.points[3], full.points[3])
    assert not torch.equal(resumed.losses[3], full.losses[3])


def test_csp_resume_gives_the_same_losses(tmp_path: Path) -> None:
    # S2-100K: a map-style dataset; CSP draws random locations and dropout masks
    def make(num_workers: int) -> tuple[LightningModule, LightningDataModule]:
        task = CSPTask(
            model='test_resnet',
            in_channels=12,
            embed_dim=8,
            frequencies=4,
            hidden_dim=16,
        )
        return task, S2100kDataModule(root=S2100K, batch_size=2)

    reference, ref_trainer, full = _fit(make, tmp_path / 'full', max_steps=5)
    task, trainer, resumed, checkpoint = _interrupt_and_resume(
        make, tmp_path, at=2, total=5
    )
    (loader_state,) = checkpoint['loops']['fit_loop']['state_dict']['combined_loader']
    assert loader_state['sampler']['consumed'] == 4
    _assert_same_losses(resumed, full, at=2, total=5)
    _assert_same_training_state(task, trainer, reference, ref_trainer)

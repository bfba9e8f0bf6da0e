"""Bad input and faults end to end: data modules, trainers, checkpoints, precision."""

import errno
import os
import re
import signal
import socket
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pyproj
import pytest
import torch
from conftest import SeriesDataset, monthly, write_series
from lightning.fabric.plugins.io import TorchCheckpointIO
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import Tensor
from torch.utils.data import get_worker_info

from torchgeo_geossl import checkpoint
from torchgeo_geossl.callbacks import (
    CheckpointOnException,
    SkippedSamplesMonitor,
    _is_worker_crash,
)
from torchgeo_geossl.checkpoint import (
    AtomicCheckpointIO,
    CheckpointReadError,
    CheckpointWriteError,
    use_atomic_io,
)
from torchgeo_geossl.datamodules import TemporalGeoDataModule
from torchgeo_geossl.datasets import views
from torchgeo_geossl.datasets.bands import BandCountError
from torchgeo_geossl.datasets.views import ViewReadError
from torchgeo_geossl.faults import NonFiniteError
from torchgeo_geossl.trainers import GeoMoCoTask
from torchgeo_geossl.trainers.csp import CSPTask
from torchgeo_geossl.trainers.seco import SeCoTask

TINY = {'model': 'test_resnet', 'in_channels': 4, 'size': 16}
CUSTOM_TMERC = (
    '+proj=tmerc +lat_0=0 +lon_0=3.5 +k=0.9999 +x_0=500000 +y_0=0 '
    '+ellps=WGS84 +units=m +no_defs'
)
TRAINER: dict[str, Any] = {
    'accelerator': 'cpu',
    'logger': False,
    'enable_progress_bar': False,
    'enable_model_summary': False,
}


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, '_WARNED', set())


def make(
    root: Path, dataset: type[SeriesDataset] = SeriesDataset, **kwargs: Any
) -> TemporalGeoDataModule:
    options: dict[str, Any] = {
        'paths': str(root),
        'batch_size': 4,
        'patch_size': 16,
        'length': 12,
        'std': 1000.0,
    }
    options.update(kwargs)
    return TemporalGeoDataModule(dataset, **options)


def gassl() -> GeoMoCoTask:
    return GeoMoCoTask(**TINY, geo_classes=0, queue_size=16, lr_batch_size=None)


# -- unreadable files -------------------------------------------------------


class _Counting(LightningModule):
    """Consumes batches; counts samples."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.seen = 0

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        self.seen += len(batch['image'])
        return self.layer(batch['image'].mean().reshape(1, 1)).sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_truncated_geotiff_mid_epoch(tmp_path: Path) -> None:
    # a third of the samples read the broken date (views=2 of 6 dates)
    paths = write_series(tmp_path / 'data', dates=monthly(6), size=64)
    dm = make(tmp_path / 'data', on_read_error='skip', batch_size=6, length=18)
    dm.setup('fit')  # the index is built from intact files
    bad = paths[2]
    with open(bad, 'r+b') as f:
        f.truncate(bad.stat().st_size // 2)
    dm.setup = lambda stage: None  # type: ignore[method-assign]
    task = _Counting()
    monitor = SkippedSamplesMonitor()
    trainer = Trainer(
        max_epochs=1, callbacks=[monitor], enable_checkpointing=False, **TRAINER
    )
    with pytest.warns(UserWarning, match='Skipping it') as record:
        trainer.fit(task, datamodule=dm)
    messages = [str(w.message) for w in record]
    skipping = [m for m in messages if 'Skipping it' in m]
    assert len(skipping) == 1  # once per file and process
    assert bad.name in skipping[0]
    assert '1 unreadable view(s) so far in this process' in skipping[0]
    assert monitor.total > 0
    assert task.seen + monitor.total == 18
    assert trainer.callback_metrics['train_skipped_samples'] == monitor.total
    assert dm.train_dataset.stats['skipped'] == monitor.total  # type: ignore[attr-defined]
    summary = [m for m in messages if 'samples of epoch 0 were skipped' in m]
    assert summary == [
        (
            f'{monitor.total} of 18 samples of epoch 0 were skipped ({monitor.total} '
            'in the run so far; logged as train_skipped_samples). The warnings of the '
            'data loader (its worker processes print them) name the files and '
            'reasons.'
        )
    ]


def test_truncated_geotiff_fails_fast_by_default(tmp_path: Path) -> None:
    paths = write_series(tmp_path, dates=monthly(2), size=64)
    dm = make(tmp_path, views=2, batch_size=2, length=4)
    dm.setup('fit')
    with open(paths[0], 'r+b') as f:
        f.truncate(paths[0].stat().st_size // 2)
    with pytest.raises(ViewReadError, match=rf'candidate file\(s\).*{paths[0].name}'):
        next(iter(dm.train_dataloader()))


# -- non-finite values -----------------------------------------------------------


def test_nonfinite_batch_is_refused_with_where(tmp_path: Path) -> None:
    dm = make(tmp_path)
    image = torch.ones(3, 2, 4, 3, 3)
    image[1, 1, 2, 0, 0] = float('nan')
    batch = {
        'image': image,
        'point': torch.tensor(
            [[4.0, 50.0], [5.0, 52.0], [6.0, 54.0]], dtype=torch.float64
        ),
        'time': torch.tensor([[0.0, 86400.0]] * 3, dtype=torch.float64),
    }
    with pytest.raises(NonFiniteError) as info:
        dm.on_after_batch_transfer(batch, 0)
    message = str(info.value)
    assert 'NaN or infinite values in 1 of 3 samples' in message
    assert (
        'sample 1, point (lon 5.0000, lat 52.0000), time [1970-01-01T00:00:00, '
        '1970-01-02T00:00:00]: view 1 band 2: 1 NaN, 0 inf of 9 pixels'
    ) in message
    batch['image'] = torch.ones(3, 2, 4, 3, 3)
    assert torch.equal(
        dm.on_after_batch_transfer(batch, 0)['image'], torch.full((3, 2, 4, 3, 3), 1e-3)
    )


def nan_batch(views: int = 2) -> dict[str, Tensor]:
    image = torch.rand(4, views, 4, 24, 24)
    image[2, 0, 1] = float('nan')
    return {
        'image': image,
        'point': torch.tensor([[5.0, 52.0]] * 4, dtype=torch.float64),
        'time': torch.arange(4 * views, dtype=torch.float64).reshape(4, views) * 1e7,
    }


def test_nonfinite_loss_stops_gassl_before_the_queue_update() -> None:
    task = gassl()
    before = task.queue.queue.clone()
    with pytest.raises(
        NonFiniteError,
        match=r'training loss is nan at global step 0; the batch image holds NaN',
    ):
        task.training_step(nan_batch(), 0)
    assert torch.equal(task.queue.queue, before)
    assert int(task.queue.ptr) == 0


def test_diverged_loss_is_reported_with_the_batch() -> None:
    task = gassl()
    task.criterion.register_forward_hook(
        lambda m, i, out: (out[0] * float('inf'), out[1])
    )
    batch = nan_batch()
    batch['image'] = torch.rand(4, 2, 4, 24, 24)
    with pytest.raises(NonFiniteError) as info:
        task.training_step(batch, 0)
    message = str(info.value)
    assert 'the inputs are finite, so the model diverged' in message
    assert (
        'sample 0, point (lon 5.0000, lat 52.0000), time [1970-01-01T00:00:00'
        in message
    )


def test_nonfinite_loss_stops_seco_and_csp() -> None:
    seco = SeCoTask(**TINY, queue_size=16)
    before = [q.queue.clone() for q in seco.queues]  # type: ignore[union-attr]
    with pytest.raises(NonFiniteError, match='training loss is nan'):
        seco.training_step(nan_batch(views=3), 0)
    assert all(
        torch.equal(q.queue, b) for q, b in zip(seco.queues, before, strict=True)
    )  # type: ignore[union-attr]
    csp = CSPTask(
        model='test_resnet',
        in_channels=4,
        freeze_backbone=False,
        embed_dim=16,
        hidden_dim=16,
    )
    with pytest.raises(NonFiniteError, match='training loss is nan'):
        csp.training_step(nan_batch(views=1), 0)


# -- CRS without EPSG code, band counts --------------------------------------------


def test_crs_without_epsg_through_the_data_module(tmp_path: Path) -> None:
    for site, origin in (
        ('west', (499_840.0, 5_000_000.0)),
        ('east', (620_000.0, 4_800_000.0)),
    ):
        write_series(
            tmp_path, site=site, dates=monthly(4), crs=CUSTOM_TMERC, origin=origin
        )
    dm = make(tmp_path, geo_clusters=2, batch_size=4, length=8)
    dm.setup('fit')
    assert dm.geo_dataset is not None
    assert dm.geo_dataset.crs.to_epsg() is None
    to_lonlat = pyproj.Transformer.from_crs(
        pyproj.CRS(CUSTOM_TMERC), 'EPSG:4326', always_xy=True
    )
    batch = next(iter(dm.train_dataloader()))
    for point, bounds in zip(batch['point'], batch['bounds'], strict=True):
        x = (bounds[0] + bounds[1]).item() / 2
        y = (bounds[3] + bounds[4]).item() / 2
        assert point.tolist() == pytest.approx(to_lonlat.transform(x, y), abs=1e-4)
    assert set(batch['label'].tolist()) <= {0, 1}
    assert dm.geo_clusters is not None
    task = GeoMoCoTask(**TINY, geo_classes=2, queue_size=16, lr_batch_size=None)
    trainer = Trainer(fast_dev_run=1, **TRAINER)
    trainer.fit(task, datamodule=dm)
    assert trainer.state.finished


def test_band_counts_through_the_data_module(tmp_path: Path) -> None:
    write_series(tmp_path, dates=monthly(3))
    write_series(tmp_path, site='other', dates=monthly(2), bands=2)
    dm = make(tmp_path)
    with pytest.raises(
        BandCountError, match=r'fewer than 4 bands: 2 band\(s\): \S*other_20210115\.tif'
    ):
        dm.setup('fit')


# -- worker crash -------------------------------------------------------------


class KillingSeries(SeriesDataset):
    """SeriesDataset whose DataLoader worker kills itself at its kill_at-th read."""

    kill_at: int | None = None
    reads = 0

    def __getitem__(self, index: Any) -> dict[str, Tensor]:
        """Count the read; die at the kill_at-th one in a worker."""
        if get_worker_info() is not None:
            type(self).reads += 1
            if self.kill_at is not None and type(self).reads >= self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        return super().__getitem__(index)


@pytest.mark.slow
def test_worker_crash_keeps_a_resumable_checkpoint(tmp_path: Path) -> None:
    write_series(tmp_path / 'data', dates=monthly(6), size=64)
    checkpoints = tmp_path / 'checkpoints'
    KillingSeries.kill_at = 25  # the 7th batch of 2 samples × 2 views
    dm = make(tmp_path / 'data', KillingSeries, batch_size=2, length=40, num_workers=1)
    task = gassl()
    trainer = Trainer(
        max_steps=12,
        default_root_dir=tmp_path,
        callbacks=[
            ModelCheckpoint(dirpath=checkpoints, save_last=True, every_n_train_steps=1),
            CheckpointOnException(),
        ],
        **TRAINER,
    )
    # torch reports the death as a RuntimeError, or, when the worker dies while the
    # main process fetches the shared memory of a batch from it, a ConnectionError
    with pytest.raises((RuntimeError, ConnectionError, EOFError)) as info:
        trainer.fit(task, datamodule=dm)
    if isinstance(info.value, RuntimeError):
        assert 'DataLoader worker' in str(info.value)
    notes = info.value.__notes__
    assert any('out-of-memory killer' in note for note in notes)
    assert not list(checkpoints.glob('.*.tmp'))
    saved = checkpoints / 'last-interrupted.ckpt'
    last = torch.load(checkpoints / 'last.ckpt', weights_only=False)
    if saved.exists():
        # reported while fetching a batch: the state between two steps is saved
        step = trainer.global_step
        assert f'The training state at global step {step} was saved to {saved}.' in (
            notes
        )
        assert torch.load(saved, weights_only=False)['global_step'] == step
        # the worker may die between the step and the ModelCheckpoint's save
        assert last['global_step'] in (step - 1, step)
    else:
        # torch's SIGCHLD handler raised inside a step, or inside the save of the
        # crash checkpoint itself: the last checkpoint is named
        assert any(
            'interrupted a training step' in note or 'failed too' in note
            for note in notes
        )
        saved = checkpoints / 'last.ckpt'
        step = last['global_step']
        assert f'The last checkpoint is {saved}.' in notes
    assert 1 <= step < 12
    assert any(f'--ckpt_path {saved}' in note for note in notes)

    KillingSeries.kill_at = None
    resumed = gassl()
    trainer = Trainer(
        max_steps=step + 2,
        default_root_dir=tmp_path,
        callbacks=[
            ModelCheckpoint(dirpath=checkpoints, save_last=True),
            CheckpointOnException(),
        ],
        **TRAINER,
    )
    trainer.fit(
        resumed,
        datamodule=make(
            tmp_path / 'data', KillingSeries, batch_size=2, length=40, num_workers=1
        ),
        ckpt_path=saved,
    )
    assert trainer.global_step == step + 2
    # a finished fit removes the crash checkpoint
    assert not (checkpoints / 'last-interrupted.ckpt').exists()


@pytest.mark.parametrize(
    ('error', 'where', 'expected'),
    [
        (
            RuntimeError('DataLoader worker (pid 7) is killed by signal: Killed.'),
            'x.py',
            True,
        ),
        (RuntimeError('boom'), 'x.py', False),
        (ConnectionResetError(104, 'reset'), 'torch/utils/data/dataloader.py', True),
        (ConnectionResetError(104, 'reset'), 'my_dataset.py', False),
        (EOFError(), 'torch/utils/data/dataloader.py', True),
    ],
)
def test_worker_deaths_are_recognised(
    error: BaseException, where: str, expected: bool
) -> None:
    # raise it from a frame whose file is *where*, as torch's DataLoader would
    code = compile('raise error', os.path.join('/site-packages', where), 'exec')
    with pytest.raises(type(error)) as info:
        eval(code, {'error': error})
    assert _is_worker_crash(info.value) is expected


def test_no_checkpoint_of_a_half_finished_step(tmp_path: Path) -> None:
    class FailingAtStep3(_Counting):
        def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
            if self.trainer.global_step == 2:
                raise RuntimeError('boom')
            return super().training_step(batch, batch_idx)

    write_series(tmp_path / 'data', dates=monthly(2))
    checkpoints = tmp_path / 'checkpoints'
    trainer = Trainer(
        max_steps=5,
        default_root_dir=tmp_path,
        callbacks=[
            ModelCheckpoint(dirpath=checkpoints, save_last=True, every_n_train_steps=1),
            CheckpointOnException(),
        ],
        **TRAINER,
    )
    with pytest.raises(RuntimeError, match='boom') as info:
        trainer.fit(FailingAtStep3(), datamodule=make(tmp_path / 'data', length=8))
    notes = info.value.__notes__
    assert any('interrupted a training step' in note for note in notes)
    assert f'The last checkpoint is {checkpoints / "last.ckpt"}.' in notes
    assert not (checkpoints / 'last-interrupted.ckpt').exists()
    assert torch.load(checkpoints / 'last.ckpt', weights_only=False)['global_step'] == 2


def test_no_checkpoint_before_the_first_step(tmp_path: Path) -> None:
    class Failing(_Counting):
        def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
            raise RuntimeError('boom')

    write_series(tmp_path / 'data', dates=monthly(2))
    trainer = Trainer(
        max_steps=1,
        default_root_dir=tmp_path,
        callbacks=[CheckpointOnException()],
        **TRAINER,
    )
    with pytest.raises(RuntimeError, match='boom') as info:
        trainer.fit(Failing(), datamodule=make(tmp_path / 'data', length=4))
    assert (
        'No checkpoint was saved: training had not made a step.' in info.value.__notes__
    )
    assert not list(tmp_path.rglob('last-interrupted.ckpt'))


class _SigtermAt(Callback):
    """Send SIGTERM to this process at the end of a given training step."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer.global_step == self.step:
            # Lightning's handler only flags the signal; never kill pytest itself
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_exits_nonzero_and_last_resumes_the_newest_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_series(tmp_path / 'data', dates=monthly(2))
    checkpoints = tmp_path / 'checkpoints'

    def trainer(max_steps: int, *extra: Callback) -> Trainer:
        return Trainer(
            max_steps=max_steps,
            default_root_dir=tmp_path,
            callbacks=[
                ModelCheckpoint(dirpath=checkpoints, save_last=True, every_n_epochs=1),
                CheckpointOnException(),
                *extra,
            ],
            **TRAINER,
        )

    # epochs of 2 steps: last.ckpt holds step 2 when SIGTERM arrives after step 3
    first = trainer(8, _SigtermAt(3))
    with pytest.raises(SystemExit) as info:
        first.fit(_Counting(), datamodule=make(tmp_path / 'data', length=8))
    assert info.value.code == 143
    interrupted = checkpoints / 'last-interrupted.ckpt'
    message = capsys.readouterr().err
    assert 'stopped by SIGTERM' in message
    assert f'--ckpt_path {interrupted}' in message
    assert torch.load(interrupted, weights_only=False)['global_step'] == 3
    assert torch.load(checkpoints / 'last.ckpt', weights_only=False)['global_step'] == 2

    # `last` is the newest resumable state: the interrupted one
    resumed = trainer(5)
    resumed.fit(
        _Counting(), datamodule=make(tmp_path / 'data', length=8), ckpt_path='last'
    )
    assert resumed.ckpt_path is not None
    assert Path(resumed.ckpt_path) == interrupted
    assert resumed.global_step == 5
    assert not interrupted.exists()  # consumed by the fit that resumed from it


def test_finished_fit_keeps_a_newer_interrupted_checkpoint(tmp_path: Path) -> None:
    write_series(tmp_path / 'data', dates=monthly(2))
    checkpoints = tmp_path / 'checkpoints'
    checkpoints.mkdir()
    interrupted = checkpoints / 'last-interrupted.ckpt'
    interrupted.write_bytes(b'state of another run')
    trainer = Trainer(
        max_steps=2,
        default_root_dir=tmp_path,
        callbacks=[ModelCheckpoint(dirpath=checkpoints), CheckpointOnException()],
        **TRAINER,
    )
    with pytest.warns(UserWarning, match='was kept: this fit did not resume from it'):
        trainer.fit(_Counting(), datamodule=make(tmp_path / 'data', length=4))
    assert interrupted.read_bytes() == b'state of another run'


# -- disk full while checkpointing --------------------------------------------------


def fill_disk_halfway(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make os.write write half of its first buffer, then fail with ENOSPC."""
    real_write = os.write
    written: list[int] = []

    def write(fd: int, data: Any) -> int:
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(real_write(fd, data[: len(data) // 2]))
        return written[0]

    monkeypatch.setattr(checkpoint.os, 'write', write)
    return written


def test_disk_full_keeps_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    io = AtomicCheckpointIO()
    path = tmp_path / 'last.ckpt'
    io.save_checkpoint({'step': 1, 'weights': torch.arange(1000.0)}, path)
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    previous = path.read_bytes()
    written = fill_disk_halfway(monkeypatch)
    with pytest.raises(CheckpointWriteError) as info:
        io.save_checkpoint({'step': 2, 'weights': torch.zeros(5000)}, path)
    assert written  # failed in the middle of the file
    assert written[0] > 0
    assert info.value.errno == errno.ENOSPC
    message = str(info.value)
    assert f'could not write the checkpoint {path}' in message
    assert 'No space left on device' in message
    assert ' free on its disk' in message
    assert f'the previous checkpoint at {path} is unchanged' in message
    assert 'point the checkpoint callback (dirpath) at a larger disk' in message
    assert path.read_bytes() == previous
    assert torch.load(path)['step'] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ['last.ckpt']

    with pytest.raises(CheckpointWriteError, match='no file was created at'):
        io.save_checkpoint({'step': 3}, tmp_path / 'new.ckpt')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['last.ckpt']


@pytest.mark.slow
def test_disk_full_during_fit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_series(tmp_path / 'data', dates=monthly(3))
    checkpoints = tmp_path / 'checkpoints'

    def fit(epochs: int, ckpt_path: Path | None = None) -> Trainer:
        trainer = Trainer(
            max_epochs=epochs,
            default_root_dir=tmp_path,
            callbacks=[ModelCheckpoint(dirpath=checkpoints, save_last=True)],
            **TRAINER,
        )
        trainer.fit(
            gassl(), datamodule=make(tmp_path / 'data', length=4), ckpt_path=ckpt_path
        )
        return trainer

    trainer = fit(1)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    last = checkpoints / 'last.ckpt'
    previous = last.read_bytes()
    fill_disk_halfway(monkeypatch)
    with pytest.raises(CheckpointWriteError, match='No space left on device'):
        fit(2, ckpt_path=last)
    assert last.read_bytes() == previous
    assert torch.load(last, weights_only=False)['epoch'] == 0
    assert not list(checkpoints.glob('.*.tmp'))


def test_leftovers_of_killed_writes_are_removed_or_reported(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    host = socket.gethostname()
    target = tmp_path / 'last.ckpt'
    stale = tmp_path / f'.last.ckpt.{host}-{dead.pid}.k3j2h1g0.tmp'
    live = tmp_path / f'.last.ckpt.{host}-{os.getpid()}.a1b2c3d4.tmp'
    old = tmp_path / '.last.ckpt.x9y8z7w6.tmp'
    other = tmp_path / '.best.ckpt.abc-1.q1w2e3r4.tmp'
    for path in (stale, live, old, other):
        path.write_bytes(b'0' * 2048)
    with pytest.warns(UserWarning, match='temporary') as record:
        AtomicCheckpointIO().save_checkpoint({'step': 1}, target)
    messages = [str(w.message) for w in record]
    assert any(
        'Removed 1 temporary file(s) left by an interrupted checkpoint write' in m
        and str(stale) in m
        and '2.0 KiB' in m
        for m in messages
    ), messages
    assert any(str(old) in m and 'older version' in m for m in messages), messages
    assert not stale.exists()
    assert live.exists()
    assert old.exists()
    assert other.exists()
    assert torch.load(target, weights_only=False) == {'step': 1}
    assert not [p for p in tmp_path.glob('.last.ckpt.*.tmp') if p not in (live, old)]


def test_fit_names_an_empty_or_truncated_ckpt_path(tmp_path: Path) -> None:
    write_series(tmp_path / 'data', dates=monthly(2))
    trainer = Trainer(max_steps=1, default_root_dir=tmp_path, **TRAINER)
    trainer.fit(gassl(), datamodule=make(tmp_path / 'data', length=4))
    whole = tmp_path / 'whole.ckpt'
    trainer.save_checkpoint(whole)
    empty = tmp_path / 'empty.ckpt'
    empty.write_bytes(b'')
    half = tmp_path / 'half.ckpt'
    half.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    for bad, words in ((empty, 'is empty (0 bytes)'), (half, 'is truncated')):
        trainer = Trainer(max_steps=2, default_root_dir=tmp_path, **TRAINER)
        with pytest.raises(CheckpointReadError, match=re.escape(f'{bad}')) as info:
            trainer.fit(
                gassl(), datamodule=make(tmp_path / 'data', length=4), ckpt_path=bad
            )
        assert words in str(info.value)


def test_remote_paths_are_left_to_lightning() -> None:
    io = AtomicCheckpointIO()
    io.save_checkpoint({'step': 7}, 'memory://geossl/last.ckpt')
    assert io.load_checkpoint('memory://geossl/last.ckpt')['step'] == 7
    io.remove_checkpoint('memory://geossl/last.ckpt')


def test_user_checkpoint_io_is_kept(tmp_path: Path) -> None:
    class Custom(TorchCheckpointIO):
        pass

    trainer = Trainer(plugins=[Custom()], **TRAINER)
    assert not use_atomic_io(trainer)
    assert type(trainer.strategy.checkpoint_io) is Custom
    trainer = Trainer(**TRAINER)
    assert use_atomic_io(trainer)
    assert use_atomic_io(trainer)  # idempotent


# -- bf16 on CPU ----------------------------------------------------------------


class _Losses(Callback):
    def __init__(self) -> None:
        self.losses: list[Tensor] = []

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.losses.append(outputs['loss'].detach())


@pytest.mark.slow
@pytest.mark.parametrize('method', ['gassl', 'seco', 'csp'])
def test_bf16_mixed_on_cpu(tmp_path: Path, method: str) -> None:
    write_series(tmp_path, dates=monthly(6), size=48)
    task: LightningModule
    if method == 'gassl':
        task = gassl()
    elif method == 'seco':
        task = SeCoTask(**TINY, queue_size=16, lr_batch_size=None)
    else:
        task = CSPTask(
            model='test_resnet',
            in_channels=4,
            freeze_backbone=False,
            embed_dim=16,
            hidden_dim=16,
        )
    views = {'gassl': 2, 'seco': 3, 'csp': 1}[method]
    dtypes: set[torch.dtype] = set()
    task.model.register_forward_hook(lambda m, i, out: dtypes.add(out.dtype))
    losses = _Losses()
    trainer = Trainer(
        max_steps=3,
        precision='bf16-mixed',
        callbacks=[losses],
        enable_checkpointing=False,
        **TRAINER,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings(
            'ignore', message='.*bf16-mixed is not supported by the model summary'
        )
        trainer.fit(task, datamodule=make(tmp_path, views=views, length=12))
    assert dtypes == {torch.bfloat16}  # the encoder ran under bf16 autocast
    assert len(losses.losses) == 3
    assert all(torch.isfinite(loss) for loss in losses.losses)
    queues = [task.queue] if method == 'gassl' else list(getattr(task, 'queues', []))
    for queue in queues:
        assert queue.queue.dtype == torch.float32
        assert torch.isfinite(queue.queue).all()
        # unit keys, rounded to bf16 (8 bits of mantissa) before the float32 copy
        torch.testing.assert_close(
            queue.queue.norm(dim=1), torch.ones(len(queue.queue)), atol=1e-2, rtol=0
        )
    assert all(p.dtype == torch.float32 for p in task.parameters())

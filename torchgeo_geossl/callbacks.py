"""Lightning callbacks: failed runs, skipped samples, views, pre-trained backbones, predictions."""

import logging
import os
import signal
import sys
import traceback
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas
import kornia.augmentation as K
import numpy as np
import pandas as pd
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter, ModelCheckpoint
from lightning.pytorch.loggers.logger import DummyLogger
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from lightning.pytorch.utilities.exceptions import SIGTERMException
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from torch import Tensor, nn
from torchgeo.datasets import unbind_samples

from .export import load_into, normalization_from

log = logging.getLogger(__name__)

#: What torch's DataLoader says when one of its worker processes dies.
_WORKER_DIED = 'DataLoader worker'
_DATALOADER_MODULE = os.path.join('torch', 'utils', 'data', 'dataloader.py')


def _is_worker_crash(exception: BaseException) -> bool:
    """Whether an exception reports a DataLoader worker process that died.

    Args:
        exception: The exception that stopped the run.

    Returns:
        True for torch's ``DataLoader worker (pid ...) is killed by signal`` and
        ``DataLoader worker (pid(s) ...) exited unexpectedly`` errors, and for a
        connection to a worker lost while receiving a batch from it (a worker
        that dies while the main process fetches the file descriptor of a
        batch's shared memory raises ``ConnectionResetError`` or ``EOFError``
        there instead).
    """
    if isinstance(exception, RuntimeError):
        return _WORKER_DIED in str(exception)
    if not isinstance(exception, ConnectionError | EOFError):
        return False
    frames = traceback.extract_tb(exception.__traceback__)
    return any(frame.filename.endswith(_DATALOADER_MODULE) for frame in frames)


def _model_checkpoint(trainer: Trainer) -> ModelCheckpoint | None:
    """The trainer's first ModelCheckpoint callback.

    Args:
        trainer: The trainer.

    Returns:
        The callback, or None if the trainer has none.
    """
    found = [c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint)]
    return found[0] if found else None


class CheckpointOnException(Callback):
    """Save the training state when ``fit`` fails, and say how to resume.

    Like Lightning's :class:`~lightning.pytorch.callbacks.OnExceptionCheckpoint`,
    it writes a checkpoint when an exception stops ``fit`` (an error, a killed
    DataLoader worker, Ctrl+C, a ``SIGTERM`` from a scheduler or ``kill``), with
    these differences:

    * it is not a Lightning ``Checkpoint`` callback: with an OnExceptionCheckpoint,
      every later ``fit`` without ``ckpt_path`` silently resumes from the newest
      ``last.ckpt`` or exception checkpoint, so re-running a config continues an
      old run. Here resuming is explicit, and the exception says how;
    * *dirpath* is optional: by default the checkpoint goes beside those of the
      trainer's :class:`~lightning.pytorch.callbacks.ModelCheckpoint` (else into
      ``<default_root_dir>/checkpoints``). Its default name,
      ``last-interrupted.ckpt``, makes it one of the candidates of
      ``--ckpt_path last``, which resumes from the newest of them: after an
      interruption, ``last`` is the interrupted state, not an older
      ``last.ckpt``;
    * a ``SIGTERM`` stops Lightning between two steps with an exception that
      would exit with status 0, as if training had finished: the exit status is
      set to 143 (128 + SIGTERM), and the checkpoint to resume from is printed;
    * nothing is saved before the first optimiser step (an error during setup must
      not replace the checkpoint of an earlier failure with an untrained model),
      nor when the exception interrupted a training step: a killed worker is
      reported by a signal handler at whatever point the main process is, which
      may be between the optimiser step and the queue or EMA update. The
      checkpoint must hold the state between two steps (or the last
      ModelCheckpoint is named instead), so that resuming from it is exact;
      nor in multi-process runs, where saving needs every process while the
      others may be waiting in a collective (the last ModelCheckpoint is named
      instead);
    * notes are added to the exception (Python prints them under its message): the
      path of the checkpoint, the command that resumes from it, and, when a
      DataLoader worker process died (``RuntimeError: DataLoader worker (pid ...)
      is killed by signal``), the likely causes.

    The checkpoint is written through the trainer's checkpoint IO, atomically with
    :class:`~torchgeo_geossl.checkpoint.AtomicCheckpointIO`. A ``fit`` that
    resumed from it and finishes removes it; a finished ``fit`` that did not
    resume from it keeps it (it may hold a newer state than this run) and warns.

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       The default *filename* is ``last-interrupted`` (was ``on_exception``); a
       ``SIGTERM`` exits with status 143; a checkpoint that the finished ``fit``
       did not resume from is kept.
    """

    def __init__(
        self, dirpath: _PATH | None = None, filename: str = 'last-interrupted'
    ) -> None:
        """Initialize a new CheckpointOnException instance.

        Args:
            dirpath: Directory of the checkpoint (defaults to the ModelCheckpoint's).
            filename: Name of the checkpoint file, without the ``.ckpt`` extension.

        Raises:
            ValueError: If *filename* is empty.
        """
        if not filename:
            raise ValueError('CheckpointOnException filename must not be empty')
        self.dirpath = dirpath
        self.filename = filename
        self._in_step = False

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start outside a training step.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
        """
        self._in_step = False

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Note that a training step has started.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
            batch: The batch.
            batch_idx: Its index in the epoch.
        """
        self._in_step = True

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Note that the training step has finished (optimiser step included).

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
            outputs: The step's outputs.
            batch: The batch.
            batch_idx: Its index in the epoch.
        """
        self._in_step = False

    def ckpt_path(self, trainer: Trainer) -> str:
        """Path of the checkpoint.

        Args:
            trainer: The trainer.

        Returns:
            ``<dirpath>/<filename>.ckpt``, with the default directory resolved.
        """
        dirpath = self.dirpath
        if dirpath is None:
            callback = _model_checkpoint(trainer)
            dirpath = callback.dirpath if callback is not None else None
        if dirpath is None:
            dirpath = os.path.join(trainer.default_root_dir, 'checkpoints')
        return os.path.join(dirpath, f'{self.filename}.ckpt')

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        """Save the state and annotate the exception.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
            exception: The exception that stopped the run.
        """
        if trainer.state.fn != TrainerFn.FITTING:
            return
        notes = []
        if _is_worker_crash(exception):
            notes.append(
                'A DataLoader worker process died. The usual cause is the '
                'out-of-memory killer (see `dmesg`): lower data num_workers or '
                'batch_size; with num_workers=0 a Python error in the dataset is '
                'raised in the main process instead.'
            )
        resume_from = None
        step = trainer.global_step
        if step == 0:
            notes.append('No checkpoint was saved: training had not made a step.')
        elif self._in_step:
            notes.append(
                'Not saving a checkpoint on the exception: it interrupted a '
                'training step, whose state may be half updated.'
            )
        elif trainer.world_size > 1:
            notes.append(
                'Not saving a checkpoint on the exception in a multi-process run '
                '(every process would have to take part).'
            )
        else:
            path = self.ckpt_path(trainer)
            try:
                trainer.save_checkpoint(path)
            except (OSError, RuntimeError) as err:
                notes.append(f'Saving {path} failed too: {err}')
            else:
                resume_from = path
                notes.append(
                    f'The training state at global step {step} was saved to {path}.'
                )
        callback = _model_checkpoint(trainer)
        last = callback.last_model_path if callback is not None else ''
        if resume_from is None and last:
            resume_from = last
            notes.append(f'The last checkpoint is {last}.')
        if resume_from is not None:
            notes.append(
                'Resume with `torchgeo fit --config <config> --ckpt_path '
                f"{resume_from}` or `trainer.fit(model, datamodule, ckpt_path='"
                f"{resume_from}')`."
            )
        for note in notes:
            exception.add_note(note)
        if isinstance(exception, SIGTERMException):
            # Lightning's SystemExit carries no status: it would exit with 0.
            exception.code = 128 + signal.SIGTERM
            notes.insert(0, 'Training was stopped by SIGTERM (exit status 143).')
        if isinstance(exception, KeyboardInterrupt | SystemExit):
            # Python prints no notes for these: say it here.
            message = ' '.join(notes)
            log.error(message)
            print(message, file=sys.stderr, flush=True)

    def teardown(
        self, trainer: Trainer, pl_module: LightningModule, stage: str
    ) -> None:
        """Remove the checkpoint of an earlier failure once ``fit`` resumed from it.

        Lightning does not call it when ``fit`` fails. A checkpoint that this
        ``fit`` did not resume from is kept, with a warning: it may be newer than
        anything this run saved.

        Args:
            trainer: The trainer.
            pl_module: The module that was trained.
            stage: The stage that ends; only ``'fit'`` removes anything.
        """
        if stage != 'fit':
            return
        path = self.ckpt_path(trainer)
        if not os.path.exists(path):
            return
        resumed = trainer.ckpt_path
        if resumed is not None and _same_file(str(resumed), path):
            trainer.strategy.remove_checkpoint(path)
            return
        rank_zero_warn(
            f'The checkpoint of an interrupted run, {path}, was kept: this fit did '
            'not resume from it, and it may hold a newer training state. Resume '
            f'with --ckpt_path {path} (or --ckpt_path last), or delete it.'
        )


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name the same existing file.

    Args:
        a: A path.
        b: Another path.

    Returns:
        True if both exist and are the same file.
    """
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


class SkippedSamplesMonitor(Callback):
    """Log and report the samples that data loading left out of batches.

    :class:`~torchgeo_geossl.datasets.TemporalViewsDataset` counts skipped samples
    in its ``stats``, but DataLoader workers hold their own copies of the dataset,
    so those counts never reach the main process. The batches do: each carries
    ``skipped`` (:func:`~torchgeo_geossl.datasets.stack_samples_skipping`). This
    callback logs their sum per epoch as ``train_skipped_samples``, warns at the
    end of an epoch that skipped samples, and keeps the total over the run in
    :attr:`total` (saved in checkpoints).

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        """Initialize a new SkippedSamplesMonitor instance."""
        #: Samples skipped since the start of the run (including resumed parts).
        self.total = 0
        self._epoch_skipped = 0
        self._epoch_seen = 0

    def on_train_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Reset the epoch's counts.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
        """
        self._epoch_skipped = 0
        self._epoch_seen = 0

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Count and log the batch's skipped samples.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
            batch: The batch, a dict with ``skipped`` when the collate function
                adds it.
            batch_idx: Index of the batch.
        """
        skipped = batch.get('skipped') if isinstance(batch, dict) else None
        if not isinstance(skipped, Tensor):
            return
        count = int(skipped.sum())
        image = batch.get('image')
        self._epoch_seen += count + (len(image) if isinstance(image, Tensor) else 0)
        self._epoch_skipped += count
        self.total += count
        pl_module.log(
            'train_skipped_samples',
            float(count),
            on_step=False,
            on_epoch=True,
            reduce_fx='sum',
            sync_dist=True,
            batch_size=1,
        )

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Warn if samples were skipped in this epoch.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
        """
        if self._epoch_skipped:
            rank_zero_warn(
                f'{self._epoch_skipped} of {self._epoch_seen} samples of epoch '
                f'{trainer.current_epoch} were skipped ({self.total} in the run so '
                'far; logged as train_skipped_samples). The warnings of the data '
                'loader (its worker processes print them) name the files and '
                'reasons.'
            )

    def state_dict(self) -> dict[str, Any]:
        """The run's total, for checkpoints.

        Returns:
            ``{'total': total}``.
        """
        return {'total': self.total}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the run's total from a checkpoint.

        Args:
            state_dict: A dict from :meth:`state_dict`.
        """
        self.total = int(state_dict.get('total', 0))


class LogSampledViews(Callback):
    """Log a figure of the views of the first training batch to the loggers.

    At the first training batch of a run, the first *samples* samples of the
    batch (split with :func:`torchgeo.datasets.unbind_samples`) are drawn with the
    data module's ``plot`` (the views of each sample side by side, titled with
    their dates, e.g.
    :meth:`~torchgeo_geossl.datamodules.PretrainingMixin.plot`) and logged as
    the image *tag* to every logger whose ``experiment`` has ``add_figure``
    (:class:`~lightning.pytorch.loggers.TensorBoardLogger`); other loggers, such
    as :class:`~lightning.pytorch.loggers.CSVLogger` and the stand-in logger of
    ``fast_dev_run``, are passed over. The
    images are those the task receives: after the data module's rescaling to the
    augmentation scale, before the augmentation.

    .. versionadded:: 0.2
    """

    def __init__(self, samples: int = 4, tag: str = 'train_views') -> None:
        """Initialize a new LogSampledViews instance.

        Args:
            samples: Number of samples of the first batch to show (at most the
                batch size).
            tag: Name of the logged image.

        Raises:
            ValueError: If *samples* is less than 1.
        """
        if samples < 1:
            msg = f'samples must be at least 1, got {samples}'
            raise ValueError(msg)
        self.samples = samples
        self.tag = tag
        self._logged = False

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Plot and log the first batch's views once.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
            batch: The batch, a dict with ``image`` (and ``time``).
            batch_idx: Index of the batch.
        """
        if self._logged:
            return
        self._logged = True
        writers: list[Any] = []
        for logger in trainer.loggers:
            # DummyLogger (fast_dev_run) answers every attribute
            if isinstance(logger, DummyLogger):
                continue
            experiment = getattr(logger, 'experiment', None)
            if callable(getattr(experiment, 'add_figure', None)):
                writers.append(experiment)
        if not writers or not trainer.is_global_zero:
            return
        datamodule = getattr(trainer, 'datamodule', None)
        plot = getattr(datamodule, 'plot', None)
        if not callable(plot) or not isinstance(batch, dict) or 'image' not in batch:
            rank_zero_warn(
                f'LogSampledViews: {type(datamodule).__name__} has no plot '
                'method or its batches no image; no figure of views is logged'
            )
            return
        figures: list[Figure] = [
            plot(sample, suptitle=f'sample {i}')
            for i, sample in enumerate(unbind_samples(batch)[: self.samples])
        ]
        for writer in writers:
            writer.add_figure(
                self.tag, figures, global_step=trainer.global_step, close=False
            )
        for figure in figures:
            plt.close(figure)


class LoadPretrainedBackbone(Callback):
    """Load a pre-trained backbone into any TorchGeo task when a run starts.

    In its ``setup`` hook, :func:`~torchgeo_geossl.export.load_into` copies the
    encoder of a checkpoint of this package (or of a file written by
    ``geossl-export``) into the task's backbone, found by parameter name:
    ``Classification`` and ``Regression`` (the timm ``model``),
    ``SemanticSegmentation`` and ``ChangeDetection`` (the smp ``model.encoder``,
    shared by both dates in ``fcsiamdiff``/``fcsiamconc``), ``ObjectDetection``
    and ``InstanceSegmentation`` (the torchvision ``model.backbone.body``). It
    says how many tensors it loaded, and raises an error when none match, when the
    input channels differ, or when the backbone is another architecture or depth.
    Heads and decoders keep their initialisation.

    In a YAML config of ``torchgeo fit``::

        trainer:
          callbacks:
            - class_path: torchgeo_geossl.callbacks.LoadPretrainedBackbone
              init_args:
                checkpoint: outputs/demo/checkpoints/last.ckpt

    The weights are loaded once per task (a later ``validate`` or ``test`` of the
    same trainer keeps the fine-tuned weights); a checkpoint given with
    ``--ckpt_path`` is restored after ``setup`` and so replaces them, as resuming
    a fine-tuning run must.

    .. versionadded:: 0.2
    """

    def __init__(self, checkpoint: _PATH, normalize: bool = False) -> None:
        """Initialize a new LoadPretrainedBackbone instance.

        Args:
            checkpoint: A pre-training checkpoint of this package, or a file
                written by ``geossl-export``.
            normalize: Also replace the data module's ``aug`` (TorchGeo's
                normalisation of every split) with the normalisation of
                pre-training, :func:`~torchgeo_geossl.export.normalization_from`
                (in a ``VideoSequential`` where the data module's ``aug`` has
                one, as for ``ChangeDetection``), so that the backbone sees
                images scaled as in pre-training; it changes ``image`` only, not
                masks or boxes. The data module must have an
                ``aug`` and no split-specific ``train_aug``/``val_aug``/
                ``test_aug``/``predict_aug`` (those would hold other
                augmentations too).
        """
        self.checkpoint = checkpoint
        self.normalize = normalize
        self._loaded: weakref.WeakSet[LightningModule] = weakref.WeakSet()

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Load the backbone into the task, once.

        Args:
            trainer: The trainer.
            pl_module: The downstream task.
            stage: The stage that starts.
        """
        if self.normalize:
            self._replace_normalization(trainer)
        if pl_module in self._loaded:
            return
        result = load_into(pl_module, os.fspath(self.checkpoint))
        self._loaded.add(pl_module)
        rank_zero_info(
            f'LoadPretrainedBackbone: loaded {result.loaded} tensors of '
            f'{result.meta.get("model")} ({result.meta.get("method", "unknown")}) '
            f'from {self.checkpoint} into {result.module}; '
            f'{len(result.kept)} tensors of {result.module} kept their '
            'initialisation'
        )

    def _replace_normalization(self, trainer: Trainer) -> None:
        """Normalise the data module's images as in pre-training.

        Args:
            trainer: The trainer, with the data module attached.

        Raises:
            TypeError: If the data module has no ``aug``.
            ValueError: If it has split-specific ones.
        """
        datamodule = getattr(trainer, 'datamodule', None)
        aug = getattr(datamodule, 'aug', None)
        if not isinstance(aug, nn.Module):
            msg = (
                'LoadPretrainedBackbone(normalize=True) needs a TorchGeo data module '
                f'with an aug, got {type(datamodule).__name__}'
            )
            raise TypeError(msg)
        own = [
            name
            for name in ('train_aug', 'val_aug', 'test_aug', 'predict_aug')
            if getattr(datamodule, name, None) is not None
        ]
        if own:
            msg = (
                f'LoadPretrainedBackbone(normalize=True): {type(datamodule).__name__} '
                f'has {", ".join(own)}, which may hold other augmentations than the '
                'normalisation: put torchgeo_geossl.export.normalization_from('
                f'{os.fspath(self.checkpoint)!r}) into them yourself'
            )
            raise ValueError(msg)
        video = any(isinstance(m, K.VideoSequential) for m in aug.modules())
        normalization = normalization_from(os.fspath(self.checkpoint), video=video)
        datamodule.aug = _NormalizeImages(normalization)  # type: ignore[union-attr]
        rank_zero_info(
            f'LoadPretrainedBackbone: {type(datamodule).__name__} now normalises '
            f'as in pre-training: {normalization}'
        )


class _NormalizeImages(nn.Module):
    """Apply a normalisation to the ``image`` of a batch dict only.

    Kornia checks every key of a dict it is given; it refuses the one-frame change
    mask next to the two-date images of TorchGeo's ``OSCDDataModule`` ("Video and
    mask must have the same number of frames"), which a normalisation never
    touches anyway.
    """

    def __init__(self, normalization: K.AugmentationSequential) -> None:
        """Initialize a new _NormalizeImages instance.

        Args:
            normalization: The Kornia module, taking and returning a dict.
        """
        super().__init__()
        self.normalization = normalization

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Normalise the images.

        Args:
            batch: A batch with ``image``.

        Returns:
            The batch with the normalised ``image``, the other entries unchanged.
        """
        normalized = self.normalization({'image': batch['image']})
        return {**batch, 'image': normalized['image']}


#: Name of the file :class:`GeoParquetWriter` writes in the trainer's
#: ``default_root_dir`` when it is given no *output*.
PREDICTIONS_FILE = 'predictions.parquet'


class GeoParquetWriter(BasePredictionWriter):
    """Write the predictions of ``trainer.predict`` as GeoParquet, one row per sample.

    The batches of the predict stage hold one view per sample (a location at one
    date; see the data modules' ``predict_dataloader``), and the task's
    ``predict_step`` returns either one embedding per sample (``[B, d]``) or a
    dict of columns, each with one value per sample. The file has the columns

    ========== ==================================== ====================================
    column     type                                 content
    ========== ==================================== ====================================
    geometry   Point (WKB), CRS EPSG:4326           the sample's ``point`` (lon, lat)
    time       timestamp (UTC)                      the acquisition time of the view
    embedding  list of float32, length d            what ``predict_step`` returned
    cluster    int64 (only with geo-clusters)       the task's geo-cluster of the point
    ========== ==================================== ====================================

    and GeoParquet metadata (written by :meth:`geopandas.GeoDataFrame.to_parquet`),
    so that :func:`geopandas.read_parquet`, QGIS and DuckDB read it as points.
    The ``cluster`` column is there when the task has fitted geo-clusters
    (``GeoMoCoTask(geo_classes=K)``, restored from its checkpoint): the cluster of
    each point, the target its geo head was trained on. A batch without ``time``
    gives no ``time`` column.

    A ``predict_step`` that returns a dict (as
    :class:`~torchgeo_geossl.trainers.GeoPriorTask` does) gives one column per
    key, in its order, instead of ``embedding``: a tensor ``[B]`` a column of
    numbers, a tensor ``[B, n]`` a column of lists (float32 for floating tensors,
    int64 for integer ones), a sequence of B values (e.g. lists of class names) a
    column of those values.

    The rows are gathered in memory and written once, at the end of the predict
    epoch, replacing any file at *output*; the path is printed. Under DDP each
    process writes its own share, ``<stem>.rank<r>.parquet``.

    The tasks of this package add a writer with the default *output* when
    predicting with a trainer that has no
    :class:`~lightning.pytorch.callbacks.BasePredictionWriter` (so
    ``torchgeo predict --config X.yaml --ckpt_path ...`` writes
    ``<default_root_dir>/predictions.parquet``); put one in the trainer's
    callbacks to choose the file.

    .. versionadded:: 0.2
    """

    #: Columns the writer fills itself, refused as keys of a dict prediction.
    reserved = ('geometry', 'time', 'cluster')

    def __init__(self, output: _PATH | None = None) -> None:
        """Initialize a new GeoParquetWriter instance.

        Args:
            output: Path of the GeoParquet file; None: :data:`PREDICTIONS_FILE` in
                the trainer's ``default_root_dir``.
        """
        super().__init__(write_interval='batch')
        self.output = output
        self._columns: dict[str, list[Any]] = {}
        self._values: dict[str, list[Any]] = {}
        #: Path of the last file written.
        self.path: Path | None = None

    def on_predict_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Start an empty table.

        Args:
            trainer: The trainer.
            pl_module: The task.
        """
        self._columns = {'lon': [], 'lat': [], 'time': []}
        self._values = {}

    def _chunks(self, prediction: Any, size: int) -> dict[str, Any]:
        """The columns of one batch's prediction.

        Args:
            prediction: What ``predict_step`` returned.
            size: Number of samples of the batch.

        Returns:
            Per column, a NumPy array ``[B]`` or ``[B, n]``, or a list of B values.

        Raises:
            ValueError: If the prediction is neither a tensor ``[B, d]`` nor a
                dict of per-sample values, a key is reserved, or a value has
                another number of samples.
            TypeError: If a value of a dict is neither a tensor nor a sequence.
        """
        if isinstance(prediction, Tensor):
            if prediction.ndim != 2:
                msg = (
                    'GeoParquetWriter writes one embedding per sample: predict_step '
                    f'must return a tensor [B, d], got {list(prediction.shape)}'
                )
                raise ValueError(msg)
            prediction = {'embedding': prediction}
        if not isinstance(prediction, dict) or not prediction:
            msg = (
                'GeoParquetWriter writes one row per sample: predict_step must return '
                'a tensor [B, d] or a dict of per-sample columns, got '
                f'{type(prediction).__name__}'
            )
            raise ValueError(msg)
        chunks: dict[str, Any] = {}
        for name, value in prediction.items():
            if name in self.reserved:
                msg = (
                    f'GeoParquetWriter fills the column {name!r} itself; predict_step '
                    f'returned it too (reserved: {list(self.reserved)})'
                )
                raise ValueError(msg)
            if isinstance(value, Tensor):
                if value.ndim not in (1, 2):
                    msg = (
                        f'GeoParquetWriter: column {name!r} must be [B] or [B, n], '
                        f'got {list(value.shape)}'
                    )
                    raise ValueError(msg)
                value = value.detach().cpu()
                dtype = np.float32 if value.dtype.is_floating_point else np.int64
                value = value.numpy().astype(dtype)
            elif isinstance(value, Sequence) and not isinstance(value, str):
                value = list(value)
            else:
                msg = (
                    f'GeoParquetWriter: column {name!r} must be a tensor or a '
                    f'sequence with one value per sample, got {type(value).__name__}'
                )
                raise TypeError(msg)
            if len(value) != size:
                msg = (
                    f'predict_step returned {len(value)} values of {name!r} for a '
                    f'batch of {size} points'
                )
                raise ValueError(msg)
            chunks[name] = value
        return chunks

    def write_on_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        """Add the rows of one batch.

        Args:
            trainer: The trainer.
            pl_module: The task.
            prediction: The embeddings ``[B, d]`` returned by ``predict_step``, or
                a dict of columns with one value per sample.
            batch_indices: Indices of the batch's samples (unused).
            batch: The batch, with ``point [B, 2]`` and ``time [B]`` or
                ``[B, 1]``.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.

        Raises:
            ValueError: If the prediction is not ``[B, d]`` or a dict of
                per-sample columns (the same keys in every batch), or the batch
                has no ``point`` or another number of samples.
            TypeError: If a value of a dict prediction is neither a tensor nor
                a sequence.
        """
        if 'point' not in batch:
            msg = (
                'GeoParquetWriter needs point (lon, lat) per sample, the batch has keys '
                f'{sorted(batch)}'
            )
            raise ValueError(msg)
        points = batch['point'].detach().cpu().double().reshape(-1, 2)
        chunks = self._chunks(prediction, len(points))
        if self._values and list(chunks) != list(self._values):
            msg = (
                f'predict_step returned the columns {list(chunks)} for batch '
                f'{batch_idx}, but {list(self._values)} before'
            )
            raise ValueError(msg)
        for name, chunk in chunks.items():
            self._values.setdefault(name, []).append(chunk)
        self._columns['lon'].append(points[:, 0].numpy())
        self._columns['lat'].append(points[:, 1].numpy())
        if 'time' in batch:
            time = batch['time'].detach().cpu().double()
            self._columns['time'].append(time.reshape(len(points), -1)[:, 0].numpy())
        clusters = getattr(pl_module, 'geo_clusters', None)
        if clusters is not None:
            labels = clusters.predict(points).cpu().numpy()
            self._columns.setdefault('cluster', []).append(labels)

    def on_predict_epoch_end(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Write the GeoParquet file and print its path.

        Args:
            trainer: The trainer.
            pl_module: The task.

        Raises:
            ValueError: If the predict loader yielded no sample.
        """
        columns = self._columns
        if not columns.get('lon'):
            msg = (
                'GeoParquetWriter: the predict loader yielded no sample, so there is '
                'no prediction to write'
            )
            raise ValueError(msg)
        path = Path(
            self.output
            if self.output is not None
            else Path(trainer.default_root_dir) / PREDICTIONS_FILE
        )
        if trainer.world_size > 1:
            path = path.with_name(f'{path.stem}.rank{trainer.global_rank}{path.suffix}')
        lon, lat = np.concatenate(columns['lon']), np.concatenate(columns['lat'])
        data: dict[str, Any] = {}
        if columns['time']:
            data['time'] = pd.to_datetime(
                np.concatenate(columns['time']), unit='s', utc=True
            )
        for name, chunks in self._values.items():
            if isinstance(chunks[0], np.ndarray):
                values = np.concatenate(chunks)
                data[name] = list(values) if values.ndim == 2 else values
            else:
                data[name] = [value for chunk in chunks for value in chunk]
        if 'cluster' in columns:
            data['cluster'] = np.concatenate(columns['cluster']).astype(np.int64)
        frame = geopandas.GeoDataFrame(
            data, geometry=geopandas.points_from_xy(lon, lat), crs='EPSG:4326'
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
        self.path = path
        what = 'embeddings' if list(self._values) == ['embedding'] else 'predictions'
        self._columns, self._values = {}, {}
        print(
            f'Wrote {len(frame)} {what} (GeoParquet, EPSG:4326) to {path}', flush=True
        )


def default_prediction_writer(trainer: Trainer | None) -> list[Callback]:
    """The writer a task adds when predicting without one of the user's.

    Args:
        trainer: The task's trainer, or None.

    Returns:
        ``[GeoParquetWriter()]`` when *trainer* is predicting and has no
        :class:`~lightning.pytorch.callbacks.BasePredictionWriter`, else ``[]``.

    .. versionadded:: 0.2
    """
    if trainer is None or trainer.state.fn != TrainerFn.PREDICTING:
        return []
    callbacks: list[Callback] = getattr(trainer, 'callbacks', [])
    if any(isinstance(c, BasePredictionWriter) for c in callbacks):
        return []
    return [GeoParquetWriter()]

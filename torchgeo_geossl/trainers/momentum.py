"""The momentum-contrast core shared by GASSL and SeCo."""

import os
from typing import Any, cast

import lightning.pytorch.utilities.types
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import Tensor, nn
from torch.optim import SGD
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, MultiStepLR
from torchgeo.datasets.utils import Sample
from torchgeo.tasks import BaseTask
from torchvision.models._api import WeightsEnum

from ..evaluation.comparison import held_out_features
from ..evaluation.crops import held_out_seeds
from ..evaluation.knn import PlaceRecognitionAccuracy
from ..models import (
    copy_as_momentum,
    create_encoder,
    update_momentum,
    use_channels_last,
)
from ..models.distributed import forward_in_groups, forward_shuffled
from ..models.pretrained import encoder_state_dict, read_weights
from .reliable import ReliableTrainingMixin
from .standardize import StandardizeMixin

#: Epochs of the published MoCo-v2, GASSL and SeCo runs: the length of the
#: learning-rate schedule when the trainer has no ``max_epochs``.
REFERENCE_EPOCHS = 200


#: Samples per batch-norm group with ``bn_splits=None``: the batch per GPU of the
#: MoCo, GASSL and SeCo reference runs (256 samples over 8 GPUs).
BN_GROUP_SIZE = 32


class MomentumContrastTask(ReliableTrainingMixin, StandardizeMixin, BaseTask):
    """Base class of the MoCo-v2 family: encoder, EMA key encoder, optimiser.

    Holds what GASSL (:class:`~torchgeo_geossl.trainers.GeoMoCoTask`) and SeCo share
    (He et al., CVPR 2020; Chen et al., arXiv 2003.04297):

    * ``self.model``: the query encoder, a timm model without classifier (any
      ``in_channels``), initialised as torchvision's models of the reference code
      (:func:`~torchgeo_geossl.models.create_encoder`: no zero-initialised last
      batch norm in the residual blocks). It is the only module whose state-dict
      keys contain ``model.``, so TorchGeo's ``Classification(weights='x.ckpt')``
      and ``SemanticSegmentation`` load checkpoints of these tasks directly.
    * ``self.key_encoder``: its exponential moving average,
      θ_k ← m θ_k + (1 − m) θ_q (MoCo, Eq. 2), never trained by gradients;
      subclasses pair their projection heads the same way. The average moves once
      per *optimiser step* (:meth:`momentum_update`), also under
      ``accumulate_grad_batches``, as MoCo's once per iteration.
    * SGD with momentum and weight decay, a learning rate scaled linearly with the
      global batch size (``lr`` is the rate for ``lr_batch_size`` samples, 0.03 per
      256 in MoCo-v2; the global batch is the data module's per-process
      ``batch_size`` × the number of processes × ``accumulate_grad_batches``), and
      a per-epoch cosine or step schedule (:meth:`step_milestones`).
    * Input layouts: the batch contract's ``[B, V, C, H, W]`` and TorchGeo's
      channel-stacked ``[B, V·C, H, W]``, on the augmentation scale ([0, 1] for
      RGB, reflectance for multispectral bands); the data module's
      standardisation is applied after the augmentation, as the last step
      (:meth:`standardize`), and to the un-augmented view in :meth:`predict_step`.
    * Initial weights: the subclasses' *weights* (a TorchGeo weight enum or its
      name, a checkpoint or a state-dict file, as TorchGeo's tasks take them) are
      loaded into the query encoder and copied into the key encoder, with the
      heads when the source holds them; a mismatch of architecture or channels is
      an error (:meth:`load_weights`).
    * Checkpoints: :meth:`on_save_checkpoint` stores :meth:`data_description` under
      ``checkpoint['geossl']`` (read by :mod:`torchgeo_geossl.export`) and
      :meth:`on_load_checkpoint` refuses a checkpoint whose queues or heads have
      other shapes (:meth:`check_state_shapes`) before any tensor is loaded.
    * Held-out evaluation: with a data module that has a held-out split
      (:class:`~torchgeo_geossl.evaluation.HeldOutSplit`), validation and test
      log ``val_place_top1`` / ``test_place_top1``, place recognition of
      held-out places at held-out dates by the backbone's features
      (:doc:`/user/evaluation`).
    * The collapse monitor ``train_ssl_std``: the standard deviation over the batch
      of L2-normalised backbone features, averaged over dimensions; about
      ``1 / sqrt(d)`` when healthy, near 0 when the representation collapses.

    Batch norm: the query and key encoders each normalise their own view batch
    ("per-view BN"), so the statistics of a key batch never include the query
    batch. A query and its positive key still come from the same set of samples,
    whose batch statistics the model can use to tell the positive from the queue's
    keys, which were normalised with other batches: it then "cheats" instead of
    learning (MoCo, Sec. 3.3). The reference code of MoCo, GASSL and SeCo ran on
    several GPUs with shuffling BN: each GPU normalises its share of the queries,
    and the key batch is shuffled across the GPUs first, so a key is normalised
    with other samples than its query. Subclasses do the same within each process
    (``bn_splits``; by default groups of :data:`BN_GROUP_SIZE` samples, the
    reference's batch per GPU): the query batch is cut into groups, each normalised
    on its own, and with ``shuffle_bn=True`` (the default) the key batch is permuted
    before it is cut
    (:func:`~torchgeo_geossl.models.forward_in_groups`). Under DDP, ``shuffle_bn``
    also permutes the keys across processes (:meth:`encode_keys`). Lightning's
    ``sync_batchnorm`` would normalise queries and keys over the same global
    batch again: it is refused with ``shuffle_bn=True`` and warned about otherwise
    (:meth:`on_fit_start`).

    .. versionadded:: 0.1
    """

    monitor = 'train_loss'

    #: Name of the method in exported metadata.
    method = 'MoCo-v2'

    #: Initial weights (the subclasses' *weights* argument, set before
    #: :meth:`__init__` runs, as in TorchGeo's tasks), loaded by
    #: :meth:`load_weights`; not saved in the hyperparameters.
    weights: WeightsEnum | bool | str | None = None

    #: Modules that *weights* never loads, whatever the source holds: they belong
    #: to the data a run trains on (queues of its keys, geo-clusters of its places).
    fresh_modules: tuple[str, ...] = ()

    def __init__(self) -> None:
        """Initialize the shared parts; subclasses set the hyperparameters.

        The modules are created by :meth:`configure_models`, then :attr:`weights`
        is loaded (:meth:`load_weights`).
        """
        super().__init__()
        self.avg_output_std = 0.0
        #: Trainer ``global_step`` of the last key-encoder update (None: none yet).
        self.ema_step: int | None = None
        self.load_weights()

    def configure_models(self) -> None:
        """Create the query encoder and its momentum copy.

        Raises:
            ValueError: If ``in_channels``, ``queue_size`` or ``bn_splits`` is not
                positive, or ``schedule`` or ``milestones`` is invalid.
        """
        for name in ('in_channels', 'queue_size'):
            value = self.hparams[name]
            if value < 1:
                msg = f'{name} must be positive, got {value}'
                raise ValueError(msg)
        splits = self.hparams.get('bn_splits', 1)
        if splits is not None and (
            isinstance(splits, bool) or not isinstance(splits, int) or splits < 1
        ):
            msg = (
                'bn_splits must be None (groups of 32 samples) or a positive number '
                f'of batch-norm groups per process (1: the whole batch), got {splits!r}'
            )
            raise ValueError(msg)
        schedule = self.hparams['schedule']
        if schedule not in ('cosine', 'step'):
            msg = f"schedule must be 'cosine' or 'step', got {schedule!r}"
            raise ValueError(msg)
        milestones = self.hparams['milestones']
        if milestones is not None:
            values = list(milestones)
            if any(
                isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values
            ) or values != sorted(set(values)):
                msg = (
                    'milestones must be None (60 % and 80 % of max_epochs) or '
                    f'increasing positive epoch numbers, got {milestones!r}'
                )
                raise ValueError(msg)
        self.model = create_encoder(self.hparams['model'], self.hparams['in_channels'])
        if self.hparams.get('channels_last', False):
            use_channels_last(self.model)
        self.key_encoder = copy_as_momentum(self.model)

    def pretrained_heads(self) -> dict[str, tuple[nn.Module, nn.Module]]:
        """The heads that *weights* loads when the source holds them.

        Returns:
            State-dict name of each query-side head (``'projection_head'``) →
            the head and its momentum copy; none here, subclasses add theirs.
        """
        return {}

    def load_weights(self) -> None:
        """Load :attr:`weights` into the query and key sides, loudly.

        The weights are read with
        :func:`~torchgeo_geossl.models.pretrained.read_weights` (a checkpoint, a
        state-dict file, a TorchGeo weight enum or its name, or True for timm's
        weights) and the encoder's tensors are found and checked with
        :func:`~torchgeo_geossl.models.pretrained.encoder_state_dict`: another
        architecture or another number of input channels is an error naming the
        source, never a partial load. Then:

        * the query encoder (``self.model``) gets the weights and the key encoder
          becomes a copy of it (parameters and batch-norm statistics), as at the
          start of MoCo;
        * each of :meth:`pretrained_heads` is loaded when the source holds all of
          its tensors with this task's shapes (checkpoints of this package's task
          of the same kind, or of TorchGeo's ``MoCo`` v2 for GASSL's head), and
          its momentum copy becomes a copy of it; otherwise it keeps its random
          initialisation;
        * :attr:`fresh_modules` (queues, geo head) always start afresh.

        What was loaded is logged; a head left at its random initialisation (a
        weight enum or an exported backbone holds only the encoder) is warned
        about, naming it and why.

        Raises:
            ValueError: If the weights do not fit the encoder (see above).
            FileNotFoundError: If a weights path does not exist.
            CheckpointReadError: If the weights file is empty or truncated.
            OSError: If downloading the weights fails.
        """
        weights = self.weights
        if weights is None or weights is False:
            return
        if isinstance(weights, str | os.PathLike):
            label: object = os.fspath(weights)
        else:
            label = weights if isinstance(weights, bool) else str(weights)
        owner = f'{type(self).__name__}(weights={label!r})'
        model: str = self.hparams['model']
        channels: int = self.hparams['in_channels']
        source = read_weights(weights, model, channels, owner)
        encoder, dropped = encoder_state_dict(
            source, self.model, model, channels, owner
        )
        self.model.load_state_dict(encoder, strict=False)
        self.key_encoder.load_state_dict(self.model.state_dict())
        loaded: list[str] = []
        skipped: list[str] = []
        for name, (online, momentum) in self.pretrained_heads().items():
            reason = _load_head(name, online, source.state_dict)
            if reason is None:
                loaded.append(name)
            else:
                skipped.append(f'{name} ({reason})')
            momentum.load_state_dict(online.state_dict())
        done = (
            f'{owner}: loaded the {model} encoder ({len(encoder)} tensors) of the '
            f'{source.source} into the query and key encoders'
            + ''.join(f' and {name} (query and momentum copies)' for name in loaded)
        )
        if dropped:
            done += f'; left out the classifier ({_join(dropped)})'
        fresh = [name for name in self.fresh_modules if getattr(self, name, None)]
        verb = 'starts' if len(fresh) == 1 else 'start'
        after = f'. {_join(fresh)} {verb} afresh, as in any new run' if fresh else ''
        if skipped:
            rank_zero_warn(
                f'{done}. NOT loaded, left at their random initialisation: '
                f'{_join(skipped)}{after}'
            )
        else:
            rank_zero_info(done + after)

    @property
    def feature_dim(self) -> int:
        """Number of features of the encoder's pooled output.

        Returns:
            ``num_features`` of the timm model.
        """
        return cast(int, self.model.num_features)

    def forward(self, x: Tensor) -> Tensor:
        """Encode images with the query encoder.

        In training mode the batch is encoded in :meth:`bn_groups` contiguous groups,
        each normalised with its own batch-norm statistics
        (:func:`~torchgeo_geossl.models.forward_in_groups`).

        Args:
            x: Images ``[B, C, H, W]``.

        Returns:
            Pooled features ``[B, d]``.
        """
        groups = self.bn_groups(len(x))
        if self.training and groups > 1:
            return forward_in_groups(self.model, x, groups)
        features: Tensor = self.model(x)
        return features

    def bn_groups(self, batch: int) -> int:
        """Number of batch-norm groups of a batch of this process.

        The batch is cut into this many contiguous groups for batch norm, emulating
        that many GPUs of the reference runs: the queries of each group are
        normalised together and, with ``shuffle_bn``, the keys are permuted across
        the groups first (:func:`~torchgeo_geossl.models.forward_in_groups`), so a
        key is not normalised with its own query's samples (MoCo, Sec. 3.3).

        Args:
            batch: Number of samples.

        Returns:
            ``bn_splits``, or with ``bn_splits=None`` one group per
            :data:`BN_GROUP_SIZE` samples (32, the reference runs' batch per GPU:
            256 over 8 GPUs), at least one.
        """
        splits: int | None = self.hparams.get('bn_splits', 1)
        if splits is None:
            return max(1, batch // BN_GROUP_SIZE)
        return splits

    def encode_keys(self, images: Tensor) -> Tensor:
        """Encode key images with the momentum encoder, without gradient.

        With ``shuffle_bn`` in the hyperparameters and several processes, the
        key batch is shuffled across processes for batch norm
        (:func:`~torchgeo_geossl.models.forward_shuffled`); each
        process receives the features of its own images, in order. All processes
        must call this together. Within each process the keys are encoded in
        :meth:`bn_groups` groups, permuted first with ``shuffle_bn``
        (:func:`~torchgeo_geossl.models.forward_in_groups`).

        Args:
            images: Key images ``[B, C, H, W]``.

        Returns:
            Pooled key features ``[B, d]``.
        """
        groups = self.bn_groups(len(images))
        shuffle = bool(self.hparams.get('shuffle_bn', False))

        def encode(batch: Tensor) -> Tensor:
            return forward_in_groups(self.key_encoder, batch, groups, shuffle=shuffle)

        with torch.no_grad():
            if shuffle:
                return forward_shuffled(encode, images)
            return encode(images)

    def on_fit_start(self) -> None:
        """Refuse or warn about synchronised batch norm, which leaks the positive.

        Raises:
            ValueError: If the model has :class:`~torch.nn.SyncBatchNorm` layers
                (Lightning's ``sync_batchnorm=True``) and ``shuffle_bn`` is set.
        """
        if not any(isinstance(m, nn.SyncBatchNorm) for m in self.modules()):
            return
        if self.hparams.get('shuffle_bn', False):
            msg = (
                f'{type(self).__name__}(shuffle_bn=True) cannot be combined with '
                'synchronised batch norm (trainer sync_batchnorm=True): SyncBN '
                'normalises the query batch and the key batch over the same global '
                'set of samples, which undoes the shuffle and leaks the positive '
                '(MoCo, Sec. 3.3); drop sync_batchnorm (shuffle-BN is the reference '
                'approach) or set shuffle_bn=False'
            )
            raise ValueError(msg)
        rank_zero_warn(
            f'{type(self).__name__} with synchronised batch norm: queries and keys '
            'are normalised over the same global batch, whose statistics can leak '
            'the positive (MoCo, Sec. 3.3); shuffle_bn=True without sync_batchnorm '
            'is the reference approach'
        )

    def momentum_update(self, pairs: list[tuple[nn.Module, nn.Module]]) -> None:
        """Move each momentum module towards its online module, once per step.

        MoCo (Algorithm 1) and the GASSL and SeCo reference code update the key
        encoder once per iteration, before encoding the keys; one iteration is one
        optimiser step. Under ``accumulate_grad_batches=N`` a step spans N
        training steps (micro-batches) whose query parameters are the same, so
        the update runs only in the first micro-batch after each optimiser step
        (keyed to the trainer's ``global_step``, which counts optimiser steps);
        the other micro-batches encode their keys with the same key encoder, as
        one large batch would. Updating in every micro-batch would apply
        m^N instead of m per step. Windows cut short at an epoch's end and resumed
        runs are handled alike: :attr:`ema_step` is saved in checkpoints. Without
        a trainer (a training step called directly) every call updates.

        Args:
            pairs: ``(online, momentum)`` modules; the encoder pair is added here.
        """
        if self._trainer is not None:
            step = self.trainer.global_step
            if step == self.ema_step:
                return
            self.ema_step = step
        m = self.hparams['moco_momentum']
        for online, momentum in [(self.model, self.key_encoder), *pairs]:
            update_momentum(online, momentum, m)

    def views_from_batch(self, batch: Sample) -> Tensor:
        """The views of a batch as ``[B, V, C, H, W]``.

        Args:
            batch: A batch whose ``image`` is ``[B, V, C, H, W]`` (batch contract),
                ``[B, V·C, H, W]`` (TorchGeo's channel-stacked SSL datamodules) or
                ``[B, C, H, W]`` (one view).

        Returns:
            The views, ``[B, V, C, H, W]`` with C = ``in_channels``.

        Raises:
            ValueError: If the image's channels do not match ``in_channels``.
        """
        image = batch['image']
        channels: int = self.hparams['in_channels']
        if image.ndim == 5 and image.shape[2] == channels:
            return image
        if image.ndim == 4 and image.shape[1] % channels == 0:
            b, vc, h, w = image.shape
            return image.reshape(b, vc // channels, channels, h, w)
        if image.ndim == 5:
            found = (
                f'{image.shape[2]} bands per view (layout [B, V, C, H, W] = '
                f'{list(image.shape)})'
            )
        elif image.ndim == 4:
            found = (
                f'{image.shape[1]} channels (layout [B, V·C, H, W] = '
                f'{list(image.shape)}), not a multiple of {channels}'
            )
        else:
            found = (
                f'shape {list(image.shape)}, neither [B, V, C, H, W] nor [B, V·C, H, W]'
            )
        msg = (
            f'{type(self).__name__} was built with in_channels={channels}, but the '
            f'batch image has {found}; set in_channels to the number of bands of '
            'the data'
        )
        raise ValueError(msg)

    def log_collapse_monitor(self, features: Tensor) -> None:
        """Log ``train_ssl_std``, a running mean of the normalised feature spread.

        Args:
            features: Backbone features of the query view ``[B, d]``.
        """
        normalized = F.normalize(features.detach().float(), dim=1)
        std = normalized.std(dim=0).mean().item() if len(features) > 1 else 0.0
        self.avg_output_std = 0.9 * self.avg_output_std + 0.1 * std
        self.log('train_ssl_std', self.avg_output_std, batch_size=len(features))

    def effective_lr(self) -> float:
        """Learning rate scaled linearly with the global batch size.

        The global batch is the data module's training batch size
        (``train_batch_size`` if set, else ``batch_size``; per process) × the
        number of processes (devices × nodes) × ``accumulate_grad_batches``: the
        samples over which one optimiser step averages the gradient (DDP averages
        the processes' gradients, Lightning divides accumulated losses), as in
        the linear scaling rule of MoCo-v2's "0.03 per 256".

        Returns:
            ``lr × global_batch / lr_batch_size`` when the trainer's data module
            has a ``batch_size``, else ``lr``.
        """
        lr: float = self.hparams['lr']
        reference: int | None = self.hparams['lr_batch_size']
        datamodule = (
            getattr(self.trainer, 'datamodule', None) if self._trainer else None
        )
        batch_size = getattr(datamodule, 'train_batch_size', None) or getattr(
            datamodule, 'batch_size', None
        )
        if not reference or not isinstance(batch_size, int):
            return lr
        trainer = self.trainer
        global_batch = batch_size * trainer.world_size * trainer.accumulate_grad_batches
        return lr * global_batch / reference

    def schedule_epochs(self) -> int:
        """Number of epochs the learning-rate schedule spans.

        Returns:
            The trainer's ``max_epochs`` when set (and positive), else
            :data:`REFERENCE_EPOCHS` (200: MoCo-v2, GASSL and SeCo).
        """
        if self._trainer is not None and self.trainer.max_epochs:
            return max(self.trainer.max_epochs, 1)
        return REFERENCE_EPOCHS

    def step_milestones(self) -> list[int]:
        """Epochs at which the step schedule multiplies the learning rate by 0.1.

        With ``milestones=None`` they are 60 % and 80 % of :meth:`schedule_epochs`
        (rounded), i.e. epochs 120 and 160 of the references' 200 (MoCo's
        ``--schedule 120 160``; SeCo: pl_bolts ``MocoLRScheduler``), so that a
        shorter run keeps the shape of the recipe. Explicit milestones are
        absolute epochs; a milestone at or after ``max_epochs`` never applies,
        which is warned about.

        Returns:
            The milestone epochs, increasing.
        """
        epochs = self.schedule_epochs()
        milestones = self.hparams['milestones']
        if milestones is None:
            return sorted({max(round(0.6 * epochs), 1), max(round(0.8 * epochs), 1)})
        values = [int(v) for v in milestones]
        late = [v for v in values if v >= epochs]
        if late and self._trainer is not None and self.trainer.max_epochs:
            rank_zero_warn(
                f'{type(self).__name__}(milestones={values}): milestones {late} lie '
                f'at or after max_epochs={epochs}, so the learning rate is never '
                'multiplied by 0.1 there; milestones=None places them at 60 % and '
                '80 % of max_epochs'
            )
        return values

    def configure_optimizers(
        self,
    ) -> 'lightning.pytorch.utilities.types.OptimizerLRScheduler':
        """SGD with the MoCo-v2 schedule.

        The schedule is applied per epoch, as the references' epoch-start
        ``adjust_learning_rate``: ``'cosine'`` gives lr · ½(1 + cos(π e / E)) in
        epoch e of E (:meth:`schedule_epochs`); ``'step'`` gives lr · 0.1^j after j
        milestones (:meth:`step_milestones`).

        Returns:
            The optimiser and its per-epoch scheduler.
        """
        lr = self.effective_lr()
        optimizer = SGD(
            [p for p in self.parameters() if p.requires_grad],
            lr=lr,
            momentum=self.hparams['momentum'],
            weight_decay=self.hparams['weight_decay'],
        )
        scheduler: LRScheduler
        if self.hparams['schedule'] == 'cosine':
            scheduler = CosineAnnealingLR(optimizer, T_max=self.schedule_epochs())
        else:
            scheduler = MultiStepLR(
                optimizer, milestones=self.step_milestones(), gamma=0.1
            )
        return {'optimizer': optimizer, 'lr_scheduler': scheduler}

    def configure_metrics(self) -> None:
        """Create the held-out place recognition metrics of validation and test."""
        self.val_place_top1 = PlaceRecognitionAccuracy()
        self.test_place_top1 = PlaceRecognitionAccuracy()

    def held_out_step(self, batch: Sample) -> Tensor:
        """Backbone features of the views of a batch of held-out places.

        The un-augmented views are standardised (:meth:`standardize`) and each is
        cropped to ``size`` at its own offset
        (:func:`~torchgeo_geossl.evaluation.held_out_features`), drawn from the
        place's ``point`` (:func:`~torchgeo_geossl.evaluation.held_out_seeds`), so
        every epoch, batch size and number of processes sees the same crops.

        Args:
            batch: A batch of places (one entry per place) of the batch contract,
                with ``point``.

        Returns:
            Features ``[B, V, d]``.

        Raises:
            ValueError: If the batch has no ``point``.
        """
        seeds = held_out_seeds(batch)
        views = self.standardize(self.views_from_batch(batch))
        size = min(int(self.hparams['size']), views.shape[-1], views.shape[-2])
        return held_out_features(self.forward, views, size, seed=seeds)

    def validation_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Add the features of held-out places to ``val_place_top1``.

        Args:
            batch: A batch of held-out places (the data module's validation loader).
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.
        """
        self.val_place_top1.update(self.held_out_step(batch))

    def on_validation_epoch_end(self) -> None:
        """Log ``val_place_top1``: place recognition top-1 of the held-out places."""
        self._log_place_top1(self.val_place_top1, 'val_place_top1')

    def test_step(self, batch: Sample, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Add the features of held-out places to ``test_place_top1``.

        Args:
            batch: A batch of held-out places (the data module's test loader).
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.
        """
        self.test_place_top1.update(self.held_out_step(batch))

    def on_test_epoch_end(self) -> None:
        """Log ``test_place_top1``: place recognition top-1 of the held-out places."""
        self._log_place_top1(self.test_place_top1, 'test_place_top1')

    def _log_place_top1(self, metric: PlaceRecognitionAccuracy, name: str) -> None:
        """Log a place recognition metric and its chance level, then reset it.

        Nothing is logged for fewer than two places (Lightning's sanity check may
        run a single small batch).

        Args:
            metric: The metric of the epoch.
            name: Name to log it under; the chance level goes to ``{name}_chance``.
        """
        places = sum(len(f) for f in metric.features)
        if places >= 2:
            self.log(name, metric.compute(), prog_bar=True)
            self.log(f'{name}_chance', metric.chance())
        metric.reset()

    def predict_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Encode the first view of a batch.

        The data modules' predict loaders serve one view per sample (a location at
        one date), which :class:`~torchgeo_geossl.callbacks.GeoParquetWriter`
        writes as one row (:doc:`/user/stages`).

        Args:
            batch: A batch of the batch contract.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.

        Returns:
            Backbone features ``[B, d]`` of view 0, standardised first
            (:meth:`standardize`).
        """
        return self.forward(self.standardize(self.views_from_batch(batch)[:, 0]))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store what the backbone was trained on under ``checkpoint['geossl']``.

        :func:`torchgeo_geossl.export.load_backbone` reads it back as metadata. The
        running average of the collapse monitor is stored too, so that a resumed
        run logs the same ``train_ssl_std``, and :attr:`ema_step`, so that a run
        resumed within an accumulation window does not update the key encoder
        twice for one optimiser step.

        Args:
            checkpoint: The checkpoint being written.
        """
        checkpoint['geossl'] = self.data_description()
        checkpoint['avg_output_std'] = self.avg_output_std
        checkpoint['ema_step'] = self.ema_step

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse a checkpoint of another configuration before it is loaded.

        Also restores the running average of the collapse monitor and
        :attr:`ema_step`.

        Args:
            checkpoint: The checkpoint being loaded.

        Raises:
            ValueError: If the checkpoint's queues or heads have other shapes than
                this task's (see :meth:`check_state_shapes`).
        """
        self.check_state_shapes(checkpoint)
        self.avg_output_std = float(checkpoint.get('avg_output_std', 0.0))
        ema_step = checkpoint.get('ema_step')
        self.ema_step = None if ema_step is None else int(ema_step)

    def check_state_shapes(self, checkpoint: dict[str, Any]) -> None:
        """Refuse a checkpoint whose tensors have other shapes than this task's.

        Args:
            checkpoint: A Lightning checkpoint being loaded.

        Raises:
            ValueError: If a tensor's shape differs (a queue of another size, a geo
                head with another number of classes, ...), naming each.
        """
        own = self.state_dict()
        wrong = [
            f'{name}: {list(value.shape)} in the checkpoint, {list(own[name].shape)} here'
            for name, value in checkpoint.get('state_dict', {}).items()
            if name in own and value.shape != own[name].shape
        ]
        if wrong:
            msg = (
                f'the checkpoint does not match this {type(self).__name__}: '
                + '; '.join(wrong[:5])
                + '. Resume with the hyperparameters it was trained with (queue_size, '
                'output_dim, geo_classes, model, in_channels).'
            )
            raise ValueError(msg)

    def data_description(self) -> dict[str, Any]:
        """What the backbone was trained on, for exported metadata.

        Returns:
            Method, encoder, bands, dataset (class name of the data module's
            dataset) and its resolution (in units of its CRS), normalisation and
            patch size (None where the data module does not say). The normalisation is in the raw units of
            the images: the network input is ``(clip(x, low, high) - mean) /
            std`` per band (``low`` and ``high`` None: no clip).
        """
        datamodule = (
            getattr(self.trainer, 'datamodule', None) if self._trainer else None
        )
        dataset = getattr(datamodule, 'geo_dataset', None)
        kwargs = getattr(datamodule, 'kwargs', {})
        bands = kwargs.get('bands') or getattr(dataset, 'bands', None)

        def as_list(value: Any) -> list[float] | None:
            return None if value is None else torch.as_tensor(value).flatten().tolist()

        res = getattr(dataset, 'res', None)
        return {
            'method': self.method,
            'model': self.hparams['model'],
            'in_channels': self.hparams['in_channels'],
            'bands': None if bands is None else list(bands),
            'dataset': None if dataset is None else type(dataset).__name__,
            'resolution': None if res is None else as_list(res),
            'mean': as_list(getattr(datamodule, 'mean', None)),
            'std': as_list(getattr(datamodule, 'std', None)),
            'low': as_list(getattr(datamodule, 'low', None)),
            'high': as_list(getattr(datamodule, 'high', None)),
            'patch_size': getattr(datamodule, 'patch_size', None),
            'crop_size': self.hparams.get('size'),
        }


def _join(items: list[str]) -> str:
    """Items joined for messages.

    Args:
        items: The items.

    Returns:
        ``'a, b and c'``.
    """
    if len(items) < 2:
        return ''.join(items)
    return ', '.join(items[:-1]) + ' and ' + items[-1]


def _load_head(name: str, head: nn.Module, source: dict[str, Tensor]) -> str | None:
    """Load a head from a task's state dict if it holds all of its tensors.

    Args:
        name: The head's state-dict name in the task (``'projection_head'``).
        head: The head.
        source: The tensors of the weights.

    Returns:
        None if the head was loaded, else why not.
    """
    own = head.state_dict()
    found = {
        key.removeprefix(f'{name}.'): value
        for key, value in source.items()
        if key.startswith(f'{name}.')
    }
    if not found:
        return (
            'not in the weights: weight enums, exported backbones and the '
            'checkpoints of other tasks hold only an encoder'
        )
    wrong = [
        f'{name}.{key}: {list(found[key].shape)} in the weights, '
        f'{list(value.shape)} here'
        for key, value in own.items()
        if key in found and found[key].shape != value.shape
    ]
    missing = [f'{name}.{key}' for key in own if key not in found]
    extra = [f'{name}.{key}' for key in found if key not in own]
    if wrong or missing or extra:
        details = '; '.join(
            [*wrong[:2], *(f'missing {key}' for key in missing[:2])]
            + [f'{key} is not in this head' for key in extra[:2]]
        )
        return (
            f"it differs from this task's: {details}; another output_dim or hidden_dim?"
        )
    head.load_state_dict(found)
    return None

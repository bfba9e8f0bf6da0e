"""GASSL: geography-aware self-supervised learning (Ayush et al., ICCV 2021)."""

from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torchgeo.datasets.utils import Sample
from torchvision.models._api import WeightsEnum

from ..faults import check_finite_loss
from ..location.clusters import GeoClusters
from ..losses import InfoNCELoss, top1_accuracy
from ..models import (
    GeoClassificationHead,
    NegativeQueue,
    copy_as_momentum,
    mocov2_projection_head,
)
from ..transforms import gassl_augmentation
from .momentum import MomentumContrastTask


class GeoMoCoTask(MomentumContrastTask):
    """GASSL: MoCo-v2 with temporal positives and a geo-location pretext task.

    Geography-Aware Self-Supervised Learning (Ayush et al., ICCV 2021,
    arXiv 2011.09980) adds two things to MoCo-v2:

    * **Temporal positives (TP, Sec. 3.2):** the key is the *same location at
      another time* (view 1 of the batch contract) instead of a second
      augmentation of the query image; each view gets its own augmentation.
    * **Geo-location classification (Geo, Sec. 3.3):** the training locations are
      clustered with k-means into K clusters
      (:class:`~torchgeo_geossl.location.GeoClusters`) and the query's cluster is
      predicted by ReLU → Linear(128, K) on the *un-normalised* 128-d projection of
      the query, as in the reference code (the paper says "a CNN"). Only the query
      view is classified.

    The loss is L = L_InfoNCE(q, k₊, queue) + ``geo_weight`` · CE(geo_head(z_q), y)
    (Eq. 4 with α = β = 1). The four rows of the paper's Table 1 are MoCo-v2
    (``temporal=False, geo_classes=0``), +Geo, +TP and +TP+Geo (the default).

    Defaults follow the published runs (the reference README's commands for
    sustainlab-group/geography-aware-ssl ``moco_fmow/main_moco_geo+tp.py``):
    ResNet-50 with torchvision's initialisation, queue of 65,536 negatives, key
    momentum 0.999, temperature 0.02 (every published run, ``--moco-t 0.02``; the
    script's default is 0.07), SGD lr 0.03 per 256 samples, momentum 0.9, weight
    decay 1e-4, per-epoch cosine decay (``--cos``), crop scale (0.08, 1) for
    temporal positives and (0.2, 1) otherwise (the reference code's confound,
    exposed as *crop_scale*). The docs' recipe table (``docs/user/recipes/gassl.csv``,
    tested against these defaults) lists every setting with its source.

    .. versionchanged:: 0.2
       *milestones* defaults to None (60 % and 80 % of ``max_epochs``); the encoder
       no longer zero-initialises the last batch norm of each residual block; the
       key encoder moves once per optimiser step under ``accumulate_grad_batches``.

    When ``temporal=True`` but a batch has a single view, or a sample's two views
    share one acquisition time (a sampler's ``insufficient='repeat'``), the key is a
    second augmentation of the query image, as the reference code silently does;
    here it warns once and logs the share of such samples as
    ``train_single_date_fraction``.

    .. versionadded:: 0.1
    """

    ignore = ('weights', 'augmentation', 'geo_clusters')
    method = 'GASSL'
    fresh_modules = ('geo_head', 'queue')

    def __init__(
        self,
        model: str = 'resnet50',
        weights: WeightsEnum | bool | str | None = None,
        in_channels: int = 3,
        temporal: bool = True,
        geo_classes: int = 100,
        geo_weight: float = 1.0,
        queue_size: int = 65_536,
        output_dim: int = 128,
        hidden_dim: int | None = None,
        temperature: float = 0.02,
        moco_momentum: float = 0.999,
        lr: float = 0.03,
        lr_batch_size: int | None = 256,
        momentum: float = 0.9,
        weight_decay: float = 1e-4,
        schedule: Literal['cosine', 'step'] = 'cosine',
        milestones: Sequence[int] | None = None,
        size: int = 224,
        crop_scale: tuple[float, float] | None = None,
        share_geometry: bool = False,
        shuffle_bn: bool = True,
        bn_splits: int | None = None,
        channels_last: bool = False,
        augmentation: nn.Module | None = None,
        geo_clusters: GeoClusters | None = None,
    ) -> None:
        """Initialize a new GeoMoCoTask instance.

        Args:
            model: Name of the timm encoder (``resnet50`` in the paper, ``resnet18``
                for small runs).
            weights: Initial weights, to continue pre-training from them, as
                TorchGeo's tasks take them: a weight enum
                (``ResNet50_Weights.FMOW_RGB_GASSL``, the published GASSL
                backbone) or its name, the path of a checkpoint (this package's,
                TorchGeo's tasks') or of a state-dict file (``geossl-export``'s
                ``*.pth``), True for timm's ImageNet weights, or None/False for a
                random initialisation. They must be for *model* and
                *in_channels* (an error says otherwise). The encoder goes into the
                query and key encoders; the projection head too when the source
                holds it (a checkpoint of this task), else it stays random, with a
                warning; the geo head and the queue start afresh (see
                :meth:`~torchgeo_geossl.trainers.MomentumContrastTask.load_weights`).
                Not saved in the hyperparameters (as in TorchGeo).

                .. versionadded:: 0.2
            in_channels: Number of input bands.
            temporal: Use temporal positives (view 1 as key) when the batch has two
                or more views; False gives MoCo-v2's two augmentations of one view.
            geo_classes: Number K of geo-location clusters; 0 disables the geo head.
            geo_weight: Weight of the geo-location cross-entropy.
            queue_size: Number of negatives in the queue.
            output_dim: Dimension of the projection (128).
            hidden_dim: Hidden dimension of the projection head (defaults to the
                encoder's feature dimension, as in MoCo-v2).
            temperature: InfoNCE temperature T.
            moco_momentum: Momentum m of the key encoder.
            lr: Learning rate for *lr_batch_size* samples.
            lr_batch_size: Batch size *lr* refers to (scaled linearly to the global
                batch size); None uses *lr* as given.
            momentum: SGD momentum.
            weight_decay: SGD weight decay.
            schedule: ``'cosine'`` decay over the epochs (the published runs:
                ``--cos`` in the reference README's commands), or ``'step'`` (×0.1
                at each of *milestones*, the reference script's default without
                ``--cos``).
            milestones: Epochs of the step schedule; None places them at 60 % and
                80 % of ``max_epochs`` (120 and 160 of 200, the reference's
                ``--schedule``; see
                :meth:`~torchgeo_geossl.trainers.MomentumContrastTask.step_milestones`).
            size: Side in pixels of the random resized crops.
            crop_scale: Scale range of the crops (defaults to (0.08, 1) with temporal
                positives and (0.2, 1) without, as the reference code).
            share_geometry: Give both views of a sample the same crop and flip.
            shuffle_bn: Under DDP, encode the keys with shuffling batch norm, as
                the reference code (see
                :meth:`~torchgeo_geossl.trainers.MomentumContrastTask.encode_keys`),
                and across the *bn_splits* groups of each process.
            bn_splits: Number of batch-norm groups the batch of each process is
                cut into, emulating that many GPUs of the reference runs; None (the
                default): groups of 32 samples, the reference runs' batch per GPU;
                1: the whole batch at once (per-view BN). See
                :meth:`~torchgeo_geossl.trainers.MomentumContrastTask.bn_groups`.

                .. versionadded:: 0.2
            channels_last: Keep the query and key encoders' weights and image inputs
                in the channels-last memory format
                (:func:`~torchgeo_geossl.models.use_channels_last`), for faster
                convolutions on GPUs with tensor cores, most with
                ``trainer.precision='bf16-mixed'`` (:doc:`/user/performance`);
                the same results up to floating-point rounding.

                .. versionadded:: 0.2
            augmentation: A module that augments ``[B, 2, C, H, W]`` view pairs
                on the augmentation scale (defaults to
                :func:`~torchgeo_geossl.transforms.gassl_augmentation`); the data
                module's standardisation follows it (:meth:`standardize`).
            geo_clusters: Fitted geo-clusters (defaults to the data module's, or a
                k-means fit on its dataset at setup); stored in checkpoints.

        Raises:
            ValueError: If a hyperparameter is out of range, or *weights* do not
                fit *model* and *in_channels*.
            FileNotFoundError: If a *weights* path does not exist.
            CheckpointReadError: If the *weights* file is empty or truncated.
        """
        if geo_classes < 0:
            msg = f'geo_classes must be 0 (no geo head) or a number of clusters, got {geo_classes}'
            raise ValueError(msg)
        if geo_clusters is not None and geo_clusters.num_clusters != geo_classes:
            msg = (
                f'geo_clusters has {geo_clusters.num_clusters} clusters but '
                f'geo_classes={geo_classes}'
            )
            raise ValueError(msg)
        self.weights = weights
        super().__init__()
        self.geo_clusters = geo_clusters
        if augmentation is None:
            augmentation = gassl_augmentation(
                size=size,
                in_channels=in_channels,
                temporal=temporal,
                crop_scale=crop_scale,
                share_geometry=share_geometry,
            )
        self.augmentation = augmentation
        self.single_date_samples = 0
        self._warned_single_date = False

    def configure_models(self) -> None:
        """Create the encoders, projection heads, queue and geo head."""
        super().configure_models()
        output_dim: int = self.hparams['output_dim']
        self.projection_head = mocov2_projection_head(
            self.feature_dim, self.hparams['hidden_dim'], output_dim
        )
        self.projection_head_momentum = copy_as_momentum(self.projection_head)
        self.queue = NegativeQueue(self.hparams['queue_size'], output_dim)
        geo_classes: int = self.hparams['geo_classes']
        self.geo_head = (
            GeoClassificationHead(output_dim, geo_classes) if geo_classes else None
        )

    def pretrained_heads(self) -> dict[str, tuple[nn.Module, nn.Module]]:
        """The projection head, which *weights* loads when the source holds it.

        Returns:
            ``'projection_head'`` → the head and its momentum copy.
        """
        return {
            'projection_head': (self.projection_head, self.projection_head_momentum)
        }

    def configure_losses(self) -> None:
        """Create the InfoNCE loss."""
        self.criterion = InfoNCELoss(self.hparams['temperature'])

    def setup(self, stage: str) -> None:
        """Take or fit the geo-clusters when the geo head is enabled.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.

        Raises:
            ValueError: If the data module's clusters do not have ``geo_classes``
                clusters.
        """
        k: int = self.hparams['geo_classes']
        if not k or self.geo_clusters is not None or self._trainer is None:
            return
        datamodule = getattr(self.trainer, 'datamodule', None)
        clusters = getattr(datamodule, 'geo_clusters', None)
        dataset = getattr(datamodule, 'geo_dataset', None)
        if clusters is None and dataset is not None:
            clusters = GeoClusters.from_dataset(dataset, num_clusters=k, seed=0)
        if clusters is None:
            return
        if clusters.num_clusters != k:
            msg = (
                f'the data module has {clusters.num_clusters} geo-clusters but the '
                f'task has geo_classes={k}; set both to the same number'
            )
            raise ValueError(msg)
        self.geo_clusters = clusters

    def geo_labels(self, batch: Sample) -> Tensor:
        """Geo-cluster labels of the batch.

        Labels are the clusters of the batch's ``point`` when it has one; a batch
        without ``point`` must carry precomputed cluster ids in ``label`` (the batch
        contract). A ``point`` is never ignored in favour of ``label``, which some
        datasets (fMoW) use for their classes.

        Args:
            batch: A batch with ``point`` or precomputed cluster ids in ``label``.

        Returns:
            Long labels ``[B]`` on the batch's device.

        Raises:
            ValueError: If the batch has ``point`` but the task has no clusters, has
                neither key, or has labels out of range.
        """
        k: int = self.hparams['geo_classes']
        if 'point' in batch:
            if self.geo_clusters is None:
                msg = (
                    f'the geo head is enabled (geo_classes={k}) but no geo-clusters '
                    f'were fitted: give the data module geo_clusters={k} (or a '
                    'dataset the task can fit them on), or pass geo_clusters to the task'
                )
                raise ValueError(msg)
            labels = self.geo_clusters.predict(batch['point'])
        elif 'label' in batch:
            labels = batch['label']
        else:
            msg = (
                f'the geo head is enabled (geo_classes={k}) but the batch has neither '
                "'point' nor 'label': use a data module that adds location targets "
                '(TemporalGeoDataModule with geo_clusters) or set geo_classes=0'
            )
            raise ValueError(msg)
        labels = labels.to(self.device, torch.long).reshape(-1)
        if len(labels) and (labels.min() < 0 or labels.max() >= k):
            msg = f'geo labels must lie in [0, {k}), got values {torch.unique(labels).tolist()}'
            raise ValueError(msg)
        return labels

    def _pairs(self, batch: Sample) -> tuple[Tensor, Tensor]:
        """Query/key image pairs and which samples fell back to a single date.

        Args:
            batch: A batch of the batch contract or channel-stacked views.

        Returns:
            Views ``[B, 2, C, H, W]`` to augment, and a bool mask ``[B]`` of samples
            whose key is the query's own acquisition although temporal positives
            were requested.
        """
        views = self.views_from_batch(batch)
        b = views.shape[0]
        temporal: bool = self.hparams['temporal']
        if not temporal:
            return views[:, :1].expand(-1, 2, -1, -1, -1), torch.zeros(
                b, dtype=torch.bool
            )
        if views.shape[1] < 2:
            if not self._warned_single_date:
                self._warned_single_date = True
                rank_zero_warn(
                    'GeoMoCoTask(temporal=True) received batches with a single view: '
                    'falling back to two augmentations of the same image; the share '
                    'of such samples is logged as train_single_date_fraction'
                )
            return views.expand(-1, 2, -1, -1, -1), torch.ones(b, dtype=torch.bool)
        single = torch.zeros(b, dtype=torch.bool)
        if 'time' in batch and batch['time'].ndim == 2:
            single = (batch['time'][:, 0] == batch['time'][:, 1]).cpu()
        return views[:, :2], single

    def training_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Compute the GASSL loss on one batch and update the queue.

        Args:
            batch: A batch: ``image`` ``[B, V, C, H, W]`` or ``[B, V·C, H, W]``, with
                ``point`` or ``label`` when the geo head is enabled.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.

        Returns:
            The total loss.
        """
        pairs, single = self._pairs(batch)
        b = pairs.shape[0]
        with torch.no_grad():
            pairs = self.standardize(self.augmentation(pairs))
        features = self.forward(pairs[:, 0])
        z: Tensor = self.projection_head(features)
        q = F.normalize(z, dim=1)
        with torch.no_grad():
            self.momentum_update(
                [(self.projection_head, self.projection_head_momentum)]
            )
            k = F.normalize(
                self.projection_head_momentum(self.encode_keys(pairs[:, 1])), dim=1
            )
        contrastive, logits = self.criterion(q, k, self.queue.negatives)
        loss: Tensor = contrastive
        self.log('train_contrastive_loss', contrastive, batch_size=b)
        self.log('train_contrastive_top1', top1_accuracy(logits), batch_size=b)
        if self.geo_head is not None:
            labels = self.geo_labels(batch)
            geo_logits = self.geo_head(z)
            geo_loss = F.cross_entropy(geo_logits, labels)
            loss = loss + self.hparams['geo_weight'] * geo_loss
            accuracy = (geo_logits.argmax(dim=1) == labels).float().mean()
            self.log('train_geo_loss', geo_loss, batch_size=b)
            self.log('train_geo_acc', accuracy, batch_size=b)
        check_finite_loss(loss, batch, self.global_step)
        self.queue.enqueue(k)
        self.single_date_samples += int(single.sum())
        self.log('train_single_date_fraction', single.float().mean(), batch_size=b)
        self.log('train_loss', loss, batch_size=b, prog_bar=True)
        self.log_collapse_monitor(features)
        return loss

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the geo-clusters and what the backbone was trained on.

        Args:
            checkpoint: The checkpoint being written.
        """
        super().on_save_checkpoint(checkpoint)
        if self.geo_clusters is not None:
            checkpoint['geo_clusters'] = self.geo_clusters.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Check and restore the state that is not in the state dict.

        Args:
            checkpoint: The checkpoint being loaded.

        Raises:
            ValueError: If the checkpoint's queue, heads or clusters do not match
                this task's configuration.
        """
        super().on_load_checkpoint(checkpoint)
        state = checkpoint.get('geo_clusters')
        k: int = self.hparams['geo_classes']
        if state is None:
            return
        if int(state['num_clusters']) != k:
            msg = (
                f'checkpoint has {int(state["num_clusters"])} geo-clusters but this '
                f'task has geo_classes={k}'
            )
            raise ValueError(msg)
        self.geo_clusters = GeoClusters.from_state_dict(state)

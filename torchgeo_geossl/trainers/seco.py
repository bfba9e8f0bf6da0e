"""SeCo: Seasonal Contrast (Mañas et al., ICCV 2021)."""

from collections.abc import Sequence
from typing import Literal, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchgeo.datasets.utils import Sample
from torchvision.models._api import WeightsEnum

from ..faults import check_finite_loss
from ..losses import InfoNCELoss, top1_accuracy
from ..models import (
    NegativeQueue,
    concat_all_gather,
    copy_as_momentum,
    mocov2_projection_head,
)
from ..transforms import seco_artificial_augmentation, seco_crop
from .momentum import MomentumContrastTask

#: Number of seasons SeCo draws per sample, and of its embedding sub-spaces.
SEASONS = 3


class SeCoTask(MomentumContrastTask):
    r"""SeCo: momentum contrast with three seasons and three embedding sub-spaces.

    Seasonal Contrast (Mañas et al., "Seasonal Contrast: Unsupervised Pre-Training
    from Uncurated Remote Sensing Data", ICCV 2021, arXiv 2103.16607) learns from
    images of one location taken in different seasons. Per sample (Sec. 3, Fig. 2):

    * **Seasons.** Three *distinct* views t0, t1, t2 of the V ≥ 3 views of the
      sample: a random permutation of the V view indices is drawn for every sample
      and its first three entries are used (:meth:`draw_seasons`), so the seasons
      are drawn uniformly without replacement and, for V = 3, in a random order
      (the query season is not always the earliest). The reference code draws with
      replacement, which with 5 seasons gives three different seasons only 48 % of
      the time; this task never repeats a view. Whether the views are really
      distinct acquisitions is up to the data (``TemporalGeoDataModule(views=3,
      distinct_periods='Q')`` gives three different quarters); samples whose
      drawn views share an acquisition time are logged as
      ``train_repeated_season_fraction`` when the batch has ``time``.
    * **Views.** q = t0, k0 = A(t1), k1 = t2, k2 = A(t0), where A is the
      artificial augmentation (*artificial*, by default
      :func:`~torchgeo_geossl.transforms.seco_artificial_augmentation`: colour
      jitter, grayscale, blur, flip); then each of the four views gets its own
      random resized crop (*crop*, by default
      :func:`~torchgeo_geossl.transforms.seco_crop` with scale (0.2, 1)), and
      finally the data module's standardisation (:meth:`standardize`), so that
      the colour jitter sees [0, 1] images and standardised views carry no
      trace of whether they were augmented (the reference's order).
    * **Sub-spaces.** A shared backbone f (``self.model``) gives v = f(x); three
      MoCo-v2 projection heads hᵢ (Linear(d, d) → ReLU → Linear(d, 128),
      ``projection_heads``) map it to the sub-spaces Z₀, Z₁, Z₂. The key side is
      the exponential moving average of the backbone (``key_encoder``) and of each
      head (``projection_heads_momentum``), θ_k ← m θ_k + (1 − m) θ_q, and every
      head has its own queue of negatives (``queues[i]``, 16,384 keys).
    * **Loss.** With qᵢ = hᵢ(f(q)) / ‖·‖ and k_j^i the normalised head-i momentum
      embedding of key view k_j, head i is trained with InfoNCE (MoCo, Eq. 1) with
      positive k_i^i and negatives N_i: queue i, plus, for i = 1, 2, the batch's
      k_j^i of the two other key views j ≠ i, gathered from all processes (the
      reference code uses only each process's own batch):

      .. math::

          \mathcal{L}_i = -\log \frac{\exp(q_i \cdot k_i^i / \tau)}
              {\exp(q_i \cdot k_i^i / \tau) + \sum_{n \in N_i} \exp(q_i \cdot n / \tau)},
          \qquad \mathcal{L} = \mathcal{L}_0 + \mathcal{L}_1 + \mathcal{L}_2,

      so the logits are N × (1 + K) for head 0 and N × (1 + K + 2N) for heads 1
      and 2 on one process. Z₀ (positive k0) is invariant to season and
      augmentation; Z₁ (positive k1 = t2, negatives A(t1), A(t0)) is invariant to
      season and variant to augmentation; Z₂ (positive k2 = A(t0), negatives
      A(t1), t2) is invariant to augmentation and variant to season. Each head
      enqueues only its own positive keys k_i^i into queue i.

    Downstream, the backbone output v, which holds all three sub-spaces, is the
    representation (``self.model``, loadable by TorchGeo's ``Classification`` and
    ``SemanticSegmentation``). The key encoder encodes each key view as a batch of
    its own (per-view batch norm), shuffled across processes under DDP as in the
    reference code (``shuffle_bn``, see
    :class:`~torchgeo_geossl.trainers.MomentumContrastTask`). Defaults follow the
    reference code (ServiceNow/seasonal-contrast ``main_pretrain.py`` and
    ``models/moco2_module.py``): ResNet-18 with torchvision's initialisation (the
    reference CLI's ``--base_encoder`` default and its README command; the paper
    also reports ResNet-50), 128-d sub-spaces, queues of 16,384, m = 0.999,
    τ = 0.07, SGD 0.03 per 256 samples with momentum 0.9 and weight decay 1e-4,
    200 epochs with the learning rate multiplied by 0.1 at epochs 120 and 160
    (pl_bolts ``MocoLRScheduler``, applied at each epoch's start; here 60 % and
    80 % of ``max_epochs``), 224 px crops. The docs' recipe table
    (``docs/user/recipes/seco.csv``, tested against these defaults) lists every
    setting with its source.

    .. versionchanged:: 0.2
       *model* defaults to ``'resnet18'`` (was ``'resnet50'``), *schedule* to
       ``'step'`` (was ``'cosine'``) and *milestones* to None (60 % and 80 % of
       ``max_epochs``); the encoder no longer zero-initialises the last batch
       norm of each residual block; the key encoder moves once per optimiser step
       under ``accumulate_grad_batches``.

    .. versionadded:: 0.1
    """

    ignore = ('weights', 'artificial', 'crop')
    method = 'SeCo'
    fresh_modules = ('queues',)

    def __init__(
        self,
        model: str = 'resnet18',
        weights: WeightsEnum | bool | str | None = None,
        in_channels: int = 3,
        queue_size: int = 16_384,
        output_dim: int = 128,
        hidden_dim: int | None = None,
        temperature: float = 0.07,
        moco_momentum: float = 0.999,
        lr: float = 0.03,
        lr_batch_size: int | None = 256,
        momentum: float = 0.9,
        weight_decay: float = 1e-4,
        schedule: Literal['cosine', 'step'] = 'step',
        milestones: Sequence[int] | None = None,
        size: int = 224,
        crop_scale: tuple[float, float] = (0.2, 1.0),
        shuffle_bn: bool = True,
        bn_splits: int | None = None,
        channels_last: bool = False,
        artificial: nn.Module | None = None,
        crop: nn.Module | None = None,
        season_replacement: bool = False,
    ) -> None:
        """Initialize a new SeCoTask instance.

        Args:
            model: Name of the timm encoder (``resnet18``, the reference CLI's
                default and README command, or ``resnet50``: both are in the
                paper).
            weights: Initial weights, to continue pre-training from them, as
                TorchGeo's tasks take them: a weight enum
                (``ResNet18_Weights.SENTINEL2_RGB_SECO`` or
                ``ResNet50_Weights.SENTINEL2_RGB_SECO``, the published SeCo
                backbones) or its name, the path of a checkpoint (this package's,
                TorchGeo's tasks') or of a state-dict file (``geossl-export``'s
                ``*.pth``), True for timm's ImageNet weights, or None/False for a
                random initialisation. They must be for *model* and
                *in_channels* (an error says otherwise). The encoder goes into the
                query and key encoders; the three projection heads too when the
                source holds them (a checkpoint of this task), else they stay
                random, with a warning (the published SeCo weights hold only the
                backbone); the queues start afresh (see
                :meth:`~torchgeo_geossl.trainers.MomentumContrastTask.load_weights`).
                Not saved in the hyperparameters (as in TorchGeo).

                .. versionadded:: 0.2
            in_channels: Number of input bands (3 for SeCo's RGB).
            queue_size: Number of negatives in each head's queue.
            output_dim: Dimension of each sub-space (128).
            hidden_dim: Hidden dimension of the projection heads (defaults to the
                encoder's feature dimension, as in the paper).
            temperature: InfoNCE temperature τ.
            moco_momentum: Momentum m of the key encoder and key heads.
            lr: Learning rate for *lr_batch_size* samples.
            lr_batch_size: Batch size *lr* refers to (scaled linearly to the global
                batch size); None uses *lr* as given.
            momentum: SGD momentum.
            weight_decay: SGD weight decay.
            schedule: ``'step'`` (×0.1 at each of *milestones*, the reference's
                pl_bolts ``MocoLRScheduler``) or ``'cosine'`` decay over the epochs
                (MoCo-v2's alternative, a deviation).
            milestones: Epochs of the step schedule; None places them at 60 % and
                80 % of ``max_epochs`` (120 and 160 of 200, the reference's
                ``--schedule`` and ``--max_epochs``; see
                :meth:`~torchgeo_geossl.trainers.MomentumContrastTask.step_milestones`).
            size: Side in pixels of the random resized crops.
            crop_scale: Scale range of the crops.
            shuffle_bn: Under DDP, encode each key view with shuffling batch norm,
                as the reference code (see
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
            artificial: The artificial augmentation A, a module that augments
                ``[B, 2, C, H, W]`` views independently (defaults to
                :func:`~torchgeo_geossl.transforms.seco_artificial_augmentation`
                for *in_channels*); not saved in the hyperparameters.
            crop: The crop, a module that crops ``[B, 4, C, H, W]`` views
                independently (defaults to
                :func:`~torchgeo_geossl.transforms.seco_crop` with *size* and
                *crop_scale*); not saved in the hyperparameters.
            season_replacement: Draw t0, t1, t2 with replacement, as the reference
                code does (``np.random.choice(paths, 3)`` in
                ServiceNow/seasonal-contrast ``datasets/seco_dataset.py``): with 5
                seasons all three differ only 48 % of the time, and a repeated
                season makes a positive or negative of the same image. Off by
                default: distinct seasons, as the paper describes.

                .. versionadded:: 0.2

        Raises:
            ValueError: If a hyperparameter is out of range, or *weights* do not
                fit *model* and *in_channels*.
            FileNotFoundError: If a *weights* path does not exist.
            CheckpointReadError: If the *weights* file is empty or truncated.
        """
        self.weights = weights
        super().__init__()
        if artificial is None:
            artificial = seco_artificial_augmentation(in_channels=in_channels)
        if crop is None:
            crop = seco_crop(size=size, scale=crop_scale)
        self.artificial = artificial
        self.crop = crop

    def configure_models(self) -> None:
        """Create the encoders, the three projection heads and their queues."""
        super().configure_models()
        output_dim: int = self.hparams['output_dim']
        self.projection_heads = nn.ModuleList(
            mocov2_projection_head(
                self.feature_dim, self.hparams['hidden_dim'], output_dim
            )
            for _ in range(SEASONS)
        )
        self.projection_heads_momentum = nn.ModuleList(
            copy_as_momentum(head) for head in self.projection_heads
        )
        self.queues = nn.ModuleList(
            NegativeQueue(self.hparams['queue_size'], output_dim)
            for _ in range(SEASONS)
        )

    def pretrained_heads(self) -> dict[str, tuple[nn.Module, nn.Module]]:
        """The three projection heads, which *weights* loads when the source holds them.

        Returns:
            ``'projection_heads'`` → the heads and their momentum copies (all
            three or none are loaded).
        """
        return {
            'projection_heads': (self.projection_heads, self.projection_heads_momentum)
        }

    def configure_losses(self) -> None:
        """Create the InfoNCE loss shared by the three heads."""
        self.criterion = InfoNCELoss(self.hparams['temperature'])

    def draw_seasons(self, batch_size: int, views: int) -> Tensor:
        """Draw three view indices per sample, distinct unless asked otherwise.

        Args:
            batch_size: Number of samples B.
            views: Number of views V ≥ 3 per sample.

        Returns:
            Long indices ``[B, 3]`` (t0, t1, t2 of each sample): the first three
            entries of an independent uniform random permutation of ``range(V)``
            per sample, or, with ``season_replacement``, three independent uniform
            draws from ``range(V)``; drawn from the global torch generator.

        Raises:
            ValueError: If *views* < 3.
        """
        if views < SEASONS:
            msg = (
                f'SeCo needs {SEASONS} distinct seasons per sample, the batch has '
                f'V={views}'
            )
            raise ValueError(msg)
        if self.hparams.get('season_replacement', False):
            return torch.randint(views, (batch_size, SEASONS))
        return torch.rand(batch_size, views).argsort(dim=1)[:, :SEASONS]

    def seasons_from_batch(self, batch: Sample) -> tuple[Tensor, Tensor]:
        """The three seasons t0, t1, t2 of each sample of a batch.

        Args:
            batch: A batch whose ``image`` is ``[B, V, C, H, W]`` or
                ``[B, V·C, H, W]`` with V ≥ 3.

        Returns:
            The seasons ``[B, 3, C, H, W]`` and the view indices ``[B, 3]`` they
            were taken from (:meth:`draw_seasons`).

        Raises:
            ValueError: If the batch has fewer than 3 views per sample or channels
                that do not match ``in_channels``.
        """
        views = self.views_from_batch(batch)
        b, v = views.shape[:2]
        if v < SEASONS:
            msg = (
                f'SeCo needs {SEASONS} distinct seasons per sample, the batch has '
                f'V={v} (image {list(batch["image"].shape)} read as [B, V, C, H, W] '
                f'with C = in_channels = {self.hparams["in_channels"]}); serve at '
                f'least {SEASONS} views per location, e.g. '
                "TemporalGeoDataModule(views=3, distinct_periods='Q')"
            )
            raise ValueError(msg)
        indices = self.draw_seasons(b, v).to(views.device)
        rows = torch.arange(b, device=views.device)[:, None]
        return views[rows, indices], indices

    def _log_repeated_seasons(self, batch: Sample, indices: Tensor) -> None:
        """Log the share of samples whose drawn views share an acquisition time.

        Args:
            batch: The batch, with ``time [B, V]`` when the data module provides it.
            indices: The drawn view indices ``[B, 3]``.
        """
        time = batch.get('time')
        if not isinstance(time, Tensor) or time.ndim != 2:
            return
        if time.shape[0] != len(indices) or time.shape[1] <= int(indices.max()):
            return
        chosen = time.gather(1, indices.to(time.device))
        repeated = (
            (chosen[:, 0] == chosen[:, 1])
            | (chosen[:, 0] == chosen[:, 2])
            | (chosen[:, 1] == chosen[:, 2])
        )
        self.log(
            'train_repeated_season_fraction',
            repeated.float().mean(),
            batch_size=len(indices),
        )

    def training_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Compute the SeCo loss on one batch and update the three queues.

        Args:
            batch: A batch: ``image`` ``[B, V, C, H, W]`` or ``[B, V·C, H, W]`` with
                V ≥ 3 seasons; ``time [B, V]`` is optional.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.

        Returns:
            The total loss, the sum of the three heads' losses.
        """
        seasons, indices = self.seasons_from_batch(batch)
        b = seasons.shape[0]
        t0, t1, t2 = seasons.unbind(dim=1)
        with torch.no_grad():
            # Sec. 3, Fig. 2: q = t0, k0 = A(t1), k1 = t2, k2 = A(t0), then crops
            altered = self.artificial(torch.stack([t1, t0], dim=1))
            crops = self.crop(torch.stack([t0, altered[:, 0], t2, altered[:, 1]], 1))
            crops = self.standardize(crops)
        features = self.forward(crops[:, 0])
        with torch.no_grad():
            self.momentum_update(
                list(
                    zip(
                        self.projection_heads,
                        self.projection_heads_momentum,
                        strict=True,
                    )
                )
            )
            # one key-encoder batch per key view (per-view batch norm), each
            # shuffled across processes under DDP (shuffle-BN)
            key_features = [self.encode_keys(crops[:, 1 + j]) for j in range(SEASONS)]
            # keys[i][j]: head-i momentum embedding of key view k_j
            keys = [
                [F.normalize(head(v), dim=1) for v in key_features]
                for head in self.projection_heads_momentum
            ]
        queues = [cast(NegativeQueue, queue) for queue in self.queues]
        loss = features.new_zeros(())
        for i, head in enumerate(self.projection_heads):
            query = F.normalize(head(features), dim=1)
            negatives = queues[i].negatives
            if i > 0:
                # heads 1 and 2 also contrast against the other two key views
                others = torch.cat([keys[i][j] for j in range(SEASONS) if j != i])
                negatives = torch.cat([negatives, concat_all_gather(others)])
            head_loss, logits = self.criterion(query, keys[i][i], negatives)
            loss = loss + head_loss
            self.log(f'train_loss_head{i}', head_loss, batch_size=b)
            self.log(f'train_top1_head{i}', top1_accuracy(logits), batch_size=b)
        check_finite_loss(loss, batch, self.global_step)
        for i, queue in enumerate(queues):
            queue.enqueue(keys[i][i])
        self._log_repeated_seasons(batch, indices)
        self.log('train_loss', loss, batch_size=b, prog_bar=True)
        self.log_collapse_monitor(features)
        return loss

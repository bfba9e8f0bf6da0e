"""CSP: Contrastive Spatial Pre-training of a location encoder (Mai et al., 2023)."""

import inspect
import os
import warnings
from collections.abc import Mapping
from typing import Any, Self, cast

import lightning.pytorch.utilities.types
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim import Adam
from torchgeo.datasets.utils import Sample
from torchgeo.models import get_weight
from torchgeo.tasks import BaseTask

from ..checkpoint import read_checkpoint
from ..evaluation.retrieval import ImageLocationRetrieval
from ..export import load_backbone
from ..faults import check_finite_loss
from ..location.encoder import LocationEncoder, make_location_encoder
from ..losses.csp import (
    InBatchLocationImageLoss,
    RandomLocationLoss,
    SimCSELoss,
    diagonal_top1_accuracy,
    sample_uniform_sphere,
)
from ..models import create_encoder, use_channels_last
from ..models.distributed import concat_all_gather
from .reliable import ReliableTrainingMixin
from .standardize import StandardizeMixin

#: State-dict prefix of the location encoder in CSPTask checkpoints.
LOCATION_PREFIX = 'location_encoder.'


class CSPTask(ReliableTrainingMixin, StandardizeMixin, BaseTask):
    """CSP: contrastive pre-training of a location encoder against images.

    Contrastive Spatial Pre-training (Mai et al., ICML 2023, arXiv 2305.01118) is a
    dual encoder:

    * the **image encoder** f: a timm backbone (``self.model``, without classifier)
      followed by a linear projection to *embed_dim* (``self.image_projection``).
      The paper uses a frozen pretrained backbone (``freeze_backbone=True``, the
      default; it also stays in eval mode, so its batch-norm statistics do not
      move); *weights* loads it from a checkpoint of this package's GASSL/SeCo
      tasks or a TorchGeo weights enum;
    * the **location encoder** e = MLP(PE(lon, lat))
      (:class:`~torchgeo_geossl.location.encoder.LocationEncoder`,
      ``self.location_encoder``) with the positional *encoding* (default
      Space2Vec-grid with 32 scales between 0.1 and 360, as the paper).

    Both outputs are L2-normalised and trained with the loss
    L = L_B + *random_weight* · L_L + *simcse_weight* · L_D
    (:mod:`torchgeo_geossl.losses.csp`): L_B contrasts each location with every
    image of the batch, L_L each image's location with *num_random_locations*
    random locations on the sphere, and L_D two dropout passes of each location
    (SimCSE) against the other locations of the batch. Under DDP the batch is the
    global batch: L_B and L_D gather the candidates of all processes with gradient
    (:mod:`torchgeo_geossl.losses.csp`), so with equal per-process batches the mean
    loss and the DDP-averaged gradients equal those of one process on the
    concatenated batches (the random locations, the dropout masks and a trainable
    backbone's batch-norm statistics are drawn per process), and the in-batch
    top-1 accuracies are retrievals among the global batch.

    Defaults follow the reference code's published runs (``contsoftmax``):
    τ_B = 20, τ_L = τ_D = 1 (temperatures divide the similarities, so the
    in-batch term is almost flat), one random location per sample, weights 1 and
    1, dropout 0.5, a hidden layer of 512 and Adam without weight decay at a
    constant learning rate of 5e-4, as the iNat2018 run
    (``main/run-inat_2018-contsoftmax.sh``; its fMoW run uses 5e-5 with GELU, the
    argparse default ``--unsuper_lr`` is 1e-3). Random locations are uniform
    on the sphere by default; ``legacy_location_sampler=True`` uses the
    reference's non-uniform ``sphericalold`` sampler
    (:func:`~torchgeo_geossl.losses.csp.sample_uniform_sphere`). The location
    encoder is the reference's MLP (LeakyReLU(0.2) as the iNat2018 run, activation
    and dropout after the output layer, skip connections between equal-width
    hidden layers, Xavier-uniform initialisation); each encoding keeps its own
    scale defaults in its own unit unless *frequencies*, *min_radius* or
    *max_radius* are given (:func:`~torchgeo_geossl.location.encoder.make_location_encoder`,
    shared with :class:`~torchgeo_geossl.trainers.GeoPriorTask`). The recipe table
    of the CSP docs page lists every default with the paper's and the reference's
    values.

    A frozen backbone without *weights* is random: the task warns, since CSP
    needs a pretrained image encoder.

    Validation and test (with a data module that holds out places,
    :doc:`/user/stages`) log ``val_image_to_location_top1`` /
    ``test_image_to_location_top1``: every view of every held-out place must
    retrieve its own place's location embedding among those of all held-out
    places (:class:`~torchgeo_geossl.evaluation.ImageLocationRetrieval`), a
    metric of what CSP trains, also with a frozen backbone. ``torchgeo predict``
    writes the location embeddings as GeoParquet
    (:class:`~torchgeo_geossl.callbacks.GeoParquetWriter`).

    Batches need ``image`` (``[B, C, H, W]``, or ``[B, V, C, H, W]`` of which view
    0 is used) and ``point`` ``[B, 2]``, (lon, lat) in degrees. The images are
    standardised with the data module's ``standardize`` before the image encoder
    (:meth:`standardize`; this package's data modules only rescale them).

    The trained location encoder is the product:
    :meth:`location_encoder_state_dict` returns its weights (the checkpoint keys
    under ``location_encoder.``), which load into a
    :class:`~torchgeo_geossl.location.encoder.LocationEncoder` built with the same
    arguments (:meth:`build_location_encoder`). The image backbone keeps the
    ``model.`` prefix, so :func:`~torchgeo_geossl.export.load_backbone` and
    TorchGeo's tasks read it too.

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       *frequencies*, *min_radius* and *max_radius* default to None (the
       encoding's own defaults: 0.1 passed the grid's degrees to the Sphere2Vec
       encodings, which take radians); the location encoder follows the reference
       (LeakyReLU(0.2), output block, skip connections, Xavier init); *lr*
       5e-4, as the iNat2018 run (0.1: 1e-3); added *network* and *residual*; a
       frozen random backbone warns.
    """

    monitor = 'train_loss'

    #: Name of the method in exported metadata.
    method = 'CSP'

    def __init__(
        self,
        model: str = 'resnet50',
        in_channels: int = 3,
        weights: str | None = None,
        freeze_backbone: bool = True,
        embed_dim: int = 256,
        encoding: str = 'grid',
        frequencies: int | None = None,
        min_radius: float | None = None,
        max_radius: float | None = None,
        encoding_kwargs: dict[str, Any] | None = None,
        hidden_dim: int | None = None,
        num_hidden_layers: int | None = None,
        dropout: float = 0.5,
        activation: str | None = None,
        network: str | None = None,
        residual: bool | None = None,
        wrap_longitude: bool = False,
        reference_output_block: bool | None = None,
        num_random_locations: int = 1,
        temperature_inbatch: float = 20.0,
        temperature_random: float = 1.0,
        temperature_simcse: float = 1.0,
        random_weight: float = 1.0,
        simcse_weight: float = 1.0,
        symmetric: bool = False,
        learnable_scale: bool = False,
        legacy_location_sampler: bool = False,
        lr: float = 5e-4,
        weight_decay: float = 0.0,
        channels_last: bool = False,
    ) -> None:
        """Initialize a new CSPTask instance.

        Args:
            model: Name of the timm image backbone.
            in_channels: Number of input bands.
            weights: Backbone weights: the path of a checkpoint of this package's
                tasks (:func:`~torchgeo_geossl.export.load_backbone`; its model and
                in_channels must equal *model* and *in_channels*), the name of a
                TorchGeo weights enum (``'ResNet50_Weights.SENTINEL2_ALL_MOCO'``,
                downloaded), or None for a random initialisation.
            freeze_backbone: Freeze the backbone (no gradient, eval mode), as the
                paper; False trains it too.
            embed_dim: Dimension of both embeddings (256).
            encoding: Name of the positional encoding of the location encoder
                (see :func:`~torchgeo_geossl.location.encodings.build_encoding`).
            frequencies: Number S of scales (random features for ``'rff'``), or
                None for the encoding's own default (grid: 32; Sphere2Vec: 64).
            min_radius: Smallest scale λ_min in the encoding's unit (degrees for
                grid and theory, radians for the Sphere2Vec encodings), or None
                for its default (grid: 0.1 degree; Sphere2Vec: 0.001 radian).
            max_radius: Largest scale λ_max in the encoding's unit, or None for
                its default (grid: 360 degrees; Sphere2Vec: 1 radian).
            encoding_kwargs: Further arguments of the encoding.
            hidden_dim: Width of the location encoder's hidden layers; None: the
                network's default (MLP: 512).
            num_hidden_layers: Number of hidden layers; None: the network's
                default (MLP: 1).
            dropout: Dropout of the location encoder (0.5); SimCSE needs it > 0.
            activation: Activation of the MLP; None: LeakyReLU(0.2), as the
                reference's iNat2018 run (its fMoW run: ``'gelu'``).
            network: ``'mlp'``, ``'fcnet'`` or ``'siren'``; None: the published
                pairing (FCNet for ``'wrap'``, SIREN for ``'sh'``, else MLP).
            residual: Skip connections between the MLP's equal-width hidden
                layers; None: True, as the reference.
            wrap_longitude: Wrap longitudes outside [−180, 180) instead of
                rejecting them.
            reference_output_block: Apply the activation and dropout after the
                MLP's output layer, as the reference code does; None: True.
            num_random_locations: Number N of random locations per sample in L_L.
            temperature_inbatch: Temperature τ_B of L_B (a divisor).
            temperature_random: Temperature τ_L of L_L.
            temperature_simcse: Temperature τ_D of L_D.
            random_weight: Weight w_L of L_L.
            simcse_weight: Weight w_D of L_D.
            symmetric: Add the image-to-location direction to L_B.
            learnable_scale: Learn each objective's logit scale (initialised to
                1/τ).
            legacy_location_sampler: Draw random locations with the reference's
                non-uniform ``sphericalold`` sampler.
            lr: Adam learning rate (5e-4: CSP's iNat2018 run; fMoW run: 5e-5).
            weight_decay: Adam weight decay.
            channels_last: Keep the image backbone's weights and image inputs
                in the channels-last memory format
                (:func:`~torchgeo_geossl.models.use_channels_last`), for faster
                convolutions on GPUs with tensor cores, most with
                ``trainer.precision='bf16-mixed'`` (:doc:`/user/performance`);
                the same results up to floating-point rounding.

                .. versionadded:: 0.2

        Raises:
            ValueError: If a hyperparameter is out of range, or the weights do not
                fit the backbone.
        """
        for name, value in (
            ('in_channels', in_channels),
            ('embed_dim', embed_dim),
            ('num_random_locations', num_random_locations),
        ):
            if value < 1:
                msg = f'CSPTask {name} must be positive, got {value}'
                raise ValueError(msg)
        for name, weight in (
            ('random_weight', random_weight),
            ('simcse_weight', simcse_weight),
        ):
            if not weight >= 0:
                msg = f'CSPTask {name} must be ≥ 0, got {weight}'
                raise ValueError(msg)
        if freeze_backbone and weights is None:
            warnings.warn(
                f'CSPTask(freeze_backbone=True, weights=None) freezes a RANDOMLY '
                f'initialised {model}: only the projection and the location '
                'encoder learn, against random image features. Pass weights (a '
                "checkpoint of this package's GASSL/SeCo tasks, or a TorchGeo "
                "weights enum name such as 'ResNet50_Weights.SENTINEL2_ALL_MOCO') "
                'or set freeze_backbone=False to train the backbone too',
                UserWarning,
                stacklevel=2,
            )
        if simcse_weight > 0 and dropout <= 0:
            msg = (
                f'CSPTask simcse_weight={simcse_weight} needs dropout > 0 (two passes '
                'without dropout are identical); set dropout or simcse_weight=0'
            )
            raise ValueError(msg)
        self.weights = weights
        super().__init__()

    def build_location_encoder(self) -> LocationEncoder:
        """A new location encoder with this task's arguments.

        Returns:
            An untrained :class:`~torchgeo_geossl.location.encoder.LocationEncoder`
            into which :meth:`location_encoder_state_dict` loads.
        """
        return build_location_encoder(self.hparams)

    def configure_models(self) -> None:
        """Create the image backbone and projection and the location encoder."""
        self.model = create_encoder(self.hparams['model'], self.hparams['in_channels'])
        if self.weights:
            self._load_backbone_weights(self.weights)
        if self.hparams['freeze_backbone']:
            self.model.requires_grad_(False)
            self.model.eval()
        if self.hparams.get('channels_last', False):
            use_channels_last(self.model)
        self.image_projection = nn.Linear(self.feature_dim, self.hparams['embed_dim'])
        self.location_encoder = self.build_location_encoder()

    def configure_losses(self) -> None:
        """Create the three CSP objectives."""
        scale: bool = self.hparams['learnable_scale']
        self.inbatch_loss = InBatchLocationImageLoss(
            self.hparams['temperature_inbatch'],
            symmetric=self.hparams['symmetric'],
            learnable_scale=scale,
        )
        self.random_location_loss = RandomLocationLoss(
            self.hparams['temperature_random'], learnable_scale=scale
        )
        self.simcse_loss = SimCSELoss(
            self.hparams['temperature_simcse'], learnable_scale=scale
        )

    def _load_backbone_weights(self, weights: str) -> None:
        """Load backbone weights from a checkpoint path or a weights enum name.

        Args:
            weights: A checkpoint of this package's tasks or a TorchGeo weights
                enum name.

        Raises:
            ValueError: If the checkpoint's encoder differs from this task's
                backbone, or the weights do not fit it.
        """
        model: str = self.hparams['model']
        channels: int = self.hparams['in_channels']
        if os.path.exists(weights):
            state_dict, metadata = load_backbone(weights)
            if metadata['model'] != model or metadata['in_channels'] != channels:
                msg = (
                    f'the checkpoint {weights} holds a {metadata["model"]} with '
                    f'{metadata["in_channels"]} input channels, but this CSPTask '
                    f'has model={model!r}, in_channels={channels}; set them to the '
                    "checkpoint's"
                )
                raise ValueError(msg)
            source = f'checkpoint {weights}'
        else:
            try:
                enum = get_weight(weights)
            except (KeyError, ValueError, AttributeError) as err:
                msg = (
                    f'CSPTask weights={weights!r} is neither an existing checkpoint '
                    'file nor the name of a TorchGeo weights enum'
                )
                raise ValueError(msg) from err
            state_dict = enum.get_state_dict(
                progress=True, check_hash=True, weights_only=True
            )
            source = f'weights {weights}'
        own = self.model.state_dict()
        usable = {k: v for k, v in state_dict.items() if k in own}
        wrong = [
            f'{k}: {list(v.shape)} vs {list(own[k].shape)}'
            for k, v in usable.items()
            if v.shape != own[k].shape
        ]
        missing = sorted(set(own) - set(usable))
        if wrong or missing:
            msg = (
                f'the {source} do not fit the backbone {model} with {channels} '
                f'input channels: shapes differ for {wrong[:3]}, missing {missing[:3]}'
            )
            raise ValueError(msg)
        self.model.load_state_dict(usable)

    @property
    def feature_dim(self) -> int:
        """Number of features of the backbone's pooled output.

        Returns:
            ``num_features`` of the timm model.
        """
        return cast(int, self.model.num_features)

    def train(self, mode: bool = True) -> Self:
        """Set the training mode, keeping a frozen backbone in eval mode.

        Args:
            mode: Training (True) or evaluation mode.

        Returns:
            This task.
        """
        super().train(mode)
        if self.hparams['freeze_backbone']:
            self.model.eval()
        return self

    def images_from_batch(self, batch: Sample) -> Tensor:
        """The images of a batch as ``[B, C, H, W]`` (view 0 of multi-view batches).

        Args:
            batch: A batch whose ``image`` is ``[B, C, H, W]`` or
                ``[B, V, C, H, W]``.

        Returns:
            The images ``[B, C, H, W]``.

        Raises:
            ValueError: If the batch has no image, or its channels differ from
                ``in_channels``.
        """
        if 'image' not in batch:
            msg = f'CSP needs an image per sample, the batch has keys {sorted(batch)}'
            raise ValueError(msg)
        image: Tensor = batch['image']
        if image.ndim == 5:
            image = image[:, 0]
        channels: int = self.hparams['in_channels']
        if image.ndim != 4 or image.shape[1] != channels:
            msg = (
                f'CSPTask was built with in_channels={channels}, but the batch image '
                f'has shape {list(batch["image"].shape)}; expected [B, {channels}, '
                f'H, W] or [B, V, {channels}, H, W]'
            )
            raise ValueError(msg)
        return image

    def points_from_batch(self, batch: Sample) -> Tensor:
        """The locations of a batch.

        Args:
            batch: A batch with ``point`` ``[B, 2]``, (lon, lat) in degrees.

        Returns:
            The locations ``[B, 2]`` on this task's device.

        Raises:
            ValueError: If the batch has no ``point`` or it is not ``[B, 2]``.
        """
        if 'point' not in batch:
            msg = (
                'CSP needs point (lon, lat) for every image, but the batch has keys '
                f'{sorted(batch)}; use a data module that returns locations: '
                'TemporalViewsDataset (TemporalGeoDataModule, DemoDataModule), '
                'S2100kDataModule or FMoWDataModule'
            )
            raise ValueError(msg)
        points: Tensor = batch['point']
        if points.ndim != 2 or points.shape[1] != 2:
            msg = (
                'CSP needs point as [B, 2] (lon, lat) in degrees, got shape '
                f'{list(points.shape)}'
            )
            raise ValueError(msg)
        return points.to(self.device)

    def encode_images(self, images: Tensor) -> Tensor:
        """Embed images: backbone, projection, L2 normalisation.

        Args:
            images: ``[B, C, H, W]``.

        Returns:
            Unit-norm embeddings ``[B, embed_dim]``.

        Raises:
            ValueError: If the backbone's features do not match the projection.
        """
        with torch.set_grad_enabled(
            torch.is_grad_enabled() and not self.hparams['freeze_backbone']
        ):
            features: Tensor = self.model(images)
        expected = self.image_projection.in_features
        if features.ndim != 2 or features.shape[1] != expected:
            msg = (
                f'the image backbone {self.hparams["model"]} returns features of '
                f'shape {list(features.shape)}, but the projection expects '
                f'[B, {expected}]'
            )
            raise ValueError(msg)
        return F.normalize(self.image_projection(features), dim=1)

    def encode_locations(self, points: Tensor) -> Tensor:
        """Embed locations: location encoder, L2 normalisation.

        Args:
            points: ``[B, 2]``, (lon, lat) in degrees (validated by the encoder).

        Returns:
            Unit-norm embeddings ``[B, embed_dim]``.
        """
        embeddings: Tensor = self.location_encoder(points)
        return F.normalize(embeddings, dim=1)

    def forward(self, points: Tensor) -> Tensor:
        """Embed locations with the location encoder (the product of CSP).

        Args:
            points: ``[B, 2]``, (lon, lat) in degrees.

        Returns:
            Unit-norm location embeddings ``[B, embed_dim]``.
        """
        return self.encode_locations(points)

    def training_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Compute the CSP loss on one batch.

        Args:
            batch: A batch with ``image`` and ``point``.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.

        Returns:
            The total loss.
        """
        images = self.standardize(self.images_from_batch(batch))
        points = self.points_from_batch(batch)
        b = len(points)
        if len(images) != b:
            msg = f'the batch has {len(images)} images but {b} points'
            raise ValueError(msg)
        image_emb = self.encode_images(images)
        location_emb = self.encode_locations(points)
        inbatch, logits = self.inbatch_loss(location_emb, image_emb)
        n: int = self.hparams['num_random_locations']
        random_points = sample_uniform_sphere(
            b * n,
            device=points.device,
            dtype=points.dtype if points.is_floating_point() else None,
            legacy=self.hparams['legacy_location_sampler'],
        )
        random_emb = self.encode_locations(random_points).reshape(b, n, -1)
        random_loss, random_logits = self.random_location_loss(
            image_emb, location_emb, random_emb
        )
        second = self.encode_locations(points)
        simcse, _ = self.simcse_loss(location_emb, second)
        loss: Tensor = (
            inbatch
            + self.hparams['random_weight'] * random_loss
            + self.hparams['simcse_weight'] * simcse
        )
        check_finite_loss(loss, batch, self.global_step)
        self.log('train_inbatch_loss', inbatch, batch_size=b)
        self.log('train_random_location_loss', random_loss, batch_size=b)
        self.log('train_simcse_loss', simcse, batch_size=b)
        self.log('train_loss', loss, batch_size=b, prog_bar=True)
        self.log(
            'train_location_to_image_top1', diagonal_top1_accuracy(logits), batch_size=b
        )
        locations = concat_all_gather(location_emb, local_first=True)
        self.log(
            'train_image_to_location_top1',
            diagonal_top1_accuracy(image_emb.detach() @ locations.T),
            batch_size=b,
        )
        own_best = (random_logits.detach().argmax(dim=1) == 0).float().mean()
        self.log('train_random_location_top1', own_best, batch_size=b)
        if self.hparams['learnable_scale']:
            for name, objective in (
                ('inbatch', self.inbatch_loss),
                ('random_location', self.random_location_loss),
                ('simcse', self.simcse_loss),
            ):
                self.log(
                    f'train_{name}_scale', objective.scale().detach(), batch_size=b
                )
        return loss

    def configure_metrics(self) -> None:
        """Create the held-out image-to-location retrieval metrics."""
        self.val_image_to_location_top1 = ImageLocationRetrieval()
        self.test_image_to_location_top1 = ImageLocationRetrieval()

    def held_out_embeddings(self, batch: Sample) -> tuple[Tensor, Tensor]:
        """Image embeddings of every view and location embeddings of held-out places.

        Args:
            batch: A batch of places (one entry per place, ``image`` ``[B, V, C, H,
                W]`` or ``[B, C, H, W]``, and ``point``).

        Returns:
            Image embeddings ``[B, V, D]`` and location embeddings ``[B, D]``.
        """
        image: Tensor = batch['image']
        views = image if image.ndim == 5 else image.unsqueeze(1)
        b, v = views.shape[:2]
        flat = self.images_from_batch({'image': views.flatten(0, 1)})
        images = self.encode_images(self.standardize(flat)).reshape(b, v, -1)
        return images, self.encode_locations(self.points_from_batch(batch))

    def validation_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Add held-out places to ``val_image_to_location_top1``.

        Args:
            batch: A batch of held-out places (the data module's validation loader).
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.
        """
        self.val_image_to_location_top1.update(*self.held_out_embeddings(batch))

    def on_validation_epoch_end(self) -> None:
        """Log ``val_image_to_location_top1`` (chance: 1 / places)."""
        self._log_retrieval(self.val_image_to_location_top1, 'val')

    def test_step(self, batch: Sample, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Add held-out places to ``test_image_to_location_top1``.

        Args:
            batch: A batch of held-out places (the data module's test loader).
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.
        """
        self.test_image_to_location_top1.update(*self.held_out_embeddings(batch))

    def on_test_epoch_end(self) -> None:
        """Log ``test_image_to_location_top1`` (chance: 1 / places)."""
        self._log_retrieval(self.test_image_to_location_top1, 'test')

    def _log_retrieval(self, metric: ImageLocationRetrieval, split: str) -> None:
        """Log a retrieval metric and its chance level, then reset it.

        Nothing is logged for fewer than two places (Lightning's sanity check may
        run a single small batch).

        Args:
            metric: The metric of the epoch.
            split: ``'val'`` or ``'test'``.
        """
        places = metric.places()
        if places >= 2:
            name = f'{split}_image_to_location_top1'
            self.log(name, metric.compute(), prog_bar=True)
            self.log(f'{name}_chance', 1.0 / places)
        metric.reset()

    def predict_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Embed the locations of a batch.

        One row per sample in the GeoParquet file of ``torchgeo predict``
        (:class:`~torchgeo_geossl.callbacks.GeoParquetWriter`): the location
        embedding, CSP's product.

        Args:
            batch: A batch with ``point``.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.

        Returns:
            Location embeddings ``[B, embed_dim]``.
        """
        return self.encode_locations(self.points_from_batch(batch))

    def configure_optimizers(
        self,
    ) -> 'lightning.pytorch.utilities.types.OptimizerLRScheduler':
        """Adam at a constant learning rate, as the CSP code.

        Returns:
            The optimiser over the trainable parameters.
        """
        return Adam(
            [p for p in self.parameters() if p.requires_grad],
            lr=self.hparams['lr'],
            weight_decay=self.hparams['weight_decay'],
        )

    def location_encoder_state_dict(self) -> dict[str, Tensor]:
        """The weights of the trained location encoder.

        Load them with ``task.build_location_encoder().load_state_dict(...)``, or
        from a checkpoint file with :func:`load_location_encoder`.

        Returns:
            A copy of the location encoder's state dict (on the CPU).
        """
        return {
            k: v.detach().cpu().clone()
            for k, v in self.location_encoder.state_dict().items()
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the method and backbone under ``checkpoint['geossl']``.

        Args:
            checkpoint: The checkpoint being written.
        """
        checkpoint['geossl'] = {
            'method': self.method,
            'model': self.hparams['model'],
            'in_channels': self.hparams['in_channels'],
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse a checkpoint of another configuration before it is loaded.

        Args:
            checkpoint: The checkpoint being loaded.

        Raises:
            ValueError: If a tensor's shape differs from this task's, naming each.
        """
        own = self.state_dict()
        wrong = [
            f'{name}: {list(value.shape)} in the checkpoint, {list(own[name].shape)} here'
            for name, value in checkpoint.get('state_dict', {}).items()
            if name in own and value.shape != own[name].shape
        ]
        if wrong:
            msg = (
                'the checkpoint does not match this CSPTask: '
                + '; '.join(wrong[:5])
                + '. Use the hyperparameters it was trained with (model, '
                'in_channels, embed_dim, encoding, frequencies, hidden_dim).'
            )
            raise ValueError(msg)


def build_location_encoder(hparams: Mapping[str, Any]) -> LocationEncoder:
    """Build the location encoder described by CSPTask hyperparameters.

    Args:
        hparams: The hyperparameters of a :class:`CSPTask` (``task.hparams`` or a
            checkpoint's ``hyper_parameters``); missing ones take CSPTask's
            defaults.

    Returns:
        An untrained :class:`~torchgeo_geossl.location.encoder.LocationEncoder`.

    Raises:
        ValueError: If the encoding does not accept the scale arguments.

    .. versionadded:: 0.1
    """
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(CSPTask).parameters.items()
    }
    values = {name: hparams.get(name, value) for name, value in defaults.items()}
    return make_location_encoder(
        values['encoding'],
        frequencies=values['frequencies'],
        min_radius=values['min_radius'],
        max_radius=values['max_radius'],
        encoding_kwargs=values['encoding_kwargs'],
        output_dim=values['embed_dim'],
        hidden_dim=values['hidden_dim'],
        num_hidden_layers=values['num_hidden_layers'],
        dropout=values['dropout'],
        activation=values['activation'],
        network=values['network'],
        residual=values['residual'],
        wrap_longitude=values['wrap_longitude'],
        reference_output_block=values['reference_output_block'],
    )


def load_location_encoder(path: str | os.PathLike[str]) -> LocationEncoder:
    """Rebuild the trained location encoder of a CSPTask checkpoint.

    Args:
        path: A Lightning checkpoint of :class:`CSPTask`.

    Returns:
        The location encoder with its trained weights, in eval mode.

    Raises:
        ValueError: If the file is not a CSPTask checkpoint.

    .. versionadded:: 0.1
    """
    try:
        checkpoint = read_checkpoint(path)
    except OSError as err:
        raise ValueError(str(err)) from err
    state = checkpoint.get('state_dict', {}) if isinstance(checkpoint, dict) else {}
    location = {
        k.removeprefix(LOCATION_PREFIX): v
        for k, v in state.items()
        if k.startswith(LOCATION_PREFIX)
    }
    if not location or 'hyper_parameters' not in checkpoint:
        msg = f'{path} is not a CSPTask checkpoint (no {LOCATION_PREFIX}* weights)'
        raise ValueError(msg)
    encoder = build_location_encoder(checkpoint['hyper_parameters'])
    encoder.load_state_dict(location)
    return encoder.eval()

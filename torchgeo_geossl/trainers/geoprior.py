"""Geographical prior: a location encoder with a class head (CSP's downstream task)."""

import os
from pathlib import Path
from typing import Any

import lightning.pytorch.utilities.types
import torch
from torch import Tensor, nn
from torch.optim import Adam
from torch.optim.lr_scheduler import ExponentialLR
from torchgeo.datasets.utils import Sample
from torchgeo.tasks import BaseTask

from ..checkpoint import read_checkpoint
from ..location.encoder import make_location_encoder
from ..losses.csp import sample_uniform_sphere
from ..losses.geoprior import PresenceOnlyLoss
from .reliable import ReliableTrainingMixin

#: Prefix of the location encoder's tensors in checkpoints of CSPTask and GeoPriorTask.
ENCODER_PREFIX = 'location_encoder.'

#: Number of most probable classes per point in the predictions of
#: :meth:`GeoPriorTask.predict_step` (top-5, as Mac Aodha et al. report); all K
#: probabilities are written too.
TOP_K = 5


def _encoder_state_from_file(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read the ``location_encoder.*`` tensors of a checkpoint, without the prefix.

    Args:
        path: A Lightning checkpoint (``state_dict`` inside) of a task with a
            ``location_encoder`` submodule, e.g. ``CSPTask``, or a saved state dict.

    Returns:
        The location encoder's state dict.

    Raises:
        FileNotFoundError: If *path* does not exist.
        CheckpointReadError: If the file is empty or truncated.
        TypeError: If the file holds no state dict.
        ValueError: If the file holds no ``location_encoder.*`` tensors.
    """
    file = Path(path)
    checkpoint = read_checkpoint(file, weights_only=False, what='GeoPriorTask weights')
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, dict):
        msg = f'GeoPriorTask weights: {str(file)!r} holds no state dict'
        raise TypeError(msg)
    encoder = {
        key.removeprefix(ENCODER_PREFIX): value
        for key, value in state.items()
        if isinstance(key, str) and key.startswith(ENCODER_PREFIX)
    }
    if not encoder:
        keys = ', '.join(list(map(str, state))[:5]) or 'none'
        msg = (
            f'GeoPriorTask weights: {str(file)!r} has no {ENCODER_PREFIX}* tensors '
            f'(first keys: {keys}); pass a checkpoint of CSPTask or GeoPriorTask'
        )
        raise ValueError(msg)
    return encoder


class GeoPriorTask(ReliableTrainingMixin, BaseTask):
    r"""Train a geographical prior :math:`\sigma(W_y^\top e(x))` on presence-only data.

    The downstream task of CSP (Mai et al., ICML 2023, arXiv 2305.01118, Sec. 4):
    a location encoder :math:`e`, usually pre-trained with
    :class:`~torchgeo_geossl.trainers.CSPTask`, is fine-tuned (or kept frozen with
    ``freeze_encoder=True``) together with a linear class head without bias,
    :math:`W_y^\top e(x)` for each class :math:`y`, with the presence-only loss
    of Mac Aodha et al. (ICCV 2019; :class:`~torchgeo_geossl.losses.PresenceOnlyLoss`):
    the observed class is a positive, the other classes at the
    observed location and all classes at a location drawn uniformly on the sphere
    are assumed negatives.

    Batches carry ``point`` (``[B, 2]``, ``(lon, lat)`` in degrees) and ``label``
    (``[B]`` class indices), e.g. from
    :class:`~torchgeo_geossl.datamodules.points.PointsDataModule`. Logged:
    ``{split}_loss`` and ``{split}_top1``, the top-1 accuracy of the location-only
    prediction :math:`\arg\max_y W_y^\top e(x)`. :meth:`forward` returns the class
    logits, so a trained task is the *prior* of
    :class:`~torchgeo_geossl.models.geoprior.GeoPriorFusion`, which combines it
    with any image classifier.

    ``torchgeo predict`` writes one GeoParquet row per point of the predict
    split (:class:`~torchgeo_geossl.callbacks.GeoParquetWriter`, see
    :meth:`predict_step`): the presence probability of every class, the five
    most probable classes (:data:`~torchgeo_geossl.trainers.geoprior.TOP_K`)
    with their names, the observed label and the location embedding.

    Defaults follow CSP's fine-tuning stage: Adam with learning rate 0.001 decayed
    by 0.98 per epoch, no weight decay, λ = K. The encoder is built by
    :func:`~torchgeo_geossl.location.encoder.make_location_encoder`, as in
    :class:`~torchgeo_geossl.trainers.CSPTask`, so the same encoding name and
    arguments give the same encoder (and a CSPTask checkpoint loads into it).

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       Added *frequencies*, *min_radius* and *max_radius*; the encoder follows the
       CSP reference (see :class:`~torchgeo_geossl.location.encoder.LocationEncoder`).
       :meth:`predict_step` returns the columns of a GeoParquet file, written
       by ``torchgeo predict``.
    """

    ignore = ('weights', 'location_encoder')
    monitor = 'val_loss'

    #: A ready encoder handed from ``__init__`` to :meth:`configure_models`.
    _given_encoder: nn.Module | None

    def __init__(
        self,
        num_classes: int = 10,
        encoding: str = 'grid',
        output_dim: int = 256,
        hidden_dim: int | None = None,
        num_hidden_layers: int | None = None,
        dropout: float = 0.5,
        activation: str | None = None,
        frequencies: int | None = None,
        min_radius: float | None = None,
        max_radius: float | None = None,
        encoder_kwargs: dict[str, Any] | None = None,
        location_encoder: nn.Module | None = None,
        weights: str | os.PathLike[str] | None = None,
        freeze_encoder: bool = False,
        pos_weight: float | None = None,
        background_weight: float = 1.0,
        legacy_sampler: bool = False,
        lr: float = 1e-3,
        lr_decay: float = 0.98,
        weight_decay: float = 0.0,
    ) -> None:
        r"""Initialize a new GeoPriorTask instance.

        Args:
            num_classes: Number of classes K.
            encoding: Positional encoding of the
                :class:`~torchgeo_geossl.location.encoder.LocationEncoder`.
            output_dim: Dimension of the location embedding :math:`e(x)`.
            hidden_dim: Width of the encoder's hidden layers; None: the network's
                default (MLP: 512).
            num_hidden_layers: Number of hidden layers of the encoder; None: the
                network's default (MLP: 1).
            dropout: Dropout of the encoder.
            activation: Activation of the encoder's MLP; None: LeakyReLU(0.2).
            frequencies: Number of scales of the encoding, or None for its own
                default.
            min_radius: Finest scale in the encoding's unit (degrees for grid
                and theory, radians for Sphere2Vec), or None for its default.
            max_radius: Coarsest scale in the encoding's unit, or None.
            encoder_kwargs: Further arguments of
                :class:`~torchgeo_geossl.location.encoder.LocationEncoder`
                (``network``, ``residual``, ``reference_output_block``,
                ``wrap_longitude``, other arguments of the encoding, ...).
            location_encoder: A ready location encoder mapping points ``[B, 2]``
                to ``[B, output_dim]``, used instead of building one.
            weights: A checkpoint whose ``location_encoder.*`` tensors initialise
                the encoder (a ``CSPTask`` or ``GeoPriorTask`` checkpoint, or a
                saved state dict); the encoder arguments must match the run that
                wrote it.
            freeze_encoder: Keep the location encoder fixed (no gradient, eval
                mode) and train only the class head.
            pos_weight: Weight λ of the positive term (None: K).
            background_weight: Weight of the random-location term.
            legacy_sampler: Draw the random locations with the CSP reference
                code's non-uniform ``sphericalold`` sampler instead of uniformly
                on the sphere.
            lr: Adam learning rate.
            lr_decay: Factor of the learning rate after each epoch.
            weight_decay: Adam weight decay.

        Raises:
            ValueError: If a hyperparameter is out of range or the weights do
                not fit the encoder.
            FileNotFoundError: If *weights* does not exist.
            TypeError: If *weights* holds no state dict.
        """
        if num_classes < 1:
            raise ValueError(f'num_classes must be positive, got {num_classes}')
        if output_dim < 1:
            raise ValueError(f'output_dim must be positive, got {output_dim}')
        if not (lr > 0 and 0 < lr_decay <= 1 and weight_decay >= 0):
            msg = (
                'GeoPriorTask needs lr > 0, 0 < lr_decay <= 1 and weight_decay >= 0; '
                f'got lr={lr}, lr_decay={lr_decay}, weight_decay={weight_decay}'
            )
            raise ValueError(msg)
        # configure_models (called by BaseTask.__init__) takes it from here; plain
        # attribute, since nn.Module cannot register a submodule before __init__
        object.__setattr__(self, '_given_encoder', location_encoder)
        super().__init__()
        del self._given_encoder
        if weights is not None:
            self.load_encoder_weights(weights)
        if freeze_encoder:
            self.location_encoder.requires_grad_(False)
            self.location_encoder.eval()

    def configure_models(self) -> None:
        """Build (or take) the location encoder and the class head."""
        encoder = self._given_encoder
        if encoder is None:
            extra = dict(self.hparams['encoder_kwargs'] or {})
            scales = {}
            for name in ('frequencies', 'min_radius', 'max_radius'):
                value = self.hparams[name]
                if value is not None and name in extra:
                    msg = (
                        f'GeoPriorTask got {name} both as an argument ({value}) '
                        f'and in encoder_kwargs ({extra[name]}); give it once'
                    )
                    raise ValueError(msg)
                scales[name] = extra.pop(name, value)
            encoder = make_location_encoder(
                self.hparams['encoding'],
                **scales,
                output_dim=self.hparams['output_dim'],
                hidden_dim=self.hparams['hidden_dim'],
                num_hidden_layers=self.hparams['num_hidden_layers'],
                dropout=self.hparams['dropout'],
                activation=self.hparams['activation'],
                **extra,
            )
        self.location_encoder = encoder
        self.class_head = nn.Linear(
            self.hparams['output_dim'], self.hparams['num_classes'], bias=False
        )

    def configure_losses(self) -> None:
        """Create the presence-only loss."""
        self.criterion = PresenceOnlyLoss(
            self.hparams['pos_weight'], self.hparams['background_weight']
        )

    def load_encoder_weights(self, path: str | os.PathLike[str]) -> None:
        """Load the location encoder from a checkpoint's ``location_encoder.*``.

        Args:
            path: A ``CSPTask`` or ``GeoPriorTask`` checkpoint, or a saved state
                dict with ``location_encoder.*`` keys.

        Raises:
            FileNotFoundError: If *path* does not exist.
            TypeError: If *path* holds no state dict.
            ValueError: If the checkpoint has no encoder tensors, or they do not
                match this encoder (missing, unexpected or of other shapes).
        """
        state = _encoder_state_from_file(path)
        own = self.location_encoder.state_dict()
        problems = [
            f'{key}: {list(value.shape)} in the checkpoint, {list(own[key].shape)} here'
            for key, value in state.items()
            if key in own and value.shape != own[key].shape
        ]
        problems += [f'{key}: missing in the checkpoint' for key in own.keys() - state]
        problems += [f'{key}: not in this encoder' for key in state.keys() - own]
        if problems:
            msg = (
                f'GeoPriorTask weights {str(path)!r} do not fit the location encoder '
                '(build the task with the encoder arguments of the run that wrote '
                'it): ' + '; '.join(sorted(problems)[:10])
            )
            raise ValueError(msg)
        self.location_encoder.load_state_dict(state)

    def train(self, mode: bool = True) -> 'GeoPriorTask':
        """Set the training mode, keeping a frozen encoder in eval mode.

        Args:
            mode: Training (True) or evaluation (False) mode.

        Returns:
            This task.
        """
        super().train(mode)
        if self.hparams['freeze_encoder']:
            self.location_encoder.eval()
        return self

    def embed(self, points: Tensor) -> Tensor:
        """Location embeddings :math:`e(x)`.

        Args:
            points: ``[B, 2]`` ``(lon, lat)`` in degrees (any float dtype).

        Returns:
            Embeddings ``[B, output_dim]``.

        Raises:
            ValueError: If *points* is not ``[B, 2]`` or the encoder's output does
                not have ``output_dim`` features.

        .. versionadded:: 0.2
        """
        if points.ndim != 2 or points.shape[1] != 2:
            msg = (
                'GeoPriorTask expects points [B, 2] as (lon, lat) in degrees, got '
                f'{list(points.shape)}'
            )
            raise ValueError(msg)
        dtype = self.class_head.weight.dtype
        embedding: Tensor = self.location_encoder(points.to(dtype))
        if embedding.shape != (points.shape[0], self.class_head.in_features):
            msg = (
                f'The location encoder returned {list(embedding.shape)} for '
                f'{points.shape[0]} points, but GeoPriorTask was built with '
                f'output_dim={self.class_head.in_features}'
            )
            raise ValueError(msg)
        return embedding

    def forward(self, points: Tensor) -> Tensor:
        r"""Class logits :math:`W_y^\top e(x)` of the location-only prior.

        Args:
            points: ``[B, 2]`` ``(lon, lat)`` in degrees (any float dtype).

        Returns:
            Logits ``[B, K]``; :func:`torch.sigmoid` gives presence probabilities.

        Raises:
            ValueError: If *points* is not ``[B, 2]`` or the encoder's output does
                not have ``output_dim`` features.
        """
        logits: Tensor = self.class_head(self.embed(points))
        return logits

    def _points_and_labels(self, batch: Sample) -> tuple[Tensor, Tensor]:
        """The batch's ``point`` and ``label``, checked.

        Args:
            batch: A batch with ``point`` ``[B, 2]`` and ``label`` ``[B]``.

        Returns:
            The points and labels.

        Raises:
            KeyError: If the batch lacks ``point`` or ``label``.
            ValueError: If the labels are not integers of shape ``[B]``.
        """
        missing = [key for key in ('point', 'label') if key not in batch]
        if missing:
            msg = (
                f'GeoPriorTask needs batches with point [B, 2] and label [B]; this '
                f'batch lacks {missing} (keys: {sorted(batch)})'
            )
            raise KeyError(msg)
        points, labels = batch['point'], batch['label']
        if labels.shape != (points.shape[0],) or labels.dtype.is_floating_point:
            msg = (
                f'GeoPriorTask expects integer class labels [B] = [{points.shape[0]}], '
                f'got {labels.dtype} {list(labels.shape)}'
            )
            raise ValueError(msg)
        return points, labels

    def _shared_step(self, batch: Sample, split: str) -> Tensor:
        """Compute and log the loss and top-1 accuracy of one batch.

        Args:
            batch: A batch with ``point`` and ``label``.
            split: ``'train'``, ``'val'`` or ``'test'``.

        Returns:
            The loss.
        """
        points, labels = self._points_and_labels(batch)
        batch_size = points.shape[0]
        background = sample_uniform_sphere(
            batch_size,
            device=points.device,
            dtype=self.class_head.weight.dtype,
            legacy=self.hparams['legacy_sampler'],
        )
        logits = self(torch.cat([points.to(background.dtype), background]))
        loss: Tensor = self.criterion(logits[:batch_size], labels, logits[batch_size:])
        top1 = (logits[:batch_size].detach().argmax(dim=1) == labels).float().mean()
        self.log(f'{split}_loss', loss, batch_size=batch_size)
        self.log(f'{split}_top1', top1, batch_size=batch_size)
        return loss

    def training_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Compute the presence-only loss of a training batch.

        Args:
            batch: A batch with ``point`` ``[B, 2]`` and ``label`` ``[B]``.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.

        Returns:
            The loss.
        """
        return self._shared_step(batch, 'train')

    def validation_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Log the loss and location-only top-1 accuracy of a validation batch.

        Args:
            batch: A batch with ``point`` ``[B, 2]`` and ``label`` ``[B]``.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.
        """
        self._shared_step(batch, 'val')

    def test_step(self, batch: Sample, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Log the loss and location-only top-1 accuracy of a test batch.

        Args:
            batch: A batch with ``point`` ``[B, 2]`` and ``label`` ``[B]``.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.
        """
        self._shared_step(batch, 'test')

    def predict_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, Any]:
        r"""The prior of each point of a batch, as GeoParquet columns.

        One row per point in the file that ``torchgeo predict`` writes
        (:class:`~torchgeo_geossl.callbacks.GeoParquetWriter`), in this order:

        * ``probability`` ``[B, K]``: the presence probabilities
          :math:`\sigma(W_y^\top e(x))` of the K classes, in the order of the
          data module's ``classes`` (the prior :math:`p(y|x)` that Mac Aodha et
          al. multiply with an image classifier's :math:`p(y|I)`);
        * ``top_class`` ``[B, k]``: the indices of the ``k = min(TOP_K, K)``
          most probable classes, most probable first
          (:data:`~torchgeo_geossl.trainers.geoprior.TOP_K`);
        * ``top_class_name``: their names (when the data module has ``classes``);
        * ``label`` ``[B]`` and ``label_name``: the observed class, when the batch
          has ``label`` (the name when the data module has ``classes``);
        * ``embedding`` ``[B, output_dim]``: the location embedding :math:`e(x)`.

        Args:
            batch: A batch with ``point`` ``[B, 2]`` and optionally ``label``.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.

        Returns:
            The columns, each with one value per point.

        Raises:
            KeyError: If the batch lacks ``point``.

        .. versionchanged:: 0.2
           Returns the columns above instead of the probabilities alone.
        """
        if 'point' not in batch:
            msg = f'GeoPriorTask.predict_step needs point [B, 2]; keys: {sorted(batch)}'
            raise KeyError(msg)
        embedding = self.embed(batch['point'])
        probability = torch.sigmoid(self.class_head(embedding))
        k = min(TOP_K, probability.shape[1])
        top = probability.topk(k, dim=1).indices
        names = self._class_names()
        columns: dict[str, Any] = {'probability': probability, 'top_class': top}
        if names is not None:
            columns['top_class_name'] = [
                [names[i] for i in row] for row in top.tolist()
            ]
        if 'label' in batch:
            columns['label'] = batch['label'].reshape(-1)
            if names is not None:
                columns['label_name'] = [names[i] for i in columns['label'].tolist()]
        columns['embedding'] = embedding
        return columns

    def _class_names(self) -> list[str] | None:
        """The data module's class names, checked against ``num_classes``.

        Returns:
            The names in label order, or None when the data module has none.

        Raises:
            ValueError: If the data module's ``classes`` differ in number from
                ``num_classes``.
        """
        datamodule = getattr(self._trainer, 'datamodule', None)
        classes = getattr(datamodule, 'classes', None)
        if classes is None:
            return None
        k: int = self.hparams['num_classes']
        if len(classes) != k:
            msg = (
                f'the data module has {len(classes)} classes but GeoPriorTask has '
                f'num_classes={k}; set num_classes to {len(classes)}'
            )
            raise ValueError(msg)
        return [str(name) for name in classes]

    def setup(self, stage: str) -> None:
        """Refuse a data module with another number of classes, before any stage.

        Lightning calls this after the data module's ``setup``, for ``fit``,
        ``validate``, ``test`` and ``predict`` alike.

        Args:
            stage: The stage being set up.

        Raises:
            ValueError: If the data module's ``classes`` differ in number from
                ``num_classes``.
        """
        self._class_names()

    def configure_optimizers(
        self,
    ) -> 'lightning.pytorch.utilities.types.OptimizerLRScheduler':
        """Adam with an exponential decay of the learning rate per epoch.

        Returns:
            The optimiser and its scheduler.
        """
        optimizer = Adam(
            [p for p in self.parameters() if p.requires_grad],
            lr=self.hparams['lr'],
            weight_decay=self.hparams['weight_decay'],
        )
        scheduler = ExponentialLR(optimizer, gamma=self.hparams['lr_decay'])
        return {'optimizer': optimizer, 'lr_scheduler': scheduler}

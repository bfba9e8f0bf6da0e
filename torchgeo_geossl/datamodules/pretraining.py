"""What every pre-training data module of this package shares."""

from collections.abc import Sequence
from typing import Any

import numpy.typing as npt
import torch
from lightning.pytorch.utilities import rank_zero_warn
from matplotlib.figure import Figure
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset
from torchgeo.datasets.utils import Sample

from ..datasets.skipping import SkipUnreadable
from ..evaluation.split import Split, block_split
from ..faults import check_finite_batch
from .normalize import NormalizeViews, as_band_tensor
from .resumable import ResumableTrainMixin

#: Values the augmentation scale is expected to hold: a batch with more than
#: :data:`OUT_OF_SCALE_TOLERANCE` of its values outside this range after
#: :attr:`PretrainingMixin.rescale` is almost surely on another scale (raw
#: digital numbers, or already standardised) and is warned about.
AUGMENTATION_RANGE = (-0.5, 1.5)

#: Share of values outside :data:`AUGMENTATION_RANGE` above which a batch is
#: warned about (reflectance of clouds and snow may exceed 1 here and there).
OUT_OF_SCALE_TOLERANCE = 0.01

#: Largest standardisation std accepted on the augmentation scale (where images
#: lie in about [0, 1]); a larger one is on the raw scale.
MAX_AUGMENTATION_STD = 10.0


class PretrainingMixin(ResumableTrainMixin):
    """Data module mixin: rescale views on device; standardise in the task.

    Put it before the TorchGeo data module class in the bases and call
    :meth:`configure_standardization` in ``__init__``. The image pipeline is
    split in two, so that the task's augmentation sees images on the scale its
    colour operations expect and standardisation is the last step, as in the
    reference code of MoCo-v2, GASSL and SeCo (``ToTensor()``, augmentations,
    then ``Normalize(mean, std)``):

    1. :meth:`on_after_batch_transfer` (always, also outside a trainer) checks that
       the batch is finite and brings ``image`` to the *augmentation scale* with
       :attr:`rescale`: ``[0, 1]`` for RGB (8-bit values divided by 255, SeCo's
       quantile stretch), reflectance (digital numbers divided by 10,000) for
       multispectral images. Kornia's ``ColorJitter`` clamps to ``[0, 1]``, so a
       standardised image would be clipped.
    2. The task applies :attr:`standardize` (per-band ``(x - mean) / std`` on the
       augmentation scale) after its augmentation, or to the un-augmented views
       when predicting (``standardize`` of
       :class:`~torchgeo_geossl.trainers.GeoMoCoTask`,
       :class:`~torchgeo_geossl.trainers.SeCoTask` and
       :class:`~torchgeo_geossl.trainers.CSPTask`). Whoever feeds this data module's
       batches to a network without such a task, e.g. with a plain loader, must
       apply ``datamodule.standardize`` to the images themselves.

    :attr:`mean` and :attr:`std` hold the whole standardisation in the units of
    the raw images, ``(clip(x) - mean) / std`` (TorchGeo's convention), as recorded
    in checkpoints and exports (:mod:`torchgeo_geossl.export`).

    Without a ``val_dataset`` :meth:`val_dataloader` returns no loaders; the data
    modules of this package build held-out places for validation and test
    (:doc:`/user/stages`). The training loader is sharded
    across processes, seeded per epoch and resumable mid-epoch
    (:class:`~torchgeo_geossl.datamodules.ResumableTrainMixin`).

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       Images are no longer standardised in :meth:`on_after_batch_transfer` but
       rescaled to the augmentation scale; the task standardises after augmenting.
    """

    #: Per-band mean subtracted, in raw units (with the clip: ``(clip(x) - mean) /
    #: std`` is the network input).
    mean: Tensor
    #: Per-band standard deviation divided by, in raw units.
    std: Tensor
    #: Per-band lower clip of the raw values, or None.
    low: Tensor | None
    #: Per-band upper clip of the raw values, or None.
    high: Tensor | None
    #: Raw images to the augmentation scale (clip, then ``(x - offset) / scale``),
    #: applied by :meth:`on_after_batch_transfer`.
    rescale: NormalizeViews
    #: Augmentation scale to the network input (``(x - mean) / std`` with the
    #: statistics on the augmentation scale), applied by the task last.
    standardize: NormalizeViews

    def configure_standardization(
        self,
        mean: float | Sequence[float] | Tensor,
        std: float | Sequence[float] | Tensor,
        scale: float | Sequence[float] | Tensor | None = None,
        offset: float | Sequence[float] | Tensor = 0.0,
        low: float | Sequence[float] | Tensor | None = None,
        high: float | Sequence[float] | Tensor | None = None,
    ) -> None:
        """Set :attr:`rescale` and :attr:`standardize` from raw-unit statistics.

        The raw image x becomes ``(clip(x, low, high) - offset) / scale`` for the
        augmentation and then ``(x' - (mean - offset) / scale) / (std / scale)``,
        which is ``(clip(x) - mean) / std``: the same network input as
        standardising the raw image directly.

        Args:
            mean: Per-band (or scalar) mean in raw units.
            std: Per-band (or scalar) standard deviation in raw units.
            scale: Per-band (or scalar) raw value range that maps to 1 on the
                augmentation scale (255 for 8-bit RGB, 10,000 for reflectance
                stored as digital numbers). None: *std* when *mean* is 0 for every
                band (a pure division, TorchGeo's ``std=255`` or ``10000``
                convention, which then needs no further standardisation).
            offset: Per-band (or scalar) raw value that maps to 0.
            low: Per-band (or scalar) lower clip of the raw values, or None.
            high: Per-band (or scalar) upper clip of the raw values, or None.

        Raises:
            ValueError: If *scale* is None while *mean* is not 0, if the
                statistics have different numbers of bands, if *scale* or
                *std* is not positive and finite for every band, or if the
                standard deviation on the augmentation scale exceeds
                :data:`MAX_AUGMENTATION_STD` (*std* is then on another scale than
                *scale*).
        """
        mean_t, std_t, offset_t = map(as_band_tensor, (mean, std, offset))
        if scale is None:
            if bool((mean_t != 0).any()):
                msg = (
                    f'{type(self).__name__}: mean={mean_t.tolist()} standardises the '
                    'images, so give scale, the raw value range that maps to 1 for the '
                    'augmentation (e.g. 255 for 8-bit RGB, 10000 for reflectance '
                    'stored as digital numbers); the augmentation needs images in '
                    'about [0, 1] and standardisation comes after it'
                )
                raise ValueError(msg)
            scale = std_t
        scale_t = as_band_tensor(scale)
        for name, value in (('std', std_t), ('scale', scale_t)):
            if not bool(torch.isfinite(value).all()) or bool((value <= 0).any()):
                msg = (
                    f'{type(self).__name__}: {name} must be positive and finite for '
                    f'every band, got {value.tolist()}'
                )
                raise ValueError(msg)
        sizes = {len(t) for t in (mean_t, std_t, scale_t, offset_t)} - {1}
        if len(sizes) > 1:
            msg = (
                f'{type(self).__name__}: mean, std, scale and offset must be scalars or '
                f'have one value per band, got lengths mean={len(mean_t)}, '
                f'std={len(std_t)}, scale={len(scale_t)}, offset={len(offset_t)}'
            )
            raise ValueError(msg)
        self.rescale = NormalizeViews(offset_t, scale_t, low=low, high=high)
        self.standardize = NormalizeViews(
            (mean_t - offset_t) / scale_t, std_t / scale_t
        )
        if bool((self.standardize.std > MAX_AUGMENTATION_STD).any()):
            msg = (
                f'{type(self).__name__}: std={std_t.tolist()} is '
                f'{self.standardize.std.tolist()} on the augmentation scale '
                f'(scale={scale_t.tolist()}), far more than images in about [0, 1] '
                'can have: give mean and std in the raw units of the images, and '
                'scale the raw range that maps to 1'
            )
            raise ValueError(msg)
        self.mean, self.std = mean_t, std_t
        self.low = self.rescale.low
        self.high = self.rescale.high

    def on_after_batch_transfer(self, batch: Sample, dataloader_idx: int) -> Sample:
        """Check the views of a batch and bring them to the augmentation scale.

        Standardisation is left to the task (:attr:`standardize`), after its
        augmentation. Warns when more than 1 % of the values of the first batch lie
        outside :data:`AUGMENTATION_RANGE` (the images are then not on the
        augmentation scale: check *scale*).

        Args:
            batch: A batch whose ``image`` is ``[B, V, C, H, W]`` (or
                ``[B, C, H, W]``).
            dataloader_idx: The index of the dataloader to which the batch belongs.

        Returns:
            The batch with ``image`` on the augmentation scale.

        Raises:
            NonFiniteError: If the image holds NaN or infinite values
                (:func:`~torchgeo_geossl.faults.check_finite_batch`).
        """
        check_finite_batch(batch)
        image = self.rescale(batch['image'])
        batch['image'] = image
        if not getattr(self, '_checked_scale', False) and image.numel():
            # a wrong scale is a configuration error: the first batch shows it,
            # and checking every batch would cost a device sync per step
            self._checked_scale = True
            low, high = AUGMENTATION_RANGE
            outside = int(((image < low) | (image > high)).sum())
            if outside > OUT_OF_SCALE_TOLERANCE * image.numel():
                rank_zero_warn(
                    f'{type(self).__name__}: {outside} of {image.numel()} image values '
                    f'lie outside [{low}, {high}] after rescaling (scale='
                    f'{self.rescale.std.tolist()}): the augmentation expects images '
                    'in about [0, 1] (reflectance for multispectral bands) and '
                    "Kornia's colour jitter clamps to [0, 1]; check scale"
                )
        return batch

    def val_dataloader(self) -> Any:
        """The validation loader of ``val_dataset``, or none without one.

        Returns:
            TorchGeo's loader of ``val_dataset`` when :meth:`setup` built one, else
            an empty list, which Lightning treats as "skip validation" (typed
            ``Any`` because TorchGeo's data modules declare a single loader).

        .. versionchanged:: 0.2
           Serves ``val_dataset`` when there is one.
        """
        if getattr(self, 'val_dataset', None) is not None:
            return super().val_dataloader()
        loaders: list[DataLoader[Sample]] = []
        return loaders

    def plot(self, *args: Any, **kwargs: Any) -> Figure:
        """Plot a sample with the ``plot`` method of this data module's dataset.

        As TorchGeo's :meth:`~torchgeo.datamodules.BaseDataModule.plot`, but the
        training set comes first (self-supervised pre-training often has no
        validation set), datasets wrapped in ``Subset`` or
        :class:`~torchgeo_geossl.datasets.SkipUnreadable` are unwrapped, and a
        data module without a dataset raises instead of returning None. The
        views of a sample are shown side by side, titled with their dates
        (for example
        :meth:`~torchgeo_geossl.datasets.TemporalViewsDataset.plot`). Samples of a
        batch come from :func:`torchgeo.datasets.unbind_samples`.

        Args:
            *args: Arguments passed to the dataset's ``plot`` (the sample).
            **kwargs: Keyword arguments passed to it (``show_titles``,
                ``suptitle``).

        Returns:
            A matplotlib Figure with one panel per view.

        Raises:
            RuntimeError: If no dataset with a ``plot`` method is set up yet.

        .. versionadded:: 0.2
        """
        names = ('dataset', 'train_dataset', 'val_dataset', 'test_dataset')
        for name in names:
            dataset = getattr(self, name, None)
            while isinstance(dataset, Subset | SkipUnreadable):
                dataset = dataset.dataset
            if dataset is not None and hasattr(dataset, 'plot'):
                figure: Figure = dataset.plot(*args, **kwargs)
                return figure
        msg = (
            f'{type(self).__name__}.plot needs a dataset with a plot method, but none '
            f'of {", ".join(names)} is set: call setup("fit") first'
        )
        raise RuntimeError(msg)


def held_out_subsets(
    dataset: Dataset[Sample],
    points: npt.ArrayLike,
    block_size: float,
    val_split_pct: float,
    test_split_pct: float,
    seed: int,
) -> dict[Split, Subset[Sample]]:
    """Split a map-style dataset of located samples into spatial blocks.

    Args:
        dataset: The dataset, one sample per location.
        points: ``[N, 2]`` (lon, lat) of its samples, in degrees.
        block_size: Side of the blocks in degrees
            (:func:`~torchgeo_geossl.evaluation.block_split`).
        val_split_pct: Share of the blocks held out for validation.
        test_split_pct: Share of the blocks held out for test.
        seed: Seed of the assignment of blocks to splits.

    Returns:
        The ``'train'``, ``'val'`` and ``'test'`` subsets.

    Raises:
        ValueError: If a split asked for ends up empty (the message names the
            parameter to change).

    .. versionadded:: 0.2
    """
    indices = block_split(points, block_size, val_split_pct, test_split_pct, seed)
    return {split: Subset(dataset, ids.tolist()) for split, ids in indices.items()}


def check_split_shares(val_split_pct: float, test_split_pct: float) -> None:
    """Refuse held-out shares outside [0, 1).

    Args:
        val_split_pct: Share held out for validation.
        test_split_pct: Share held out for test.

    Raises:
        ValueError: If a share is outside [0, 1), naming it.
    """
    for name, value in (
        ('val_split_pct', val_split_pct),
        ('test_split_pct', test_split_pct),
    ):
        if not 0 <= value < 1:
            msg = f'{name} must lie in [0, 1), got {value}'
            raise ValueError(msg)


def require_held_out_share(module: Any, stage: str, what: str, example: float) -> None:
    """Refuse 'validate' or 'test' when the share it needs is 0.

    Args:
        module: The data module, with ``val_split_pct`` and ``test_split_pct``.
        stage: Either 'fit', 'validate', 'test', or 'predict'.
        what: What is held out (``'patches'``, ``'locations'``), for the message.
        example: A share to suggest.

    Raises:
        ValueError: If *stage* is 'validate' or 'test' and its share is 0.
    """
    share = {'validate': 'val_split_pct', 'test': 'test_split_pct'}.get(stage)
    if share is not None and not getattr(module, share):
        msg = (
            f'{type(module).__name__} has {share}=0: there are no held-out {what} to '
            f'{stage} on; set {share} (e.g. {example})'
        )
        raise ValueError(msg)

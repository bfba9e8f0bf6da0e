"""Data modules serving TorchGeo's non-geo SSL datasets as ``[B, V, C, H, W]`` views."""

from collections.abc import Sequence
from typing import Any, Literal, cast

from torch.utils.data import Dataset
from torchgeo.datamodules import SeasonalContrastS2DataModule, SSL4EOS12DataModule
from torchgeo.datasets import SeasonalContrastS2
from torchgeo.datasets.utils import Path, Sample

from ..datasets.ssl import SeasonalContrastS2Views, SSL4EOS12Views, _SeasonViews
from ..datasets.views import OnReadError
from .normalize import NormalizeViews
from .pretraining import (
    PretrainingMixin,
    check_split_shares,
    held_out_subsets,
    require_held_out_share,
)

#: SeCo's per-band low and high quantiles of the RGB bands, from the reference
#: implementation (ServiceNow/seasonal-contrast, ``datasets/seco_dataset.py``).
SECO_QUANTILES = {'B2': (3.0, 88.0), 'B3': (2.0, 103.0), 'B4': (0.0, 129.0)}

#: ImageNet mean and standard deviation of the band shown as red, green and blue.
SECO_IMAGENET_STATS = {'B4': (0.485, 0.229), 'B3': (0.456, 0.224), 'B2': (0.406, 0.225)}


def seco_normalization(bands: Sequence[str]) -> NormalizeViews:
    """The normalisation SeCo applies to its images, per band.

    For the RGB bands (any subset or order of B2, B3, B4), as in the SeCo reference
    implementation: each band is clipped to its quantiles ``[q_lo, q_hi]``
    (:data:`SECO_QUANTILES`, the constants of TorchGeo's
    ``SeasonalContrastS2DataModule``), scaled to ``[0, 1]``, and normalised with the
    ImageNet mean and standard deviation of its colour
    (:data:`SECO_IMAGENET_STATS`); that is ``(clip(x) - q_lo - mean·(q_hi - q_lo))
    / (std·(q_hi - q_lo))``. Other band sets are divided by 255, as TorchGeo does.

    Two deviations from TorchGeo 0.10's ``SeasonalContrastS2DataModule``, which
    applies ``Normalize(q_lo, q_hi - q_lo)``, ``Normalize(0, 1/255)`` and
    ``Normalize(mean, std)`` to the channels B4, B3, B2: TorchGeo multiplies by 255
    where the reference divides the 0-255 image by 255 (so its outputs reach about
    1,100 instead of 2.6), and it gives B4 the quantiles of B2 and B2 those of B4
    (its constants are listed in B2, B3, B4 order); TorchGeo also does not clip.

    Args:
        bands: The bands of the images, in channel order.

    Returns:
        The normalisation, for ``[B, V, C, H, W]`` batches.

    .. versionadded:: 0.1
    """
    stats = seco_statistics(bands)
    return NormalizeViews(
        mean=stats['mean'] or 0.0,
        std=stats['std'] or 1.0,
        low=stats['low'],
        high=stats['high'],
    )


def seco_statistics(bands: Sequence[str]) -> dict[str, list[float] | None]:
    """SeCo's normalisation of :func:`seco_normalization`, split in two steps.

    The quantile stretch to ``[0, 1]`` (``(clip(x, low, high) - offset) / scale``,
    the reference's 8-bit image before ``ToTensor()``) is the augmentation scale;
    the ImageNet standardisation on it comes after the augmentation.

    Args:
        bands: The bands of the images, in channel order.

    Returns:
        ``mean`` and ``std`` of the whole normalisation in raw units, ``scale`` and
        ``offset`` of the stretch, and the clip ``low`` and ``high`` (None for
        other bands than RGB, which are divided by 255), one value per band.

    .. versionadded:: 0.2
    """
    if not all(band in SECO_QUANTILES for band in bands):
        return {
            'mean': [0.0],
            'std': [255.0],
            'scale': [255.0],
            'offset': [0.0],
            'low': None,
            'high': None,
        }
    low = [SECO_QUANTILES[band][0] for band in bands]
    high = [SECO_QUANTILES[band][1] for band in bands]
    scale = [hi - lo for lo, hi in zip(low, high, strict=True)]
    mean = [
        lo + SECO_IMAGENET_STATS[band][0] * (hi - lo)
        for band, lo, hi in zip(bands, low, high, strict=True)
    ]
    std = [
        SECO_IMAGENET_STATS[band][1] * (hi - lo)
        for band, lo, hi in zip(bands, low, high, strict=True)
    ]
    return {
        'mean': mean,
        'std': std,
        'scale': scale,
        'offset': low,
        'low': low,
        'high': high,
    }


class _SeasonSamples(Dataset[Sample]):
    """Every season of every location of a views dataset, one view per sample."""

    def __init__(self, dataset: _SeasonViews) -> None:
        """Initialize a new _SeasonSamples instance.

        Args:
            dataset: The views dataset.
        """
        self.dataset = dataset
        self.entries = dataset.season_samples()

    def __len__(self) -> int:
        """Return the number of location-season pairs.

        Returns:
            The number of samples.
        """
        return len(self.entries)

    def __getitem__(self, index: int) -> Sample:
        """Return one season of one location.

        Args:
            index: Index of the pair.

        Returns:
            ``image [1, C, H, W]``, ``time [1]`` and ``point [2]``.
        """
        return self.dataset.season_sample(*self.entries[index])


def _setup_seasons(module: Any, dataset_class: type[_SeasonViews], stage: str) -> None:
    """Build the datasets of *stage* for a seasons data module.

    Training uses V seasons of the training locations, validation and test
    ``max(V, 2)`` seasons of the held-out locations (drawn from *seed*, 0 when
    None, the same in every epoch), prediction every season of every location.

    Args:
        module: The data module (``kwargs``, ``val_split_pct``,
            ``test_split_pct``, ``block_size``, ``holdout_seed``).
        dataset_class: The views dataset class.
        stage: Either 'fit', 'validate', 'test', or 'predict'.

    Raises:
        ValueError: If *stage* needs a held-out split whose share is 0, or a split
            ends up empty.
    """
    require_held_out_share(module, stage, 'locations', 0.01)
    if stage == 'predict':
        module.predict_dataset = _SeasonSamples(dataset_class(**module.kwargs))
        return
    train = dataset_class(**module.kwargs)
    if not (module.val_split_pct or module.test_split_pct):
        module.train_dataset = train
        return
    points = [train.location_point(i) for i in range(len(train))]
    subsets = held_out_subsets(
        cast(Dataset[Sample], train),
        points,
        module.block_size,
        module.val_split_pct,
        module.test_split_pct,
        module.holdout_seed,
    )
    module.train_dataset = subsets['train']
    views = max(int(module.kwargs['seasons']), 2)
    for split in ('val', 'test'):
        if getattr(module, f'{split}_split_pct'):
            held_out = _HeldOutLocations(
                train, subsets[split].indices, views, module.holdout_seed
            )
            setattr(module, f'{split}_dataset', held_out)


class _HeldOutLocations(Dataset[Sample]):
    """Held-out locations of a views dataset, each with the same seasons every epoch."""

    def __init__(
        self, dataset: _SeasonViews, indices: Sequence[int], views: int, seed: int
    ) -> None:
        """Initialize a new _HeldOutLocations instance.

        Args:
            dataset: The views dataset.
            indices: Dataset indices of the held-out locations.
            views: Seasons per location.
            seed: Seed of the seasons.
        """
        self.dataset = dataset
        self.indices = list(indices)
        self.views = views
        self.seed = seed

    def __len__(self) -> int:
        """Return the number of held-out locations.

        Returns:
            The number of locations.
        """
        return len(self.indices)

    def __getitem__(self, index: int) -> Sample:
        """Return the seasons of one held-out location.

        Args:
            index: Index among the held-out locations.

        Returns:
            ``image [V, C, H, W]``, ``time [V]`` and ``point [2]``.
        """
        return self.dataset.fixed_sample(self.indices[index], self.views, self.seed)


class SeasonalContrastS2ViewsDataModule(PretrainingMixin, SeasonalContrastS2DataModule):
    """SeCo's seasons as ``[B, V, C, H, W]`` batches of the batch contract.

    A TorchGeo :class:`~torchgeo.datamodules.SeasonalContrastS2DataModule` whose
    training set is a :class:`~torchgeo_geossl.datasets.ssl.SeasonalContrastS2Views`:
    batches hold ``image [B, V, C, H, W]`` (V = *seasons* distinct seasons per
    location, not TorchGeo's channel-stacked ``[B, V·C, H, W]``), ``time [B, V]``
    and ``point [B, 2]`` (float64). Images are stretched on device to [0, 1] with
    SeCo's quantiles (:attr:`rescale`), the scale the task's augmentation expects;
    the task then standardises with ImageNet statistics (:attr:`standardize`), the
    same statistics for every view: together :func:`seco_normalization`, in the
    reference's order (stretch, augment, ``Normalize``). TorchGeo's
    channel-stacked ``aug`` is not used.

    The dataset has no official split. With ``val_split_pct`` or
    ``test_split_pct`` above 0, a spatial hold-out: the locations fall in blocks
    of *block_size* degrees of longitude and latitude (the georeference of each
    location is read once at setup), and a seeded share of the blocks is held out
    for validation and another for test
    (:func:`~torchgeo_geossl.evaluation.block_split`); the held-out locations are
    served with ``max(seasons, 2)`` seasons each, the same in every epoch, for the
    task's place recognition. Without a share, 'validate' and 'test' are refused,
    naming the parameter. 'predict' serves every season of every location, one
    view per sample.

    .. versionchanged:: 0.2
       Added the spatial hold-out (*val_split_pct*, *test_split_pct*,
       *block_size*) and the predict stage.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        batch_size: int = 64,
        num_workers: int = 0,
        root: Path = 'data',
        version: str = '100k',
        seasons: int = 3,
        bands: Sequence[str] = SeasonalContrastS2.rgb_bands,
        min_distinct_seasons: int = 3,
        seed: int | None = None,
        on_read_error: OnReadError = 'raise',
        val_split_pct: float = 0.0,
        test_split_pct: float = 0.0,
        block_size: float = 1.0,
        **kwargs: Any,
    ) -> None:
        """Initialize a new SeasonalContrastS2ViewsDataModule instance.

        Args:
            batch_size: Size of each mini-batch.
            num_workers: Number of workers for parallel data loading.
            root: Root directory of the dataset (parent of
                ``seasonal_contrast_100k`` or ``seasonal_contrast_1m``).
            version: One of ``'100k'`` or ``'1m'``.
            seasons: Number of seasons V per sample, 1 to 5 (SeCo uses 3).
            bands: Bands to load (SeCo's RGB by default).
            min_distinct_seasons: Locations with fewer distinct seasons are skipped.
            seed: Seed of the season draws, or None for Python's global
                :mod:`random` module (seeded by ``seed_everything``).
            on_read_error: When a file of a sample cannot be read (corrupt,
                truncated, missing): raise (``'raise'``), or leave the sample out of
                its batch with a warning (``'skip'``; see
                :class:`~torchgeo_geossl.datasets.SkipUnreadable`).
            val_split_pct: Share of the blocks held out for validation, in [0, 1).
            test_split_pct: Share of the blocks held out for test, in [0, 1).
            block_size: Side in degrees of the blocks of the spatial hold-out.
            **kwargs: Further arguments of
                :class:`~torchgeo_geossl.datasets.ssl.SeasonalContrastS2Views`
                (``download``, ``checksum``, ``transforms``).

        Raises:
            ValueError: If *on_read_error* is not ``'raise'`` or ``'skip'``, or a
                held-out share is outside [0, 1).
        """
        check_split_shares(val_split_pct, test_split_pct)
        super().__init__(
            batch_size,
            num_workers,
            root=root,
            version=version,
            seasons=seasons,
            bands=tuple(bands),
            min_distinct_seasons=min_distinct_seasons,
            seed=seed,
            **kwargs,
        )
        self.on_read_error = on_read_error
        self.val_split_pct = val_split_pct
        self.test_split_pct = test_split_pct
        self.block_size = block_size
        #: Seed of the hold-out and of the held-out seasons (*seed*, or 0).
        self.holdout_seed = 0 if seed is None else seed
        self.dataset_class = SeasonalContrastS2Views
        stats = seco_statistics(tuple(bands))
        self.configure_standardization(
            stats['mean'] or 0.0,
            stats['std'] or 1.0,
            scale=stats['scale'],
            offset=stats['offset'] or 0.0,
            low=stats['low'],
            high=stats['high'],
        )

    def setup(self, stage: str) -> None:
        """Build the datasets of *stage* (see the class description).

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.

        Raises:
            ValueError: If *stage* needs a held-out split whose share is 0, or a
                split ends up empty (the message names the parameter).
        """
        _setup_seasons(self, SeasonalContrastS2Views, stage)


class SSL4EOS12ViewsDataModule(PretrainingMixin, SSL4EOS12DataModule):
    """SSL4EO-S12's seasons as ``[B, V, C, H, W]`` batches of the batch contract.

    A TorchGeo :class:`~torchgeo.datamodules.SSL4EOS12DataModule` whose training set
    is a :class:`~torchgeo_geossl.datasets.ssl.SSL4EOS12Views`: batches hold
    ``image [B, V, C, H, W]``, ``time [B, V]`` and ``point [B, 2]``. Images are
    divided by 10,000 on device (TorchGeo's statistics for this dataset, ``mean``
    0, ``std`` 10,000, every band and view): reflectance, the scale of the task's
    augmentation, with no further standardisation.

    The dataset has no official split. With ``val_split_pct`` or
    ``test_split_pct`` above 0, a spatial hold-out: the locations fall in blocks
    of *block_size* degrees of longitude and latitude (the georeference of each
    location is read once at setup), and a seeded share of the blocks is held out
    for validation and another for test
    (:func:`~torchgeo_geossl.evaluation.block_split`); the held-out locations are
    served with ``max(seasons, 2)`` seasons each, the same in every epoch, for the
    task's place recognition. Without a share, 'validate' and 'test' are refused,
    naming the parameter. 'predict' serves every season of every location, one
    view per sample.

    .. versionchanged:: 0.2
       Added the spatial hold-out (*val_split_pct*, *test_split_pct*,
       *block_size*) and the predict stage.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        batch_size: int = 64,
        num_workers: int = 0,
        root: Path = 'data',
        split: Literal['s1', 's2c', 's2a'] = 's2c',
        seasons: int = 2,
        min_distinct_seasons: int | None = None,
        seed: int | None = None,
        on_read_error: OnReadError = 'raise',
        val_split_pct: float = 0.0,
        test_split_pct: float = 0.0,
        block_size: float = 1.0,
        **kwargs: Any,
    ) -> None:
        """Initialize a new SSL4EOS12ViewsDataModule instance.

        Args:
            batch_size: Size of each mini-batch.
            num_workers: Number of workers for parallel data loading.
            root: Root directory of the dataset (parent of the split directories).
            split: One of ``'s1'``, ``'s2c'`` or ``'s2a'``.
            seasons: Number of seasons V per sample, 1 to 4.
            min_distinct_seasons: Locations with fewer distinct seasons are skipped
                (None: *seasons*).
            seed: Seed of the season draws, or None for Python's global
                :mod:`random` module (seeded by ``seed_everything``).
            on_read_error: When a file of a sample cannot be read (corrupt,
                truncated, missing): raise (``'raise'``), or leave the sample out of
                its batch with a warning (``'skip'``; see
                :class:`~torchgeo_geossl.datasets.SkipUnreadable`).
            val_split_pct: Share of the blocks held out for validation, in [0, 1).
            test_split_pct: Share of the blocks held out for test, in [0, 1).
            block_size: Side in degrees of the blocks of the spatial hold-out.
            **kwargs: Further arguments of
                :class:`~torchgeo_geossl.datasets.ssl.SSL4EOS12Views`
                (``download``, ``checksum``, ``transforms``).

        Raises:
            ValueError: If *on_read_error* is not ``'raise'`` or ``'skip'``, or a
                held-out share is outside [0, 1).
        """
        check_split_shares(val_split_pct, test_split_pct)
        super().__init__(
            batch_size,
            num_workers,
            root=root,
            split=split,
            seasons=seasons,
            min_distinct_seasons=min_distinct_seasons,
            seed=seed,
            **kwargs,
        )
        self.on_read_error = on_read_error
        self.val_split_pct = val_split_pct
        self.test_split_pct = test_split_pct
        self.block_size = block_size
        #: Seed of the hold-out and of the held-out seasons (*seed*, or 0).
        self.holdout_seed = 0 if seed is None else seed
        self.dataset_class = SSL4EOS12Views
        self.configure_standardization(self.mean, self.std)

    def setup(self, stage: str) -> None:
        """Build the datasets of *stage* (see the class description).

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.

        Raises:
            ValueError: If *stage* needs a held-out split whose share is 0, or a
                split ends up empty (the message names the parameter).
        """
        _setup_seasons(self, SSL4EOS12Views, stage)

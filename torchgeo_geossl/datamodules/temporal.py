"""A TorchGeo data module that serves temporal views of any dated GeoDataset."""

import os
import pathlib
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.errors import CRSError, RasterioIOError
from shapely import MultiPolygon, Polygon
from torch.utils.data import DataLoader
from torchgeo.datamodules import GeoDataModule
from torchgeo.datasets import GeoDataset
from torchgeo.datasets.utils import Path, Sample
from torchgeo.samplers import SpatioTemporalSampler

from ..datasets.indexing import OnUnindexed
from ..datasets.views import (
    OnNodata,
    OnNonFinite,
    OnReadError,
    TemporalViewsDataset,
    stack_samples_skipping,
)
from ..evaluation.split import HeldOutPlaces, HeldOutSplit, Split
from ..location.clusters import AddGeoClusterLabel, GeoClusters
from ..samplers.spatial import (
    FootprintGridSampler,
    ScatteredPatchSampler,
    _check_count,
    _check_patch_size,
    _resolve_roi,
)
from ..samplers.temporal_views import TemporalViewSampler
from .pretraining import PretrainingMixin


class TemporalGeoDataModule(PretrainingMixin, GeoDataModule):
    """Serve batches of V temporal views per location from any dated ``GeoDataset``.

    Wires together the pieces of the temporal pipeline::

        dataset_class(**kwargs)                      # any TorchGeo GeoDataset
          → ScatteredPatchSampler @ TemporalViewSampler  # where and when
          → TemporalViewsDataset                      # reads V views, adds point/time
          → GeoClusters label (optional)              # GASSL geo-location target
          → stack_samples_skipping                    # [B, V, C, H, W] batches
          → rescaling on device to the augmentation scale
          (→ the task's augmentation, then ``standardize``)

    Batches follow the package's batch contract: ``image [B, V, C, H, W]``,
    ``point [B, 2]`` (lon, lat, float64), ``time [B, V]`` (seconds, float64),
    ``label [B]`` when clusters are configured, plus TorchGeo's ``bounds`` and
    ``transform``, and ``skipped``, the number of samples left out of the batch
    (see *on_nodata* and *on_read_error*; :doc:`/user/reliability`).

    The training loader draws each epoch from *seed* and the epoch number with a
    :class:`~torchgeo_geossl.samplers.ShardedGeoSampler`: under DDP each process
    draws its own locations, ``ceil(length / world size)`` samples, and a run
    resumed from a mid-epoch checkpoint continues the epoch where it stopped.

    Held-out evaluation (*holdout*, a :class:`~torchgeo_geossl.evaluation.HeldOutSplit`):
    training then draws only from the training cells of a spatial grid and from the
    training months, and the validation and test loaders serve the places of the
    held-out cells (:class:`~torchgeo_geossl.evaluation.HeldOutPlaces`, *patch_size*
    px, one batch entry per place) with *views* views at dates of the held-out
    months, the same places and dates in every epoch. Tasks of this package score
    them by place recognition (:doc:`/user/evaluation`). Without *holdout* there is
    no validation split: :meth:`val_dataloader` and :meth:`test_dataloader` return
    no loaders.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        dataset_class: type[GeoDataset],
        batch_size: int = 32,
        patch_size: int | tuple[int, int] = 64,
        length: int | None = None,
        num_workers: int = 0,
        views: int = 2,
        min_gap: pd.Timedelta | str | None = None,
        max_gap: pd.Timedelta | str | None = None,
        distinct_periods: str | None = None,
        toi: pd.Interval | None = None,
        roi: Polygon | MultiPolygon | pathlib.Path | str | None = None,
        insufficient: Literal['skip', 'repeat', 'error'] = 'skip',
        max_nodata_fraction: float | None = None,
        nodata: float | None = None,
        redraws: int = 0,
        on_nodata: OnNodata = 'skip',
        on_read_error: OnReadError = 'raise',
        on_nonfinite: OnNonFinite = 'raise',
        on_unindexed: OnUnindexed = 'warn',
        geo_clusters: int | GeoClusters | None = None,
        mean: float | Sequence[float] = 0.0,
        std: float | Sequence[float] = 1.0,
        scale: float | Sequence[float] | None = None,
        seed: int | None = 0,
        holdout: HeldOutSplit | None = None,
        **kwargs: Any,
    ) -> None:
        """Initialize a new TemporalGeoDataModule instance.

        Args:
            dataset_class: Dataset class (any TorchGeo ``GeoDataset``) to instantiate
                with ``**kwargs``; it must index dated files.
            batch_size: Size of each mini-batch.
            patch_size: Size of each patch in pixels, ``size`` or ``(height, width)``.
            length: Number of samples per epoch, over all processes (defaults to
                TorchGeo's estimate of non-overlapping patches); locations that
                yield no sample (too few dates) are replaced by further draws.
            num_workers: Number of workers for parallel data loading.
            views: Number of acquisition times V per location.
            min_gap: Minimum time between any two views (e.g. ``'30D'``).
            max_gap: Maximum time between the earliest and latest view.
            distinct_periods: Pandas period alias (e.g. ``'Q'``): views fall in
                distinct periods, as SeCo's seasons do.
            toi: Time of interest to draw acquisitions from.
            roi: Region of interest to draw patches from: a (multi)polygon in the
                dataset's CRS, or the path of a vector file (GeoPackage,
                Shapefile, GeoJSON; ``roi: region.gpkg`` in a YAML config), whose
                polygons are united and reprojected to the dataset's CRS at setup
                (:func:`~torchgeo_geossl.datasets.read_region`).

                .. versionchanged:: 0.2
                   The path of a vector file.
            insufficient: What to do at a location with fewer than *views* dates:
                ``'skip'`` it, ``'repeat'`` dates (counted), or raise (``'error'``).
            max_nodata_fraction: Largest share of nodata pixels allowed in a view;
                views above it are replaced by one of *redraws* alternative draws.
            nodata: Nodata value of the images; None uses what TorchGeo uses: the
                dataset's ``nodata``, else the value declared by each file (see
                :class:`~torchgeo_geossl.datasets.TemporalViewsDataset`).

                .. versionadded:: 0.2
            redraws: Number of alternative draws per location for nodata rejection.
            on_nodata: When no draw of a location meets the nodata limit
                (*max_nodata_fraction*, or, when None, a valid pixel in every
                view): skip the sample (``'skip'``, the batch is smaller) or use the
                draw with the least nodata (``'best'``).
            on_read_error: When a file cannot be read (corrupt, truncated): raise
                (``'raise'``) or skip the view's draw with a warning (``'skip'``).
            on_nonfinite: When a view has NaN or infinite pixels: raise
                (``'raise'``) or treat them as nodata (``'nodata'``).
            on_unindexed: When files of the dataset could not be indexed (empty,
                truncated): warn naming them (``'warn'``) or raise (``'raise'``).

                .. versionadded:: 0.2
            geo_clusters: Number of geo-location clusters K to fit on the dataset's
                footprints at setup (GASSL's pretext target, added as ``label``), an
                already fitted :class:`~torchgeo_geossl.location.GeoClusters`, or
                None for no labels.
            mean: Per-band (or scalar) mean of the standardisation, in the raw
                units of the images; the task subtracts it after augmenting
                (:attr:`standardize`).
            std: Per-band (or scalar) standard deviation of the standardisation,
                in raw units.
            scale: Per-band (or scalar) raw value that maps to 1 for the
                augmentation: images are divided by it on device (10,000 for
                reflectance stored as digital numbers, 255 for 8-bit RGB). None:
                *std*, when *mean* is 0 (``std=10000`` then only rescales).
            seed: Seed of the samplers and of the k-means fit: the same seed gives
                the same batches; each epoch draws from the seed and the epoch
                number. None: fresh entropy in one process, the seed of
                ``seed_everything`` under DDP.
            holdout: Held-out locations and dates for the validation and test
                loaders (none by default).
            **kwargs: Keyword arguments passed to *dataset_class* (``paths``,
                ``bands``, ``res``, ``crs``, ...).

        Raises:
            ValueError: If *geo_clusters* is a negative number, *patch_size*,
                *batch_size*, *length*, *num_workers*, *views*, *redraws* or
                *max_nodata_fraction* is out of range (named in the message), or
                *mean*, *std* and *scale* are invalid (see
                :meth:`~torchgeo_geossl.datamodules.PretrainingMixin.configure_standardization`).

        .. versionchanged:: 0.2
           *scale*: images are rescaled on device, the task standardises after
           augmenting.
        """
        _check_patch_size('patch_size', patch_size)
        _check_count('batch_size', batch_size, 1)
        _check_count('length', length, 1)
        _check_count('num_workers', num_workers, 0)
        _check_count('views', views, 1)
        _check_count('redraws', redraws, 0)
        if max_nodata_fraction is not None and not 0 <= max_nodata_fraction <= 1:
            msg = f'max_nodata_fraction must be in [0, 1], got {max_nodata_fraction}'
            raise ValueError(msg)
        super().__init__(
            dataset_class, batch_size, patch_size, length, num_workers, **kwargs
        )
        if isinstance(geo_clusters, int) and geo_clusters < 0:
            msg = f'geo_clusters must be a positive number of clusters, a GeoClusters or None, got {geo_clusters}'
            raise ValueError(msg)
        self.views = views
        self.min_gap = min_gap
        self.max_gap = max_gap
        self.distinct_periods = distinct_periods
        self.toi = toi
        self.roi = roi
        self.insufficient = insufficient
        self.max_nodata_fraction = max_nodata_fraction
        self.nodata = nodata
        self.redraws = redraws
        self.on_nodata = on_nodata
        self.on_read_error = on_read_error
        self.on_nonfinite = on_nonfinite
        self.on_unindexed = on_unindexed
        self.collate_fn = stack_samples_skipping
        self.geo_clusters: GeoClusters | None = (
            geo_clusters if isinstance(geo_clusters, GeoClusters) else None
        )
        self.num_geo_clusters = (
            geo_clusters if isinstance(geo_clusters, int) and geo_clusters > 0 else 0
        )
        self.seed = seed
        self.holdout = holdout
        self.geo_dataset: GeoDataset | None = None
        self.configure_standardization(mean, std, scale)

    def setup(self, stage: str) -> None:
        """Build the dataset, geo-clusters, views wrapper and samplers.

        With *holdout*, 'fit' and 'validate' also build the validation set and
        'test' the test set (:meth:`held_out_loader`). 'predict' builds the grid of
        :meth:`predict_dataloader`.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.

        Raises:
            FileNotFoundError: If *roi* names a vector file that does not exist.
            ValueError: If the region of interest does not intersect the dataset or
                its file is not a usable region, files of the dataset have no CRS,
                or *stage* is 'validate' or 'test' without *holdout*.
        """
        if stage in ('validate', 'test') and self.holdout is None:
            msg = (
                f'{type(self).__name__} has no holdout, so there are no held-out '
                f'places to {stage} on: set holdout (data.init_args.holdout: '
                '{cell_size: ..., val_fraction: 0.2, test_fraction: 0.2}, a '
                'torchgeo_geossl.evaluation.HeldOutSplit)'
            )
            raise ValueError(msg)
        if self.geo_dataset is None:
            self.geo_dataset = self._build_dataset()
        if stage == 'predict':
            self._setup_predict(self.geo_dataset)
            return
        if self.holdout is not None:
            held_out: Split = 'test' if stage == 'test' else 'val'
            self.held_out_sets(held_out)
        if stage != 'fit':
            return
        dataset = self.geo_dataset
        requested = _resolve_roi(self.roi, dataset)
        roi: Polygon | MultiPolygon | None = requested
        if self.holdout is not None:
            dataset = self.holdout.dates(dataset, 'train')
            train = self.holdout.region(dataset, 'train')
            roi = (
                train
                if roi is None
                else cast(Polygon, shapely.intersection(train, roi))
            )
        if requested is not None:
            footprint = dataset.index.geometry.union_all()
            if not shapely.intersects(footprint, requested):
                msg = (
                    f'roi {requested.bounds} selects nothing: it does not intersect the '
                    f'footprints of {type(dataset).__name__} (bounds '
                    f'{footprint.bounds} in {dataset.crs.to_string()})'
                )
                raise ValueError(msg)

        spatial_seed, temporal_seed, cluster_seed = np.random.SeedSequence(
            self.seed
        ).generate_state(3)
        if self.geo_clusters is None and self.num_geo_clusters:
            self.geo_clusters = GeoClusters.from_dataset(
                dataset, num_clusters=self.num_geo_clusters, seed=int(cluster_seed)
            )
        transforms = (
            AddGeoClusterLabel(self.geo_clusters)
            if self.geo_clusters is not None
            else None
        )
        self.train_dataset = TemporalViewsDataset(
            dataset,
            transforms=transforms,
            max_nodata_fraction=self.max_nodata_fraction,
            nodata=self.nodata,
            on_nodata=self.on_nodata,
            on_read_error=self.on_read_error,
            on_nonfinite=self.on_nonfinite,
            on_unindexed=self.on_unindexed,
        )
        spatial = ScatteredPatchSampler(
            dataset,
            size=self.patch_size,
            length=self.length,
            roi=roi,
            generator=int(spatial_seed),
        )
        self.temporal_sampler = TemporalViewSampler(
            dataset,
            views=self.views,
            min_gap=self.min_gap,
            max_gap=self.max_gap,
            distinct_periods=self.distinct_periods,
            toi=self.toi,
            insufficient=self.insufficient,
            redraws=self.redraws,
            generator=int(temporal_seed),
        )
        self.train_sampler = spatial @ self.temporal_sampler

    def held_out_sets(self, split: Split) -> None:
        """Build the dataset and the places of a held-out split.

        Sets ``{split}_dataset`` (the views of the split's months) and
        ``{split}_places`` (:class:`~torchgeo_geossl.evaluation.HeldOutPlaces` of
        *patch_size* in the split's cells).

        Args:
            split: ``'val'`` or ``'test'``.

        Raises:
            ValueError: If the data module has no *holdout*, or the split selects no
                cell, no file or no place.
        """
        if self.holdout is None:
            msg = f'{type(self).__name__} has no holdout: there is no {split} split'
            raise ValueError(msg)
        if self.geo_dataset is None:
            self.geo_dataset = self._build_dataset()
        cells = self.holdout.cells(self.geo_dataset)[split]
        dataset = self.holdout.dates(self.geo_dataset, split)
        views = TemporalViewsDataset(
            dataset,
            on_nodata=self.on_nodata,
            on_read_error=self.on_read_error,
            on_nonfinite=self.on_nonfinite,
        )
        size = (
            self.patch_size[0]
            if isinstance(self.patch_size, tuple)
            else self.patch_size
        )
        setattr(self, f'{split}_dataset', views)
        setattr(self, f'{split}_places', HeldOutPlaces(dataset, cells, size=int(size)))
        setattr(self, f'{split}_views_dataset', dataset)

    def held_out_loader(self, split: Split) -> DataLoader[Sample]:
        """The loader of a held-out split: every place once, its views in order.

        Each place has *views* views, at least two (place recognition compares
        the views of a place), drawn afresh from *seed* at every call, so every
        epoch sees the same places at the same dates.

        .. versionchanged:: 0.2
           At least two views per place, also when *views* is 1.

        Args:
            split: ``'val'`` or ``'test'``.

        Returns:
            A loader of batches of the batch contract, one entry per place.
        """
        dataset = getattr(self, f'{split}_views_dataset')
        places: HeldOutPlaces = getattr(self, f'{split}_places')
        seed = np.random.SeedSequence(self.seed).spawn(2)[1 if split == 'test' else 0]
        temporal = TemporalViewSampler(
            dataset,
            # place recognition compares the views of each place: at least two
            views=max(self.views, 2),
            min_gap=self.min_gap,
            max_gap=self.max_gap,
            distinct_periods=self.distinct_periods,
            insufficient='skip',
            generator=seed,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', 'random_sampler @ sequential_sampler')
            sampler = _SameDatesEveryPass(places, temporal, seed)
        sampler._length = len(places)
        return DataLoader(
            getattr(self, f'{split}_dataset'),
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            persistent_workers=self.num_workers > 0,
        )

    def val_dataloader(self) -> Any:
        """The validation loader: held-out places at held-out dates.

        Returns:
            :meth:`held_out_loader` of ``'val'`` with *holdout*, else no loaders.
        """
        if self.holdout is None:
            return super().val_dataloader()
        return self.held_out_loader('val')

    def test_dataloader(self) -> Any:
        """The test loader: held-out places at held-out dates, apart from validation.

        Returns:
            :meth:`held_out_loader` of ``'test'`` with *holdout*, else no loaders.
        """
        if self.holdout is None:
            loaders: list[DataLoader[Sample]] = []
            return loaders
        return self.held_out_loader('test')

    def _setup_predict(self, dataset: GeoDataset) -> None:
        """Build the grid of locations and dates that :meth:`predict_dataloader` serves.

        Args:
            dataset: The whole dataset.
        """
        self.predict_views = TemporalViewsDataset(
            dataset,
            nodata=self.nodata,
            on_nodata=self.on_nodata,
            on_read_error=self.on_read_error,
            on_nonfinite=self.on_nonfinite,
            on_unindexed=self.on_unindexed,
        )
        self.predict_grid = FootprintGridSampler(
            dataset,
            size=self.patch_size,
            roi=_resolve_roi(self.roi, dataset),
            toi=self.toi,
        )
        if not len(self.predict_grid):
            msg = (
                f'no patch of patch_size={self.patch_size} px lies on any file of '
                f'{type(dataset).__name__} within roi and toi: nothing to predict; '
                'widen roi or toi, or lower patch_size'
            )
            raise ValueError(msg)

    def predict_dataloader(self) -> DataLoader[Sample]:
        """The predict loader: every location of a grid, at every date.

        A :class:`~torchgeo_geossl.samplers.FootprintGridSampler` over the whole dataset (training and
        held-out places and dates alike, within *roi* and *toi*): in each file,
        patches of *patch_size* side by side that lie wholly inside its footprint,
        each with the file's date, so a sample is one location at one date, one
        view (``image [B, 1, C, H, W]``). Samples without a valid pixel are left
        out (*on_nodata*).

        Returns:
            A loader of batches of the batch contract.

        .. versionadded:: 0.2
        """
        return DataLoader(
            self.predict_views,
            batch_size=self.batch_size,
            sampler=self.predict_grid,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            persistent_workers=self.num_workers > 0,
        )

    def _build_dataset(self) -> GeoDataset:
        """Instantiate *dataset_class*, explaining files without a CRS.

        Returns:
            The dataset.

        Raises:
            ValueError: If some of its files have no CRS (TorchGeo itself only says
                ``CRS is invalid: None``).
        """
        try:
            return cast(GeoDataset, self.dataset_class(**self.kwargs))
        except CRSError as err:
            paths = self.kwargs.get('paths', 'data')
            glob = getattr(self.dataset_class, 'filename_glob', '*')
            missing = _files_without_crs(paths, glob)
            listed = ', '.join(missing[:5]) + (' ...' if len(missing) > 5 else '')
            msg = (
                f'{self.dataset_class.__name__} could not be built from {paths}: '
                f'{len(missing)} file(s) have no CRS ({listed or "none found by glob"}'
                f'; rasterio says: {err}). Georeference them, for example with '
                '`gdal_edit.py -a_srs EPSG:<code> FILE`.'
            )
            raise ValueError(msg) from err


class _SameDatesEveryPass(SpatioTemporalSampler):
    """A held-out sampler that draws the same dates on every pass over its places.

    The temporal sampler's generator restarts from *seed* at each :meth:`__iter__`,
    so every validation epoch, and every encoder that a comparison runs over the
    same loader, sees the same views of the same places.
    """

    def __init__(
        self,
        places: HeldOutPlaces,
        temporal: TemporalViewSampler,
        seed: np.random.SeedSequence,
    ) -> None:
        """Initialize a new _SameDatesEveryPass instance.

        Args:
            places: The held-out places.
            temporal: The sampler of their dates.
            seed: Seed of the dates, the same on every pass.
        """
        super().__init__(places, temporal)
        self.temporal = temporal
        self.seed = seed

    def __iter__(self) -> Iterator[Any]:
        """Yield the queries of every place, with the dates drawn from *seed*.

        Yields:
            The queries of :class:`~torchgeo.samplers.SpatioTemporalSampler`.
        """
        self.temporal.generator = np.random.default_rng(self.seed)
        yield from super().__iter__()


def _files_without_crs(paths: Path | Iterable[Path], glob: str) -> list[str]:
    """Raster files under *paths* matching *glob* that have no CRS.

    Args:
        paths: Files or directories, as given to a TorchGeo RasterDataset.
        glob: The dataset's ``filename_glob``.

    Returns:
        Paths of the readable files without a CRS.
    """
    roots = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    missing = []
    for root in map(pathlib.Path, roots):
        for path in [root] if root.is_file() else sorted(root.rglob(glob)):
            try:
                with rasterio.open(path) as src:
                    if src.crs is None:
                        missing.append(str(path))
            except RasterioIOError:
                continue
    return missing

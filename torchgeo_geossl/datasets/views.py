"""Multi-time views of one location from any TorchGeo GeoDataset."""

import math
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, Literal, get_args

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import rasterio
import shapely
import torch
from geopandas import GeoDataFrame
from matplotlib.figure import Figure
from pyproj import CRS
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError
from torch import Tensor
from torchgeo.datasets import GeoDataset, RasterDataset, stack_samples
from torchgeo.datasets.errors import RGBBandsMissingError
from torchgeo.datasets.utils import GeoSlice, Sample

from ..faults import NonFiniteError, nonfinite_summary
from ..location.coordinates import query_center_lonlat
from ..samplers.query import ViewsQuery
from .bands import (
    BandCountError,
    _band_counts,
    _check_files_of_read,
    _dataset_files,
    check_band_counts,
)
from .indexing import OnUnindexed, check_file_crs, check_indexed_files

#: What to do with a view whose file cannot be read.
OnReadError = Literal['raise', 'skip']
#: What to do with NaN or infinite pixels that are not the nodata value.
OnNonFinite = Literal['raise', 'nodata']
#: What to do when no draw of a query meets the nodata limit.
OnNodata = Literal['best', 'skip']

#: Keys taken from view 0 only instead of being stacked over views.
_PER_QUERY_KEYS = ('bounds', 'transform')

#: Warning categories already emitted in this process (warn once per process).
_WARNED: set[str] = set()


class ViewReadError(OSError):
    """A view could not be read.

    Raised instead of rasterio/GDAL errors (unreadable or truncated files) by
    :class:`TemporalViewsDataset`, whose message names the query and the candidate
    files, and instead of PIL's decoding errors by
    :class:`~torchgeo_geossl.datasets.FMoW`, whose message names the image. The
    original error is chained as ``__cause__``.

    .. versionadded:: 0.1
    """


def timestamp_seconds(value: Any) -> float:
    """Seconds since the Unix epoch of a timestamp.

    Timezone-naive timestamps (TorchGeo's default) are treated as UTC.

    Args:
        value: Anything :class:`pandas.Timestamp` accepts (a ``pd.Timestamp``, a
            ``datetime.datetime``, an ISO string).

    Returns:
        Seconds since 1970-01-01T00:00:00Z as a float.

    .. versionadded:: 0.1
    """
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize('UTC')
    return float(ts.timestamp())


def _is_time_series(dataset: GeoDataset) -> bool:
    """Whether *dataset* stacks acquisitions along a leading time dimension.

    Args:
        dataset: A GeoDataset; IntersectionDataset/UnionDataset members are checked
            recursively and must all be time series.

    Returns:
        True if every sample tensor of *dataset* has a leading ``T`` dimension.
    """
    members = getattr(dataset, 'datasets', None)
    if isinstance(members, Sequence) and members:
        return all(isinstance(m, GeoDataset) and _is_time_series(m) for m in members)
    return bool(getattr(dataset, 'time_series', False))


def _candidate_files(dataset: GeoDataset, x: slice, y: slice, t: slice) -> list[str]:
    """Files of *dataset* that a query box and time slice may read.

    Args:
        dataset: A GeoDataset; IntersectionDataset/UnionDataset members are searched
            recursively.
        x: ``xmin:xmax`` of the query.
        y: ``ymin:ymax`` of the query.
        t: ``tmin:tmax`` of the query.

    Returns:
        Paths of the index rows whose footprint intersects the box and whose time
        interval overlaps *t* (every band file for ``separate_files`` datasets).
    """
    members = getattr(dataset, 'datasets', None)
    if isinstance(members, Sequence) and members:
        files = [
            f
            for m in members
            if isinstance(m, GeoDataset)
            for f in _candidate_files(m, x, y, t)
        ]
        return list(dict.fromkeys(files))
    index: GeoDataFrame = dataset.index
    if 'filepath' not in index.columns:
        return []
    box = shapely.box(x.start, y.start, x.stop, y.stop)
    rows = np.sort(index.sindex.query(box, predicate='intersects'))
    hits = index.iloc[rows]
    hits = hits.iloc[hits.index.overlaps(pd.Interval(t.start, t.stop))]
    files = [str(f) for f in hits['filepath']]
    if isinstance(dataset, RasterDataset) and dataset.separate_files:
        files = [dataset._update_filepath(b, f) for f in files for b in dataset.bands]
    return list(dict.fromkeys(files))


def _file_nodata(path: str) -> float | None:
    """Nodata value declared in a raster file's header.

    Args:
        path: Path of the file.

    Returns:
        The file's nodata value (of its first band, the one rasterio's merge fills
        with), or None if it declares none or cannot be opened (reading it then
        fails with a clear error of its own).
    """
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return _header_nodata(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=65536)
def _header_nodata(path: str, mtime_ns: int, size: int) -> float | None:
    """Read the nodata value of a file's header (cached per path and version).

    Args:
        path: Path of the file.
        mtime_ns: Its modification time, so that a rewritten file is read again.
        size: Its size in bytes, likewise.

    Returns:
        The nodata value, or None.
    """
    try:
        with rasterio.open(path) as src:
            value = src.nodata
    except (RasterioError, CPLE_BaseError, OSError):
        return None
    return None if value is None else float(value)


def _declared_nodata(
    dataset: GeoDataset, x: slice, y: slice, t: slice
) -> tuple[float, ...]:
    """Nodata values TorchGeo uses for the pixels of a query.

    TorchGeo fills and masks with ``dataset.nodata`` when it is set, else with the
    nodata value of each source file's header
    (:class:`~torchgeo.datasets.RasterDataset`).

    Args:
        dataset: A GeoDataset; IntersectionDataset/UnionDataset members are searched
            recursively.
        x: ``xmin:xmax`` of the query.
        y: ``ymin:ymax`` of the query.
        t: ``tmin:tmax`` of the query.

    Returns:
        The distinct nodata values of the dataset, or of the files the query
        reads; empty if none is declared.
    """
    members = getattr(dataset, 'datasets', None)
    if isinstance(members, Sequence) and members:
        values = [
            v
            for m in members
            if isinstance(m, GeoDataset)
            for v in _declared_nodata(m, x, y, t)
        ]
    elif (own := getattr(dataset, 'nodata', None)) is not None:
        values = [float(own)]
    else:
        values = [
            v
            for f in _candidate_files(dataset, x, y, t)
            if (v := _file_nodata(f)) is not None
        ]
    unique: list[float] = []
    for value in values:
        if not any(_same_value(value, u) for u in unique):
            unique.append(value)
    return tuple(unique)


def _same_value(a: float, b: float) -> bool:
    """Whether two nodata values are equal, NaN equal to NaN.

    Args:
        a: A value.
        b: Another value.

    Returns:
        ``a == b``, or both NaN.
    """
    return a == b or (math.isnan(a) and math.isnan(b))


def _expected_channels(dataset: GeoDataset) -> int | None:
    """Number of image bands every view of a single raster dataset must have.

    Args:
        dataset: The wrapped dataset.

    Returns:
        The number of selected bands, or the band count of the first file(s) of the
        index when the dataset reads every band; None for other datasets, datasets
        with transforms (which may add or drop bands) and unreadable files: the
        first view read sets the reference then.
    """
    if (
        not isinstance(dataset, RasterDataset)
        or not dataset.is_image
        or dataset.transforms is not None
    ):
        return None
    if not dataset.separate_files and dataset.band_indexes:
        return len(dataset.band_indexes)
    first = _dataset_files(dataset)[
        : len(dataset.bands) if dataset.separate_files else 1
    ]
    counts = _band_counts(first)
    return sum(counts.values()) if len(counts) == len(first) else None


def _check_choice(name: str, value: str, choices: Any) -> None:
    """Raise if an option is not one of its allowed values.

    Args:
        name: Name of the option.
        value: Its value.
        choices: The ``Literal`` type listing the allowed values.

    Raises:
        ValueError: If *value* is not allowed.
    """
    allowed = get_args(choices)
    if value not in allowed:
        raise ValueError(f'{name} must be one of {list(allowed)}, got {value!r}')


def _rgb_indices(dataset: Any, channels: int) -> list[int]:
    """Channels of a dataset's images shown as red, green and blue.

    Args:
        dataset: A dataset, possibly an IntersectionDataset/UnionDataset (whose
            first member with bands decides) or a wrapper with ``dataset``.
        channels: Number of channels of the images.

    Returns:
        The channels of the dataset's ``rgb_bands`` within its ``bands`` when it
        declares them for images of *channels* bands; else ``[0, 1, 2]`` for
        images of three or more bands and ``[0]`` (grey) for fewer.

    Raises:
        RGBBandsMissingError: If the dataset declares ``rgb_bands`` that its
            selected ``bands`` lack (TorchGeo's convention).
    """
    members = getattr(dataset, 'datasets', None)
    if isinstance(members, Sequence) and members:
        for member in members:
            if getattr(member, 'rgb_bands', None):
                return _rgb_indices(member, channels)
    inner = getattr(dataset, 'dataset', None)
    if inner is not None and not getattr(dataset, 'rgb_bands', None):
        return _rgb_indices(inner, channels)
    rgb = list(getattr(dataset, 'rgb_bands', None) or ())
    bands = list(getattr(dataset, 'bands', None) or ())
    if rgb and len(bands) == channels:
        if not set(rgb) <= set(bands):
            raise RGBBandsMissingError()
        return [bands.index(band) for band in rgb]
    return [0, 1, 2] if channels >= 3 else [0]


def plot_sample_views(
    sample: Sample,
    rgb: Sequence[int],
    nodata: float | None = None,
    show_titles: bool = True,
    suptitle: str | None = None,
) -> Figure:
    """Plot the views of one sample side by side, titled with their dates.

    Each panel is stretched on its own, from the 2nd to the 98th percentile of
    its valid values in the shown bands (pooled over them, which keeps the
    hues), so that a cloudy view does not darken the others and the same code
    shows raw digital numbers, reflectance and standardised images. Pixels that
    equal *nodata* in every shown band are black and left out of the stretch.

    Args:
        sample: A sample with ``image`` of shape ``[V, C, H, W]`` (one panel per
            view) or ``[C, H, W]`` (one panel); an optional ``time`` of V POSIX
            seconds titles the panels with dates (UTC).
        rgb: The channels shown as red, green and blue (three), or one channel
            shown in grey.
        nodata: Nodata value of the image, or None.
        show_titles: Flag indicating whether to show titles above each panel.
        suptitle: Optional string to use as a suptitle.

    Returns:
        A matplotlib Figure with one panel per view.

    Raises:
        ValueError: If the image is not ``[C, H, W]`` or ``[V, C, H, W]``, or
            *rgb* names channels it does not have.

    .. versionadded:: 0.2
    """
    image = sample['image'].detach().cpu()
    if image.ndim == 3:
        image = image.unsqueeze(0)
    if image.ndim != 4 or len(rgb) not in (1, 3) or max(rgb) >= image.shape[1]:
        msg = (
            f'image of shape {tuple(sample["image"].shape)} is neither [C, H, W] nor '
            f'[V, C, H, W] with the channels {list(rgb)} to show (three for RGB, '
            'one for grey)'
        )
        raise ValueError(msg)
    views = image[:, list(rgb)].permute(0, 2, 3, 1).double().numpy()
    stretched = np.zeros_like(views)
    for view, out in zip(views, stretched, strict=True):
        valid = (
            np.ones(view.shape[:2], dtype=bool)
            if nodata is None
            else (view != nodata).any(axis=-1)
        )
        valid &= np.isfinite(view).all(axis=-1)
        if valid.any():
            low, high = np.percentile(view[valid], (2, 98))
            out[valid] = np.clip((view[valid] - low) / max(high - low, 1e-6), 0, 1)

    count = len(views)
    titles = ['Image'] if count == 1 else [f'View {i + 1}' for i in range(count)]
    times = sample.get('time')
    if isinstance(times, Tensor) and times.numel() == count:
        titles = [
            f'{pd.Timestamp(float(t), unit="s"):%Y-%m-%d}' for t in times.flatten()
        ]
    fig, axs = plt.subplots(1, count, figsize=(4 * count, 4), squeeze=False)
    for ax, panel, title in zip(axs[0], stretched, titles, strict=True):
        ax.imshow(panel[..., 0] if panel.shape[-1] == 1 else panel, cmap='gray')
        ax.axis('off')
        if show_titles:
            ax.set_title(title)
    if suptitle is not None:
        fig.suptitle(suptitle)
    return fig


def stack_samples_skipping(samples: Iterable[Sample | None]) -> Sample:
    """Collate samples, leaving out those a TemporalViewsDataset skipped.

    :class:`TemporalViewsDataset` returns None for a sample it skips (an unreadable
    file with ``on_read_error='skip'``, too much nodata with ``on_nodata='skip'``);
    this collate function drops them and stacks the others with TorchGeo's
    :func:`~torchgeo.datasets.stack_samples`, so the batch is smaller. The batch
    gets a ``skipped`` entry, an int64 tensor of shape ``[B]`` (one entry per kept
    sample, like every other key, so that
    :func:`torchgeo.datasets.unbind_samples` splits the batch): ``skipped[i]``
    counts the samples dropped right before kept sample ``i`` in the loader's
    order, the last entry also those dropped after the last kept sample, so
    ``skipped.sum()`` is the number of samples left out of the batch. It reaches
    the main process even when the samples were read by DataLoader workers (whose
    :attr:`TemporalViewsDataset.stats` do not).

    Args:
        samples: Samples of one batch, None for skipped ones.

    Returns:
        The stacked batch with ``skipped``.

    Raises:
        ValueError: If every sample of the batch was skipped.

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       ``skipped`` has one entry per kept sample instead of being a 0-dim count.
    """
    samples = list(samples)
    kept = [sample for sample in samples if sample is not None]
    if not kept:
        raise ValueError(
            f'all {len(samples)} samples of a batch were skipped (unreadable files or '
            'views without enough valid pixels, see the warnings above and '
            'TemporalViewsDataset.stats): check the files of the dataset'
        )
    skipped = torch.zeros(len(kept), dtype=torch.int64)
    dropped = 0
    kept_so_far = 0
    for sample in samples:
        if sample is None:
            dropped += 1
            continue
        skipped[kept_so_far] = dropped
        kept_so_far += 1
        dropped = 0
    skipped[-1] += dropped
    batch = stack_samples(kept)
    batch['skipped'] = skipped
    return batch


class TemporalViewsDataset(GeoDataset):
    """V views of one location, read at V acquisition times from any GeoDataset.

    Wraps any TorchGeo :class:`~torchgeo.datasets.GeoDataset` (a RasterDataset, one
    with ``separate_files=True`` or ``time_series=True``, an IntersectionDataset,
    ...) and turns a :class:`~torchgeo_geossl.samplers.query.ViewsQuery` into a
    sample following the torchgeo-geossl batch contract:

    * ``image``: ``[V, C, H, W]`` float32, view ``i`` read with
      ``dataset[query.view(i)]``; other tensor keys such as ``mask`` are stacked over
      views in the same way;
    * ``point``: ``[2]`` float64 ``(lon, lat)`` degrees WGS84 of the query centre
      (midpoints of the x/y slices, converted with pyproj from ``dataset.crs``, not
      from the float32 ``bounds``);
    * ``time``: ``[V]`` float64 seconds since the Unix epoch of each view's time
      slice start (the left edge of the acquisition interval); timezone-naive
      timestamps are treated as UTC;
    * ``bounds`` and ``transform`` of view 0, as TorchGeo returns them.

    A plain TorchGeo ``GeoSlice`` ``(x, y, t)`` gives a sample with V = 1. Samples
    collate with :func:`torchgeo.datasets.stack_samples`, or with
    :func:`stack_samples_skipping` when samples may be skipped (see below).

    With a ``time_series=True`` dataset, each view's time slice must select exactly
    one acquisition (the stack ``[1, C, H, W]`` is squeezed); several acquisitions in
    one slice raise an error.

    Nodata: the nodata value is the one TorchGeo uses: *nodata* if given, else the
    wrapped dataset's ``nodata``, else the value declared in the header of each file
    a view reads (for example -9999 in Landsat surface reflectance); where the files
    declare none, no pixel is nodata. A draw in which some view has a larger share
    of nodata pixels (pixels where every band equals a nodata value) than
    *max_nodata_fraction*, or, when
    it is None, a view without any valid pixel, is replaced by the query's
    :attr:`~torchgeo_geossl.samplers.query.ViewsQuery.alternates`, tried in order;
    views already read in this call are reused. If no draw passes, *on_nodata*
    decides: ``'best'`` uses the draw with the lowest worst-view fraction (a
    :class:`UserWarning` once per process), ``'skip'`` skips the sample. Set
    ``max_nodata_fraction=1`` to accept views without any valid pixel.

    Faults, each counted in :attr:`stats` (per process, so per DataLoader worker):

    * a file that cannot be read (corrupt, truncated, deleted): *on_read_error*
      ``'raise'`` raises :class:`ViewReadError` naming the file; ``'skip'`` warns
      (once per file and process, with a running count), tries the alternate draws
      and skips the sample if none can be read;
    * NaN or infinite pixels (other than a NaN nodata value): *on_nonfinite*
      ``'raise'`` raises :class:`~torchgeo_geossl.faults.NonFiniteError` naming the
      view, bands and files; ``'nodata'`` treats them as nodata. Nodata pixels that
      are NaN are always replaced by 0, so samples are finite;
    * files with different numbers of bands: checked at construction (file headers,
      up to *band_check_max_files* files) and on every read, raising
      :class:`~torchgeo_geossl.datasets.BandCountError` naming the files.

    A skipped sample is returned as None: collate with
    :func:`stack_samples_skipping`, which drops it and counts it in the batch's
    ``skipped`` (the data modules of this package do).

    Samplers can be built on this wrapper or on the wrapped dataset: ``index``,
    ``crs`` and ``res`` are those of the wrapped dataset.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        transforms: Callable[[Sample], Sample] | None = None,
        max_nodata_fraction: float | None = None,
        nodata: float | None = None,
        on_nodata: OnNodata = 'best',
        on_read_error: OnReadError = 'raise',
        on_nonfinite: OnNonFinite = 'raise',
        band_check_max_files: int | None = 1000,
        on_unindexed: OnUnindexed = 'warn',
    ) -> None:
        """Initialize a new TemporalViewsDataset instance.

        Args:
            dataset: The GeoDataset to read views from.
            transforms: A function/transform applied to each final sample (for
                example :class:`~torchgeo_geossl.location.AddGeoClusterLabel`).
            max_nodata_fraction: Largest accepted share of nodata pixels per view, in
                ``[0, 1]``; None only rejects views without any valid pixel.
            nodata: Nodata value of the ``image`` pixels. None (the default) uses
                what TorchGeo uses for each view: the wrapped dataset's ``nodata``
                when it is set, else the nodata value declared in the header of
                each file the view reads (no pixel is nodata when the files
                declare none).
            on_nodata: When no draw of a query meets the nodata limit, use the draw
                with the least nodata (``'best'``) or skip the sample (``'skip'``).
            on_read_error: When a file cannot be read, raise :class:`ViewReadError`
                (``'raise'``) or skip the view's draw (``'skip'``).
            on_nonfinite: When a view has NaN or infinite pixels that are not
                nodata, raise :class:`~torchgeo_geossl.faults.NonFiniteError`
                (``'raise'``) or treat them as nodata (``'nodata'``).
            band_check_max_files: Check the band count and CRS of every file at
                construction when the wrapped raster dataset(s) have at most this
                many files (None: always; 0: never); reads are checked regardless.
            on_unindexed: Files that match the dataset's file pattern but that
                TorchGeo left out of its index (empty, truncated, not a raster):
                one warning naming them with their count (``'warn'``) or an
                :class:`~torchgeo_geossl.datasets.UnindexedFilesError`
                (``'raise'``).

                .. versionadded:: 0.2

        Raises:
            TypeError: If *dataset* is not a GeoDataset.
            ValueError: If *dataset* has no CRS, *max_nodata_fraction* is not in
                ``[0, 1]``, or an ``on_*`` option has an unknown value.
            BandCountError: If files of the dataset have different band counts.
            MissingCRSError: If some files have a CRS and others have none.
            UnindexedFilesError: If files could not be indexed and
                ``on_unindexed='raise'``.
        """
        if not isinstance(dataset, GeoDataset):
            raise TypeError(
                'TemporalViewsDataset wraps a torchgeo GeoDataset, got '
                f'{type(dataset).__name__}'
            )
        name = type(dataset).__name__
        try:
            crs = dataset.crs
        except Exception as err:
            raise ValueError(
                f'{name} has no usable CRS ({type(err).__name__}: {err}); '
                'TemporalViewsDataset needs a CRS to compute the longitude/latitude '
                'of each sample'
            ) from err
        if crs is None:
            raise ValueError(
                f'{name} has no CRS (dataset.crs is None; are its files '
                'georeferenced?); TemporalViewsDataset needs a CRS to compute the '
                'longitude/latitude of each sample'
            )
        if max_nodata_fraction is not None and not 0 <= max_nodata_fraction <= 1:
            raise ValueError(
                f'max_nodata_fraction must be in [0, 1], got {max_nodata_fraction}'
            )
        _check_choice('on_nodata', on_nodata, OnNodata)
        _check_choice('on_read_error', on_read_error, OnReadError)
        _check_choice('on_nonfinite', on_nonfinite, OnNonFinite)
        if nodata is None:
            nodata = getattr(dataset, 'nodata', None)
        check_band_counts(dataset, max_files=band_check_max_files)
        check_file_crs(dataset, max_files=band_check_max_files)
        #: ``{path: reason}`` of the files TorchGeo could not index.
        self.unindexed = check_indexed_files(dataset, on_unindexed)
        self.dataset = dataset
        self.transforms = transforms
        self.max_nodata_fraction = max_nodata_fraction
        #: Nodata value of the ``image`` views (the caller's, else the wrapped
        #: dataset's ``nodata``); None: the values declared by the files each view
        #: reads, as TorchGeo uses them.
        self.nodata = None if nodata is None else float(nodata)
        self.on_nodata = on_nodata
        self.on_read_error = on_read_error
        self.on_nonfinite = on_nonfinite
        #: ``redrawn``: samples served from an alternate draw because a view of the
        #: first draw had too much nodata or could not be read; ``nodata_exceeded``:
        #: samples for which no draw met the nodata limit; ``read_errors``: views
        #: whose files could not be read (``on_read_error='skip'``); ``nonfinite``:
        #: views whose NaN/infinite pixels became nodata (``on_nonfinite='nodata'``);
        #: ``skipped``: samples returned as None.
        self.stats: dict[str, int] = {
            'redrawn': 0,
            'nodata_exceeded': 0,
            'read_errors': 0,
            'nonfinite': 0,
            'skipped': 0,
        }
        self._time_series = _is_time_series(dataset)
        self._channels = _expected_channels(dataset)
        self._unreadable: set[tuple[str, ...]] = set()

    @property
    def index(self) -> GeoDataFrame:
        """Index of the wrapped dataset.

        Returns:
            ``dataset.index``.
        """
        return self.dataset.index

    @index.setter
    def index(self, new_index: GeoDataFrame) -> None:
        """Replace the index of the wrapped dataset.

        Args:
            new_index: The new index.
        """
        self.dataset.index = new_index

    @property
    def crs(self) -> CRS:
        """CRS of the wrapped dataset.

        Returns:
            ``dataset.crs``.
        """
        return self.dataset.crs

    @crs.setter
    def crs(self, new_crs: CRS) -> None:
        """Change the CRS of the wrapped dataset.

        Args:
            new_crs: The new CRS.
        """
        self.dataset.crs = new_crs

    @property
    def res(self) -> tuple[float, float]:
        """Resolution of the wrapped dataset.

        Returns:
            ``dataset.res``.
        """
        return self.dataset.res

    @res.setter
    def res(self, new_res: float | tuple[float, float]) -> None:
        """Change the resolution of the wrapped dataset.

        Args:
            new_res: The new resolution.
        """
        self.dataset.res = new_res

    def __str__(self) -> str:
        """Return the informal string representation of the object.

        Returns:
            Informal string representation.
        """
        return (
            f'{type(self).__name__} Dataset\n'
            f'    type: GeoDataset\n'
            f'    wraps: {type(self.dataset).__name__}\n'
            f'    bbox: {self.bounds}\n'
            f'    size: {len(self)}'
        )

    def __getitem__(  # type: ignore[override]
        self, query: ViewsQuery | GeoSlice
    ) -> Sample | None:
        """Read the views of *query* into one sample.

        Args:
            query: A :class:`~torchgeo_geossl.samplers.query.ViewsQuery` (V views) or a
                TorchGeo ``GeoSlice`` (one view).

        Returns:
            A sample following the batch contract (see the class docstring), or None
            if the sample is skipped (only with ``on_read_error='skip'`` or
            ``on_nodata='skip'``).

        Raises:
            IndexError: If a view is not found in the wrapped dataset.
            ValueError: If the query has no views or draws of different lengths, or a
                view's time slice matches several acquisitions of a time-series
                dataset.
            ViewReadError: If a file of a view cannot be read.
            NonFiniteError: If a view has NaN or infinite pixels.
            BandCountError: If a view's files have another number of bands than
                the dataset's other files.
        """
        if isinstance(query, ViewsQuery):
            x, y = query.x, query.y
            if None in (x.start, x.stop, y.start, y.stop):
                x, y, _ = self._disambiguate_slice((x, y))
            draws = [tuple(query.t), *(tuple(a) for a in query.alternates)]
            if not draws[0]:
                raise ValueError(f'ViewsQuery has no time slices (t is empty): {query}')
            lengths = {len(d) for d in draws}
            if len(lengths) > 1:
                raise ValueError(
                    f'ViewsQuery alternates must have as many views as t '
                    f'({len(draws[0])}), got lengths {sorted(lengths)}: {query}'
                )
        else:
            x, y, t = self._complete(query)
            draws = [(t,)]

        cache: dict[tuple[Any, Any, Any], tuple[Sample, float] | None] = {}
        chosen: list[Sample] | None = None
        chosen_draw = draws[0]
        best: tuple[float, tuple[slice, ...], list[Sample]] | None = None
        for k, draw in enumerate(draws):
            read = []
            for i, t in enumerate(draw):
                view = self._read_view(x, y, t, i, query, cache)
                if view is None:
                    break
                read.append(view)
            else:
                views = [view for view, _ in read]
                worst = max(frac for _, frac in read)
                if self._meets_nodata_limit(worst):
                    chosen, chosen_draw = views, draw
                    if k > 0:
                        self.stats['redrawn'] += 1
                    break
                if best is None or worst < best[0]:
                    best = (worst, draw, views)
        if chosen is None:
            if best is None:
                # every draw has a view that could not be read (on_read_error='skip')
                self.stats['skipped'] += 1
                return None
            worst, chosen_draw, chosen = best
            self.stats['nodata_exceeded'] += 1
            self._warn_nodata(query, len(draws), worst)
            if self.on_nodata == 'skip':
                self.stats['skipped'] += 1
                return None

        sample = self._stack(chosen)
        lon, lat = query_center_lonlat(x, y, self.crs)
        sample['point'] = torch.tensor([lon, lat], dtype=torch.float64)
        sample['time'] = torch.tensor(
            [timestamp_seconds(t.start) for t in chosen_draw], dtype=torch.float64
        )
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _meets_nodata_limit(self, fraction: float) -> bool:
        """Whether a draw whose worst view has *fraction* nodata is accepted.

        Args:
            fraction: Largest nodata fraction over the views of a draw.

        Returns:
            ``fraction <= max_nodata_fraction``, or, when it is None, whether every
            view has a valid pixel.
        """
        if self.max_nodata_fraction is None:
            return fraction < 1
        return fraction <= self.max_nodata_fraction

    def _warn_nodata(
        self, query: ViewsQuery | GeoSlice, draws: int, worst: float
    ) -> None:
        """Warn (once per process) that no draw of a query met the nodata limit.

        Args:
            query: The query.
            draws: Number of draws tried.
            worst: Worst-view nodata fraction of the best draw.
        """
        category = f'nodata:{self.on_nodata}'
        if category in _WARNED:
            return
        _WARNED.add(category)
        limit = (
            'at least one valid pixel'
            if self.max_nodata_fraction is None
            else f'a nodata fraction <= {self.max_nodata_fraction}'
        )
        outcome = (
            'skipping the sample'
            if self.on_nodata == 'skip'
            else f'using the draw whose worst view has {worst:.3f}'
        )
        warnings.warn(
            f'No draw of {draws} for query {query} has all views with {limit} '
            f"(the best draw's worst view has {worst:.3f}); {outcome} "
            f'(on_nodata={self.on_nodata!r}). Further cases are only counted in '
            "TemporalViewsDataset.stats['nodata_exceeded'] (this warning is shown "
            'once per process).',
            UserWarning,
            stacklevel=3,
        )

    def _complete(self, query: GeoSlice) -> tuple[slice, slice, slice]:
        """Fill missing bounds of *query* from the dataset bounds.

        Args:
            query: A TorchGeo GeoSlice, possibly partial.

        Returns:
            ``(x, y, t)`` slices; *query* itself when it is already complete.
        """
        if (
            isinstance(query, tuple)
            and len(query) == 3
            and all(s.start is not None and s.stop is not None for s in query)
        ):
            return query
        return self._disambiguate_slice(query)

    def _read_view(
        self,
        x: slice,
        y: slice,
        t: slice,
        i: int,
        query: ViewsQuery | GeoSlice,
        cache: dict[tuple[Any, Any, Any], tuple[Sample, float] | None],
    ) -> tuple[Sample, float] | None:
        """Read one view (or reuse it from *cache*), check it, and measure its nodata.

        Args:
            x: ``xmin:xmax`` of the query.
            y: ``ymin:ymax`` of the query.
            t: Time slice of the view.
            i: Index of the view (for messages).
            query: The full query (for messages).
            cache: Views already read in this call, keyed by time slice; None for
                views that could not be read.

        Returns:
            The view sample (time dimension squeezed, non-finite pixels replaced) and
            its nodata fraction, or None if its files cannot be read and
            ``on_read_error='skip'``.

        Raises:
            ViewReadError: If rasterio/GDAL fails to read a file and
                ``on_read_error='raise'``.
            BandCountError: If the view's files have the wrong number of bands.
            NonFiniteError: If the view has NaN or infinite pixels and
                ``on_nonfinite='raise'``.
        """
        key = (t.start, t.stop, t.step)
        if key in cache:
            return cache[key]
        x, y, t = self._complete((x, y, t))
        try:
            raw = self.dataset[x, y, t]
        except (RasterioError, CPLE_BaseError, IndexError) as err:
            files = _candidate_files(self.dataset, x, y, t)
            try:
                _check_files_of_read(self.dataset, files)
            except BandCountError as bad:
                raise bad from err
            if isinstance(err, IndexError):
                raise
            message = (
                f'Could not read view {i} ({x}, {y}, {t}) of query {query} from '
                f'{type(self.dataset).__name__} ({type(err).__name__}: {err}); '
                f'candidate file(s) for this view: {files}'
            )
            if self.on_read_error == 'raise':
                raise ViewReadError(message) from err
            self.stats['read_errors'] += 1
            if tuple(files) not in self._unreadable:
                self._unreadable.add(tuple(files))
                warnings.warn(
                    f"{message}. Skipping it (on_read_error='skip'): "
                    f'{self.stats["read_errors"]} unreadable view(s) so far in this '
                    f'process (pid {os.getpid()}); further failures of these files '
                    "are only counted (TemporalViewsDataset.stats['read_errors'], "
                    "the batch's 'skipped').",
                    UserWarning,
                    stacklevel=3,
                )
            cache[key] = None
            return None
        view = self._squeeze_time(raw, i, t)
        self._check_bands(view, x, y, t, i)
        cache[key] = self._clean(view, x, y, t, i, query)
        return cache[key]

    def _check_bands(self, view: Sample, x: slice, y: slice, t: slice, i: int) -> None:
        """Raise if a view's image has another number of bands than expected.

        Args:
            view: One view (``image`` of shape ``[C, H, W]``).
            x: ``xmin:xmax`` of the query.
            y: ``ymin:ymax`` of the query.
            t: Time slice of the view.
            i: Index of the view (for messages).

        Raises:
            BandCountError: If the image has another number of bands than the
                dataset's files (or, for datasets that are not a single
                RasterDataset, than the first view read in this process).
        """
        image = view.get('image')
        if not isinstance(image, Tensor) or image.ndim < 3:
            return
        channels = int(image.shape[-3])
        if self._channels is None:
            self._channels = channels
        if channels == self._channels:
            return
        files = _candidate_files(self.dataset, x, y, t)
        _check_files_of_read(self.dataset, files)
        msg = (
            f'view {i} ({x}, {y}, {t}) of {type(self.dataset).__name__} has '
            f'{channels} bands, other views have {self._channels}; its file(s): '
            f'{files}. All files of a dataset must have the same bands.'
        )
        raise BandCountError(msg)

    def _clean(
        self,
        view: Sample,
        x: slice,
        y: slice,
        t: slice,
        i: int,
        query: ViewsQuery | GeoSlice,
    ) -> tuple[Sample, float]:
        """Replace non-finite pixels of a view and measure its nodata fraction.

        Args:
            view: One view (``image`` of shape ``[C, H, W]``).
            x: ``xmin:xmax`` of the query.
            y: ``ymin:ymax`` of the query.
            t: Time slice of the view.
            i: Index of the view (for messages).
            query: The full query (for messages).

        Returns:
            The view, whose NaN nodata pixels (and, with ``on_nonfinite='nodata'``,
            other non-finite pixels) are replaced by the finite nodata value (0 when
            there is none), and the share of its pixels that are nodata in every
            band (a pixel is nodata in a band when it equals one of the nodata
            values of the view, see :func:`_declared_nodata`).

        Raises:
            KeyError: If the view has no ``image`` but *max_nodata_fraction* is set.
            NonFiniteError: If the image has non-finite pixels that are not nodata
                and ``on_nonfinite='raise'``.
        """
        image = view.get('image')
        if not isinstance(image, Tensor):
            if self.max_nodata_fraction is not None:
                raise KeyError(
                    'max_nodata_fraction needs an image, but '
                    f'{type(self.dataset).__name__} returned only keys {sorted(view)}'
                )
            return view, 0.0
        values = (
            (self.nodata,)
            if self.nodata is not None
            else _declared_nodata(self.dataset, x, y, t)
        )
        is_nodata = torch.zeros_like(image, dtype=torch.bool)
        for value in values:
            is_nodata |= torch.isnan(image) if math.isnan(value) else image == value
        if image.is_floating_point():
            nonfinite = ~torch.isfinite(image)
            faults = nonfinite & ~is_nodata
            if bool(faults.any()):
                self._nonfinite(image, faults, values, x, y, t, i, query)
            if bool(nonfinite.any()):
                is_nodata = is_nodata | nonfinite
                finite = [v for v in values if math.isfinite(v)]
                fill = finite[0] if finite else 0.0
                view = {**view, 'image': image.masked_fill(nonfinite, fill)}
        if is_nodata.ndim >= 3:
            is_nodata = is_nodata.all(dim=-3)
        if is_nodata.numel() == 0:
            return view, 1.0
        return view, float(is_nodata.float().mean())

    def _nonfinite(
        self,
        image: Tensor,
        faults: Tensor,
        values: tuple[float, ...],
        x: slice,
        y: slice,
        t: slice,
        i: int,
        query: ViewsQuery | GeoSlice,
    ) -> None:
        """Raise or count NaN/infinite pixels that are not nodata.

        Args:
            image: The view's image ``[C, H, W]``.
            faults: Where it is non-finite but not nodata.
            values: The nodata values of the view.
            x: ``xmin:xmax`` of the query.
            y: ``ymin:ymax`` of the query.
            t: Time slice of the view.
            i: Index of the view (for messages).
            query: The full query (for messages).

        Raises:
            NonFiniteError: If ``on_nonfinite='raise'``.
        """
        files = _candidate_files(self.dataset, x, y, t)
        where = (
            f'view {i} ({x}, {y}, {t}) of query {query}, read from {files}: '
            f'{nonfinite_summary(image.masked_fill(~faults, 0))}'
        )
        if self.on_nonfinite == 'raise':
            msg = (
                f'NaN or infinite pixels in {where}. The nodata value(s): '
                f"{list(values) or 'none declared'}; fix the files, set the dataset's nodata (for example "
                "nodata=float('nan')), or pass on_nonfinite='nodata' to treat them as "
                'nodata.'
            )
            raise NonFiniteError(msg)
        self.stats['nonfinite'] += 1
        if 'nonfinite' not in _WARNED:
            _WARNED.add('nonfinite')
            warnings.warn(
                f'NaN or infinite pixels in {where}; treated as nodata (on_nonfinite='
                "'nodata'). Further cases are only counted in "
                "TemporalViewsDataset.stats['nonfinite'] (this warning is shown once "
                'per process).',
                UserWarning,
                stacklevel=4,
            )

    def _squeeze_time(self, raw: Sample, i: int, t: slice) -> Sample:
        """Remove the time dimension of a time-series view.

        ``image`` of shape ``[T, C, H, W]`` is squeezed, as is the leading dimension of
        every other tensor when the wrapped dataset is a time series.

        Args:
            raw: Sample returned by the wrapped dataset for one view.
            i: Index of the view (for messages).
            t: Time slice of the view (for messages).

        Returns:
            The sample without time dimension.

        Raises:
            ValueError: If the time slice matched more than one acquisition.
        """
        out: Sample = {}
        for key, value in raw.items():
            if key in _PER_QUERY_KEYS or not isinstance(value, Tensor):
                out[key] = value
                continue
            stacked = value.ndim == 4 if key == 'image' else self._time_series
            if stacked:
                if value.shape[0] != 1:
                    raise ValueError(
                        f'The time slice {t} of view {i} matched {value.shape[0]} '
                        'acquisitions '
                        f'of the time-series {type(self.dataset).__name__} ({key!r} '
                        f'has shape {list(value.shape)}); each view must select '
                        'exactly one acquisition: narrow the time slice to one '
                        'acquisition interval of dataset.index'
                    )
                value = value[0]
            out[key] = value
        return out

    def _stack(self, views: list[Sample]) -> Sample:
        """Stack views into one sample.

        Args:
            views: The V view samples.

        Returns:
            Tensors stacked along a new view dimension, ``bounds``/``transform`` (and
            non-tensor values) of view 0.

        Raises:
            ValueError: If the views have different keys or shapes.
        """
        first = views[0]
        sample: Sample = {}
        for key, value in first.items():
            if key in _PER_QUERY_KEYS or not isinstance(value, Tensor):
                sample[key] = value
                continue
            if any(key not in v for v in views):
                raise ValueError(f'Key {key!r} is missing from some views')
            shapes = [tuple(v[key].shape) for v in views]
            if len(set(shapes)) > 1:
                raise ValueError(
                    f'Views of one query have different {key!r} shapes {shapes}; '
                    'all views must share the grid of the query'
                )
            sample[key] = torch.stack([v[key] for v in views])
        return sample

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Plot the views of a sample side by side, titled with their dates.

        Red, green and blue are the wrapped dataset's ``rgb_bands`` among its
        ``bands`` (for example B04, B03, B02 of TorchGeo's ``Sentinel2``); a
        dataset that declares no ``rgb_bands`` shows its first three bands, or
        its first band in grey if it has fewer. Each view is stretched on its
        own from the 2nd to the 98th percentile of its valid values (see
        :func:`plot_sample_views`), so the plot works on raw samples and on batches
        already rescaled or standardised; nodata pixels are black.

        Args:
            sample: A sample returned by :meth:`__getitem__` (``image`` of shape
                ``[V, C, H, W]``, ``time`` of V seconds), or one sample of a batch
                (:func:`torchgeo.datasets.unbind_samples`).
            show_titles: Flag indicating whether to show the date above each view.
            suptitle: Optional string to use as a suptitle.

        Returns:
            A matplotlib Figure with one panel per view.

        Raises:
            RGBBandsMissingError: If the wrapped dataset declares ``rgb_bands``
                that its selected ``bands`` lack.
            ValueError: If the image is not ``[V, C, H, W]`` or ``[C, H, W]``.

        .. versionadded:: 0.2
        """
        image = sample['image']
        rgb = _rgb_indices(self.dataset, int(image.shape[-3]))
        return plot_sample_views(sample, rgb, self.nodata, show_titles, suptitle)

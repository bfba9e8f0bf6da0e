"""Multi-time views of one location from any TorchGeo GeoDataset."""

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely
import torch
from geopandas import GeoDataFrame
from pyproj import CRS
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError
from torch import Tensor
from torchgeo.datasets import GeoDataset, RasterDataset
from torchgeo.datasets.utils import GeoSlice, Sample

from ..location.coordinates import query_center_lonlat
from ..samplers.query import ViewsQuery

#: Keys taken from view 0 only instead of being stacked over views.
_PER_QUERY_KEYS = ('bounds', 'transform')

#: Warning categories already emitted in this process (warn once per process).
_WARNED: set[str] = set()


class ViewReadError(OSError):
    """A view of a :class:`TemporalViewsDataset` query could not be read.

    Raised instead of rasterio/GDAL errors (unreadable or truncated files); the
    message names the query and the candidate files, and the original error is
    chained as ``__cause__``.

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
    collate with :func:`torchgeo.datasets.stack_samples`.

    With a ``time_series=True`` dataset, each view's time slice must select exactly
    one acquisition (the stack ``[1, C, H, W]`` is squeezed); several acquisitions in
    one slice raise an error.

    If *max_nodata_fraction* is set, a draw in which some view has a larger share of
    nodata pixels (pixels where every band equals the nodata value) is replaced by
    the query's :attr:`~torchgeo_geossl.samplers.query.ViewsQuery.alternates`, tried
    in order; views already read in this call are reused. If no draw passes, the one
    with the lowest worst-view fraction is used and a :class:`UserWarning` is
    emitted once per process. :attr:`stats` counts both cases (per process, so per
    DataLoader worker).

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
    ) -> None:
        """Initialize a new TemporalViewsDataset instance.

        Args:
            dataset: The GeoDataset to read views from.
            transforms: A function/transform applied to each final sample (for
                example :class:`~torchgeo_geossl.location.AddGeoClusterLabel`).
            max_nodata_fraction: Largest accepted share of nodata pixels per view, in
                ``[0, 1]``; None disables nodata checks and redraws.
            nodata: Nodata value of the ``image`` pixels; defaults to the wrapped
                dataset's ``nodata`` attribute when it is not None, else 0.

        Raises:
            TypeError: If *dataset* is not a GeoDataset.
            ValueError: If *dataset* has no CRS, or *max_nodata_fraction* is not in
                ``[0, 1]``.
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
        if nodata is None:
            nodata = getattr(dataset, 'nodata', None)
        self.dataset = dataset
        self.transforms = transforms
        self.max_nodata_fraction = max_nodata_fraction
        #: Nodata value used for the nodata fraction of the ``image`` views.
        self.nodata = 0.0 if nodata is None else float(nodata)
        #: ``redrawn``: samples served from an alternate draw because a view of the
        #: first draw had too much nodata; ``nodata_exceeded``: samples for which no
        #: draw passed and the lowest-nodata draw was used.
        self.stats: dict[str, int] = {'redrawn': 0, 'nodata_exceeded': 0}
        self._time_series = _is_time_series(dataset)

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

    def __getitem__(self, query: ViewsQuery | GeoSlice) -> Sample:
        """Read the views of *query* into one sample.

        Args:
            query: A :class:`~torchgeo_geossl.samplers.query.ViewsQuery` (V views) or a
                TorchGeo ``GeoSlice`` (one view).

        Returns:
            A sample following the batch contract (see the class docstring).

        Raises:
            IndexError: If a view is not found in the wrapped dataset.
            ValueError: If the query has no views or draws of different lengths, or a
                view's time slice matches several acquisitions of a time-series
                dataset.
            ViewReadError: If a file of a view cannot be read.
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

        cache: dict[tuple[Any, Any, Any], tuple[Sample, float]] = {}
        chosen: list[Sample] | None = None
        chosen_draw = draws[0]
        best: tuple[float, tuple[slice, ...], list[Sample]] | None = None
        for k, draw in enumerate(draws):
            read = [
                self._read_view(x, y, t, i, query, cache) for i, t in enumerate(draw)
            ]
            views = [view for view, _ in read]
            if self.max_nodata_fraction is None:
                chosen, chosen_draw = views, draw
                break
            worst = max(frac for _, frac in read)
            if worst <= self.max_nodata_fraction:
                chosen, chosen_draw = views, draw
                if k > 0:
                    self.stats['redrawn'] += 1
                break
            if best is None or worst < best[0]:
                best = (worst, draw, views)
        if chosen is None:
            assert best is not None
            worst, chosen_draw, chosen = best
            self.stats['nodata_exceeded'] += 1
            if 'nodata' not in _WARNED:
                _WARNED.add('nodata')
                warnings.warn(
                    f'No draw of {len(draws)} for query {query} has all views with a '
                    f'nodata fraction <= {self.max_nodata_fraction}; using the draw '
                    f'whose worst view has {worst:.3f}. Further cases are only '
                    "counted in TemporalViewsDataset.stats['nodata_exceeded'] (this "
                    'warning is shown once per process).',
                    UserWarning,
                    stacklevel=2,
                )

        sample = self._stack(chosen)
        lon, lat = query_center_lonlat(x, y, self.crs)
        sample['point'] = torch.tensor([lon, lat], dtype=torch.float64)
        sample['time'] = torch.tensor(
            [timestamp_seconds(t.start) for t in chosen_draw], dtype=torch.float64
        )
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

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
        cache: dict[tuple[Any, Any, Any], tuple[Sample, float]],
    ) -> tuple[Sample, float]:
        """Read one view (or reuse it from *cache*) and its nodata fraction.

        Args:
            x: ``xmin:xmax`` of the query.
            y: ``ymin:ymax`` of the query.
            t: Time slice of the view.
            i: Index of the view (for messages).
            query: The full query (for messages).
            cache: Views already read in this call, keyed by time slice.

        Returns:
            The view sample (time dimension squeezed) and its nodata fraction (0 when
            nodata checks are disabled).

        Raises:
            ViewReadError: If rasterio/GDAL fails to read a file.
        """
        key = (t.start, t.stop, t.step)
        if key in cache:
            return cache[key]
        x, y, t = self._complete((x, y, t))
        try:
            raw = self.dataset[x, y, t]
        except (RasterioError, CPLE_BaseError) as err:
            files = _candidate_files(self.dataset, x, y, t)
            raise ViewReadError(
                f'Could not read view {i} ({x}, {y}, {t}) of query {query} from '
                f'{type(self.dataset).__name__} ({type(err).__name__}: {err}); '
                f'candidate file(s) for this view: {files}'
            ) from err
        view = self._squeeze_time(raw, i, t)
        frac = 0.0
        if self.max_nodata_fraction is not None:
            frac = self._nodata_fraction(view)
        cache[key] = (view, frac)
        return cache[key]

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

    def _nodata_fraction(self, view: Sample) -> float:
        """Share of pixels of a view's ``image`` that are nodata in every band.

        Args:
            view: One view (``image`` of shape ``[C, H, W]``).

        Returns:
            The nodata fraction in ``[0, 1]``.

        Raises:
            KeyError: If the view has no ``image``.
        """
        if 'image' not in view:
            raise KeyError(
                f'max_nodata_fraction needs an image, but {type(self.dataset).__name__} '
                f'returned only keys {sorted(view)}'
            )
        image = view['image']
        if math.isnan(self.nodata):
            is_nodata = torch.isnan(image)
        else:
            is_nodata = image == self.nodata
        if is_nodata.ndim >= 3:
            is_nodata = is_nodata.all(dim=-3)
        if is_nodata.numel() == 0:
            return 1.0
        return float(is_nodata.float().mean())

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

"""Temporal-view sampler: the same patch at V distinct acquisition times."""

import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Literal, NoReturn

import numpy as np
import pandas as pd
import shapely
from numpy.random import BitGenerator, Generator, RandomState, SeedSequence
from numpy.typing import NDArray
from torchgeo.datasets import GeoDataset
from torchgeo.samplers import TemporalSampler

from .query import ViewsQuery

#: The patch box is shrunk by this fraction of a pixel on every side before the
#: coverage test, so that a patch whose edge lies on a file edge up to float rounding
#: still counts as covered.
_EPSILON_PIXELS = 1e-6

#: Bounded number of fresh draws when a sequential draw of V >= 3 views dead-ends.
_MAX_ATTEMPTS = 10

_INSUFFICIENT = ('skip', 'repeat', 'error')

_NOT_COMPOSED = (
    'TemporalViewSampler draws views per patch: compose it with a spatial sampler, '
    'e.g. RandomPatchSampler(ds, size=64) @ TemporalViewSampler(ds)'
)

#: Largest span of acquisition times whose pairwise gaps fit in int64.
_MAX_SPAN = int(np.iinfo(np.int64).max)


def _to_timedelta(name: str, value: pd.Timedelta | str | None) -> pd.Timedelta | None:
    """Parse and check a gap parameter.

    Args:
        name: Parameter name, for error messages.
        value: A :class:`~pandas.Timedelta`, a string pandas parses as one (``'30D'``),
            or None.

    Returns:
        The gap as a :class:`~pandas.Timedelta`, or None.

    Raises:
        ValueError: If *value* is not a valid non-negative duration.
    """
    if value is None:
        return None
    try:
        delta = pd.Timedelta(value)
    except (ValueError, TypeError) as err:
        msg = f'{name} must be a pandas Timedelta or a string like "30D", got {value!r}'
        raise ValueError(msg) from err
    if pd.isna(delta) or delta < pd.Timedelta(0):
        msg = f'{name} must be a non-negative duration, got {value!r}'
        raise ValueError(msg)
    return delta


class TemporalViewSampler(TemporalSampler):
    """Sample V distinct acquisitions of each spatial patch (temporal positives).

    Compose it with a spatial sampler::

        sampler = RandomPatchSampler(ds, size=64, length=1000) @ TemporalViewSampler(
            ds, views=2, min_gap='30D'
        )

    For every location the spatial sampler yields, this sampler yields at most one
    :class:`~torchgeo_geossl.samplers.ViewsQuery` whose :attr:`~ViewsQuery.t` holds V
    time slices, one per view. Each slice is ``slice(interval.left, interval.right)``
    of one interval of :attr:`index` (clipped to *toi* when given), so reading
    ``dataset[query.view(i)]`` returns that acquisition only.

    **Candidate dates.** The rows of :attr:`index` whose footprint intersects the patch
    are found through the GeoDataFrame spatial index and grouped by time interval (one
    interval = one date). A date is valid only if the union of its footprints covers
    the patch box, shrunk by 1e-6 pixel on each side to absorb float rounding at file
    edges. Gaps and periods are measured between interval starts.

    **Drawing rule** (GASSL's "same location at another time, drawn uniformly among the
    other available dates"): the first view (the anchor, view 0) is drawn uniformly
    among the valid dates that can start a draw satisfying the constraints, then each
    next view uniformly among the dates compatible with all views drawn so far. The
    views are returned in the order drawn, not sorted by time. Without constraints this
    is a uniform draw of V distinct dates in random order. With V = 2 every draw
    succeeds when any compatible pair exists; with V >= 3 a draw that dead-ends is
    restarted, at most 10 times, before the location counts as infeasible.

    **Skipped locations.** A location yields nothing when no date covers the patch
    (``'uncovered'``, for example patches of
    :class:`~torchgeo.samplers.GriddedPatchSampler` that overhang the data, whatever
    *insufficient* says) or when no set of V dates satisfies the constraints
    (``'infeasible'``). When 1 <= n < V dates cover it, *insufficient* decides. All
    outcomes are counted in :attr:`stats` (keys ``'locations'``, ``'sampled'``,
    ``'repeated'``, ``'redraw_alternates'``, ``'skipped'`` and the skip reasons
    ``'too_few_dates'``, ``'uncovered'``, ``'infeasible'``); :meth:`report`
    summarises them and ``stats.clear()`` resets them. The first skip or repeat of the
    sampler's life emits one :class:`UserWarning` pointing at :meth:`report`; later
    ones are only counted. (The sampler cannot see where an epoch ends: the spatial
    sampler drives the iteration. Note that ``len()`` of a random @ sequential
    composition, which ``list()`` calls, makes TorchGeo iterate one whole epoch,
    which draws queries and counts them.)

    .. versionadded:: 0.1
    """

    strategy: Literal['random', 'sequential'] = 'sequential'

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        views: int = 2,
        min_gap: pd.Timedelta | str | None = None,
        max_gap: pd.Timedelta | str | None = None,
        distinct_periods: str | None = None,
        toi: pd.Interval | None = None,
        insufficient: Literal['skip', 'repeat', 'error'] = 'skip',
        redraws: int = 0,
        generator: int
        | BitGenerator
        | Generator
        | RandomState
        | SeedSequence
        | None = None,
    ) -> None:
        """Initialize a new TemporalViewSampler instance.

        Args:
            dataset: Dataset to sample from; its index must have a CRS.
            views: Number V of distinct acquisition times per query.
            min_gap: Every pair of views is at least this far apart
                (a :class:`~pandas.Timedelta` or a string such as ``'30D'``).
            max_gap: The latest view is at most this long after the earliest.
            distinct_periods: A pandas period alias (``'Q'`` for quarters, ``'M'``,
                ``'Y'``): all views fall in distinct periods (:class:`~pandas.Period`).
            toi: Time of interest to sample from (defaults to the whole index).
            insufficient: At a location where only 1 <= n < V dates cover the patch:
                ``'skip'`` it, ``'repeat'`` dates (all n dates in random order, then
                the remaining views drawn from them with replacement; gap and period
                constraints are not applied), or raise (``'error'``).
            redraws: Number of alternative V-view draws at the same location attached
                as :attr:`ViewsQuery.alternates`, for nodata redraws.
            generator: Seed or pseudo-random number generator; the same seed (with
                the same seeded spatial sampler) gives the same queries.

        Raises:
            ValueError: If the dataset has no CRS, a parameter is invalid, *toi*
                selects no file, or no location has *views* dates (unless
                *insufficient* is ``'repeat'``).
        """
        if dataset.index.crs is None:
            msg = (
                f'{type(dataset).__name__} has no CRS (dataset.index.crs is None); '
                'TemporalViewSampler needs one to compare patches with file footprints'
            )
            raise ValueError(msg)
        if isinstance(views, bool) or not isinstance(views, int) or views < 1:
            msg = f'views must be an integer >= 1, got {views!r}'
            raise ValueError(msg)
        if insufficient not in _INSUFFICIENT:
            msg = f'insufficient must be one of {_INSUFFICIENT}, got {insufficient!r}'
            raise ValueError(msg)
        if isinstance(redraws, bool) or not isinstance(redraws, int) or redraws < 0:
            msg = f'redraws must be an integer >= 0, got {redraws!r}'
            raise ValueError(msg)
        if toi is not None and not isinstance(toi, pd.Interval):
            msg = f'toi must be a pandas.Interval of Timestamps, got {toi!r}'
            raise ValueError(msg)
        self.min_gap = _to_timedelta('min_gap', min_gap)
        self.max_gap = _to_timedelta('max_gap', max_gap)
        if (
            views >= 2
            and self.min_gap is not None
            and self.max_gap is not None
            and self.min_gap > self.max_gap
        ):
            msg = (
                f'min_gap ({self.min_gap}) is larger than max_gap ({self.max_gap}): '
                f'no {views} views can satisfy both'
            )
            raise ValueError(msg)
        if distinct_periods is not None:
            try:
                pd.Period(pd.Timestamp(0), freq=distinct_periods)
            except (ValueError, TypeError) as err:
                msg = (
                    'distinct_periods must be a pandas period alias such as "Q" or '
                    f'"M", got {distinct_periods!r}'
                )
                raise ValueError(msg) from err

        super().__init__(dataset, toi=toi)
        if self.index.empty:
            span = (
                f'{dataset.index.index.left.min()} to {dataset.index.index.right.max()}'
            )
            msg = (
                f'toi {toi} selects no file of {type(dataset).__name__}, '
                f'whose files span {span}'
            )
            raise ValueError(msg)

        self.views = views
        self.distinct_periods = distinct_periods
        self.insufficient = insufficient
        self.redraws = redraws
        self.generator = np.random.default_rng(generator)
        self.res = dataset.res
        #: Counts of what happened at the locations seen so far.
        self.stats: Counter[str] = Counter()
        self._warned = False
        self._precompute()
        if insufficient != 'repeat':
            self._check_views_possible()

    def _precompute(self) -> None:
        """Build the per-row and per-date arrays that queries look up.

        Raises:
            ValueError: If the acquisition times are too far apart to compare gaps.
        """
        intervals = self.index.index
        # Integer times in the index's own unit (pandas 3 defaults to microseconds,
        # whose range is wider than that of nanoseconds)
        left = intervals.left.asi8
        right = intervals.right.asi8
        unit_ns = pd.Timedelta(1, unit=intervals.left.unit).value
        self._min_gap_units = (
            None if self.min_gap is None else -(-self.min_gap.value // unit_ns)
        )
        self._max_gap_units = (
            None if self.max_gap is None else self.max_gap.value // unit_ns
        )
        unique, first, inverse = np.unique(
            np.stack([left, right], axis=1),
            axis=0,
            return_index=True,
            return_inverse=True,
        )
        # Dates are numbered chronologically; one date = one distinct interval.
        self._row_date: NDArray[np.intp] = inverse.reshape(-1)
        self._date_start: NDArray[np.int64] = unique[:, 0]
        self._date_slices = tuple(
            slice(intervals[i].left, intervals[i].right) for i in first
        )
        self._date_period: NDArray[np.int64] | None = None
        if self.distinct_periods is not None:
            starts = intervals.left[first]
            self._date_period = starts.to_period(self.distinct_periods).asi8
        if self.min_gap is not None or self.max_gap is not None:
            span = int(self._date_start.max()) - int(self._date_start.min())
            if span > _MAX_SPAN:
                msg = (
                    f'acquisition times span {intervals.left.min()} to '
                    f'{intervals.left.max()}, too wide to compare gaps; files '
                    'without a date in their name get the whole pandas time range'
                )
                raise ValueError(msg)

        self._geoms = self.index.geometry.to_numpy()
        bounds = shapely.bounds(self._geoms)
        self._max_width = float(np.max(bounds[:, 2] - bounds[:, 0]))
        self._max_height = float(np.max(bounds[:, 3] - bounds[:, 1]))
        self._eps = _EPSILON_PIXELS * min(abs(self.res[0]), abs(self.res[1]))
        self._sindex = self.index.sindex
        self._constrained = self.views >= 2 and (
            self.min_gap is not None
            or self.max_gap is not None
            or self._date_period is not None
        )

    def _check_views_possible(self) -> None:
        """Check that some location has at least *views* distinct dates.

        A location is a distinct footprint geometry; its dates are the distinct
        intervals of all rows whose footprint intersects its interior. This bounds the
        number of dates any patch can have from above: a date covering a patch has a
        footprint overlapping every location the patch overlaps.

        Raises:
            ValueError: If no location has *views* dates, with the histogram.
        """
        wkb = shapely.to_wkb(shapely.normalize(self._geoms))
        _, first = np.unique(wkb, return_index=True)
        locations = self._geoms[np.sort(first)]
        loc, rows = self._sindex.query(locations, predicate='intersects')
        # Neighbours that only share an edge cannot give a patch a date
        inside = ~shapely.touches(locations[loc], self._geoms[rows])
        loc, rows = loc[inside], rows[inside]
        pairs = np.unique(np.stack([loc, self._row_date[rows]], axis=1), axis=0)
        dates_per_location = np.bincount(pairs[:, 0], minlength=len(locations))
        if dates_per_location.max() >= self.views:
            if self._constrained:
                self._check_constraints_possible(pairs, dates_per_location)
            return
        histogram = ', '.join(
            f'{dates} date{"s" if dates != 1 else ""} × {count} '
            f'location{"s" if count != 1 else ""}'
            for dates, count in sorted(Counter(dates_per_location.tolist()).items())[
                ::-1
            ]
        )
        msg = (
            f'views={self.views} but no location has {self.views} or more dates; '
            f'dates per location: {histogram}. Lower views, widen toi, or pass '
            "insufficient='repeat'"
        )
        raise ValueError(msg)

    def _check_constraints_possible(
        self, pairs: NDArray[np.intp], dates_per_location: NDArray[np.intp]
    ) -> None:
        """Check that some location has *views* dates meeting the constraints.

        Dates sorted by time satisfy the gap and period constraints pairwise when
        consecutive ones do (gaps grow and periods only advance along time): taking,
        from each first date, the earliest date that may follow the previous one
        gives the longest chain with the smallest span, so a location is feasible
        if such a chain of *views* dates fits in *max_gap*.

        Args:
            pairs: Unique ``(location, date)`` rows, sorted by location then date.
            dates_per_location: Number of dates of each location.

        Raises:
            ValueError: If no location has a set of *views* dates that satisfies
                *min_gap*, *max_gap* and *distinct_periods*.
        """
        ends = np.cumsum(dates_per_location)
        order = np.argsort(-dates_per_location, kind='stable')
        for loc in order[dates_per_location[order] >= self.views]:
            dates = pairs[ends[loc] - dates_per_location[loc] : ends[loc], 1]
            if self._chain_possible(dates):
                return
        constraints = ', '.join(
            f'{name}={str(value).removesuffix(" 00:00:00")}'
            for name, value in (
                ('min_gap', self.min_gap),
                ('max_gap', self.max_gap),
                ('distinct_periods', self.distinct_periods),
            )
            if value is not None
        )
        span = pd.Timedelta(
            int(self._date_start.max() - self._date_start.min()),
            unit=self.index.index.left.unit,
        )
        msg = (
            f'views={self.views} with {constraints}: no location has {self.views} '
            f'dates that satisfy these constraints (the acquisitions span '
            f'{str(span).removesuffix(" 00:00:00")} in '
            'all); the sampler would yield nothing. Lower views or min_gap, or widen '
            'max_gap or toi'
        )
        raise ValueError(msg)

    def _chain_possible(self, dates: NDArray[np.intp]) -> bool:
        """Whether *views* of the time-sorted *dates* can satisfy the constraints.

        Args:
            dates: Date codes of one location, in chronological order.

        Returns:
            True if a greedy chain from some first date reaches *views* dates.
        """
        start = self._date_start[dates]
        period = None if self._date_period is None else self._date_period[dates]
        min_gap = self._min_gap_units or 0
        for first in range(len(dates) - self.views + 1):
            current, count = first, 1
            while count < self.views:
                after = int(np.searchsorted(start, start[current] + min_gap))
                after = max(after, current + 1)
                if period is not None:
                    after = max(
                        after, int(np.searchsorted(period, period[current], 'right'))
                    )
                if after >= len(dates):
                    break
                current, count = after, count + 1
            if count < self.views:
                continue
            if (
                self._max_gap_units is None
                or start[current] - start[first] <= self._max_gap_units
            ):
                return True
        return False

    def __iter__(self) -> NoReturn:
        """Refuse to iterate without a spatial sampler.

        Raises:
            TypeError: Always: compose with a spatial sampler instead.
        """
        raise TypeError(_NOT_COMPOSED)

    def _iter_subset(  # type: ignore[override]
        self, location: tuple[slice, slice] = (slice(None), slice(None))
    ) -> Iterator[ViewsQuery]:
        """Yield at most one multi-view query at *location*.

        Args:
            location: ``(x, y)`` slices of the patch, from a spatial sampler.

        Yields:
            A :class:`ViewsQuery` with V time slices and up to *redraws* alternates.

        Raises:
            TypeError: If *location* has no bounds (no spatial sampler).
            ValueError: If the patch is larger than every file, or if
                *insufficient* is ``'error'`` and too few dates cover it.
        """
        x, y = location
        if None in (x.start, x.stop, y.start, y.stop):
            raise TypeError(_NOT_COMPOSED)
        self._check_patch_size(x, y)
        self.stats['locations'] += 1
        dates = self._valid_dates(x, y)
        draws = self._draw_all(dates, x, y)
        if not draws:
            return
        self.stats['sampled'] += 1
        self.stats['redraw_alternates'] += len(draws) - 1
        yield ViewsQuery(
            x,
            y,
            self._to_slices(draws[0]),
            tuple(self._to_slices(d) for d in draws[1:]),
        )

    def report(self) -> str:
        """Summarise :attr:`stats`.

        Returns:
            One line: locations seen, queries yielded, repeats, alternates and skips
            by reason.
        """
        s = self.stats
        return (
            f'TemporalViewSampler(views={self.views}): {s["locations"]} locations, '
            f'{s["sampled"]} sampled ({s["repeated"]} with repeated dates, '
            f'{s["redraw_alternates"]} alternates), {s["skipped"]} skipped '
            f'({s["too_few_dates"]} with too few dates, {s["uncovered"]} uncovered by '
            f'any date, {s["infeasible"]} with no draw satisfying the constraints)'
        )

    def _check_patch_size(self, x: slice, y: slice) -> None:
        """Refuse patches that no single file can contain.

        Args:
            x: ``xmin:xmax`` of the patch.
            y: ``ymin:ymax`` of the patch.

        Raises:
            ValueError: If the patch is wider or taller than every file footprint.
        """
        width = x.stop - x.start
        height = y.stop - y.start
        if width - self._eps > self._max_width or height - self._eps > self._max_height:
            msg = (
                f'patch of {width} × {height} CRS units (width × height) is larger '
                f'than every file footprint (largest: {self._max_width} × '
                f'{self._max_height}); no acquisition can cover it: use a smaller '
                'patch size'
            )
            raise ValueError(msg)

    def _valid_dates(self, x: slice, y: slice) -> NDArray[np.intp]:
        """Dates whose footprints cover the patch.

        Args:
            x: ``xmin:xmax`` of the patch.
            y: ``ymin:ymax`` of the patch.

        Returns:
            Sorted (chronological) date codes.
        """
        eps = self._eps
        box = shapely.box(x.start + eps, y.start + eps, x.stop - eps, y.stop - eps)
        rows = self._sindex.query(box, predicate='intersects')
        dates = self._row_date[rows]
        single = shapely.covers(self._geoms[rows], box)
        valid = np.unique(dates[single])
        # Dates of several files that may only cover the patch together (a mosaic)
        rest = ~np.isin(dates, valid)
        rest_dates, inverse, counts = np.unique(
            dates[rest], return_inverse=True, return_counts=True
        )
        several = counts >= 2
        if not several.any():
            return valid
        # One row of footprints per date, padded with None, unioned in one call
        order = np.argsort(inverse, kind='stable')
        column = np.arange(order.size) - np.repeat(np.cumsum(counts) - counts, counts)
        grid = np.full((rest_dates.size, counts.max()), None, dtype=object)
        grid[inverse[order], column] = self._geoms[rows[rest]][order]
        mosaic = shapely.union_all(grid[several], axis=1)
        return np.union1d(valid, rest_dates[several][shapely.covers(mosaic, box)])

    def _draw_all(
        self, dates: NDArray[np.intp], x: slice, y: slice
    ) -> list[NDArray[np.intp]]:
        """Draw the views and alternates at one location, applying *insufficient*.

        Args:
            dates: Valid date codes at the location.
            x: ``xmin:xmax`` of the patch, for messages.
            y: ``ymin:ymax`` of the patch, for messages.

        Returns:
            The main draw then the alternates, or an empty list to skip the location.

        Raises:
            ValueError: If *insufficient* is ``'error'`` and too few dates cover it.
        """
        n = dates.size
        where = f'x={x.start}:{x.stop}, y={y.start}:{y.stop}'
        if n == 0:
            self._skip('uncovered', f'no date covers the patch at {where}')
            return []
        if n < self.views:
            found = ', '.join(str(self._date_slices[d].start) for d in dates)
            detail = (
                f'only {n} date(s) cover the patch at {where} ({found}) '
                f'but views={self.views}'
            )
            if self.insufficient == 'error':
                msg = f"{detail}; pass insufficient='skip' or 'repeat'"
                raise ValueError(msg)
            if self.insufficient == 'skip':
                self._skip('too_few_dates', detail)
                return []
            self.stats['repeated'] += 1
            self._warn_once(f'repeating dates: {detail}')
            return [self._draw_repeat(dates) for _ in range(1 + self.redraws)]
        if not self._constrained:
            return [
                self.generator.choice(dates, self.views, replace=False)
                for _ in range(1 + self.redraws)
            ]
        compatible = self._compatibility(dates)
        draws = []
        for _ in range(1 + self.redraws):
            draw = self._draw_constrained(compatible)
            if draw is None:
                break
            draws.append(dates[draw])
        if not draws:
            self._skip(
                'infeasible',
                f'no {self.views} of the {n} dates covering the patch at {where} '
                'satisfy min_gap/max_gap/distinct_periods',
            )
        return draws

    def _compatibility(self, dates: NDArray[np.intp]) -> NDArray[np.bool_]:
        """Pairwise compatibility of dates under the gap and period constraints.

        All constraints are pairwise: the span of a set of dates is its largest
        pairwise gap.

        Args:
            dates: Valid date codes at a location.

        Returns:
            Boolean matrix, True where two distinct dates may be views together.
        """
        n = dates.size
        compatible = ~np.eye(n, dtype=bool)
        start = self._date_start[dates]
        gap = np.abs(start[:, None] - start[None, :])
        if self._min_gap_units is not None:
            compatible &= gap >= self._min_gap_units
        if self._max_gap_units is not None:
            compatible &= gap <= self._max_gap_units
        if self._date_period is not None:
            period = self._date_period[dates]
            compatible &= period[:, None] != period[None, :]
        return compatible

    def _draw_constrained(
        self, compatible: NDArray[np.bool_]
    ) -> NDArray[np.intp] | None:
        """Draw V mutually compatible dates sequentially, with a one-step lookahead.

        Args:
            compatible: Pairwise compatibility matrix of the location's dates.

        Returns:
            Positions of the V dates in drawing order, or None if none was found.
        """
        n = len(compatible)
        for _ in range(_MAX_ATTEMPTS):
            chosen: list[int] = []
            allowed = np.ones(n, dtype=bool)
            for k in range(self.views):
                options = allowed
                if k < self.views - 1:
                    # Keep only dates that leave a compatible date for the next view
                    options = allowed & (compatible & allowed[None, :]).any(axis=1)
                positions = np.flatnonzero(options)
                if positions.size == 0:
                    break
                choice = int(self.generator.choice(positions))
                chosen.append(choice)
                allowed = allowed & compatible[choice]
            else:
                return np.array(chosen, dtype=np.intp)
            if not chosen:
                return None
        return None

    def _draw_repeat(self, dates: NDArray[np.intp]) -> NDArray[np.intp]:
        """Fill V views from fewer dates: all of them, then draws with replacement.

        Args:
            dates: The 1 <= n < V valid date codes at a location.

        Returns:
            V date codes.
        """
        extra = self.generator.choice(dates, self.views - dates.size, replace=True)
        return np.concatenate([self.generator.permutation(dates), extra])

    def _to_slices(self, draw: NDArray[np.intp]) -> tuple[slice, ...]:
        """Time slices of date codes.

        Args:
            draw: Date codes.

        Returns:
            One ``slice(interval.left, interval.right)`` per date.
        """
        return tuple(self._date_slices[d] for d in draw)

    def _skip(self, reason: str, detail: str) -> None:
        """Count a skipped location.

        Args:
            reason: Key in :attr:`stats`.
            detail: Description for the one-time warning.
        """
        self.stats['skipped'] += 1
        self.stats[reason] += 1
        self._warn_once(f'skipping: {detail}')

    def _warn_once(self, detail: str) -> None:
        """Warn about the first skip or repeat of this sampler.

        Args:
            detail: What happened.
        """
        if self._warned:
            return
        self._warned = True
        msg = (
            f'TemporalViewSampler {detail}. Later skips and repeats are only counted '
            'in .stats; call .report() for a summary'
        )
        warnings.warn(msg, UserWarning, stacklevel=3)

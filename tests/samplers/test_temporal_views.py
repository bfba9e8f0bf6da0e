import datetime as dt
import itertools
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import ColoradoLandsat, SeriesDataset, monthly, pixel_value, write_series
from torchgeo.datasets import RasterDataset
from torchgeo.samplers import GriddedPatchSampler, RandomPatchSampler

from torchgeo_geossl.samplers.query import ViewsQuery
from torchgeo_geossl.samplers.temporal_views import TemporalViewSampler

ORIGIN = (500_000.0, 5_700_000.0)
RES = 10.0
SIZE = 32  # pixels per file side
EXTENT = SIZE * RES


def interval_set(ds: RasterDataset) -> set[tuple[pd.Timestamp, pd.Timestamp]]:
    return {(i.left, i.right) for i in ds.index.index}


def view_date(query: ViewsQuery, i: int) -> dt.date:
    return query.t[i].start.date()


def date_of(t: slice) -> dt.date:
    return t.start.date()


def covered(ds: RasterDataset, query: ViewsQuery, t: slice) -> bool:
    """Whether the files of acquisition *t* cover the patch of *query*."""
    rows = ds.index[ds.index.index.overlaps(pd.Interval(t.start, t.stop))]
    box = shapely.box(query.x.start, query.y.start, query.x.stop, query.y.stop)
    return bool(rows.geometry.union_all().covers(box))


def collect(sampler: Iterable[ViewsQuery]) -> list[ViewsQuery]:
    """One epoch of queries.

    Not ``list(sampler)``: ``list`` calls ``len()``, which TorchGeo computes for
    random @ sequential samplers by iterating a whole extra epoch.
    """
    return [query for query in sampler]


def random_queries(
    ds: RasterDataset,
    sampler: TemporalViewSampler,
    *,
    size: int = 8,
    length: int = 50,
    seed: int = 0,
) -> list[ViewsQuery]:
    spatial = RandomPatchSampler(ds, size=size, length=length, generator=seed)
    return collect(spatial @ sampler)


@pytest.fixture
def year(tmp_path: Path) -> SeriesDataset:
    """One 32 × 32 site with 12 monthly dates in 2021."""
    write_series(tmp_path, dates=monthly(12), size=SIZE, res=RES, origin=ORIGIN)
    return SeriesDataset(paths=tmp_path)


@pytest.fixture
def rich_and_poor(tmp_path: Path) -> SeriesDataset:
    """Two adjacent sites: 'rich' with 3 dates (west), 'poor' with 1 date (east)."""
    write_series(tmp_path, site='rich', dates=monthly(3), size=SIZE, origin=ORIGIN)
    east = (ORIGIN[0] + EXTENT, ORIGIN[1])
    write_series(
        tmp_path, site='poor', dates=[dt.date(2021, 6, 1)], size=SIZE, origin=east
    )
    return SeriesDataset(paths=tmp_path)


def test_composes_with_random_patch_sampler(year: SeriesDataset) -> None:
    sampler = TemporalViewSampler(year, views=3, generator=0)
    spatial = RandomPatchSampler(year, size=8, length=20, generator=1)
    locations = list(RandomPatchSampler(year, size=8, length=20, generator=1))
    queries = collect(spatial @ sampler)
    assert len(queries) == 20
    intervals = interval_set(year)
    for query, (x, y) in zip(queries, locations, strict=True):
        assert isinstance(query, ViewsQuery)
        assert (query.x, query.y) == (x, y)
        assert len(query.t) == 3
        assert len({t.start for t in query.t}) == 3
        for t in query.t:
            assert (t.start, t.stop) in intervals
    assert sampler.stats['sampled'] == 20
    assert sampler.stats['skipped'] == 0


def test_composes_with_gridded_patch_sampler(year: SeriesDataset) -> None:
    sampler = TemporalViewSampler(year, views=2, generator=0)
    queries = collect(GriddedPatchSampler(year, size=16, stride=16) @ sampler)
    corners = sorted((q.x.start, q.y.start) for q in queries)
    x0, y0 = ORIGIN[0], ORIGIN[1] - EXTENT
    assert corners == [
        (x0, y0),
        (x0, y0 + 160.0),
        (x0 + 160.0, y0),
        (x0 + 160.0, y0 + 160.0),
    ]
    assert all(len({t.start for t in q.t}) == 2 for q in queries)


def test_standalone_iteration_asks_for_spatial_sampler(year: SeriesDataset) -> None:
    sampler = TemporalViewSampler(year)
    with pytest.raises(TypeError, match='compose it with a spatial sampler'):
        iter(sampler)
    with pytest.raises(TypeError, match='compose it with a spatial sampler'):
        next(sampler._iter_subset())


@pytest.mark.filterwarnings('ignore:TemporalViewSampler skipping')
def test_partially_covering_date_never_chosen(tmp_path: Path) -> None:
    # 'full': 32 px site with 3 dates. 'half': shifted east by 16 px, one date, so
    # it covers only the eastern half of 'full'. 'quad': four 16 px tiles of one
    # date whose mosaic covers 'full' exactly.
    full = monthly(3)
    half = dt.date(2021, 7, 1)
    mosaic = dt.date(2021, 9, 1)
    write_series(tmp_path, site='full', dates=full, size=SIZE, origin=ORIGIN)
    shifted = (ORIGIN[0] + 16 * RES, ORIGIN[1])
    write_series(tmp_path, site='half', dates=[half], size=SIZE, origin=shifted)
    for i, j in itertools.product(range(2), range(2)):
        origin = (ORIGIN[0] + 16 * RES * i, ORIGIN[1] - 16 * RES * j)
        write_series(
            tmp_path, site=f'quad{i}{j}', dates=[mosaic], size=16, origin=origin
        )
    ds = SeriesDataset(paths=tmp_path)
    sampler = TemporalViewSampler(ds, views=2, generator=0)
    queries = random_queries(ds, sampler, size=8, length=300)
    assert queries
    half_used = mosaic_used = False
    for query in queries:
        for t in query.t:
            assert covered(ds, query, t)
        dates = {date_of(t) for t in query.t}
        inside_half = query.x.start >= shifted[0] and query.x.stop <= shifted[0] + (
            EXTENT
        )
        if half in dates:
            half_used = True
            assert inside_half
        straddles = query.x.start < shifted[0] < query.x.stop
        if mosaic in dates and straddles:
            mosaic_used = True
    assert half_used
    # The mosaic covers patches that straddle its tile edges
    assert mosaic_used


def test_min_max_gap_respected(year: SeriesDataset) -> None:
    min_gap, max_gap = pd.Timedelta('60D'), pd.Timedelta('200D')
    sampler = TemporalViewSampler(
        year, views=3, min_gap='60D', max_gap=max_gap, generator=0
    )
    queries = random_queries(year, sampler, length=300)
    assert len(queries) == 300
    gaps, spans = set(), set()
    for query in queries:
        starts = [t.start for t in query.t]
        for a, b in itertools.combinations(starts, 2):
            gaps.add(abs(a - b))
        spans.add(max(starts) - min(starts))
    assert min(gaps) >= min_gap
    assert max(spans) <= max_gap
    # Views come in drawing order, not sorted
    assert any(q.t[0].start > q.t[-1].start for q in queries)
    assert any(q.t[0].start < q.t[-1].start for q in queries)
    # Both bounds are nearly reached, so the constraints are not trivially loose
    assert min(gaps) <= pd.Timedelta('62D')
    assert max(spans) >= pd.Timedelta('180D')


def test_infeasible_gaps_skip(tmp_path: Path) -> None:
    # 'span' has two dates 17 months apart; 'year' 12 monthly dates, further east
    write_series(
        tmp_path,
        site='span',
        dates=[dt.date(2021, 1, 15), dt.date(2022, 6, 15)],
        size=SIZE,
        origin=ORIGIN,
    )
    east = (ORIGIN[0] + 3 * EXTENT, ORIGIN[1])  # apart: no patch covers both
    write_series(tmp_path, site='year', dates=monthly(12), size=SIZE, origin=east)
    ds = SeriesDataset(paths=tmp_path)
    sampler = TemporalViewSampler(ds, views=2, min_gap='400D', generator=0)
    with pytest.warns(UserWarning, match='satisfy min_gap/max_gap'):
        queries = random_queries(ds, sampler, length=40)
    assert queries
    for query in queries:
        assert abs(query.t[0].start - query.t[1].start) >= pd.Timedelta('400D')
    assert sampler.stats['infeasible'] == sampler.stats['skipped'] > 0
    assert len(queries) + sampler.stats['skipped'] == 40


def test_constraints_that_no_location_meets_are_an_error(year: SeriesDataset) -> None:
    with pytest.raises(
        ValueError,
        match=r'views=2 with min_gap=400 days.*no location has 2 dates that satisfy',
    ):
        TemporalViewSampler(year, views=2, min_gap='400D', generator=0)
    with pytest.raises(ValueError, match=r'views=3 with max_gap=40 days'):
        TemporalViewSampler(year, views=3, max_gap='40D', generator=0)
    with pytest.raises(ValueError, match=r'views=3 with min_gap=100 days, max_gap=150'):
        TemporalViewSampler(year, views=3, min_gap='100D', max_gap='150D')
    # feasible combinations are accepted
    TemporalViewSampler(year, views=3, max_gap='70D', min_gap='28D')
    TemporalViewSampler(year, views=2, min_gap='300D')


def test_distinct_quarters(year: SeriesDataset) -> None:
    sampler = TemporalViewSampler(year, views=4, distinct_periods='Q', generator=0)
    queries = random_queries(year, sampler, length=100)
    assert len(queries) == 100
    for query in queries:
        quarters = {pd.Period(t.start, freq='Q') for t in query.t}
        assert len(quarters) == 4
    with pytest.raises(ValueError, match=r'views=5 with distinct_periods=Q'):
        TemporalViewSampler(year, views=5, distinct_periods='Q', generator=0)


def test_toi_restricts_dates(year: SeriesDataset) -> None:
    toi = pd.Interval(pd.Timestamp('2021-03-01'), pd.Timestamp('2021-06-30'))
    sampler = TemporalViewSampler(year, views=2, toi=toi, generator=0)
    queries = random_queries(year, sampler, length=100)
    months = {t.start.month for q in queries for t in q.t}
    assert months == {3, 4, 5, 6}


def test_toi_selecting_nothing_raises(year: SeriesDataset) -> None:
    toi = pd.Interval(pd.Timestamp('2030-01-01'), pd.Timestamp('2030-12-31'))
    with pytest.raises(ValueError, match=r'toi .*2030.* selects no file') as info:
        TemporalViewSampler(year, toi=toi)
    assert '2021-01-15 00:00:00 to 2021-12-15 23:59:59.999999' in str(info.value)


def test_seed_reproducible(year: SeriesDataset) -> None:
    def draw(seed: int) -> list[ViewsQuery]:
        sampler = TemporalViewSampler(year, views=2, redraws=1, generator=seed)
        return random_queries(year, sampler, length=30, seed=7)

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)


def test_insufficient_skip(rich_and_poor: SeriesDataset) -> None:
    sampler = TemporalViewSampler(rich_and_poor, views=2, generator=0)
    spatial = GriddedPatchSampler(rich_and_poor, size=16, stride=16)
    with pytest.warns(UserWarning, match='only 1 date') as record:
        queries = collect(spatial @ sampler)
    assert len(record) == 1
    assert len(queries) == 4
    assert all(q.x.stop <= ORIGIN[0] + EXTENT for q in queries)
    assert sampler.stats['skipped'] == sampler.stats['too_few_dates'] == 4
    assert sampler.stats['sampled'] == 4
    assert '8 locations, 4 sampled' in sampler.report()
    assert '4 skipped (4 with too few dates' in sampler.report()


def test_insufficient_repeat(rich_and_poor: SeriesDataset) -> None:
    sampler = TemporalViewSampler(
        rich_and_poor, views=2, insufficient='repeat', generator=0
    )
    spatial = GriddedPatchSampler(rich_and_poor, size=16, stride=16)
    with pytest.warns(UserWarning, match='repeating dates'):
        queries = collect(spatial @ sampler)
    assert len(queries) == 8
    poor = [q for q in queries if q.x.start >= ORIGIN[0] + EXTENT]
    assert len(poor) == 4
    for query in poor:
        assert [date_of(t) for t in query.t] == [dt.date(2021, 6, 1)] * 2
    assert sampler.stats['repeated'] == 4
    assert sampler.stats['skipped'] == 0


def test_repeat_uses_every_date_before_repeating(tmp_path: Path) -> None:
    write_series(tmp_path, dates=monthly(2), size=SIZE, origin=ORIGIN)
    ds = SeriesDataset(paths=tmp_path)
    sampler = TemporalViewSampler(ds, views=3, insufficient='repeat', generator=0)
    with pytest.warns(UserWarning, match='repeating'):
        queries = random_queries(ds, sampler, length=20)
    for query in queries:
        assert len({t.start for t in query.t[:2]}) == 2
        assert query.t[2] in query.t[:2]
    # The repeated view is drawn, not always the same date
    assert len({query.t[2] for query in queries}) == 2


def test_insufficient_error(rich_and_poor: SeriesDataset) -> None:
    sampler = TemporalViewSampler(
        rich_and_poor, views=2, insufficient='error', generator=0
    )
    spatial = GriddedPatchSampler(rich_and_poor, size=16, stride=16)
    with pytest.raises(ValueError, match=r'only 1 date\(s\) cover .*views=2'):
        collect(spatial @ sampler)


def test_views_above_max_dates_raises_histogram(rich_and_poor: SeriesDataset) -> None:
    msg = (
        'views=4 but no location has 4 or more dates; dates per location: '
        '3 dates × 1 location, 1 date × 1 location'
    )
    with pytest.raises(ValueError, match=msg):
        TemporalViewSampler(rich_and_poor, views=4)
    # Repeating dates makes any number of views possible
    TemporalViewSampler(rich_and_poor, views=4, insufficient='repeat')


def test_patch_larger_than_every_file_raises(rich_and_poor: SeriesDataset) -> None:
    sampler = TemporalViewSampler(rich_and_poor, views=1)
    spatial = GriddedPatchSampler(rich_and_poor, size=(32, 40))
    with pytest.raises(ValueError, match=r'patch of 400.0 × 320.0 CRS units') as info:
        collect(spatial @ sampler)
    assert 'largest: 320.0 × 320.0' in str(info.value)


def test_redraws_attach_alternates(year: SeriesDataset) -> None:
    sampler = TemporalViewSampler(
        year, views=2, min_gap='90D', max_gap='150D', redraws=3, generator=0
    )
    queries = random_queries(year, sampler, length=40)
    assert len(queries) == 40
    for query in queries:
        assert len(query.alternates) == 3
        for draw in query.alternates:
            assert len(draw) == 2
            gap = abs(draw[0].start - draw[1].start)
            assert pd.Timedelta('90D') <= gap <= pd.Timedelta('150D')
    assert sampler.stats['redraw_alternates'] == 120
    # Alternates are independent draws, not copies of the main one
    assert any(q.alternates[0] != q.t for q in queries)


def test_anchor_uniform(year: SeriesDataset) -> None:
    sampler = TemporalViewSampler(year, views=2, generator=0)
    spatial = GriddedPatchSampler(year, size=SIZE)
    queries = [q for _ in range(1200) for q in spatial @ sampler]
    assert len(queries) == 1200
    anchors = Counter(date_of(q.t[0]) for q in queries)
    partners = Counter(date_of(q.t[1]) for q in queries)
    assert all(q.t[0] != q.t[1] for q in queries)
    for counts in (anchors, partners):
        assert set(counts) == set(monthly(12))
        observed = np.array(list(counts.values()))
        chi2 = ((observed - 100) ** 2 / 100).sum()
        # 11 degrees of freedom: P(chi2 > 40) < 1e-4
        assert chi2 < 40


def test_views_in_draw_order_not_sorted(year: SeriesDataset) -> None:
    sampler = TemporalViewSampler(year, views=2, generator=0)
    queries = random_queries(year, sampler, length=100)
    assert any(q.t[0].start > q.t[1].start for q in queries)
    assert any(q.t[0].start < q.t[1].start for q in queries)


def test_reading_views_returns_chosen_dates(year: SeriesDataset) -> None:
    sampler = TemporalViewSampler(year, views=2, generator=0)
    for query in random_queries(year, sampler, size=8, length=5):
        for i in range(2):
            image = year[query.view(i)]['image']
            assert image.shape == (4, 8, 8)
            date = view_date(query, i)
            for band in range(4):
                assert (image[band] == pixel_value(date, band)).all()


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'views': 0}, 'views must be an integer >= 1'),
        ({'views': 2.0}, 'views must be an integer >= 1'),
        ({'min_gap': 'soon'}, 'min_gap must be a pandas Timedelta'),
        ({'max_gap': '-3D'}, 'max_gap must be a non-negative duration'),
        ({'min_gap': '90D', 'max_gap': '30D'}, r'min_gap \(90 days.*max_gap'),
        ({'distinct_periods': 'quarterly'}, 'distinct_periods must be a pandas'),
        ({'insufficient': 'drop'}, 'insufficient must be one of'),
        ({'redraws': -1}, 'redraws must be an integer >= 0'),
        ({'toi': ('2021-01-01', '2021-02-01')}, 'toi must be a pandas.Interval'),
    ],
)
def test_invalid_parameters(
    year: SeriesDataset, kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        TemporalViewSampler(year, **kwargs)  # type: ignore[arg-type]


def test_dataset_without_crs_raises(year: SeriesDataset) -> None:
    year.index = year.index.set_crs(None, allow_override=True)
    with pytest.raises(ValueError, match=r'SeriesDataset has no CRS'):
        TemporalViewSampler(year)


def test_landsat_colorado_pairs(shared_data: Path) -> None:
    root = shared_data / 'landsat-timeseries-colorado'
    if not root.is_dir():
        pytest.skip(f'{root} is not present')
    ds = ColoradoLandsat(paths=root)
    sampler = TemporalViewSampler(ds, views=2, min_gap='30D', generator=0)
    queries = collect(RandomPatchSampler(ds, size=32, length=6, generator=0) @ sampler)
    assert len(queries) == 6
    intervals = interval_set(ds)
    for query in queries:
        assert abs(query.t[0].start - query.t[1].start) >= pd.Timedelta('30D')
        images = [ds[query.view(i)]['image'] for i in range(2)]
        for t, image in zip(query.t, images, strict=True):
            assert (t.start, t.stop) in intervals
            assert image.shape == (3, 32, 32)
        assert not np.array_equal(images[0].numpy(), images[1].numpy())


def test_undated_files_with_gaps_raise(year: SeriesDataset) -> None:
    # A file without a date in its name gets TorchGeo's whole default time range,
    # in nanoseconds, whose differences overflow int64
    intervals = [(pd.Timestamp.min, pd.Timestamp.max)]
    intervals += [(i.left, i.right) for i in year.index.index[1:]]
    year.index.index = pd.IntervalIndex.from_tuples(
        intervals, closed='both', name='datetime'
    )
    assert year.index.index.left.unit == 'ns'
    with pytest.raises(ValueError, match='too wide to compare gaps'):
        TemporalViewSampler(year, views=2, min_gap='30D')
    # Without gaps the undated file is one more date
    sampler = TemporalViewSampler(year, views=2, generator=0)
    assert len(random_queries(year, sampler, length=5)) == 5


def test_rare_compatible_pair_always_found(year: SeriesDataset) -> None:
    # Only 2021-01-15 and 2021-12-15 are 330 days apart: with V=2 every draw must
    # find them, in either order, with no retry budget to exhaust
    sampler = TemporalViewSampler(year, views=2, min_gap='330D', generator=0)
    queries = random_queries(year, sampler, length=100)
    assert len(queries) == 100
    orders = Counter(tuple(date_of(t) for t in q.t) for q in queries)
    jan, dec = dt.date(2021, 1, 15), dt.date(2021, 12, 15)
    assert set(orders) == {(jan, dec), (dec, jan)}

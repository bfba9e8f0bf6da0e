"""Tests for torchgeo_geossl.datasets.views."""

import datetime as dt
import pickle
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
import shapely
import torch
from conftest import ColoradoLandsat, SeriesDataset, monthly, pixel_value, write_series
from rasterio.errors import RasterioError
from rasterio.transform import from_origin
from torch.utils.data import DataLoader
from torchgeo.datasets import GeoDataset, RasterDataset, stack_samples
from torchgeo.datasets.errors import RGBBandsMissingError
from torchgeo.samplers import RandomPatchSampler

from torchgeo_geossl.datasets import views
from torchgeo_geossl.datasets.views import (
    TemporalViewsDataset,
    ViewReadError,
    timestamp_seconds,
)
from torchgeo_geossl.location import AddGeoClusterLabel, GeoClusters
from torchgeo_geossl.samplers.query import ViewsQuery

ORIGIN = (500_000.0, 5_700_000.0)
SIZE = 32
RES = 10.0
# Whole tile written by write_series with the defaults above.
X = slice(ORIGIN[0], ORIGIN[0] + SIZE * RES)
Y = slice(ORIGIN[1] - SIZE * RES, ORIGIN[1])
CUSTOM_TMERC = (
    '+proj=tmerc +lat_0=0 +lon_0=3.5 +k=0.9999 +x_0=500000 +y_0=0 '
    '+ellps=WGS84 +units=m +no_defs'
)


def day(date: dt.date) -> slice:
    """Time slice of one acquisition day, as TorchGeo indexes '%Y%m%d' dates."""
    start = pd.Timestamp(date)
    return slice(start, start + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1))


def seconds(date: dt.date) -> float:
    return (pd.Timestamp(date) - pd.Timestamp('1970-01-01')).total_seconds()


def reference_lonlat(x: slice, y: slice, crs: Any) -> tuple[float, float]:
    """Independent pyproj computation of the query centre."""
    transformer = pyproj.Transformer.from_crs(
        pyproj.CRS.from_user_input(crs), 'EPSG:4326', always_xy=True
    )
    return transformer.transform((x.start + x.stop) / 2, (y.start + y.stop) / 2)


def stats(**counts: int) -> dict[str, int]:
    """TemporalViewsDataset.stats with the given counts, the others 0."""
    keys = ('redrawn', 'nodata_exceeded', 'read_errors', 'nonfinite', 'skipped')
    return {key: counts.get(key, 0) for key in keys}


def assert_decodes(image: torch.Tensor, dates: list[dt.date]) -> None:
    """Every pixel of view v, band b equals pixel_value(dates[v], b)."""
    assert image.shape[0] == len(dates)
    for v, date in enumerate(dates):
        for b in range(image.shape[1]):
            assert torch.all(image[v, b] == pixel_value(date, b)), (v, b)


class CountingSeriesDataset(SeriesDataset):
    """SeriesDataset that counts its reads."""

    reads = 0

    def __getitem__(self, index: Any) -> dict[str, torch.Tensor]:
        """Count the read, then read."""
        type(self).reads += 1
        return super().__getitem__(index)


class BandFilesDataset(RasterDataset):
    """One file per band: ``<site>_<YYYYMMDD>_<band>.tif``."""

    filename_glob = '*_b1.tif'
    filename_regex = r'^(?P<site>[a-z0-9]+)_(?P<date>\d{8})_(?P<band>b\d)\.tif$'
    date_format = '%Y%m%d'
    separate_files = True
    all_bands = ('b1', 'b2', 'b3', 'b4')


class MaskDataset(RasterDataset):
    """Undated single-band mask ``mask_<site>.tif``."""

    filename_glob = 'mask_*.tif'
    filename_regex = r'^mask_(?P<site>[a-z0-9]+)\.tif$'
    is_image = False


def write_band_files(root: Path, dates: list[dt.date]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for date in dates:
        for b in range(4):
            data = np.full((1, SIZE, SIZE), pixel_value(date, b), np.uint16)
            path = root / f'site_{date:%Y%m%d}_b{b + 1}.tif'
            with rasterio.open(
                path,
                'w',
                driver='GTiff',
                height=SIZE,
                width=SIZE,
                count=1,
                dtype='uint16',
                crs='EPSG:32631',
                transform=from_origin(*ORIGIN, RES, RES),
            ) as f:
                f.write(data)


@pytest.fixture
def series(tmp_path: Path) -> tuple[SeriesDataset, list[dt.date]]:
    dates = monthly(3)
    write_series(tmp_path / 'series', dates=dates)
    return SeriesDataset(tmp_path / 'series'), dates


def test_two_views(series: tuple[SeriesDataset, list[dt.date]]) -> None:
    ds, dates = series
    wrapper = TemporalViewsDataset(ds)
    query = ViewsQuery(X, Y, (day(dates[2]), day(dates[0])))
    sample = wrapper[query]
    assert sample['image'].shape == (2, 4, SIZE, SIZE)
    assert sample['image'].dtype == torch.float32
    assert_decodes(sample['image'], [dates[2], dates[0]])
    assert sample['time'].dtype == torch.float64
    assert sample['time'].tolist() == [seconds(dates[2]), seconds(dates[0])]
    assert sample['point'].dtype == torch.float64
    assert sample['point'].shape == (2,)
    assert sample['point'].tolist() == pytest.approx(
        reference_lonlat(X, Y, 'EPSG:32631'), abs=1e-12
    )
    # bounds/transform are those of view 0, as TorchGeo returns them.
    direct = ds[query.view(0)]
    assert torch.equal(sample['bounds'], direct['bounds'])
    assert torch.equal(sample['transform'], direct['transform'])


def test_point_is_float64_not_from_float32_bounds(
    series: tuple[SeriesDataset, list[dt.date]],
) -> None:
    ds, dates = series
    # Bounds that float32 cannot represent (spacing 0.5 m near 5.7e6).
    x = slice(500_010.3, 500_170.3)
    y = slice(5_699_770.3, 5_699_930.3)
    sample = TemporalViewsDataset(ds)[ViewsQuery(x, y, (day(dates[0]),))]
    ref = reference_lonlat(x, y, 'EPSG:32631')
    assert sample['point'].tolist() == pytest.approx(ref, abs=1e-12)
    b = sample['bounds'].double()
    from_bounds = reference_lonlat(
        slice(b[0].item(), b[1].item()), slice(b[3].item(), b[4].item()), 'EPSG:32631'
    )
    assert abs(from_bounds[1] - ref[1]) > 1e-7  # float32 bounds would be off


def test_plain_geoslice(series: tuple[SeriesDataset, list[dt.date]]) -> None:
    ds, dates = series
    sample = TemporalViewsDataset(ds)[X, Y, day(dates[1])]
    assert sample['image'].shape == (1, 4, SIZE, SIZE)
    assert_decodes(sample['image'], [dates[1]])
    assert sample['time'].tolist() == [seconds(dates[1])]


def test_collation_and_dataloader(series: tuple[SeriesDataset, list[dt.date]]) -> None:
    ds, dates = series
    wrapper = TemporalViewsDataset(ds)
    queries = [
        ViewsQuery(X, Y, (day(dates[0]), day(dates[1]))),
        ViewsQuery(
            slice(X.start, X.start + 80),
            slice(Y.stop - 80, Y.stop),
            (day(dates[2]), day(dates[1])),
        ),
    ]
    batch = stack_samples([wrapper[queries[0]], wrapper[queries[0]]])
    assert batch['image'].shape == (2, 2, 4, SIZE, SIZE)
    assert batch['point'].shape == (2, 2)
    assert batch['point'].dtype == torch.float64
    assert batch['time'].shape == (2, 2)
    assert batch['time'].dtype == torch.float64
    loader = DataLoader(
        wrapper, sampler=[queries[1]] * 3, batch_size=3, collate_fn=stack_samples
    )
    (loaded,) = list(loader)
    assert loaded['image'].shape == (3, 2, 4, 8, 8)
    assert loaded['time'][:, 0].tolist() == [seconds(dates[2])] * 3


def test_wrapper_is_a_geodataset(series: tuple[SeriesDataset, list[dt.date]]) -> None:
    ds, _ = series
    wrapper = TemporalViewsDataset(ds)
    assert isinstance(wrapper, GeoDataset)
    assert wrapper.index is ds.index
    assert wrapper.crs == ds.crs
    assert wrapper.res == ds.res
    assert len(wrapper) == len(ds) == 3
    assert 'wraps: SeriesDataset' in str(wrapper)
    # Picklable for DataLoader workers.
    clone = pickle.loads(pickle.dumps(wrapper))
    assert torch.equal(clone[X, Y]['image'], wrapper[X, Y]['image'])
    sampler = RandomPatchSampler(wrapper, size=8, length=4, generator=0)
    for query in sampler:
        sample = wrapper[query]
        assert sample['image'].shape == (1, 4, 8, 8)


def test_transforms_add_label(series: tuple[SeriesDataset, list[dt.date]]) -> None:
    ds, dates = series
    clusters = GeoClusters(num_clusters=2, seed=0).fit(
        np.array([[3.0, 51.4], [-60.0, 0.0]])
    )
    wrapper = TemporalViewsDataset(ds, transforms=AddGeoClusterLabel(clusters))
    sample = wrapper[ViewsQuery(X, Y, (day(dates[0]),))]
    assert sample['label'].dtype == torch.long
    assert (
        sample['label'].item() == clusters.predict(torch.tensor([[3.0, 51.4]])).item()
    )


def test_separate_files(tmp_path: Path) -> None:
    dates = monthly(2)
    write_band_files(tmp_path, dates)
    ds = BandFilesDataset(tmp_path)
    sample = TemporalViewsDataset(ds)[ViewsQuery(X, Y, (day(dates[1]), day(dates[0])))]
    assert sample['image'].shape == (2, 4, SIZE, SIZE)
    assert_decodes(sample['image'], [dates[1], dates[0]])


def test_intersection_with_mask(tmp_path: Path) -> None:
    dates = monthly(2)
    write_series(tmp_path / 'img', dates=dates)
    (tmp_path / 'mask').mkdir()
    mask = (np.arange(SIZE * SIZE).reshape(1, SIZE, SIZE) % 5).astype(np.uint8)
    with rasterio.open(
        tmp_path / 'mask' / 'mask_site.tif',
        'w',
        driver='GTiff',
        height=SIZE,
        width=SIZE,
        count=1,
        dtype='uint8',
        crs='EPSG:32631',
        transform=from_origin(*ORIGIN, RES, RES),
    ) as f:
        f.write(mask)
    ds = SeriesDataset(tmp_path / 'img') & MaskDataset(tmp_path / 'mask')
    wrapper = TemporalViewsDataset(ds)
    assert wrapper.nodata is None  # per view: SeriesDataset's 0, the mask's header
    sample = wrapper[ViewsQuery(X, Y, (day(dates[0]), day(dates[1])))]
    assert sample['image'].shape == (2, 4, SIZE, SIZE)
    assert_decodes(sample['image'], dates)
    assert sample['mask'].shape == (2, SIZE, SIZE)
    assert sample['mask'].dtype == torch.long
    assert torch.equal(sample['mask'][1], torch.from_numpy(mask[0]).long())
    assert sample['bounds'].shape == (18,)


def test_time_series_dataset(tmp_path: Path) -> None:
    dates = monthly(3)
    write_series(tmp_path, dates=dates)
    ds = SeriesDataset(tmp_path, time_series=True)
    wrapper = TemporalViewsDataset(ds)
    sample = wrapper[ViewsQuery(X, Y, (day(dates[0]), day(dates[2])))]
    assert sample['image'].shape == (2, 4, SIZE, SIZE)
    assert_decodes(sample['image'], [dates[0], dates[2]])
    both = slice(pd.Timestamp(dates[0]), pd.Timestamp(dates[1]) + pd.Timedelta(hours=1))
    with pytest.raises(ValueError, match=r'view 1 matched 2 acquisitions.*exactly one'):
        wrapper[ViewsQuery(X, Y, (day(dates[2]), both))]


def test_crs_without_epsg(tmp_path: Path) -> None:
    dates = monthly(2)
    write_series(
        tmp_path, dates=dates, crs=CUSTOM_TMERC, origin=(499_840.0, 5_000_000.0)
    )
    ds = SeriesDataset(tmp_path)
    assert ds.crs.to_epsg() is None
    x = slice(499_840.0, 500_160.0)
    y = slice(4_999_680.0, 5_000_000.0)
    sample = TemporalViewsDataset(ds)[ViewsQuery(x, y, (day(dates[0]), day(dates[1])))]
    lon, lat = sample['point'].tolist()
    assert lon == pytest.approx(3.5, abs=1e-9)  # on the central meridian
    assert (lon, lat) == pytest.approx(reference_lonlat(x, y, CUSTOM_TMERC), abs=1e-9)
    assert_decodes(sample['image'], dates)


def test_nodata_redraw(tmp_path: Path) -> None:
    dates = monthly(4)
    write_series(tmp_path, dates=dates, nodata_fraction={dates[0]: 0.5, dates[2]: 0.25})
    CountingSeriesDataset.reads = 0
    ds = CountingSeriesDataset(tmp_path)
    wrapper = TemporalViewsDataset(ds, max_nodata_fraction=0.3)
    query = ViewsQuery(
        X,
        Y,
        (day(dates[0]), day(dates[1])),
        alternates=((day(dates[2]), day(dates[1])),),
    )
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        sample = wrapper[query]
    assert sample['time'].tolist() == [seconds(dates[2]), seconds(dates[1])]
    # The alternate's first view has 25 % nodata rows, the rest decodes to its date.
    assert torch.all(sample['image'][0, :, :8] == 0)
    assert torch.all(sample['image'][0, 0, 8:] == pixel_value(dates[2], 0))
    assert wrapper.stats == stats(redrawn=1)
    assert CountingSeriesDataset.reads == 3  # dates[1] read once, reused
    # Without a threshold the first draw is used as is.
    plain = TemporalViewsDataset(ds)[query]
    assert plain['time'].tolist() == [seconds(dates[0]), seconds(dates[1])]


def test_nodata_none_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, '_WARNED', set())
    dates = monthly(3)
    write_series(tmp_path, dates=dates, nodata_fraction={dates[0]: 0.5, dates[2]: 0.75})
    wrapper = TemporalViewsDataset(SeriesDataset(tmp_path), max_nodata_fraction=0.1)
    query = ViewsQuery(
        X,
        Y,
        (day(dates[2]), day(dates[1])),
        alternates=((day(dates[0]), day(dates[1])),),
    )
    with pytest.warns(UserWarning, match=r'worst view has 0\.500.*once per process'):
        sample = wrapper[query]
    assert sample['time'].tolist() == [seconds(dates[0]), seconds(dates[1])]
    assert wrapper.stats == stats(nodata_exceeded=1)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # warned once per process only
        wrapper[query]
    assert wrapper.stats['nodata_exceeded'] == 2


class UndeclaredSeriesDataset(SeriesDataset):
    """SeriesDataset without a nodata value of its own: TorchGeo uses the files'."""

    nodata = None


def test_file_nodata_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, '_WARNED', set())
    # Landsat-style int16 files declaring -9999; the middle date is all nodata.
    dates = monthly(3)
    write_series(
        tmp_path,
        dates=dates,
        dtype='int16',
        nodata=-9999,
        nodata_fraction={dates[1]: 1},
    )
    wrapper = TemporalViewsDataset(UndeclaredSeriesDataset(tmp_path), on_nodata='skip')
    assert wrapper.nodata is None
    with pytest.warns(UserWarning, match='skipping the sample'):
        assert wrapper[ViewsQuery(X, Y, (day(dates[0]), day(dates[1])))] is None
    assert wrapper.stats == stats(nodata_exceeded=1, skipped=1)
    query = ViewsQuery(
        X,
        Y,
        (day(dates[1]), day(dates[2])),
        alternates=((day(dates[0]), day(dates[2])),),
    )
    sample = wrapper[query]
    assert sample['time'].tolist() == [seconds(dates[0]), seconds(dates[2])]
    assert wrapper.stats['redrawn'] == 1


def test_file_nodata_fraction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, '_WARNED', set())
    dates = monthly(2)
    write_series(
        tmp_path,
        dates=dates,
        dtype='int16',
        nodata=-9999,
        nodata_fraction={dates[0]: 0.5},
    )
    wrapper = TemporalViewsDataset(
        UndeclaredSeriesDataset(tmp_path), max_nodata_fraction=0.2, on_nodata='skip'
    )
    with pytest.warns(UserWarning, match=r'worst view has 0\.500'):
        assert wrapper[ViewsQuery(X, Y, (day(dates[0]), day(dates[1])))] is None
    # a value given by the caller wins over the files' header
    given = TemporalViewsDataset(
        UndeclaredSeriesDataset(tmp_path), max_nodata_fraction=0.2, nodata=7
    )
    assert given[ViewsQuery(X, Y, (day(dates[0]), day(dates[1])))] is not None
    assert given.stats == stats()


def test_zero_pixels_without_declared_nodata(tmp_path: Path) -> None:
    # No nodata in the files nor the dataset: 0 is a real value, not nodata.
    dates = monthly(2)
    write_series(tmp_path, dates=dates, nodata=None, nodata_fraction={dates[0]: 0.5})
    wrapper = TemporalViewsDataset(
        UndeclaredSeriesDataset(tmp_path), max_nodata_fraction=0.0, on_nodata='skip'
    )
    sample = wrapper[ViewsQuery(X, Y, (day(dates[0]), day(dates[1])))]
    assert sample is not None
    assert torch.all(sample['image'][0, :, :16] == 0)
    assert wrapper.stats == stats()


def test_explicit_nodata_value(tmp_path: Path) -> None:
    dates = monthly(2)
    write_series(tmp_path, dates=dates)
    value = pixel_value(dates[0], 0)  # band 0 only: not nodata in all bands
    wrapper = TemporalViewsDataset(
        SeriesDataset(tmp_path), max_nodata_fraction=0.0, nodata=value
    )
    assert wrapper.nodata == value
    wrapper[ViewsQuery(X, Y, (day(dates[0]),))]
    assert wrapper.stats == stats()


def test_truncated_geotiff(tmp_path: Path) -> None:
    dates = monthly(3)
    paths = write_series(tmp_path, dates=dates, size=128)
    ds = SeriesDataset(tmp_path)
    broken = paths[1]
    with open(broken, 'r+b') as f:
        f.truncate(broken.stat().st_size // 2)
    wrapper = TemporalViewsDataset(ds)
    x = slice(ORIGIN[0], ORIGIN[0] + 1280)
    y = slice(ORIGIN[1] - 1280, ORIGIN[1])
    wrapper[ViewsQuery(x, y, (day(dates[0]),))]  # other files still read
    with pytest.raises(
        ViewReadError, match=r'view 1 .*candidate file\(s\).*site_20210215\.tif'
    ) as info:
        wrapper[ViewsQuery(x, y, (day(dates[0]), day(dates[1])))]
    assert isinstance(info.value, OSError)
    assert isinstance(info.value.__cause__, RasterioError)
    assert str(paths[0]) not in str(info.value)


def test_invalid_queries(series: tuple[SeriesDataset, list[dt.date]]) -> None:
    ds, dates = series
    wrapper = TemporalViewsDataset(ds)
    with pytest.raises(ValueError, match='no time slices'):
        wrapper[ViewsQuery(X, Y, ())]
    bad = ViewsQuery(
        X, Y, (day(dates[0]), day(dates[1])), alternates=((day(dates[2]),),)
    )
    with pytest.raises(
        ValueError, match=r'as many views as t \(2\), got lengths \[1, 2\]'
    ):
        wrapper[bad]
    with pytest.raises(
        ValueError, match=r'max_nodata_fraction must be in \[0, 1\], got 1.5'
    ):
        TemporalViewsDataset(ds, max_nodata_fraction=1.5)
    with pytest.raises(TypeError, match='wraps a torchgeo GeoDataset'):
        TemporalViewsDataset([1, 2])  # type: ignore[arg-type]


class NoCRSDataset(GeoDataset):
    """Minimal GeoDataset whose index has no CRS."""

    def __init__(self) -> None:
        """Build a one-row index without CRS."""
        index = pd.IntervalIndex.from_tuples(
            [(pd.Timestamp('2021-01-01'), pd.Timestamp('2021-01-02'))],
            closed='both',
            name='datetime',
        )
        self.index = gpd.GeoDataFrame(
            {'filepath': ['a.tif']}, index=index, geometry=[shapely.box(0, 0, 1, 1)]
        )

    def __getitem__(self, index: Any) -> dict[str, torch.Tensor]:
        """Never reached: construction of the wrapper fails first."""
        raise NotImplementedError


class BrokenCRSDataset(NoCRSDataset):
    """GeoDataset whose crs property raises."""

    @property
    def crs(self) -> pyproj.CRS:
        """Fail like a dataset whose index was never built."""
        raise AttributeError('index not built')


def test_dataset_without_crs() -> None:
    assert NoCRSDataset().crs is None
    with pytest.raises(
        ValueError, match=r'NoCRSDataset has no CRS \(dataset.crs is None'
    ):
        TemporalViewsDataset(NoCRSDataset())
    with pytest.raises(
        ValueError, match='BrokenCRSDataset has no usable CRS.*index not built'
    ):
        TemporalViewsDataset(BrokenCRSDataset())


def test_timestamp_seconds() -> None:
    assert timestamp_seconds(pd.Timestamp('1970-01-02')) == 86_400.0
    assert timestamp_seconds(dt.datetime(1970, 1, 1, 1)) == 3_600.0
    assert (
        timestamp_seconds(pd.Timestamp('1970-01-01T02:00', tz='Europe/Paris'))
        == 3_600.0
    )


def test_real_landsat_colorado(shared_data: Path) -> None:
    root = shared_data / 'landsat-timeseries-colorado'
    if not root.is_dir():
        pytest.skip('landsat-timeseries-colorado is not present')
    ds = ColoradoLandsat(root)
    wrapper = TemporalViewsDataset(ds)
    xb, yb, _ = wrapper.bounds
    cx, cy = (xb.start + xb.stop) / 2, (yb.start + yb.stop) / 2
    half = 8 * ds.res[0]
    x, y = slice(cx - half, cx + half), slice(cy - half, cy + half)
    intervals = ds.index.index.sort_values()
    t = (
        slice(intervals[0].left, intervals[0].right),
        slice(intervals[5].left, intervals[5].right),
    )
    sample = wrapper[ViewsQuery(x, y, t)]
    assert sample['image'].shape == (2, 3, 16, 16)
    assert not torch.equal(sample['image'][0], sample['image'][1])
    lon, lat = sample['point'].tolist()
    assert lon == pytest.approx(-106.91, abs=0.03)
    assert lat == pytest.approx(40.29, abs=0.03)
    assert sample['time'].tolist() == [
        timestamp_seconds(intervals[0].left),
        timestamp_seconds(intervals[5].left),
    ]


class RGBSeries(SeriesDataset):
    """SeriesDataset whose red, green and blue are b3, b2 and b1."""

    rgb_bands = ('b3', 'b2', 'b1')


def plot_query(dates: list[dt.date]) -> ViewsQuery:
    return ViewsQuery(X, Y, tuple(day(d) for d in dates))


@pytest.mark.parametrize(
    ('dataset_class', 'expected'),
    [(RGBSeries, [1.0, 0.5, 0.0]), (SeriesDataset, [0.0, 0.5, 1.0])],
)
def test_plot_views_side_by_side_with_dates(
    tmp_path: Path, dataset_class: type[RasterDataset], expected: list[float]
) -> None:
    dates = monthly(3)
    write_series(tmp_path, dates=dates)
    ds = TemporalViewsDataset(dataset_class(paths=str(tmp_path)))
    sample = ds[plot_query(dates)]
    fig = ds.plot(sample, suptitle='three dates')
    assert len(fig.axes) == 3
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [f'{d:%Y-%m-%d}' for d in dates]
    assert fig.texts[0].get_text() == 'three dates'  # the suptitle
    # every band is constant, b1 < b2 < b3 equally spaced (pixel_value): the pooled
    # 2-98 % stretch of the shown bands maps b1 to 0, b2 to 0.5 and b3 to 1, shown
    # in the order of rgb_bands (the first three bands when none are declared)
    for ax in fig.axes:
        shown = np.asarray(ax.images[0].get_array())
        np.testing.assert_allclose(shown[5, 5], expected, atol=1e-9)
    untitled = ds.plot(sample, show_titles=False)
    assert [ax.get_title() for ax in untitled.axes] == ['', '', '']


def test_plot_missing_rgb_bands(tmp_path: Path) -> None:
    dates = monthly(2)
    write_series(tmp_path, dates=dates)
    ds = TemporalViewsDataset(RGBSeries(paths=str(tmp_path), bands=['b1', 'b4']))
    sample = ds[plot_query(dates)]
    with pytest.raises(RGBBandsMissingError):
        ds.plot(sample)

"""Faults while reading views: unreadable files, NaN/inf pixels, nodata, band counts."""

import datetime as dt
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import torch
from conftest import SeriesDataset, monthly, pixel_value, write_series
from rasterio.transform import from_origin
from torch.utils.data import DataLoader
from torchgeo.datasets import RasterDataset

from torchgeo_geossl.datasets import views
from torchgeo_geossl.datasets.bands import BandCountError, check_band_counts
from torchgeo_geossl.datasets.views import (
    TemporalViewsDataset,
    ViewReadError,
    stack_samples_skipping,
)
from torchgeo_geossl.faults import NonFiniteError
from torchgeo_geossl.samplers.query import ViewsQuery

ORIGIN = (500_000.0, 5_700_000.0)
X = slice(ORIGIN[0], ORIGIN[0] + 320.0)
Y = slice(ORIGIN[1] - 320.0, ORIGIN[1])


def day(date: dt.date) -> slice:
    start = pd.Timestamp(date)
    return slice(start, start + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1))


def seconds(date: dt.date) -> float:
    return (pd.Timestamp(date) - pd.Timestamp('1970-01-01')).total_seconds()


def truncate(path: Path) -> None:
    with open(path, 'r+b') as f:
        f.truncate(path.stat().st_size // 2)


def write_float(path: Path, data: np.ndarray) -> None:
    """One float32 GeoTIFF over the default tile of write_series."""
    with rasterio.open(
        path,
        'w',
        driver='GTiff',
        height=data.shape[1],
        width=data.shape[2],
        count=data.shape[0],
        dtype='float32',
        crs='EPSG:32631',
        transform=from_origin(*ORIGIN, 10.0, 10.0),
    ) as f:
        f.write(data.astype(np.float32))


class AnyBandsDataset(RasterDataset):
    """Like SeriesDataset, but without all_bands: every band of each file is read."""

    filename_glob = '*.tif'
    filename_regex = r'^(?P<site>[a-z0-9]+)_(?P<date>\d{8})\.tif$'
    date_format = '%Y%m%d'


class NanNodataDataset(SeriesDataset):
    """Float series whose nodata value is NaN."""

    nodata = float('nan')


def print_warnings(worker_id: int) -> None:
    """Print warnings to stderr in a worker, as Python does outside pytest."""

    def show(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno))

    warnings.showwarning = show


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the once-per-process warnings again."""
    monkeypatch.setattr(views, '_WARNED', set())


@pytest.fixture
def broken(tmp_path: Path) -> tuple[SeriesDataset, list[dt.date], Path]:
    """Three dates whose second file is truncated after the index was built."""
    dates = monthly(3)
    paths = write_series(tmp_path, dates=dates, size=128)
    ds = SeriesDataset(tmp_path)
    truncate(paths[1])
    return ds, dates, paths[1]


def test_unreadable_file_is_skipped_with_a_warning(
    broken: tuple[SeriesDataset, list[dt.date], Path],
) -> None:
    ds, dates, bad = broken
    wrapper = TemporalViewsDataset(ds, on_read_error='skip')
    query = ViewsQuery(
        X,
        Y,
        (day(dates[0]), day(dates[1])),
        alternates=((day(dates[0]), day(dates[2])),),
    )
    with pytest.warns(UserWarning, match='Skipping it') as record:
        sample = wrapper[query]
    assert sample is not None
    # the alternate draw avoids the broken file
    assert sample['time'].tolist() == [seconds(dates[0]), seconds(dates[2])]
    assert torch.all(sample['image'][1, 0] == pixel_value(dates[2], 0))
    assert len(record) == 1
    message = str(record[0].message)
    assert bad.name in message
    assert "on_read_error='skip'" in message
    assert '1 unreadable view(s) so far in this process' in message
    assert wrapper.stats['read_errors'] == 1
    assert wrapper.stats['redrawn'] == 1

    # no readable draw: the sample is skipped; the file was already reported
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert wrapper[ViewsQuery(X, Y, (day(dates[1]), day(dates[0])))] is None
    assert wrapper.stats['read_errors'] == 2
    assert wrapper.stats['skipped'] == 1


def test_unreadable_file_raises_by_default(
    broken: tuple[SeriesDataset, list[dt.date], Path],
) -> None:
    ds, dates, bad = broken
    wrapper = TemporalViewsDataset(ds)
    query = ViewsQuery(
        X,
        Y,
        (day(dates[0]), day(dates[1])),
        alternates=((day(dates[0]), day(dates[2])),),
    )
    with pytest.raises(ViewReadError, match=rf'view 1 .*{bad.name}'):
        wrapper[query]


def test_skipped_samples_leave_the_batch_with_workers(
    broken: tuple[SeriesDataset, list[dt.date], Path], capfd: pytest.CaptureFixture[str]
) -> None:
    ds, dates, bad = broken
    wrapper = TemporalViewsDataset(ds, on_read_error='skip')
    queries = [
        ViewsQuery(X, Y, (day(dates[0]), day(dates[2]))),
        ViewsQuery(X, Y, (day(dates[1]), day(dates[2]))),
        ViewsQuery(X, Y, (day(dates[2]), day(dates[0]))),
        ViewsQuery(X, Y, (day(dates[0]), day(dates[1]))),
    ]
    loader = DataLoader(
        wrapper,
        sampler=queries,  # type: ignore[arg-type]
        batch_size=2,
        num_workers=1,
        collate_fn=stack_samples_skipping,
        worker_init_fn=print_warnings,
    )
    batches = list(loader)
    assert [len(b['image']) for b in batches] == [1, 1]
    assert [b['skipped'].tolist() for b in batches] == [[1], [1]]
    assert batches[0]['time'][0].tolist() == [seconds(dates[0]), seconds(dates[2])]
    # the worker's counts stay in the worker; its warning reaches stderr
    assert wrapper.stats['read_errors'] == 0
    assert bad.name in capfd.readouterr().err


def test_stack_samples_skipping() -> None:
    sample = {'image': torch.ones(2, 4, 3, 3)}
    batch = stack_samples_skipping([None, sample, sample])
    assert batch['image'].shape == (2, 2, 4, 3, 3)
    assert batch['skipped'].dtype == torch.int64
    assert batch['skipped'].tolist() == [1, 0]
    assert stack_samples_skipping([sample])['skipped'].tolist() == [0]
    # each drop is counted on the next kept sample, trailing drops on the last
    counts = stack_samples_skipping([sample, None, None, sample, None])['skipped']
    assert counts.tolist() == [0, 3]
    with pytest.raises(ValueError, match='all 2 samples of a batch were skipped'):
        stack_samples_skipping([None, None])


def test_nonfinite_pixels_raise_with_where(tmp_path: Path) -> None:
    write_series(tmp_path, dates=monthly(1))
    data = np.full((4, 32, 32), 7.0)
    data[2, :2, :3] = np.nan
    data[2, 5, 5] = np.inf
    write_float(tmp_path / 'site_20210215.tif', data)
    wrapper = TemporalViewsDataset(SeriesDataset(tmp_path))
    dates = monthly(2)
    with pytest.raises(NonFiniteError) as info:
        wrapper[ViewsQuery(X, Y, (day(dates[0]), day(dates[1])))]
    message = str(info.value)
    assert 'view 1' in message
    assert 'band 2: 6 NaN, 1 inf of 1024 pixels' in message
    assert 'site_20210215.tif' in message
    assert 'site_20210115.tif' not in message
    assert "on_nonfinite='nodata'" in message


def test_nonfinite_pixels_as_nodata(tmp_path: Path) -> None:
    dates = monthly(3)
    write_series(tmp_path, dates=[dates[0], dates[2]])
    data = np.full((4, 32, 32), 7.0)
    data[:, :16] = np.nan  # half of the tile in every band
    data[0, 20, 20] = -np.inf  # one pixel of one band: not nodata in all bands
    write_float(tmp_path / 'site_20210215.tif', data)
    wrapper = TemporalViewsDataset(
        SeriesDataset(tmp_path), on_nonfinite='nodata', max_nodata_fraction=0.25
    )
    query = ViewsQuery(
        X,
        Y,
        (day(dates[0]), day(dates[1])),
        alternates=((day(dates[0]), day(dates[2])),),
    )
    with pytest.warns(
        UserWarning, match=r"treated as nodata \(on_nonfinite='nodata'\)"
    ):
        sample = wrapper[query]
    assert sample is not None
    # half of the view is nodata now: the alternate draw is used
    assert sample['time'].tolist() == [seconds(dates[0]), seconds(dates[2])]
    assert wrapper.stats['nonfinite'] == 1
    # without a limit the view is served, with the non-finite pixels set to nodata
    plain = TemporalViewsDataset(SeriesDataset(tmp_path), on_nonfinite='nodata')
    image = plain[ViewsQuery(X, Y, (day(dates[1]),))]['image']  # type: ignore[index]
    assert torch.isfinite(image).all()
    assert torch.all(image[0, :, :16] == 0)
    assert image[0, 0, 20, 20] == 0
    assert torch.all(image[0, 1, 16:] == 7)


def test_nan_nodata_is_filled_and_counted(tmp_path: Path) -> None:
    dates = monthly(2)
    for date, rows in zip(dates, (8, 24), strict=True):
        data = np.full((4, 32, 32), 3.0)
        data[:, :rows] = np.nan
        write_float(tmp_path / f'site_{date:%Y%m%d}.tif', data)
    ds = NanNodataDataset(tmp_path)
    wrapper = TemporalViewsDataset(ds, max_nodata_fraction=0.5)
    assert np.isnan(wrapper.nodata)
    query = ViewsQuery(X, Y, (day(dates[1]),), alternates=((day(dates[0]),),))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        sample = wrapper[query]
    assert sample is not None
    assert sample['time'].tolist() == [seconds(dates[0])]  # 75 % NaN rejected
    assert torch.all(sample['image'][0, :, :8] == 0)  # NaN nodata filled with 0
    assert torch.all(sample['image'][0, :, 8:] == 3)
    assert wrapper.stats['nonfinite'] == 0


def test_infinite_pixels_are_not_nan_nodata(tmp_path: Path) -> None:
    data = np.full((4, 32, 32), 3.0)
    data[:, :8] = np.nan
    data[1, 30, 30] = np.inf
    write_float(tmp_path / 'site_20210115.tif', data)
    wrapper = TemporalViewsDataset(NanNodataDataset(tmp_path))
    with pytest.raises(NonFiniteError, match=r'band 1: 0 NaN, 1 inf of 1024'):
        wrapper[ViewsQuery(X, Y, (day(monthly(1)[0]),))]


def test_all_nodata_views(tmp_path: Path) -> None:
    dates = monthly(3)
    write_series(tmp_path, dates=dates, nodata_fraction={dates[1]: 1.0})
    ds = SeriesDataset(tmp_path)
    empty = ViewsQuery(X, Y, (day(dates[0]), day(dates[1])))
    redrawn = empty._replace(alternates=((day(dates[0]), day(dates[2])),))

    # no limit set: a view without any valid pixel is still rejected
    wrapper = TemporalViewsDataset(ds)
    sample = wrapper[redrawn]
    assert sample is not None
    assert sample['time'].tolist() == [seconds(dates[0]), seconds(dates[2])]
    assert wrapper.stats['redrawn'] == 1

    with pytest.warns(
        UserWarning, match=r'at least one valid pixel.*worst view has 1\.000'
    ):
        sample = wrapper[empty]
    assert sample is not None
    assert torch.all(sample['image'][1] == 0)
    assert wrapper.stats['nodata_exceeded'] == 1

    skipping = TemporalViewsDataset(ds, on_nodata='skip')
    with pytest.warns(UserWarning, match='skipping the sample'):
        assert skipping[empty] is None
    assert skipping.stats['skipped'] == 1
    assert skipping.stats['nodata_exceeded'] == 1

    # explicitly allowed
    allowing = TemporalViewsDataset(ds, max_nodata_fraction=1.0, on_nodata='skip')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert allowing[empty] is not None


def test_band_counts_checked_at_construction(tmp_path: Path) -> None:
    dates = monthly(4)
    write_series(tmp_path, dates=dates[:3])
    write_series(tmp_path, dates=dates[3:], bands=3)
    with pytest.raises(BandCountError) as info:
        TemporalViewsDataset(SeriesDataset(tmp_path))
    message = str(info.value)
    assert "reads bands ('b1', 'b2', 'b3', 'b4') (band indexes [1, 2, 3, 4])" in message
    assert 'fewer than 4 bands: 3 band(s):' in message
    assert 'site_20210415.tif' in message
    assert 'site_20210115.tif' not in message

    with pytest.raises(BandCountError) as info:
        TemporalViewsDataset(AnyBandsDataset(tmp_path))
    message = str(info.value)
    assert 'different numbers of bands: 4 band(s):' in message
    assert '(+0 more)' not in message
    assert '; 3 band(s): ' in message
    assert message.index('site_20210115.tif') < message.index('3 band(s)')
    assert message.index('site_20210415.tif') > message.index('3 band(s)')


def test_files_with_more_bands_than_selected_are_fine(tmp_path: Path) -> None:
    dates = monthly(2)
    write_series(tmp_path, dates=dates[:1], bands=4)
    write_series(tmp_path, dates=dates[1:], bands=5)
    check_band_counts(SeriesDataset(tmp_path, bands=('b1', 'b2')))


def test_band_counts_checked_on_read(tmp_path: Path) -> None:
    dates = monthly(3)
    write_series(tmp_path, dates=dates[:2])
    write_series(tmp_path, dates=dates[2:], bands=3)
    query = ViewsQuery(X, Y, (day(dates[0]), day(dates[2])))

    lazy = TemporalViewsDataset(SeriesDataset(tmp_path), band_check_max_files=0)
    lazy[ViewsQuery(X, Y, (day(dates[0]), day(dates[1])))]
    with pytest.raises(
        BandCountError, match=r'fewer than 4 bands: 3 band\(s\): \S*site_20210315'
    ):
        lazy[query]

    any_bands = TemporalViewsDataset(AnyBandsDataset(tmp_path), band_check_max_files=2)
    with pytest.raises(BandCountError) as info:
        any_bands[query]
    message = str(info.value)
    assert 'different numbers of bands' in message
    assert 'site_20210315.tif' in message  # the file read
    assert 'site_20210115.tif' in message  # the reference, first of the index


def test_transforms_may_change_the_band_count(tmp_path: Path) -> None:
    dates = monthly(2)
    write_series(tmp_path, dates=dates)

    def add_index(sample: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        image = sample['image']
        ratio = (image[3:4] - image[2:3]) / (image[3:4] + image[2:3])
        return {**sample, 'image': torch.cat([image, ratio])}

    views = TemporalViewsDataset(SeriesDataset(tmp_path, transforms=add_index))
    sample = views[ViewsQuery(X, Y, (day(dates[0]), day(dates[1])))]
    assert sample is not None
    assert sample['image'].shape[1] == 5


def test_invalid_options(tmp_path: Path) -> None:
    write_series(tmp_path, dates=monthly(1))
    ds = SeriesDataset(tmp_path)
    with pytest.raises(
        ValueError,
        match=r"on_read_error must be one of \['raise', 'skip'\], got 'ignore'",
    ):
        TemporalViewsDataset(ds, on_read_error='ignore')  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='on_nonfinite must be one of'):
        TemporalViewsDataset(ds, on_nonfinite='zero')  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='on_nodata must be one of'):
        TemporalViewsDataset(ds, on_nodata='drop')  # type: ignore[arg-type]

"""The full temporal-views pipeline on real imagery from ../shared/data.

Skipped when the shared data folder (or one of its sub-folders) is absent. The
dataset classes follow the recipes of ``shared/data/README.md``.
"""

import datetime as dt
import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely
import shapely.geometry
import torch
from conftest import ColoradoLandsat
from torch.utils.data import DataLoader
from torchgeo.datasets import GeoDataset, RasterDataset, UnionDataset, stack_samples

from torchgeo_geossl.datamodules import TemporalGeoDataModule
from torchgeo_geossl.datasets import TemporalViewsDataset
from torchgeo_geossl.samplers import (
    ScatteredPatchSampler,
    TemporalViewSampler,
    ViewsQuery,
)

OSCD_BANDS = (
    'B01',
    'B02',
    'B03',
    'B04',
    'B05',
    'B06',
    'B07',
    'B08',
    'B8A',
    'B09',
    'B10',
    'B11',
    'B12',
)

#: Centre of the Colorado Landsat window (README: 40.29°N, 106.91°W).
COLORADO_LONLAT = (-106.91, 40.29)


def oscd_dates(city_dir: Path) -> dict[int, dt.date]:
    """Acquisition dates of an OSCD city from its ``dates.txt`` (epoch -> date)."""
    dates = {}
    for line in (city_dir / 'dates.txt').read_text().splitlines():
        if not line.strip():
            continue
        key, value = line.split(':')
        epoch = int(key.strip().removeprefix('date_'))
        dates[epoch] = dt.datetime.strptime(value.strip(), '%Y%m%d').date()
    return dates


class OSCDEpoch(RasterDataset):
    """One epoch of one OSCD city: 13 Sentinel-2 bands, one file per band.

    The ``imgs_1`` file names hold the processing time, not the acquisition time,
    so the regex has no ``date`` group and every file is stamped with the day of
    ``dates.txt`` through ``mint``/``maxt``.
    """

    filename_glob = '*_B02.tif'
    filename_regex = r'^(?P<stem>.+)_(?P<band>B\d[\dA])\.tif$'
    separate_files = True
    all_bands = OSCD_BANDS

    def __init__(self, city_dir: Path, epoch: int, **kwargs: Any) -> None:
        """Index ``city_dir/imgs_<epoch>`` at the date of ``dates.txt``."""
        day = pd.Timestamp(oscd_dates(city_dir)[epoch])
        self.mint = day
        self.maxt = day + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        super().__init__(paths=city_dir / f'imgs_{epoch}', **kwargs)


def utc_seconds(day: dt.date) -> float:
    """Seconds since the Unix epoch of 00:00 UTC on *day*."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def subfolder(shared_data: Path, *parts: str) -> Path:
    """``shared_data/<parts>``; skips the test when it is absent."""
    path = shared_data.joinpath(*parts)
    if not path.is_dir():
        pytest.skip(f'{path} is not present')
    return path


def oscd_city(shared_data: Path, city: str) -> tuple[OSCDEpoch, OSCDEpoch, GeoDataset]:
    """Both epochs of *city* on one grid and their union."""
    city_dir = subfolder(shared_data, 'oscd-s2-bitemporal', city)
    first = OSCDEpoch(city_dir, 1)
    second = OSCDEpoch(city_dir, 2, crs=first.crs, res=first.res)
    return first, second, first | second


def city_polygon(shared_data: Path, city: str) -> shapely.Geometry:
    """The bounding polygon (lon/lat) of an OSCD city."""
    path = shared_data / 'oscd-s2-bitemporal' / city / f'{city}.geojson'
    features = json.loads(path.read_text())['features']
    return shapely.union_all([shapely.geometry.shape(f['geometry']) for f in features])


@pytest.mark.parametrize('city', ['norcia', 'bercy'])
def test_oscd_union_of_epochs_gives_bitemporal_views(
    shared_data: Path, city: str
) -> None:
    first, second, ds = oscd_city(shared_data, city)
    assert isinstance(ds, UnionDataset)
    assert ds.crs.to_epsg() == 4326
    # One index row per epoch, each with its own acquisition day
    dates = oscd_dates(shared_data / 'oscd-s2-bitemporal' / city)
    assert sorted(i.left.date() for i in ds.index.index) == [dates[1], dates[2]]

    sampler = ScatteredPatchSampler(
        ds, size=32, length=8, generator=0
    ) @ TemporalViewSampler(ds, views=2, generator=0)
    views = TemporalViewsDataset(ds)
    polygon = city_polygon(shared_data, city)
    expected_times = {utc_seconds(dates[1]), utc_seconds(dates[2])}
    epoch_of = {utc_seconds(dates[1]): first, utc_seconds(dates[2]): second}

    queries = [query for query in sampler]
    assert len(queries) == 8
    for query in queries:
        assert isinstance(query, ViewsQuery)
        sample = views[query]
        image = sample['image']
        assert image.shape == (2, 13, 32, 32)
        times = sample['time'].tolist()
        assert set(times) == expected_times
        assert not torch.equal(image[0], image[1])
        # Each view is exactly its epoch read alone: the union did not mosaic them
        for i, seconds in enumerate(times):
            alone = epoch_of[seconds][query.view(i)]['image']
            assert torch.equal(image[i], alone)
        # EPSG:4326: the patch centre (lon, lat) and the patch box are in degrees
        lon, lat = sample['point'].tolist()
        assert polygon.contains(shapely.Point(lon, lat))
        assert lon == pytest.approx((query.x.start + query.x.stop) / 2)
        assert lat == pytest.approx((query.y.start + query.y.stop) / 2)
        patch = shapely.box(query.x.start, query.y.start, query.x.stop, query.y.stop)
        assert polygon.covers(patch)


def test_oscd_dataloader_with_stack_samples(shared_data: Path) -> None:
    _, _, ds = oscd_city(shared_data, 'norcia')
    sampler = ScatteredPatchSampler(
        ds, size=32, length=8, generator=1
    ) @ TemporalViewSampler(ds, views=2, generator=1)
    loader = DataLoader(
        TemporalViewsDataset(ds),
        batch_size=4,
        sampler=sampler,
        collate_fn=stack_samples,
    )
    batches = [batch for batch in loader]
    assert len(batches) == 2
    for batch in batches:
        assert batch['image'].shape == (4, 2, 13, 32, 32)
        assert batch['image'].dtype == torch.float32
        assert batch['time'].shape == (4, 2)
        assert batch['point'].shape == (4, 2)
        assert batch['point'].dtype == torch.float64
        # Two distinct acquisitions per location
        assert bool((batch['time'][:, 0] != batch['time'][:, 1]).all())


class ColoradoLandsatFileNodata(ColoradoLandsat):
    """ColoradoLandsat without a nodata value: the files' header declares -9999."""

    nodata = None


@pytest.mark.parametrize('dataset_class', [ColoradoLandsat, ColoradoLandsatFileNodata])
def test_landsat_colorado_datamodule(
    shared_data: Path, dataset_class: type[ColoradoLandsat]
) -> None:
    root = subfolder(shared_data, 'landsat-timeseries-colorado')
    dm = TemporalGeoDataModule(
        dataset_class,
        views=2,
        min_gap='60D',
        max_nodata_fraction=0.1,
        redraws=3,
        patch_size=32,
        batch_size=4,
        length=8,
        geo_clusters=None,
        mean=0,
        std=10000,
        paths=str(root),
    )
    dm.setup('fit')
    with warnings.catch_warnings():
        # A location whose 4 draws all exceed the nodata limit warns once per
        # process; it is counted in stats and checked below.
        warnings.filterwarnings('ignore', message='No draw of')
        batch = next(iter(dm.train_dataloader()))

    raw = batch['image'].clone()
    # locations whose 4 draws all exceed the nodata limit are left out (on_nodata)
    kept = len(raw)
    assert kept + int(batch['skipped'].sum()) == 4
    assert kept >= 1
    assert raw.shape == (kept, 2, 3, 32, 32)
    assert batch['time'].shape == (kept, 2)
    gaps = (batch['time'][:, 0] - batch['time'][:, 1]).abs()
    assert bool((gaps >= 60 * 86_400).all()), gaps.tolist()
    lon = batch['point'][:, 0]
    lat = batch['point'][:, 1]
    assert bool(((lon - COLORADO_LONLAT[0]).abs() <= 0.05).all()), lon.tolist()
    assert bool(((lat - COLORADO_LONLAT[1]).abs() <= 0.05).all()), lat.tolist()

    # No served view is above the nodata limit; the skipped locations are counted
    nodata = (raw == ColoradoLandsat.nodata).all(dim=2).float().mean(dim=(2, 3))
    assert bool((nodata <= 0.1).all()), nodata.tolist()
    assert isinstance(dm.train_dataset, TemporalViewsDataset)
    stats = dm.train_dataset.stats
    assert stats['nodata_exceeded'] == stats['skipped'] == int(batch['skipped'].sum())
    assert dm.temporal_sampler.stats['redraw_alternates'] == 3 * 4

    out = dm.on_after_batch_transfer(batch, 0)
    torch.testing.assert_close(out['image'], raw / 10_000)

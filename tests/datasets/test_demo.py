import hashlib
import json
import os
import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import rasterio
import torch
from matplotlib.figure import Figure
from pyproj import CRS
from torchgeo.datasets import DatasetNotFoundError
from torchgeo.datasets.errors import RGBBandsMissingError

from torchgeo_geossl.datasets.demo import (
    DEMO_BANDS,
    DEMO_LOCATIONS,
    MANIFEST_NAME,
    DemoLocation,
    DemoTimeSeries,
    demo_dates,
    demo_filename,
    generate_demo_data,
    main,
)

matplotlib.use('Agg')
import matplotlib.pyplot as plt

FIXTURE = Path(__file__).resolve().parents[1] / 'data' / 'demo'
LOCATIONS = {location.name: location for location in DEMO_LOCATIONS}


def digests(root: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.iterdir())
    }


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as f:
        return f.read()


def manifest(root: Path) -> dict:
    return json.loads((root / MANIFEST_NAME).read_text())


@pytest.fixture(scope='module')
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default collection (all locations, default dates) at 32 x 32 px."""
    root = tmp_path_factory.mktemp('demo')
    generate_demo_data(root, size=32)
    return root


@pytest.fixture(scope='module')
def dataset() -> DemoTimeSeries:
    return DemoTimeSeries(FIXTURE)


def ndvi(data: np.ndarray) -> float:
    """Mean NDVI of the valid, cloud-free pixels of a [4, H, W] uint16 tile."""
    blue, red, nir = data[0].astype(float), data[2].astype(float), data[3].astype(float)
    clear = (data > 0).all(0) & (blue < 2500)
    return float(np.mean((nir[clear] - red[clear]) / (nir[clear] + red[clear])))


def acquisition(root: Path, site: str, month: int) -> dict:
    """Manifest entry of *site*'s acquisition in *month*."""
    (entry,) = [e for e in manifest(root)['locations'] if e['name'] == site]
    (found,) = [a for a in entry['acquisitions'] if int(a['date'][5:7]) == month]
    return found


def test_location_requirements() -> None:
    assert len(DEMO_LOCATIONS) >= 8
    assert any(loc.lat > 0 for loc in DEMO_LOCATIONS)
    assert any(loc.lat < 0 for loc in DEMO_LOCATIONS)
    zones = {loc.epsg % 100 for loc in DEMO_LOCATIONS}
    assert len(zones) >= 3
    near = [loc for loc in DEMO_LOCATIONS if 180 - abs(loc.lon) <= 1]
    assert near
    assert near[0].epsg == 32760
    assert len(LOCATIONS) == len(DEMO_LOCATIONS)
    assert all(re.fullmatch('[a-z0-9]+', name) for name in LOCATIONS)


@pytest.mark.parametrize(
    ('lon', 'lat', 'epsg'),
    [
        (1.6, 48.3, 32631),
        (179.8, -16.75, 32760),
        (-60.5, -33.9, 32720),
        (6.0, 50.0, 32631),
    ],
)
def test_location_epsg(lon: float, lat: float, epsg: int) -> None:
    assert DemoLocation('x', 'x', lon, lat).epsg == epsg


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'name': 'Bad_Name'}, 'lowercase ASCII'),
        ({'lat': 85.0}, 'outside lon'),
        ({'lon': 181.0}, 'outside lon'),
        ({'water': 0.6, 'forest': 0.6}, 'sum to at most 1'),
        ({'urban': -0.1}, 'non-negative'),
        ({'parcel_size': 0.0}, 'parcel_size=0.0'),
        ({'soil': (0.1, 0.1, 0.1)}, r'soil=\(0.1, 0.1, 0.1\) must be 4 reflectances'),
        ({'soil': (0.1, 0.1, 0.1, 1.5)}, 'between 0 and 1'),
        ({'crops': (('rice', 1.0),)}, r"unknown crop types \['rice'\]"),
        ({'crops': (('meadow', 0.5), ('fallow', 0.4))}, 'shares summing to 1'),
        ({'crops': ()}, 'shares summing to 1'),
        ({'vegetation': 'jungle'}, "vegetation='jungle' is not one of"),
        ({'parcel_aspect': 0.5}, 'parcel_aspect=0.5 must be at least 1'),
        ({'turbidity': 2.0}, 'turbidity=2.0 must be between 0 and 1'),
    ],
)
def test_location_invalid(kwargs: dict, match: str) -> None:
    args = {'name': 'site', 'region': 'r', 'lon': 0.0, 'lat': 0.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        DemoLocation(**args)


def test_location_dates() -> None:
    for location in DEMO_LOCATIONS:
        dates = demo_dates(location, 6, 2021)
        assert len(dates) == 6
        assert dates == sorted(set(dates))
        assert all(d.year == 2021 for d in dates)
        assert (dates[-1] - dates[0]).days > 250
    assert len(demo_dates(DEMO_LOCATIONS[0])) >= 6


@pytest.mark.parametrize(
    ('n', 'year', 'match'),
    [
        (0, 2021, 'dates_per_location=0'),
        (53, 2021, 'between 1 and 52'),
        (6, 0, 'year=0'),
    ],
)
def test_location_dates_invalid(n: int, year: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        demo_dates(DEMO_LOCATIONS[0], n, year)


def test_generate_files(generated: Path) -> None:
    for location in DEMO_LOCATIONS:
        dates = demo_dates(location)
        assert len(dates) >= 6
        for date in dates:
            path = generated / demo_filename(location, date)
            with rasterio.open(path) as f:
                assert f.count == 4
                assert f.dtypes == ('uint16',) * 4
                assert f.nodata == 0
                assert f.descriptions == DEMO_BANDS
                assert f.crs.to_epsg() == location.epsg
                assert f.res == (10.0, 10.0)
                assert (f.width, f.height) == (32, 32)
                tags = f.tags()
                assert tags['SYNTHETIC'] == 'yes'
                assert tags['ACQUISITION_DATE'] == date.isoformat()
                data = f.read()
                # Tile centred on the location.
                x, y = f.xy(16, 16)
            lon, lat = rasterio.warp.transform(f.crs, 'EPSG:4326', [x], [y])
            assert lon[0] == pytest.approx(location.lon, abs=0.01)
            assert lat[0] == pytest.approx(location.lat, abs=0.01)
            assert data.max() <= 10_000
            # A pixel is either nodata in all bands or valid in all bands.
            zero = data == 0
            np.testing.assert_array_equal(zero.all(0), zero.any(0))


def test_generate_clouds_and_nodata(generated: Path) -> None:
    for entry in manifest(generated)['locations']:
        cloudy = [a for a in entry['acquisitions'] if a['cloud_cover'] > 0]
        cut = [a for a in entry['acquisitions'] if a['nodata_fraction'] > 0]
        assert cloudy
        assert cut
        for a in entry['acquisitions']:
            data = read(generated / a['file'])
            nodata = (data == 0).all(0).mean()
            assert nodata == pytest.approx(a['nodata_fraction'], abs=0.02)
            if LOCATIONS[entry['name']].snow:
                continue
            bright = (data[:3] > 2500).all(0).mean()
            if a['cloud_cover'] > 0:
                assert bright >= a['cloud_cover'] - nodata - 0.05
                assert bright > 0
            else:
                assert bright == 0


def site_ndvi(root: Path, site: str, month: int) -> float:
    """Mean NDVI of *site*'s clear pixels in *month* (NaN where none is clear)."""
    data = read(root / acquisition(root, site, month)['file'])
    clear = (data > 0).all(0) & (data[0] < 2500)
    if not clear.any():
        return float('nan')
    return ndvi(data)


def test_generate_seasons(generated: Path) -> None:
    def change(site: str) -> float:
        """Mean NDVI of April to September minus that of October to March."""
        values = [site_ndvi(generated, site, month) for month in range(1, 13)]
        return float(np.nanmean(values[3:9]) - np.nanmean(values[:3] + values[9:]))

    # Northern vegetation greens up in the northern summer, southern six months later.
    north = [change(site) for site in ('beauce', 'iowa', 'hokkaido')]
    south = [change(site) for site in ('pampa', 'darlingdowns')]
    assert min(north) > 0.1
    assert max(south) < -0.1
    # Near the equator these half-years differ less (two rainy seasons; rainforest).
    weakest = min(map(abs, north + south))
    for site in ('nakuru', 'taveuni'):
        assert abs(change(site)) < weakest / 2, site


@pytest.fixture(scope='module')
def landscapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four sites at 96 x 96 px, enough parcels for their landscapes to show."""
    root = tmp_path_factory.mktemp('landscapes')
    sites = [LOCATIONS[name] for name in ('punjab', 'canterbury', 'taveuni', 'nakuru')]
    generate_demo_data(root, size=96, locations=sites)
    return root


def test_generate_regional_landscapes(landscapes: Path) -> None:
    # Punjab: wheat in winter, flooded paddies in June, rice in late summer.
    punjab = {m: site_ndvi(landscapes, 'punjab', m) for m in (2, 6, 8, 11)}
    assert min(punjab[2], punjab[8]) > max(punjab[6], punjab[11]) + 0.15

    def clear_nir(month: int) -> float:
        data = read(landscapes / acquisition(landscapes, 'punjab', month)['file'])
        clear = (data > 0).all(0) & (data[0] < 2500)
        return float(np.median(data[3][clear]))

    # water on the paddies: the fields are darker in the NIR than bare soil
    assert clear_nir(6) < 0.7 * clear_nir(11)

    # Taveuni's rainforest and cane fields stay green all year.
    def land_ndvi(site: str, month: int) -> float:
        """Median NDVI of the clear land pixels (NDVI above 0)."""
        data = read(landscapes / acquisition(landscapes, site, month)['file'])
        _, _, r, n = data.reshape(4, -1).astype(float)
        clear = (data.reshape(4, -1) > 0).all(0) & (data[0].ravel() < 2500)
        index = (n - r) / (n + r).clip(1)
        return float(np.median(index[clear & (index > 0)]))

    taveuni = [land_ndvi('taveuni', m) for m in range(1, 13)]
    punjab_land = [land_ndvi('punjab', m) for m in range(1, 13)]
    assert min(taveuni) > 0.6 > min(punjab_land)
    # Canterbury's irrigated pivots: round green fields in dry land in summer.
    summer = read(landscapes / acquisition(landscapes, 'canterbury', 1)['file'])
    green = (summer[3] - summer[2]) / (summer[3] + summer[2]).clip(1) > 0.6
    assert 0.05 < green.mean() < 0.6


def test_generate_sites_differ_in_soil(landscapes: Path) -> None:
    # Bare soil (clear pixels of NDVI 0.1 to 0.3: neither water nor vegetation) in
    # a dry month carries the site's own soil colour: Nakuru's red volcanic soil
    # against Punjab's pale alluvium.
    def soil_redness(site: str, month: int) -> float:
        data = read(landscapes / acquisition(landscapes, site, month)['file'])
        _, g, r, n = data.reshape(4, -1).astype(float)
        clear = (data.reshape(4, -1) > 0).all(0) & (data[0].ravel() < 2500)
        index = (n - r) / (n + r).clip(1)
        bare = clear & (index > 0.1) & (index < 0.3)
        return float(np.median(r[bare] / g[bare]))

    assert soil_redness('nakuru', 2) > soil_redness('punjab', 11) + 0.1


def test_generate_deterministic(tmp_path: Path) -> None:
    locations = DEMO_LOCATIONS[:2]
    kwargs = {'size': 16, 'dates_per_location': 6, 'locations': locations}
    first = generate_demo_data(tmp_path / 'a', **kwargs)
    generate_demo_data(tmp_path / 'b', **kwargs)
    assert len(first) == 12
    assert digests(tmp_path / 'a') == digests(tmp_path / 'b')
    # A location's files do not depend on the other locations asked for.
    generate_demo_data(tmp_path / 'c', **{**kwargs, 'locations': locations[1:]})
    only = digests(tmp_path / 'c')
    tifs = {k: v for k, v in only.items() if k.endswith('.tif')}
    assert tifs.items() <= digests(tmp_path / 'a').items()


def test_generate_seed(tmp_path: Path) -> None:
    kwargs = {'size': 16, 'dates_per_location': 6, 'locations': DEMO_LOCATIONS[:1]}
    generate_demo_data(tmp_path / 'a', seed=0, **kwargs)
    generate_demo_data(tmp_path / 'b', seed=1, **kwargs)
    a, b = digests(tmp_path / 'a'), digests(tmp_path / 'b')
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a if k.endswith('.tif'))


def test_generate_skip_and_overwrite(tmp_path: Path) -> None:
    kwargs = {'size': 16, 'dates_per_location': 6, 'locations': DEMO_LOCATIONS[:1]}
    paths = generate_demo_data(tmp_path, **kwargs)
    original = paths[0].read_bytes()
    paths[0].write_bytes(b'changed')
    assert generate_demo_data(tmp_path, **kwargs) == paths
    assert paths[0].read_bytes() == b'changed'
    generate_demo_data(tmp_path, overwrite=True, **kwargs)
    assert paths[0].read_bytes() == original


def test_generate_other_settings(tmp_path: Path) -> None:
    kwargs = {'size': 16, 'dates_per_location': 6, 'locations': DEMO_LOCATIONS[:1]}
    generate_demo_data(tmp_path, seed=0, **kwargs)
    with pytest.raises(ValueError, match="'seed': 0.*'seed': 1.*overwrite=True"):
        generate_demo_data(tmp_path, seed=1, **kwargs)
    generate_demo_data(tmp_path, seed=1, overwrite=True, **kwargs)
    assert manifest(tmp_path)['settings']['seed'] == 1
    # More locations with the same settings extend the manifest.
    generate_demo_data(tmp_path, seed=1, **{**kwargs, 'locations': DEMO_LOCATIONS[1:2]})
    names = [e['name'] for e in manifest(tmp_path)['locations']]
    assert names == sorted(loc.name for loc in DEMO_LOCATIONS[:2])


def test_generate_refuses_data_of_another_generator_version(tmp_path: Path) -> None:
    # Files of version 1 (its manifest recorded no version) hold other landscapes:
    # they must not be mixed with, or taken for, this version's.
    kwargs = {'size': 16, 'dates_per_location': 1, 'locations': DEMO_LOCATIONS[:1]}
    generate_demo_data(tmp_path, **kwargs)
    doc = manifest(tmp_path)
    assert doc['settings']['version'] == 2
    del doc['settings']['version']
    (tmp_path / MANIFEST_NAME).write_text(json.dumps(doc))
    with pytest.raises(
        ValueError, match='version 1 of the demo generator.*delete the folder'
    ):
        generate_demo_data(tmp_path, **kwargs)
    generate_demo_data(tmp_path, overwrite=True, **kwargs)
    assert manifest(tmp_path)['settings']['version'] == 2


def test_generate_broken_manifest(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_NAME).write_text('{not json')
    kwargs = {'size': 16, 'dates_per_location': 1, 'locations': DEMO_LOCATIONS[:1]}
    with pytest.raises(ValueError, match='cannot read the demo data manifest'):
        generate_demo_data(tmp_path, **kwargs)
    assert len(generate_demo_data(tmp_path, overwrite=True, **kwargs)) == 1


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'size': 0}, 'size=0'),
        ({'size': 4}, 'at least 8'),
        ({'size': 16.5}, 'size=16.5'),
        ({'res': -10.0}, 'res=-10.0'),
        ({'res': float('nan')}, 'res=nan'),
        ({'locations': ()}, 'non-empty'),
        ({'locations': DEMO_LOCATIONS[:1] * 2}, 'unique names'),
        ({'dates_per_location': 0}, 'dates_per_location=0'),
        ({'seed': -1}, 'seed=-1 must be a non-negative integer'),
        ({'seed': 1.5}, 'seed=1.5'),
        ({'year': 0}, 'year=0'),
    ],
)
def test_generate_invalid(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        generate_demo_data(tmp_path, **kwargs)
    assert not list(tmp_path.iterdir())


def test_generate_root_is_file(tmp_path: Path) -> None:
    root = tmp_path / 'file'
    root.write_text('')
    with pytest.raises(NotADirectoryError, match='not a directory'):
        generate_demo_data(root, size=16)
    with pytest.raises(OSError, match='cannot create demo data root'):
        generate_demo_data(root / 'sub', size=16)


def test_generate_fixture_up_to_date(tmp_path: Path) -> None:
    settings = manifest(FIXTURE)['settings']
    generate_demo_data(
        tmp_path,
        size=settings['size'],
        res=settings['res'],
        seed=settings['seed'],
        year=settings['year'],
        dates_per_location=settings['dates_per_location'],
    )
    fresh = sorted(tmp_path.glob('demo_*.tif'))
    assert [p.name for p in fresh] == sorted(p.name for p in FIXTURE.glob('*.tif'))
    for path in fresh:
        expected = read(FIXTURE / path.name).astype(int)
        assert np.abs(read(path).astype(int) - expected).max() <= 1, path.name


def test_dataset_index(dataset: DemoTimeSeries) -> None:
    assert len(dataset) == 60
    assert dataset.crs == CRS.from_epsg(8857)
    assert dataset.res == (10.0, 10.0)
    doc = manifest(FIXTURE)
    expected = sorted(
        (a['file'], pd.Timestamp(a['date']))
        for e in doc['locations']
        for a in e['acquisitions']
    )
    found = sorted(
        (Path(fp).name, interval.left)
        for fp, interval in zip(
            dataset.index.filepath, dataset.index.index, strict=True
        )
    )
    assert found == expected


def test_dataset_sample_every_location(dataset: DemoTimeSeries) -> None:
    sites = dataset.index.filepath.str.extract(r'demo_([a-z0-9]+)_')[0]
    assert set(sites) == set(LOCATIONS)
    for site in LOCATIONS:
        rows = dataset.index[(sites == site).to_numpy()]
        centre = rows.geometry.iloc[0].centroid
        half = 4 * 10.0
        t = rows.index[0]
        query = (
            slice(centre.x - half, centre.x + half, 10.0),
            slice(centre.y - half, centre.y + half, 10.0),
            slice(t.left, t.right),
        )
        image = dataset[query]['image']
        assert image.shape == (4, 8, 8)
        assert torch.isfinite(image).all()
        assert image.max() <= 10_000
        assert (image > 0).all(0).float().mean() >= 0.5, site


def test_dataset_time_series() -> None:
    ds = DemoTimeSeries(FIXTURE, time_series=True)
    geometry = ds.index.geometry.iloc[0]
    x, y = geometry.centroid.x, geometry.centroid.y
    full = ds.bounds[2]
    sample = ds[slice(x - 40, x + 40, 10.0), slice(y - 40, y + 40, 10.0), full]
    assert sample['image'].shape == (6, 4, 8, 8)


def test_dataset_native_utm() -> None:
    ds = DemoTimeSeries(FIXTURE / 'demo_beauce_20210201.tif', crs='EPSG:32631')
    assert ds.crs == CRS.from_epsg(32631)
    assert ds.res == (10.0, 10.0)
    with rasterio.open(FIXTURE / 'demo_beauce_20210201.tif') as f:
        np.testing.assert_allclose(ds.index.total_bounds, tuple(f.bounds))


def test_dataset_degrees_need_res() -> None:
    with pytest.raises(ValueError, match='not metres; pass res'):
        DemoTimeSeries(FIXTURE, crs='EPSG:4326')
    ds = DemoTimeSeries(FIXTURE, crs='EPSG:4326', res=1e-4)
    assert ds.res == (1e-4, 1e-4)


def test_dataset_not_found(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match='Dataset not found'):
        DemoTimeSeries(tmp_path)


def test_dataset_plot(dataset: DemoTimeSeries) -> None:
    generator = torch.Generator().manual_seed(0)
    image = torch.randint(1, 10_000, (4, 8, 8), generator=generator).float()
    fig = dataset.plot({'image': image}, suptitle='demo')
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    assert fig.axes[0].get_title() == 'Image'
    plt.close(fig)


def test_dataset_plot_views(dataset: DemoTimeSeries) -> None:
    image = torch.rand(3, 4, 8, 8) * 5000
    image[1] = 0  # an all-nodata view is drawn black
    fig = dataset.plot({'image': image})
    assert [ax.get_title() for ax in fig.axes] == ['View 1', 'View 2', 'View 3']
    assert fig.axes[1].get_images()[0].get_array().max() == 0
    plt.close(fig)
    time = torch.tensor(
        [
            pd.Timestamp(d).timestamp()
            for d in ('2021-01-17', '2021-07-19', '2021-12-18')
        ],
        dtype=torch.float64,
    )
    fig = dataset.plot({'image': image, 'time': time}, show_titles=True)
    assert [ax.get_title() for ax in fig.axes] == [
        '2021-01-17',
        '2021-07-19',
        '2021-12-18',
    ]
    plt.close(fig)
    fig = dataset.plot({'image': image}, show_titles=False)
    assert all(ax.get_title() == '' for ax in fig.axes)
    plt.close(fig)


def test_dataset_plot_stretch(dataset: DemoTimeSeries) -> None:
    generator = torch.Generator().manual_seed(0)
    clear = 1000 + 1000 * torch.rand(4, 16, 16, generator=generator)
    cloudy = clear.clone()
    cloudy[:, :4] = 8000
    cloudy[:, -2:] = 0
    fig = dataset.plot({'image': torch.stack([clear, cloudy])})
    first, second = (np.asarray(ax.get_images()[0].get_array()) for ax in fig.axes)
    # Each panel gets its own stretch: the cloud in view 2 does not darken view 1.
    assert first.min() == 0
    assert first.max() == 1
    assert 0.3 < np.median(first) < 0.7
    assert second.min() == 0
    assert (second[-2:] == 0).all()
    assert (second[:4] == 1).all()
    plt.close(fig)


def test_dataset_plot_invalid(dataset: DemoTimeSeries) -> None:
    with pytest.raises(ValueError, match=r'\(3, 8, 8\).*C=4'):
        dataset.plot({'image': torch.rand(3, 8, 8)})
    with pytest.raises(ValueError, match='neither'):
        dataset.plot({'image': torch.rand(8, 8)})
    ds = DemoTimeSeries(FIXTURE, bands=('nir', 'red'))
    with pytest.raises(RGBBandsMissingError):
        ds.plot({'image': torch.rand(2, 8, 8)})


def test_main_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / 'out'
    main([str(root), '--size', '16', '--dates', '6', '--seed', '3'])
    out = capsys.readouterr().out
    assert f'Wrote 60 SYNTHETIC GeoTIFFs to {root} (0 already there' in out
    assert all(name in out for name in LOCATIONS)
    assert 'EPSG:32760' in out
    assert len(list(root.glob('demo_*.tif'))) == 60
    assert manifest(root)['settings']['seed'] == 3
    main([str(root), '--size', '16', '--dates', '6', '--seed', '3'])
    assert 'Wrote 0 SYNTHETIC GeoTIFFs' in capsys.readouterr().out
    main([str(root), '--size', '16', '--dates', '6', '--seed', '3', '--overwrite'])
    assert 'Wrote 60 SYNTHETIC GeoTIFFs' in capsys.readouterr().out


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (['--size', '0'], 'argument --size: 0 is not positive'),
        (['--size', 'big'], "argument --size: 'big' is not an integer"),
        (['--size', '4'], 'size=4 must be an integer of at least 8'),
        (['--res', '-1'], 'argument --res: -1 is not a positive number'),
        (['--dates', '60'], 'dates_per_location=60 must be between 1 and 52'),
    ],
)
def test_main_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main([str(tmp_path / 'out'), *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert 'Traceback' not in err


def test_main_unwritable_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(SystemExit):
        main([str(blocker / 'out'), '--size', '16'])
    assert f'cannot create demo data root {blocker / "out"}' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(blocker), '--size', '16'])
    assert 'exists and is not a directory' in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason='root can write anywhere')
def test_main_read_only_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(SystemExit):
            main([str(tmp_path), '--size', '16'])
    finally:
        tmp_path.chmod(0o700)
    assert str(tmp_path) in capsys.readouterr().err

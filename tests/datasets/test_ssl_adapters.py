import datetime as dt
import random
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import rasterio
import torch
from matplotlib import pyplot as plt
from torch.utils.data import DataLoader
from torchgeo.datasets import SSL4EOS12, DatasetNotFoundError, SeasonalContrastS2

from torchgeo_geossl.datasets.ssl import (
    DatasetLayoutError,
    SeasonalContrastS2Views,
    SSL4EOS12Views,
)

matplotlib.use('Agg')

DATA = Path(__file__).resolve().parents[1] / 'data'
SECO = DATA / 'seco'
SSL4EO = DATA / 'ssl4eo_s12'
SECO_DIR = SECO / 'seasonal_contrast_100k'

# Known fixture locations, see tests/data/*/data.py
SECO_POINTS = {0: (2.3522, 48.8566), 1: (151.2093, -33.8688)}
SSL4EO_POINTS = {0: (-77.0428, -12.0464), 1: (-21.9426, 64.1466)}
SECO_SEASONS = {
    '000000': [
        '20190315T105021_20190315T105458_T31UDQ',
        '20190619T105031_20190619T105512_T31UDQ',
        '20190908T104629_20190908T105335_T31UDQ',
        '20191212T110441_20191212T110442_T31UDQ',
        '20200226T105019_20200226T105331_T31UDQ',
    ],
    '000001': [
        '20190421T235251_20190421T235250_T56HLH',
        '20190720T235251_20190720T235253_T56HLH',
        '20191018T235251_20191018T235254_T56HLH',
        '20200116T235251_20200116T235249_T56HLH',
    ],
}
SKIP_WARNING = 'skipped 1 of 3 locations'


def seconds(stamp: str) -> float:
    """UTC seconds of a 'YYYYMMDDTHHMMSS' stamp."""
    return (
        dt.datetime.strptime(stamp, '%Y%m%dT%H%M%S').replace(tzinfo=dt.UTC).timestamp()
    )


def month(time: float) -> int:
    return dt.datetime.fromtimestamp(time, dt.UTC).month


def seco(root: Path = SECO, **kwargs: object) -> SeasonalContrastS2Views:
    with pytest.warns(UserWarning, match='skipped'):
        return SeasonalContrastS2Views(root, **kwargs)  # type: ignore[arg-type]


def copy_seco(tmp_path: Path) -> Path:
    shutil.copytree(SECO_DIR, tmp_path / 'seasonal_contrast_100k')
    return tmp_path


def test_seco_sample_follows_the_batch_contract() -> None:
    ds = seco(seasons=3, seed=0)
    assert len(ds) == 2
    assert ds.locations.tolist() == [0, 1]
    assert ds.skipped_locations == {'000002': 2}
    for index, location in enumerate(['000000', '000001']):
        sample = ds[index]
        assert sample['image'].shape == (3, 3, 264, 264)
        assert sample['image'].dtype == torch.float32
        assert sample['time'].shape == (3,)
        assert sample['time'].dtype == torch.float64
        assert sample['point'].dtype == torch.float64
        expected = {seconds(name[:15]) for name in SECO_SEASONS[location]}
        assert set(sample['time'].tolist()) <= expected
        assert len(set(sample['time'].tolist())) == 3
        torch.testing.assert_close(
            sample['point'],
            torch.tensor(SECO_POINTS[index], dtype=torch.float64),
            atol=1e-7,
            rtol=0,
        )
        # view v holds the season whose time is time[v]: pixel = 16 * month + band
        for v, time in enumerate(sample['time'].tolist()):
            for c, band in enumerate(('B4', 'B3', 'B2')):
                value = 16 * month(time) + SeasonalContrastS2.all_bands.index(band)
                assert bool((sample['image'][v, c] == value).all())


def test_seco_five_seasons() -> None:
    # TorchGeo's own class rejects 5 seasons although every location has 5
    with pytest.raises(AssertionError):
        SeasonalContrastS2(SECO, seasons=5)
    with pytest.warns(UserWarning, match='skipped 2 of 3 locations'):
        ds = SeasonalContrastS2Views(SECO, seasons=5, min_distinct_seasons=3)
    assert ds.seasons == 5
    assert len(ds) == 1
    assert ds.skipped_locations == {'000001': 4, '000002': 2}
    sample = ds[0]
    assert sample['image'].shape == (5, 3, 264, 264)
    assert sorted(sample['time'].tolist()) == [
        seconds(name[:15]) for name in SECO_SEASONS['000000']
    ]


def test_seco_seasons_are_distinct_and_seedable() -> None:
    ds = seco(seasons=3, seed=0)
    draws = [ds[1]['time'].tolist() for _ in range(20)]
    assert all(len(set(times)) == 3 for times in draws)
    assert len({tuple(times) for times in draws}) > 1  # random seasons and order
    again = seco(seasons=3, seed=0)
    assert [again[1]['time'].tolist() for _ in range(20)] == draws
    other = seco(seasons=3, seed=1)
    assert [other[1]['time'].tolist() for _ in range(20)] != draws

    # without a seed: Python's global random module, as TorchGeo
    unseeded = seco(seasons=3)
    random.seed(0)
    first = [unseeded[0]['time'].tolist() for _ in range(5)]
    random.seed(0)
    assert [unseeded[0]['time'].tolist() for _ in range(5)] == first


def test_seco_seeded_draws_in_dataloader_workers() -> None:
    ds = seco(seasons=3, seed=0)
    runs = []
    for _ in range(2):
        # location 000001 four times: batches 0, 2 in worker 0 and 1, 3 in worker 1
        loader = DataLoader(ds, batch_size=1, num_workers=2, sampler=[1, 1, 1, 1])
        runs.append([batch['time'][0].tolist() for batch in loader])
    assert runs[0] == runs[1]
    # the two workers do not repeat each other's draws
    assert runs[0][0] != runs[0][1] or runs[0][2] != runs[0][3]


def test_seco_reads_like_torchgeo() -> None:
    ours = seco(seasons=5, min_distinct_seasons=5)
    views = ours[0]['image']
    random.seed(0)
    theirs = SeasonalContrastS2(SECO, seasons=4)[0]['image']
    for chunk in theirs.reshape(4, 3, 264, 264):
        assert any(torch.equal(chunk, view) for view in views)


def test_seco_min_distinct_seasons_error() -> None:
    with pytest.raises(
        ValueError,
        match=r'none of the 3 locations .* has 6 distinct seasons '
        r'\(the most is 5, at 000000\)',
    ):
        SeasonalContrastS2Views(SECO, min_distinct_seasons=6)


def test_duplicate_acquisitions_count_once(tmp_path: Path) -> None:
    root = copy_seco(tmp_path)
    location = root / 'seasonal_contrast_100k' / '000002'
    shutil.copytree(
        location / '20190804T074619_20190804T075950_T37MBU',
        location / '20190804T074619_20190804T075950_T37MCU',
    )
    ds = seco(root, seasons=3)
    assert ds.skipped_locations == {'000002': 2}
    # hidden directories and files beside the seasons are ignored
    (location / '.cache').mkdir()
    (location / 'notes.txt').write_text('x')
    assert seco(root).skipped_locations == {'000002': 2}


def test_season_names_are_parsed_strictly(tmp_path: Path) -> None:
    root = copy_seco(tmp_path)
    location = root / 'seasonal_contrast_100k' / '000001'
    season = location / SECO_SEASONS['000001'][0]
    season.rename(location / 'summer')
    with pytest.raises(ValueError, match=r"000001/summer' is not named like an acq"):
        SeasonalContrastS2Views(root)
    (location / 'summer').rename(location / '20191312T235251_20191312T235250_T56HLH')
    with pytest.raises(ValueError, match="'20191312T235251' is not a valid"):
        SeasonalContrastS2Views(root)


def test_seco_missing_root(tmp_path: Path) -> None:
    with pytest.raises(
        DatasetLayoutError,
        match=r"expects the directory '.*nowhere/seasonal_contrast_100k'.*"
        r"'.*nowhere' does not exist",
    ) as info:
        SeasonalContrastS2Views(tmp_path / 'nowhere')
    assert isinstance(info.value, DatasetNotFoundError)


def test_seco_root_is_the_version_directory() -> None:
    with pytest.raises(DatasetLayoutError, match='pass its parent directory as root'):
        SeasonalContrastS2Views(SECO_DIR)


def test_seco_other_version(tmp_path: Path) -> None:
    shutil.copytree(SECO_DIR, tmp_path / 'seasonal_contrast_1m')
    with pytest.raises(DatasetLayoutError, match="use version='1m'"):
        SeasonalContrastS2Views(tmp_path)


def test_seco_directories_beyond_torchgeos_count(tmp_path: Path) -> None:
    root = copy_seco(tmp_path)
    directory = root / 'seasonal_contrast_100k'
    shutil.copytree(directory / '000000', directory / '020000')
    with pytest.warns(UserWarning, match=r'ignores 1 location directories .*020000'):
        ds = SeasonalContrastS2Views(root)
    assert ds.locations.tolist() == [0, 1]


def test_seco_no_location_directories(tmp_path: Path) -> None:
    (tmp_path / 'seasonal_contrast_100k' / 'images').mkdir(parents=True)
    with pytest.raises(
        DatasetLayoutError,
        match=r'found no location directories .* 6-digit index \(000000, 000001, '
        r".*contains \['images'\]",
    ):
        SeasonalContrastS2Views(tmp_path)


def test_seco_missing_band_file(tmp_path: Path) -> None:
    root = copy_seco(tmp_path)
    for season in (root / 'seasonal_contrast_100k' / '000000').iterdir():
        (season / 'B3.tif').unlink()
    ds = seco(root, seasons=3)
    with pytest.raises(
        DatasetLayoutError, match=r"expected one GeoTIFF per band \['B4.tif', 'B3.tif'"
    ):
        ds[0]


def test_file_without_crs(tmp_path: Path) -> None:
    root = copy_seco(tmp_path)
    path = root / 'seasonal_contrast_100k' / '000001' / SECO_SEASONS['000001'][0]
    with rasterio.open(
        path / 'B4.tif', 'w', driver='GTiff', height=2, width=2, count=1, dtype='uint8'
    ) as f:
        f.write(np.zeros((1, 2, 2), 'uint8'))
    ds = seco(root)
    with pytest.raises(ValueError, match=r"B4.tif' has no CRS"):
        ds[1]


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'seasons': 0}, r'seasons must be an int in 1\.\.5, got 0'),
        ({'seasons': 6}, r'seasons must be an int in 1\.\.5, got 6'),
        ({'seasons': True}, 'got True'),
        ({'min_distinct_seasons': 0}, 'min_distinct_seasons must be an int in >= 1'),
        ({'version': '10k'}, r"version must be one of \['100k', '1m'\], got '10k'"),
        ({'bands': ['B4', 'B99']}, 'bands must be a non-empty subset'),
    ],
)
def test_seco_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SeasonalContrastS2Views(SECO, **kwargs)  # type: ignore[arg-type]


def test_seco_index_out_of_range() -> None:
    with pytest.raises(IndexError, match='index 2 is out of range for 2 locations'):
        seco()[2]


def test_seco_transforms_and_plot() -> None:
    def double(sample: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {**sample, 'image': sample['image'] * 2}

    ds = seco(transforms=double, seed=0)
    plain = seco(seed=0)
    sample = ds[0]
    torch.testing.assert_close(sample['image'], plain[0]['image'] * 2)
    figure = plain.plot(plain[0], suptitle='SeCo')
    assert len(figure.axes) == 3
    plt.close(figure)


SPLITS = {'s1': ('VV', 'VH'), 's2c': SSL4EOS12.metadata['s2c']['bands']}
SPLITS['s2a'] = SSL4EOS12.metadata['s2a']['bands']


def ssl4eo_seasons(split: str, location: int) -> list[str]:
    return sorted(p.name for p in (SSL4EO / split / f'{location:07}').iterdir())


def ssl4eo_time(name: str) -> float:
    return seconds(name[17:32] if name.startswith('S1') else name[:15])


@pytest.mark.parametrize('split', ['s1', 's2c', 's2a'])
def test_ssl4eo_sample_follows_the_batch_contract(split: str) -> None:
    ds = SSL4EOS12Views(SSL4EO, split=split, seasons=4, seed=0)  # type: ignore[arg-type]
    assert len(ds) == 2
    assert ds.skipped_locations == {}
    bands = SPLITS[split]
    for location in (0, 1):
        sample = ds[location]
        assert sample['image'].shape == (4, len(bands), 264, 264)
        assert sample['image'].dtype == torch.float32
        assert sample['time'].dtype == torch.float64
        expected = sorted(ssl4eo_time(n) for n in ssl4eo_seasons(split, location))
        assert sorted(sample['time'].tolist()) == expected
        torch.testing.assert_close(
            sample['point'],
            torch.tensor(SSL4EO_POINTS[location], dtype=torch.float64),
            atol=1e-7,
            rtol=0,
        )
        for v, time in enumerate(sample['time'].tolist()):
            m = month(time)
            for c in range(len(bands)):
                value = -(m + c / 2) if split == 's1' else 1000 * m + c
                assert bool((sample['image'][v, c] == value).all())


def test_ssl4eo_default_two_distinct_seasons() -> None:
    ds = SSL4EOS12Views(SSL4EO)
    assert ds.seasons == 2
    sample = ds[0]
    assert sample['image'].shape == (2, 13, 264, 264)
    assert len(set(sample['time'].tolist())) == 2


def test_ssl4eo_reads_like_torchgeo() -> None:
    ours = SSL4EOS12Views(SSL4EO, split='s2a', seasons=4)[1]
    random.seed(0)
    theirs = SSL4EOS12(SSL4EO, split='s2a', seasons=4)[1]
    chunks = theirs['image'].reshape(4, 12, 264, 264)
    for chunk, time in zip(chunks, theirs['t'].tolist(), strict=True):
        # TorchGeo's float32 times are only good to ~2 minutes
        (match,) = [
            v for v, t in enumerate(ours['time'].tolist()) if abs(t - time) < 256
        ]
        assert torch.equal(chunk, ours['image'][match])


def test_ssl4eo_missing_root(tmp_path: Path) -> None:
    with pytest.raises(
        DatasetLayoutError,
        match=r"\(split 's2c'\) expects the directory '.*/s2c' holding "
        r'<index:07>/<season>/<band>.tif.*does not exist',
    ):
        SSL4EOS12Views(tmp_path / 'nowhere')


def test_ssl4eo_other_split_and_root_mistakes(tmp_path: Path) -> None:
    shutil.copytree(SSL4EO / 's1', tmp_path / 's1')
    with pytest.raises(DatasetLayoutError, match=r"Splits found: \['s1'\]"):
        SSL4EOS12Views(tmp_path, split='s2c')
    with pytest.raises(DatasetLayoutError, match='pass the parent of the split'):
        SSL4EOS12Views(tmp_path / 's1', split='s1')


def test_ssl4eo_bad_parameters() -> None:
    with pytest.raises(ValueError, match=r'seasons must be an int in 1\.\.4, got 5'):
        SSL4EOS12Views(SSL4EO, seasons=5)
    with pytest.raises(ValueError, match="split must be one of .*got 's2'"):
        SSL4EOS12Views(SSL4EO, split='s2')  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='none of the 2 locations .* 5 distinct'):
        SSL4EOS12Views(SSL4EO, min_distinct_seasons=5)


def test_ssl4eo_plot() -> None:
    ds = SSL4EOS12Views(SSL4EO, split='s1', seasons=3)
    sample = ds[0]
    figure = ds.plot(sample)
    assert len(figure.axes) == 3  # one panel (VV in grey) per season
    dates = [pd.Timestamp(float(t), unit='s') for t in sample['time']]
    assert [ax.get_title() for ax in figure.axes] == [f'{d:%Y-%m-%d}' for d in dates]
    plt.close(figure)

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
import torch
from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from PIL import Image
from torch.utils.data import DataLoader

from torchgeo_geossl.datasets.fmow import FMOW_CATEGORIES, FMoW, read_fmow_metadata
from torchgeo_geossl.datasets.views import ViewReadError

FIXTURE = Path(__file__).resolve().parents[1] / 'data' / 'fmow'
TRAIN_SITES = ['airport_0', 'airport_2', 'airport_10', 'crop_field_0', 'zoo_0']


def fmow(**kwargs: object) -> FMoW:
    """FMoW over the fixture, without the warning about crop_field_1."""
    kwargs.setdefault('root', FIXTURE)
    kwargs.setdefault('size', 32)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        return FMoW(**kwargs)  # type: ignore[arg-type]


def json_of(image: Path) -> dict[str, object]:
    return json.loads(image.with_suffix('.json').read_text())


def seconds(image: Path) -> float:
    return pd.Timestamp(str(json_of(image)['timestamp'])).timestamp()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    root = tmp_path / 'fmow'
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns('*.py'))
    return root


def test_categories_are_the_62_sorted_fmow_classes() -> None:
    assert len(FMOW_CATEGORIES) == 62
    assert list(FMOW_CATEGORIES) == sorted(set(FMOW_CATEGORIES))
    assert FMOW_CATEGORIES[0] == 'airport'
    assert FMOW_CATEGORIES[11] == 'crop_field'
    assert FMOW_CATEGORIES[-1] == 'zoo'
    assert 'false_detection' not in FMOW_CATEGORIES


def test_discovers_sites_sorted_by_category_and_numeric_id() -> None:
    with pytest.warns(UserWarning, match=r'1 of 6 .*crop_field_1 with 1\): skipping'):
        ds = FMoW(FIXTURE, size=32)
    assert [site.name for site in ds.sites] == TRAIN_SITES
    assert len(ds) == 5
    # _msrgb images of zoo_0 are ignored
    assert ds.stats == {'sites': 6, 'images': 15, 'skipped': 1}
    zoo = ds.sites[-1]
    assert [p.name for p in zoo.images] == ['zoo_0_0_rgb.jpg', 'zoo_0_1_rgb.jpg']
    assert zoo.category == 'zoo'
    assert zoo.label == 61
    val = fmow(split='val')
    assert [site.name for site in val.sites] == ['airport_5', 'zoo_3']


def test_sample_contract() -> None:
    ds = fmow(size=(24, 40), seed=0)
    sample = ds[3]
    assert sample['image'].shape == (2, 3, 24, 40)
    assert sample['image'].dtype == torch.float32
    assert sample['image'].min() >= 0
    assert sample['image'].max() <= 255
    assert sample['time'].shape == (2,)
    assert sample['time'].dtype == torch.float64
    assert sample['point'].shape == (2,)
    assert sample['point'].dtype == torch.float64
    assert sample['label'].dtype == torch.long
    assert sample['label'].ndim == 0
    assert [int(ds[i]['label']) for i in range(len(ds))] == [0, 0, 0, 11, 61]


def test_time_is_the_json_timestamp_of_each_view() -> None:
    ds = fmow(views=2, seed=1)
    for index, site in enumerate(ds.sites):
        sample = ds[index]
        expected = {seconds(image) for image in site.images}
        times = sample['time'].tolist()
        assert len(set(times)) == 2  # drawn without replacement
        assert set(times) <= expected
    # a two-image site serves both images
    assert set(ds[1]['time'].tolist()) == {
        pd.Timestamp('2009-01-15T07:55:31Z').timestamp(),
        pd.Timestamp('2014-11-02T08:01:12Z').timestamp(),
    }


def test_views_are_the_images_of_their_times() -> None:
    # every fixture JPEG is one flat colour: each view's colour identifies its file
    ds = fmow(views=4, seed=0, size=16)  # only crop_field_0 has 4 images
    sample = ds[0]
    site = ds.sites[0]
    assert site.name == 'crop_field_0'
    by_time = {seconds(image): image for image in site.images}
    for view, time in zip(sample['image'], sample['time'].tolist(), strict=True):
        pixels = np.asarray(Image.open(by_time[time]).convert('RGB'), dtype=np.float32)
        expected = torch.from_numpy(pixels.mean(axis=(0, 1)))
        torch.testing.assert_close(view.mean(dim=(1, 2)), expected, atol=2, rtol=0)


def test_point_is_the_centroid_of_the_first_image_footprint() -> None:
    ds = fmow()
    for index, site in enumerate(ds.sites):
        polygon = shapely.from_wkt(json_of(site.images[0])['raw_location'])
        expected = [polygon.centroid.x, polygon.centroid.y]
        assert ds[index]['point'].tolist() == expected
    torch.testing.assert_close(
        ds[0]['point'],
        torch.tensor([8.5831, 47.4490], dtype=torch.float64),
        atol=2e-4,
        rtol=0,
    )
    points = ds.site_points()
    assert points.shape == (5, 2)
    assert points.dtype == torch.float64
    assert torch.equal(points[2], ds[2]['point'])
    torch.testing.assert_close(
        points[:, 1],
        torch.tensor([47.449, -1.319, -33.94, 42.031, 52.508], dtype=torch.float64),
        atol=1e-3,
        rtol=0,
    )


def test_views_are_seeded_per_index() -> None:
    a, b = fmow(views=3, seed=7), fmow(views=3, seed=7)
    for index in (0, 1, 2):
        first = a[index]
        assert torch.equal(first['time'], a[index]['time'])
        assert torch.equal(first['time'], b[index]['time'])
        assert torch.equal(first['image'], b[index]['image'])
    draws = {tuple(fmow(views=3, seed=seed)[2]['time'].tolist()) for seed in range(8)}
    assert len(draws) > 1  # 24 ordered draws of 3 of 4 images


def test_unseeded_views_follow_torch_generator() -> None:
    ds = fmow(views=3)
    torch.manual_seed(0)
    first = [ds[2]['time'] for _ in range(6)]
    torch.manual_seed(0)
    again = [ds[2]['time'] for _ in range(6)]
    assert all(torch.equal(x, y) for x, y in zip(first, again, strict=True))
    assert len({tuple(t.tolist()) for t in first}) > 1


def test_seeded_views_do_not_depend_on_dataloader_workers() -> None:
    ds = fmow(seed=3, size=16)
    serial = [batch['time'] for batch in DataLoader(ds, batch_size=2)]
    parallel = [batch['time'] for batch in DataLoader(ds, batch_size=2, num_workers=2)]
    assert all(torch.equal(x, y) for x, y in zip(serial, parallel, strict=True))


def test_repeat_serves_sites_with_too_few_images() -> None:
    with pytest.warns(UserWarning, match='repeating their images'):
        ds = FMoW(FIXTURE, size=16, insufficient='repeat', seed=0)
    assert len(ds) == 6
    assert ds.stats == {'sites': 6, 'images': 15, 'repeated': 1}
    single = ds[4]
    assert ds.sites[4].name == 'crop_field_1'
    expected = pd.Timestamp('2014-02-20T05:37:41Z').timestamp()
    assert single['time'].tolist() == [expected, expected]
    assert torch.equal(single['image'][0], single['image'][1])
    # all images of a site are served before any repeats
    many = fmow(views=6, insufficient='repeat', seed=0)[3]
    times = many['time'].tolist()
    assert set(times[:4]) == {seconds(p) for p in many_images()}
    assert set(times[4:]) <= set(times[:4])


def many_images() -> list[Path]:
    return sorted((FIXTURE / 'train' / 'crop_field' / 'crop_field_0').glob('*_rgb.jpg'))


def test_skip_and_error_for_too_few_images() -> None:
    with pytest.raises(
        ValueError, match=r"crop_field_1 with 1\); pass insufficient='skip'"
    ):
        FMoW(FIXTURE, insufficient='error')
    with pytest.raises(ValueError, match='none is left'):
        fmow(views=5)
    single = FMoW(FIXTURE, views=1, insufficient='error', size=16, seed=0)
    assert len(single) == 6
    assert single.stats == {'sites': 6, 'images': 15}
    assert single[0]['image'].shape == (1, 3, 16, 16)


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'split': 'test'}, r"split must be one of \('train', 'val'\)"),
        ({'views': 0}, 'views must be an integer >= 1'),
        ({'insufficient': 'drop'}, 'insufficient must be one of'),
        ({'size': 0}, 'size must be a positive int'),
        ({'size': (8, 8, 8)}, 'size must be a positive int'),
        ({'box_context': -0.1}, 'box_context must be >= 0'),
    ],
)
def test_invalid_parameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fmow(**kwargs)


def test_missing_root_explains_the_layout(tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError,
        match=r'fMoW root not found: .*missing/train.*<category>_<site_id>_<image_id>_rgb.jpg',
    ):
        FMoW(tmp_path / 'missing')
    (tmp_path / 'val').mkdir()
    with pytest.raises(
        FileNotFoundError, match=r'split directory not found: .*train does not exist'
    ):
        FMoW(tmp_path)
    (tmp_path / 'train').mkdir()
    with pytest.raises(ValueError, match='found no fMoW image in'):
        FMoW(tmp_path)


def test_unknown_category_directory(copy: Path) -> None:
    (copy / 'train' / 'airports' / 'airports_0').mkdir(parents=True)
    with pytest.raises(
        ValueError,
        match=r'unknown fMoW category directory .*train/airports: expected one of the 62',
    ):
        fmow(root=copy)


def test_misnamed_site_and_image(copy: Path) -> None:
    site = copy / 'train' / 'zoo' / 'zoo_0'
    site.rename(site.with_name('zoo_a'))
    with pytest.raises(
        ValueError, match=r'site directory .*zoo_a is not named zoo_<site_id>'
    ):
        fmow(root=copy)
    site.with_name('zoo_a').rename(site)
    (site / 'zoo_0_x_rgb.jpg').write_bytes(b'')
    with pytest.raises(
        ValueError,
        match=r'image .*zoo_0_x_rgb.jpg is not named zoo_0_<image_id>_rgb.jpg',
    ):
        fmow(root=copy)


def test_missing_json_is_found_at_construction(copy: Path) -> None:
    meta = copy / 'train' / 'airport' / 'airport_2' / 'airport_2_1_rgb.json'
    meta.unlink()
    with pytest.raises(
        FileNotFoundError,
        match=rf'airport_2_1_rgb.jpg has no metadata file: expected {meta}',
    ):
        fmow(root=copy)


@pytest.mark.parametrize(
    ('content', 'match'),
    [
        ('{"timestamp": ', 'is not valid JSON'),
        ('[1, 2]', 'has no timestamp or raw_location field \\(it holds a list\\)'),
        ('{"timestamp": "2015-05-04T15:21:01Z"}', 'has no raw_location field'),
        (
            '{"timestamp": "yesterday", "raw_location": "POINT (0 0)"}',
            "invalid timestamp 'yesterday'",
        ),
        ('{"timestamp": 5, "raw_location": "POINT (0 0)"}', 'invalid timestamp 5'),
        (
            '{"timestamp": "2015-05-04T15:21:01Z", "raw_location": "POLYGON ((0 0"}',
            'is not valid WKT',
        ),
        (
            '{"timestamp": "2015-05-04T15:21:01Z", "raw_location": "POINT (0 0)"}',
            'is not a polygon',
        ),
        (
            '{"timestamp": "2015-05-04T15:21:01Z", "raw_location": "POLYGON ((500000 4000000, 500100 4000000, 500100 4000100, 500000 4000000))"}',
            'not in longitude/latitude',
        ),
        (
            '{"timestamp": "2015-05-04T15:21:01Z", "raw_location": "POLYGON ((0 0, 1 0, 1 1, 0 0))", "bounding_boxes": [{"box": [1, 2, 0, 4]}]}',
            r'box \[1, 2, 0, 4\] is not \[x, y, width, height\]',
        ),
        (
            '{"timestamp": "2015-05-04T15:21:01Z", "raw_location": "POLYGON ((0 0, 1 0, 1 1, 0 0))", "bounding_boxes": 3}',
            'bounding_boxes must be a list',
        ),
    ],
)
def test_malformed_json_names_the_file(copy: Path, content: str, match: str) -> None:
    # the first image's JSON also gives the site's point: every sample reads it
    meta = copy / 'train' / 'zoo' / 'zoo_0' / 'zoo_0_0_rgb.json'
    meta.write_text(content)
    ds = fmow(root=copy)  # JSON contents are read lazily
    with pytest.raises(ValueError, match=match) as info:
        ds[4]
    assert str(meta) in str(info.value)
    with pytest.raises(ValueError, match=match):
        ds.site_points()


def test_undecodable_image_names_the_file(copy: Path) -> None:
    image = copy / 'train' / 'zoo' / 'zoo_0' / 'zoo_0_1_rgb.jpg'
    image.write_bytes(b'not a jpeg')
    ds = fmow(root=copy, seed=0)
    with pytest.raises(ViewReadError, match=rf'cannot decode fMoW image {image}'):
        ds[4]


def write_site(
    root: Path, image: Image.Image, boxes: object, name: str = 'zoo_0'
) -> Path:
    folder = root / 'train' / 'zoo' / name
    folder.mkdir(parents=True)
    path = folder / f'{name}_0_rgb.jpg'
    image.save(path, quality=95)
    meta = {
        'timestamp': '2016-01-02T03:04:05Z',
        'raw_location': 'POLYGON ((10 20, 10.01 20, 10.01 20.01, 10 20.01, 10 20))',
        'bounding_boxes': boxes,
        'img_width': image.width,
        'img_height': image.height,
    }
    path.with_suffix('.json').write_text(json.dumps(meta))
    return path


def quadrants(width: int, height: int) -> Image.Image:
    """Red, green / blue, white quadrants."""
    array = np.zeros((height, width, 3), dtype=np.uint8)
    h, w = height // 2, width // 2
    array[:h, :w] = (255, 0, 0)
    array[:h, w:] = (0, 255, 0)
    array[h:, :w] = (0, 0, 255)
    array[h:, w:] = (255, 255, 255)
    return Image.fromarray(array)


@pytest.mark.parametrize('width', [120, 2400])  # the large image is decoded at 1/8
def test_crop_to_box(tmp_path: Path, width: int) -> None:
    height = width // 2
    box = [width // 2 + 4, height // 2 + 4, width // 4, height // 4]  # white quadrant
    write_site(
        tmp_path, quadrants(width, height), [{'ID': 1, 'box': box, 'category': 'zoo'}]
    )
    full = FMoW(tmp_path, views=1, size=(16, 32), seed=0)[0]['image'][0]
    # the full image keeps its quadrants
    torch.testing.assert_close(
        full[:, 2, 2], torch.tensor([255.0, 0, 0]), atol=8, rtol=0
    )
    torch.testing.assert_close(
        full[:, 13, 29], torch.tensor([255.0, 255, 255]), atol=8, rtol=0
    )
    crop = FMoW(tmp_path, views=1, size=16, crop_to_box=True, seed=0)[0]['image'][0]
    torch.testing.assert_close(crop, torch.full_like(crop, 255), atol=8, rtol=0)
    # context reaches into the three other quadrants, clipped at the image border
    wide = FMoW(tmp_path, views=1, size=16, crop_to_box=True, box_context=3.0, seed=0)[
        0
    ]['image'][0]
    torch.testing.assert_close(
        wide[:, 0, 0], torch.tensor([255.0, 0, 0]), atol=8, rtol=0
    )


def test_crop_to_box_errors(tmp_path: Path) -> None:
    write_site(tmp_path, quadrants(40, 40), [], name='zoo_0')
    write_site(
        tmp_path, quadrants(40, 40), {'ID': 2, 'box': [50, 50, 5, 5]}, name='zoo_1'
    )
    ds = FMoW(tmp_path, views=1, size=8, crop_to_box=True, seed=0)
    with pytest.raises(
        ValueError, match=r'crop_to_box=True but .*zoo_0_0_rgb.json has no bounding box'
    ):
        ds[0]
    with pytest.raises(
        ValueError,
        match=r'bounding box \[50, 50, 5, 5\] of .*zoo_1_0_rgb.json lies outside the 40 x 40 image',
    ):
        ds[1]


def test_read_metadata_box_choice_and_antimeridian(tmp_path: Path) -> None:
    path = tmp_path / 'x_rgb.json'
    boxes = [
        {'ID': -1, 'box': [1, 1, 1, 1], 'category': 'zoo'},
        {'ID': 9, 'box': [2, 2, 2, 2], 'category': 'park'},
        {'ID': 7, 'box': [3, 3, 3, 3], 'category': 'zoo'},
        {'ID': 8, 'box': [4, 4, 4, 4], 'category': 'zoo'},
    ]
    path.write_text(
        json.dumps(
            {
                'timestamp': '2015-05-04T15:21:01Z',
                'raw_location': 'POLYGON ((179.8 -16.9, -179.9 -16.9, -179.9 -16.7, 179.8 -16.7, 179.8 -16.9))',
                'bounding_boxes': boxes,
            }
        )
    )
    meta = read_fmow_metadata(path, 'zoo')
    assert meta.time == pd.Timestamp('2015-05-04T15:21:01Z').timestamp()
    assert meta.box == (3, 3, 3, 3)
    assert meta.point[0] == pytest.approx(179.95)
    assert meta.point[1] == pytest.approx(-16.8)
    assert read_fmow_metadata(path, 'park').box == (2, 2, 2, 2)
    assert read_fmow_metadata(path, 'barn').box == (3, 3, 3, 3)  # any category
    with pytest.raises(FileNotFoundError, match='metadata file not found'):
        read_fmow_metadata(tmp_path / 'missing.json')


def test_transforms_and_index_errors() -> None:
    def double(sample: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        sample['image'] = sample['image'] * 2
        return sample

    plain, doubled = fmow(seed=0), fmow(seed=0, transforms=double)
    assert torch.equal(doubled[1]['image'], plain[1]['image'] * 2)
    assert torch.equal(plain[-1]['time'], plain[4]['time'])
    with pytest.raises(
        IndexError, match='index 5 out of range for FMoW with 5 samples'
    ):
        plain[5]


def test_plot() -> None:
    ds = fmow(seed=0)
    sample = ds[0]
    fig = ds.plot(sample)
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes]
    dates = {
        pd.Timestamp(t, unit='s').strftime('%Y-%m-%d') for t in sample['time'].tolist()
    }
    assert set(titles) == dates
    assert fig.get_suptitle().startswith('airport (8.583, 47.449)')
    plt.close(fig)
    fig = ds.plot({'image': sample['image'][0]}, show_titles=False, suptitle='one')
    assert len(fig.axes) == 1
    assert fig.get_suptitle() == 'one'
    plt.close(fig)


def test_image_epoch_serves_every_image_once_with_a_positive_of_its_site() -> None:
    # the GASSL reference iterates images; the positive is another image of the site
    ds = fmow(epoch='image', seed=0, size=16)
    sites = fmow(size=16).sites
    images = [(site.name, seconds(p)) for site in sites for p in site.images]
    assert len(ds) == len(images) == 14
    served = []
    for index in range(len(ds)):
        site_index, _ = ds.samples[index]
        site = ds.sites[site_index]
        times = ds[index]['time'].tolist()
        assert times[0] != times[1]  # the positive is another image
        assert set(times) <= {seconds(p) for p in site.images}
        served.append((site.name, times[0]))
    assert sorted(served) == sorted(images)  # view 0 visits each image once
    assert torch.equal(ds[5]['point'], ds.site_point(ds.samples[5][0]))
    assert ds.site_points().shape == (5, 2)


def test_image_epoch_with_single_image_sites_repeats_the_image() -> None:
    with pytest.warns(UserWarning, match='repeating their images'):
        ds = FMoW(FIXTURE, size=16, insufficient='repeat', seed=0, epoch='image')
    assert len(ds) == 15
    (index,) = [
        i for i, (s, _) in enumerate(ds.samples) if ds.sites[s].name == 'crop_field_1'
    ]
    sample = ds[index]
    assert sample['time'][0] == sample['time'][1]  # the reference's fallback
    three = fmow(views=3, epoch='image', seed=0, size=16)
    assert (
        len(three) == 10
    )  # sites with >= 3 images: airport_0, airport_10, crop_field_0
    for index in range(len(three)):
        assert len(set(three[index]['time'].tolist())) == 3


def test_invalid_epoch() -> None:
    with pytest.raises(ValueError, match="epoch must be one of \\('site', 'image'\\)"):
        fmow(epoch='location')

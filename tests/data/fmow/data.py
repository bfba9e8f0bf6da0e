#!/usr/bin/env python3

"""Write the committed test fixture: a SYNTHETIC miniature of fMoW-RGB.

Same directory layout, file names and JSON schema as the fMoW-RGB download
(``<split>/<category>/<category>_<site>/<category>_<site>_<image>_rgb.{jpg,json}``),
with made-up values: 3 of the 62 categories, flat-coloured JPEGs of 32-64 px,
plausible metadata (footprints in seven countries, timestamps 2002-2017). One site
has a single image and one image has an ``_msrgb`` twin that the dataset ignores.
No real fMoW data is included. Run from anywhere: ``python tests/data/fmow/data.py``.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from torchvision.io import write_jpeg

# (split, category, site id, (lon, lat), country, utm zone, timestamps)
SITES = [
    (
        'train',
        'airport',
        0,
        (8.5831, 47.4490),
        'CHE',
        '32T',
        ['2012-04-02T10:32:22Z', '2015-08-19T10:41:05Z', '2016-03-07T10:28:47Z'],
    ),
    (
        'train',
        'airport',
        2,
        (36.9278, -1.3192),
        'KEN',
        '37M',
        ['2009-01-15T07:55:31Z', '2014-11-02T08:01:12Z'],
    ),
    (
        'train',
        'airport',
        10,
        (151.1772, -33.9399),
        'AUS',
        '56H',
        ['2010-09-30T23:58:10Z', '2013-02-11T00:04:44Z', '2017-06-23T00:01:39Z'],
    ),
    (
        'train',
        'crop_field',
        0,
        (-93.6091, 42.0308),
        'USA',
        '15T',
        [
            '2002-07-11T16:48:03Z',
            '2008-05-27T17:02:56Z',
            '2011-09-04T16:55:20Z',
            '2016-08-14T17:10:09Z',
        ],
    ),
    (
        'train',
        'crop_field',
        1,
        (75.8573, 30.9010),
        'IND',
        '43R',
        ['2014-02-20T05:37:41Z'],
    ),
    (
        'train',
        'zoo',
        0,
        (13.3376, 52.5079),
        'DEU',
        '33U',
        ['2011-04-28T10:20:55Z', '2015-10-09T10:33:18Z'],
    ),
    (
        'val',
        'airport',
        5,
        (-58.4156, -34.5588),
        'ARG',
        '21H',
        ['2013-12-01T14:05:36Z', '2016-01-19T13:58:02Z'],
    ),
    (
        'val',
        'zoo',
        3,
        (13.3376, 52.5079),
        'DEU',
        '33U',
        ['2010-06-03T10:12:44Z', '2017-05-21T10:27:30Z'],
    ),
]
HALF_SIDE = 0.0025  # degrees: footprints of about 500 m
SEED = 0


def footprint(lon: float, lat: float, jitter: float) -> str:
    """A lon/lat rectangle as WKT, in fMoW's ``raw_location`` format."""
    x0, x1 = lon - HALF_SIDE + jitter, lon + HALF_SIDE + jitter
    y0, y1 = lat - HALF_SIDE - jitter, lat + HALF_SIDE - jitter
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return 'POLYGON ((' + ', '.join(f'{x:.13f} {y:.13f}' for x, y in ring) + '))'


def metadata(
    name: str,
    category: str,
    point: tuple[float, float],
    country: str,
    utm: str,
    timestamp: str,
    width: int,
    height: int,
    rng: np.random.Generator,
) -> dict[str, object]:
    """fMoW-style metadata of one image."""
    w, h = int(rng.integers(8, width // 2)), int(rng.integers(8, height // 2))
    x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
    gsd = round(float(rng.uniform(0.3, 2.0)), 6)
    angles: dict[str, float] = {}
    for field, low, high in [
        ('off_nadir_angle', 0, 35),
        ('sun_azimuth', 0, 360),
        ('sun_elevation', 15, 80),
        ('target_azimuth', 0, 360),
    ]:
        value = float(rng.uniform(low, high))
        spread = float(rng.uniform(0, 1))
        angles[f'{field}_dbl'] = round(value, 6)
        angles[f'{field}_min_dbl'] = round(value - spread, 6)
        angles[f'{field}_max_dbl'] = round(value + spread, 6)
    return {
        'approximate_wavelengths': [661, 545, 477],
        'bounding_boxes': [
            {
                'ID': int(rng.integers(1, 200_000)),
                'box': [x, y, w, h],
                'category': category,
                'visible': 'True',
            }
        ],
        'catalog_id': f'{int(rng.integers(16**15)):016X}',
        'cloud_cover': int(rng.integers(0, 30)),
        'country_code': country,
        'gsd': gsd,
        'img_filename': f'{name}.tif',
        'img_height': height,
        'img_width': width,
        'mean_pixel_height': round(gsd / 111_000, 15),
        'mean_pixel_width': round(gsd / 111_000, 15),
        'multi_resolution_dbl': round(gsd * 4, 6),
        'pan_resolution_dbl': gsd,
        'raw_location': footprint(*point, jitter=float(rng.uniform(-1e-4, 1e-4))),
        'scan_direction': str(rng.choice(['Forward', 'Reverse'])),
        'sensor_platform_name': str(
            rng.choice(['WORLDVIEW02', 'GEOEYE01', 'QUICKBIRD02'])
        ),
        'spatial_reference': 'GCS_WGS_1984',
        **angles,
        'timestamp': timestamp,
        'utm': utm,
    }


def write(root: Path) -> list[Path]:
    """Write the fixture under *root*, replacing the splits already there."""
    rng = np.random.default_rng(SEED)
    for split in ('train', 'val'):
        shutil.rmtree(root / split, ignore_errors=True)
    written = []
    for split, category, site_id, point, country, utm, timestamps in SITES:
        site = f'{category}_{site_id}'
        folder = root / split / category / site
        folder.mkdir(parents=True)
        for image_id, timestamp in enumerate(timestamps):
            stem = f'{site}_{image_id}'
            height, width = (int(v) for v in rng.integers(32, 65, size=2))
            colour = torch.from_numpy(rng.integers(20, 236, size=3, dtype=np.uint8))
            image = colour[:, None, None].expand(3, height, width).contiguous()
            products = (
                ['rgb', 'msrgb']
                if (split, site, image_id) == ('train', 'zoo_0', 0)
                else ['rgb']
            )
            for product in products:
                name = f'{stem}_{product}'
                write_jpeg(image, str(folder / f'{name}.jpg'), quality=90)
                meta = metadata(
                    name, category, point, country, utm, timestamp, width, height, rng
                )
                (folder / f'{name}.json').write_text(
                    json.dumps(meta, indent=1, sort_keys=True)
                )
                written += [folder / f'{name}.jpg', folder / f'{name}.json']
    return written


if __name__ == '__main__':
    root = Path(__file__).resolve().parent
    paths = write(root)
    size = sum(path.stat().st_size for path in paths)
    print(f'wrote {len(paths)} files ({size / 1000:.0f} KB) to {root}')

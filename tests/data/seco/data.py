#!/usr/bin/env python3

"""Write the committed SeasonalContrastS2 test fixture: SYNTHETIC pixels, real layout.

The layout is that of TorchGeo's extracted ``seco_100k.zip``::

    seasonal_contrast_100k/<index:06>/<season>/<band>.tif

where ``<season>`` is the Earth Engine Sentinel-2 product id of the acquisition,
``<sensing start YYYYMMDDTHHMMSS>_<YYYYMMDDTHHMMSS>_T<MGRS tile>`` (UTC), and every
band is a single-band GeoTIFF in the UTM zone of the location, at its native
resolution (10, 20 or 60 m; the real patches are 264, 132 and 44 px, here 12, 6
and 2 px over the same 120 m footprint, centred on the location).

Locations (lon, lat, EPSG, number of seasons):

* ``000000``: Paris (2.3522, 48.8566), EPSG:32631, 5 seasons;
* ``000001``: Sydney (151.2093, -33.8688), EPSG:32756, 4 seasons;
* ``000002``: Nairobi (36.8219, -1.2921), EPSG:32737, 2 seasons (too few for
  SeCo's three distinct seasons).

Every pixel of band ``b`` (index in ``SeasonalContrastS2.all_bands``) of a season
acquired in month ``m`` is ``16 * m + b`` (uint8), so a test can tell which season
and band a view holds. Run from anywhere: ``python tests/data/seco/data.py``.
"""

import shutil
from pathlib import Path

import numpy as np
import pyproj
import rasterio
from rasterio.transform import from_origin

#: Footprint of every band file, in metres.
EXTENT = 120.0

#: Band name and ground resolution in metres, in SeasonalContrastS2.all_bands order.
BANDS = (
    ('B1', 60.0),
    ('B2', 10.0),
    ('B3', 10.0),
    ('B4', 10.0),
    ('B5', 20.0),
    ('B6', 20.0),
    ('B7', 20.0),
    ('B8', 10.0),
    ('B8A', 20.0),
    ('B9', 60.0),
    ('B11', 20.0),
    ('B12', 20.0),
)

#: Location directory, (lon, lat), EPSG code, season directory names.
LOCATIONS = (
    (
        '000000',
        (2.3522, 48.8566),
        32631,
        (
            '20190315T105021_20190315T105458_T31UDQ',
            '20190619T105031_20190619T105512_T31UDQ',
            '20190908T104629_20190908T105335_T31UDQ',
            '20191212T110441_20191212T110442_T31UDQ',
            '20200226T105019_20200226T105331_T31UDQ',
        ),
    ),
    (
        '000001',
        (151.2093, -33.8688),
        32756,
        (
            '20190421T235251_20190421T235250_T56HLH',
            '20190720T235251_20190720T235253_T56HLH',
            '20191018T235251_20191018T235254_T56HLH',
            '20200116T235251_20200116T235249_T56HLH',
        ),
    ),
    (
        '000002',
        (36.8219, -1.2921),
        32737,
        (
            '20190804T074619_20190804T075950_T37MBU',
            '20191112T074151_20191112T075232_T37MBU',
        ),
    ),
)


def pixel_value(month: int, band: int) -> int:
    """Value of every pixel of band index *band* in a season of *month*."""
    return 16 * month + band


def write(root: Path) -> list[Path]:
    """Write the fixture under *root*; return the written files."""
    directory = root / 'seasonal_contrast_100k'
    shutil.rmtree(directory, ignore_errors=True)
    written = []
    for location, (lon, lat), epsg, seasons in LOCATIONS:
        to_utm = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
        x, y = to_utm.transform(lon, lat)
        for season in seasons:
            month = int(season[4:6])
            folder = directory / location / season
            folder.mkdir(parents=True)
            for band, (name, res) in enumerate(BANDS):
                size = round(EXTENT / res)
                path = folder / f'{name}.tif'
                with rasterio.open(
                    path,
                    'w',
                    driver='GTiff',
                    height=size,
                    width=size,
                    count=1,
                    dtype='uint8',
                    crs=f'EPSG:{epsg}',
                    transform=from_origin(x - EXTENT / 2, y + EXTENT / 2, res, res),
                ) as f:
                    f.write(np.full((1, size, size), pixel_value(month, band), 'uint8'))
                written.append(path)
    return written


if __name__ == '__main__':
    files = write(Path(__file__).resolve().parent)
    total = sum(path.stat().st_size for path in files)
    print(f'wrote {len(files)} files ({total / 1024:.0f} KiB)')

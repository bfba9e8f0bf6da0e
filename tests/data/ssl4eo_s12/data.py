#!/usr/bin/env python3

"""Write the committed SSL4EO-S12 test fixture: SYNTHETIC pixels, real layout.

The layout is that of TorchGeo's extracted SSL4EO-S12 archives::

    <split>/<index:07>/<season>/<band>.tif

for the splits ``s1`` (bands VV, VH), ``s2c`` (13 bands) and ``s2a`` (12 bands). The
season directories are named like the acquisitions, as TorchGeo's
``SSL4EOS12.metadata[split]['filename_regex']`` expects: the Earth Engine
Sentinel-2 product id ``<sensing start YYYYMMDDTHHMMSS>_<YYYYMMDDTHHMMSS>_T<tile>``
for S2 (the same four acquisitions in ``s2c`` and ``s2a``), the Sentinel-1 product id
``S1A_IW_GRDH_1SDV_<start>_<stop>_<orbit>_<datatake>_<id>`` for S1 (all UTC). Every
band is a single-band GeoTIFF in the UTM zone of the location at its native
resolution (the real patches are 264 px at 10 m; here 12, 6 and 2 px at 10, 20 and
60 m over the same 120 m footprint, centred on the location).

Locations (lon, lat, EPSG), four seasons each:

* ``0000000``: Lima (-77.0428, -12.0464), EPSG:32718;
* ``0000001``: Reykjavik (-21.9426, 64.1466), EPSG:32627.

Pixel values encode the acquisition month ``m`` and the band index ``b`` (in
``SSL4EOS12.metadata[split]['bands']`` order): ``1000 * m + b`` (uint16) for S2,
``-(m + b / 2)`` (float32, like backscatter in dB) for S1. Run from anywhere:
``python tests/data/ssl4eo_s12/data.py``.
"""

import shutil
from pathlib import Path

import numpy as np
import pyproj
import rasterio
from rasterio.transform import from_origin

#: Footprint of every band file, in metres.
EXTENT = 120.0

S2_BANDS = (
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
    ('B10', 60.0),
    ('B11', 20.0),
    ('B12', 20.0),
)

#: Band name and ground resolution in metres, per split.
BANDS = {
    's1': (('VV', 10.0), ('VH', 10.0)),
    's2c': S2_BANDS,
    's2a': tuple(band for band in S2_BANDS if band[0] != 'B10'),
}

#: Location directory, (lon, lat), EPSG code, S1 seasons, S2 seasons.
LOCATIONS = (
    (
        '0000000',
        (-77.0428, -12.0464),
        32718,
        (
            'S1A_IW_GRDH_1SDV_20200329T104512_20200329T104537_031890_03AE5A_1C2F',
            'S1A_IW_GRDH_1SDV_20200627T104517_20200627T104542_033202_03D8B1_6E0D',
            'S1B_IW_GRDH_1SDV_20200925T104431_20200925T104456_023537_02CB76_4A1B',
            'S1A_IW_GRDH_1SDV_20201224T104522_20201224T104547_035827_0431A9_D3E8',
        ),
        (
            '20200328T152641_20200328T152636_T18LTM',
            '20200626T152651_20200626T152648_T18LTM',
            '20200924T152649_20200924T152643_T18LTM',
            '20201223T152641_20201223T152637_T18LTM',
        ),
    ),
    (
        '0000001',
        (-21.9426, 64.1466),
        32627,
        (
            'S1B_IW_GRDH_1SDV_20201103T190313_20201103T190338_024104_02DD3B_0A77',
            'S1B_IW_GRDH_1SDV_20210201T190310_20210201T190335_025404_0306D2_91C4',
            'S1B_IW_GRDH_1SDV_20210502T190314_20210502T190339_026729_03313E_5F20',
            'S1B_IW_GRDH_1SDV_20210731T190319_20210731T190344_028054_0358DA_7C01',
        ),
        (
            '20201105T131241_20201105T131239_T27WVM',
            '20210203T131241_20210203T131235_T27WVM',
            '20210504T130251_20210504T130252_T27WVM',
            '20210802T130249_20210802T130251_T27WVM',
        ),
    ),
)


def month_of(season: str) -> int:
    """Acquisition month of a season directory name (S1 or S2 product id)."""
    start = season[17:] if season.startswith('S1') else season
    return int(start[4:6])


def pixel_value(split: str, month: int, band: int) -> float:
    """Value of every pixel of band index *band* in a season of *month*."""
    return -(month + band / 2) if split == 's1' else 1000 * month + band


def write(root: Path) -> list[Path]:
    """Write the fixture under *root*; return the written files."""
    written = []
    for split, bands in BANDS.items():
        shutil.rmtree(root / split, ignore_errors=True)
        dtype = 'float32' if split == 's1' else 'uint16'
        for location, (lon, lat), epsg, s1, s2 in LOCATIONS:
            to_utm = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
            x, y = to_utm.transform(lon, lat)
            for season in s1 if split == 's1' else s2:
                folder = root / split / location / season
                folder.mkdir(parents=True)
                for band, (name, res) in enumerate(bands):
                    size = round(EXTENT / res)
                    value = pixel_value(split, month_of(season), band)
                    path = folder / f'{name}.tif'
                    with rasterio.open(
                        path,
                        'w',
                        driver='GTiff',
                        height=size,
                        width=size,
                        count=1,
                        dtype=dtype,
                        crs=f'EPSG:{epsg}',
                        transform=from_origin(x - EXTENT / 2, y + EXTENT / 2, res, res),
                    ) as f:
                        f.write(np.full((1, size, size), value, dtype))
                    written.append(path)
    return written


if __name__ == '__main__':
    files = write(Path(__file__).resolve().parent)
    total = sum(path.stat().st_size for path in files)
    print(f'wrote {len(files)} files ({total / 1024:.0f} KiB)')

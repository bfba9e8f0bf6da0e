#!/usr/bin/env python3

"""Write the committed test fixture: a SYNTHETIC miniature of S2-100K.

Same layout as the S2-100K download read by TorchGeo's ``S2100k``: ``index.csv``
with columns ``fn``, ``lon``, ``lat`` and ``images/patch_<i>.tif``, 12-band
uint16 GeoTIFFs (B1-B9, B8A, B11, B12) in the UTM zone of each point. Made-up
values: 6 patches of 8 × 8 pixels (256 × 256 in the real data) whose pixel value
is ``1000 * (band + 1) + i`` for patch i. No real data is included. Run from
anywhere: ``python tests/data/s2100k/data.py``.
"""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
from pyproj import CRS, Transformer
from rasterio.transform import from_origin

SIZE = 8
BANDS = 12
#: (lon, lat) of each patch: both hemispheres, near the dateline and a pole.
POINTS = [
    (2.3522, 48.8566),
    (-58.3816, -34.6037),
    (179.8, -16.9),
    (-179.6, 65.2),
    (36.8219, -1.2921),
    (15.6, 78.2),
]


def pixel_value(index: int, band: int) -> int:
    """Value of every pixel of band *band* of patch *index*."""
    return 1000 * (band + 1) + index


def main() -> None:
    """Write ``index.csv`` and ``images/`` next to this script."""
    root = Path(__file__).resolve().parent
    images = root / 'images'
    shutil.rmtree(images, ignore_errors=True)
    images.mkdir()
    rows = []
    for i, (lon, lat) in enumerate(POINTS):
        zone = int((lon + 180) // 6) % 60 + 1
        crs = CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)
        x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
        data = np.stack(
            [np.full((SIZE, SIZE), pixel_value(i, b), np.uint16) for b in range(BANDS)]
        )
        fn = f'patch_{i}.tif'
        profile = {
            'driver': 'GTiff',
            'width': SIZE,
            'height': SIZE,
            'count': BANDS,
            'dtype': 'uint16',
            'crs': crs,
            'transform': from_origin(x - 5 * SIZE, y + 5 * SIZE, 10, 10),
        }
        with rasterio.open(images / fn, 'w', **profile) as dst:
            dst.write(data)
        rows.append({'fn': fn, 'lon': lon, 'lat': lat})
    pd.DataFrame(rows).to_csv(root / 'index.csv', index=False)


if __name__ == '__main__':
    main()

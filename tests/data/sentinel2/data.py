#!/usr/bin/env python3

"""Write the committed test fixture: SYNTHETIC Sentinel-2 band files of two granules.

Laid out as one's own Sentinel-2 folder read by ``configs/gassl/own_sentinel2.yaml``
(TorchGeo's ``Sentinel2`` file names, Level-1C style, one GeoTIFF per band):
``T<tile>_<YYYYMMDDTHHMMSS>_<band>.tif`` for the granules T31UFQ (EPSG:32631) and
T33UVP (EPSG:32633), four dates each and the bands B02, B03, B04, B08, 32 × 32
pixels at 10 m, uint16. Made-up values: smooth random fields of about 300 to
3,000 (reflectance × 10,000), a different field per granule, band and date. No
real data is included. Run from anywhere: ``python tests/data/sentinel2/data.py``.
"""

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

SIZE = 32
RES = 10.0
BANDS = ('B02', 'B03', 'B04', 'B08')
#: tile: (CRS, upper-left corner)
GRANULES = {
    'T31UFQ': ('EPSG:32631', (600_000.0, 5_400_000.0)),
    'T33UVP': ('EPSG:32633', (400_000.0, 5_300_000.0)),
}
DATES = ('20210305T104021', '20210514T104031', '20210723T104031', '20211001T104021')


def main() -> None:
    """Write the band files next to this script."""
    root = Path(__file__).resolve().parent
    for old in root.glob('T*.tif'):
        old.unlink()
    rng = np.random.default_rng(0)
    for tile, (crs, (x, y)) in GRANULES.items():
        for date in DATES:
            for b, band in enumerate(BANDS):
                coarse = rng.uniform(300, 3000, size=(4, 4))
                field = np.kron(coarse, np.ones((SIZE // 4, SIZE // 4)))
                data = (field + 100 * b).astype(np.uint16)[None]
                profile = {
                    'driver': 'GTiff',
                    'width': SIZE,
                    'height': SIZE,
                    'count': 1,
                    'dtype': 'uint16',
                    'crs': crs,
                    'transform': from_origin(x, y, RES, RES),
                    'nodata': 0,
                    'compress': 'deflate',
                }
                with rasterio.open(
                    root / f'{tile}_{date}_{band}.tif', 'w', **profile
                ) as dst:
                    dst.write(data)


if __name__ == '__main__':
    main()

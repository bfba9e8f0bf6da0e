#!/usr/bin/env python3

"""Write the committed test fixture: the SYNTHETIC demo series at a tiny size.

All ten demo locations, six dates each, 16 x 16 px tiles at 10 m (about 200 KB in
all). Run from anywhere: ``python tests/data/demo/data.py``.
"""

from pathlib import Path

from torchgeo_geossl.datasets.demo import generate_demo_data

SIZE = 16
DATES = 6
SEED = 0

if __name__ == '__main__':
    root = Path(__file__).resolve().parent
    for path in root.glob('demo_*.tif'):
        path.unlink()
    paths = generate_demo_data(
        root, size=SIZE, seed=SEED, dates_per_location=DATES, overwrite=True
    )
    print(f'wrote {len(paths)} files to {root}')

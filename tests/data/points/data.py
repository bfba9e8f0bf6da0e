#!/usr/bin/env python3
"""Write points.csv: synthetic labelled points in three separated regions.

Class ``desert`` lies around (20°E, 25°N), ``forest`` around (-60°E, -5°N) and
``tundra`` around (100°E, 65°N), 30 points each, scattered by ±8 degrees. The
columns are ``lon,lat,biome`` (not the power-plant defaults, to exercise the
configurable column names of PointsDataModule).
"""

from pathlib import Path

import numpy as np
import pandas as pd

CENTERS = {'desert': (20.0, 25.0), 'forest': (-60.0, -5.0), 'tundra': (100.0, 65.0)}
PER_CLASS = 30


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for name, (lon, lat) in CENTERS.items():
        offsets = rng.uniform(-8.0, 8.0, size=(PER_CLASS, 2))
        for dlon, dlat in offsets:
            rows.append((round(lon + dlon, 4), round(lat + dlat, 4), name))
    order = rng.permutation(len(rows))
    frame = pd.DataFrame([rows[i] for i in order], columns=['lon', 'lat', 'biome'])
    frame.to_csv(Path(__file__).with_name('points.csv'), index=False)


if __name__ == '__main__':
    main()

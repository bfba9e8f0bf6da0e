#!/usr/bin/env python3
"""Write small vector files: regions of interest and labelled points.

* ``region.geojson`` (WGS 84, two overlapping boxes drawn in longitude/latitude):
  a region inside the tile that ``tests/conftest.py:write_series(size=200)`` writes
  (EPSG:32631, x 500,000-502,000 m, y 5,698,000-5,700,000 m), in another CRS than
  the raster.
* ``region.gpkg`` (EPSG:3857, one box drawn in Web Mercator): another region inside
  the same tile.
* ``beauce.geojson`` (WGS 84): a box around the ``beauce`` site of
  ``tests/data/demo`` (1.60°E, 48.30°N), the only demo site it holds.
* ``points.gpkg`` (EPSG:3857): the 90 labelled points of ``../points/points.csv``
  as Point features with the attribute ``biome``.
"""

from pathlib import Path

import fiona
import pandas as pd
from pyproj import Transformer

HERE = Path(__file__).resolve().parent
#: Two boxes (lon_min, lat_min, lon_max, lat_max) in degrees.
REGION_BOXES = ((3.004, 51.436, 3.016, 51.444), (3.012, 51.440, 3.022, 51.448))
#: One box (lon_min, lat_min, lon_max, lat_max), its corners stored in EPSG:3857.
GPKG_BOX = (3.006, 51.438, 3.020, 51.446)
BEAUCE_BOX = (1.595, 48.295, 1.605, 48.305)
#: Without a spatial index the GeoPackages are a third smaller.
GPKG = {'driver': 'GPKG', 'SPATIAL_INDEX': 'NO'}
GEOJSON = {'driver': 'GeoJSON'}
TO_MERCATOR = Transformer.from_crs('EPSG:4326', 'EPSG:3857', always_xy=True)


def ring(xmin: float, ymin: float, xmax: float, ymax: float) -> list[list[tuple]]:
    return [[(xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax), (xmin, ymin)]]


def mercator_box(box: tuple[float, float, float, float]) -> list[list[tuple]]:
    xmin, ymin = TO_MERCATOR.transform(box[0], box[1])
    xmax, ymax = TO_MERCATOR.transform(box[2], box[3])
    return ring(round(xmin, 3), round(ymin, 3), round(xmax, 3), round(ymax, 3))


def write_polygons(path: Path, crs: str, rings: list[list[list[tuple]]]) -> None:
    path.unlink(missing_ok=True)
    options = GEOJSON if path.suffix == '.geojson' else GPKG
    schema = {'geometry': 'Polygon', 'properties': {'name': 'str'}}
    with fiona.open(path, 'w', crs=crs, schema=schema, **options) as dst:
        for i, coordinates in enumerate(rings):
            dst.write(
                fiona.Feature(
                    geometry=fiona.Geometry(type='Polygon', coordinates=coordinates),
                    properties=fiona.Properties(name=f'part{i}'),
                )
            )


def main() -> None:
    write_polygons(
        HERE / 'region.geojson', 'EPSG:4326', [ring(*box) for box in REGION_BOXES]
    )
    write_polygons(HERE / 'region.gpkg', 'EPSG:3857', [mercator_box(GPKG_BOX)])
    write_polygons(HERE / 'beauce.geojson', 'EPSG:4326', [ring(*BEAUCE_BOX)])

    frame = pd.read_csv(HERE.parent / 'points' / 'points.csv')
    path = HERE / 'points.gpkg'
    path.unlink(missing_ok=True)
    schema = {'geometry': 'Point', 'properties': {'biome': 'str'}}
    x, y = TO_MERCATOR.transform(frame['lon'].to_numpy(), frame['lat'].to_numpy())
    with fiona.open(path, 'w', crs='EPSG:3857', schema=schema, **GPKG) as dst:
        for xi, yi, biome in zip(x, y, frame['biome'], strict=True):
            dst.write(
                fiona.Feature(
                    geometry=fiona.Geometry(type='Point', coordinates=(xi, yi)),
                    properties=fiona.Properties(biome=biome),
                )
            )


if __name__ == '__main__':
    main()

"""Regions and labelled points read from vector files, compared with pyproj/geopandas."""

import json
from pathlib import Path

import fiona
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from torchgeo_geossl.datasets import read_labelled_points, read_region

VECTOR = Path(__file__).resolve().parents[1] / 'data' / 'vector'
POINTS_CSV = Path(__file__).resolve().parents[1] / 'data' / 'points' / 'points.csv'
UTM = 'EPSG:32631'


def geojson_region_in_utm() -> shapely.Geometry:
    """region.geojson's boxes, vertices reprojected with pyproj, united."""
    data = json.loads((VECTOR / 'region.geojson').read_text())
    to_utm = Transformer.from_crs('EPSG:4326', UTM, always_xy=True)
    boxes = []
    for feature in data['features']:
        (ring,) = feature['geometry']['coordinates']
        lon, lat = np.array(ring).T
        boxes.append(shapely.Polygon(np.column_stack(to_utm.transform(lon, lat))))
    return shapely.union_all(boxes)


def test_geojson_region_is_reprojected_and_united() -> None:
    region = read_region(VECTOR / 'region.geojson', UTM)
    expected = geojson_region_in_utm()
    assert region.geom_type == 'Polygon'  # the two boxes overlap
    # the edges are densified, so the shapes agree up to the curvature of a
    # longitude/latitude line in UTM over 1 km: far below a pixel
    assert shapely.symmetric_difference(region, expected).area < 1e-4 * expected.area
    np.testing.assert_allclose(region.bounds, expected.bounds, atol=0.01)


def test_gpkg_region_matches_geopandas() -> None:
    region = read_region(VECTOR / 'region.gpkg', UTM)
    expected = (
        gpd.read_file(VECTOR / 'region.gpkg', engine='pyogrio').to_crs(UTM).union_all()
    )
    assert shapely.symmetric_difference(region, expected).area < 1e-4 * expected.area
    np.testing.assert_allclose(region.bounds, expected.bounds, atol=0.01)


def test_region_in_its_own_crs_is_unchanged() -> None:
    region = read_region(VECTOR / 'region.gpkg', 'EPSG:3857')
    expected = gpd.read_file(VECTOR / 'region.gpkg', engine='pyogrio').union_all()
    assert shapely.equals_exact(region, expected, tolerance=0.0)


def test_points_are_reprojected_to_lonlat() -> None:
    lonlat, labels = read_labelled_points(VECTOR / 'points.gpkg', 'biome')
    frame = pd.read_csv(POINTS_CSV)
    assert lonlat.dtype == np.float64
    np.testing.assert_allclose(lonlat, frame[['lon', 'lat']].to_numpy(), atol=1e-9)
    assert labels == frame['biome'].tolist()


def write(path: Path, geometries: list[dict[str, object]], **options: object) -> Path:
    kind = geometries[0]['type'] if geometries else 'Polygon'
    schema = {'geometry': kind, 'properties': {'biome': 'str'}}
    with fiona.open(path, 'w', schema=schema, **options) as dst:
        for geometry in geometries:
            dst.write(
                fiona.Feature(
                    geometry=fiona.Geometry.from_dict(geometry),
                    properties=fiona.Properties(biome='x'),
                )
            )
    return path


SQUARE = {'type': 'Polygon', 'coordinates': [[(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]]}


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='no such vector file'):
        read_region(tmp_path / 'nope.gpkg', UTM)

    text = tmp_path / 'region.txt'
    text.write_text('not a vector file')
    with pytest.raises(ValueError, match=r'region\.txt.* is not a vector file'):
        read_region(text, UTM)

    shp = write(tmp_path / 'nocrs.shp', [SQUARE], driver='ESRI Shapefile')
    with pytest.raises(ValueError, match=r'nocrs\.shp.* has no CRS'):
        read_region(shp, UTM)

    empty = write(tmp_path / 'empty.gpkg', [], driver='GPKG', crs='EPSG:4326')
    with pytest.raises(ValueError, match=r'empty\.gpkg.* has no features'):
        read_region(empty, UTM)

    with pytest.raises(ValueError, match='feature 0 is Point, but a region'):
        read_region(VECTOR / 'points.gpkg', UTM)
    with pytest.raises(ValueError, match='feature 0 is Polygon, but points'):
        read_labelled_points(VECTOR / 'region.gpkg', 'name')
    with pytest.raises(ValueError, match=r"points\.gpkg.* no label column 'kind'"):
        read_labelled_points(VECTOR / 'points.gpkg', 'kind')

    bowtie = {
        'type': 'Polygon',
        'coordinates': [[(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)]],
    }
    invalid = write(tmp_path / 'bowtie.geojson', [bowtie], driver='GeoJSON')
    with pytest.raises(ValueError, match='feature 0 is an invalid polygon'):
        read_region(invalid, UTM)

    layers = tmp_path / 'layers.gpkg'
    write(layers, [SQUARE], driver='GPKG', crs='EPSG:4326', layer='a')
    write(layers, [SQUARE], driver='GPKG', crs='EPSG:4326', layer='b')
    with pytest.raises(ValueError, match=r"holds 2 layers \['a', 'b'\]"):
        read_region(layers, UTM)

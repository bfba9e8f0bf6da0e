"""Regions and labelled points read from vector files (GeoPackage, Shapefile, GeoJSON)."""

import os
from pathlib import Path
from typing import Any, cast

import fiona
import numpy as np
import numpy.typing as npt
import shapely
from fiona.errors import DriverError
from pyproj import CRS, Transformer
from shapely import MultiPolygon, Polygon
from shapely.geometry import shape

#: Pieces each side of a region's bounding box is cut into before reprojection.
_DENSIFY = 100


def _open_layer(path: str | os.PathLike[str]) -> tuple[Path, list[Any], CRS]:
    """Read the features and the CRS of the one layer of a vector file.

    Args:
        path: A vector file readable by fiona (GeoPackage, Shapefile, GeoJSON, ...).

    Returns:
        The path, the features and the layer's CRS.

    Raises:
        FileNotFoundError: If *path* does not exist.
        ValueError: If the file is not a vector file, or holds several layers, no
            feature, or no CRS.
    """
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f'no such vector file: {str(file)!r}')
    try:
        layers = fiona.listlayers(file)
    except DriverError as err:
        msg = f'{str(file)!r} is not a vector file that fiona can read ({err})'
        raise ValueError(msg) from err
    if len(layers) != 1:
        msg = (
            f'{str(file)!r} holds {len(layers)} layers {layers}; give a file with '
            'exactly one layer (e.g. `ogr2ogr out.gpkg IN LAYER`)'
        )
        raise ValueError(msg)
    with fiona.open(file) as src:
        features = list(src)
        wkt = src.crs_wkt
    if not features:
        raise ValueError(f'{str(file)!r} has no features')
    if not wkt:
        msg = (
            f'{str(file)!r} has no CRS; assign one, e.g. '
            '`ogr2ogr -a_srs EPSG:<code> out.gpkg IN`'
        )
        raise ValueError(msg)
    return file, features, CRS.from_wkt(wkt)


def read_region(path: str | os.PathLike[str], crs: Any) -> Polygon | MultiPolygon:
    """Read a region of interest from a vector file, in the CRS of a dataset.

    The union of all (multi)polygon features of the file's single layer, reprojected
    from the file's CRS to *crs* with pyproj. Before reprojection the edges are
    densified (to 1/100 of the side of the region's bounding box), so that a region
    drawn in longitude and latitude keeps its shape in a projected CRS.

    Args:
        path: A GeoPackage, Shapefile, GeoJSON or any other file fiona reads, with
            one layer of polygons and a CRS (GeoJSON files are WGS 84).
        crs: The CRS to return the region in (the dataset's ``crs``; anything
            :meth:`pyproj.crs.CRS.from_user_input` accepts).

    Returns:
        The region, a Polygon or MultiPolygon in *crs*.

    Raises:
        FileNotFoundError: If *path* does not exist.
        ValueError: If the file is not a vector file, or holds several layers, no
            feature, no CRS, a feature that is not a (multi)polygon, or an invalid
            polygon.

    .. versionadded:: 0.2
    """
    file, features, source = _open_layer(path)
    geometries = []
    for i, feature in enumerate(features):
        kind = 'no geometry' if feature.geometry is None else feature.geometry.type
        if kind not in ('Polygon', 'MultiPolygon'):
            msg = (
                f'{str(file)!r}: feature {i} is {kind}, but a region of interest '
                'must be made of Polygon or MultiPolygon features'
            )
            raise ValueError(msg)
        geometry = shape(feature.geometry)
        if not geometry.is_valid:
            msg = (
                f'{str(file)!r}: feature {i} is an invalid polygon '
                f'({shapely.is_valid_reason(geometry)}); repair it, e.g. with '
                '`ogr2ogr -makevalid`'
            )
            raise ValueError(msg)
        geometries.append(geometry)
    region = shapely.union_all(geometries)
    target = CRS.from_user_input(crs)
    if source != target:
        xmin, ymin, xmax, ymax = region.bounds
        region = shapely.segmentize(region, max(xmax - xmin, ymax - ymin) / _DENSIFY)
        transformer = Transformer.from_crs(source, target, always_xy=True)
        region = shapely.transform(
            region, lambda xy: np.column_stack(transformer.transform(*xy.T))
        )
    # the union of valid polygons is a Polygon or a MultiPolygon
    return cast(Polygon | MultiPolygon, region)


def read_labelled_points(
    path: str | os.PathLike[str], label_column: str
) -> tuple[npt.NDArray[np.float64], list[Any]]:
    """Read labelled points from a vector file, as longitude and latitude.

    Args:
        path: A GeoPackage, Shapefile, GeoJSON or any other file fiona reads, with
            one layer of Point features and a CRS (any: the points are reprojected
            with pyproj).
        label_column: The attribute holding each point's label.

    Returns:
        ``[N, 2]`` ``(lon, lat)`` degrees in WGS 84 (EPSG:4326), and the N labels as
        stored (None where a feature has none).

    Raises:
        FileNotFoundError: If *path* does not exist.
        ValueError: If the file is not a vector file, or holds several layers, no
            feature, no CRS, a feature that is not a Point, or no attribute
            *label_column*.

    .. versionadded:: 0.2
    """
    file, features, source = _open_layer(path)
    columns = list(features[0].properties.keys())
    if label_column not in columns:
        msg = (
            f'{str(file)!r} has no label column {label_column!r}; columns: '
            f'{columns} (set label_column)'
        )
        raise ValueError(msg)
    xy = np.empty((len(features), 2), dtype=np.float64)
    labels = []
    for i, feature in enumerate(features):
        geometry = feature.geometry
        kind = 'no geometry' if geometry is None else geometry.type
        if kind != 'Point':
            msg = f'{str(file)!r}: feature {i} is {kind}, but points must be Point'
            raise ValueError(msg)
        xy[i] = geometry.coordinates[:2]
        labels.append(feature.properties.get(label_column))
    transformer = Transformer.from_crs(source, 'EPSG:4326', always_xy=True)
    lon, lat = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat]).astype(np.float64), labels

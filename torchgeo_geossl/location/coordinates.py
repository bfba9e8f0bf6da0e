"""Conversion of dataset coordinates to longitude/latitude and to unit vectors.

Every location target in torchgeo-geossl (the ``point`` of a sample, geo-cluster
labels, location encoders) is expressed as ``(lon, lat)`` in degrees WGS84
(EPSG:4326, longitude first). The functions here compute it with :mod:`pyproj` in
float64 from coordinates in a dataset's CRS, which may be any CRS pyproj understands,
including custom WKT/PROJ definitions without an EPSG code.
"""

import functools
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import pyproj
import torch
from pyproj.exceptions import CRSError
from torch import Tensor

#: Geographic CRS of all ``(lon, lat)`` outputs.
WGS84 = pyproj.CRS.from_epsg(4326)


def _as_crs(crs: pyproj.CRS | str) -> pyproj.CRS:
    """Parse *crs* into a :class:`pyproj.CRS`.

    Args:
        crs: Anything :meth:`pyproj.CRS.from_user_input` accepts (a
            :class:`pyproj.CRS`, a :class:`rasterio.crs.CRS`, an ``'EPSG:xxxx'``
            string, WKT or a PROJ string).

    Returns:
        The parsed CRS.

    Raises:
        ValueError: If *crs* is None or cannot be parsed.
    """
    if crs is None:
        raise ValueError('crs is None: a CRS is needed to compute longitude/latitude')
    try:
        return pyproj.CRS.from_user_input(crs)
    except CRSError as err:
        raise ValueError(f'Cannot parse CRS {crs!r}: {err}') from err


@functools.lru_cache(maxsize=64)
def _cached_transformer(crs: pyproj.CRS) -> pyproj.Transformer:
    """Build the transformer from *crs* to WGS84 (cached per CRS).

    Args:
        crs: Source CRS.

    Returns:
        A transformer with ``always_xy=True``.
    """
    return pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)


def _describe_crs(crs: pyproj.CRS) -> str:
    """Short human-readable description of *crs* for error messages.

    Args:
        crs: The CRS.

    Returns:
        ``'EPSG:xxxx'`` when the CRS has an EPSG code, else its name and definition.
    """
    epsg = crs.to_epsg()
    if epsg is not None:
        return f'EPSG:{epsg} ({crs.name})'
    definition = crs.srs if len(crs.srs) <= 200 else crs.srs[:200] + '...'
    return f'{crs.name!r} ({definition})'


def lonlat_transformer(crs: pyproj.CRS | str) -> pyproj.Transformer:
    """Transformer from *crs* to WGS84 longitude/latitude.

    Transformers are cached per CRS, so calling this for every sample is cheap.

    Args:
        crs: Source CRS; anything :meth:`pyproj.CRS.from_user_input` accepts,
            including CRSs without an EPSG code (custom WKT or PROJ strings).

    Returns:
        A :class:`pyproj.Transformer` to EPSG:4326 with ``always_xy=True``, i.e.
        taking ``(x, y)`` and returning ``(lon, lat)``.

    Raises:
        ValueError: If *crs* is None or cannot be parsed.

    .. versionadded:: 0.1
    """
    return _cached_transformer(_as_crs(crs))


def normalize_longitude(lon: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Wrap longitudes into ``[-180, 180]``.

    Values already inside the range are returned unchanged (so ``180`` stays
    ``180``); others are wrapped by multiples of 360 degrees.

    Args:
        lon: Longitudes in degrees.

    Returns:
        Longitudes in ``[-180, 180]`` as float64.

    .. versionadded:: 0.1
    """
    arr = np.asarray(lon, dtype=np.float64)
    outside = (arr < -180.0) | (arr > 180.0)
    return np.where(outside, np.mod(arr + 180.0, 360.0) - 180.0, arr)


def to_lonlat(
    x: npt.ArrayLike, y: npt.ArrayLike, crs: pyproj.CRS | str
) -> npt.NDArray[np.float64]:
    """Convert coordinates in *crs* to longitude/latitude (vectorised, float64).

    Args:
        x: x coordinates (easting, or longitude for geographic CRSs) in *crs* units;
            a scalar or any array shape broadcastable with *y*.
        y: y coordinates (northing, or latitude) in *crs* units.
        crs: CRS of *x* and *y*; anything :meth:`pyproj.CRS.from_user_input`
            accepts.

    Returns:
        Array ``[N, 2]`` of ``(lon, lat)`` degrees WGS84 in float64, with longitudes
        normalised to ``[-180, 180]``; N is the number of broadcast points.

    Raises:
        ValueError: If *crs* is None or invalid, or if any converted coordinate is
            not finite (point outside the CRS's domain, NaN input); the message names
            the CRS and the offending input coordinates.

    .. versionadded:: 0.1
    """
    parsed = _as_crs(crs)
    xs, ys = np.broadcast_arrays(
        np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    )
    xs = xs.ravel()
    ys = ys.ravel()
    lon, lat = _cached_transformer(parsed).transform(xs, ys)
    out = np.stack(
        [np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)], axis=-1
    ).reshape(-1, 2)
    bad = ~np.isfinite(out).all(axis=1)
    if bad.any():
        pairs = [
            (float(a), float(b)) for a, b in zip(xs[bad][:5], ys[bad][:5], strict=True)
        ]
        more = f' (and {int(bad.sum()) - 5} more)' if bad.sum() > 5 else ''
        raise ValueError(
            f'Cannot convert coordinates from CRS {_describe_crs(parsed)} to '
            f'longitude/latitude: non-finite result for input (x, y) = {pairs}{more}. '
            'Are the coordinates inside the domain of this CRS?'
        )
    out[:, 0] = normalize_longitude(out[:, 0])
    return out


def query_center_lonlat(
    x: slice, y: slice, crs: pyproj.CRS | str
) -> tuple[float, float]:
    """Longitude/latitude of the centre of a TorchGeo query box.

    The centre is computed in float64 from the slice bounds (not from the float32
    ``bounds`` tensor of a TorchGeo sample) and converted with pyproj.

    Args:
        x: ``xmin:xmax`` slice in *crs* units.
        y: ``ymin:ymax`` slice in *crs* units.
        crs: CRS of the query; anything :meth:`pyproj.CRS.from_user_input` accepts.

    Returns:
        ``(lon, lat)`` in degrees WGS84.

    Raises:
        ValueError: If a slice bound is missing, or if the conversion fails (see
            :func:`to_lonlat`).

    .. versionadded:: 0.1
    """
    for name, s in (('x', x), ('y', y)):
        if s.start is None or s.stop is None:
            raise ValueError(
                f'{name} slice {s} needs both start and stop to compute the query '
                'centre'
            )
    cx = (float(x.start) + float(x.stop)) / 2
    cy = (float(y.start) + float(y.stop)) / 2
    lon, lat = to_lonlat(cx, cy, crs)[0]
    return float(lon), float(lat)


@overload
def lonlat_to_unit_vectors(points: Tensor) -> Tensor: ...


@overload
def lonlat_to_unit_vectors(points: npt.NDArray[Any]) -> npt.NDArray[np.float64]: ...


def lonlat_to_unit_vectors(
    points: Tensor | npt.NDArray[Any],
) -> Tensor | npt.NDArray[np.float64]:
    """Map ``(lon, lat)`` degrees to 3-D unit vectors on the sphere.

    ``x = cos(lat) cos(lon)``, ``y = cos(lat) sin(lon)``, ``z = sin(lat)``. Euclidean
    distances between these vectors are monotonic in great-circle distance and have
    no discontinuity at the antimeridian or the poles.

    Args:
        points: Array ``[..., 2]`` of ``(lon, lat)`` degrees, numpy or torch.

    Returns:
        Array ``[..., 3]`` in float64, of the same kind as *points* (a torch tensor
        stays on its device).

    Raises:
        ValueError: If the last dimension is not 2, or if a value is not finite or a
            latitude is outside ``[-90, 90]``.

    .. versionadded:: 0.1
    """
    if isinstance(points, Tensor):
        p = points.to(torch.float64)
        _check_lonlat_shape(tuple(p.shape))
        lon = torch.deg2rad(p[..., 0])
        lat = torch.deg2rad(p[..., 1])
        if not bool(torch.isfinite(p).all()) or bool((p[..., 1].abs() > 90).any()):
            raise ValueError(_invalid_lonlat_message(p.detach().cpu().numpy()))
        cos_lat = torch.cos(lat)
        return torch.stack(
            [cos_lat * torch.cos(lon), cos_lat * torch.sin(lon), torch.sin(lat)], dim=-1
        )
    arr = np.asarray(points, dtype=np.float64)
    _check_lonlat_shape(arr.shape)
    if not np.isfinite(arr).all() or (np.abs(arr[..., 1]) > 90).any():
        raise ValueError(_invalid_lonlat_message(arr))
    lon_r = np.deg2rad(arr[..., 0])
    lat_r = np.deg2rad(arr[..., 1])
    cos_r = np.cos(lat_r)
    return np.stack([cos_r * np.cos(lon_r), cos_r * np.sin(lon_r), np.sin(lat_r)], -1)


def _check_lonlat_shape(shape: tuple[int, ...]) -> None:
    """Check that *shape* ends with a dimension of size 2.

    Args:
        shape: Shape of a ``(lon, lat)`` array.

    Raises:
        ValueError: If it does not.
    """
    if len(shape) == 0 or shape[-1] != 2:
        raise ValueError(
            f'Expected (lon, lat) points of shape [..., 2], got shape {list(shape)}'
        )


def _invalid_lonlat_message(arr: npt.NDArray[np.float64]) -> str:
    """Error message listing invalid ``(lon, lat)`` points.

    Args:
        arr: Array ``[..., 2]`` of ``(lon, lat)`` degrees.

    Returns:
        A message naming up to five invalid points.
    """
    flat = arr.reshape(-1, 2)
    bad = ~np.isfinite(flat).all(axis=1) | (np.abs(flat[:, 1]) > 90)
    examples = [(float(a), float(b)) for a, b in flat[bad][:5]]
    return (
        f'Invalid (lon, lat) degrees: {int(bad.sum())} point(s) are not finite or have '
        f'a latitude outside [-90, 90], e.g. {examples}'
    )

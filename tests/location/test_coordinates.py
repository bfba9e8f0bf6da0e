"""Tests for torchgeo_geossl.location.coordinates."""

import numpy as np
import pyproj
import pytest
import torch

from torchgeo_geossl.location.coordinates import (
    lonlat_to_unit_vectors,
    lonlat_transformer,
    normalize_longitude,
    query_center_lonlat,
    to_lonlat,
)

# Transverse Mercator with a central meridian and scale of no EPSG CRS.
CUSTOM_TMERC = (
    '+proj=tmerc +lat_0=0 +lon_0=3.5 +k=0.9999 +x_0=500000 +y_0=0 '
    '+ellps=WGS84 +units=m +no_defs'
)


def test_utm_north_known_point() -> None:
    # 3 E, 52 N on the central meridian of UTM 31N (northing from the WGS84 meridian
    # arc times k0 = 0.9996).
    out = to_lonlat(500_000.0, 5_761_038.212590415, 'EPSG:32631')
    assert out.shape == (1, 2)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out[0], [3.0, 52.0], atol=1e-9)
    # The northing rounded to the metre is within 0.3 m, i.e. ~3e-6 degrees.
    rounded = to_lonlat(500_000, 5_761_038, 'EPSG:32631')[0]
    np.testing.assert_allclose(rounded, [3.0, 52.0], atol=1e-5)


def test_utm_south() -> None:
    # EPSG:32760 has a 10,000 km false northing: the northing is positive in the south.
    lon, lat = to_lonlat(500_000.0, 5_572_242.781261626, 'EPSG:32760')[0]
    assert lon == pytest.approx(177.0, abs=1e-9)
    assert lat == pytest.approx(-40.0, abs=1e-9)


def test_vectorised_matches_pyproj() -> None:
    x = np.array([400_000.0, 500_000.0, 600_000.0])
    y = np.array([5_600_000.0, 5_700_000.0, 5_800_000.0])
    out = to_lonlat(x, y, pyproj.CRS.from_epsg(32631))
    ref = pyproj.Transformer.from_crs(32631, 4326, always_xy=True).transform(x, y)
    np.testing.assert_array_equal(out, np.stack(ref, axis=-1))
    # Broadcasting: one y for several x.
    assert to_lonlat(x, 5_700_000.0, 'EPSG:32631').shape == (3, 2)


def test_crs_without_epsg_code() -> None:
    crs = pyproj.CRS.from_proj4(CUSTOM_TMERC)
    assert crs.to_epsg() is None
    lon, lat = to_lonlat(500_000.0, 5_000_000.0, crs)[0]
    assert lon == pytest.approx(3.5, abs=1e-9)  # central meridian
    ref = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    assert lat == pytest.approx(ref.transform(500_000.0, 5_000_000.0)[1], abs=1e-12)
    # WKT input without EPSG code also works and gives the same result.
    wkt = to_lonlat(500_000.0, 5_000_000.0, crs.to_wkt())[0]
    np.testing.assert_allclose(wkt, [lon, lat], atol=1e-12)


def test_geographic_crs_is_lon_first() -> None:
    # EPSG:4326's authority axis order is (lat, lon); always_xy keeps (x=lon, y=lat).
    np.testing.assert_allclose(to_lonlat(10.0, 45.0, 'EPSG:4326'), [[10.0, 45.0]])


def test_antimeridian_normalisation() -> None:
    out = to_lonlat([190.0, -200.0, 180.0, -180.0, 540.0], 10.0, 'EPSG:4326')
    np.testing.assert_allclose(out[:, 0], [-170.0, 160.0, 180.0, -180.0, -180.0])
    np.testing.assert_allclose(out[:, 1], 10.0)
    # A projected CRS whose inverse is allowed to go past +-180 ("+over").
    over = '+proj=eqc +lon_0=170 +over +datum=WGS84 +units=m'
    lon = to_lonlat(2_000_000.0, 0.0, over)[0, 0]
    assert -180 <= lon <= 180
    assert lon == pytest.approx(187.9663056823904 - 360, abs=1e-9)
    np.testing.assert_array_equal(
        normalize_longitude([-180.0, 0.0, 180.0]), [-180, 0, 180]
    )


def test_non_finite_raises_with_crs() -> None:
    ortho = '+proj=ortho +lat_0=0 +lon_0=0 +datum=WGS84'
    with pytest.raises(
        ValueError, match=r'ortho.*\(x, y\) = \[\(100000000\.0, 0\.0\)\]'
    ):
        to_lonlat(1e8, 0.0, ortho)
    with pytest.raises(ValueError, match=r'EPSG:32631.*nan'):
        to_lonlat(np.nan, 5_700_000.0, 'EPSG:32631')


def test_bad_crs_raises() -> None:
    with pytest.raises(ValueError, match='crs is None'):
        to_lonlat(0.0, 0.0, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Cannot parse CRS 'EPSG:999999'"):
        to_lonlat(0.0, 0.0, 'EPSG:999999')


def test_transformer_cached_per_crs() -> None:
    a = lonlat_transformer('EPSG:32631')
    b = lonlat_transformer(pyproj.CRS.from_epsg(32631))
    assert a is b
    assert lonlat_transformer('EPSG:32632') is not a


def test_query_center_lonlat() -> None:
    x = slice(499_990.0, 500_010.0)
    y = slice(5_761_028.212590415, 5_761_048.212590415)
    lon, lat = query_center_lonlat(x, y, 'EPSG:32631')
    assert isinstance(lon, float)
    assert lon == pytest.approx(3.0, abs=1e-9)
    assert lat == pytest.approx(52.0, abs=1e-9)
    with pytest.raises(ValueError, match='x slice .* needs both start and stop'):
        query_center_lonlat(slice(None, 1.0), y, 'EPSG:32631')


def test_unit_vectors_numpy() -> None:
    pts = np.array([[0.0, 0.0], [90.0, 0.0], [0.0, 90.0], [180.0, 0.0], [45.0, -30.0]])
    vec = lonlat_to_unit_vectors(pts)
    assert vec.dtype == np.float64
    assert vec.shape == (5, 3)
    np.testing.assert_allclose(np.linalg.norm(vec, axis=-1), 1.0, atol=1e-15)
    np.testing.assert_allclose(
        vec[:4], [[1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, 0, 0]], atol=1e-15
    )
    c = np.cos(np.deg2rad(-30.0))
    expected = [c * np.cos(np.pi / 4), c * np.sin(np.pi / 4), -0.5]
    np.testing.assert_allclose(vec[4], expected, atol=1e-15)
    # The two sides of the antimeridian are neighbours on the sphere.
    a, b = lonlat_to_unit_vectors(np.array([[179.9, 0.0], [-179.9, 0.0]]))
    assert np.linalg.norm(a - b) == pytest.approx(np.deg2rad(0.2), rel=1e-4)


def test_unit_vectors_torch() -> None:
    pts = torch.tensor([[0.0, 0.0], [90.0, 0.0], [10.0, 20.0]], dtype=torch.float32)
    vec = lonlat_to_unit_vectors(pts)
    assert isinstance(vec, torch.Tensor)
    assert vec.dtype == torch.float64
    assert vec.device == pts.device
    expected = lonlat_to_unit_vectors(pts.double().numpy())
    np.testing.assert_allclose(vec.numpy(), expected, atol=1e-15)
    # Batched shapes [..., 2] -> [..., 3].
    assert lonlat_to_unit_vectors(torch.zeros(4, 5, 2)).shape == (4, 5, 3)


def test_unit_vectors_invalid() -> None:
    with pytest.raises(ValueError, match=r'shape \[\.\.\., 2\], got shape \[4, 3\]'):
        lonlat_to_unit_vectors(np.zeros((4, 3)))
    with pytest.raises(
        ValueError, match=r'latitude outside \[-90, 90\].*\(0\.0, 91\.0\)'
    ):
        lonlat_to_unit_vectors(np.array([[0.0, 91.0]]))
    with pytest.raises(ValueError, match='not finite'):
        lonlat_to_unit_vectors(torch.tensor([[float('nan'), 0.0]]))

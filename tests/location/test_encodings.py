"""Tests for torchgeo_geossl.location.encodings."""

import math
from typing import Any

import numpy as np
import pytest
import torch
from torchgeo.models.satclip import SphericalHarmonics

from torchgeo_geossl.location.encodings import (
    ENCODING_NAMES,
    GridEncoding,
    NeRFEncoding,
    PositionalEncoding,
    RandomFourierEncoding,
    RBFEncoding,
    SphereCEncoding,
    SphereCPlusEncoding,
    SphereMEncoding,
    SphereMPlusEncoding,
    SphericalHarmonicsEncoding,
    TheoryEncoding,
    WrapEncoding,
    build_encoding,
    geometric_frequencies,
    validate_points,
)

F64 = torch.float64
TRAIN = torch.tensor(
    [[0.0, 0.0], [10.0, 10.0], [-120.0, 45.0], [170.0, -40.0], [60.0, 80.0]], dtype=F64
)
# Small sizes keep the tests fast; output_dim expected for each name.
SMALL: dict[str, tuple[dict[str, Any], int]] = {
    'wrap': ({}, 4),
    'grid': ({'frequencies': 3}, 12),
    'theory': ({'frequencies': 3}, 18),
    'spherec': ({'frequencies': 3}, 9),
    'spherec+': ({'frequencies': 3}, 18),
    'spherem': ({'frequencies': 3}, 15),
    'spherem+': ({'frequencies': 3}, 24),
    'rbf': ({'train_points': TRAIN, 'num_anchors': 4}, 4),
    'rff': ({'frequencies': 7}, 7),
    'nerf': ({'frequencies': 3}, 18),
    'sh': ({'legendre_polys': 4}, 16),
}
POINT = (30.0, -20.0)  # (lon, lat) degrees


def enc64(name: str, **kwargs: Any) -> PositionalEncoding:
    return build_encoding(name, dtype=F64, **kwargs)


def one(lon: float, lat: float) -> torch.Tensor:
    return torch.tensor([[lon, lat]], dtype=F64)


def test_names_cover_all() -> None:
    assert set(SMALL) == set(ENCODING_NAMES)


@pytest.mark.parametrize('name', ENCODING_NAMES)
def test_output_dim(name: str) -> None:
    kwargs, dim = SMALL[name]
    enc = build_encoding(name, **kwargs)
    assert enc.output_dim == dim
    out = enc(torch.tensor([[1.0, 2.0], [-170.0, -80.0], [0.0, 0.0]], dtype=F64))
    assert out.shape == (3, dim)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert enc(torch.zeros(0, 2)).shape == (0, dim)


@pytest.mark.parametrize('name', ENCODING_NAMES)
def test_float64_option(name: str) -> None:
    kwargs, _ = SMALL[name]
    pts = torch.tensor([[33.3, 12.1], [-100.5, 60.2]])
    out64 = build_encoding(name, dtype=F64, **kwargs)(pts)
    out32 = build_encoding(name, **kwargs)(pts)
    assert out64.dtype == F64
    torch.testing.assert_close(out32, out64.float(), atol=1e-4, rtol=1e-4)


def test_geometric_frequencies() -> None:
    freqs = geometric_frequencies(3, 0.1, 360.0)
    assert freqs.dtype == F64
    # lambda = 0.1, 0.1 * sqrt(3600) = 6, 360
    torch.testing.assert_close(freqs, torch.tensor([10.0, 1 / 6, 1 / 360], dtype=F64))
    with pytest.raises(ValueError, match='>= 2'):
        geometric_frequencies(1, 0.1, 1.0)
    with pytest.raises(ValueError, match='min_radius'):
        geometric_frequencies(4, 0.0, 1.0)
    with pytest.raises(ValueError, match='max_radius'):
        geometric_frequencies(4, 1.0, 0.5)
    with pytest.raises(TypeError, match='int'):
        geometric_frequencies(4.0, 1.0, 2.0)  # type: ignore[arg-type]


def test_grid_default_frequencies_buffer() -> None:
    enc = GridEncoding()
    assert enc.output_dim == 128
    assert 'freqs' in enc.state_dict()
    freqs = enc.state_dict()['freqs']
    assert freqs.shape == (32,)
    assert math.isclose(float(freqs[0]), 1 / 0.1)
    assert math.isclose(float(freqs[-1]), 1 / 360)


def test_buffers_in_state_dict() -> None:
    assert 'freqs' in TheoryEncoding().state_dict()
    assert 'freqs' in SphereMPlusEncoding().state_dict()
    assert 'freqs' in NeRFEncoding().state_dict()
    assert {'weight', 'phase'} <= set(RandomFourierEncoding().state_dict())
    assert 'anchors' in RBFEncoding(TRAIN, num_anchors=2).state_dict()


def test_wrap_values() -> None:
    out = enc64('wrap')(one(*POINT))[0]
    lon, lat = math.radians(30.0), math.pi * -20.0 / 90
    expected = [math.sin(lon), math.cos(lon), math.sin(lat), math.cos(lat)]
    torch.testing.assert_close(out, torch.tensor(expected, dtype=F64))


def test_grid_values() -> None:
    # S = 2, r_min = 1, r_max = 10 -> frequencies 1 and 0.1 (per degree).
    out = enc64('grid', frequencies=2, min_radius=1.0, max_radius=10.0)(one(*POINT))
    expected = []
    for c in POINT:
        for f in (1.0, 0.1):
            expected += [math.sin(c * f), math.cos(c * f)]
    torch.testing.assert_close(out[0], torch.tensor(expected, dtype=F64))


def test_theory_values() -> None:
    out = enc64('theory', frequencies=2, min_radius=1.0, max_radius=10.0)(one(*POINT))
    lon, lat = POINT
    s3 = math.sqrt(3) / 2
    projs = [lon, -0.5 * lon + s3 * lat, -0.5 * lon - s3 * lat]
    expected = []
    for f in (1.0, 0.1):
        for p in projs:
            expected += [math.sin(p * f), math.cos(p * f)]
    torch.testing.assert_close(out[0], torch.tensor(expected, dtype=F64))


def sphere_terms(name: str, f: float) -> list[float]:
    lam, phi = math.radians(POINT[0]), math.radians(POINT[1])
    ls, ps = lam * f, phi * f
    sin, cos = math.sin, math.cos
    return {
        'spherec': [sin(ps), cos(ps) * cos(ls), cos(ps) * sin(ls)],
        'spherec+': [
            sin(ps),
            cos(ps),
            sin(ls),
            cos(ls),
            cos(ps) * cos(ls),
            cos(ps) * sin(ls),
        ],
        'spherem': [
            sin(ps),
            cos(ps) * cos(lam),
            cos(phi) * cos(ls),
            cos(ps) * sin(lam),
            cos(phi) * sin(ls),
        ],
        'spherem+': [
            sin(ps),
            cos(ps),
            sin(ls),
            cos(ls),
            cos(ps) * cos(lam),
            cos(phi) * cos(ls),
            cos(ps) * sin(lam),
            cos(phi) * sin(ls),
        ],
    }[name]


@pytest.mark.parametrize('name', ['spherec', 'spherec+', 'spherem', 'spherem+'])
def test_sphere_values(name: str) -> None:
    # S = 2, r_min = 0.25, r_max = 1 (radians) -> frequencies 4 and 1.
    enc = enc64(name, frequencies=2, min_radius=0.25, max_radius=1.0)
    out = enc(one(*POINT))[0]
    expected = sphere_terms(name, 4.0) + sphere_terms(name, 1.0)
    torch.testing.assert_close(out, torch.tensor(expected, dtype=F64))


def test_spherec_unit_scale_is_unit_vector() -> None:
    enc = SphereCEncoding(frequencies=2, min_radius=0.5, max_radius=1.0, dtype=F64)
    out = enc(one(*POINT))[0, 3:]
    lam, phi = math.radians(POINT[0]), math.radians(POINT[1])
    expected = [
        math.sin(phi),
        math.cos(phi) * math.cos(lam),
        math.cos(phi) * math.sin(lam),
    ]
    torch.testing.assert_close(out, torch.tensor(expected, dtype=F64))


def test_nerf_values() -> None:
    out = enc64('nerf', frequencies=2)(one(*POINT))[0]
    lam, phi = math.radians(POINT[0]), math.radians(POINT[1])
    xyz = [math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)]
    freqs = [math.pi, 2 * math.pi]
    expected = [math.sin(c * f) for c in xyz for f in freqs]
    expected += [math.cos(c * f) for c in xyz for f in freqs]
    torch.testing.assert_close(out, torch.tensor(expected, dtype=F64))


def test_nerf_aliasing() -> None:
    # With the NeRF frequencies 2^l pi, coordinates -1 and +1 are encoded alike, so
    # both poles (z = +-1) and the antipodes (0, 0) and (180, 0) (x = +-1) collide.
    enc = enc64('nerf', frequencies=4)
    assert jump(enc, one(0.0, 90.0), one(0.0, -90.0)) < 1e-12
    assert jump(enc, one(0.0, 0.0), one(180.0, 0.0)) < 1e-12
    # base_frequency = 1 keeps [-1, 1] inside half a period: no collision.
    unaliased = enc64('nerf', frequencies=4, base_frequency=1.0)
    torch.testing.assert_close(
        unaliased.freqs, torch.tensor([1.0, 2.0, 4.0, 8.0], dtype=F64)
    )
    assert jump(unaliased, one(0.0, 90.0), one(0.0, -90.0)) > 0.5
    assert jump(unaliased, one(0.0, 0.0), one(180.0, 0.0)) > 0.5


def test_rff_unit_vector_values_and_seed() -> None:
    enc = RandomFourierEncoding(
        frequencies=5, kernel_size=0.5, mode='unit_vector', seed=3, dtype=F64
    )
    out = enc(one(*POINT))[0]
    lam, phi = math.radians(POINT[0]), math.radians(POINT[1])
    xyz = [math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)]
    w, b = enc.weight, enc.phase
    expected = [
        math.sqrt(2 / 5)
        * math.cos(sum(xyz[i] * float(w[i, k]) for i in range(3)) + float(b[k]))
        for k in range(5)
    ]
    torch.testing.assert_close(out, torch.tensor(expected, dtype=F64))
    assert w.shape == (3, 5)
    assert bool(((b >= 0) & (b < 2 * math.pi)).all())
    same = RandomFourierEncoding(5, 0.5, mode='unit_vector', seed=3, dtype=F64)
    torch.testing.assert_close(same(one(*POINT)), enc(one(*POINT)))
    other = RandomFourierEncoding(5, 0.5, mode='unit_vector', seed=4)
    assert not torch.allclose(other.weight, w)
    # kernel_size is the bandwidth: the frequencies scale as 1 / sigma.
    wide = RandomFourierEncoding(5, 1.0, mode='unit_vector', seed=3)
    torch.testing.assert_close(wide.weight * 2, w)


def test_rff_reference_mode_values() -> None:
    # The reference (gengchenmai/csp, TorchSpatial RFFSpatialRelationEncoder):
    # cos([lon / 180, lat / 90] @ W + b) * sqrt(2 / D), W ~ N(0, sigma I) [2, D].
    enc = RandomFourierEncoding(frequencies=4, kernel_size=2.0, seed=1, dtype=F64)
    assert enc.mode == 'reference'
    w, b = enc.weight, enc.phase
    assert w.shape == (2, 4)
    x = [POINT[0] / 180, POINT[1] / 90]
    expected = [
        math.sqrt(2 / 4)
        * math.cos(x[0] * float(w[0, k]) + x[1] * float(w[1, k]) + float(b[k]))
        for k in range(4)
    ]
    torch.testing.assert_close(enc(one(*POINT))[0], torch.tensor(expected, dtype=F64))


def test_rff_reference_mode_kernel_size_is_the_variance() -> None:
    # numpy.random.multivariate_normal(0, diag(sigma)) in the reference: Var = sigma.
    big = RandomFourierEncoding(frequencies=20000, kernel_size=2.0, seed=0)
    assert float(big.weight.var()) == pytest.approx(2.0, rel=0.03)
    assert float(big.weight.mean()) == pytest.approx(0.0, abs=0.03)
    phase = big.phase
    assert float(phase.min()) >= 0
    assert float(phase.max()) < 2 * math.pi
    assert float(phase.mean()) == pytest.approx(math.pi, rel=0.03)
    # the published TorchSpatial runs: D = 64, sigma = 2
    default = RandomFourierEncoding()
    assert (default.output_dim, default.kernel_size) == (64, 2.0)
    with pytest.raises(ValueError, match="mode must be 'reference' or 'unit_vector'"):
        RandomFourierEncoding(mode='xyz')  # type: ignore[arg-type]


def test_rbf_values() -> None:
    enc = RBFEncoding(TRAIN, num_anchors=5, kernel_size=20.0, seed=1, dtype=F64)
    anchors = enc.anchors
    # A random subset of the training points (here all of them, permuted).
    assert sorted(map(tuple, anchors.tolist())) == sorted(map(tuple, TRAIN.tolist()))
    out = enc(one(*POINT))[0]
    expected = [
        math.exp(-((POINT[0] - a) ** 2 + (POINT[1] - b) ** 2) / (2 * 20.0**2))
        for a, b in anchors.tolist()
    ]
    torch.testing.assert_close(out, torch.tensor(expected, dtype=F64))
    # Every anchor has feature 1 at its own index.
    torch.testing.assert_close(torch.diagonal(enc(anchors)), torch.ones(5, dtype=F64))
    again = RBFEncoding(TRAIN, num_anchors=3, seed=1)
    torch.testing.assert_close(again.anchors, RBFEncoding(TRAIN, 3, seed=1).anchors)


def test_rbf_great_circle() -> None:
    enc = RBFEncoding(
        TRAIN, num_anchors=5, kernel_size=60.0, distance='great_circle', dtype=F64
    )
    i = [tuple(a) for a in enc.anchors.tolist()].index((0.0, 0.0))
    # (90, 0) is 90 degrees from (0, 0) along the equator.
    out = enc(one(90.0, 0.0))[0, i]
    assert math.isclose(float(out), math.exp(-(90.0**2) / (2 * 60.0**2)))
    # The north pole is 90 degrees from every equator point, whatever the longitude.
    assert math.isclose(float(enc(one(123.0, 90.0))[0, i]), float(out))


def test_rbf_kmeans() -> None:
    rng = torch.Generator().manual_seed(0)
    a = torch.tensor([20.0, 10.0]) + torch.randn(30, 2, generator=rng, dtype=F64)
    b = torch.tensor([-60.0, -30.0]) + torch.randn(30, 2, generator=rng, dtype=F64)
    enc = RBFEncoding(torch.cat([a, b]), num_anchors=2, anchor_selection='kmeans')
    centres = sorted(enc.anchors.tolist())
    assert centres[0] == pytest.approx([-60.0, -30.0], abs=1.0)
    assert centres[1] == pytest.approx([20.0, 10.0], abs=1.0)


def test_rbf_errors() -> None:
    with pytest.raises(ValueError, match='train_points'):
        RBFEncoding()
    with pytest.raises(ValueError, match='train_points'):
        build_encoding('rbf')
    with pytest.raises(ValueError, match=r'num_anchors .* \(5\), got 6'):
        RBFEncoding(TRAIN, num_anchors=6)
    with pytest.raises(ValueError, match='latitude'):
        RBFEncoding([[0.0, 95.0]], num_anchors=1)
    with pytest.raises(ValueError, match='anchor_selection'):
        RBFEncoding(TRAIN, 2, anchor_selection='grid')  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='distance'):
        RBFEncoding(TRAIN, 2, distance='manhattan')  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='kernel_size'):
        RBFEncoding(TRAIN, 2, kernel_size=0.0)


def test_sh_reuses_torchgeo() -> None:
    enc = SphericalHarmonicsEncoding(legendre_polys=5, dtype=F64)
    assert isinstance(enc.harmonics, SphericalHarmonics)
    pts = torch.tensor([[30.0, -20.0], [-150.0, 70.0]], dtype=F64)
    torch.testing.assert_close(enc(pts), SphericalHarmonics(5)(pts))
    # Degree 0 is a constant.
    assert enc(pts)[0, 0] == enc(pts)[1, 0]


def test_factory() -> None:
    assert isinstance(build_encoding('grid'), GridEncoding)
    assert isinstance(build_encoding('Spherec+'), SphereCPlusEncoding)
    assert isinstance(build_encoding('spherem'), SphereMEncoding)
    assert isinstance(build_encoding('wrap'), WrapEncoding)
    with pytest.raises(ValueError, match="Unknown location encoding 'hex'.*grid.*sh"):
        build_encoding('hex')
    with pytest.raises(TypeError, match='bogus'):
        build_encoding('grid', bogus=1)
    with pytest.raises(ValueError, match='dtype'):
        build_encoding('grid', dtype=torch.int64)


def test_validation_errors() -> None:
    enc = GridEncoding(frequencies=2)
    bad = torch.tensor([[0.0, 0.0], [float('nan'), 3.0], [1.0, float('inf')]])
    with pytest.raises(ValueError, match=r'2 of 3 .*non-finite.*point 1 = \(nan'):
        enc(bad)
    with pytest.raises(ValueError, match=r'1 of 2 .*latitude.*point 1 = \(0.0, 91.0\)'):
        enc(torch.tensor([[0.0, 0.0], [0.0, 91.0]]))
    with pytest.raises(
        ValueError, match=r'longitude.*wrap_longitude=True.*point 0 = \(181.0'
    ):
        enc(torch.tensor([[181.0, 0.0]]))
    with pytest.raises(ValueError, match='latitude'):
        GridEncoding(wrap_longitude=True)(torch.tensor([[0.0, -90.5]]))
    with pytest.raises(ValueError, match=r'shape \[B, 2\].*\[3\]'):
        enc(torch.zeros(3))
    with pytest.raises(TypeError, match='floating'):
        enc(torch.zeros(2, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match='Tensor'):
        enc([[0.0, 0.0]])  # type: ignore[arg-type]
    # Boundaries are valid.
    assert enc(torch.tensor([[180.0, 90.0], [-180.0, -90.0]])).shape == (2, 8)


def test_wrap_longitude() -> None:
    pts = torch.tensor([[181.0, 10.0], [-190.0, 5.0], [540.0, 0.0], [12.3, 4.0]])
    out = validate_points(pts, wrap_longitude=True)
    assert out.dtype == F64
    torch.testing.assert_close(
        out,
        torch.tensor(
            [[-179.0, 10.0], [170.0, 5.0], [-180.0, 0.0], [12.3, 4.0]], dtype=F64
        ),
    )
    # In-range values are untouched (not rounded through a modulo).
    assert float(out[3, 0]) == float(torch.tensor(12.3))
    enc = GridEncoding(wrap_longitude=True, dtype=F64)
    torch.testing.assert_close(enc(one(181.0, 10.0)), enc(one(-179.0, 10.0)))


EPS = 1e-6
# Training points on both sides of the antimeridian.
DATELINE = torch.tensor([[175.0, 35.0], [-175.0, 35.0]], dtype=F64)
CONTINUOUS = {
    'wrap': {},
    'rff': {'mode': 'unit_vector'},
    # continuous; at L = 16 the finest period (2^-14) makes a 2e-6 degree step
    # change the features by ~4e-3, so a coarser L shows it at the 1e-3 tolerance
    'nerf': {'frequencies': 10},
    'sh': {'legendre_polys': 10},
    'rbf': {
        'train_points': DATELINE,
        'num_anchors': 2,
        'kernel_size': 5.0,
        'distance': 'great_circle',
    },
    # Integer frequencies 2 and 1 make the Sphere2Vec longitude terms periodic.
    'spherec': {'frequencies': 2, 'min_radius': 0.5, 'max_radius': 1.0},
}
DISCONTINUOUS = {
    'grid': {},
    'theory': {},
    'spherec': {},
    'spherec+': {},
    'spherem': {},
    'spherem+': {},
    'rbf': {'train_points': DATELINE, 'num_anchors': 2, 'kernel_size': 5.0},
    'rff': {'frequencies': 2, 'kernel_size': 100.0},
}


def jump(enc: PositionalEncoding, a: torch.Tensor, b: torch.Tensor) -> float:
    return float((enc(a) - enc(b)).abs().max())


@pytest.mark.parametrize('name', list(CONTINUOUS))
def test_antimeridian_continuous(name: str) -> None:
    enc = enc64(name, **CONTINUOUS[name])
    for lat in (-60.0, 0.0, 35.0):
        assert jump(enc, one(180.0 - EPS, lat), one(-180.0 + EPS, lat)) < 1e-3


@pytest.mark.parametrize('name', list(DISCONTINUOUS))
def test_antimeridian_discontinuous(name: str) -> None:
    enc = enc64(name, **DISCONTINUOUS[name])
    assert jump(enc, one(180.0 - EPS, 35.0), one(-180.0 + EPS, 35.0)) > 0.5


def test_grid_jump_is_at_the_antimeridian() -> None:
    # The same 2e-6 degree step elsewhere changes the grid encoding very little.
    enc = GridEncoding(dtype=F64)
    assert jump(enc, one(EPS, 35.0), one(-EPS, 35.0)) < 1e-3
    assert jump(enc, one(180.0 - EPS, 35.0), one(-180.0 + EPS, 35.0)) > 0.5


@pytest.mark.parametrize(('name', 'tol'), [('nerf', 1e-9), ('rff', 1e-9), ('sh', 2e-2)])
@pytest.mark.parametrize('lat', [90.0, -90.0])
def test_poles_independent_of_longitude(name: str, tol: float, lat: float) -> None:
    enc = enc64(name, **CONTINUOUS[name])
    pts = torch.tensor([[lon, lat] for lon in (-180.0, -77.0, 0.0, 45.0, 179.0)])
    out = enc(pts)
    assert float((out - out[:1]).abs().max()) < tol
    # Not a constant encoding: the equator differs.
    assert float((enc(one(0.0, 0.0)) - out[:1]).abs().max()) > 0.1


@pytest.mark.parametrize('name', ['wrap', 'grid', 'theory', 'spherec', 'spherem'])
def test_poles_depend_on_longitude(name: str) -> None:
    enc = enc64(name)
    assert jump(enc, one(0.0, 90.0), one(90.0, 90.0)) > 0.1


def test_device_and_module_cast() -> None:
    enc = GridEncoding(frequencies=2, dtype=F64).float()
    # Buffers cast by .float() do not change the computation dtype.
    assert enc(one(*POINT)).dtype == F64


SPHERES = ['spherec', 'spherec+', 'spherem', 'spherem+']


@pytest.mark.parametrize('name', SPHERES)
def test_sphere_radii_are_radians_and_degrees_are_refused(name: str) -> None:
    # CSP's grid radii (0.1, 360 degrees) passed to a Sphere2Vec encoding made its
    # finest wavelength 100 times the published one (TorchSpatial: 0.001 radian).
    with pytest.raises(ValueError, match=r'max_radius is in radians .* got 360'):
        build_encoding(name, min_radius=0.1, max_radius=360.0)
    enc = build_encoding(name)
    # published TorchSpatial runs: S = 64 scales between 0.001 and 1 radian
    expected = 1 / (0.001 * 1000.0 ** (torch.arange(64, dtype=F64) / 63))
    torch.testing.assert_close(enc.freqs, expected, rtol=1e-12, atol=0.0)
    with pytest.raises(ValueError, match=r'min_radius \(.*radians\) must be positive'):
        build_encoding(name, min_radius=0.0)


@pytest.mark.parametrize('name', ['grid', 'theory'])
def test_grid_radii_are_degrees(name: str) -> None:
    enc = build_encoding(name)
    # CSP: S = 32 scales between 0.1 and 360 degrees
    expected = 1 / (0.1 * 3600.0 ** (torch.arange(32, dtype=F64) / 31))
    torch.testing.assert_close(enc.freqs, expected, rtol=1e-12, atol=0.0)
    with pytest.raises(ValueError, match=r'max_radius \(.*degrees\) must be >='):
        build_encoding(name, min_radius=1.0, max_radius=0.5)


def numpy_sphere_c(lon: float, lat: float, freqs: list[float]) -> list[float]:
    """The Sphere2Vec sphereC terms (Mai et al., ISPRS J. 2023) in float64 numpy."""
    lam, phi = np.radians(lon), np.radians(lat)
    out: list[float] = []
    for f in freqs:
        out += [
            float(np.sin(phi * f)),
            float(np.cos(phi * f) * np.cos(lam * f)),
            float(np.cos(phi * f) * np.sin(lam * f)),
        ]
    return out


def test_float32_output_is_computed_in_float64() -> None:
    # At r_min = 0.001 rad the angle lam / r_min reaches ~3000 rad; a float32
    # product loses ~1e-4 rad per ulp there, the reference computes in float64.
    lon, lat = 123.456789, -45.678912
    enc = SphereCEncoding(frequencies=2, min_radius=0.001, max_radius=1.0)
    assert enc.dtype == torch.float32
    out = enc(torch.tensor([[lon, lat]], dtype=torch.float64))[0]
    expected = torch.tensor(numpy_sphere_c(lon, lat, [1000.0, 1.0]), dtype=F64)
    torch.testing.assert_close(out.double(), expected, rtol=0.0, atol=1e-6)
    # the same from float32 input (the input is exact in float32 once rounded)
    point32 = torch.tensor([[lon, lat]], dtype=torch.float32)
    lon32, lat32 = (float(v) for v in point32[0])
    out32 = enc(point32)[0]
    expected32 = torch.tensor(numpy_sphere_c(lon32, lat32, [1000.0, 1.0]), dtype=F64)
    torch.testing.assert_close(out32.double(), expected32, rtol=0.0, atol=1e-6)


def test_sh_matches_satclip_closed_forms_and_is_orthogonal() -> None:
    # SatCLIP's closed forms (microsoft/satclip spherical_harmonics_ylm.py) for
    # l <= 1 with theta = lat + 90 and phi = lon + 180 in radians; its m = 0 terms
    # carry an extra factor pi (Y_0^0 = 0.8862 = pi / sqrt(4 pi)).
    pts = np.array([[30.0, -20.0], [-150.0, 70.0], [100.0, 5.0]])
    out = SphericalHarmonicsEncoding(2, dtype=F64)(torch.from_numpy(pts)).numpy()
    theta, phi = np.radians(pts[:, 1] + 90), np.radians(pts[:, 0] + 180)
    expected = np.stack(
        [
            np.full(3, 0.886226925452758),
            0.48860251190292 * np.sin(theta) * np.sin(phi),
            1.53499006191973 * np.cos(theta),
            0.48860251190292 * np.sin(theta) * np.cos(phi),
        ],
        axis=1,
    )
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)
    # Orthogonal on the sphere (Gauss-Legendre in sin(lat) x 40 longitudes is exact
    # for these degrees): unit norm for m != 0, pi^2 for m = 0.
    x, w = np.polynomial.legendre.leggauss(20)
    lon = np.linspace(-180, 180, 41)[:-1]
    grid_lon, grid_lat = np.meshgrid(lon, np.degrees(np.arcsin(x)))
    weights = np.repeat(w[:, None], 40, axis=1).ravel() * (2 * np.pi / 40)
    points = np.stack([grid_lon.ravel(), grid_lat.ravel()], axis=1)
    y = SphericalHarmonicsEncoding(4, dtype=F64)(torch.from_numpy(points)).numpy()
    gram = (y * weights[:, None]).T @ y
    m_zero = [l * l + l for l in range(4)]
    norms = np.where(np.isin(np.arange(16), m_zero), np.pi**2, 1.0)
    np.testing.assert_allclose(gram, np.diag(norms), rtol=0, atol=1e-9)

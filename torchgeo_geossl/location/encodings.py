"""Positional encodings of ``(lon, lat)`` locations for location encoders.

Every encoding is a small :class:`torch.nn.Module` that maps points ``[B, 2]`` of
``(lon, lat)`` in degrees (longitude first, the order of TorchGeo's ``S2100k`` and
``SatCLIP``) to features ``[B, output_dim]``. All of them share one input check,
:func:`validate_points`, and take the same two options:

* ``wrap_longitude``: wrap longitudes outside ``[-180, 180)`` instead of rejecting
  them;
* ``dtype``: the floating dtype in which the encoding is returned. Every encoding
  is computed in float64 (as the numpy code of the Space2Vec, Sphere2Vec and CSP
  references) and cast to *dtype* after the sines and cosines: in float32, the
  product of a longitude with the finest Sphere2Vec frequency (``1 / 0.001``)
  would lose about ``1e-2`` of its phase.

Units: the radii of :class:`GridEncoding` and :class:`TheoryEncoding` are in
degrees (CSP: ``r_min = 0.1``, ``r_max = 360``), those of the Sphere2Vec encodings
in radians (TorchSpatial: ``r_min = 0.001``, ``r_max = 1``); each class refuses
radii outside its range with the unit in the message.

Multi-scale encodings use ``S`` scales with geometric spacing
``lambda_s = r_min * (r_max / r_min) ** (s / (S - 1))`` for ``s = 0 .. S - 1`` and the
frequencies ``1 / lambda_s``, kept as a registered (persistent) buffer ``freqs``.

Behaviour across the antimeridian (``lon = +-180``) and at the poles differs between
encodings; each class documents its own. In short: the encodings computed from the 3-D
unit vector (:class:`NeRFEncoding`, :class:`RandomFourierEncoding` with
``mode='unit_vector'``) and the spherical harmonics are continuous everywhere (but NeRF's default frequencies encode some
distinct points alike, see its documentation); the reference
:class:`RandomFourierEncoding` (planar coordinates) is not; :class:`WrapEncoding` is
continuous across the
antimeridian but not at the poles; :class:`GridEncoding`, :class:`TheoryEncoding` and
the Sphere2Vec encodings jump across the antimeridian unless every frequency makes the
longitude terms 360-degree periodic, and the grid, theory, wrap and Sphere2Vec
encodings generally depend on the longitude at a pole.
"""

import abc
import math
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch
from sklearn.cluster import KMeans
from torch import Tensor, nn
from torchgeo.models.satclip import SphericalHarmonics

from .coordinates import lonlat_to_unit_vectors

#: Names accepted by :func:`build_encoding`.
ENCODING_NAMES = (
    'wrap',
    'grid',
    'theory',
    'spherec',
    'spherec+',
    'spherem',
    'spherem+',
    'rbf',
    'rff',
    'nerf',
    'sh',
)

#: Number of offending points quoted in validation errors.
_EXAMPLES = 3


def validate_points(points: Tensor, wrap_longitude: bool = False) -> Tensor:
    """Check ``(lon, lat)`` degrees and return them as float64.

    Args:
        points: Tensor ``[B, 2]`` of ``(lon, lat)`` in degrees, floating dtype.
        wrap_longitude: If True, longitudes outside ``[-180, 180)`` are wrapped into
            it by multiples of 360 degrees (``181`` becomes ``-179``, ``180`` becomes
            ``-180``); if False they must lie in ``[-180, 180]``.

    Returns:
        The points as a float64 tensor ``[B, 2]`` on the same device, longitudes
        wrapped when *wrap_longitude* is True.

    Raises:
        TypeError: If *points* is not a tensor or not of a floating dtype.
        ValueError: If the shape is not ``[B, 2]``, a value is not finite, a
            latitude is outside ``[-90, 90]``, or (without *wrap_longitude*) a
            longitude is outside ``[-180, 180]``; the message gives how many points
            are affected and examples.

    .. versionadded:: 0.1
    """
    if not isinstance(points, Tensor):
        raise TypeError(
            f'points must be a torch.Tensor [B, 2] of (lon, lat) degrees, got '
            f'{type(points).__name__}'
        )
    if not points.is_floating_point():
        raise TypeError(
            f'points must have a floating dtype (lon, lat in degrees), got {points.dtype}'
        )
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(
            f'points must have shape [B, 2] (lon, lat), got {list(points.shape)}'
        )
    p = points.detach().to(torch.float64)
    finite = torch.isfinite(p).all(dim=1)
    if not bool(finite.all()):
        _raise_bad(p, ~finite, 'have a non-finite (NaN or inf) coordinate')
    lat_bad = p[:, 1].abs() > 90
    if bool(lat_bad.any()):
        _raise_bad(p, lat_bad, 'have a latitude outside [-90, 90]')
    lon = p[:, 0]
    if wrap_longitude:
        outside = (lon < -180) | (lon >= 180)
        if bool(outside.any()):
            wrapped = torch.remainder(lon + 180, 360) - 180
            p = torch.stack([torch.where(outside, wrapped, lon), p[:, 1]], dim=1)
    else:
        lon_bad = lon.abs() > 180
        if bool(lon_bad.any()):
            _raise_bad(
                p,
                lon_bad,
                'have a longitude outside [-180, 180] (pass wrap_longitude=True to '
                'wrap longitudes)',
            )
    return p


def _raise_bad(points: Tensor, bad: Tensor, problem: str) -> None:
    """Raise a :class:`ValueError` naming how many points are bad, with examples.

    Args:
        points: Points ``[B, 2]``.
        bad: Boolean mask ``[B]`` of the offending points.
        problem: What is wrong with them.

    Raises:
        ValueError: Always.
    """
    idx = torch.nonzero(bad).flatten()[:_EXAMPLES].tolist()
    rows = points.cpu()
    examples = ', '.join(
        f'point {i} = ({float(rows[i, 0])}, {float(rows[i, 1])})' for i in idx
    )
    raise ValueError(
        f'{int(bad.sum())} of {points.shape[0]} (lon, lat) point(s) {problem}, '
        f'e.g. {examples}'
    )


def geometric_frequencies(
    frequencies: int, min_radius: float, max_radius: float, unit: str = ''
) -> Tensor:
    """Frequencies ``1 / lambda_s`` of geometrically spaced scales.

    ``lambda_s = r_min * (r_max / r_min) ** (s / (S - 1))`` for ``s = 0 .. S - 1``
    (Mai et al., Space2Vec, ICLR 2020), so ``lambda_0 = r_min`` (finest) and
    ``lambda_{S-1} = r_max`` (coarsest).

    Args:
        frequencies: Number of scales ``S`` (at least 2).
        min_radius: ``r_min`` (positive).
        max_radius: ``r_max`` (at least ``r_min``).
        unit: Unit of the radii, quoted in error messages (e.g. ``'degrees'``).

    Returns:
        Float64 tensor ``[S]`` of frequencies, decreasing.

    Raises:
        TypeError: If *frequencies* is not an int.
        ValueError: If a parameter is out of range.

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       Added *unit*.
    """
    in_unit = f' ({unit})' if unit else ''
    if isinstance(frequencies, bool) or not isinstance(frequencies, int):
        raise TypeError(f'frequencies must be an int >= 2, got {frequencies!r}')
    if frequencies < 2:
        raise ValueError(
            f'frequencies (number of scales S) must be >= 2 for geometric spacing, '
            f'got {frequencies}'
        )
    if not (math.isfinite(min_radius) and min_radius > 0):
        raise ValueError(f'min_radius{in_unit} must be positive, got {min_radius}')
    if not (math.isfinite(max_radius) and max_radius >= min_radius):
        raise ValueError(
            f'max_radius{in_unit} must be >= min_radius ({min_radius}), got '
            f'{max_radius}'
        )
    s = torch.arange(frequencies, dtype=torch.float64)
    ratio = torch.tensor(max_radius / min_radius, dtype=torch.float64)
    scales = min_radius * ratio ** (s / (frequencies - 1))
    return 1.0 / scales


class PositionalEncoding(nn.Module, abc.ABC):
    """Base class of the ``(lon, lat)`` positional encodings.

    Subclasses implement :meth:`_encode` on validated float64 points and set
    :attr:`output_dim`.

    .. versionadded:: 0.1
    """

    #: Number of output features.
    output_dim: int

    def __init__(
        self, wrap_longitude: bool = False, dtype: torch.dtype = torch.float32
    ) -> None:
        """Initialize a new PositionalEncoding instance.

        Args:
            wrap_longitude: Wrap longitudes outside ``[-180, 180)`` instead of
                rejecting them (see :func:`validate_points`).
            dtype: Floating dtype in which the encoding is returned (it is
                computed in float64).

        Raises:
            ValueError: If *dtype* is not a floating dtype.
        """
        super().__init__()
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValueError(f'dtype must be a floating torch.dtype, got {dtype!r}')
        self.wrap_longitude = wrap_longitude
        self.dtype = dtype

    def forward(self, points: Tensor) -> Tensor:
        """Encode points.

        Args:
            points: ``[B, 2]`` ``(lon, lat)`` in degrees, any floating dtype.

        Returns:
            Features ``[B, output_dim]``, computed in float64 and returned in
            :attr:`dtype`, on the device of *points*.

        Raises:
            TypeError: If *points* is not a floating tensor.
            ValueError: If *points* is invalid (see :func:`validate_points`).
        """
        lonlat = validate_points(points, wrap_longitude=self.wrap_longitude)
        return self._encode(lonlat).to(self.dtype)

    @abc.abstractmethod
    def _encode(self, lonlat: Tensor) -> Tensor:
        """Encode validated points.

        Args:
            lonlat: Float64 ``[B, 2]`` ``(lon, lat)`` degrees, longitudes in
                ``[-180, 180]``.

        Returns:
            Features ``[B, output_dim]``.
        """

    def _buffer(self, buffer: Tensor, like: Tensor) -> Tensor:
        """Cast a buffer to float64 on the device of *like*.

        Args:
            buffer: A registered buffer.
            like: Tensor whose device to use.

        Returns:
            The buffer in float64 on the device of *like* (the encodings are
            computed in float64 whatever :attr:`dtype` is).
        """
        return buffer.to(device=like.device, dtype=torch.float64)

    def extra_repr(self) -> str:
        """Summary shown by ``repr``.

        Returns:
            Output size, dtype and longitude wrapping.
        """
        return (
            f'output_dim={self.output_dim}, dtype={self.dtype}, '
            f'wrap_longitude={self.wrap_longitude}'
        )


class WrapEncoding(PositionalEncoding):
    """Sinusoidal "wrap" encoding of Mac Aodha et al. (ICCV 2019).

    ``[sin(pi lon / 180), cos(pi lon / 180), sin(pi lat / 90), cos(pi lat / 90)]``
    with ``lon, lat`` in degrees (4 features), as in the CSP reference code.

    Antimeridian: continuous (the longitude terms have period 360 degrees).
    Poles: not continuous - at ``lat = +-90`` the encoding still depends on the
    longitude, and both poles get the same latitude terms ``(0, -1)`` because the
    latitude is scaled by ``pi / 90``.

    If you use this encoding in your research, please cite:

    * https://doi.org/10.1109/ICCV.2019.00996

    .. versionadded:: 0.1
    """

    def __init__(
        self, wrap_longitude: bool = False, dtype: torch.dtype = torch.float32
    ) -> None:
        """Initialize a new WrapEncoding instance.

        Args:
            wrap_longitude: Wrap longitudes outside ``[-180, 180)``.
            dtype: Floating dtype of the output (computed in float64).
        """
        super().__init__(wrap_longitude=wrap_longitude, dtype=dtype)
        self.output_dim = 4

    def _encode(self, lonlat: Tensor) -> Tensor:
        """Encode validated points.

        Args:
            lonlat: Float64 ``[B, 2]`` ``(lon, lat)`` degrees.

        Returns:
            Features ``[B, 4]``.
        """
        x = lonlat
        lon = x[:, 0] * (math.pi / 180)
        lat = x[:, 1] * (math.pi / 90)
        return torch.stack(
            [torch.sin(lon), torch.cos(lon), torch.sin(lat), torch.cos(lat)], dim=1
        )


class _MultiScaleEncoding(PositionalEncoding):
    """Shared set-up of the geometric multi-scale encodings."""

    freqs: Tensor

    #: Unit of ``min_radius`` and ``max_radius``.
    unit = 'degrees'

    #: Largest ``max_radius`` accepted (None: no bound).
    max_allowed_radius: float | None = None

    def __init__(
        self,
        frequencies: int,
        min_radius: float,
        max_radius: float,
        terms: int,
        wrap_longitude: bool,
        dtype: torch.dtype,
    ) -> None:
        """Initialize the frequencies.

        Args:
            frequencies: Number of scales ``S``.
            min_radius: ``r_min``.
            max_radius: ``r_max``.
            terms: Number of features per scale.
            wrap_longitude: Wrap longitudes outside ``[-180, 180)``.
            dtype: Floating dtype of the output (computed in float64).
        """
        super().__init__(wrap_longitude=wrap_longitude, dtype=dtype)
        name = type(self).__name__
        limit = self.max_allowed_radius
        if limit is not None and max_radius > limit:
            raise ValueError(
                f'{name} max_radius is in {self.unit} and must be <= {limit:.4g} '
                f'(2 pi), got {max_radius}: Sphere2Vec radii divide the radian '
                'coordinates (TorchSpatial runs: min_radius=0.001 or 1e-4, '
                'max_radius=1); radii in degrees, as for the grid encoding, must '
                'be multiplied by pi / 180'
            )
        self.register_buffer(
            'freqs',
            geometric_frequencies(
                frequencies, min_radius, max_radius, unit=f'{name}, {self.unit}'
            ),
        )
        self.frequencies = frequencies
        self.min_radius = min_radius
        self.max_radius = max_radius
        self.output_dim = terms * frequencies


class GridEncoding(_MultiScaleEncoding):
    """Space2Vec "grid" encoding (Mai et al., ICLR 2020), CSP's default.

    For each coordinate ``c`` in ``(lon, lat)`` (degrees, as in the CSP code) and each
    scale ``s``: ``[sin(c / lambda_s), cos(c / lambda_s)]``. Features are ordered
    coordinate-major: ``lon`` at scales ``0 .. S - 1`` (sin, cos per scale), then
    ``lat``; ``4 S`` features. CSP's default is ``S = 32``, ``r_min = 0.1``,
    ``r_max = 360``.

    Antimeridian: discontinuous - ``sin(lon / lambda_s)`` has period
    ``2 pi lambda_s`` degrees, which divides 360 only when ``360 / (2 pi lambda_s)``
    is an integer; with the default radii no scale does, so ``lon = 179.999`` and
    ``lon = -179.999`` are encoded far apart. Poles: the longitude terms remain at
    ``lat = +-90``, so the encoding depends on the longitude at a pole.

    If you use this encoding in your research, please cite:

    * https://openreview.net/forum?id=rJljdh4KDH
    * https://arxiv.org/abs/2305.01118

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        frequencies: int = 32,
        min_radius: float = 0.1,
        max_radius: float = 360.0,
        wrap_longitude: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Initialize a new GridEncoding instance.

        Args:
            frequencies: Number of scales ``S``.
            min_radius: Finest scale ``r_min`` in degrees (positive).
            max_radius: Coarsest scale ``r_max`` in degrees (at least ``r_min``).
            wrap_longitude: Wrap longitudes outside ``[-180, 180)``.
            dtype: Floating dtype of the output (computed in float64).

        Raises:
            ValueError: If a radius is out of range (the message gives the unit).
        """
        super().__init__(frequencies, min_radius, max_radius, 4, wrap_longitude, dtype)

    def _encode(self, lonlat: Tensor) -> Tensor:
        """Encode validated points.

        Args:
            lonlat: Float64 ``[B, 2]`` ``(lon, lat)`` degrees.

        Returns:
            Features ``[B, 4 S]``.
        """
        x = lonlat
        angles = x[:, :, None] * self._buffer(self.freqs, x)
        return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)


class TheoryEncoding(_MultiScaleEncoding):
    """Space2Vec "theory" encoding (Mai et al., ICLR 2020).

    The point ``p = (lon, lat)`` (degrees) is projected on three unit vectors
    ``a_1 = (1, 0)``, ``a_2 = (-1/2, sqrt(3)/2)``, ``a_3 = (-1/2, -sqrt(3)/2)``
    (120 degrees apart); for each scale ``s`` and ``j = 1, 2, 3``:
    ``[sin(<p, a_j> / lambda_s), cos(<p, a_j> / lambda_s)]``. Features are ordered
    scale-major (scale ``s``: ``a_1`` sin, cos, ``a_2`` sin, cos, ``a_3`` sin, cos);
    ``6 S`` features.

    Antimeridian: discontinuous (a longitude jump of 360 degrees changes every
    projection). Poles: the projections depend on the longitude at ``lat = +-90``.

    If you use this encoding in your research, please cite:

    * https://openreview.net/forum?id=rJljdh4KDH

    .. versionadded:: 0.1
    """

    units: Tensor

    def __init__(
        self,
        frequencies: int = 32,
        min_radius: float = 0.1,
        max_radius: float = 360.0,
        wrap_longitude: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Initialize a new TheoryEncoding instance.

        Args:
            frequencies: Number of scales ``S``.
            min_radius: Finest scale ``r_min`` in degrees (positive).
            max_radius: Coarsest scale ``r_max`` in degrees (at least ``r_min``).
            wrap_longitude: Wrap longitudes outside ``[-180, 180)``.
            dtype: Floating dtype of the output (computed in float64).

        Raises:
            ValueError: If a radius is out of range (the message gives the unit).
        """
        super().__init__(frequencies, min_radius, max_radius, 6, wrap_longitude, dtype)
        half_sqrt3 = math.sqrt(3) / 2
        units = torch.tensor(
            [[1.0, 0.0], [-0.5, half_sqrt3], [-0.5, -half_sqrt3]], dtype=torch.float64
        )
        self.register_buffer('units', units, persistent=False)

    def _encode(self, lonlat: Tensor) -> Tensor:
        """Encode validated points.

        Args:
            lonlat: Float64 ``[B, 2]`` ``(lon, lat)`` degrees.

        Returns:
            Features ``[B, 6 S]``.
        """
        x = lonlat
        proj = x @ self._buffer(self.units, x).T
        angles = self._buffer(self.freqs, x)[None, :, None] * proj[:, None, :]
        return torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(1)


class _SphereEncoding(_MultiScaleEncoding):
    """Shared computation of the Sphere2Vec encodings."""

    unit = 'radians'
    max_allowed_radius = 2 * math.pi

    def _encode(self, lonlat: Tensor) -> Tensor:
        """Encode validated points.

        Args:
            lonlat: Float64 ``[B, 2]`` ``(lon, lat)`` degrees.

        Returns:
            Features ``[B, terms * S]``, scale-major.
        """
        rad = torch.deg2rad(lonlat)
        lam = rad[:, 0:1]
        phi = rad[:, 1:2]
        freqs = self._buffer(self.freqs, rad)
        terms = self._terms(lam, phi, lam * freqs, phi * freqs)
        return torch.stack(terms, dim=-1).flatten(1)

    @abc.abstractmethod
    def _terms(
        self, lam: Tensor, phi: Tensor, lam_s: Tensor, phi_s: Tensor
    ) -> list[Tensor]:
        """Per-scale terms.

        Args:
            lam: Longitude ``[B, 1]`` in radians.
            phi: Latitude ``[B, 1]`` in radians.
            lam_s: Scaled longitudes ``[B, S]``.
            phi_s: Scaled latitudes ``[B, S]``.

        Returns:
            The terms, each ``[B, S]``.
        """


class SphereCEncoding(_SphereEncoding):
    """Sphere2Vec "sphereC" encoding (Mai et al., ISPRS J. 2023).

    With longitude ``lambda`` and latitude ``phi`` in radians and, per scale,
    ``lambda_s = lambda / r_s``, ``phi_s = phi / r_s`` (``r_s`` the geometric scales
    between ``r_min`` and ``r_max``, in radians): for each scale
    ``[sin(phi_s), cos(phi_s) cos(lambda_s), cos(phi_s) sin(lambda_s)]``,
    scale-major; ``3 S`` features. At a scale with ``r_s = 1`` the terms are the 3-D
    unit vector ``(z, x, y)``. Defaults follow the published TorchSpatial runs
    (seai-lab/TorchSpatial ``main/eva_sh/eva_sphere*_*.sh``: ``S = 64``,
    ``r_min = 0.001``, ``r_max = 1``). The radii are in radians, unlike the grid
    encoding's degrees: ``max_radius`` above ``2 pi`` is refused, since it means
    radii in degrees (with CSP's grid radii 0.1 and 360 the finest Sphere2Vec
    scale would be 100 times coarser than the published 0.001 radian).

    Antimeridian: continuous only if every frequency ``1 / r_s`` is an integer
    (``sin(lambda_s)`` changes sign otherwise); with the default radii only the
    coarsest scale is, so the encoding jumps across ``lon = +-180``. Poles: the
    longitude terms vanish only where ``cos(phi_s) = 0``, i.e. at odd-integer
    frequencies; otherwise the encoding depends on the longitude at a pole.

    If you use this encoding in your research, please cite:

    * https://doi.org/10.1016/j.isprsjprs.2023.06.016

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       Default ``S = 64`` (the TorchSpatial runs; 0.1: 32).
    """

    def __init__(
        self,
        frequencies: int = 64,
        min_radius: float = 0.001,
        max_radius: float = 1.0,
        wrap_longitude: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Initialize a new SphereCEncoding instance.

        Args:
            frequencies: Number of scales ``S`` (64 in the TorchSpatial runs).
            min_radius: Finest scale ``r_min`` in radians (positive).
            max_radius: Coarsest scale ``r_max`` in radians (``r_min`` to
                ``2 pi``).
            wrap_longitude: Wrap longitudes outside ``[-180, 180)``.
            dtype: Floating dtype of the output (computed in float64).

        Raises:
            ValueError: If a radius is out of range (the message gives the unit).
        """
        super().__init__(frequencies, min_radius, max_radius, 3, wrap_longitude, dtype)

    def _terms(
        self, lam: Tensor, phi: Tensor, lam_s: Tensor, phi_s: Tensor
    ) -> list[Tensor]:
        """Per-scale terms.

        Args:
            lam: Longitude ``[B, 1]`` in radians.
            phi: Latitude ``[B, 1]`` in radians.
            lam_s: Scaled longitudes ``[B, S]``.
            phi_s: Scaled latitudes ``[B, S]``.

        Returns:
            ``[sin phi_s, cos phi_s cos lambda_s, cos phi_s sin lambda_s]``.
        """
        cos_phi_s = torch.cos(phi_s)
        return [
            torch.sin(phi_s),
            cos_phi_s * torch.cos(lam_s),
            cos_phi_s * torch.sin(lam_s),
        ]


class SphereCPlusEncoding(_SphereEncoding):
    """Sphere2Vec "sphereC+" encoding (Mai et al., ISPRS J. 2023).

    Notation as in :class:`SphereCEncoding`; per scale
    ``[sin(phi_s), cos(phi_s), sin(lambda_s), cos(lambda_s),
    cos(phi_s) cos(lambda_s), cos(phi_s) sin(lambda_s)]``, scale-major; ``6 S``
    features (sphereC combined with a grid-style term on the radian coordinates).

    Antimeridian: continuous only if every frequency is an integer (not the case
    with the default radii). Poles: the ``sin(lambda_s)``, ``cos(lambda_s)`` terms
    depend on the longitude at a pole at every scale.

    If you use this encoding in your research, please cite:

    * https://doi.org/10.1016/j.isprsjprs.2023.06.016

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       Default ``S = 64`` (the TorchSpatial runs; 0.1: 32).
    """

    def __init__(
        self,
        frequencies: int = 64,
        min_radius: float = 0.001,
        max_radius: float = 1.0,
        wrap_longitude: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Initialize a new SphereCPlusEncoding instance.

        Args:
            frequencies: Number of scales ``S`` (64 in the TorchSpatial runs).
            min_radius: Finest scale ``r_min`` in radians (positive).
            max_radius: Coarsest scale ``r_max`` in radians (``r_min`` to
                ``2 pi``).
            wrap_longitude: Wrap longitudes outside ``[-180, 180)``.
            dtype: Floating dtype of the output (computed in float64).

        Raises:
            ValueError: If a radius is out of range (the message gives the unit).
        """
        super().__init__(frequencies, min_radius, max_radius, 6, wrap_longitude, dtype)

    def _terms(
        self, lam: Tensor, phi: Tensor, lam_s: Tensor, phi_s: Tensor
    ) -> list[Tensor]:
        """Per-scale terms.

        Args:
            lam: Longitude ``[B, 1]`` in radians.
            phi: Latitude ``[B, 1]`` in radians.
            lam_s: Scaled longitudes ``[B, S]``.
            phi_s: Scaled latitudes ``[B, S]``.

        Returns:
            ``[sin phi_s, cos phi_s, sin lambda_s, cos lambda_s,
            cos phi_s cos lambda_s, cos phi_s sin lambda_s]``.
        """
        cos_phi_s = torch.cos(phi_s)
        sin_lam_s = torch.sin(lam_s)
        cos_lam_s = torch.cos(lam_s)
        return [
            torch.sin(phi_s),
            cos_phi_s,
            sin_lam_s,
            cos_lam_s,
            cos_phi_s * cos_lam_s,
            cos_phi_s * sin_lam_s,
        ]


class SphereMEncoding(_SphereEncoding):
    """Sphere2Vec "sphereM" encoding (Mai et al., ISPRS J. 2023).

    Notation as in :class:`SphereCEncoding`; per scale
    ``[sin(phi_s), cos(phi_s) cos(lambda), cos(phi) cos(lambda_s),
    cos(phi_s) sin(lambda), cos(phi) sin(lambda_s)]``, scale-major; ``5 S``
    features (multi-scale in one coordinate at a time).

    Antimeridian: the ``cos(phi) sin(lambda_s)`` term jumps unless the frequency is
    an integer, so the encoding is discontinuous with the default radii. Poles: the
    ``cos(phi)`` terms vanish, but ``cos(phi_s) cos(lambda)`` and
    ``cos(phi_s) sin(lambda)`` still depend on the longitude unless ``cos(phi_s) = 0``.

    If you use this encoding in your research, please cite:

    * https://doi.org/10.1016/j.isprsjprs.2023.06.016

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       Default ``S = 64`` (the TorchSpatial runs; 0.1: 32).
    """

    def __init__(
        self,
        frequencies: int = 64,
        min_radius: float = 0.001,
        max_radius: float = 1.0,
        wrap_longitude: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Initialize a new SphereMEncoding instance.

        Args:
            frequencies: Number of scales ``S`` (64 in the TorchSpatial runs).
            min_radius: Finest scale ``r_min`` in radians (positive).
            max_radius: Coarsest scale ``r_max`` in radians (``r_min`` to
                ``2 pi``).
            wrap_longitude: Wrap longitudes outside ``[-180, 180)``.
            dtype: Floating dtype of the output (computed in float64).

        Raises:
            ValueError: If a radius is out of range (the message gives the unit).
        """
        super().__init__(frequencies, min_radius, max_radius, 5, wrap_longitude, dtype)

    def _terms(
        self, lam: Tensor, phi: Tensor, lam_s: Tensor, phi_s: Tensor
    ) -> list[Tensor]:
        """Per-scale terms.

        Args:
            lam: Longitude ``[B, 1]`` in radians.
            phi: Latitude ``[B, 1]`` in radians.
            lam_s: Scaled longitudes ``[B, S]``.
            phi_s: Scaled latitudes ``[B, S]``.

        Returns:
            ``[sin phi_s, cos phi_s cos lambda, cos phi cos lambda_s,
            cos phi_s sin lambda, cos phi sin lambda_s]``.
        """
        cos_phi_s = torch.cos(phi_s)
        cos_phi = torch.cos(phi)
        return [
            torch.sin(phi_s),
            cos_phi_s * torch.cos(lam),
            cos_phi * torch.cos(lam_s),
            cos_phi_s * torch.sin(lam),
            cos_phi * torch.sin(lam_s),
        ]


class SphereMPlusEncoding(_SphereEncoding):
    """Sphere2Vec "sphereM+" encoding (Mai et al., ISPRS J. 2023).

    Notation as in :class:`SphereCEncoding`; per scale
    ``[sin(phi_s), cos(phi_s), sin(lambda_s), cos(lambda_s),
    cos(phi_s) cos(lambda), cos(phi) cos(lambda_s), cos(phi_s) sin(lambda),
    cos(phi) sin(lambda_s)]``, scale-major; ``8 S`` features.

    Antimeridian: discontinuous unless every frequency is an integer. Poles: the
    ``sin(lambda_s)``, ``cos(lambda_s)`` terms depend on the longitude at a pole.

    If you use this encoding in your research, please cite:

    * https://doi.org/10.1016/j.isprsjprs.2023.06.016

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       Default ``S = 64`` (the TorchSpatial runs; 0.1: 32).
    """

    def __init__(
        self,
        frequencies: int = 64,
        min_radius: float = 0.001,
        max_radius: float = 1.0,
        wrap_longitude: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Initialize a new SphereMPlusEncoding instance.

        Args:
            frequencies: Number of scales ``S`` (64 in the TorchSpatial runs).
            min_radius: Finest scale ``r_min`` in radians (positive).
            max_radius: Coarsest scale ``r_max`` in radians (``r_min`` to
                ``2 pi``).
            wrap_longitude: Wrap longitudes outside ``[-180, 180)``.
            dtype: Floating dtype of the output (computed in float64).

        Raises:
            ValueError: If a radius is out of range (the message gives the unit).
        """
        super().__init__(frequencies, min_radius, max_radius, 8, wrap_longitude, dtype)

    def _terms(
        self, lam: Tensor, phi: Tensor, lam_s: Tensor, phi_s: Tensor
    ) -> list[Tensor]:
        """Per-scale terms.

        Args:
            lam: Longitude ``[B, 1]`` in radians.
            phi: Latitude ``[B, 1]`` in radians.
            lam_s: Scaled longitudes ``[B, S]``.
            phi_s: Scaled latitudes ``[B, S]``.

        Returns:
            ``[sin phi_s, cos phi_s, sin lambda_s, cos lambda_s,
            cos phi_s cos lambda, cos phi cos lambda_s, cos phi_s sin lambda,
            cos phi sin lambda_s]``.
        """
        cos_phi_s = torch.cos(phi_s)
        cos_phi = torch.cos(phi)
        sin_lam_s = torch.sin(lam_s)
        cos_lam_s = torch.cos(lam_s)
        return [
            torch.sin(phi_s),
            cos_phi_s,
            sin_lam_s,
            cos_lam_s,
            cos_phi_s * torch.cos(lam),
            cos_phi * cos_lam_s,
            cos_phi_s * torch.sin(lam),
            cos_phi * sin_lam_s,
        ]


class RBFEncoding(PositionalEncoding):
    """Radial basis function encoding on anchors drawn from the training points.

    ``[exp(-d(p, a_k)^2 / (2 sigma^2))]_{k=1..K}`` for ``K`` anchors ``a_k`` and
    kernel size ``sigma`` (degrees). The anchors are a seeded random subset of the
    training points (the CSP reference) or the k-means centroids of their 3-D unit
    vectors, projected back to ``(lon, lat)``; they are kept as the persistent
    buffer ``anchors`` ``[K, 2]``. The distance ``d`` is either the Euclidean
    distance between ``(lon, lat)`` degrees (``'lonlat'``, the reference) or the
    great-circle angle in degrees (``'great_circle'``).

    Antimeridian: ``'lonlat'`` is discontinuous (points at ``179.999`` and
    ``-179.999`` are 360 degrees apart); ``'great_circle'`` is continuous. Poles:
    ``'lonlat'`` depends on the longitude at a pole; ``'great_circle'`` does not.

    If you use this encoding in your research, please cite:

    * https://arxiv.org/abs/2305.01118

    .. versionadded:: 0.1
    """

    anchors: Tensor

    def __init__(
        self,
        train_points: Tensor | npt.ArrayLike | None = None,
        num_anchors: int = 200,
        kernel_size: float = 2.0,
        anchor_selection: Literal['random', 'kmeans'] = 'random',
        distance: Literal['lonlat', 'great_circle'] = 'lonlat',
        seed: int = 0,
        wrap_longitude: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Initialize a new RBFEncoding instance.

        Args:
            train_points: ``[N, 2]`` ``(lon, lat)`` degrees of the TRAINING locations
                (never validation or test ones) from which the anchors are chosen.
            num_anchors: Number of anchors ``K`` (at most ``N``).
            kernel_size: Kernel size ``sigma`` in degrees.
            anchor_selection: ``'random'`` (seeded subset of the training points)
                or ``'kmeans'`` (k-means centroids on the sphere).
            distance: ``'lonlat'`` or ``'great_circle'``.
            seed: Seed of the anchor selection.
            wrap_longitude: Wrap longitudes outside ``[-180, 180)`` (also applied to
                *train_points*).
            dtype: Floating dtype of the output (computed in float64).

        Raises:
            ValueError: If *train_points* is missing or invalid, or a parameter is
                out of range.
        """
        super().__init__(wrap_longitude=wrap_longitude, dtype=dtype)
        if train_points is None:
            raise ValueError(
                'RBFEncoding needs train_points: the [N, 2] (lon, lat) degrees of '
                'the training locations from which its anchors are chosen'
            )
        if anchor_selection not in ('random', 'kmeans'):
            raise ValueError(
                f"anchor_selection must be 'random' or 'kmeans', got "
                f'{anchor_selection!r}'
            )
        if distance not in ('lonlat', 'great_circle'):
            raise ValueError(
                f"distance must be 'lonlat' or 'great_circle', got {distance!r}"
            )
        if not (math.isfinite(kernel_size) and kernel_size > 0):
            raise ValueError(f'kernel_size must be positive, got {kernel_size}')
        if isinstance(train_points, Tensor):
            pts = train_points.detach().cpu().to(torch.float64)
        else:
            pts = torch.as_tensor(np.asarray(train_points, dtype=np.float64))
        pts = validate_points(pts, wrap_longitude=wrap_longitude)
        n = pts.shape[0]
        if not 1 <= num_anchors <= n:
            raise ValueError(
                f'num_anchors must be between 1 and the number of training points '
                f'({n}), got {num_anchors}'
            )
        if anchor_selection == 'random':
            generator = torch.Generator().manual_seed(seed)
            anchors = pts[torch.randperm(n, generator=generator)[:num_anchors]]
        else:
            anchors = _kmeans_anchors(pts.numpy(), num_anchors, seed)
        self.register_buffer('anchors', anchors)
        self.num_anchors = num_anchors
        self.kernel_size = kernel_size
        self.anchor_selection = anchor_selection
        self.distance = distance
        self.output_dim = num_anchors

    def _encode(self, lonlat: Tensor) -> Tensor:
        """Encode validated points.

        Args:
            lonlat: Float64 ``[B, 2]`` ``(lon, lat)`` degrees.

        Returns:
            Features ``[B, K]``.
        """
        x = lonlat
        anchors = self._buffer(self.anchors, x)
        if self.distance == 'lonlat':
            sq_dist = ((x[:, None, :] - anchors[None, :, :]) ** 2).sum(-1)
        else:
            p = torch.deg2rad(x)
            a = torch.deg2rad(anchors)
            dlon = p[:, None, 0] - a[None, :, 0]
            dlat = p[:, None, 1] - a[None, :, 1]
            hav = (
                torch.sin(dlat / 2) ** 2
                + torch.cos(p[:, None, 1])
                * torch.cos(a[None, :, 1])
                * torch.sin(dlon / 2) ** 2
            )
            angle = 2 * torch.asin(torch.sqrt(hav.clamp(0, 1)))
            sq_dist = torch.rad2deg(angle) ** 2
        return torch.exp(-sq_dist / (2 * self.kernel_size**2))


def _kmeans_anchors(
    points: npt.NDArray[np.float64], num_anchors: int, seed: int
) -> Tensor:
    """K-means centroids of points on the sphere, as ``(lon, lat)`` degrees.

    Args:
        points: ``[N, 2]`` ``(lon, lat)`` degrees.
        num_anchors: Number of clusters.
        seed: Seed of k-means.

    Returns:
        Float64 tensor ``[num_anchors, 2]``.
    """
    xyz = lonlat_to_unit_vectors(points)
    km = KMeans(n_clusters=num_anchors, n_init=4, random_state=seed).fit(xyz)
    centres = np.asarray(km.cluster_centers_, dtype=np.float64)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    lon = np.degrees(np.arctan2(centres[:, 1], centres[:, 0]))
    lat = np.degrees(np.arcsin(np.clip(centres[:, 2], -1.0, 1.0)))
    return torch.from_numpy(np.stack([lon, lat], axis=1))


class RandomFourierEncoding(PositionalEncoding):
    """Random Fourier features (Rahimi and Recht, NeurIPS 2007) of a location.

    ``sqrt(2 / D) cos(W^T v + b)`` with ``D`` random frequencies ``W`` and phases
    ``b ~ U(0, 2 pi)``, drawn once from *seed* and kept as the persistent buffers
    ``weight`` and ``phase``. Two variants, chosen by *mode*:

    * ``'reference'`` (default, as the CSP and TorchSpatial reference code:
      gengchenmai/csp and seai-lab/TorchSpatial ``main/SpatialRelationEncoder.py``,
      ``RFFSpatialRelationEncoder``): ``v = (lon / 180, lat / 90)``, the planar
      coordinates scaled to ``[-1, 1]``, and ``W ~ N(0, sigma I)`` of shape
      ``[2, D]``, i.e. *kernel_size* ``sigma`` is the **variance** of each
      frequency. This approximates a Gaussian kernel on the scaled planar
      coordinates with bandwidth ``1 / sqrt(sigma)``; it jumps across the
      antimeridian and depends on the longitude at a pole. The published
      TorchSpatial runs use ``D = 64`` and ``sigma = 2``
      (``main/eva_sh/eva_rff_*.sh``).
    * ``'unit_vector'`` (an option; not the published runs): ``v`` the 3-D unit
      vector of the point (see
      :func:`~torchgeo_geossl.location.coordinates.lonlat_to_unit_vectors`) and
      ``W ~ N(0, I / sigma^2)`` of shape ``[3, D]``, i.e. *kernel_size* ``sigma``
      is the **bandwidth** of a Gaussian kernel on the chordal distance. Continuous
      across the antimeridian and at the poles.

    If you use this encoding in your research, please cite:

    * https://papers.nips.cc/paper/3182-random-features-for-large-scale-kernel-machines

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       Added *mode*; the default is the reference's ``'reference'`` (0.1 computed
       ``'unit_vector'``), with ``D = 64`` and ``sigma = 2`` (0.1: 256 and 1).
    """

    weight: Tensor
    phase: Tensor

    def __init__(
        self,
        frequencies: int = 64,
        kernel_size: float = 2.0,
        mode: Literal['reference', 'unit_vector'] = 'reference',
        seed: int = 0,
        wrap_longitude: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Initialize a new RandomFourierEncoding instance.

        Args:
            frequencies: Number of random features ``D``.
            kernel_size: ``sigma``: the variance of the frequencies in
                ``'reference'`` mode, the kernel bandwidth in unit-sphere (chordal)
                units in ``'unit_vector'`` mode.
            mode: ``'reference'`` (planar ``(lon / 180, lat / 90)``, as the
                reference code) or ``'unit_vector'`` (3-D unit vector).
            seed: Seed of the random frequencies and phases.
            wrap_longitude: Wrap longitudes outside ``[-180, 180)``.
            dtype: Floating dtype of the output (computed in float64).

        Raises:
            ValueError: If *frequencies* or *kernel_size* is not positive, or
                *mode* is unknown.
        """
        super().__init__(wrap_longitude=wrap_longitude, dtype=dtype)
        if frequencies < 1:
            raise ValueError(f'frequencies must be >= 1, got {frequencies}')
        if not (math.isfinite(kernel_size) and kernel_size > 0):
            raise ValueError(f'kernel_size must be positive, got {kernel_size}')
        if mode not in ('reference', 'unit_vector'):
            raise ValueError(
                f"RandomFourierEncoding mode must be 'reference' or 'unit_vector', "
                f'got {mode!r}'
            )
        generator = torch.Generator().manual_seed(seed)
        dims = 2 if mode == 'reference' else 3
        weight = torch.randn(
            dims, frequencies, generator=generator, dtype=torch.float64
        )
        phase = torch.rand(frequencies, generator=generator, dtype=torch.float64)
        if mode == 'reference':
            weight = weight * math.sqrt(kernel_size)
        else:
            weight = weight / kernel_size
        self.register_buffer('weight', weight)
        self.register_buffer('phase', phase * (2 * math.pi))
        self.frequencies = frequencies
        self.kernel_size = kernel_size
        self.mode = mode
        self.seed = seed
        self.output_dim = frequencies

    def _encode(self, lonlat: Tensor) -> Tensor:
        """Encode validated points.

        Args:
            lonlat: Float64 ``[B, 2]`` ``(lon, lat)`` degrees.

        Returns:
            Features ``[B, D]``.
        """
        if self.mode == 'reference':
            v = lonlat / lonlat.new_tensor([180.0, 90.0])
        else:
            v = lonlat_to_unit_vectors(lonlat).to(torch.float64)
        proj = v @ self._buffer(self.weight, v) + self._buffer(self.phase, v)
        return math.sqrt(2.0 / self.frequencies) * torch.cos(proj)


class NeRFEncoding(PositionalEncoding):
    """NeRF-style encoding (Mildenhall et al., ECCV 2020) of the 3-D unit vector.

    With ``u = (x, y, z)`` the unit vector of the point and frequencies
    ``f_l = 2^l b`` for ``l = 0 .. L - 1`` (persistent buffer ``freqs``; NeRF and
    TorchSpatial use ``b = pi``):
    ``[sin(f_l x) for l, sin(f_l y) for l, sin(f_l z) for l, cos(f_l x) for l,
    cos(f_l y) for l, cos(f_l z) for l]`` (the TorchSpatial ordering); ``6 L``
    features.

    Antimeridian and poles: continuous (a function of the unit vector only).
    Note that with ``b = pi`` every term has period 2 in each coordinate, so the
    values ``-1`` and ``+1`` of a coordinate are encoded alike: both poles get the
    same encoding, and so do ``(0, 0)`` and ``(180, 0)`` (and ``(90, 0)`` and
    ``(-90, 0)``). ``base_frequency=1`` avoids these collisions.

    If you use this encoding in your research, please cite:

    * https://doi.org/10.1007/978-3-030-58452-8_24

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       Default ``L = 16`` (the TorchSpatial runs; 0.1: 10).
    """

    freqs: Tensor

    def __init__(
        self,
        frequencies: int = 16,
        base_frequency: float = math.pi,
        wrap_longitude: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Initialize a new NeRFEncoding instance.

        Args:
            frequencies: Number of powers of two ``L`` (16 in the TorchSpatial
                runs, ``main/eva_sh/eval_nerf_*.sh``).
            base_frequency: Lowest frequency ``b``.
            wrap_longitude: Wrap longitudes outside ``[-180, 180)``.
            dtype: Floating dtype of the output (computed in float64).

        Raises:
            ValueError: If *frequencies* or *base_frequency* is not positive.
        """
        super().__init__(wrap_longitude=wrap_longitude, dtype=dtype)
        if frequencies < 1:
            raise ValueError(f'frequencies must be >= 1, got {frequencies}')
        if not (math.isfinite(base_frequency) and base_frequency > 0):
            raise ValueError(f'base_frequency must be positive, got {base_frequency}')
        powers = torch.exp2(torch.arange(frequencies, dtype=torch.float64))
        freqs = base_frequency * powers
        self.register_buffer('freqs', freqs)
        self.frequencies = frequencies
        self.base_frequency = base_frequency
        self.output_dim = 6 * frequencies

    def _encode(self, lonlat: Tensor) -> Tensor:
        """Encode validated points.

        Args:
            lonlat: Float64 ``[B, 2]`` ``(lon, lat)`` degrees.

        Returns:
            Features ``[B, 6 L]``.
        """
        xyz = lonlat_to_unit_vectors(lonlat).to(torch.float64)
        angles = xyz[:, :, None] * self._buffer(self.freqs, xyz)
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).flatten(1)


class SphericalHarmonicsEncoding(PositionalEncoding):
    """Real spherical harmonics up to degree ``L - 1`` (SatCLIP, Russwurm et al.).

    Wraps TorchGeo's ``torchgeo.models.satclip.SphericalHarmonics`` (attribute
    ``harmonics``): ``[Y_l^m(lon, lat)]`` for ``l = 0 .. L - 1``,
    ``m = -l .. l``; ``L^2`` features. SatCLIP combines it with a SIREN network.

    Antimeridian: continuous (integer orders ``m`` make every term 360-degree
    periodic). Poles: continuous in exact arithmetic; TorchGeo clamps latitudes to
    ``+-89.95`` degrees to keep gradients finite, so at a pole the encoding varies
    with the longitude by a small amount that grows with ``L``.

    If you use this encoding in your research, please cite:

    * https://openreview.net/forum?id=PudduufFLa
    * https://doi.org/10.1609/aaai.v39i4.32457

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       Default ``L = 40`` (SatCLIP-L40, TorchGeo's ``SatCLIP`` default; 0.1: 10).
    """

    def __init__(
        self,
        legendre_polys: int = 40,
        wrap_longitude: bool = False,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        """Initialize a new SphericalHarmonicsEncoding instance.

        Args:
            legendre_polys: Number of Legendre polynomials ``L`` (degrees
                ``0 .. L - 1``); 40 as TorchGeo's pretrained SatCLIP-L40.
            wrap_longitude: Wrap longitudes outside ``[-180, 180)``.
            dtype: Floating dtype of the output (computed in float64).

        Raises:
            ValueError: If *legendre_polys* is not positive.
        """
        super().__init__(wrap_longitude=wrap_longitude, dtype=dtype)
        if legendre_polys < 1:
            raise ValueError(f'legendre_polys must be >= 1, got {legendre_polys}')
        self.harmonics = SphericalHarmonics(legendre_polys)
        self.legendre_polys = legendre_polys
        self.output_dim = legendre_polys * legendre_polys

    def _encode(self, lonlat: Tensor) -> Tensor:
        """Encode validated points.

        Args:
            lonlat: Float64 ``[B, 2]`` ``(lon, lat)`` degrees.

        Returns:
            Features ``[B, L^2]``.
        """
        out: Tensor = self.harmonics(lonlat)
        return out


_ENCODINGS: dict[str, type[PositionalEncoding]] = {
    'wrap': WrapEncoding,
    'grid': GridEncoding,
    'theory': TheoryEncoding,
    'spherec': SphereCEncoding,
    'spherec+': SphereCPlusEncoding,
    'spherem': SphereMEncoding,
    'spherem+': SphereMPlusEncoding,
    'rbf': RBFEncoding,
    'rff': RandomFourierEncoding,
    'nerf': NeRFEncoding,
    'sh': SphericalHarmonicsEncoding,
}


def build_encoding(name: str, **kwargs: object) -> PositionalEncoding:
    """Build a positional encoding by name.

    Args:
        name: One of :data:`ENCODING_NAMES` (case-insensitive): ``'wrap'``,
            ``'grid'``, ``'theory'``, ``'spherec'``, ``'spherec+'``, ``'spherem'``,
            ``'spherem+'``, ``'rbf'``, ``'rff'``, ``'nerf'``, ``'sh'``.
        **kwargs: Arguments of the encoding's class (e.g. ``frequencies``,
            ``min_radius``, ``train_points`` for ``'rbf'``, ``wrap_longitude``,
            ``dtype``).

    Returns:
        The encoding module.

    Raises:
        ValueError: If *name* is unknown (the message lists the valid names).
        TypeError: If a keyword argument is not accepted by the encoding.

    .. versionadded:: 0.1
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in _ENCODINGS:
        raise ValueError(
            f'Unknown location encoding {name!r}; valid names: '
            f'{", ".join(ENCODING_NAMES)}'
        )
    cls = _ENCODINGS[key]
    return cls(**kwargs)  # type: ignore[arg-type]

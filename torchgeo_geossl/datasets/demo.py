"""Synthetic demo time series: a generator of dated GeoTIFFs and its dataset.

Everything in this module is **synthetic**. :func:`generate_demo_data` draws small,
plausible-looking four-band (blue, green, red, NIR) scenes for a handful of places
around the world, several dates each, so that the temporal pipelines of this package
can be tried, tested and demonstrated without downloading anything. The scenes are
not observations and must never be used to draw conclusions about these places.

:class:`DemoTimeSeries` is an ordinary TorchGeo :class:`~torchgeo.datasets.RasterDataset`
over the generated files. Real imagery (TorchGeo's ``Sentinel2`` or ``Landsat8``, or
any ``RasterDataset`` whose files carry a date) goes through exactly the same code
path: samplers and data modules only see a dated GeoDataset.
"""

import argparse
import dataclasses
import datetime as dt
import functools
import json
import math
import os
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import rasterio
import shapely
import shapely.geometry
from matplotlib.figure import Figure
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info
from rasterio.io import DatasetReader
from rasterio.transform import from_origin
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_geom
from shapely import Polygon
from torchgeo.datasets import RasterDataset
from torchgeo.datasets.errors import RGBBandsMissingError
from torchgeo.datasets.utils import Sample

from .views import plot_sample_views

Array = NDArray[np.float64]

#: Band names of the generated files, in file order.
DEMO_BANDS = ('blue', 'green', 'red', 'nir')

#: Reflectance scale of the stored integers: ``reflectance = value / DEMO_SCALE``.
DEMO_SCALE = 10_000

#: Default number of acquisition dates per location.
DEMO_DATES_PER_LOCATION = 12

#: File name of the JSON manifest written next to the GeoTIFFs.
MANIFEST_NAME = 'manifest.json'

_NAME_RE = re.compile(r'^[a-z0-9]+$')
_FILE_RE = r'^demo_(?P<site>[a-z0-9]+)_(?P<date>\d{8})\.tif$'
_DAYS_PER_YEAR = 365.25
_SOUTHERN_SHIFT = _DAYS_PER_YEAR / 2
_MIN_SIZE = 8
_MAX_DATES = 52
_TABLE = 64

#: Version of the generator's landscape model, recorded in the manifest: data written
#: by another version is refused, not reused (version 1, before 0.2's last changes, drew
#: the same crops, soil and forest at every site).
DEMO_GENERATOR_VERSION = 2


def _spectrum(*values: float) -> Array:
    """A reflectance spectrum (blue, green, red, NIR) shaped [4, 1, 1]."""
    return np.array(values, dtype=float)[:, None, None]


# Reflectance spectra of the scene components.
_GREEN = _spectrum(0.030, 0.075, 0.035, 0.420)
_FLOWERING = _spectrum(0.040, 0.120, 0.110, 0.380)
_CONIFER = _spectrum(0.020, 0.040, 0.022, 0.260)
_LEAF_ON = _spectrum(0.025, 0.055, 0.030, 0.360)
_LEAF_OFF = _spectrum(0.045, 0.060, 0.065, 0.170)
_RAINFOREST = _spectrum(0.018, 0.045, 0.020, 0.400)
_DRY_GRASS = _spectrum(0.080, 0.110, 0.150, 0.240)
_CLEAR_WATER = _spectrum(0.030, 0.030, 0.020, 0.008)
_TURBID_WATER = _spectrum(0.080, 0.090, 0.080, 0.030)
_URBAN = _spectrum(0.110, 0.120, 0.135, 0.170)
_ROAD = _spectrum(0.090, 0.100, 0.110, 0.140)
_SNOW = _spectrum(0.900, 0.880, 0.850, 0.720)
_CLOUD = _spectrum(0.620, 0.610, 0.600, 0.580)


@dataclasses.dataclass(frozen=True)
class _Crop:
    """Calendar and colour of one crop type of the field parcels.

    Green cover over the year is ``base + (green_max - base) * b(doy)``, where b is a
    periodic bell on the *peak* day (northern hemisphere; six months later in the
    south) of concentration *kappa*, or the larger of it and *second_weight* times a
    second bell for double cropping or two rainy seasons. A *flood* day marks
    paddies: around it the bare part of the parcel is under water.
    """

    peak: float
    kappa: float
    base: float
    green_max: float
    second_peak: float = 0.0
    second_kappa: float = 0.0
    second_weight: float = 0.0
    flood: float | None = None
    colour: Array = dataclasses.field(default_factory=lambda: _GREEN)


_CROPS: dict[str, _Crop] = {
    'winter-cereal': _Crop(135, 2.5, 0.10, 0.90),
    'summer-crop': _Crop(210, 3.0, 0.0, 0.95),
    'meadow': _Crop(150, 0.8, 0.25, 0.80),
    'fallow': _Crop(180, 1.0, 0.05, 0.30),
    'rapeseed': _Crop(110, 4.0, 0.10, 0.90, colour=_FLOWERING),
    'rice-wheat': _Crop(240, 4.0, 0.0, 0.95, 60, 4.0, 0.9, flood=175),
    'sugarcane': _Crop(250, 0.6, 0.35, 0.90),
    'pivot': _Crop(200, 0.3, 0.60, 0.95),
    'dryland': _Crop(110, 2.0, 0.05, 0.60),
    'two-rains': _Crop(120, 4.0, 0.10, 0.85, 320, 4.0, 0.8),
}

#: Crop types of the demo data's field parcels (``DemoLocation.crops``): winter cereal,
#: summer crop (maize, soy), meadow, fallow, rapeseed (yellow in flower), rice-wheat
#: (a flooded rice paddy in the monsoon, wheat in winter), sugarcane, pivot (an
#: irrigated centre-pivot circle in dry land), dryland (rain-fed, browning in summer)
#: and two-rains (two growing seasons a year, as in East Africa).
DEMO_CROP_TYPES = tuple(_CROPS)

#: Natural vegetation types of the demo data's forest (``DemoLocation.vegetation``):
#: deciduous (mostly broadleaf, leafless in winter), mixed, conifer, rainforest
#: (evergreen all year) and savanna (grass that greens with the rains, with trees).
DEMO_VEGETATION = ('deciduous', 'mixed', 'conifer', 'rainforest', 'savanna')

# Share of evergreen trees in the forest of each vegetation type (threshold of a
# unit-variance random field: the savanna's trees among its grass, all of the
# rainforest), and the rainy seasons of the savanna's grass.
_EVERGREEN_ABOVE = {
    'deciduous': 0.6,
    'mixed': 0.0,
    'conifer': -1.0,
    'rainforest': -math.inf,
    'savanna': 0.3,
}
_RAINS = _Crop(120, 4.0, 0.0, 1.0, 320, 4.0, 0.8)

_DEFAULT_SOIL = (0.075, 0.105, 0.140, 0.215)
_DEFAULT_CROPS = (
    ('winter-cereal', 0.35),
    ('summer-crop', 0.35),
    ('meadow', 0.2),
    ('fallow', 0.1),
)


@functools.lru_cache
def _utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 / UTM zone of a point, looked up with pyproj."""
    aoi = AreaOfInterest(lon, lat, lon, lat)
    infos = query_utm_crs_info(datum_name='WGS 84', area_of_interest=aoi)
    prefix = 326 if lat >= 0 else 327
    codes = [
        int(info.code)
        for info in infos
        if info.auth_name == 'EPSG' and int(info.code) // 100 == prefix
    ]

    def distance(code: int) -> float:
        central = 6 * (code % 100) - 183
        return abs((lon - central + 180) % 360 - 180)

    return min(codes, key=distance)


@dataclasses.dataclass(frozen=True)
class DemoLocation:
    """A place of the synthetic demo data and the mix of its synthetic landscape.

    The land-cover shares are fractions of the tile; the rest is cropland cut into
    parcels. Only the coordinates refer to the real world: the scene drawn there is
    synthetic.

    Args:
        name: Site name used in file names (lowercase ASCII letters and digits).
        region: Human-readable description of the place.
        lon: Longitude of the tile centre in degrees east, in [-180, 180].
        lat: Latitude of the tile centre in degrees north, in [-80, 84] (UTM).
        water: Share of water bodies.
        forest: Share of forest.
        urban: Share of built-up land.
        parcel_size: Typical length of a field parcel in metres.
        snow: Whether the site is snow-covered in winter.
        soil: Reflectance (blue, green, red, NIR) of the bare soil, each in (0, 1).
        crops: Crop types of the parcels (names of :data:`DEMO_CROP_TYPES`) and
            their shares, which sum to 1.
        vegetation: Type of the forest, one of :data:`DEMO_VEGETATION`.
        parcel_aspect: Length over width of the parcels (at least 1; strip fields
            are long and narrow).
        parcel_angle: Orientation of the parcel grid in degrees from east, or None
            for a random orientation within ±30°.
        turbidity: Colour of the water bodies, from clear (0) to turbid (1).

    Raises:
        ValueError: If the name, the coordinates, the shares or the landscape are
            invalid.

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       The landscape fields *soil*, *crops*, *vegetation*, *parcel_aspect*,
       *parcel_angle* and *turbidity*.
    """

    name: str
    region: str
    lon: float
    lat: float
    water: float = 0.05
    forest: float = 0.15
    urban: float = 0.05
    parcel_size: float = 300.0
    snow: bool = False
    soil: tuple[float, float, float, float] = _DEFAULT_SOIL
    crops: tuple[tuple[str, float], ...] = _DEFAULT_CROPS
    vegetation: str = 'deciduous'
    parcel_aspect: float = 1.5
    parcel_angle: float | None = None
    turbidity: float = 0.5

    def __post_init__(self) -> None:
        """Check the fields.

        Raises:
            ValueError: If the name, the coordinates or the shares are invalid.
        """
        if not _NAME_RE.match(self.name):
            msg = (
                f'demo location name {self.name!r} must be lowercase ASCII letters '
                'and digits only (it is part of the file names)'
            )
            raise ValueError(msg)
        if not (-180 <= self.lon <= 180 and -80 <= self.lat <= 84):
            msg = (
                f'demo location {self.name!r}: lon={self.lon}, lat={self.lat} is '
                'outside lon [-180, 180], lat [-80, 84] (the UTM range)'
            )
            raise ValueError(msg)
        shares = (self.water, self.forest, self.urban)
        if min(shares) < 0 or sum(shares) > 1:
            msg = (
                f'demo location {self.name!r}: water={self.water}, '
                f'forest={self.forest}, urban={self.urban} must be non-negative '
                'and sum to at most 1'
            )
            raise ValueError(msg)
        if self.parcel_size <= 0:
            msg = (
                f'demo location {self.name!r}: parcel_size={self.parcel_size} '
                'must be positive'
            )
            raise ValueError(msg)
        self._check_landscape()

    def _check_landscape(self) -> None:
        """Check the landscape fields.

        Raises:
            ValueError: If a landscape field is invalid (named in the message).
        """
        where = f'demo location {self.name!r}'
        if len(self.soil) != len(DEMO_BANDS) or not all(0 < v < 1 for v in self.soil):
            msg = (
                f'{where}: soil={self.soil} must be {len(DEMO_BANDS)} reflectances '
                f'({", ".join(DEMO_BANDS)}) between 0 and 1'
            )
            raise ValueError(msg)
        unknown = sorted({name for name, _ in self.crops} - set(_CROPS))
        if unknown:
            msg = (
                f'{where}: unknown crop types {unknown}; choose from {DEMO_CROP_TYPES}'
            )
            raise ValueError(msg)
        shares = [share for _, share in self.crops]
        if not shares or min(shares) < 0 or not math.isclose(sum(shares), 1):
            msg = f'{where}: crops={self.crops} must have non-negative shares summing to 1'
            raise ValueError(msg)
        if self.vegetation not in DEMO_VEGETATION:
            msg = (
                f'{where}: vegetation={self.vegetation!r} is not one of '
                f'{DEMO_VEGETATION}'
            )
            raise ValueError(msg)
        if not self.parcel_aspect >= 1:
            msg = f'{where}: parcel_aspect={self.parcel_aspect} must be at least 1'
            raise ValueError(msg)
        if not 0 <= self.turbidity <= 1:
            msg = f'{where}: turbidity={self.turbidity} must be between 0 and 1'
            raise ValueError(msg)

    @property
    def epsg(self) -> int:
        """EPSG code of the WGS 84 / UTM zone of the location.

        Looked up with pyproj; where two zones meet, the one whose central meridian
        is closest wins.

        Returns:
            The EPSG code, 326xx in the northern and 327xx in the southern hemisphere.
        """
        return _utm_epsg(self.lon, self.lat)

    @property
    def southern(self) -> bool:
        """Whether the location lies in the southern hemisphere (seasons shifted).

        Returns:
            True south of the equator.
        """
        return self.lat < 0


#: The places of the synthetic demo data: both hemispheres, ten UTM zones, from the
#: equator to 65°N, and one site close to the antimeridian (Taveuni, Fiji, UTM 60S).
#: Each has a landscape of its own, loosely after the real place: its soil colour, its
#: crops and their calendars (northern ones peak around July, southern ones around
#: January), its forest, its parcels' shape and orientation, and its water. Oulu and
#: Hokkaido are snow-covered in winter; Punjab's rice paddies are flooded in the
#: monsoon; Canterbury's irrigated pivots stay green in dry land; Nakuru greens with
#: two rainy seasons; Taveuni's rainforest stays green all year.
DEMO_LOCATIONS: tuple[DemoLocation, ...] = (
    DemoLocation(
        'beauce', 'Beauce, France', 1.60, 48.30, 0.02, 0.10, 0.06, 400.0,
        soil=(0.090, 0.125, 0.165, 0.240),
        crops=(('winter-cereal', 0.5), ('rapeseed', 0.2), ('summer-crop', 0.2), ('fallow', 0.1)),
        parcel_aspect=1.3, turbidity=0.3,
    ),
    DemoLocation(
        'iowa', 'Story County, Iowa, USA', -93.60, 42.00, 0.03, 0.05, 0.05, 400.0,
        soil=(0.050, 0.070, 0.090, 0.160),
        crops=(('summer-crop', 0.85), ('meadow', 0.15)),
        parcel_aspect=1.0, parcel_angle=0.0, turbidity=0.5,
    ),
    DemoLocation(
        'oulu', 'Oulu, Finland', 25.50, 65.00, 0.20, 0.50, 0.05, 250.0, snow=True,
        soil=(0.040, 0.050, 0.055, 0.120),
        crops=(('meadow', 0.7), ('winter-cereal', 0.3)),
        vegetation='conifer', turbidity=0.0,
    ),
    DemoLocation(
        'punjab', 'Ludhiana, Punjab, India', 75.80, 30.90, 0.02, 0.03, 0.08, 150.0,
        soil=(0.100, 0.130, 0.160, 0.220),
        crops=(('rice-wheat', 0.8), ('sugarcane', 0.1), ('fallow', 0.1)),
        parcel_aspect=3.0, turbidity=0.8,
    ),
    DemoLocation(
        'hokkaido', 'Tokachi, Hokkaido, Japan', 143.10, 42.90, 0.04, 0.30, 0.05, 300.0, snow=True,
        soil=(0.035, 0.045, 0.055, 0.110),
        crops=(('winter-cereal', 0.3), ('summer-crop', 0.4), ('meadow', 0.3)),
        vegetation='mixed', parcel_aspect=1.2, turbidity=0.2,
    ),
    DemoLocation(
        'pampa', 'Pergamino, Buenos Aires, Argentina', -60.50, -33.90, 0.04, 0.03, 0.03, 500.0,
        soil=(0.055, 0.075, 0.095, 0.170),
        crops=(('summer-crop', 0.6), ('winter-cereal', 0.3), ('meadow', 0.1)),
        parcel_aspect=1.0, parcel_angle=0.0, turbidity=1.0,
    ),
    DemoLocation(
        'canterbury', 'Canterbury Plains, New Zealand', 172.00, -43.60, 0.03, 0.08, 0.04, 350.0,
        soil=(0.085, 0.100, 0.115, 0.190),
        crops=(('pivot', 0.5), ('dryland', 0.5)),
        vegetation='conifer', parcel_aspect=1.2, turbidity=0.3,
    ),
    DemoLocation(
        'darlingdowns', 'Darling Downs, Queensland, Australia', 151.30, -27.50, 0.02, 0.12, 0.03, 450.0,
        soil=(0.045, 0.055, 0.065, 0.120),
        crops=(('summer-crop', 0.5), ('winter-cereal', 0.3), ('fallow', 0.2)),
        turbidity=0.8,
    ),
    DemoLocation(
        'nakuru', 'Nakuru, Kenya', 36.07, -0.30, 0.15, 0.20, 0.10, 120.0,
        soil=(0.060, 0.080, 0.130, 0.210),
        crops=(('two-rains', 0.7), ('meadow', 0.3)),
        vegetation='savanna', parcel_aspect=1.0, turbidity=0.6,
    ),
    DemoLocation(
        'taveuni', 'Taveuni, Fiji (near the antimeridian)', 179.80, -16.75, 0.25, 0.45, 0.04, 200.0,
        soil=(0.050, 0.060, 0.090, 0.170),
        crops=(('sugarcane', 0.6), ('meadow', 0.4)),
        vegetation='rainforest', parcel_aspect=1.0, turbidity=0.3,
    ),
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class _Acquisition:
    """One planned synthetic acquisition: its date, cloud cover and nodata share."""

    date: dt.date
    cloud_cover: float
    nodata_fraction: float


@dataclasses.dataclass(frozen=True)
class _Settings:
    """The settings that decide the bytes of every generated file."""

    size: int
    res: float
    seed: int
    year: int
    dates_per_location: int
    version: int = DEMO_GENERATOR_VERSION


def demo_filename(location: DemoLocation, date: dt.date) -> str:
    """File name of the demo GeoTIFF of *location* at *date*.

    Args:
        location: A demo location.
        date: Acquisition date.

    Returns:
        ``demo_<site>_<YYYYMMDD>.tif``.

    .. versionadded:: 0.1
    """
    return f'demo_{location.name}_{date:%Y%m%d}.tif'


def demo_dates(
    location: DemoLocation,
    dates_per_location: int = DEMO_DATES_PER_LOCATION,
    year: int = 2021,
) -> list[dt.date]:
    """Acquisition dates of *location*: evenly spread over *year*.

    Every site has its own fixed offset of up to three days, so that sites are not
    all acquired on the same days (as with real revisit cycles). The dates do not
    depend on the seed.

    Args:
        location: A demo location.
        dates_per_location: Number of dates, 1 to 52.
        year: Calendar year of the acquisitions.

    Returns:
        The dates in increasing order, all within *year*.

    Raises:
        ValueError: If *dates_per_location* or *year* is out of range.

    .. versionadded:: 0.1
    """
    if not 1 <= dates_per_location <= _MAX_DATES:
        msg = f'dates_per_location={dates_per_location} must be between 1 and {_MAX_DATES}'
        raise ValueError(msg)
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        msg = f'year={year} must be between {dt.MINYEAR} and {dt.MAXYEAR}'
        raise ValueError(msg)
    jitter = zlib.crc32(location.name.encode()) % 7 - 3
    first = dt.date(year, 1, 1)
    return [
        first + dt.timedelta(days=round((k + 0.5) * 365 / dates_per_location) + jitter)
        for k in range(dates_per_location)
    ]


def _seed_key(seed: int, location: DemoLocation) -> list[int]:
    """Entropy for the random generators of one location (independent of others)."""
    return [seed, zlib.crc32(location.name.encode())]


def _plan(location: DemoLocation, settings: _Settings) -> list[_Acquisition]:
    """Dates of *location* and which of them are cloudy or cut by a swath edge.

    Every location has at least one cloudy date and one date with nodata.
    """
    dates = demo_dates(location, settings.dates_per_location, settings.year)
    n = len(dates)
    rng = np.random.default_rng([*_seed_key(settings.seed, location), 1, n])
    cloudy = rng.random(n) < 0.25
    cloudy[rng.integers(n)] |= not cloudy.any()
    cover = np.where(cloudy, rng.uniform(0.1, 0.45, n), 0.0)
    cut = rng.random(n) < 0.2
    cut[rng.integers(n)] |= not cut.any()
    nodata = np.where(cut, rng.uniform(0.15, 0.5, n), 0.0)
    return [
        _Acquisition(date, round(float(c), 2), round(float(f), 2))
        for date, c, f in zip(dates, cover, nodata, strict=True)
    ]


def _smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> Array:
    """A periodic Gaussian random field with zero mean and unit variance.

    Args:
        rng: Random generator.
        size: Width and height in pixels.
        sigma: Correlation length (Gaussian standard deviation) in pixels.

    Returns:
        The field, shape [size, size].
    """
    noise = rng.standard_normal((size, size))
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    kernel = np.exp(-2 * (np.pi * sigma) ** 2 * (fx**2 + fy**2))
    field = np.fft.irfft2(np.fft.rfft2(noise) * kernel, s=(size, size))
    std = field.std()
    return (field - field.mean()) / (std if std > 0 else 1.0)


def _top(field: Array, share: float, within: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Pixels of *within* where *field* is among its highest *share* of the tile."""
    count = round(share * field.size)
    candidates = np.flatnonzero(within)
    if count <= 0 or candidates.size == 0:
        return np.zeros(field.shape, bool)
    order = candidates[np.argsort(-field.ravel()[candidates], kind='stable')]
    out = np.zeros(field.size, bool)
    out[order[:count]] = True
    return out.reshape(field.shape)


def _bell(doy: float, peak: Array, kappa: Array) -> Array:
    """Periodic bell curve over the year: 1 on the *peak* day, narrower for large kappa."""
    angle = 2 * np.pi * (doy - peak) / _DAYS_PER_YEAR
    return np.asarray(np.exp(kappa * (np.cos(angle) - 1)))


@dataclasses.dataclass(frozen=True)
class _Scene:
    """The static synthetic landscape of one location (the same on every date).

    Per-pixel crop parameters hold the calendar of the pixel's parcel (see
    :class:`_Crop`); ``flood`` is NaN outside paddies.
    """

    water: NDArray[np.bool_]
    forest: NDArray[np.bool_]
    urban: NDArray[np.bool_]
    road: NDArray[np.bool_]
    evergreen: NDArray[np.bool_]
    peak: Array
    kappa: Array
    base: Array
    green_max: Array
    second_peak: Array
    second_kappa: Array
    second_weight: Array
    flood: Array
    colour: Array
    soil: Array
    brightness: Array
    texture: Array
    snow_patch: Array


class _Parcels(NamedTuple):
    """The field parcels of a scene, per pixel.

    Attributes:
        row: Row index of the pixel's parcel in a table of ``_TABLE`` x ``_TABLE``.
        col: Column index of the pixel's parcel in that table.
        boundary: Whether the pixel lies on a parcel boundary.
        inside: Distance from the parcel's centre relative to the parcel's
            inscribed circle (a centre pivot covers the pixels below 1).
        u: Pixel coordinate along the rows.
        v: Pixel coordinate across the rows.
    """

    row: NDArray[np.int_]
    col: NDArray[np.int_]
    boundary: NDArray[np.bool_]
    inside: Array
    u: Array
    v: Array


def _parcels(
    rng: np.random.Generator, location: DemoLocation, n: int, res: float
) -> _Parcels:
    """Field parcels: rows of a rotated grid, each row cut at its own widths/offsets."""
    if location.parcel_angle is None:
        angle = rng.uniform(-np.pi / 6, np.pi / 6)
    else:
        angle = np.deg2rad(location.parcel_angle)
    y, x = np.mgrid[0:n, 0:n].astype(float)
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    parcel = location.parcel_size / res
    height = parcel / location.parcel_aspect * rng.uniform(0.8, 1.2)
    row = np.floor(v / height).astype(int) % _TABLE
    width = parcel * rng.uniform(0.7, 1.4, _TABLE)
    offset = rng.uniform(0, 1, _TABLE) * width
    along = (u + offset[row]) / width[row]
    col = np.floor(along).astype(int) % _TABLE
    boundary = (row != np.roll(row, 1, 0)) | (col != np.roll(col, 1, 1))
    across_px = (v / height - np.floor(v / height) - 0.5) * height
    along_px = (along - np.floor(along) - 0.5) * width[row]
    radius = 0.45 * np.minimum(width[row], height)
    inside = np.hypot(across_px, along_px) / radius
    return _Parcels(row, col, boundary, inside, u, v)


def _scene(location: DemoLocation, settings: _Settings) -> _Scene:
    """Draw the land cover, field parcels and per-pixel phenology of *location*."""
    rng = np.random.default_rng([*_seed_key(settings.seed, location), 0])
    n, res = settings.size, settings.res
    terrain = _smooth_noise(rng, n, 500 / res)
    woods = _smooth_noise(rng, n, 250 / res)
    town = _smooth_noise(rng, n, 150 / res)
    leaves = _smooth_noise(rng, n, 200 / res)
    snow_patch = _smooth_noise(rng, n, 300 / res)
    texture = _smooth_noise(rng, n, 1.0)

    water = _top(-terrain, location.water, np.ones((n, n), bool))
    forest = _top(woods, location.forest, ~water)
    urban = _top(town, location.urban, ~water & ~forest)
    evergreen = leaves > _EVERGREEN_ABOVE[location.vegetation]

    row, col, boundary, inside, u, v = _parcels(rng, location, n, res)
    names = [name for name, _ in location.crops]
    shares = np.array([share for _, share in location.crops])
    crops = [_CROPS[name] for name in names] + [_CROPS['meadow'], _CROPS['dryland']]
    kind = rng.choice(len(names), size=(_TABLE, _TABLE), p=shares / shares.sum())
    kind = kind[row, col]
    if 'pivot' in names:  # the corners of a pivot's square are dry land
        kind = np.where(
            (kind == names.index('pivot')) & (inside > 1), len(names) + 1, kind
        )
    kind = np.where(boundary, len(names), kind)  # grass strips between parcels

    def table(attribute: str) -> Array:
        values = [getattr(crop, attribute) for crop in crops]
        return np.array([np.nan if v is None else v for v in values], float)[kind]

    shift = _SOUTHERN_SHIFT if location.southern else 0.0
    jitter = rng.uniform(-12, 12, (_TABLE, _TABLE))[row, col]
    green_max = table('green_max') * rng.uniform(0.85, 1.0, (_TABLE, _TABLE))[row, col]
    soil = rng.uniform(0.85, 1.15, (_TABLE, _TABLE))[row, col]
    colour = np.stack([crop.colour[:, 0, 0] for crop in crops], axis=1)[:, kind]

    # Built-up blocks of varying brightness, and one or two roads.
    blocks = rng.uniform(0.6, 1.6, (_TABLE, _TABLE))
    brightness = blocks[
        (np.floor(u / 4) % _TABLE).astype(int), (np.floor(v / 4) % _TABLE).astype(int)
    ]
    y, x = np.mgrid[0:n, 0:n].astype(float)
    road = np.zeros((n, n), bool)
    for _ in range(int(rng.integers(1, 3))):
        theta = rng.uniform(0, np.pi)
        cx, cy = rng.uniform(0, n, 2)
        road |= np.abs((x - cx) * np.sin(theta) - (y - cy) * np.cos(theta)) < 0.8
    road &= ~water

    return _Scene(
        water=water,
        forest=forest,
        urban=urban,
        road=road,
        evergreen=evergreen,
        peak=table('peak') + shift + jitter,
        kappa=table('kappa'),
        base=table('base'),
        green_max=green_max,
        second_peak=table('second_peak') + shift + jitter,
        second_kappa=table('second_kappa'),
        second_weight=table('second_weight'),
        flood=table('flood') + shift + jitter,
        colour=colour,
        soil=np.asarray(location.soil)[:, None, None] * soil,
        brightness=brightness,
        texture=texture,
        snow_patch=snow_patch,
    )


def _growth(
    doy: float,
    peak: Array,
    kappa: Array,
    second_peak: Array,
    second_kappa: Array,
    second_weight: Array,
) -> Array:
    """Growth curve: the larger of a bell and a weighted second bell (0 to 1)."""
    first = _bell(doy, peak, kappa)
    return np.maximum(first, second_weight * _bell(doy, second_peak, second_kappa))


def _green_cover(scene: _Scene, doy: float) -> tuple[Array, Array]:
    """Green cover of the parcels on day *doy*, and the flooded share of paddies."""
    bell = _growth(
        doy,
        scene.peak,
        scene.kappa,
        scene.second_peak,
        scene.second_kappa,
        scene.second_weight,
    )
    green = scene.base + (scene.green_max - scene.base) * bell
    paddy = ~np.isnan(scene.flood)
    flood = np.zeros_like(green)
    flood[paddy] = (
        0.8 * _bell(doy, scene.flood[paddy], np.array(6.0)) * (1 - green[paddy])
    )
    return green, flood


def _canopy(scene: _Scene, location: DemoLocation, doy: float) -> Array:
    """Reflectance of the forest pixels' vegetation on day *doy*, [4, H, W]."""
    shift = _SOUTHERN_SHIFT if location.southern else 0.0
    if location.vegetation == 'rainforest':
        return np.broadcast_to(_RAINFOREST, (4, *scene.evergreen.shape))
    if location.vegetation == 'savanna':
        wet = _growth(
            doy,
            np.array(_RAINS.peak + shift),
            np.array(_RAINS.kappa),
            np.array(_RAINS.second_peak + shift),
            np.array(_RAINS.second_kappa),
            np.array(_RAINS.second_weight),
        )
        grass = wet * _GREEN + (1 - wet) * _DRY_GRASS
        return np.where(scene.evergreen, _CONIFER, grass)
    leaf = _bell(doy, np.array(190.0 + shift), np.array(1.5))
    return np.where(scene.evergreen, _CONIFER, leaf * _LEAF_ON + (1 - leaf) * _LEAF_OFF)


def _render(
    scene: _Scene,
    location: DemoLocation,
    acquisition: _Acquisition,
    settings: _Settings,
) -> NDArray[np.uint16]:
    """Reflectance of *scene* on the date of *acquisition*, as uint16 [4, H, W]."""
    date = acquisition.date
    rng = np.random.default_rng(
        [*_seed_key(settings.seed, location), 2, date.toordinal()]
    )
    n, res = settings.size, settings.res
    doy = float(date.timetuple().tm_yday)

    green, flood = _green_cover(scene, doy)
    water = (1 - location.turbidity) * _CLEAR_WATER + location.turbidity * _TURBID_WATER
    fields = green * scene.colour + flood * water + (1 - green - flood) * scene.soil
    town = 0.85 * _URBAN * scene.brightness + 0.15 * fields
    canopy = _canopy(scene, location, doy)
    refl = np.where(scene.forest, canopy * (1 + 0.08 * scene.texture), fields)
    refl = np.where(scene.urban, town, refl)
    refl = np.where(scene.road, _ROAD, refl)
    refl = np.where(scene.water, water * (1 + 0.03 * scene.texture), refl)

    if location.snow:
        depth = np.clip(
            (np.cos(2 * np.pi * (doy - 30) / _DAYS_PER_YEAR) - 0.2) / 0.5, 0, 1
        )
        patch = np.clip(0.5 + 0.25 * scene.snow_patch, 0, 1)
        cover = np.clip((depth - 0.35 * patch) / 0.3, 0, 1)
        cover = np.where(scene.forest, 0.3 * cover, cover)
        refl = (1 - cover) * refl + cover * _SNOW

    if acquisition.cloud_cover > 0:
        blob = _smooth_noise(rng, n, 350 / res)
        level = np.quantile(blob, 1 - acquisition.cloud_cover)
        alpha = np.clip((blob - level) / 0.4 + 0.5, 0, 1)
        offset = max(1, round(300 / res))
        shadow = np.roll(alpha, (offset, -offset), (0, 1)) * (1 - alpha)
        refl = refl * (1 - 0.55 * shadow)
        refl = (1 - alpha) * refl + alpha * _CLOUD * (0.8 + 0.2 * alpha)

    refl = refl + rng.normal(0, 0.0015, refl.shape)
    data = np.clip(np.rint(refl * DEMO_SCALE), 1, DEMO_SCALE).astype(np.uint16)

    if acquisition.nodata_fraction > 0:
        # A swath edge, inclined a few degrees from north: all pixels past it are 0.
        tilt = rng.uniform(-0.25, 0.25)
        side = 1.0 if rng.random() < 0.5 else -1.0
        y, x = np.mgrid[0:n, 0:n].astype(float)
        across = side * (x * np.cos(tilt) + y * np.sin(tilt))
        edge = np.quantile(across, 1 - acquisition.nodata_fraction)
        data[:, across > edge] = 0
    return data


def _origin(location: DemoLocation, settings: _Settings) -> tuple[float, float]:
    """Upper-left corner of the tile centred on *location*, snapped to the pixel grid."""
    to_utm = Transformer.from_crs(4326, location.epsg, always_xy=True)
    x, y = to_utm.transform(location.lon, location.lat)
    half = settings.size / 2
    res = settings.res
    return round(x / res - half) * res, round(y / res + half) * res


def _write(
    path: Path,
    data: NDArray[np.uint16],
    location: DemoLocation,
    acquisition: _Acquisition,
    settings: _Settings,
) -> None:
    """Write one acquisition as a deterministic, DEFLATE-compressed GeoTIFF.

    The file is written under a temporary name and then renamed, so an interrupted
    run never leaves a partial file that a later run would keep.
    """
    left, top = _origin(location, settings)
    profile: dict[str, Any] = {
        'driver': 'GTiff',
        'width': settings.size,
        'height': settings.size,
        'count': len(DEMO_BANDS),
        'dtype': 'uint16',
        'crs': f'EPSG:{location.epsg}',
        'transform': from_origin(left, top, settings.res, settings.res),
        'nodata': 0,
        'compress': 'deflate',
        'predictor': 2,
    }
    date = acquisition.date
    partial = path.with_name(path.name + '.part')
    with rasterio.open(partial, 'w', **profile) as dst:
        dst.write(data)
        dst.descriptions = DEMO_BANDS
        dst.update_tags(
            TIFFTAG_IMAGEDESCRIPTION=(
                f'SYNTHETIC demo scene for {location.region}; not an observation'
            ),
            TIFFTAG_SOFTWARE='torchgeo_geossl.datasets.demo',
            TIFFTAG_DATETIME=f'{date:%Y:%m:%d} 10:30:00',
            SYNTHETIC='yes',
            SITE=location.name,
            ACQUISITION_DATE=date.isoformat(),
            CLOUD_COVER=f'{acquisition.cloud_cover:.2f}',
            NODATA_FRACTION=f'{acquisition.nodata_fraction:.2f}',
            SCALE=str(DEMO_SCALE),
            SEED=str(settings.seed),
        )
    partial.replace(path)


def _location_entry(
    location: DemoLocation, settings: _Settings, plan: Sequence[_Acquisition]
) -> dict[str, Any]:
    """Manifest entry of one location."""
    left, top = _origin(location, settings)
    extent = settings.size * settings.res
    return {
        'name': location.name,
        'region': location.region,
        'lon': location.lon,
        'lat': location.lat,
        'epsg': location.epsg,
        'bounds': [left, top - extent, left + extent, top],
        'acquisitions': [
            {
                'file': demo_filename(location, a.date),
                'date': a.date.isoformat(),
                'cloud_cover': a.cloud_cover,
                'nodata_fraction': a.nodata_fraction,
            }
            for a in plan
        ],
    }


def _read_manifest(root: Path, settings: _Settings, overwrite: bool) -> dict[str, Any]:
    """Location entries of an existing manifest in *root* made with the same settings.

    Raises:
        ValueError: If *root* holds demo data made with other settings and not
            *overwrite*, or its manifest cannot be read.
    """
    path = root / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text())
        # manifests of version 1 did not record the version
        previous = _Settings(**{'version': 1, **manifest['settings']})
        entries = {entry['name']: entry for entry in manifest['locations']}
    except (ValueError, KeyError, TypeError) as err:
        if overwrite:
            return {}
        msg = f'cannot read the demo data manifest {path} ({err}); pass overwrite=True'
        raise ValueError(msg) from err
    if previous == settings:
        return entries
    if overwrite:
        return {}
    if previous.version != settings.version:
        msg = (
            f'{root} holds demo data of version {previous.version} of the demo '
            f'generator, which draws other landscapes than this version '
            f'({settings.version}); delete the folder (or pass overwrite=True) to '
            'regenerate it, or choose another root'
        )
        raise ValueError(msg)
    msg = (
        f'{root} holds demo data generated with {dataclasses.asdict(previous)}, not '
        f'{dataclasses.asdict(settings)}; pass overwrite=True or choose another root'
    )
    raise ValueError(msg)


def _readme(settings: _Settings, entries: Sequence[dict[str, Any]]) -> str:
    """Text of the README written next to the demo GeoTIFFs."""
    lines = [
        'SYNTHETIC DEMO DATA - NOT REAL OBSERVATIONS',
        '',
        'Written by torchgeo_geossl.datasets.demo.generate_demo_data (command',
        '`geossl-demo-data`). The scenes are drawn from random fields with simple',
        'land-cover spectra and seasonal curves; only the coordinates are real.',
        '',
        (
            f'{settings.size} x {settings.size} px at {settings.res:g} m, bands '
            f'{", ".join(DEMO_BANDS)}, uint16 reflectance x {DEMO_SCALE}, nodata 0,'
        ),
        (
            f'seed {settings.seed}, {settings.dates_per_location} dates per location '
            f'in {settings.year}. Each file is in the UTM zone of its location.'
        ),
        '',
        'name          lon       lat       EPSG   dates',
    ]
    for entry in entries:
        dates = ' '.join(a['date'][5:] for a in entry['acquisitions'])
        lines.append(
            f'{entry["name"]:<13} {entry["lon"]:>8.3f} {entry["lat"]:>8.3f}  '
            f'{entry["epsg"]}  {dates}'
        )
    lines += ['', f'Per-file cloud cover and nodata share: {MANIFEST_NAME}.', '']
    return '\n'.join(lines)


def generate_demo_data(
    root: str | os.PathLike[str],
    *,
    size: int = 256,
    res: float = 10.0,
    seed: int = 0,
    locations: Iterable[DemoLocation] = DEMO_LOCATIONS,
    dates_per_location: int = DEMO_DATES_PER_LOCATION,
    year: int = 2021,
    overwrite: bool = False,
) -> list[Path]:
    """Write the SYNTHETIC demo time series: one 4-band GeoTIFF per location and date.

    Every file ``demo_<site>_<YYYYMMDD>.tif`` is a *size* x *size* tile at *res*
    metres centred on its location, in the location's UTM zone (EPSG 326xx/327xx),
    with bands blue, green, red and NIR as uint16 reflectance times 10,000 and
    nodata 0. The landscape (cropland parcels, forest, water, built-up land and
    roads) is the same on every date of a location; vegetation follows seasonal
    curves with the phase of its hemisphere, snow-marked sites are white in winter,
    some dates have clouds (with shadows) and some lose a swath edge to nodata.

    The output is deterministic: the same arguments give byte-identical files,
    and each location's data does not depend on which other locations are asked
    for. A ``README.txt`` and a JSON manifest (:data:`MANIFEST_NAME`) beside the
    files say that the data is synthetic and list locations, CRSs, dates, cloud
    cover and nodata shares.

    Args:
        root: Directory to write to (created if missing).
        size: Width and height of each tile in pixels (at least 8).
        res: Pixel size in metres.
        seed: Seed of all random draws.
        locations: Places to generate (names must be unique).
        dates_per_location: Number of acquisition dates per location (1 to 52).
        year: Calendar year of the acquisitions.
        overwrite: Rewrite files that already exist, and replace a manifest made
            with other settings; otherwise existing files are kept.

    Returns:
        Paths of all files of the requested collection (written or already there),
        ordered by location, then date.

    Raises:
        ValueError: If a setting is invalid, a location name is repeated, or *root*
            holds demo data generated with other settings (and not *overwrite*).
        OSError: If *root* cannot be created or written to.

    .. versionadded:: 0.1
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < _MIN_SIZE:
        msg = f'size={size!r} must be an integer of at least {_MIN_SIZE} pixels'
        raise ValueError(msg)
    if not (isinstance(res, int | float) and math.isfinite(res) and res > 0):
        msg = f'res={res!r} must be a positive number of metres'
        raise ValueError(msg)
    locations = tuple(locations)
    names = [location.name for location in locations]
    if not locations or len(set(names)) != len(names):
        msg = f'locations must be a non-empty collection with unique names, got {names}'
        raise ValueError(msg)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        msg = f'seed={seed!r} must be a non-negative integer'
        raise ValueError(msg)
    settings = _Settings(size, float(res), seed, year, dates_per_location)
    plans = [_plan(location, settings) for location in locations]

    root = Path(root)
    if root.exists() and not root.is_dir():
        msg = f'demo data root {root} exists and is not a directory'
        raise NotADirectoryError(msg)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        msg = f'cannot create demo data root {root}: {err.strerror or err}'
        raise OSError(msg) from err
    entries = _read_manifest(root, settings, overwrite)

    paths = []
    for location, plan in zip(locations, plans, strict=True):
        scene = None
        for acquisition in plan:
            path = root / demo_filename(location, acquisition.date)
            paths.append(path)
            if path.exists() and not overwrite:
                continue
            scene = scene or _scene(location, settings)
            data = _render(scene, location, acquisition, settings)
            try:
                _write(path, data, location, acquisition, settings)
            except OSError as err:  # RasterioIOError is an OSError
                msg = f'cannot write demo file {path}: {err}'
                raise OSError(msg) from err
        entries[location.name] = _location_entry(location, settings, plan)

    ordered = [entries[name] for name in sorted(entries)]
    manifest = {
        'description': 'SYNTHETIC demo data, not real observations',
        'synthetic': True,
        'generator': 'torchgeo_geossl.datasets.demo.generate_demo_data',
        'settings': dataclasses.asdict(settings),
        'bands': list(DEMO_BANDS),
        'scale': DEMO_SCALE,
        'nodata': 0,
        'locations': ordered,
    }
    (root / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + '\n')
    (root / 'README.txt').write_text(_readme(settings, ordered))
    return paths


class DemoTimeSeries(RasterDataset):
    """The SYNTHETIC demo time series written by :func:`generate_demo_data`.

    Indexes ``demo_<site>_<YYYYMMDD>.tif`` files: four bands (blue, green, red,
    NIR), uint16 reflectance times 10,000, nodata 0, one file per site and date.
    The data is synthetic; it exists to try the pipelines of this package without a
    download. Real imagery (TorchGeo's ``Sentinel2``, ``Landsat8`` or any dated
    ``RasterDataset``) goes through exactly the same samplers and data modules.

    .. versionadded:: 0.1
    """

    filename_glob = 'demo_*.tif'
    filename_regex = _FILE_RE
    date_format = '%Y%m%d'
    all_bands = DEMO_BANDS
    rgb_bands = ('red', 'green', 'blue')
    nodata = 0

    #: Default CRS of the index: Equal Earth, a global equal-area CRS in metres.
    default_crs = CRS.from_epsg(8857)

    #: Default resolution in metres.
    default_res = 10.0

    def __init__(
        self,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] = 'data/demo',
        crs: CRS | str | None = None,
        res: float | tuple[float, float] | None = None,
        bands: Sequence[str] | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
        cache: bool = True,
        time_series: bool = False,
    ) -> None:
        """Initialize a new DemoTimeSeries instance.

        TorchGeo indexes all files of a dataset in one CRS, by default the first
        file's. The demo sites lie in ten UTM zones on both hemispheres, and warping
        a tile from Fiji (UTM 60S) into a European UTM zone thousands of kilometres
        outside its domain gives meaningless geometry. So the index defaults to
        Equal Earth (EPSG:8857): global, in metres and equal-area, so a 10 m pixel
        covers 100 m² everywhere. It preserves areas, not shapes: far from its
        central meridian and from the equator, tiles come out stretched and
        rotated (about 0.7 x 1.5 at Oulu, 65°N; rotated by about 40 degrees at
        Canterbury, 172°E), which is acceptable for a demo. For data from a single
        UTM zone, pass that zone as *crs*.

        Args:
            paths: One or more directories to search or files to load.
            crs: CRS to index and warp to (defaults to EPSG:8857, Equal Earth).
            res: Resolution in units of *crs* (defaults to 10, metres); required
                when *crs* is not in metres.
            bands: Bands to return (defaults to all four).
            transforms: A function/transform that takes an input sample and returns
                a transformed version.
            cache: If True, cache file handles to speed up repeated sampling.
            time_series: If True, stack the files of a query along a time dimension
                (``[T, C, H, W]``); otherwise merge them into a mosaic.

        Raises:
            ValueError: If *crs* is not in metres and no *res* is given.
            DatasetNotFoundError: If no demo files are found.
        """
        crs = self.default_crs if crs is None else CRS.from_user_input(crs)
        if res is None:
            unit = crs.axis_info[0].unit_name if crs.axis_info else 'unknown'
            if unit not in ('metre', 'meter'):
                msg = (
                    f'crs {crs.to_string()} has axis unit {unit!r}, not metres; '
                    'pass res in its units'
                )
                raise ValueError(msg)
            res = self.default_res
        super().__init__(paths, crs, res, bands, transforms, cache, time_series)

    def footprint_from_datasource(
        self, datasource: DatasetReader | WarpedVRT
    ) -> Polygon | None:
        """Outline of a tile's pixels in the index CRS, not its bounding box.

        A UTM tile warped to Equal Earth is a rotated, sheared quadrilateral; its
        bounding box (TorchGeo's default footprint) would claim nodata corners as
        data, and patches drawn there would be partly empty. The outline is the
        tile's edges, densified and reprojected, shrunk by one pixel so that
        resampling at the border never reads outside the tile.

        Args:
            datasource: An open raster, warped to the index CRS when it differs.

        Returns:
            The tile outline for a warped tile, or None (the bounding box, which is
            then exact) for a tile already in the index CRS.
        """
        if not isinstance(datasource, WarpedVRT):
            return None
        src = datasource.src_dataset
        if src.crs == datasource.crs:
            return None
        edge = max(
            src.bounds.right - src.bounds.left, src.bounds.top - src.bounds.bottom
        )
        outline = shapely.segmentize(shapely.box(*src.bounds), edge / 32)
        warped = shapely.geometry.shape(
            transform_geom(src.crs, datasource.crs, shapely.geometry.mapping(outline))
        )
        shrunk = warped.buffer(-max(datasource.res), join_style='mitre')
        return shrunk if isinstance(shrunk, Polygon) and not shrunk.is_empty else None

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Plot a sample: RGB, percentile-stretched, one panel per view or time step.

        Each panel is stretched on its own, from the 2nd to the 98th percentile of
        its valid RGB values (pooled over the three bands, which keeps the hues), so
        a cloudy view does not darken the others. Nodata pixels are black.

        Args:
            sample: A sample with ``image`` of shape ``[C, H, W]`` (one panel) or
                ``[V, C, H, W]`` (one panel per view); an optional ``time`` of V
                POSIX seconds titles the panels with dates.
            show_titles: Flag indicating whether to show titles above each panel.
            suptitle: Optional string to use as a suptitle.

        Returns:
            A matplotlib Figure with the rendered sample.

        Raises:
            RGBBandsMissingError: If the dataset's bands lack red, green or blue.
            ValueError: If the image shape does not match the dataset's bands.
        """
        if not set(self.rgb_bands) <= set(self.bands):
            raise RGBBandsMissingError()
        rgb = [list(self.bands).index(band) for band in self.rgb_bands]
        image = sample['image']
        if image.ndim not in (3, 4) or image.shape[-3] != len(self.bands):
            msg = (
                f'image of shape {tuple(image.shape)} is neither [C, H, W] '
                f'nor [V, C, H, W] with C={len(self.bands)} bands {tuple(self.bands)}'
            )
            raise ValueError(msg)
        return plot_sample_views(sample, rgb, self.nodata, show_titles, suptitle)


def _positive_int(text: str) -> int:
    """Argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        msg = f'{text!r} is not an integer'
        raise argparse.ArgumentTypeError(msg) from None
    if value < 1:
        msg = f'{value} is not positive'
        raise argparse.ArgumentTypeError(msg)
    return value


def _positive_float(text: str) -> float:
    """Argparse type: a finite number greater than 0."""
    try:
        value = float(text)
    except ValueError:
        msg = f'{text!r} is not a number'
        raise argparse.ArgumentTypeError(msg) from None
    if not (math.isfinite(value) and value > 0):
        msg = f'{text} is not a positive number'
        raise argparse.ArgumentTypeError(msg)
    return value


def main(argv: Sequence[str] | None = None) -> None:
    """Command ``geossl-demo-data ROOT``: write the SYNTHETIC demo time series.

    Args:
        argv: Command-line arguments (defaults to ``sys.argv[1:]``).

    .. versionadded:: 0.1
    """
    parser = argparse.ArgumentParser(
        prog='geossl-demo-data',
        description=(
            'Write SYNTHETIC dated 4-band GeoTIFFs (blue, green, red, NIR) for '
            f'{len(DEMO_LOCATIONS)} places around the world, to try the '
            'torchgeo-geossl pipelines without downloading real imagery.'
        ),
    )
    parser.add_argument('root', type=Path, metavar='ROOT', help='output directory')
    parser.add_argument(
        '--size',
        type=_positive_int,
        default=256,
        help='tile size in pixels (default 256)',
    )
    parser.add_argument(
        '--res',
        type=_positive_float,
        default=10.0,
        help='pixel size in metres (default 10)',
    )
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument(
        '--dates',
        type=_positive_int,
        default=DEMO_DATES_PER_LOCATION,
        help=f'dates per location (default {DEMO_DATES_PER_LOCATION})',
    )
    parser.add_argument('--year', type=int, default=2021, help='year (default 2021)')
    parser.add_argument(
        '--overwrite', action='store_true', help='rewrite files that already exist'
    )
    args = parser.parse_args(argv)

    root: Path = args.root
    before = set(root.glob('demo_*.tif')) if root.is_dir() else set()
    try:
        paths = generate_demo_data(
            root,
            size=args.size,
            res=args.res,
            seed=args.seed,
            dates_per_location=args.dates,
            year=args.year,
            overwrite=args.overwrite,
        )
    except (OSError, ValueError) as err:
        parser.error(str(err))

    kept = 0 if args.overwrite else sum(path in before for path in paths)
    print(
        f'Wrote {len(paths) - kept} SYNTHETIC GeoTIFFs to {root} '
        f'({kept} already there, kept): {len(DEMO_LOCATIONS)} locations x '
        f'{args.dates} dates in {args.year}, {args.size} x {args.size} px at '
        f'{args.res:g} m, seed {args.seed}.'
    )
    for location in DEMO_LOCATIONS:
        dates = ' '.join(
            f'{d:%m-%d}' for d in demo_dates(location, args.dates, args.year)
        )
        print(
            f'  {location.name:<13} {location.lon:>8.2f} {location.lat:>7.2f}  '
            f'EPSG:{location.epsg}  {dates}'
        )
    print(f'Locations, dates, cloud cover and nodata shares: {root / MANIFEST_NAME}')

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
from typing import Any

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

# Reflectance spectra (blue, green, red, NIR) of the scene components, shape [4, 1, 1].
_CROP = np.array([0.030, 0.075, 0.035, 0.420])[:, None, None]
_SOIL = np.array([0.075, 0.105, 0.140, 0.215])[:, None, None]
_CONIFER = np.array([0.020, 0.040, 0.022, 0.260])[:, None, None]
_LEAF_ON = np.array([0.025, 0.055, 0.030, 0.360])[:, None, None]
_LEAF_OFF = np.array([0.045, 0.060, 0.065, 0.170])[:, None, None]
_WATER = np.array([0.055, 0.050, 0.030, 0.012])[:, None, None]
_URBAN = np.array([0.110, 0.120, 0.135, 0.170])[:, None, None]
_ROAD = np.array([0.090, 0.100, 0.110, 0.140])[:, None, None]
_SNOW = np.array([0.900, 0.880, 0.850, 0.720])[:, None, None]
_CLOUD = np.array([0.620, 0.610, 0.600, 0.580])[:, None, None]

# Crop types of the field parcels: day of year of the green peak in the northern
# hemisphere, peak width (von Mises concentration), base and maximum green cover,
# and share of parcels. Winter cereal, summer crop, meadow, fallow.
_CROP_PEAK = np.array([135.0, 210.0, 150.0, 180.0])
_CROP_KAPPA = np.array([2.5, 3.0, 0.8, 1.0])
_CROP_BASE = np.array([0.15, 0.0, 0.25, 0.05])
_CROP_MAX = np.array([0.9, 0.95, 0.8, 0.3])
_CROP_SHARE = np.array([0.35, 0.35, 0.2, 0.1])
_MEADOW = 2


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

    Raises:
        ValueError: If the name, the coordinates or the shares are invalid.

    .. versionadded:: 0.1
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
#: Northern sites green up around July, southern ones around January; Oulu and
#: Hokkaido are snow-covered in winter; the near-equatorial sites change little.
DEMO_LOCATIONS: tuple[DemoLocation, ...] = (
    # name, region, lon, lat, water, forest, urban, parcel_size (m)
    DemoLocation('beauce', 'Beauce, France', 1.60, 48.30, 0.02, 0.10, 0.06, 400.0),
    DemoLocation('iowa', 'Story County, Iowa, USA', -93.60, 42.00, 0.03, 0.05, 0.05, 400.0),
    DemoLocation('oulu', 'Oulu, Finland', 25.50, 65.00, 0.20, 0.50, 0.05, 250.0, snow=True),
    DemoLocation('punjab', 'Ludhiana, Punjab, India', 75.80, 30.90, 0.02, 0.03, 0.08, 150.0),
    DemoLocation('hokkaido', 'Tokachi, Hokkaido, Japan', 143.10, 42.90, 0.04, 0.30, 0.05, 300.0, snow=True),
    DemoLocation('pampa', 'Pergamino, Buenos Aires, Argentina', -60.50, -33.90, 0.04, 0.03, 0.03, 500.0),
    DemoLocation('canterbury', 'Canterbury Plains, New Zealand', 172.00, -43.60, 0.03, 0.08, 0.04, 350.0),
    DemoLocation('darlingdowns', 'Darling Downs, Queensland, Australia', 151.30, -27.50, 0.02, 0.12, 0.03, 450.0),
    DemoLocation('nakuru', 'Nakuru, Kenya', 36.07, -0.30, 0.15, 0.20, 0.10, 120.0),
    DemoLocation('taveuni', 'Taveuni, Fiji (near the antimeridian)', 179.80, -16.75, 0.25, 0.45, 0.04, 200.0),
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
    """The static synthetic landscape of one location (the same on every date)."""

    water: NDArray[np.bool_]
    forest: NDArray[np.bool_]
    urban: NDArray[np.bool_]
    road: NDArray[np.bool_]
    evergreen: NDArray[np.bool_]
    peak: Array
    kappa: Array
    base: Array
    green_max: Array
    soil: Array
    brightness: Array
    texture: Array
    snow_patch: Array
    seasonality: float


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
    evergreen = leaves > (-0.5 if location.snow else 0.4)

    # Field parcels: rows of a rotated grid, each row cut at its own widths/offsets.
    angle = rng.uniform(-np.pi / 6, np.pi / 6)
    y, x = np.mgrid[0:n, 0:n].astype(float)
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    parcel = location.parcel_size / res
    row = np.floor(v / (parcel * rng.uniform(0.4, 0.7))).astype(int) % _TABLE
    width = parcel * rng.uniform(0.6, 1.6, _TABLE)
    offset = rng.uniform(0, 1, _TABLE) * width
    col = np.floor((u + offset[row]) / width[row]).astype(int) % _TABLE
    crop = rng.choice(len(_CROP_SHARE), size=(_TABLE, _TABLE), p=_CROP_SHARE)[row, col]
    boundary = (row != np.roll(row, 1, 0)) | (col != np.roll(col, 1, 1))
    crop = np.where(boundary, _MEADOW, crop)
    shift = _SOUTHERN_SHIFT if location.southern else 0.0
    peak = _CROP_PEAK[crop] + shift + rng.uniform(-12, 12, (_TABLE, _TABLE))[row, col]
    green_max = _CROP_MAX[crop] * rng.uniform(0.85, 1.0, (_TABLE, _TABLE))[row, col]
    soil = rng.uniform(0.8, 1.2, (_TABLE, _TABLE))[row, col]

    # Built-up blocks of varying brightness, and one or two roads.
    blocks = rng.uniform(0.6, 1.6, (_TABLE, _TABLE))
    brightness = blocks[
        (np.floor(u / 4) % _TABLE).astype(int), (np.floor(v / 4) % _TABLE).astype(int)
    ]
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
        peak=peak,
        kappa=_CROP_KAPPA[crop],
        base=_CROP_BASE[crop],
        green_max=green_max,
        soil=soil,
        brightness=brightness,
        texture=texture,
        snow_patch=snow_patch,
        seasonality=float(np.clip(abs(location.lat) / 25, 0.25, 1.0)),
    )


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
    season = scene.seasonality
    shift = _SOUTHERN_SHIFT if location.southern else 0.0

    # Green cover of parcels and meadows, leaf-on share of broadleaf trees.
    bell = _bell(doy, scene.peak, scene.kappa)
    green = scene.base + (scene.green_max - scene.base) * (
        season * bell + (1 - season) * 0.6
    )
    leaf = _bell(doy, np.array(190.0 + shift), np.array(1.5))
    leaf = season * leaf + (1 - season) * 0.8

    fields = green * _CROP + (1 - green) * _SOIL * scene.soil
    canopy = np.where(
        scene.evergreen, _CONIFER, leaf * _LEAF_ON + (1 - leaf) * _LEAF_OFF
    )
    town = 0.85 * _URBAN * scene.brightness + 0.15 * fields
    refl = np.where(scene.forest, canopy * (1 + 0.08 * scene.texture), fields)
    refl = np.where(scene.urban, town, refl)
    refl = np.where(scene.road, _ROAD, refl)
    refl = np.where(scene.water, _WATER * (1 + 0.03 * scene.texture), refl)

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
        previous = _Settings(**manifest['settings'])
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

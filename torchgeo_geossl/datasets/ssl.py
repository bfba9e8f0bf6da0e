"""Seasons as views: TorchGeo's non-geo SSL datasets in the batch contract.

TorchGeo's :class:`~torchgeo.datasets.SeasonalContrastS2` (SeCo) and
:class:`~torchgeo.datasets.SSL4EOS12` hold, per location, several Sentinel
acquisitions ("seasons") in one directory each. TorchGeo returns them stacked on the
channel axis (``[S·C, H, W]``), drawn with Python's global :mod:`random` module, with
no time or location (SeCo) or with float32 times and coordinates and no CRS
(SSL4EO-S12). The adapters here subclass those classes, keep their file discovery,
band reading, checks and download logic, and return samples in the package's batch
contract:

* ``image``: ``[V, C, H, W]`` float32, one view per season;
* ``time``: ``[V]`` float64 seconds since the Unix epoch (UTC) of each view's
  acquisition, parsed from its season directory name;
* ``point``: ``[2]`` float64 ``(lon, lat)`` degrees WGS84 of the centre of the
  patch, from the georeference (bounds and CRS) of its band files.

Seasons are drawn without replacement, so the V views of a sample are distinct
acquisitions; directories of one location with the same acquisition time count as
one season.
"""

import abc
import os
import random
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple, TypeVar, cast

import numpy as np
import numpy.typing as npt
import rasterio
import torch
from matplotlib.figure import Figure
from rasterio.errors import RasterioIOError
from torch import Tensor
from torch.utils.data import get_worker_info
from torchgeo.datasets import SSL4EOS12, SeasonalContrastS2, Sentinel1, Sentinel2
from torchgeo.datasets.errors import DatasetNotFoundError
from torchgeo.datasets.utils import Path, Sample, disambiguate_timestamp

from ..location.coordinates import to_lonlat
from .views import _rgb_indices, plot_sample_views, timestamp_seconds

_T = TypeVar('_T')

#: Entries of a directory listed in error messages.
_LISTED = 8


class DatasetLayoutError(DatasetNotFoundError):
    """The files of a dataset are missing or not laid out as expected.

    A :class:`~torchgeo.datasets.DatasetNotFoundError` (so a
    :class:`FileNotFoundError`) whose message says which directory or files were
    expected and what was found instead.

    .. versionadded:: 0.1
    """

    def __init__(self, message: str) -> None:
        """Initialize a new DatasetLayoutError instance.

        Args:
            message: What was expected and what was found.
        """
        FileNotFoundError.__init__(self, message)


class _Season(NamedTuple):
    """One acquisition of a location: its directory name and time."""

    #: Name of the season directory.
    name: str
    #: Acquisition time in seconds since the Unix epoch (UTC).
    time: float


class _SeasonDraws:
    """Draws of distinct seasons, from the global :mod:`random` module or a seed.

    With ``seed=None`` draws use :func:`random.sample`, exactly as TorchGeo does, so
    they follow ``random.seed``/``lightning.seed_everything`` (PyTorch seeds
    :mod:`random` in every DataLoader worker). With a seed, each process draws from
    its own :class:`random.Random` seeded with ``(seed, worker id)``, so draws are
    reproducible given the seed and the order in which indices are read, and
    DataLoader workers do not repeat each other's draws.
    """

    def __init__(self, seed: int | None) -> None:
        """Initialize a new _SeasonDraws instance.

        Args:
            seed: Seed, or None for the global :mod:`random` module.
        """
        self.seed = seed
        self._rng: random.Random | None = None
        self._worker = -1

    def sample(self, population: Sequence[_T], k: int) -> list[_T]:
        """Draw *k* distinct elements of *population* in random order.

        Args:
            population: Elements to draw from.
            k: Number of elements, at most ``len(population)``.

        Returns:
            The drawn elements.
        """
        if self.seed is None:
            return random.sample(population, k)
        info = get_worker_info()
        worker = -1 if info is None else info.id
        if self._rng is None or worker != self._worker:
            state = np.random.SeedSequence([self.seed, worker + 1]).generate_state(1)
            self._rng = random.Random(int(state[0]))
            self._worker = worker
        return self._rng.sample(population, k)


def _found(path: Path) -> str:
    """Describe what is at *path*, for error messages.

    Args:
        path: A directory.

    Returns:
        A phrase saying that it does not exist, is not a directory, is empty, or
        listing its first entries.
    """
    if not os.path.exists(path):
        return f'{os.fspath(path)!r} does not exist'
    if not os.path.isdir(path):
        return f'{os.fspath(path)!r} is not a directory'
    names = sorted(os.listdir(path))
    if not names:
        return f'{os.fspath(path)!r} is empty'
    more = f' and {len(names) - _LISTED} more' if len(names) > _LISTED else ''
    return f'{os.fspath(path)!r} contains {names[:_LISTED]}{more}'


def _numbered(path: Path, digits: int) -> list[str]:
    """Subdirectories of *path* named by a zero-padded index.

    Args:
        path: A directory.
        digits: Number of digits of the names.

    Returns:
        The sorted names, empty if *path* is not a directory.
    """
    if not os.path.isdir(path):
        return []
    pattern = re.compile(rf'^\d{{{digits}}}$')
    with os.scandir(path) as entries:
        return sorted(e.name for e in entries if e.is_dir() and pattern.match(e.name))


def _season_time(
    location: str, name: str, regex: re.Pattern[str], date_format: str, example: str
) -> float:
    """Acquisition time of a season directory, parsed from its name.

    Args:
        location: Path of the location directory.
        name: Name of the season directory.
        regex: Pattern of season names, with a ``date`` group.
        date_format: :func:`~datetime.datetime.strptime` format of the ``date``.
        example: A valid season name, quoted in error messages.

    Returns:
        Seconds since the Unix epoch (the name's time is UTC).

    Raises:
        ValueError: If the name does not match *regex* or its date is invalid.
    """
    path = os.path.join(location, name)
    match = regex.match(name)
    if match is None:
        msg = (
            f'Season directory {path!r} is not named like an acquisition: expected a '
            f'name matching {regex.pattern!r}, such as {example!r}'
        )
        raise ValueError(msg)
    date = match.group('date')
    try:
        start, _ = disambiguate_timestamp(date, date_format)
    except ValueError as err:
        msg = (
            f'Season directory {path!r}: {date!r} is not a valid acquisition time '
            f'in the format {date_format!r} ({err})'
        )
        raise ValueError(msg) from err
    return timestamp_seconds(start)


def _list_seasons(
    location: str, regex: re.Pattern[str], date_format: str, example: str
) -> list[_Season]:
    """Distinct acquisitions of one location, earliest first.

    Hidden directories (names starting with ``.``) and files are ignored; of several
    directories with the same acquisition time, the first by name is kept.

    Args:
        location: Path of the location directory.
        regex: Pattern of season names, with a ``date`` group.
        date_format: :func:`~datetime.datetime.strptime` format of the ``date``.
        example: A valid season name, quoted in error messages.

    Returns:
        The seasons, sorted by time.
    """
    with os.scandir(location) as entries:
        names = sorted(
            e.name for e in entries if e.is_dir() and not e.name.startswith('.')
        )
    seasons: dict[float, _Season] = {}
    for name in names:
        time = _season_time(location, name, regex, date_format, example)
        seasons.setdefault(time, _Season(name, time))
    return sorted(seasons.values(), key=lambda season: season.time)


def _patch_center(path: str) -> tuple[float, float]:
    """Longitude/latitude of the centre of a georeferenced raster file.

    Args:
        path: A raster file with a CRS.

    Returns:
        ``(lon, lat)`` degrees WGS84, computed in float64 from the file's bounds.

    Raises:
        DatasetLayoutError: If the file cannot be opened.
        ValueError: If the file has no CRS.
    """
    try:
        with rasterio.open(path) as f:
            bounds, crs = f.bounds, f.crs
    except RasterioIOError as err:
        msg = f'Cannot read the georeference of {path!r}: {err}'
        raise DatasetLayoutError(msg) from err
    if crs is None:
        msg = f'{path!r} has no CRS: cannot compute the (lon, lat) of its patch'
        raise ValueError(msg)
    x = (bounds.left + bounds.right) / 2
    y = (bounds.bottom + bounds.top) / 2
    lon, lat = to_lonlat(x, y, crs)[0]
    return float(lon), float(lat)


def _check_count(name: str, value: object, low: int, high: int | None) -> int:
    """Check that *value* is an int in ``[low, high]``.

    Args:
        name: Parameter name for the error message.
        value: The value.
        low: Smallest allowed value.
        high: Largest allowed value, or None for no bound.

    Returns:
        The value.

    Raises:
        ValueError: If it is not an int in range.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        allowed = f'{low}..{high}' if high is not None else f'>= {low}'
        msg = f'{name} must be an int in {allowed}, got {value!r}'
        raise ValueError(msg)
    return value


class _SeasonViews(abc.ABC):
    """Location index, season draws and sample assembly shared by the adapters."""

    #: Location index (the number naming its directory) of each dataset index.
    locations: npt.NDArray[np.int64]
    #: Locations skipped for having too few distinct seasons: name → count.
    skipped_locations: dict[str, int]
    #: Directory holding the location directories.
    directory: str
    #: Seed of the season draws (None: global :mod:`random`).
    seed: int | None

    #: Transform applied to each sample.
    transforms: Callable[[Sample], Sample] | None

    _digits: int
    _regex: re.Pattern[str]
    _date_format: str
    _example: str
    _draws: _SeasonDraws
    _points: dict[int, tuple[float, float]]

    def __getitem__(self, index: int) -> Sample:
        """Return V distinct seasons of one location.

        Args:
            index: Index of the location, in ``[0, len(self))``.

        Returns:
            ``image [V, C, H, W]`` float32, ``time [V]`` and ``point [2]`` float64.

        Raises:
            IndexError: If *index* is out of range.
            DatasetLayoutError: If a band file of a drawn season cannot be read.
        """
        # seasons and bands are attributes of the TorchGeo dataset this is mixed into
        this = cast(Any, self)
        sample = self._sample(index, this.seasons, self._read_season, this.bands[0])
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def __len__(self) -> int:
        """Return the number of usable locations.

        Returns:
            Number of locations on disk with enough distinct seasons.
        """
        return len(self.locations)

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Plot the views (seasons) of a sample side by side, titled with their dates.

        Red, green and blue are the dataset's ``rgb_bands`` (one grey band for
        Sentinel-1); each view is stretched on its own from the 2nd to the 98th
        percentile of its values (:func:`~torchgeo_geossl.datasets.plot_sample_views`).

        Args:
            sample: A sample returned by :meth:`__getitem__` (``image`` of shape
                ``[V, C, H, W]``, ``time`` of V seconds), or one sample of a batch.
            show_titles: Flag indicating whether to show the date above each view.
            suptitle: Optional string to use as a suptitle.

        Returns:
            A matplotlib Figure with one panel per view.

        .. versionchanged:: 0.2
           One panel per view titled with its date, percentile-stretched, instead
           of TorchGeo's ``plot`` of the channel-stacked sample.
        """
        rgb = _rgb_indices(self, int(sample['image'].shape[-3]))
        return plot_sample_views(sample, rgb, None, show_titles, suptitle)

    @abc.abstractmethod
    def _read_season(self, location: str, season: str) -> Tensor:
        """Read one season of a location.

        Args:
            location: Path of the location directory.
            season: Name of the season directory.

        Returns:
            The image ``[C, H, W]`` as float32.
        """

    def location_point(self, index: int) -> tuple[float, float]:
        """The (lon, lat) of a location, from the georeference of its first season.

        Args:
            index: Dataset index (position in :attr:`locations`).

        Returns:
            ``(lon, lat)`` in degrees, read once per location and cached.

        .. versionadded:: 0.2
        """
        this = cast(Any, self)
        location = int(self.locations[index])
        if location not in self._points:
            root = os.path.join(self.directory, f'{location:0{self._digits}}')
            first = self._seasons(root)[0].name
            path = os.path.join(root, first, f'{this.bands[0]}.tif')
            self._points[location] = _patch_center(path)
        return self._points[location]

    def fixed_sample(self, index: int, views: int, seed: int) -> Sample:
        """*views* distinct seasons of a location, the same at every call.

        The seasons are drawn from *seed* and the location alone (not from the
        draws of :meth:`__getitem__`), so a held-out location shows the same
        seasons in every epoch, whatever the DataLoader workers.

        Args:
            index: Dataset index of the location.
            views: Number of seasons to draw.
            seed: Seed of the draw.

        Returns:
            ``image [V, C, H, W]``, ``time [V]`` and ``point [2]``.

        Raises:
            ValueError: If the location has fewer than *views* seasons.

        .. versionadded:: 0.2
        """
        location = int(self.locations[index])
        root = os.path.join(self.directory, f'{location:0{self._digits}}')
        seasons = self._seasons(root)
        if len(seasons) < views:
            msg = f'{root!r} has {len(seasons)} distinct seasons, fewer than {views}'
            raise ValueError(msg)
        state = np.random.SeedSequence([seed, location]).generate_state(1)
        chosen = random.Random(int(state[0])).sample(seasons, views)
        sample: Sample = {
            'image': torch.stack([self._read_season(root, c.name) for c in chosen]),
            'time': torch.tensor([c.time for c in chosen], dtype=torch.float64),
            'point': torch.tensor(self.location_point(index), dtype=torch.float64),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def season_samples(self) -> list[tuple[int, str, float]]:
        """Every season of every location: ``(dataset index, season, time)``.

        Returns:
            One entry per location and season, locations in dataset order,
            seasons earliest first.

        .. versionadded:: 0.2
        """
        entries = []
        for index, location in enumerate(self.locations.tolist()):
            root = os.path.join(self.directory, f'{location:0{self._digits}}')
            for season in self._seasons(root):
                entries.append((index, season.name, season.time))
        return entries

    def season_sample(self, index: int, season: str, time: float) -> Sample:
        """One season of one location as a single-view sample.

        Args:
            index: Dataset index of the location.
            season: Name of the season directory (:meth:`season_samples`).
            time: Its acquisition time in seconds.

        Returns:
            ``image [1, C, H, W]``, ``time [1]`` and ``point [2]``.

        .. versionadded:: 0.2
        """
        location = int(self.locations[index])
        root = os.path.join(self.directory, f'{location:0{self._digits}}')
        sample: Sample = {
            'image': self._read_season(root, season).unsqueeze(0),
            'time': torch.tensor([time], dtype=torch.float64),
            'point': torch.tensor(self.location_point(index), dtype=torch.float64),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _index(
        self,
        directory: str,
        digits: int,
        count: int,
        pattern: str,
        date_format: str,
        example: str,
        required: int,
        seed: int | None,
    ) -> None:
        """List the locations on disk and keep those with enough seasons.

        Args:
            directory: Directory holding the location directories.
            digits: Number of digits of location directory names.
            count: Number of locations of the dataset (TorchGeo's ``__len__``);
                directories with a larger index are not part of it.
            pattern: Regular expression of season names, with a ``date`` group.
            date_format: Format of the ``date`` group.
            example: A valid season name, quoted in error messages.
            required: Distinct seasons a location needs to be kept.
            seed: Seed of the season draws, or None for the global random module.

        Raises:
            DatasetLayoutError: If *directory* holds no location directories.
            ValueError: If no location has *required* distinct seasons, or if a
                season directory is not named like an acquisition.
        """
        self.directory = directory
        self.seed = seed
        self._digits = digits
        self._regex = re.compile(pattern)
        self._date_format = date_format
        self._example = example
        self._draws = _SeasonDraws(seed)
        self._points = {}
        numbered = _numbered(directory, digits)
        names = [n for n in numbered if int(n) < count]
        cls = type(self).__name__
        if len(names) < len(numbered):
            msg = (
                f'{cls} ignores {len(numbered) - len(names)} location directories in '
                f'{directory!r} numbered {count} or more, beyond the {count} locations '
                f'of this dataset (e.g. {numbered[len(names)]})'
            )
            warnings.warn(msg, UserWarning, stacklevel=3)
        if not names:
            msg = (
                f'{cls} found no location directories in {directory!r}: expected '
                f'directories named by a {digits}-digit index ({0:0{digits}}, '
                f'{1:0{digits}}, ...) holding one directory per season; '
                f'{_found(directory)}'
            )
            raise DatasetLayoutError(msg)
        usable = []
        self.skipped_locations = {}
        for name in names:
            seasons = self._seasons(os.path.join(directory, name))
            if len(seasons) >= required:
                usable.append(int(name))
            else:
                self.skipped_locations[name] = len(seasons)
        self.locations = np.array(usable, dtype=np.int64)
        if not usable:
            most = max(self.skipped_locations.items(), key=lambda item: item[1])
            msg = (
                f'{cls}: none of the {len(names)} locations in {directory!r} has '
                f'{required} distinct seasons (the most is {most[1]}, at {most[0]}); '
                'lower seasons or min_distinct_seasons'
            )
            raise ValueError(msg)
        if self.skipped_locations:
            examples = ', '.join(
                f'{name}: {n}' for name, n in list(self.skipped_locations.items())[:3]
            )
            msg = (
                f'{cls} skipped {len(self.skipped_locations)} of {len(names)} '
                f'locations in {directory!r} with fewer than {required} distinct '
                f'seasons ({examples}); see skipped_locations'
            )
            warnings.warn(msg, UserWarning, stacklevel=3)

    def _seasons(self, location: str) -> list[_Season]:
        """Distinct seasons of a location directory, earliest first.

        Args:
            location: Path of the location directory.

        Returns:
            The seasons.
        """
        return _list_seasons(location, self._regex, self._date_format, self._example)

    def _sample(
        self, index: int, views: int, read: Callable[[str, str], Tensor], band: str
    ) -> Sample:
        """Read *views* distinct seasons of the location at *index*.

        Args:
            index: Dataset index (position in :attr:`locations`).
            views: Number of seasons V to draw.
            read: Reader of one season: ``read(location_dir, season_name)`` →
                ``[C, H, W]``.
            band: Band whose file georeferences the patch.

        Returns:
            ``image [V, C, H, W]``, ``time [V]`` and ``point [2]``.

        Raises:
            IndexError: If *index* is out of range.
            ValueError: If the location now has fewer than *views* seasons.
        """
        if not 0 <= index < len(self.locations):
            msg = f'index {index} is out of range for {len(self.locations)} locations'
            raise IndexError(msg)
        location = int(self.locations[index])
        root = os.path.join(self.directory, f'{location:0{self._digits}}')
        seasons = self._seasons(root)
        if len(seasons) < views:
            msg = (
                f'{root!r} has {len(seasons)} distinct seasons, fewer than the '
                f'{views} to draw (did its contents change after indexing?)'
            )
            raise ValueError(msg)
        chosen = self._draws.sample(seasons, views)
        if location not in self._points:
            path = os.path.join(root, seasons[0].name, f'{band}.tif')
            self._points[location] = _patch_center(path)
        return {
            'image': torch.stack([read(root, season.name) for season in chosen]),
            'time': torch.tensor([s.time for s in chosen], dtype=torch.float64),
            'point': torch.tensor(self._points[location], dtype=torch.float64),
        }


def _read_error(directory: str, bands: Sequence[str], err: Exception) -> str:
    """Message for a season directory whose band files cannot be read.

    Args:
        directory: The season directory.
        bands: Bands that were read.
        err: The rasterio error.

    Returns:
        A message naming the expected files and what the directory holds.
    """
    return (
        f'Cannot read season {directory!r}: expected one GeoTIFF per band '
        f'{[f"{band}.tif" for band in bands]}; {_found(directory)} ({err})'
    )


class SeasonalContrastS2Views(_SeasonViews, SeasonalContrastS2):
    """SeCo's Sentinel-2 seasons of one location as V views (batch contract).

    A :class:`~torchgeo.datasets.SeasonalContrastS2` (Mañas et al., ICCV 2021) whose
    samples are ``image [V, C, H, W]``, ``time [V]`` and ``point [2]`` (see
    :mod:`torchgeo_geossl.datasets.ssl`). TorchGeo's ``__init__`` checks the
    version and bands and finds, extracts or downloads the data; each season is read
    with TorchGeo's ``_load_patch`` (bands resized to 264 x 264 px).

    **Layout.** ``<root>/seasonal_contrast_100k`` (or ``_1m``)
    ``/<index:06>/<season>/<band>.tif``, one single-band GeoTIFF per band in the
    UTM zone of the tile. Season directories are Earth Engine Sentinel-2 product ids
    that start with the sensing time, ``YYYYMMDDTHHMMSS_YYYYMMDDTHHMMSS_Txxxxx``
    (e.g. ``20200513T104031_20200513T104719_T31UDQ``); ``time`` is the first
    timestamp, read as UTC. Names are parsed strictly (:attr:`season_regex`, then
    the date format): a season directory that does not parse raises an error naming
    it. ``point`` is the centre of the first band file of the location's earliest
    season, converted to WGS84 with pyproj.

    **Seasons.** ``seasons`` (V) may be 1 to 5: TorchGeo's own ``__init__`` asserts
    ``seasons in range(5)``, i.e. 0 to 4, although SeCo has five seasons per
    location, so this class checks 1 to 5 itself, constructs TorchGeo's class with
    one season and then sets :attr:`seasons`. The V seasons of a sample are drawn
    without replacement (distinct acquisition times; the reference implementation
    draws with replacement) in random order. With ``seed=None`` they are drawn with
    :func:`random.sample` as TorchGeo does, reproducible through
    ``lightning.seed_everything``; with a seed, from a generator seeded with
    ``(seed, DataLoader worker id)``, reproducible given the seed and the order of
    the indices.

    **Index.** Construction lists the version directory and every location
    directory (one ``os.scandir`` each: about 20,000 for ``100k`` and 200,000 for
    ``1m``, seconds on a local disk, longer on network storage) and keeps the
    locations with at least ``max(seasons, min_distinct_seasons)`` distinct
    seasons; the others are skipped, counted in :attr:`skipped_locations` and
    reported in a warning. Dataset index ``i`` reads location
    ``locations[i]``, so ``len(dataset)`` is the number of usable locations on disk,
    not TorchGeo's nominal count.

    .. versionadded:: 0.1
    """

    #: Season directory names: an Earth Engine Sentinel-2 product id, which starts
    #: with the sensing time (UTC).
    season_regex = r'^(?P<date>\d{8}T\d{6})(?:_|$)'
    #: Format of the sensing time in season directory names.
    date_format = Sentinel2.date_format

    def __init__(
        self,
        root: Path = 'data',
        version: str = '100k',
        seasons: int = 3,
        bands: Sequence[str] = SeasonalContrastS2.rgb_bands,
        min_distinct_seasons: int = 3,
        seed: int | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
        download: bool = False,
        checksum: bool = True,
    ) -> None:
        """Initialize a new SeasonalContrastS2Views instance.

        Args:
            root: Root directory where the dataset can be found (the parent of
                ``seasonal_contrast_100k`` or ``seasonal_contrast_1m``).
            version: One of ``'100k'`` or ``'1m'``.
            seasons: Number of seasons V per sample, 1 to 5.
            bands: Bands to load, from ``all_bands``.
            min_distinct_seasons: Locations with fewer distinct seasons on disk
                (or fewer than *seasons*) are skipped.
            seed: Seed of the season draws, or None for Python's global
                :mod:`random` module (as TorchGeo).
            transforms: A function/transform that takes a sample and returns a
                transformed version.
            download: If True, download the dataset (TorchGeo) when it is missing.
            checksum: If True, check the MD5 of the downloaded files.

        Raises:
            DatasetLayoutError: If the dataset is missing or not laid out as
                expected.
            ValueError: If a parameter is invalid, no location has enough seasons,
                or a season directory is not named like an acquisition.
        """
        _check_count('seasons', seasons, 1, 5)
        _check_count('min_distinct_seasons', min_distinct_seasons, 1, None)
        if version not in self.metadata:
            msg = f'version must be one of {sorted(self.metadata)}, got {version!r}'
            raise ValueError(msg)
        unknown = [band for band in bands if band not in self.all_bands]
        if unknown or not bands:
            msg = f'bands must be a non-empty subset of {self.all_bands}, got {bands}'
            raise ValueError(msg)
        try:
            super().__init__(
                root, version, 1, tuple(bands), transforms, download, checksum
            )
        except DatasetNotFoundError as err:
            raise DatasetLayoutError(self._not_found(root, version)) from err
        self.seasons = seasons
        self.min_distinct_seasons = min_distinct_seasons
        self._index(
            os.path.join(root, self.metadata[version]['directory']),
            digits=6,
            count=SeasonalContrastS2.__len__(self),
            pattern=self.season_regex,
            date_format=self.date_format,
            example='20200513T104031_20200513T104719_T31UDQ',
            required=max(seasons, min_distinct_seasons),
            seed=seed,
        )

    def _not_found(self, root: Path, version: str) -> str:
        """Explain where the data was expected and what is there.

        Args:
            root: The root directory.
            version: The dataset version.

        Returns:
            The error message.
        """
        meta = self.metadata[version]
        expected = os.path.join(root, meta['directory'])
        msg = (
            f'{type(self).__name__} (version {version!r}) expects the directory '
            f'{expected!r} holding <index:06>/<season>/<band>.tif, or the archive '
            f'{os.path.join(root, meta["filename"])!r} to extract; '
            f'{_found(root)}.'
        )
        for other, other_meta in self.metadata.items():
            if other != version and os.path.isdir(
                os.path.join(root, other_meta['directory'])
            ):
                msg += f' {other_meta["directory"]!r} is there: use version={other!r}.'
        if _numbered(root, 6):
            msg += (
                ' root holds location directories itself: pass its parent directory '
                f'as root (the one containing {meta["directory"]!r}).'
            )
        return msg

    def _read_season(self, location: str, season: str) -> Tensor:
        """Read one season with TorchGeo's ``_load_patch``.

        Args:
            location: Path of the location directory.
            season: Name of the season directory.

        Returns:
            The image ``[C, 264, 264]`` (or larger) as float32.

        Raises:
            DatasetLayoutError: If a band file cannot be read.
        """
        try:
            return self._load_patch(location, season)
        except RasterioIOError as err:
            directory = os.path.join(location, season)
            raise DatasetLayoutError(_read_error(directory, self.bands, err)) from err


class SSL4EOS12Views(_SeasonViews, SSL4EOS12):
    """SSL4EO-S12's seasons of one location as V views (batch contract).

    A :class:`~torchgeo.datasets.SSL4EOS12` (Wang et al., 2022) whose samples are
    ``image [V, C, H, W]``, ``time [V]`` and ``point [2]`` (see
    :mod:`torchgeo_geossl.datasets.ssl`). TorchGeo's ``__init__`` finds, extracts or
    downloads the data, and its metadata gives the bands, the season name pattern
    (``metadata[split]['filename_regex']``) and the date format (of
    :class:`~torchgeo.datasets.Sentinel1` or :class:`~torchgeo.datasets.Sentinel2`).

    **Layout.** ``<root>/<split>/<index:07>/<season>/<band>.tif`` with splits
    ``s1``, ``s2c`` and ``s2a``. S2 season directories are Earth Engine product ids
    starting with the sensing time (``20200323T162931_20200323T163750_T15QXA``), S1
    ones Sentinel-1 product ids whose 18th character starts it
    (``S1A_IW_GRDH_1SDV_20200329T001515_...``); ``time`` is that time, read as
    UTC, parsed strictly (a name that does not parse raises an error naming the
    directory). Bands are read as TorchGeo reads them, resampled to
    ``size`` x ``size`` (264) px on read. ``point`` is the centre of the first band
    file of the location's earliest season, converted to WGS84 with pyproj.

    TorchGeo's ``__getitem__`` cannot be reused for the views: it draws seasons with
    the global :mod:`random` module and returns their times and centres as float32
    (a 128 s resolution for times) without the CRS, so this class draws the seasons
    itself and reads each with the same per-band ``rasterio`` read.

    **Seasons** (1 to 4) are drawn without replacement and **indexed** as in
    :class:`SeasonalContrastS2Views` (one ``os.scandir`` per location at
    construction, about 250,000 for the full dataset); locations with fewer than
    ``max(seasons, min_distinct_seasons)`` distinct seasons are skipped.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        root: Path = 'data',
        split: Literal['s1', 's2c', 's2a'] = 's2c',
        seasons: int = 2,
        min_distinct_seasons: int | None = None,
        seed: int | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
        download: bool = False,
        checksum: bool = True,
    ) -> None:
        """Initialize a new SSL4EOS12Views instance.

        Args:
            root: Root directory where the dataset can be found (the parent of the
                split directories).
            split: One of ``'s1'`` (Sentinel-1 GRD), ``'s2c'`` (Sentinel-2 L1C) or
                ``'s2a'`` (Sentinel-2 L2A).
            seasons: Number of seasons V per sample, 1 to 4.
            min_distinct_seasons: Locations with fewer distinct seasons on disk
                (or fewer than *seasons*) are skipped; None means *seasons*.
            seed: Seed of the season draws, or None for Python's global
                :mod:`random` module (as TorchGeo).
            transforms: A function/transform that takes a sample and returns a
                transformed version.
            download: If True, download the dataset (TorchGeo) when it is missing.
            checksum: If True, check the SHA-256 of the downloaded files.

        Raises:
            DatasetLayoutError: If the dataset is missing or not laid out as
                expected.
            ValueError: If a parameter is invalid, no location has enough seasons,
                or a season directory is not named like an acquisition.
        """
        if split not in self.metadata:
            msg = f'split must be one of {sorted(self.metadata)}, got {split!r}'
            raise ValueError(msg)
        _check_count('seasons', seasons, 1, 4)
        if min_distinct_seasons is not None:
            _check_count('min_distinct_seasons', min_distinct_seasons, 1, None)
        try:
            super().__init__(
                root,
                split,
                cast(Literal[1, 2, 3, 4], seasons),
                transforms,
                download,
                checksum,
            )
        except DatasetNotFoundError as err:
            raise DatasetLayoutError(self._not_found(root, split)) from err
        self.min_distinct_seasons = min_distinct_seasons
        #: Bands shown by :meth:`plot`: B4, B3, B2 of Sentinel-2, VV of Sentinel-1.
        self.rgb_bands = ('VV',) if split == 's1' else ('B4', 'B3', 'B2')
        date_format = Sentinel1.date_format if split == 's1' else Sentinel2.date_format
        example = (
            'S1A_IW_GRDH_1SDV_20200329T001515_20200329T001540_031883_03AE27_9BAF'
            if split == 's1'
            else '20200323T162931_20200323T163750_T15QXA'
        )
        self._index(
            os.path.join(root, split),
            digits=7,
            count=SSL4EOS12.__len__(self),
            pattern=self.metadata[split]['filename_regex'],
            date_format=date_format,
            example=example,
            required=max(seasons, min_distinct_seasons or 0),
            seed=seed,
        )

    def _not_found(self, root: Path, split: str) -> str:
        """Explain where the data was expected and what is there.

        Args:
            root: The root directory.
            split: The split.

        Returns:
            The error message.
        """
        expected = os.path.join(root, split)
        archive = os.path.join(root, f'{self.filenames[split]}.tar.gz.part*')
        msg = (
            f'{type(self).__name__} (split {split!r}) expects the directory '
            f'{expected!r} holding <index:07>/<season>/<band>.tif (TorchGeo looks '
            f'for {os.path.join(expected, "00000*", "*", "*.tif")!r}), or the '
            f'archives {archive!r} to extract; {_found(root)}'
        )
        if os.path.isdir(expected):
            msg += f', and {_found(expected)}'
        msg += '.'
        others = [
            s
            for s in self.metadata
            if s != split and _numbered(os.path.join(root, s), 7)
        ]
        if others:
            msg += f' Splits found: {others}.'
        if _numbered(root, 7):
            msg += (
                ' root holds location directories itself: pass the parent of the '
                'split directory as root.'
            )
        return msg

    def _read_season(self, location: str, season: str) -> Tensor:
        """Read all bands of one season as TorchGeo does, at ``size`` x ``size``.

        Args:
            location: Path of the location directory.
            season: Name of the season directory.

        Returns:
            The image ``[C, size, size]`` as float32.

        Raises:
            DatasetLayoutError: If a band file cannot be read.
        """
        directory = os.path.join(location, season)
        images = []
        try:
            for band in self.bands:
                with rasterio.open(os.path.join(directory, f'{band}.tif')) as f:
                    image = f.read(out_shape=(1, self.size, self.size))
                images.append(torch.from_numpy(image.astype(np.float32)))
        except RasterioIOError as err:
            raise DatasetLayoutError(_read_error(directory, self.bands, err)) from err
        return torch.cat(images)

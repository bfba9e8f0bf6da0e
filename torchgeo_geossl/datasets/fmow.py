"""fMoW-RGB as temporal views of sites, the pre-training data of GASSL."""

import contextlib
import json
import math
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shapely
import torch
import torchvision.transforms.v2.functional as TF
from matplotlib.figure import Figure
from PIL import Image
from torch import Tensor
from torchgeo.datasets import NonGeoDataset
from torchgeo.datasets.utils import Sample

from .views import ViewReadError, timestamp_seconds

#: The 62 fMoW categories in alphabetical order; a category's label is its position.
#: (fMoW's 63rd class, ``false_detection``, only labels boxes and has no directory.)
FMOW_CATEGORIES: tuple[str, ...] = (
    'airport',
    'airport_hangar',
    'airport_terminal',
    'amusement_park',
    'aquaculture',
    'archaeological_site',
    'barn',
    'border_checkpoint',
    'burial_site',
    'car_dealership',
    'construction_site',
    'crop_field',
    'dam',
    'debris_or_rubble',
    'educational_institution',
    'electric_substation',
    'factory_or_powerplant',
    'fire_station',
    'flooded_road',
    'fountain',
    'gas_station',
    'golf_course',
    'ground_transportation_station',
    'helipad',
    'hospital',
    'impoverished_settlement',
    'interchange',
    'lake_or_pond',
    'lighthouse',
    'military_facility',
    'multi-unit_residential',
    'nuclear_powerplant',
    'office_building',
    'oil_or_gas_facility',
    'park',
    'parking_lot_or_garage',
    'place_of_worship',
    'police_station',
    'port',
    'prison',
    'race_track',
    'railway_bridge',
    'recreational_facility',
    'road_bridge',
    'runway',
    'shipyard',
    'shopping_mall',
    'single-unit_residential',
    'smokestack',
    'solar_farm',
    'space_facility',
    'stadium',
    'storage_tank',
    'surface_mine',
    'swimming_pool',
    'toll_booth',
    'tower',
    'tunnel_opening',
    'waste_disposal',
    'water_treatment_facility',
    'wind_farm',
    'zoo',
)

_LAYOUT = (
    '<root>/<split>/<category>/<category>_<site_id>/'
    '<category>_<site_id>_<image_id>_rgb.jpg (+ .json)'
)
_INSUFFICIENT = ('skip', 'repeat', 'error')
_EPOCHS = ('site', 'image')
_IMAGE_SUFFIX = '_rgb.jpg'


class FMoWSite(NamedTuple):
    """One fMoW site: a directory of images of one object at several times.

    .. versionadded:: 0.1
    """

    #: Directory name, ``<category>_<site_id>``.
    name: str
    #: fMoW category of the site.
    category: str
    #: Index of *category* in :data:`FMOW_CATEGORIES`.
    label: int
    #: The site's ``_rgb.jpg`` images, sorted by image id.
    images: tuple[Path, ...]


class FMoWMetadata(NamedTuple):
    """What :class:`FMoW` reads from the JSON metadata of one image.

    .. versionadded:: 0.1
    """

    #: Acquisition time (``timestamp``) in seconds since the Unix epoch (UTC).
    time: float
    #: ``(lon, lat)`` centroid of the image footprint (``raw_location``), degrees.
    point: tuple[float, float]
    #: ``(x, y, width, height)`` in pixels of the object's bounding box (x = column),
    #: or None when the JSON has no box.
    box: tuple[int, int, int, int] | None


def read_fmow_metadata(
    path: str | os.PathLike[str], category: str | None = None
) -> FMoWMetadata:
    """Read the time, footprint centroid and object box of one fMoW image.

    fMoW stores one JSON per image (``<stem>_rgb.json`` next to ``<stem>_rgb.jpg``).
    Three of its fields are used:

    * ``timestamp``, an ISO 8601 UTC time such as ``'2015-05-04T15:21:01Z'``;
    * ``raw_location``, the image footprint as WKT in longitude/latitude, for example
      ``'POLYGON ((lon lat, lon lat, ...))'``. Its centroid is computed in degrees,
      which is accurate for footprints of a few kilometres; a footprint crossing the
      antimeridian is unwrapped first;
    * ``bounding_boxes``, a list of ``{'ID', 'box': [x, y, w, h], 'category', ...}``
      (a single dict in some files). The box used is the one with the smallest
      non-negative ``ID`` whose category is *category* (entries with ``ID`` -1, the
      crowd-sourced originals, are used only when there is no other), falling back to
      the first box of any category.

    Other fields (``gsd``, ``cloud_cover``, ``utm``, ``country_code``, sun and
    off-nadir angles, ...) are ignored.

    Args:
        path: The JSON file.
        category: Category of the site, to select its box.

    Returns:
        The parsed metadata.

    Raises:
        FileNotFoundError: If *path* does not exist.
        ValueError: If the file is not valid JSON or a field is missing or invalid;
            the message names the file.

    .. versionadded:: 0.1
    """
    path = Path(path)
    try:
        with path.open(encoding='utf-8') as f:
            meta = json.load(f)
    except FileNotFoundError:
        msg = f'fMoW metadata file not found: {path}'
        raise FileNotFoundError(msg) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        msg = f'fMoW metadata file {path} is not valid JSON: {err}'
        raise ValueError(msg) from err
    fields = meta if isinstance(meta, dict) else {}
    missing = [key for key in ('timestamp', 'raw_location') if key not in fields]
    if missing:
        kind = '' if isinstance(meta, dict) else f' (it holds a {type(meta).__name__})'
        msg = f'fMoW metadata file {path} has no {" or ".join(missing)} field{kind}'
        raise ValueError(msg)
    timestamp = fields['timestamp']
    invalid = f'fMoW metadata file {path}: invalid timestamp {timestamp!r}'
    if not isinstance(timestamp, str) or not timestamp.strip():
        raise ValueError(invalid)
    try:
        time = timestamp_seconds(timestamp)
    except ValueError as err:
        raise ValueError(invalid) from err
    point = _footprint_centroid(fields['raw_location'], path)
    box = _object_box(fields.get('bounding_boxes'), category, path)
    return FMoWMetadata(time, point, box)


def _footprint_centroid(wkt: Any, path: Path) -> tuple[float, float]:
    """Centroid of a WKT footprint in longitude/latitude.

    Args:
        wkt: The ``raw_location`` value.
        path: The JSON file, for messages.

    Returns:
        ``(lon, lat)`` in degrees, longitude in ``[-180, 180]``.

    Raises:
        ValueError: If *wkt* is not a non-empty polygon inside the lon/lat range.
    """
    try:
        geom = shapely.from_wkt(wkt)
    except (shapely.errors.GEOSException, TypeError) as err:
        msg = f'fMoW metadata file {path}: raw_location {wkt!r} is not valid WKT'
        raise ValueError(msg) from err
    if (
        geom is None
        or geom.is_empty
        or geom.geom_type not in ('Polygon', 'MultiPolygon')
    ):
        msg = f'fMoW metadata file {path}: raw_location {wkt!r} is not a polygon'
        raise ValueError(msg)
    xmin, ymin, xmax, ymax = geom.bounds
    if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        msg = (
            f'fMoW metadata file {path}: raw_location {wkt!r} is not in '
            'longitude/latitude degrees'
        )
        raise ValueError(msg)
    if xmax - xmin > 180:
        # Crosses the antimeridian: move western longitudes east by 360°
        geom = shapely.transform(
            geom, lambda xy: np.where(xy[:, :1] < 0, xy + [360.0, 0.0], xy)
        )
    centroid = geom.centroid
    lon = float(centroid.x)
    return lon - 360.0 if lon > 180.0 else lon, float(centroid.y)


def _object_box(
    boxes: Any, category: str | None, path: Path
) -> tuple[int, int, int, int] | None:
    """Pick the site object's box among an image's bounding boxes.

    Args:
        boxes: The ``bounding_boxes`` value (a list, a single dict or None).
        category: Category of the site.
        path: The JSON file, for messages.

    Returns:
        ``(x, y, width, height)`` or None if there are no boxes.

    Raises:
        ValueError: If a box is malformed.
    """
    if boxes is None:
        return None
    entries = [boxes] if isinstance(boxes, dict) else boxes
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        msg = f'fMoW metadata file {path}: bounding_boxes must be a list of objects'
        raise ValueError(msg)
    if not entries:
        return None
    matching = [e for e in entries if e.get('category') == category] or entries

    def rank(entry: dict[str, Any]) -> tuple[bool, float]:
        ident = float(entry.get('ID', -1))
        return ident < 0, ident

    entry = min(matching, key=rank)
    box = entry.get('box')
    if (
        not isinstance(box, list)
        or len(box) != 4
        or not all(isinstance(v, int | float) for v in box)
        or box[2] <= 0
        or box[3] <= 0
    ):
        msg = (
            f'fMoW metadata file {path}: box {box!r} is not [x, y, width, height] '
            'with a positive width and height'
        )
        raise ValueError(msg)
    x, y, w, h = (int(v) for v in box)
    return x, y, w, h


class FMoW(NonGeoDataset):
    """fMoW-RGB sites as temporal views: the data GASSL was pre-trained on.

    The `Functional Map of the World <https://github.com/fMoW/dataset>`_ dataset
    (Christie et al., CVPR 2018) holds satellite images of sites of 62 categories,
    most sites imaged at several times (fMoW-RGB: JPEGs with one JSON of metadata per
    image). The expected layout is the one of the fMoW-RGB download::

        <root>/<split>/<category>/<category>_<site_id>/
            <category>_<site_id>_<image_id>_rgb.jpg
            <category>_<site_id>_<image_id>_rgb.json

    for the ``train`` and ``val`` splits. Other files of a site (``_msrgb.jpg``
    images, their JSONs, JSONs without an image) are ignored. The ``test`` and
    ``seq`` splits have no category directories and are not supported.

    **One sample is one site** (``epoch='site'``, the default of this class): V of
    its images, drawn without replacement, in the order drawn. **With
    ``epoch='image'``, one sample is one image** of a served site, as in the GASSL
    reference code (``CustomDatasetFromImagesTemporal`` in
    ``moco_fmow/data_loader/fmow_dataloader.py`` iterates the 363,571 training
    images): view 0 is that image and the other V − 1 views are drawn without
    replacement from the *other* images of its site, so an epoch has one sample
    per image and sites with many images are visited as often as they have
    images. :attr:`samples` lists ``(site, image)`` positions. Views are resized to a common size so that they stack: each image
    is scaled (antialiased) so that it covers ``size`` and then centre-cropped, as the
    GASSL reference code does for temporal positives (``Resize(448)``,
    ``CenterCrop(448)``). Samples are::

        image  [V, 3, H, W] float32, 0-255 (decoded JPEG values)
        time   [V] float64, seconds since the Unix epoch (JSON ``timestamp``)
        point  [2] float64, (lon, lat) of the site: the centroid of the footprint
               (``raw_location``) of its first image (smallest image id)
        label  long, index of the site's category in :data:`FMOW_CATEGORIES`

    ``label`` is the fMoW *category*, as in TorchGeo's classification datasets, not
    GASSL's geo-cluster. :class:`~torchgeo_geossl.trainers.GeoMoCoTask` computes its
    geo-cluster targets from ``point`` when it has clusters
    (:class:`~torchgeo_geossl.datamodules.fmow.FMoWDataModule` fits them on
    :meth:`site_points`); without clusters it would read ``label`` as the geo target,
    so never pair this dataset with a geo head and no clusters.

    **Differences from the GASSL reference code.** The reference iterates over
    *images* and draws the temporal positive among the other images of the same
    site (``epoch='image'``, the default of
    :class:`~torchgeo_geossl.datamodules.fmow.FMoWDataModule`); with
    ``epoch='site'`` an epoch visits each *site* once, so sites with many images
    are not over-weighted but an epoch is several times shorter (fMoW-RGB's train
    split has about 4 images per site). The reference reads pre-processed JPEGs listed in CSV files that
    are not published, so whether it cropped objects cannot be checked; the paper
    assumes no labels or supervision "beyond the geo-tags" (Sec. 3), so the default
    here is the full image (``crop_to_box=False``). ``crop_to_box=True`` first crops
    the object's bounding box (enlarged by *box_context*), as fMoW's own baseline
    does.

    **Sites with fewer than V images** (*insufficient*, as in
    :class:`~torchgeo_geossl.samplers.TemporalViewSampler`): ``'skip'`` leaves them
    out of the dataset, ``'repeat'`` serves all their images in random order and then
    draws the remaining views from them with replacement, ``'error'`` raises at
    construction. :attr:`stats` counts ``'sites'`` and ``'images'`` found,
    ``'skipped'`` and ``'repeated'`` sites; a skip or repeat warns once.

    **Randomness.** With an int *seed*, the views of sample *i* are drawn by
    ``numpy.random.default_rng([seed, i])``: the same every time, in any process or
    DataLoader worker. With ``seed=None`` (for training) each call draws a seed from
    torch's global generator, which DataLoader seeds per worker and epoch, so views
    change every epoch and are reproducible under ``lightning.seed_everything`` for a
    given number of workers.

    JPEGs are decoded with Pillow, at 1/2, 1/4 or 1/8 scale (libjpeg's draft mode)
    when the region to keep is that much larger than *size*. fMoW images can be very
    large (the GASSL code disables Pillow's decompression-bomb limit); here the limit
    is lifted only while an image is opened.

    The directory is scanned once, at construction; a ``_rgb.jpg`` without its JSON
    is an error there. JSON contents are read when a sample (or :meth:`site_points`)
    needs them, and a malformed file raises a ``ValueError`` naming it.

    .. versionadded:: 0.1
    """

    splits: ClassVar[tuple[str, ...]] = ('train', 'val')
    categories: ClassVar[tuple[str, ...]] = FMOW_CATEGORIES

    def __init__(
        self,
        root: str | os.PathLike[str] = 'data/fmow',
        split: str = 'train',
        views: int = 2,
        size: int | tuple[int, int] = 448,
        crop_to_box: bool = False,
        box_context: float = 0.0,
        insufficient: Literal['skip', 'repeat', 'error'] = 'skip',
        transforms: Callable[[Sample], Sample] | None = None,
        seed: int | None = None,
        epoch: Literal['site', 'image'] = 'site',
    ) -> None:
        """Initialize a new FMoW instance.

        Args:
            root: Root directory of fMoW-RGB (holding ``train/`` and ``val/``).
            split: ``'train'`` or ``'val'``.
            views: Number V of images per site.
            size: Side (or ``(height, width)``) in pixels of every view.
            crop_to_box: Crop each image to its object's bounding box before resizing.
            box_context: With *crop_to_box*, enlarge the box by this fraction of its
                width and height (half on each side), clipped to the image.
            insufficient: Sites with fewer than *views* images: ``'skip'`` them,
                ``'repeat'`` images, or raise (``'error'``).
            transforms: A function taking and returning a sample.
            seed: Seed of the view draws (see the class description), or None.
            epoch: What one sample (and so an epoch) counts: ``'site'`` (V images of
                one site) or ``'image'`` (one image and V − 1 other images of its
                site, as the GASSL reference code).

        Raises:
            FileNotFoundError: If *root* or ``<root>/<split>`` does not exist, or an
                image has no JSON.

        .. versionchanged:: 0.2
           Added *epoch*.
            ValueError: If a parameter is invalid, a directory or file does not follow
                the fMoW layout, the split holds no image, or a site has too few images
                with ``insufficient='error'``.
        """
        if split not in self.splits:
            msg = f'split must be one of {self.splits}, got {split!r}'
            raise ValueError(msg)
        if isinstance(views, bool) or not isinstance(views, int) or views < 1:
            msg = f'views must be an integer >= 1, got {views!r}'
            raise ValueError(msg)
        if insufficient not in _INSUFFICIENT:
            msg = f'insufficient must be one of {_INSUFFICIENT}, got {insufficient!r}'
            raise ValueError(msg)
        if box_context < 0:
            msg = f'box_context must be >= 0, got {box_context}'
            raise ValueError(msg)
        if epoch not in _EPOCHS:
            msg = f'epoch must be one of {_EPOCHS}, got {epoch!r}'
            raise ValueError(msg)
        self.epoch = epoch
        self.size = _pair(size)
        self.root = Path(root)
        self.split = split
        self.views = views
        self.crop_to_box = crop_to_box
        self.box_context = box_context
        self.insufficient = insufficient
        self.transforms = transforms
        self.seed = seed
        #: Counts of what the directory scan found and left out.
        self.stats: Counter[str] = Counter()
        #: The sites served, sorted by category and site id.
        self.sites: list[FMoWSite] = self._scan()
        #: ``(site, image)`` positions of the samples: one per image of a served
        #: site with ``epoch='image'``, ``(site, -1)`` per site with ``'site'``.
        self.samples: list[tuple[int, int]] = [
            (i, j)
            for i, site in enumerate(self.sites)
            for j in (range(len(site.images)) if epoch == 'image' else (-1,))
        ]
        self._points: Tensor | None = None

    def _scan(self) -> list[FMoWSite]:
        """Index the sites of the split.

        Returns:
            The sites to serve.

        Raises:
            FileNotFoundError: If a directory or a JSON is missing.
            ValueError: If the layout is wrong or no site can be served.
        """
        split_dir = self.root / self.split
        if not split_dir.is_dir():
            what = 'root' if not self.root.is_dir() else 'split directory'
            msg = (
                f'fMoW {what} not found: {split_dir} does not exist. FMoW expects the '
                f'fMoW-RGB layout {_LAYOUT} with split in {self.splits}'
            )
            raise FileNotFoundError(msg)
        found: list[FMoWSite] = []
        for category_dir in _subdirectories(split_dir):
            category = category_dir.name
            if category not in FMOW_CATEGORIES:
                msg = (
                    f'unknown fMoW category directory {category_dir}: expected one of '
                    f'the 62 categories (FMOW_CATEGORIES) as in {_LAYOUT}'
                )
                raise ValueError(msg)
            label = FMOW_CATEGORIES.index(category)
            site_pattern = re.compile(rf'{re.escape(category)}_(\d+)')
            sites = []
            for site_dir in _subdirectories(category_dir):
                match = site_pattern.fullmatch(site_dir.name)
                if match is None:
                    msg = (
                        f'fMoW site directory {site_dir} is not named '
                        f'{category}_<site_id> as in {_LAYOUT}'
                    )
                    raise ValueError(msg)
                images = self._site_images(site_dir)
                if images:
                    sites.append((int(match[1]), site_dir.name, images))
            for _, name, images in sorted(sites):
                found.append(FMoWSite(name, category, label, images))
        self.stats['sites'] = len(found)
        self.stats['images'] = sum(len(site.images) for site in found)
        if not found:
            msg = f'found no fMoW image in {split_dir}; expected the layout {_LAYOUT}'
            raise ValueError(msg)
        return self._apply_insufficient(found)

    def _site_images(self, site_dir: Path) -> tuple[Path, ...]:
        """The ``_rgb.jpg`` images of a site, sorted by image id.

        Args:
            site_dir: The site directory.

        Returns:
            Image paths.

        Raises:
            FileNotFoundError: If an image has no JSON.
            ValueError: If an image is not named ``<site>_<image_id>_rgb.jpg``.
        """
        pattern = re.compile(
            rf'{re.escape(site_dir.name)}_(\d+){re.escape(_IMAGE_SUFFIX)}'
        )
        with os.scandir(site_dir) as entries:
            names = {e.name for e in entries if e.is_file()}
        images = []
        for name in names:
            if not name.endswith(_IMAGE_SUFFIX):
                continue
            match = pattern.fullmatch(name)
            if match is None:
                msg = (
                    f'fMoW image {site_dir / name} is not named '
                    f'{site_dir.name}_<image_id>{_IMAGE_SUFFIX} as in {_LAYOUT}'
                )
                raise ValueError(msg)
            meta = name.removesuffix('.jpg') + '.json'
            if meta not in names:
                msg = (
                    f'fMoW image {site_dir / name} has no metadata file: expected '
                    f'{site_dir / meta}'
                )
                raise FileNotFoundError(msg)
            images.append((int(match[1]), site_dir / name))
        return tuple(path for _, path in sorted(images))

    def _apply_insufficient(self, sites: list[FMoWSite]) -> list[FMoWSite]:
        """Skip, keep or refuse the sites with fewer than V images.

        Args:
            sites: All sites found.

        Returns:
            The sites to serve.

        Raises:
            ValueError: If a site has too few images and *insufficient* is
                ``'error'``, or if every site is skipped.
        """
        few = [site for site in sites if len(site.images) < self.views]
        if not few:
            return sites
        detail = (
            f'{len(few)} of {len(sites)} fMoW {self.split} sites have fewer than '
            f'views={self.views} images (e.g. {few[0].name} with {len(few[0].images)})'
        )
        if self.insufficient == 'error':
            msg = f"{detail}; pass insufficient='skip' or 'repeat'"
            raise ValueError(msg)
        if self.insufficient == 'repeat':
            self.stats['repeated'] = len(few)
            warnings.warn(
                f'{detail}: repeating their images', UserWarning, stacklevel=4
            )
            return sites
        self.stats['skipped'] = len(few)
        kept = [site for site in sites if len(site.images) >= self.views]
        if not kept:
            msg = f"{detail}: none is left; pass insufficient='repeat' or fewer views"
            raise ValueError(msg)
        warnings.warn(f'{detail}: skipping them', UserWarning, stacklevel=4)
        return kept

    def __len__(self) -> int:
        """Return the number of samples: sites, or images with ``epoch='image'``.

        Returns:
            Length of the dataset.
        """
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        """Return V views of one site.

        Args:
            index: Index of the sample (of the site, or of the image with
                ``epoch='image'``).

        Returns:
            ``image``, ``time``, ``point`` and ``label`` (see the class description).

        Raises:
            IndexError: If *index* is out of range.
            ViewReadError: If an image cannot be decoded.
            FileNotFoundError: If the metadata of an image is missing.
            ValueError: If the metadata of an image cannot be parsed, or its box lies
                outside the image.
        """
        if not -len(self) <= index < len(self):
            msg = f'index {index} out of range for FMoW with {len(self)} samples'
            raise IndexError(msg)
        index %= len(self)
        site_index, first = self.samples[index]
        site = self.sites[site_index]
        chosen = self._draw(index, len(site.images), first)
        images, times = [], []
        for i in chosen:
            path = site.images[int(i)]
            meta = read_fmow_metadata(_metadata_path(path), site.category)
            images.append(self._read_view(path, meta))
            times.append(meta.time)
        sample: Sample = {
            'image': torch.stack(images),
            'time': torch.tensor(times, dtype=torch.float64),
            'point': self.site_point(site_index),
            'label': torch.tensor(site.label, dtype=torch.long),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def _draw(
        self, index: int, n: int, first: int = -1
    ) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Positions of the V images of a site to read.

        Args:
            index: Index of the sample.
            n: Number of images of the site.
            first: Position of the image that is view 0 (``epoch='image'``), or
                -1 to draw all V views.

        Returns:
            V positions in drawing order.
        """
        if self.seed is None:
            entropy = int(torch.randint(0, 2**62, ()))
            rng = np.random.default_rng([entropy, index])
        else:
            rng = np.random.default_rng([self.seed, index])
        if first >= 0:
            others = np.array([i for i in range(n) if i != first], dtype=np.int64)
            need = self.views - 1
            if len(others) >= need:
                rest = rng.choice(others, need, replace=False)
            else:  # insufficient='repeat': all other images, then repeats
                extra = rng.choice(n, need - len(others), replace=True)
                rest = np.concatenate([rng.permutation(others), extra])
            return np.concatenate([[first], rest]).astype(np.int64)
        if n >= self.views:
            return rng.choice(n, self.views, replace=False)
        extra = rng.choice(n, self.views - n, replace=True)
        return np.concatenate([rng.permutation(n), extra])

    def _read_view(self, path: Path, meta: FMoWMetadata) -> Tensor:
        """Decode, optionally crop, and resize one image.

        Args:
            path: The ``_rgb.jpg`` file.
            meta: Its metadata.

        Returns:
            A ``[3, H, W]`` float32 tensor.

        Raises:
            ViewReadError: If the image cannot be decoded (an ``OSError``).
            ValueError: If the box to crop is missing or lies outside the image.
        """
        height, width = self.size
        try:
            with _unlimited_pixels(), Image.open(path) as img:
                full_width, full_height = img.size
                left, top, right, bottom = (
                    self._box_region(path, meta.box, full_width, full_height)
                    if self.crop_to_box
                    else (0, 0, full_width, full_height)
                )
                scale = max(height / (bottom - top), width / (right - left))
                if scale < 1:
                    # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when that still
                    # leaves the region at least as large as the target size
                    img.draft(
                        'RGB',
                        (math.ceil(full_width * scale), math.ceil(full_height * scale)),
                    )
                fx, fy = img.size[0] / full_width, img.size[1] / full_height
                region = (
                    math.floor(left * fx),
                    math.floor(top * fy),
                    max(math.floor(left * fx) + 1, math.ceil(right * fx)),
                    max(math.floor(top * fy) + 1, math.ceil(bottom * fy)),
                )
                array = np.asarray(img.convert('RGB').crop(region))
        except OSError as err:
            msg = f'cannot decode fMoW image {path}: {err}'
            raise ViewReadError(msg) from err
        image = torch.from_numpy(array.copy()).permute(2, 0, 1).float()
        scale = max(height / image.shape[-2], width / image.shape[-1])
        resized = [
            max(height, round(image.shape[-2] * scale)),
            max(width, round(image.shape[-1] * scale)),
        ]
        view: Tensor = TF.center_crop(
            TF.resize(image, resized, antialias=True), [height, width]
        )
        return view.clamp_(0, 255)

    def _box_region(
        self, path: Path, box: tuple[int, int, int, int] | None, width: int, height: int
    ) -> tuple[int, int, int, int]:
        """The object box enlarged by *box_context* and clipped to the image.

        Args:
            path: The image file, for messages.
            box: ``(x, y, width, height)`` of the object.
            width: Width of the image.
            height: Height of the image.

        Returns:
            ``(left, top, right, bottom)`` in pixels.

        Raises:
            ValueError: If there is no box or it lies outside the image.
        """
        if box is None:
            msg = f'crop_to_box=True but {_metadata_path(path)} has no bounding box'
            raise ValueError(msg)
        x, y, w, h = box
        dx, dy = int(w * self.box_context / 2), int(h * self.box_context / 2)
        top, bottom = max(0, y - dy), min(height, y + h + dy)
        left, right = max(0, x - dx), min(width, x + w + dx)
        if top >= bottom or left >= right:
            msg = (
                f'bounding box {list(box)} of {_metadata_path(path)} lies outside the '
                f'{width} x {height} image'
            )
            raise ValueError(msg)
        return left, top, right, bottom

    def site_point(self, index: int) -> Tensor:
        """Location of one site.

        Args:
            index: Index of the site.

        Returns:
            ``(lon, lat)`` float64 ``[2]``: the centroid of the footprint of the
            site's first image.
        """
        if self._points is not None:
            return self._points[index].clone()
        site = self.sites[index]
        meta = read_fmow_metadata(_metadata_path(site.images[0]), site.category)
        return torch.tensor(meta.point, dtype=torch.float64)

    def site_points(self) -> Tensor:
        """Locations of all sites served, e.g. to fit GASSL's geo-clusters.

        Reads one JSON per site the first time (then cached).

        Returns:
            ``[N, 2]`` float64 ``(lon, lat)``, in the order of :attr:`sites`.
        """
        if self._points is None:
            self._points = torch.stack(
                [self.site_point(i) for i in range(len(self.sites))]
            )
        return self._points.clone()

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Plot the views of a sample.

        Args:
            sample: A sample returned by :meth:`__getitem__` (values 0-255).
            show_titles: Show the acquisition date above each view.
            suptitle: Title of the figure (defaults to the category and location).

        Returns:
            A matplotlib Figure with one panel per view.
        """
        image = sample['image']
        views = image.unsqueeze(0) if image.ndim == 3 else image
        fig, axes = plt.subplots(
            ncols=len(views), figsize=(3 * len(views), 3.4), squeeze=False
        )
        times = sample.get('time')
        for i, ax in enumerate(axes[0]):
            ax.imshow((views[i].permute(1, 2, 0) / 255).clamp(0, 1).numpy())
            ax.axis('off')
            if show_titles and times is not None:
                date = pd.Timestamp(float(times[i]), unit='s', tz='UTC')
                ax.set_title(date.strftime('%Y-%m-%d'))
        if suptitle is None and 'label' in sample:
            suptitle = FMOW_CATEGORIES[int(sample['label'])]
            if 'point' in sample:
                lon, lat = (float(v) for v in sample['point'])
                suptitle += f' ({lon:.3f}, {lat:.3f})'
        if suptitle is not None:
            fig.suptitle(suptitle)
        return fig


@contextlib.contextmanager
def _unlimited_pixels() -> Iterator[None]:
    """Lift Pillow's decompression-bomb limit for trusted dataset files.

    fMoW images can exceed Pillow's default limit of about 89 megapixels (the GASSL
    reference code lifts it globally); here it is lifted only while opening.

    Yields:
        Nothing.
    """
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _metadata_path(image: Path) -> Path:
    """The JSON file of an fMoW image.

    Args:
        image: A ``..._rgb.jpg`` path.

    Returns:
        The ``..._rgb.json`` path.
    """
    return image.with_suffix('.json')


def _subdirectories(directory: Path) -> list[Path]:
    """Visible subdirectories, sorted by name.

    Args:
        directory: A directory.

    Returns:
        Its subdirectories, hidden ones (``.name``) excluded.
    """
    with os.scandir(directory) as entries:
        return sorted(
            directory / e.name
            for e in entries
            if e.is_dir() and not e.name.startswith('.')
        )


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    """Validate a size as ``(height, width)``.

    Args:
        size: An int or a pair of ints.

    Returns:
        ``(height, width)``.

    Raises:
        ValueError: If the size is not one or two positive integers.
    """
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair
    ):
        msg = f'size must be a positive int or (height, width), got {size!r}'
        raise ValueError(msg)
    return int(pair[0]), int(pair[1])

"""Random and gridded patches from footprints scattered over a large extent."""

import math
import pathlib
import warnings
from collections.abc import Iterator
from typing import cast

import numpy as np
import pandas as pd
import shapely
from numpy.random import BitGenerator, Generator, RandomState, SeedSequence
from shapely import MultiPolygon, Polygon
from torchgeo.datasets import GeoDataset
from torchgeo.samplers import (
    GriddedPatchSampler,
    GridGeoSampler,
    RandomPatchSampler,
    SpatioTemporalSampler,
    TemporalSampler,
    Units,
)
from torchgeo.samplers.utils import convolution_arithmetic

from ..datasets.vector import read_region
from .temporal_views import TemporalViewSampler

#: A region of interest: a polygon in the dataset's CRS, or a vector file. Not
#: os.PathLike: jsonargparse would then read a GeoJSON file given in a YAML config
#: as a config and pass its content as the string.
_Region = Polygon | MultiPolygon | pathlib.Path | str


def _resolve_roi(
    roi: _Region | None, dataset: GeoDataset
) -> Polygon | MultiPolygon | None:
    """A region of interest as a polygon in the CRS of *dataset*.

    Args:
        roi: None, a (multi)polygon already in the dataset's CRS, or the path of a
            vector file (read with :func:`~torchgeo_geossl.datasets.read_region`).
        dataset: The dataset whose CRS the region must be in.

    Returns:
        None or the region, a Polygon or MultiPolygon.

    Raises:
        FileNotFoundError: If *roi* names a file that does not exist.
        ValueError: If the file cannot be used as a region (see
            :func:`~torchgeo_geossl.datasets.read_region`).
    """
    if isinstance(roi, str | pathlib.Path):
        return read_region(roi, dataset.crs)
    return roi


def _check_patch_size(name: str, value: tuple[float, float] | float | None) -> None:
    """Check a patch size or stride: one positive number or a pair of them.

    Args:
        name: Name of the parameter, for the message.
        value: Its value; None passes (a default applies).

    Raises:
        ValueError: If it is not a finite positive number or a pair of them.
    """
    if value is None:
        return
    sides = value if isinstance(value, tuple | list) else (value,)
    ok = len(sides) in (1, 2) and all(
        isinstance(v, int | float)
        and not isinstance(v, bool)
        and math.isfinite(v)
        and v > 0
        for v in sides
    )
    if not ok:
        msg = (
            f'{name} must be a positive number or a (height, width) pair of them, '
            f'got {value!r}'
        )
        raise ValueError(msg)


def _check_count(name: str, value: int | None, minimum: int) -> None:
    """Check an integer parameter with a lower bound.

    Args:
        name: Name of the parameter, for the message.
        value: Its value; None passes (a default applies).
        minimum: Smallest allowed value.

    Raises:
        ValueError: If it is not an integer >= *minimum*.
    """
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f'{name} must be an integer >= {minimum}, got {value!r}'
        raise ValueError(msg)


class ScatteredPatchSampler(RandomPatchSampler):
    """Uniform random patches over footprints that are far apart.

    Draws patch locations with the same distribution as TorchGeo's
    :class:`~torchgeo.samplers.RandomPatchSampler` (uniform over the region where a
    whole patch fits inside the union of the dataset's footprints, snapped to the
    pixel grid; the region is eroded by half a pixel diagonal more, so that snapped
    patches stay inside footprints that are not axis-aligned), but samples each connected part of that region separately: a
    multinomial draw, weighted by area, decides how many patches each part gets, and
    points are then drawn inside each part.

    TorchGeo 0.10 draws inside the bounding box of the whole region and rejects
    points that miss it. For a collection of sites on several continents the region
    is a vanishing share of its bounding box (about 1e-8 for the demo data), and
    that loop practically never ends; here the cost depends only on the number of
    parts. Composes with temporal samplers exactly like ``RandomPatchSampler``
    (``ScatteredPatchSampler(...) @ TemporalViewSampler(...)``).

    Composed with a :class:`~torchgeo_geossl.samplers.TemporalViewSampler`, which
    yields at most one query per location, the epoch length is *length* (an upper
    bound: locations with too few dates are skipped). TorchGeo would instead count a
    random @ sequential composition by iterating one whole epoch, which advances the
    generators and the sampler's statistics.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        size: tuple[float, float] | float,
        length: int | None = None,
        roi: _Region | None = None,
        units: Units = Units.PIXELS,
        generator: int
        | BitGenerator
        | Generator
        | RandomState
        | SeedSequence
        | None = None,
    ) -> None:
        """Initialize a new ScatteredPatchSampler instance.

        Args:
            dataset: Dataset to sample from.
            size: Dimensions of each patch, ``size`` or ``(height, width)``.
            length: Number of random samples to draw per epoch (defaults to about the
                number of non-overlapping patches that fit in the dataset).
            roi: Region of interest to sample from (defaults to the footprints of
                ``dataset.index``): a (multi)polygon in the dataset's CRS, or the
                path of a vector file (GeoPackage, Shapefile, GeoJSON), read with
                :func:`~torchgeo_geossl.datasets.read_region` and reprojected to the
                dataset's CRS.
            units: Whether *size* is in pixels or CRS units.
            generator: Pseudo-random number generator (PRNG) or seed.

        Raises:
            FileNotFoundError: If *roi* names a file that does not exist.
            ValueError: If *size* or *length* is not positive, no patch of *size*
                fits inside any footprint (within *roi*), or the *roi* file is
                not a usable region.

        .. versionchanged:: 0.2
           *roi* may be the path of a vector file.
        """
        _check_patch_size('size', size)
        _check_count('length', length, 1)
        # TorchGeo clips with any (Multi)Polygon; its annotation says Polygon
        region = cast(Polygon | None, _resolve_roi(roi, dataset))
        super().__init__(
            dataset,
            size=size,
            length=length,
            roi=region,
            units=units,
            generator=generator,
        )
        # TorchGeo erodes the footprints by half the patch diagonal; snapping to the
        # pixel grid moves a patch by up to half a pixel diagonal more, enough for a
        # corner to leave a footprint that is not axis-aligned: erode by that too.
        snap = 0.5 * math.hypot(*self.res)
        self.series = self.series.buffer(-snap, join_style='mitre')
        parts = self.series.explode(index_parts=False).reset_index(drop=True)
        parts = parts[~parts.is_empty & (parts.area > 0)]
        if parts.empty:
            xmin, ymin, xmax, ymax = self.geometry.bounds
            msg = (
                f'No patch of {self.size[1]:g} × {self.size[0]:g} CRS units '
                f'(width × height) fits inside the footprints of '
                f'{type(dataset).__name__}'
                + (' within roi' if roi is not None else '')
                + f' (extent {xmax - xmin:g} × {ymax - ymin:g}); use a smaller patch'
            )
            raise ValueError(msg)
        self.parts = parts.reset_index(drop=True)
        area = self.parts.area.to_numpy()
        self.weights = area / area.sum()

    def __iter__(self) -> Iterator[tuple[slice, slice]]:
        """Iterate over random patch locations for one epoch.

        Yields:
            ``[xmin:xmax, ymin:ymax]`` coordinates to index a dataset.
        """
        counts = self.generator.multinomial(len(self), self.weights)
        points = self.parts.sample_points(size=counts, rng=self.generator)
        points = points[~points.is_empty].explode(index_parts=False)
        order = self.generator.permutation(len(points))
        x = points.x.to_numpy()[order]
        y = points.y.to_numpy()[order]

        # Snap the lower-left corner to the pixel grid of the dataset bounds
        height, width = self.size
        xres, yres = self.res
        x0, y0 = self.bounds[0], self.bounds[1]
        xmins = np.round((x - x0 - width / 2) / xres) * xres + x0
        ymins = np.round((y - y0 - height / 2) / yres) * yres + y0
        for xmin, ymin in zip(xmins.tolist(), ymins.tolist(), strict=True):
            yield slice(xmin, xmin + width), slice(ymin, ymin + height)

    def __matmul__(self, other: TemporalSampler) -> SpatioTemporalSampler:
        """Compose with a temporal sampler.

        Args:
            other: A temporal sampling strategy.

        Returns:
            TorchGeo's :class:`~torchgeo.samplers.SpatioTemporalSampler` of both; with
            a :class:`~torchgeo_geossl.samplers.TemporalViewSampler` its length is
            this sampler's length instead of a count by iteration.
        """
        if not isinstance(other, TemporalViewSampler):
            return super().__matmul__(other)
        with warnings.catch_warnings():
            # TorchGeo warns that random @ sequential epochs may vary in length:
            # expected here, locations without enough dates are skipped.
            warnings.filterwarnings('ignore', 'random_sampler @ sequential_sampler')
            composed = super().__matmul__(other)
        composed._length = len(self)
        return composed


class ScatteredGridSampler(GriddedPatchSampler):
    """A grid of patches over footprints that are far apart.

    Yields the patches of TorchGeo's :class:`~torchgeo.samplers.GriddedPatchSampler`
    (patches of *size* every *stride*, snapped to the pixel grid, that overlap the
    interior of the region), but lays one grid over each connected part of the region
    (the union of the dataset's footprints, within *roi*) instead of one grid over
    the bounding box of the whole region, and tests each row of a part's grid at
    once.

    TorchGeo 0.10 tests every cell of the whole bounding box, one at a time. For a
    collection of sites on several continents that is about 8e8 cells for 64-pixel
    patches at 10 m (the demo data): at about 3 µs a cell, some 40 minutes per pass (and
    ``len()`` makes another pass), for a few hundred patches. Here the cost depends
    on the area of the parts. On a region of one part, the patches are
    exactly TorchGeo's, in the same order (row by row from the bottom, each row from
    the left). Parts come in the order of :func:`shapely.get_parts`. Two parts whose
    bounding boxes overlap each get their own grid, so patches of the two may
    overlap. Composes with temporal samplers like ``GriddedPatchSampler``
    (``ScatteredGridSampler(...) @ TemporalViewSampler(...)``).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        size: tuple[float, float] | float,
        stride: tuple[float, float] | float | None = None,
        roi: _Region | None = None,
        units: Units = Units.PIXELS,
    ) -> None:
        """Initialize a new ScatteredGridSampler instance.

        Args:
            dataset: Dataset to sample from.
            size: Dimensions of each patch, ``size`` or ``(height, width)``.
            stride: Distance between the patches of a row or column, a number or
                ``(height, width)`` (defaults to *size*).
            roi: Region of interest to sample from (defaults to the footprints of
                ``dataset.index``): a (multi)polygon in the dataset's CRS, or the
                path of a vector file, as for :class:`ScatteredPatchSampler`.
            units: Whether *size* and *stride* are in pixels or CRS units.

        Raises:
            FileNotFoundError: If *roi* names a file that does not exist.
            ValueError: If *size* or *stride* is not positive, or the *roi* file
                is not a usable region.

        .. versionchanged:: 0.2
           *roi* may be the path of a vector file.
        """
        _check_patch_size('size', size)
        _check_patch_size('stride', stride)
        region = cast(Polygon | None, _resolve_roi(roi, dataset))
        super().__init__(dataset, size=size, stride=stride, roi=region, units=units)
        self.parts = [
            part
            for part in shapely.get_parts(self.geometry)
            if not part.is_empty and part.area > 0
        ]
        for part in self.parts:
            shapely.prepare(part)
        self._count: int | None = None

    def __iter__(self) -> Iterator[tuple[slice, slice]]:
        """Iterate over the patches of every part.

        Yields:
            ``[xmin:xmax, ymin:ymax]`` coordinates to index a dataset.
        """
        height, width = self.size
        for part in self.parts:
            for xmins, ymin in self._rows(part):
                for xmin in xmins.tolist():
                    yield slice(xmin, xmin + width), slice(ymin, ymin + height)

    def __len__(self) -> int:
        """Return the number of patches of an epoch (counted once, then cached).

        Returns:
            The number of patches, summed over the parts.
        """
        if self._count is None:
            self._count = sum(
                len(xmins) for part in self.parts for xmins, _ in self._rows(part)
            )
        return self._count

    def _rows(self, part: Polygon) -> Iterator[tuple[np.ndarray, float]]:
        """The patches of one part's grid that overlap its interior, row by row.

        The grid is TorchGeo's for a region equal to *part*: centred on the part's
        bounding box, its lower-left corner snapped to the dataset's pixel grid.

        Args:
            part: A connected part of the region.

        Yields:
            The left edges of a row's patches (an empty row is left out) and the
            row's bottom edge.
        """
        height, width = self.size
        stride_y, stride_x = self.stride
        xmin, ymin, xmax, ymax = part.bounds
        rows = convolution_arithmetic(ymax - ymin, height, stride_y)
        cols = convolution_arithmetic(xmax - xmin, width, stride_x)
        xmin -= (stride_x * (cols - 1) + width - (xmax - xmin)) / 2
        ymin -= (stride_y * (rows - 1) + height - (ymax - ymin)) / 2
        xres, yres = self.res[0], self.res[1]
        xmin = round((xmin - self.bounds[0]) / xres) * xres + self.bounds[0]
        ymin = round((ymin - self.bounds[1]) / yres) * yres + self.bounds[1]
        xs = xmin + np.arange(cols) * stride_x
        for i in range(rows):
            y = ymin + i * stride_y
            boxes = shapely.box(xs, y, xs + width, y + height)
            inside = shapely.intersects(part, boxes) & ~shapely.touches(part, boxes)
            if inside.any():
                yield xs[inside], y


class FootprintGridSampler(GridGeoSampler):
    """TorchGeo's grid of patches, kept where a patch lies inside its file's footprint.

    :class:`~torchgeo.samplers.GridGeoSampler` tiles the bounding box of each file,
    with the file's time span; where the footprint is not that box (files
    reprojected to another CRS), patches at the corners fall outside the data and
    the dataset finds nothing there. This sampler yields only the patches that lie
    wholly inside the footprint: one query per location and date.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        dataset: GeoDataset,
        size: tuple[float, float] | float,
        roi: Polygon | MultiPolygon | None = None,
        toi: pd.Interval | None = None,
    ) -> None:
        """Initialize a new FootprintGridSampler instance.

        Args:
            dataset: Dataset to index from.
            size: Side of the patches in pixels, ``size`` or ``(height, width)``;
                the stride is the size (patches side by side).
            roi: Region of interest to sample from (dataset CRS).
            toi: Time of interest to sample from.
        """
        with warnings.catch_warnings():
            # TorchGeo 0.10.1's grid calls its own deprecated tile_to_chips
            warnings.filterwarnings(
                'ignore', 'Use torchgeo.samplers.utils', DeprecationWarning
            )
            super().__init__(
                dataset, size=size, stride=size, roi=cast(Polygon | None, roi), toi=toi
            )
            self.queries = [q for q in super().__iter__() if self._inside(q)]

    def _inside(self, query: tuple[slice, slice, slice]) -> bool:
        """Whether a patch lies inside the footprint of a file of its date.

        Args:
            query: ``[xmin:xmax, ymin:ymax, tmin:tmax]``.

        Returns:
            True if some file of the query's time span contains the patch.
        """
        x, y, t = query
        box = shapely.box(x.start, y.start, x.stop, y.stop)
        same_time = self.index.index.left == t.start
        return bool(shapely.contains(self.index.geometry[same_time], box).any())

    def __iter__(self) -> Iterator[tuple[slice, slice, slice]]:
        """Iterate over the patches inside the footprints.

        Yields:
            ``[xmin:xmax, ymin:ymax, tmin:tmax]`` coordinates to index a dataset.
        """
        yield from self.queries

    def __len__(self) -> int:
        """Return the number of patches.

        Returns:
            The number of patches inside the footprints.
        """
        return len(self.queries)

"""Held-out locations and dates: a spatial grid split and a calendar-month split."""

import copy
import dataclasses
import math
from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
import shapely
from shapely import MultiPolygon, Polygon
from torchgeo.datasets import GeoDataset
from torchgeo.samplers import SpatialSampler

#: The splits of a :class:`HeldOutSplit`.
Split = Literal['train', 'val', 'test']


@dataclasses.dataclass(frozen=True)
class HeldOutSplit:
    """Which locations and dates pre-training never sees, for validation and test.

    **Locations.** A square grid of *cell_size* (units of the dataset CRS, metres for
    the demo data) is laid over the dataset's footprints, from the lower-left corner
    of their bounds. Of the cells that intersect a footprint, a share *val_fraction*
    goes to validation and *test_fraction* to test (a seeded random choice); the
    rest are for training. Training patches lie wholly inside training cells and
    evaluation patches wholly inside their own split's cells, so the splits never
    share a pixel.

    **Dates.** Acquisitions whose start falls in one of *val_months* (calendar months,
    1–12) are for validation only, in *test_months* for test only, and all others for
    training only. A split without months (the default) is a spatial hold-out
    alone: its places are seen at every date (the held-out months of the other split
    included).

    Args:
        cell_size: Side of the grid cells in CRS units (> 0).
        val_fraction: Share of the cells held out for validation, in [0, 1).
        test_fraction: Share of the cells held out for test, in [0, 1).
        val_months: Calendar months of the validation dates.
        test_months: Calendar months of the test dates.
        seed: Seed of the assignment of cells to splits.

    Raises:
        ValueError: If a value is out of range or a month is in both lists.

    .. versionadded:: 0.2
    """

    cell_size: float
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    val_months: tuple[int, ...] = ()
    test_months: tuple[int, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        """Check the fields.

        Raises:
            ValueError: If a value is out of range or a month is in both lists.
        """
        if not (math.isfinite(self.cell_size) and self.cell_size > 0):
            msg = f'cell_size={self.cell_size} must be a positive length in CRS units'
            raise ValueError(msg)
        for name in ('val_fraction', 'test_fraction'):
            value = getattr(self, name)
            if not 0 <= value < 1:
                msg = f'{name}={value} must lie in [0, 1)'
                raise ValueError(msg)
        if self.val_fraction + self.test_fraction >= 1:
            msg = (
                f'val_fraction + test_fraction = '
                f'{self.val_fraction + self.test_fraction} leaves no training cells; '
                'it must be below 1'
            )
            raise ValueError(msg)
        object.__setattr__(self, 'val_months', tuple(self.val_months))
        object.__setattr__(self, 'test_months', tuple(self.test_months))
        for name in ('val_months', 'test_months'):
            bad = [m for m in getattr(self, name) if not 1 <= m <= 12]
            if bad:
                msg = f'{name} must be calendar months 1-12, got {bad}'
                raise ValueError(msg)
        shared = sorted(set(self.val_months) & set(self.test_months))
        if shared:
            msg = f'months {shared} are in both val_months and test_months'
            raise ValueError(msg)

    def months(self, split: Split) -> set[int]:
        """The calendar months of a split's dates.

        Args:
            split: ``'train'``, ``'val'`` or ``'test'``.

        Returns:
            The months (1–12): every month for a held-out split without months.

        .. versionchanged:: 0.2
           A held-out split without months has every month (was: none).
        """
        held_out = {'val': set(self.val_months), 'test': set(self.test_months)}
        if split == 'train':
            return set(range(1, 13)) - held_out['val'] - held_out['test']
        return held_out[split] or set(range(1, 13))

    def cells(self, dataset: GeoDataset) -> dict[Split, list[Polygon]]:
        """The grid cells of each split, clipped to the dataset's footprints.

        Args:
            dataset: The dataset whose footprints the grid covers.

        Returns:
            For each split, its cells intersected with the union of the footprints
            (empty intersections left out), in grid order.
        """
        footprint = dataset.index.geometry.union_all()
        xmin, ymin, xmax, ymax = footprint.bounds
        size = self.cell_size
        cols = max(1, math.ceil((xmax - xmin) / size))
        rows = max(1, math.ceil((ymax - ymin) / size))
        # Only the cells that touch a footprint: query the spatial index per footprint
        tree = shapely.STRtree(list(shapely.get_parts(footprint)))
        candidates: set[tuple[int, int]] = set()
        for part in tree.geometries:
            pxmin, pymin, pxmax, pymax = part.bounds
            for i in range(
                int((pymin - ymin) // size), int((pymax - ymin) // size) + 1
            ):
                for j in range(
                    int((pxmin - xmin) // size), int((pxmax - xmin) // size) + 1
                ):
                    if 0 <= i < rows and 0 <= j < cols:
                        candidates.add((i, j))
        clipped = []
        for i, j in sorted(candidates):
            box = shapely.box(
                xmin + j * size,
                ymin + i * size,
                xmin + (j + 1) * size,
                ymin + (i + 1) * size,
            )
            cell = shapely.intersection(box, footprint)
            if not cell.is_empty and cell.area > 0:
                clipped.append(cell)
        order = np.random.default_rng(self.seed).permutation(len(clipped))
        n_val = round(self.val_fraction * len(clipped))
        n_test = round(self.test_fraction * len(clipped))
        assignment: dict[Split, list[int]] = {
            'val': sorted(order[:n_val].tolist()),
            'test': sorted(order[n_val : n_val + n_test].tolist()),
            'train': sorted(order[n_val + n_test :].tolist()),
        }
        return {split: [clipped[k] for k in ks] for split, ks in assignment.items()}

    def region(self, dataset: GeoDataset, split: Split) -> Polygon | MultiPolygon:
        """The union of a split's cells within the dataset's footprints.

        Args:
            dataset: The dataset whose footprints the grid covers.
            split: ``'train'``, ``'val'`` or ``'test'``.

        Returns:
            The region, in the dataset CRS.

        Raises:
            ValueError: If the split has no cell (too few cells for its fraction).
        """
        cells = self.cells(dataset)[split]
        if not cells:
            msg = (
                f'the {split} split has no grid cell: {type(dataset).__name__} covers '
                f'too few cells of cell_size={self.cell_size:g}; lower cell_size or '
                f'raise the {split} fraction'
            )
            raise ValueError(msg)
        region = shapely.union_all(cells)
        assert isinstance(region, Polygon | MultiPolygon)
        return region

    def dates(self, dataset: GeoDataset, split: Split) -> GeoDataset:
        """A shallow copy of *dataset* that indexes only the dates of *split*.

        Args:
            dataset: Any TorchGeo ``GeoDataset`` with dated files.
            split: ``'train'``, ``'val'`` or ``'test'``.

        Returns:
            The dataset with the rows of its index whose start month belongs to the
            split (the files are shared, not copied).

        Raises:
            ValueError: If the split selects no file.
        """
        months = self.months(split)
        mask = np.isin(dataset.index.index.left.month, sorted(months))
        if not mask.any():
            found = sorted(set(dataset.index.index.left.month.tolist()))
            msg = (
                f'the {split} months {sorted(months)} select no file of '
                f'{type(dataset).__name__} (its files start in months {found})'
            )
            raise ValueError(msg)
        subset = copy.copy(dataset)
        subset.index = dataset.index.iloc[mask]
        return subset


class HeldOutPlaces(SpatialSampler):
    """A fixed grid of patches wholly inside each cell of a held-out region.

    The places of a held-out evaluation: in every cell, patches of *size* pixels
    side by side from the cell's lower-left corner, snapped to the dataset's pixel
    grid, kept when they lie wholly inside the cell. Compose with a temporal
    sampler (``HeldOutPlaces(...) @ TemporalViewSampler(...)``) for the views.

    .. versionadded:: 0.2
    """

    strategy: Literal['random', 'sequential'] = 'sequential'

    def __init__(
        self, dataset: GeoDataset, cells: Sequence[Polygon], size: int
    ) -> None:
        """Initialize a new HeldOutPlaces instance.

        Args:
            dataset: The dataset the patches index (for its resolution and bounds).
            cells: The held-out cells (polygons in the dataset CRS).
            size: Side of the patches in pixels.

        Raises:
            ValueError: If no patch fits inside any cell.
        """
        super().__init__(dataset)
        xres, yres = dataset.res
        width, height = size * xres, size * yres
        x0, y0 = self.bounds[0], self.bounds[1]
        boxes: list[tuple[float, float]] = []
        for cell in cells:
            cxmin, cymin, cxmax, cymax = cell.bounds
            left = math.ceil((cxmin - x0) / xres) * xres + x0
            bottom = math.ceil((cymin - y0) / yres) * yres + y0
            for y in np.arange(bottom, cymax - height + yres / 2, height):
                for x in np.arange(left, cxmax - width + xres / 2, width):
                    box = shapely.box(x, y, x + width, y + height)
                    if shapely.contains(cell, box):
                        boxes.append((float(x), float(y)))
        if not boxes:
            msg = (
                f'no patch of {size} px fits inside the {len(cells)} held-out cells; '
                'raise the cell size or lower the patch size'
            )
            raise ValueError(msg)
        #: Side of the patches in pixels.
        self.pixels = size
        self.size = (height, width)
        self.boxes = boxes

    def __iter__(self) -> Iterator[tuple[slice, slice]]:
        """Iterate over the places.

        Yields:
            ``[xmin:xmax, ymin:ymax]`` coordinates to index a dataset.
        """
        height, width = self.size
        for x, y in self.boxes:
            yield slice(x, x + width), slice(y, y + height)

    def __len__(self) -> int:
        """Return the number of places.

        Returns:
            The number of patches.
        """
        return len(self.boxes)


def block_split(
    points: npt.ArrayLike,
    block_size: float,
    val_fraction: float,
    test_fraction: float,
    seed: int = 0,
) -> dict[Split, npt.NDArray[np.int64]]:
    """Split located samples by blocks of longitude and latitude.

    The spatial hold-out of the data modules whose samples are points (S2-100K,
    SeCo, SSL4EO-S12): every sample falls in a block of *block_size* degrees; a
    seeded random share *val_fraction* of the occupied blocks goes to validation,
    *test_fraction* to test and the rest to training, so that no block, and no
    location, is shared between splits.

    Args:
        points: ``[N, 2]`` (lon, lat) in degrees.
        block_size: Side of the blocks in degrees (> 0).
        val_fraction: Share of the blocks held out for validation, in [0, 1).
        test_fraction: Share of the blocks held out for test, in [0, 1).
        seed: Seed of the assignment of blocks to splits.

    Returns:
        For each split, the sorted indices of its samples.

    Raises:
        ValueError: If *block_size* is not positive, a fraction is out of range, or
            a split asked for (fraction > 0, and training) gets no sample: the
            error names the parameter to change.

    .. versionadded:: 0.2
    """
    if not (math.isfinite(block_size) and block_size > 0):
        msg = f'block_size={block_size} must be a positive number of degrees'
        raise ValueError(msg)
    for name, value in (
        ('val_fraction', val_fraction),
        ('test_fraction', test_fraction),
    ):
        if not 0 <= value < 1:
            msg = f'{name}={value} must lie in [0, 1)'
            raise ValueError(msg)
    coords = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    blocks = np.floor(coords / block_size).astype(np.int64)
    _, group = np.unique(blocks, axis=0, return_inverse=True)
    group = group.reshape(-1)
    count = int(group.max()) + 1 if len(group) else 0
    order = np.random.default_rng(seed).permutation(count)
    n_val = round(val_fraction * count)
    n_test = round(test_fraction * count)
    chosen: dict[Split, npt.NDArray[np.int64]] = {
        'val': order[:n_val],
        'test': order[n_val : n_val + n_test],
        'train': order[n_val + n_test :],
    }
    result = {
        split: np.flatnonzero(np.isin(group, ids)).astype(np.int64)
        for split, ids in chosen.items()
    }
    wanted = {'train': 1.0, 'val': val_fraction, 'test': test_fraction}
    for split, indices in result.items():
        if wanted[split] > 0 and not len(indices):
            hint = (
                'lower val_split_pct and test_split_pct'
                if split == 'train'
                else f'raise {split}_split_pct or lower block_size'
            )
            msg = (
                f'the {split} split is empty: {len(coords)} samples fall in {count} '
                f'blocks of block_size={block_size:g} degrees, of which '
                f'{len(chosen[split])} go to {split}; {hint}'
            )
            raise ValueError(msg)
    return result

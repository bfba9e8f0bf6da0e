"""Data module of labelled points read from a CSV or vector file (geo-prior training)."""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import pandas as pd
import torch
from matplotlib.figure import Figure
from torch import Tensor
from torchgeo.datamodules import NonGeoDataModule
from torchgeo.datasets import NonGeoDataset
from torchgeo.datasets.utils import Sample

from ..datasets.vector import read_labelled_points
from .resumable import ResumableTrainMixin


class _PointsSplit(NonGeoDataset):
    """Samples ``{'point': float64 [2], 'label': int64}`` of one split."""

    def __init__(self, points: Tensor, labels: Tensor) -> None:
        """Initialize a new split.

        Args:
            points: ``[N, 2]`` ``(lon, lat)`` in degrees, float64.
            labels: ``[N]`` class indices, int64.
        """
        self.points = points
        self.labels = labels

    def __len__(self) -> int:
        """Number of points.

        Returns:
            The length of the split.
        """
        return len(self.labels)

    def __getitem__(self, index: int) -> Sample:
        """One labelled point.

        Args:
            index: Index of the point.

        Returns:
            ``point`` ``[2]`` and ``label`` (scalar).
        """
        return {'point': self.points[index], 'label': self.labels[index]}


class PointsDataModule(ResumableTrainMixin, NonGeoDataModule):
    """Labelled ``(lon, lat)`` points from a CSV or vector file, split randomly or by blocks.

    Each row is one observation: a longitude and latitude in degrees (WGS84) and a
    class name. A file that does not end in ``.csv`` is read as a vector file
    (GeoPackage, Shapefile, GeoJSON; :func:`~torchgeo_geossl.datasets.read_labelled_points`):
    one Point feature per observation, in any CRS (reprojected to longitude and
    latitude), with the class name in the attribute *label_column*. Batches hold ``point`` (``[B, 2]``, float64, ``(lon, lat)``) and
    ``label`` (``[B]``, int64), the input of
    :class:`~torchgeo_geossl.trainers.GeoPriorTask`. Class names are mapped to
    indices in alphabetical order (:attr:`classes`), unless *classes* fixes them.

    The column names default to those of the WRI Global Power Plant Database
    (``longitude``, ``latitude``, ``primary_fuel``).

    Splits (fixed by *seed*):

    * ``'random'``: each point goes to test, val or train at random.
    * ``'block'``: the map is cut into ``block_size`` × ``block_size`` degree cells;
      whole cells, in random order, go to test as long as it holds at most
      ``test_split_pct`` of the points, then likewise to val, the rest to train, so
      that no cell is shared between splits (less spatial leakage than a random
      split; the held-out shares may be below the requested ones).

    The training loader shuffles with *seed* and the epoch number, shards the
    points across processes and resumes mid-epoch
    (:class:`~torchgeo_geossl.datamodules.ResumableTrainMixin`).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        lon_column: str = 'longitude',
        lat_column: str = 'latitude',
        label_column: str = 'primary_fuel',
        classes: Sequence[str] | None = None,
        split: Literal['random', 'block'] = 'random',
        val_split_pct: float = 0.1,
        test_split_pct: float = 0.1,
        block_size: float = 10.0,
        seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
    ) -> None:
        """Initialize a new PointsDataModule instance.

        Args:
            path: CSV file with one row per point, or a vector file of Point
                features (any other suffix than ``.csv``).
            lon_column: Column of the longitudes in degrees (CSV only).
            lat_column: Column of the latitudes in degrees (CSV only).
            label_column: Column (attribute of a vector file) of the class names.
            classes: Class names in label order; None for the sorted distinct
                values of *label_column*.
            split: ``'random'`` or ``'block'`` (spatial blocks).
            val_split_pct: Fraction of the points for validation.
            test_split_pct: Fraction of the points for testing.
            block_size: Side of the spatial blocks in degrees (``'block'`` split).
            seed: Seed of the split and of the training order.
            batch_size: Size of each mini-batch.
            num_workers: Number of workers for parallel data loading.

        Raises:
            ValueError: If a parameter is out of range.

        .. versionchanged:: 0.2
           *path* may be a vector file.
        """
        if split not in ('random', 'block'):
            raise ValueError(f"split must be 'random' or 'block', got {split!r}")
        if not (
            0 <= val_split_pct < 1
            and 0 <= test_split_pct < 1
            and val_split_pct + test_split_pct < 1
        ):
            msg = (
                'val_split_pct and test_split_pct must be in [0, 1) with a sum below '
                f'1, got {val_split_pct} and {test_split_pct}'
            )
            raise ValueError(msg)
        if not block_size > 0:
            raise ValueError(f'block_size must be positive, got {block_size}')
        super().__init__(_PointsSplit, batch_size=batch_size, num_workers=num_workers)
        self.path = Path(path)
        self.lon_column = lon_column
        self.lat_column = lat_column
        self.label_column = label_column
        self.split = split
        self.val_split_pct = val_split_pct
        self.test_split_pct = test_split_pct
        self.block_size = block_size
        self.seed = seed
        self.classes: list[str] | None = list(classes) if classes is not None else None
        self.points: Tensor | None = None
        self.labels: Tensor | None = None

    def load(self) -> tuple[Tensor, Tensor]:
        """Read and check the CSV or vector file; set :attr:`classes`.

        Returns:
            Points ``[N, 2]`` (float64, ``(lon, lat)``) and labels ``[N]`` (int64).

        Raises:
            FileNotFoundError: If the file does not exist.
            ValueError: If a column is missing, a value is missing or not a
                number, a coordinate is out of range, or a label is not in
                *classes*; for a vector file also if it has no CRS, no
                feature, or a feature that is not a Point.
        """
        if not self.path.is_file():
            raise FileNotFoundError(
                f'PointsDataModule: no such file {str(self.path)!r}'
            )
        if self.path.suffix.lower() == '.csv':
            coords, labels = self._read_csv()
            # rows are reported by line number, after the header
            first, unit, where = 2, 'row(s)', 'lines'
        else:
            coords, labels = read_labelled_points(self.path, self.label_column)
            first, unit, where = 0, 'feature(s)', 'features'
        lon, lat = coords[:, 0], coords[:, 1]
        bad = ~np.isfinite(coords).all(axis=1)
        bad |= (np.abs(lon) > 180) | (np.abs(lat) > 90)
        bad |= pd.isna(pd.Series(labels, dtype=object)).to_numpy()
        if bad.any():
            rows = (np.flatnonzero(bad)[:5] + first).tolist()
            msg = (
                f'{str(self.path)!r}: {int(bad.sum())} {unit} have a missing label or '
                f'a longitude outside [-180, 180] / latitude outside [-90, 90] or not '
                f'a number, e.g. {where} {rows}'
            )
            raise ValueError(msg)
        names = np.array([str(name) for name in labels], dtype=str)
        if self.classes is None:
            self.classes = sorted(set(names.tolist()))
        index = {name: i for i, name in enumerate(self.classes)}
        unknown = sorted(set(names.tolist()) - index.keys())
        if unknown:
            msg = (
                f'{str(self.path)!r}: labels {unknown[:10]} are not in classes '
                f'{self.classes}'
            )
            raise ValueError(msg)
        codes = np.array([index[name] for name in names], dtype=np.int64)
        return torch.from_numpy(coords), torch.from_numpy(codes)

    def _read_csv(self) -> tuple[npt.NDArray[np.float64], list[Any]]:
        """Read the coordinates and labels of the CSV file.

        Returns:
            ``[N, 2]`` coordinates (NaN where not a number) and the N labels (NaN
            where missing).

        Raises:
            ValueError: If a column is missing.
        """
        columns = [self.lon_column, self.lat_column, self.label_column]
        frame = pd.read_csv(self.path, dtype={self.label_column: str})
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            msg = (
                f'{str(self.path)!r} has no column(s) {missing}; columns: '
                f'{list(frame.columns)} (set lon_column, lat_column, label_column)'
            )
            raise ValueError(msg)
        lonlat = frame[[self.lon_column, self.lat_column]].apply(
            pd.to_numeric, errors='coerce'
        )
        coords = lonlat.to_numpy(dtype=np.float64, copy=True)
        return coords, frame[self.label_column].tolist()

    def split_indices(
        self, points: Tensor
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Indices of the train, val and test points.

        Args:
            points: ``[N, 2]`` ``(lon, lat)`` in degrees.

        Returns:
            Sorted train, val and test indices.
        """
        rng = np.random.default_rng(self.seed)
        n = len(points)
        fractions = np.array([self.test_split_pct, self.val_split_pct])
        if self.split == 'random':
            order = rng.permutation(n)
            test_end, val_end = np.round(np.cumsum(fractions) * n).astype(int)
            parts = np.split(order, [test_end, val_end])
        else:
            cells = np.floor(points.numpy() / self.block_size).astype(np.int64)
            _, group, counts = np.unique(
                cells, axis=0, return_inverse=True, return_counts=True
            )
            group = group.reshape(-1)
            cell_order = rng.permutation(len(counts))
            # cumulative share of points after each cell, in the random cell order
            filled = np.cumsum(counts[cell_order]) / n
            in_test = filled <= fractions[0]
            test_share = filled[in_test][-1] if in_test.any() else 0.0
            in_val = ~in_test & (filled <= test_share + fractions[1])
            test_cells, val_cells = cell_order[in_test], cell_order[in_val]
            parts = [
                np.flatnonzero(np.isin(group, test_cells)),
                np.flatnonzero(np.isin(group, val_cells)),
            ]
            parts.append(np.setdiff1d(np.arange(n), np.concatenate(parts)))
        test, val, train = (np.sort(p).astype(np.int64) for p in parts)
        return train, val, test

    def setup(self, stage: str) -> None:
        """Read the CSV file once and build the three splits.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.

        Raises:
            ValueError: If the training split is smaller than one batch.
        """
        if self.points is None or self.labels is None:
            self.points, self.labels = self.load()
        train, val, test = self.split_indices(self.points)
        if stage == 'fit' and len(train) < self.batch_size:
            msg = (
                f'PointsDataModule: the training split of {str(self.path)!r} has '
                f'{len(train)} points, fewer than batch_size={self.batch_size} '
                '(incomplete batches are dropped); lower batch_size'
            )
            raise ValueError(msg)
        self.train_dataset = _PointsSplit(self.points[train], self.labels[train])
        self.val_dataset = _PointsSplit(self.points[val], self.labels[val])
        self.test_dataset = _PointsSplit(self.points[test], self.labels[test])
        self.predict_dataset = self.test_dataset

    def on_after_batch_transfer(self, batch: Sample, dataloader_idx: int) -> Sample:
        """Return the batch unchanged (points need no image normalisation).

        Args:
            batch: A batch with ``point`` and ``label``.
            dataloader_idx: Index of the dataloader.

        Returns:
            The batch.
        """
        return batch

    def plot(
        self, sample: Sample, show_titles: bool = True, suptitle: str | None = None
    ) -> Figure:
        """Plot labelled points on a longitude/latitude map.

        The points of the CSV file are drawn in grey, those of *sample* (one
        point, or a batch) in colour by class.

        Args:
            sample: A sample or batch with ``point`` (``[2]`` or ``[B, 2]``,
                ``(lon, lat)``) and ``label``.
            show_titles: Flag indicating whether to title the map with the class
                name(s) of the sample.
            suptitle: Optional string to use as a suptitle.

        Returns:
            A matplotlib Figure with one map.

        Raises:
            RuntimeError: If the points are not read yet (call ``setup`` first).

        .. versionadded:: 0.2
        """
        if self.points is None or self.classes is None:
            msg = 'PointsDataModule.plot needs the points: call setup("fit") first'
            raise RuntimeError(msg)
        points = sample['point'].detach().cpu().reshape(-1, 2).numpy()
        labels = sample['label'].detach().cpu().reshape(-1).tolist()
        fig, ax = plt.subplots(figsize=(8, 4.5))
        everything = self.points.numpy()
        ax.scatter(everything[:, 0], everything[:, 1], s=4, c='lightgrey')
        colours = plt.get_cmap('tab10')
        for label in sorted(set(labels)):
            mine = points[[i for i, other in enumerate(labels) if other == label]]
            ax.scatter(
                mine[:, 0],
                mine[:, 1],
                s=30,
                color=colours(label % 10),
                label=self.classes[label],
            )
        ax.set_xlim(-180, 180)
        ax.set_ylim(-90, 90)
        ax.set_aspect('equal')
        ax.set_xlabel('longitude (°)')
        ax.set_ylabel('latitude (°)')
        ax.legend(loc='lower left', fontsize=8)
        if show_titles:
            ax.set_title(
                ', '.join(self.classes[label] for label in sorted(set(labels)))
            )
        if suptitle is not None:
            fig.suptitle(suptitle)
        return fig

"""Representation quality of self-supervised pretraining: same data, same budget.

Run from anywhere (paths resolve relative to this file)::

    .venv/bin/python benchmarks/pretrain_probe.py [--quick] [--device cpu|cuda|mps]
        [--tracks oscd-rgb,oscd-13,landsat] [--patch-size P] [--steps S]
        [--batch-size B] [--pool N] [--seeds K] [--data-root DIR] [--out DIR]

Every method pretrains a ResNet-18 from the same random initialisation, on the
same unlabelled real samples in the same order, with the same patch size, number
of steps and batch size, then its frozen backbone is evaluated. The methods:

* ``random-init``: the common initialisation, not trained (the floor);
* ``torchgeo-moco-v2``: ``torchgeo.tasks.MoCo(version=2)``, two augmentations of
  one image;
* ``torchgeo-simclr``: ``torchgeo.tasks.SimCLR(version=2)``, two augmentations of
  one image;
* ``gassl-moco-v2``, ``gassl-geo``, ``gassl-tp``, ``gassl-tp-geo``:
  ``torchgeo_geossl.trainers.GeoMoCoTask`` in the four variants of Table 1 of
  Ayush et al. (ICCV 2021), temporal positives (TP) off/on and geo-location
  classification (Geo) off/on;
* ``seco``: ``torchgeo_geossl.trainers.SeCoTask``, which needs three acquisitions
  per location in distinct seasons: only the Landsat track has them (OSCD has two
  dates per city), so it is marked as not applicable on the OSCD tracks.

Hyperparameters are each method's own defaults, except what the shared budget
fixes: the backbone, the patch size (which is also the crop size of every
augmentation), the number of steps, the batch size and the number of negatives
(``--queue`` for the queues and TorchGeo's memory banks). Learning rates follow
each method's linear scaling rule for the batch size: 0.03 · B / 256 for the
MoCo-family tasks (SGD) and 0.3 · B / 256 for SimCLR (LARS), as TorchGeo's
docstrings recommend. Training runs in a plain Lightning ``Trainer`` for one
epoch of exactly ``--steps`` batches, so every epoch-based schedule stays at its
first-epoch value; the learning rate actually used is recorded.

Pretraining data (the tracks), read through this package's temporal pipeline
(``ScatteredPatchSampler @ TemporalViewSampler`` and ``TemporalViewsDataset``) into
a pool of ``--pool`` samples that every method then draws its batches from, in the
same seeded order:

* ``oscd-rgb``: OSCD Sentinel-2 L1C, bands B04, B03, B02, cities aguasclaras,
  bercy, hongkong and paris (OSCD's train split), both dates (2 views);
* ``oscd-13``: the same locations and dates with all 13 bands;
* ``landsat``: the Colorado Landsat series (b3 red, b4 NIR, b5 SWIR1), 3 views per
  location in distinct quarters (SeCo's seasons). Scenes with more than 5 % nodata
  over the site are left out first: the 61 Landsat-7 SLC-off scenes have 14-26 %
  nodata in stripes across the whole window, so no patch avoids them; the 44
  Landsat-5 scenes (2008-2011) remain.

Methods with one view per sample (TorchGeo's MoCo and SimCLR, GASSL without TP)
use view 0, a uniformly drawn acquisition; GASSL with TP uses views 0 and 1; SeCo
uses three views. The geo-location labels are k-means clusters
(``GeoClusters``, ``--geo-classes``) of the pool's patch centres.

Evaluation of each frozen backbone (global-average-pooled features):

* **linear probe** on ``eurosat-rgb-small`` (1,000 RGB images, 10 classes): a
  fixed stratified half per class for training and the other half for testing;
  each seed fits a logistic regression (scikit-learn, standardised features) on a
  stratified 80 % subsample of the training half and scores top-1 accuracy on the
  whole test half; mean ± std over seeds. EuroSAT is scaled with its own per-channel
  statistics. 13-band backbones see RGB through the B04, B03, B02 input channels of
  their first convolution (the other 10 are dropped, weights not rescaled);
  Landsat backbones see EuroSAT's R, G, B in their b3, b4, b5 channels, a band
  mismatch (only red matches), so compare Landsat rows with each other only;
* **temporal retrieval** on locations never seen in pretraining: a grid of
  non-overlapping patches of ``--retrieval-patch-size`` (default 32 px, 183
  locations, whatever ``--patch-size`` is: 64 px patches leave only 35, 128 px
  patches 4) over OSCD's test cities norcia and rio; each patch at the
  first date is matched to the most cosine-similar patch at the second date among
  all locations, and vice versa; top-1 accuracy of the two directions and their
  mean, chance = 1 / locations. The Landsat track uses OSCD bands B04, B08, B11,
  the Sentinel-2 counterparts of Landsat b3, b4, b5.

Every data set is scaled per band to [0, 1] by its own 2nd and 98th percentiles
(clipped; nodata set to 0), so that the colour augmentations see the value range
they expect.

The full mode (32 px patches, batch 32, 1,400 steps, pools of 2,048, all of
EuroSAT and of the held-out grid, 5 seeds) is sized for about one hour on 2 CPU
cores. ``--quick`` (CI smoke run, under a minute): batch 8, 3 steps, pools of 48,
10 training and 10 test EuroSAT images per class, 24 retrieval locations, 2 seeds.
``--device cuda`` with a larger ``--patch-size``, ``--batch-size`` and ``--steps``
gets closer to the papers' settings; the Landsat track holds patches of at most
40 px (its footprint is 61 px wide and TorchGeo's samplers keep patch centres half a
patch diagonal inside it) and is left out above that, with a message.

CPU threads: when run as a script without ``OMP_WAIT_POLICY`` in the environment,
it re-executes itself with ``OMP_WAIT_POLICY=PASSIVE`` (as ``train_step.py`` does):
with OpenMP's default spinning, other busy processes on a machine whose every core
runs a torch thread made training steps about 6 times slower here. Set the variable
to choose another policy.

Output, in ``--out`` (default ``benchmarks/results/``): ``pretrain_probe.md``
(markdown tables), ``pretrain_probe.png`` (bar charts with error bars) and
``pretrain_probe.json`` (all numbers per seed, the configuration, the exact
command and the machine). If ``--data-root`` or a data folder it needs is missing,
the script prints one line on stderr and exits with status 2.
"""

import argparse
import copy
import csv
import datetime as dt
import json
import logging
import os
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning
import numpy as np
import pandas as pd
import timm
import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, LightningModule, Trainer
from machine import describe_machine
from matplotlib import pyplot as plt
from real_data import ColoradoLandsat
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torchgeo.datasets import DatasetNotFoundError, GeoDataset, RasterDataset
from torchgeo.datasets.utils import GeoSlice
from torchgeo.samplers import GriddedPatchSampler
from torchgeo.tasks import MoCo, SimCLR
from torchvision.io import ImageReadMode, decode_image

from torchgeo_geossl.datasets import TemporalViewsDataset
from torchgeo_geossl.location import GeoClusters
from torchgeo_geossl.samplers import (
    ScatteredPatchSampler,
    TemporalViewSampler,
    ViewsQuery,
)
from torchgeo_geossl.trainers import GeoMoCoTask, SeCoTask

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = REPO.parent / 'shared' / 'data'
OSCD = 'oscd-s2-bitemporal'
LANDSAT = 'landsat-timeseries-colorado'
EUROSAT = 'eurosat-rgb-small'
OSCD_BANDS = (
    'B01',
    'B02',
    'B03',
    'B04',
    'B05',
    'B06',
    'B07',
    'B08',
    'B8A',
    'B09',
    'B10',
    'B11',
    'B12',
)
OSCD_RGB = ('B04', 'B03', 'B02')
#: Sentinel-2 counterparts of Landsat TM/ETM+ b3 (red), b4 (NIR), b5 (SWIR1).
OSCD_LANDSAT_LIKE = ('B04', 'B08', 'B11')
#: OSCD's train split (pretraining) and test split (retrieval), as present.
TRAIN_CITIES = ('aguasclaras', 'bercy', 'hongkong', 'paris')
HELD_OUT_CITIES = ('norcia', 'rio')
#: Common grid of all OSCD cities (EPSG:4326, about 10 m; natively 9.2e-5 to
#: 1.16e-4 degrees depending on the city).
OSCD_RES = 1e-4
#: Largest patch for the Landsat track: its footprint is 61 px wide, and TorchGeo's
#: random samplers keep patch centres half a patch diagonal inside it.
LANDSAT_MAX_PATCH = 40
#: Scenes with a larger share of nodata pixels over the site are left out.
LANDSAT_MAX_NODATA = 0.05
MODEL = 'resnet18'
#: Dimension of its pooled features (the MoCo-v2 projection's hidden layer).
FEATURE_DIM = 512
#: Seed of EuroSAT's training/test split, the same for every run.
EUROSAT_SPLIT_SEED = 0
OUTPUT_DIM = 128
#: Share of the EuroSAT training half each probe seed fits on.
PROBE_TRAIN_FRACTION = 0.8
METHODS = (
    'random-init',
    'torchgeo-moco-v2',
    'torchgeo-simclr',
    'gassl-moco-v2',
    'gassl-geo',
    'gassl-tp',
    'gassl-tp-geo',
    'seco',
)
#: (temporal positives, geo head) of the four GeoMoCoTask variants of Table 1.
GASSL_VARIANTS = {
    'gassl-moco-v2': (False, False),
    'gassl-geo': (False, True),
    'gassl-tp': (True, False),
    'gassl-tp-geo': (True, True),
}
QUICK = {
    'patch_size': 32,
    'steps': 3,
    'batch_size': 8,
    'pool': 48,
    'seeds': 2,
    'eurosat_per_class': 10,
    'retrieval_locations': 24,
}
FULL = {
    'patch_size': 32,
    'steps': 1400,
    'batch_size': 32,
    'pool': 2048,
    'seeds': 5,
    'eurosat_per_class': None,
    'retrieval_locations': None,
}


class BadInputError(Exception):
    """Missing or unreadable data, or a setting the data cannot satisfy."""


@dataclass
class Track:
    """One pretraining data set.

    Args:
        name: Name of the track.
        description: What the data is.
        in_channels: Bands of the pretraining data.
        views: Acquisitions per pooled sample.
        eurosat_channels: For each input channel of the backbone, the EuroSAT
            channel (0 red, 1 green, 2 blue) fed into it, or None to drop it.
        retrieval_bands: OSCD bands of the held-out retrieval patches, one per
            input channel.
        note: Caveat shown with the results.
    """

    name: str
    description: str
    in_channels: int
    views: int
    eurosat_channels: tuple[int | None, ...]
    retrieval_bands: tuple[str, ...]
    note: str = ''


TRACKS = {
    'oscd-rgb': Track(
        'oscd-rgb',
        f'OSCD Sentinel-2 L1C B04/B03/B02, cities {", ".join(TRAIN_CITIES)}, 2 dates',
        3,
        2,
        (0, 1, 2),
        OSCD_RGB,
    ),
    'oscd-13': Track(
        'oscd-13',
        f'OSCD Sentinel-2 L1C, all 13 bands, cities {", ".join(TRAIN_CITIES)}, 2 dates',
        13,
        2,
        tuple({'B04': 0, 'B03': 1, 'B02': 2}.get(b) for b in OSCD_BANDS),
        OSCD_BANDS,
        'EuroSAT probe through the B04/B03/B02 input channels of the first conv',
    ),
    'landsat': Track(
        'landsat',
        'Colorado Landsat b3/b4/b5 (red, NIR, SWIR1), scenes with at most 5 % '
        'nodata, 3 views in distinct quarters',
        3,
        3,
        (0, 1, 2),
        OSCD_LANDSAT_LIKE,
        'EuroSAT R/G/B fed to b3/b4/b5 (only red matches): compare within the '
        'track; retrieval on OSCD B04/B08/B11',
    ),
}


class OSCDCities(RasterDataset):
    """OSCD Sentinel-2 cities, both dates, one file per band.

    The ``imgs_1`` file names carry the processing date, not the acquisition date,
    so each file is dated from its city's ``dates.txt`` instead
    (``imgs_<epoch>/`` → ``date_<epoch>``), for the whole day.
    """

    filename_glob = '*_B02.tif'
    filename_regex = r'^(?P<stem>.+)_(?P<band>B\d[\dA])\.tif$'
    separate_files = True
    all_bands = OSCD_BANDS
    rgb_bands = OSCD_RGB

    def _filepath_to_timestamp(
        self, filepath: str | os.PathLike[str]
    ) -> tuple[dt.datetime, dt.datetime]:
        """Acquisition day of a file from its city's ``dates.txt``.

        Args:
            filepath: ``<city>/imgs_<epoch>/<name>.tif``.

        Returns:
            Start and end of the acquisition day.

        Raises:
            BadInputError: If ``dates.txt`` is missing or has no such date.
        """
        path = Path(filepath)
        epoch = path.parent.name.removeprefix('imgs_')
        dates_file = path.parent.parent / 'dates.txt'
        try:
            lines = dates_file.read_text().splitlines()
            dates = dict(line.split(':', 1) for line in lines if ':' in line)
            day = dt.datetime.strptime(dates[f'date_{epoch}'].strip(), '%Y%m%d')
        except (OSError, KeyError, ValueError) as err:
            msg = (
                f'{dates_file}: cannot read date_{epoch} ({type(err).__name__}: {err})'
            )
            raise BadInputError(msg) from err
        start = pd.Timestamp(day)
        return start, start + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)


@dataclass
class Pool:
    """Pretraining samples read once and shared by every method of a track.

    Args:
        image: ``[N, V, C, H, W]`` scaled to [0, 1].
        time: ``[N, V]`` seconds since the epoch.
        point: ``[N, 2]`` longitude, latitude of the patch centres.
        info: What was read, and how.
    """

    image: Tensor
    time: Tensor
    point: Tensor
    info: dict[str, Any] = field(default_factory=dict)


class Batches(Dataset[dict[str, Tensor]]):
    """Fixed sequence of batches drawn from a pool, in one method's layout.

    Args:
        pool: The samples.
        order: ``[steps, B]`` sample indices of each batch.
        layout: Turns the pooled image, time and point of a batch into the batch
            a task takes.
    """

    def __init__(
        self,
        pool: Pool,
        order: Tensor,
        layout: Callable[[Tensor, Tensor, Tensor], dict[str, Tensor]],
    ) -> None:
        """Keep the pool, the order and the layout."""
        self.pool = pool
        self.order = order
        self.layout = layout

    def __len__(self) -> int:
        """Number of batches.

        Returns:
            The number of steps.
        """
        return len(self.order)

    def __getitem__(self, step: int) -> dict[str, Tensor]:
        """Batch of one step.

        Args:
            step: Index of the step.

        Returns:
            The batch.
        """
        rows = self.order[step]
        return self.layout(
            self.pool.image[rows], self.pool.time[rows], self.pool.point[rows]
        )


class Recorder(Callback):
    """Records the training loss of every step and the learning rate used."""

    def __init__(self) -> None:
        """Start with no record."""
        self.losses: list[float] = []
        self.lr: float | None = None

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Store the loss of the step, and the learning rate at the first step.

        Args:
            trainer: The trainer.
            pl_module: The task.
            outputs: What ``training_step`` returned (Lightning wraps it in a dict).
            batch: The batch.
            batch_idx: Index of the batch.
        """
        loss = outputs['loss'] if isinstance(outputs, dict) else outputs
        self.losses.append(float(loss.detach()))
        if self.lr is None:
            self.lr = float(trainer.optimizers[0].param_groups[0]['lr'])


def fail(message: str) -> int:
    """Print one error line on stderr.

    Args:
        message: What is wrong.

    Returns:
        Exit status 2.
    """
    print(f'pretrain_probe.py: error: {message}', file=sys.stderr)
    return 2


def check_data(root: Path, tracks: Sequence[str]) -> None:
    """Check that every data folder and file the run needs exists.

    Args:
        root: The shared data folder.
        tracks: Names of the tracks to run.

    Raises:
        BadInputError: Naming the first missing path.
    """
    hint = 'pass --data-root DIR, the folder holding the shared real data'
    if not root.is_dir():
        msg = f'data root {root} is missing or not a folder ({hint})'
        raise BadInputError(msg)
    needed = [
        root / EUROSAT / 'labels.csv',
        *(root / OSCD / city / 'dates.txt' for city in HELD_OUT_CITIES),
    ]
    if any(t.startswith('oscd') for t in tracks):
        needed += [root / OSCD / city / 'dates.txt' for city in TRAIN_CITIES]
    if 'landsat' in tracks:
        needed.append(root / LANDSAT)
    for path in needed:
        if not path.exists():
            msg = f'{path} not found in data root {root} ({hint})'
            raise BadInputError(msg)


def open_dataset(make: Callable[[], GeoDataset], what: Path) -> GeoDataset:
    """Build a dataset, turning TorchGeo's not-found error into a clear one.

    Args:
        make: Builds the dataset.
        what: The folder it reads, for the message.

    Returns:
        The dataset.

    Raises:
        BadInputError: If TorchGeo finds no readable file.
    """
    try:
        return make()
    except DatasetNotFoundError as err:
        msg = f'no readable raster found under {what}: {err}'
        raise BadInputError(msg) from err


def oscd(root: Path, cities: Sequence[str], bands: Sequence[str]) -> GeoDataset:
    """OSCD cities on the common grid.

    Args:
        root: The shared data folder.
        cities: City folder names.
        bands: Bands to read.

    Returns:
        The dataset, both dates of every city.
    """
    folder = root / OSCD
    return open_dataset(
        lambda: OSCDCities(
            [folder / c / f'imgs_{e}' for c in cities for e in (1, 2)],
            res=(OSCD_RES, OSCD_RES),
            bands=list(bands),
        ),
        folder,
    )


def band_scaling(image: Tensor, valid: Tensor | None, seed: int) -> Tensor:
    """Per-band 2nd and 98th percentiles.

    Args:
        image: ``[..., C, H, W]`` raw values.
        valid: Bool mask ``[..., H, W]`` of pixels to use, or None for all.
        seed: Seed of the pixel subsample (at most 200,000 per band).

    Returns:
        ``[2, C]`` low and high values.
    """
    channels = image.shape[-3]
    values = image.movedim(-3, 0).reshape(channels, -1)
    if valid is not None:
        values = values[:, valid.reshape(-1)]
    generator = np.random.default_rng(seed)
    count = values.shape[1]
    take = generator.choice(count, size=min(count, 200_000), replace=False)
    picked = values[:, torch.from_numpy(take)].double().numpy()
    low, high = np.percentile(picked, [2, 98], axis=1)
    return torch.from_numpy(np.stack([low, np.maximum(high, low + 1e-6)])).float()


def apply_scaling(image: Tensor, scaling: Tensor, valid: Tensor | None) -> Tensor:
    """Map each band to [0, 1] by its low and high values, clipped.

    Args:
        image: ``[..., C, H, W]`` raw values.
        scaling: ``[2, C]`` from :func:`band_scaling`.
        valid: Bool mask ``[..., H, W]`` of valid pixels (others become 0), or None.

    Returns:
        The scaled image, float32.
    """
    low = scaling[0].reshape(-1, 1, 1)
    high = scaling[1].reshape(-1, 1, 1)
    scaled = ((image - low) / (high - low)).clamp(0, 1)
    if valid is not None:
        scaled = scaled * valid.unsqueeze(-3)
    return scaled.float()


def read(
    reader: TemporalViewsDataset, query: ViewsQuery | GeoSlice
) -> dict[str, Tensor]:
    """Read one query through the views wrapper.

    Args:
        reader: The wrapper (built without skipping options).
        query: The query.

    Returns:
        The sample.

    Raises:
        BadInputError: If the wrapper skipped the sample.
    """
    sample = reader[query]
    if sample is None:
        msg = f'TemporalViewsDataset skipped {query}: {reader.stats}'
        raise BadInputError(msg)
    return sample


def drop_nodata_scenes(dataset: GeoDataset, nodata: float) -> dict[str, Any]:
    """Leave out the scenes with more than :data:`LANDSAT_MAX_NODATA` nodata.

    Args:
        dataset: Dataset whose index is filtered in place; each scene is read
            once over its whole footprint.
        nodata: Nodata value (a pixel is nodata when every band has it).

    Returns:
        Scene counts and the nodata share of every scene.
    """
    index = dataset.index
    fractions = []
    for interval, footprint in zip(index.index, index.geometry, strict=True):
        xmin, ymin, xmax, ymax = footprint.bounds
        query = (
            slice(xmin, xmax),
            slice(ymin, ymax),
            slice(interval.left, interval.right),
        )
        image = dataset[query]['image']
        fractions.append(float((image == nodata).all(dim=0).float().mean()))
    keep = np.array(fractions) <= LANDSAT_MAX_NODATA
    dataset.index = index.iloc[keep]
    return {
        'scenes': len(index),
        'kept': int(keep.sum()),
        'max_nodata_fraction': LANDSAT_MAX_NODATA,
        'nodata_fraction_per_scene': dict(
            zip(index.index.left.strftime('%Y-%m-%d'), fractions, strict=True)
        ),
    }


def read_pool(
    dataset: GeoDataset,
    *,
    views: int,
    count: int,
    size: int,
    seed: int,
    distinct_periods: str | None = None,
    nodata: float | None = None,
) -> Pool:
    """Read *count* multi-view samples through the temporal pipeline.

    Args:
        dataset: Dated GeoDataset.
        views: Acquisitions per sample.
        count: Number of samples.
        size: Patch side in pixels.
        seed: Seed of both samplers.
        distinct_periods: Pandas period alias the views must not share, or None.
        nodata: Nodata value of the raw pixels (left out of the scaling
            statistics and set to 0), or None.

    Returns:
        The scaled pool.

    Raises:
        BadInputError: If no patch of *size* fits, or the samplers skip so many
            locations that *count* samples cannot be drawn in 20 epochs.
    """
    reader = TemporalViewsDataset(dataset)
    try:
        temporal = TemporalViewSampler(
            dataset, views=views, distinct_periods=distinct_periods, generator=seed
        )
        sampler = ScatteredPatchSampler(
            dataset, size=size, length=count, generator=seed
        )
    except ValueError as err:
        msg = f'--patch-size {size}, {views} views: {err}'
        raise BadInputError(msg) from err
    samples: list[dict[str, Tensor]] = []
    for _ in range(20):
        for query in sampler @ temporal:
            samples.append(read(reader, query))
            if len(samples) == count:
                break
        if len(samples) == count:
            break
    else:
        msg = f'only {len(samples)} of {count} samples: {temporal.report()}'
        raise BadInputError(msg)
    raw = torch.stack([s['image'] for s in samples])
    valid = None if nodata is None else (raw != nodata).any(dim=-3)
    scaling = band_scaling(raw, valid, seed)
    info = {
        'samples': count,
        'views': views,
        'patch_px': size,
        'sampler_report': temporal.report(),
        'view_reader_stats': dict(reader.stats),
        'scaling_p2_p98': scaling.tolist(),
        'nodata_pixel_fraction': 0.0
        if valid is None
        else float(1 - valid.float().mean()),
        'distinct_locations': len(
            torch.unique(torch.stack([s['point'] for s in samples]), dim=0)
        ),
    }
    return Pool(
        image=apply_scaling(raw, scaling, valid),
        time=torch.stack([s['time'] for s in samples]),
        point=torch.stack([s['point'] for s in samples]),
        info=info,
    )


def retrieval_pairs(
    root: Path, bands: Sequence[str], size: int, limit: int | None, seed: int
) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """Held-out patches at both dates of the OSCD test cities.

    Args:
        root: The shared data folder.
        bands: Bands to read.
        size: Patch side in pixels.
        limit: Largest number of locations (evenly spaced over the grid), or None.
        seed: Seed of the view order draw.

    Returns:
        Earlier and later images ``[N, C, H, W]`` scaled to [0, 1], and a
        description.

    Raises:
        BadInputError: If fewer than 2 patches of *size* fit in the cities.
    """
    dataset = oscd(root, HELD_OUT_CITIES, bands)
    temporal = TemporalViewSampler(dataset, views=2, generator=seed)
    city = dataset.index['filepath'].map(lambda f: Path(f).parent.parent.name)
    queries = []
    per_city = {}
    for name, footprints in dataset.index.geometry.groupby(city.to_numpy()):
        # One grid per city: a grid over the bounding box of cities on several
        # continents would have millions of empty cells.
        grid = GriddedPatchSampler(
            dataset, size=size, stride=size, roi=footprints.union_all()
        )
        found = list(grid @ temporal)
        per_city[str(name)] = len(found)
        queries += found
    if len(queries) < 2:
        msg = (
            f'--patch-size {size}: {len(queries)} held-out location(s) in '
            f'{", ".join(HELD_OUT_CITIES)}; retrieval needs at least 2'
        )
        raise BadInputError(msg)
    if limit is not None and len(queries) > limit:
        keep = np.linspace(0, len(queries) - 1, limit).round().astype(int)
        queries = [queries[i] for i in keep]
    reader = TemporalViewsDataset(dataset)
    first, second = [], []
    for query in queries:
        sample = read(reader, query)
        order = sample['time'].argsort()
        first.append(sample['image'][order[0]])
        second.append(sample['image'][order[1]])
    both = torch.stack([torch.stack(first), torch.stack(second)])
    scaling = band_scaling(both, None, seed)
    scaled = apply_scaling(both, scaling, None)
    info = {
        'cities': list(HELD_OUT_CITIES),
        'bands': list(bands),
        'locations': len(queries),
        'grid_locations_per_city': per_city,
        'patch_px': size,
        'grid_stride_px': size,
    }
    return scaled[0], scaled[1], info


def load_eurosat(
    root: Path, per_class: int | None
) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
    """EuroSAT RGB with its fixed stratified split.

    Args:
        root: The shared data folder.
        per_class: Images per class kept in each half (quick mode), or None.

    Returns:
        Training images, training labels, test images, test labels (images
        ``[N, 3, 64, 64]`` scaled per channel to [0, 1]) and a description.

    Raises:
        BadInputError: If ``labels.csv`` or an image is missing or unreadable.
    """
    folder = root / EUROSAT
    table = folder / 'labels.csv'
    try:
        with table.open(newline='') as handle:
            rows = list(csv.DictReader(handle))
        files = [folder / row['filename'] for row in rows]
        labels = np.array([int(row['label']) for row in rows])
    except (OSError, KeyError, ValueError) as err:
        msg = f'{table}: expected columns filename,label ({type(err).__name__}: {err})'
        raise BadInputError(msg) from err
    images = []
    for path in files:
        try:
            data = torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)
            images.append(decode_image(data, mode=ImageReadMode.RGB))
        except (OSError, RuntimeError) as err:
            msg = f'cannot read EuroSAT image {path}: {err}'
            raise BadInputError(msg) from err
    train, test = train_test_split(
        np.arange(len(rows)),
        test_size=0.5,
        stratify=labels,
        random_state=EUROSAT_SPLIT_SEED,
    )
    if per_class is not None:
        train = np.concatenate(
            [train[labels[train] == c][:per_class] for c in np.unique(labels)]
        )
        test = np.concatenate(
            [test[labels[test] == c][:per_class] for c in np.unique(labels)]
        )
    stacked = torch.stack(images).float()
    scaling = band_scaling(stacked[train], None, EUROSAT_SPLIT_SEED)
    scaled = apply_scaling(stacked, scaling, None)
    info = {
        'images': len(rows),
        'train': len(train),
        'test': len(test),
        'classes': len(np.unique(labels)),
        'split': f'stratified 50/50 per class, random_state={EUROSAT_SPLIT_SEED}',
        'per_seed_training_subsample': PROBE_TRAIN_FRACTION,
    }
    as_tensor = torch.from_numpy
    return (
        scaled[as_tensor(train)],
        as_tensor(labels[train]),
        scaled[as_tensor(test)],
        as_tensor(labels[test]),
        info,
    )


def seed_all(seed: int) -> None:
    """Seed Python, NumPy and torch quietly.

    Args:
        seed: The seed.
    """
    lightning.seed_everything(seed, verbose=False)


def build_task(
    method: str, track: Track, args: argparse.Namespace, clusters: GeoClusters | None
) -> tuple[LightningModule, Callable[[Tensor, Tensor, Tensor], dict[str, Tensor]]]:
    """Create a method's task and the batch layout it takes.

    Args:
        method: One of :data:`METHODS` but ``random-init``.
        track: The pretraining data.
        args: The command line.
        clusters: Geo-clusters of the pool's locations.

    Returns:
        The task and a function that lays out ``(image, time, point)`` of pooled
        samples as its batch.
    """
    moco_lr = 0.03 * args.batch_size / 256
    common = {'model': MODEL, 'in_channels': track.in_channels, 'size': args.patch_size}
    task: LightningModule
    if method == 'torchgeo-moco-v2':
        task = MoCo(
            **common,
            version=2,
            layers=2,
            hidden_dim=FEATURE_DIM,
            output_dim=OUTPUT_DIM,
            lr=moco_lr,
            weight_decay=1e-4,
            temperature=0.07,
            memory_bank_size=args.queue,
            moco_momentum=0.999,
        )
    elif method == 'torchgeo-simclr':
        task = SimCLR(
            **common,
            version=2,
            lr=0.3 * args.batch_size / 256,
            memory_bank_size=args.queue,
        )
    elif method == 'seco':
        task = SeCoTask(**common, queue_size=args.queue, lr=moco_lr, lr_batch_size=None)
        return task, lambda image, time, point: {
            'image': image[:, :3],
            'time': time[:, :3],
        }
    else:
        temporal, geo = GASSL_VARIANTS[method]
        task = GeoMoCoTask(
            **common,
            temporal=temporal,
            geo_classes=args.geo_classes if geo else 0,
            geo_clusters=clusters if geo else None,
            queue_size=args.queue,
            lr=moco_lr,
            lr_batch_size=None,
        )
        return task, lambda image, time, point: {
            'image': image[:, :2],
            'time': time[:, :2],
            'point': point,
        }
    return task, lambda image, time, point: {'image': image[:, 0]}


def backbone_of(task: LightningModule) -> nn.Module:
    """The query encoder of a task.

    Args:
        task: A trained task.

    Returns:
        Its timm backbone (pooled features).
    """
    # TorchGeo's tasks call it ``backbone``, this package's ``model``.
    module = task.backbone if hasattr(task, 'backbone') else task.model
    assert isinstance(module, nn.Module)
    return module


def accelerator(device: torch.device) -> dict[str, Any]:
    """Lightning's accelerator and devices for a torch device.

    Args:
        device: The device.

    Returns:
        ``accelerator`` and ``devices`` arguments of the trainer.
    """
    if device.type == 'cuda':
        return {'accelerator': 'gpu', 'devices': [device.index or 0]}
    return {'accelerator': device.type, 'devices': 1}


def pretrain(
    method: str,
    track: Track,
    pool: Pool,
    order: Tensor,
    args: argparse.Namespace,
    clusters: GeoClusters | None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Pretrain one method on a pool (or only initialise it).

    Args:
        method: One of :data:`METHODS`.
        track: The pretraining data.
        pool: Its samples.
        order: ``[steps, B]`` sample indices of each batch (the same for all).
        args: The command line.
        clusters: Geo-clusters of the pool's locations.

    Returns:
        The backbone and what happened (wall time, learning rate, losses).
    """
    seed_all(args.seed)
    if method == 'random-init':
        backbone = timm.create_model(
            MODEL, in_chans=track.in_channels, num_classes=0, pretrained=False
        )
        return backbone, {'steps': 0, 'init_checksum': checksum(backbone)}
    task, layout = build_task(method, track, args, clusters)
    initial = checksum(backbone_of(task))
    recorder = Recorder()
    trainer = Trainer(
        **accelerator(args.device),
        max_epochs=1,
        max_steps=args.steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[recorder],
    )
    loader = DataLoader(Batches(pool, order, layout), batch_size=None, shuffle=False)
    began = time.perf_counter()
    trainer.fit(task, train_dataloaders=loader)
    wall = time.perf_counter() - began
    losses = recorder.losses
    tail = losses[-max(1, len(losses) // 10) :]
    return backbone_of(task), {
        'steps': len(losses),
        'wall_s': wall,
        's_per_step': wall / max(1, len(losses)),
        'lr': recorder.lr,
        'first_loss': losses[0] if losses else None,
        'last_loss_mean_of_last_10pct': sum(tail) / len(tail) if losses else None,
        'losses': losses,
        'init_checksum': initial,
    }


def checksum(module: nn.Module) -> float:
    """Sum of the absolute weights of a module, to check a common initialisation.

    Args:
        module: The module.

    Returns:
        The sum over its parameters.
    """
    return float(sum(p.detach().abs().sum().item() for p in module.parameters()))


def with_channels(backbone: nn.Module, channels: Sequence[int | None]) -> nn.Module:
    """A copy of a backbone whose first convolution reads EuroSAT's channels.

    Args:
        backbone: A timm ResNet (first convolution ``conv1``).
        channels: Per input channel of *backbone*, the EuroSAT channel it gets,
            or None.

    Returns:
        The backbone itself when it already maps R, G, B to its 3 channels, else a
        copy with a 3-channel ``conv1`` whose filter for EuroSAT channel j is the
        original filter of the input channel that gets j.
    """
    if tuple(channels) == (0, 1, 2):
        return backbone
    conv = backbone.conv1
    assert isinstance(conv, nn.Conv2d)
    source = [channels.index(j) for j in range(3)]
    rgb = nn.Conv2d(
        3,
        conv.out_channels,
        conv.kernel_size,  # type: ignore[arg-type]
        stride=conv.stride,  # type: ignore[arg-type]
        padding=conv.padding,  # type: ignore[arg-type]
        bias=conv.bias is not None,
    )
    with torch.no_grad():
        rgb.weight.copy_(conv.weight[:, source])
        if conv.bias is not None and rgb.bias is not None:
            rgb.bias.copy_(conv.bias)
    copied = copy.deepcopy(backbone)
    copied.conv1 = rgb.to(conv.weight.device)
    return copied


@torch.no_grad()
def embed(backbone: nn.Module, images: Tensor, device: torch.device) -> Tensor:
    """Pooled features of a frozen backbone.

    Args:
        backbone: The backbone.
        images: ``[N, C, H, W]`` inputs.
        device: Where to run it.

    Returns:
        ``[N, d]`` features on the CPU.
    """
    backbone.eval().to(device)
    chunks = [
        backbone(chunk.to(device)).float().cpu() for chunk in torch.split(images, 128)
    ]
    return torch.cat(chunks)


def linear_probe(
    train: Tensor, train_labels: Tensor, test: Tensor, test_labels: Tensor, seeds: int
) -> list[float]:
    """Top-1 accuracy of logistic regressions on frozen features.

    Args:
        train: Training features.
        train_labels: Their classes.
        test: Test features.
        test_labels: Their classes.
        seeds: Number of seeds; seed s fits on a stratified subsample of
            :data:`PROBE_TRAIN_FRACTION` of the training set drawn with s.

    Returns:
        The accuracy of each seed.
    """
    x, y = train.numpy(), train_labels.numpy()
    # One BLAS thread: these fits are small, and OpenBLAS threads spinning
    # against other busy processes made them 20 to 40 times slower here.
    with threadpool_limits(limits=1, user_api='blas'):
        return [
            probe_accuracy(x, y, test.numpy(), test_labels.numpy(), seed)
            for seed in range(seeds)
        ]


def probe_accuracy(
    x: np.ndarray, y: np.ndarray, test: np.ndarray, test_labels: np.ndarray, seed: int
) -> float:
    """Top-1 accuracy of one seed's logistic regression.

    Args:
        x: Training features.
        y: Their classes.
        test: Test features.
        test_labels: Their classes.
        seed: Seed of the stratified training subsample.

    Returns:
        The test accuracy.
    """
    rows, _ = train_test_split(
        np.arange(len(y)),
        train_size=PROBE_TRAIN_FRACTION,
        stratify=y,
        random_state=seed,
    )
    probe = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed)
    )
    probe.fit(x[rows], y[rows])
    return float(probe.score(test, test_labels))


def retrieval(first: Tensor, second: Tensor) -> dict[str, float]:
    """Top-1 temporal retrieval among all held-out locations.

    Args:
        first: ``[N, d]`` features of the locations at the earlier date.
        second: ``[N, d]`` features of the same locations at the later date.

    Returns:
        Top-1 accuracy from the earlier to the later date, the reverse, their
        mean and chance (1 / N).
    """
    similarity = F.normalize(first, dim=1) @ F.normalize(second, dim=1).T
    truth = torch.arange(len(first))
    forward = float((similarity.argmax(dim=1) == truth).float().mean())
    backward = float((similarity.argmax(dim=0) == truth).float().mean())
    return {
        'earlier_to_later': forward,
        'later_to_earlier': backward,
        'mean': (forward + backward) / 2,
        'chance': 1 / len(first),
    }


def track_pool(track: Track, args: argparse.Namespace) -> Pool:
    """Read the pretraining pool of a track.

    Args:
        track: The track.
        args: The command line.

    Returns:
        The pool.
    """
    if track.name == 'landsat':
        folder = args.data_root / LANDSAT
        dataset = open_dataset(lambda: ColoradoLandsat(folder), folder)
        scenes = drop_nodata_scenes(dataset, ColoradoLandsat.nodata)
        pool = read_pool(
            dataset,
            views=track.views,
            count=args.pool,
            size=args.patch_size,
            seed=args.seed,
            distinct_periods='Q',
            nodata=ColoradoLandsat.nodata,
        )
        pool.info['scenes'] = scenes
        return pool
    bands = OSCD_BANDS if track.in_channels == len(OSCD_BANDS) else OSCD_RGB
    return read_pool(
        oscd(args.data_root, TRAIN_CITIES, bands),
        views=track.views,
        count=args.pool,
        size=args.patch_size,
        seed=args.seed,
    )


def run_track(
    track: Track,
    args: argparse.Namespace,
    eurosat: tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]],
) -> dict[str, Any]:
    """Pretrain and evaluate every method on one track.

    Args:
        track: The track.
        args: The command line.
        eurosat: Output of :func:`load_eurosat`.

    Returns:
        The results of the track.
    """
    track_began = time.perf_counter()
    pool = track_pool(track, args)
    read_s = time.perf_counter() - track_began
    first, second, held_out = retrieval_pairs(
        args.data_root,
        track.retrieval_bands,
        args.retrieval_patch_size,
        args.retrieval_locations,
        args.seed,
    )
    try:
        clusters = GeoClusters(num_clusters=args.geo_classes, seed=args.seed).fit(
            pool.point
        )
    except ValueError as err:
        msg = f'--geo-classes {args.geo_classes} on {track.name}: {err}'
        raise BadInputError(msg) from err
    labels = clusters.predict(pool.point)
    generator = torch.Generator().manual_seed(args.seed)
    draws = -(-args.steps * args.batch_size // len(pool.image))
    order = torch.cat(
        [torch.randperm(len(pool.image), generator=generator) for _ in range(draws)]
    )
    order = order[: args.steps * args.batch_size].reshape(args.steps, args.batch_size)
    train_x, train_y, test_x, test_y, _ = eurosat
    results: dict[str, Any] = {}
    for method in METHODS:
        if method == 'seco' and track.views < 3:
            results[method] = {
                'skipped': 'SeCo needs 3 acquisitions in distinct seasons per '
                f'location; {track.name} has {track.views}'
            }
            print(f'  {method:<18} n/a ({track.views} dates per location)')
            continue
        backbone, training = pretrain(method, track, pool, order, args, clusters)
        began = time.perf_counter()
        probe_net = with_channels(backbone, track.eurosat_channels)
        accuracies = linear_probe(
            embed(probe_net, train_x, args.device),
            train_y,
            embed(probe_net, test_x, args.device),
            test_y,
            args.seeds,
        )
        found = retrieval(
            embed(backbone, first, args.device), embed(backbone, second, args.device)
        )
        results[method] = {
            'pretraining': training,
            'probe': {
                'per_seed': accuracies,
                'mean': float(np.mean(accuracies)),
                'std': float(np.std(accuracies, ddof=1))
                if len(accuracies) > 1
                else 0.0,
            },
            'retrieval': found,
            'evaluation_s': time.perf_counter() - began,
        }
        print(
            f'  {method:<18} probe {np.mean(accuracies):.3f} '
            f'retrieval {found["mean"]:.3f} '
            f'({training.get("wall_s", 0.0):.1f} s pretraining)'
        )
    inits = {
        m: r['pretraining']['init_checksum']
        for m, r in results.items()
        if 'skipped' not in r
    }
    return {
        'description': track.description,
        'note': track.note,
        'in_channels': track.in_channels,
        'pool': pool.info | {'read_s': read_s},
        'geo_clusters': {
            'k': args.geo_classes,
            'sizes': torch.bincount(labels, minlength=args.geo_classes).tolist(),
            'centroids_lonlat': clusters.centroids_lonlat.tolist(),
        },
        'retrieval_set': held_out,
        'same_initialisation': len({round(v, 3) for v in inits.values()}) == 1,
        'methods': results,
        'wall_s': time.perf_counter() - track_began,
    }


def markdown(payload: dict[str, Any]) -> str:
    """Markdown report: configuration and one table per track.

    Args:
        payload: The JSON payload.

    Returns:
        The report.
    """
    config = payload['config']
    machine = payload['machine']
    mode = 'quick (smoke run, not a measurement)' if config['quick'] else 'full'
    lines = [
        '# Pretraining probe: same data, same budget',
        '',
        f'Command: `{payload["command"]}`',
        '',
        f'Mode: {mode}. Machine: {machine["platform"]}, {machine["cpu"]}, '
        f'{machine["cpus_usable"]} usable CPUs, device {machine["device"]}'
        + (f' ({machine["gpu"]})' if 'gpu' in machine else '')
        + f', torch {machine["versions"]["torch"]}, '
        f'torchgeo {machine["versions"]["torchgeo"]}. Wall time '
        f'{payload["wall_s"]:.0f} s.',
        '',
        (
            f'Budget for every method: {MODEL}, {config["patch_size"]} px patches '
            f'(also the crop size), {config["steps"]} steps of {config["batch_size"]} '
            f'samples from a pool of {config["pool"]} per track, {config["queue"]} '
            f'negatives, geo head K = {config["geo_classes"]}. EuroSAT linear probe: '
            f'{payload["eurosat"]["train"]} training / {payload["eurosat"]["test"]} test '
            f'images, {config["seeds"]} seeds (mean ± std). Retrieval: top-1, mean of '
            'both directions.'
        ),
    ]
    for name, track in payload['tracks'].items():
        held = track['retrieval_set']
        pool = track['pool']
        scenes = pool.get('scenes')
        lines += [
            '',
            f'## {name}: {track["description"]}',
            '',
            f'Pretraining pool: {pool["samples"]} samples of {pool["views"]} views '
            f'at {pool["distinct_locations"]} distinct locations'
            + (
                f', {scenes["kept"]} of {scenes["scenes"]} scenes kept (at most '
                f'{scenes["max_nodata_fraction"]:.0%} nodata)'
                if scenes
                else ''
            )
            + f'; geo-cluster sizes {track["geo_clusters"]["sizes"]}. '
            f'Retrieval over {held["locations"]} held-out {held["patch_px"]} px '
            'locations of '
            f'{", ".join(held["cities"])} (bands {", ".join(held["bands"])}; chance '
            f'{1 / held["locations"]:.3f}). Same initialisation for every method: '
            f'{"yes" if track["same_initialisation"] else "NO"}.'
            + (f' Note: {track["note"]}.' if track['note'] else ''),
            '',
            (
                '| method | EuroSAT probe top-1 | retrieval top-1 (earlier→later / '
                'later→earlier) | pretraining s | s/step | lr | loss first → last |'
            ),
            '|---|---:|---:|---:|---:|---:|---:|',
        ]
        for method, row in track['methods'].items():
            if 'skipped' in row:
                lines.append(f'| {method} | n/a | n/a | | | | {row["skipped"]} |')
                continue
            found = row['retrieval']
            train = row['pretraining']
            cells = [
                f'{row["probe"]["mean"]:.3f} ± {row["probe"]["std"]:.3f}',
                (
                    f'{found["mean"]:.3f} ({found["earlier_to_later"]:.3f} / '
                    f'{found["later_to_earlier"]:.3f})'
                ),
            ]
            if train['steps']:
                cells += [
                    f'{train["wall_s"]:.1f}',
                    f'{train["s_per_step"]:.3f}',
                    f'{train["lr"]:.4g}',
                    (
                        f'{train["first_loss"]:.2f} → '
                        f'{train["last_loss_mean_of_last_10pct"]:.2f}'
                    ),
                ]
            else:
                cells += ['0', '', '', '']
            lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'


def plot(payload: dict[str, Any], path: Path) -> None:
    """Bar charts: probe accuracy and retrieval accuracy per method and track.

    Args:
        payload: The JSON payload.
        path: PNG to write.
    """
    tracks = payload['tracks']
    fig, axes = plt.subplots(
        2, len(tracks), figsize=(4.5 * len(tracks), 7), squeeze=False
    )
    for column, (name, track) in enumerate(tracks.items()):
        rows = {m: r for m, r in track['methods'].items() if 'skipped' not in r}
        names = list(rows)
        top, bottom = axes[0][column], axes[1][column]
        top.bar(
            names,
            [rows[m]['probe']['mean'] for m in names],
            yerr=[rows[m]['probe']['std'] for m in names],
            capsize=3,
            color='tab:blue',
        )
        top.set_title(f'{name}: EuroSAT linear probe', fontsize=9)
        top.set_ylim(0, 1)
        bottom.bar(
            names, [rows[m]['retrieval']['mean'] for m in names], color='tab:green'
        )
        chance = 1 / track['retrieval_set']['locations']
        bottom.axhline(chance, color='tab:red', linestyle='--', label='chance')
        bottom.set_title(f'{name}: temporal retrieval (held-out)', fontsize=9)
        bottom.set_ylim(0, 1)
        bottom.legend(fontsize=7)
        for ax in (top, bottom):
            ax.set_ylabel('top-1 accuracy')
            ax.tick_params(axis='x', labelsize=7, labelrotation=60)
    config = payload['config']
    fig.suptitle(
        f'{MODEL}, {config["patch_size"]} px, {config["steps"]} steps × '
        f'{config["batch_size"]}, {config["seeds"]} probe seeds'
        + (' (quick smoke run)' if config['quick'] else ''),
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse(argv: list[str]) -> argparse.Namespace:
    """Parse the command line and fill mode-dependent defaults.

    Args:
        argv: Arguments.

    Returns:
        The options.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='CI-sized smoke run')
    parser.add_argument('--device', default='cpu', help='torch device (default cpu)')
    parser.add_argument(
        '--tracks',
        default=','.join(TRACKS),
        help=f'comma-separated pretraining data sets (default {",".join(TRACKS)})',
    )
    for name, meaning in (
        ('patch-size', 'patch and crop side in px'),
        ('steps', 'training steps per method'),
        ('batch-size', 'samples per step'),
        ('pool', 'pretraining samples read per track'),
        ('seeds', 'linear-probe seeds'),
        ('retrieval-locations', 'largest number of held-out locations'),
        ('eurosat-per-class', 'EuroSAT images per class in each half'),
    ):
        key = name.replace('-', '_')
        parser.add_argument(
            f'--{name}',
            type=int,
            help=f'{meaning} (default {FULL[key] or "all"}, quick {QUICK[key]})',
        )
    parser.add_argument(
        '--retrieval-patch-size',
        type=int,
        default=32,
        help='side of the held-out retrieval patches in px, whatever --patch-size '
        'is (32: 183 locations)',
    )
    parser.add_argument('--queue', type=int, default=4096, help='negatives (4096)')
    parser.add_argument(
        '--geo-classes', type=int, default=4, help='geo-location clusters K (4)'
    )
    parser.add_argument('--seed', type=int, default=0, help='seed of everything (0)')
    parser.add_argument(
        '--threads', type=int, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument(
        '--data-root',
        type=Path,
        default=DATA_ROOT,
        help=f'shared real data folder (default {DATA_ROOT})',
    )
    parser.add_argument(
        '--out',
        type=Path,
        default=REPO / 'benchmarks' / 'results',
        help='output folder (default benchmarks/results)',
    )
    args = parser.parse_args(argv)
    for key, value in (QUICK if args.quick else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in (
        'patch_size',
        'retrieval_patch_size',
        'steps',
        'batch_size',
        'pool',
        'queue',
        'geo_classes',
    ):
        if getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be positive')
    if args.seeds < 2:
        parser.error('--seeds must be at least 2 (the probe reports mean ± std)')
    for key in ('retrieval_locations', 'eurosat_per_class'):
        value = getattr(args, key)
        if value is not None and value < 2:
            parser.error(f'--{key.replace("_", "-")} must be at least 2')
    if args.eurosat_per_class is not None and args.eurosat_per_class > 50:
        parser.error('--eurosat-per-class is at most 50 (half of 100 per class)')
    tracks = [t.strip() for t in args.tracks.split(',') if t.strip()]
    unknown = sorted(set(tracks) - set(TRACKS))
    if unknown or not tracks:
        parser.error(f'--tracks: unknown {unknown}, choose from {", ".join(TRACKS)}')
    args.tracks = list(dict.fromkeys(tracks))
    if 'landsat' in args.tracks and args.patch_size > LANDSAT_MAX_PATCH:
        print(
            f'[skip] landsat: --patch-size {args.patch_size} is larger than '
            f'{LANDSAT_MAX_PATCH} px, the largest patch its 61 px footprint holds',
            file=sys.stderr,
        )
        args.tracks.remove('landsat')
        if not args.tracks:
            parser.error('no track left to run')
    try:
        args.device = torch.device(args.device)
    except RuntimeError as err:
        parser.error(f'--device {args.device}: {err}')
    if args.device.type == 'cuda' and not torch.cuda.is_available():
        parser.error(f'--device {args.device}: CUDA is not available')
    if args.device.type == 'mps' and not torch.backends.mps.is_available():
        parser.error(f'--device {args.device}: MPS is not available')
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark.

    Args:
        argv: Command line arguments (default: ``sys.argv[1:]``).

    Returns:
        Exit status: 0, or 2 when data is missing.
    """
    arguments = sys.argv[1:] if argv is None else argv
    args = parse(arguments)
    try:
        check_data(args.data_root, args.tracks)
    except BadInputError as err:
        return fail(str(err))
    if args.threads:
        torch.set_num_threads(args.threads)
    plt.switch_backend('Agg')
    logging.getLogger('lightning.pytorch').setLevel(logging.WARNING)
    warnings.filterwarnings('ignore', module='lightning')
    warnings.filterwarnings('ignore', message='TemporalViewSampler')
    began = time.perf_counter()
    try:
        eurosat = load_eurosat(args.data_root, args.eurosat_per_class)
        tracks = {}
        for name in args.tracks:
            print(f'{name}: {TRACKS[name].description}')
            tracks[name] = run_track(TRACKS[name], args, eurosat)
    except BadInputError as err:
        return fail(str(err))
    policy = os.environ.get('OMP_WAIT_POLICY')
    command = shlex.join(
        ([f'OMP_WAIT_POLICY={policy}'] if policy else [])
        + [sys.executable, str(Path(__file__).resolve()), *arguments]
    )
    payload = {
        'command': command,
        'config': {
            key: str(value) if isinstance(value, Path | torch.device) else value
            for key, value in vars(args).items()
        }
        | {'model': MODEL, 'output_dim': OUTPUT_DIM, 'methods': list(METHODS)},
        'machine': describe_machine(args.device),
        'eurosat': eurosat[4],
        'definitions': {
            'probe': 'top-1 accuracy of a logistic regression on standardised, '
            'global-average-pooled frozen features; seed s fits on a stratified '
            f'{PROBE_TRAIN_FRACTION:.0%} subsample (drawn with s) of the fixed '
            'training half and scores the fixed test half',
            'retrieval': 'top-1 accuracy of finding the same held-out location at '
            'the other date among all held-out locations by cosine similarity of '
            'pooled features; mean of both directions',
            'lr': 'learning rate of the first step, after the task scheduler',
        },
        'tracks': tracks,
        'wall_s': time.perf_counter() - began,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'pretrain_probe.json').write_text(json.dumps(payload, indent=2) + '\n')
    report = markdown(payload)
    (args.out / 'pretrain_probe.md').write_text(report)
    plot(payload, args.out / 'pretrain_probe.png')
    print()
    print(report)
    print(f'Wrote pretrain_probe.json, .md and .png to {args.out}')
    return 0


if __name__ == '__main__':
    if 'OMP_WAIT_POLICY' not in os.environ:
        # OpenMP reads the policy when torch loads it: set it, then start again.
        os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'
        os.execv(sys.executable, [sys.executable, __file__, *sys.argv[1:]])
    sys.exit(main())

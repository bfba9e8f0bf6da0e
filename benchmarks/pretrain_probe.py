"""Representation quality of self-supervised pretraining: same data, same budget.

Run from anywhere (paths resolve relative to this file)::

    .venv/bin/python benchmarks/pretrain_probe.py [--quick] [--device cpu|cuda|mps]
        [--tracks oscd-rgb,oscd-13,landsat] [--methods M,...] [--patch-size P]
        [--steps S] [--batch-size B] [--pool N] [--seeds K] [--crop-scale LOW HIGH]
        [--retrieval-shift PX] [--data-root DIR] [--out DIR]

For each of ``--seeds`` pretraining seeds, every method pretrains a ResNet-18 from
the same random initialisation of that seed, on the same unlabelled real samples in
the same order, with the same patch size, number of steps and batch size, then its
frozen backbone is evaluated. The methods:

* ``raw-pixels``: the flattened [0, 1] pixels as features (the baseline any
  network must beat);
* ``random-init``: the common initialisation, not trained, with BatchNorm's running
  statistics re-estimated on the pool (no weight changes): the floor;
* ``random-init-bn-init``: the same weights with BatchNorm's initial statistics;
* ``torchgeo-moco-v2``: ``torchgeo.tasks.MoCo(version=2)``, two augmentations of
  one image;
* ``torchgeo-simclr``: ``torchgeo.tasks.SimCLR(version=2)``, two augmentations of
  one image;
* ``gassl-moco-v2``, ``gassl-geo``, ``gassl-tp``, ``gassl-tp-geo``:
  ``torchgeo_geossl.trainers.GeoMoCoTask`` in the four variants of Table 1 of
  Ayush et al. (ICCV 2021), temporal positives (TP) off/on and geo-location
  classification (Geo) off/on, all with the crop scale ``--crop-scale`` (default
  (0.2, 1), MoCo-v2's), so that TP is not confounded with the stronger (0.08, 1)
  crops that the reference code uses for temporal pairs;
* ``seco``: ``torchgeo_geossl.trainers.SeCoTask``, which needs three acquisitions
  per location in distinct seasons: only the Landsat track has them (OSCD has two
  dates per city), so it is marked as not applicable on the OSCD tracks.

The random initialisation is timm's ResNet-18 with ``zero_init_last=False``
(torchvision's initialisation, as the reference code), loaded into every encoder
of every task, momentum encoders included. Hyperparameters are each method's own
defaults, except what the shared budget fixes: the backbone, the patch size (which
is also the crop size of every augmentation), the crop scale of this package's
tasks, the number of steps, the batch size and the number of negatives
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

Every data set is scaled per band to [0, 1] by its own 2nd and 98th percentiles
(clipped; nodata set to 0): the augmentations see that range, which Kornia's
colour jitter clamps to. Standardisation by the pool's per-band mean and standard
deviation comes last: a forward pre-hook of every encoder during pretraining
(after the task's augmentation), and explicitly at evaluation.

Evaluation of each frozen backbone (global-average-pooled features, BatchNorm in
eval mode):

* **linear probe** on ``eurosat-rgb-small`` (1,000 RGB images, 10 classes): a
  fixed stratified half per class for training and the other half for testing; a
  logistic regression (scikit-learn, standardised features) fit on the training
  half, top-1 accuracy on the test half. 13-band backbones see RGB through the
  B04, B03, B02 filters of their first convolution, multiplied by 13 / 3 (the share
  of the 10 bands not fed, as timm's ``adapt_input_conv`` rescales); Landsat
  backbones see EuroSAT's R, G, B in their b3, b4, b5 channels, a band mismatch
  (only red matches), so compare Landsat rows with each other only;
* **temporal retrieval of a place** on locations never seen in pretraining: a grid
  of non-overlapping cells of ``--retrieval-patch-size + --retrieval-shift``
  (default 32 + 8 = 40 px, 108 locations) over OSCD's test cities norcia and rio;
  each date gets its own crop of ``--retrieval-patch-size`` at an offset drawn
  uniformly in [0, shift] per axis, so matching is a question of place, not of
  pixel registration; each crop at the first date is matched to the most
  cosine-similar crop at the second date among all locations, and vice versa;
  top-1 accuracy, mean of the two directions, chance = 1 / locations. The same
  with both dates cropped at the cell centre (co-registered, the earlier protocol)
  is reported beside it. The Landsat track uses OSCD bands B04, B08, B11, the
  Sentinel-2 counterparts of Landsat b3, b4, b5.

Intervals: each number is the mean over seeds ± the half-width of the 95 %
Student-t interval over seeds, with the 95 % bootstrap interval over test images
or locations (``--bootstrap`` resamples). Differences between methods are paired
by seed and by test item; a verdict is stated only where both intervals of the
difference exclude 0, else "not resolved at this budget".

The full mode (32 px patches, batch 32, 1,400 steps, pools of 2,048, all of
EuroSAT and of the held-out grid, 3 seeds, every method and track) takes hours on
2 CPU cores; ``--tracks``, ``--methods`` and ``--steps`` size a run down.
``--quick`` (CI smoke run): batch 8, 2 steps, pools of 48, 5 training and 5 test
EuroSAT images per class, 16 retrieval locations, 2 seeds; it writes to a new
temporary folder unless ``--out`` is given. ``--device cuda`` with a larger
``--patch-size``, ``--batch-size`` and ``--steps`` gets closer to the papers'
settings; the Landsat track holds patches of at most 40 px (its footprint is 61 px
wide and TorchGeo's samplers keep patch centres half a patch diagonal inside it)
and is left out above that, with a message.

Reproducibility: the same arguments give the same numbers, bitwise, on the same
machine, device and torch build with the same number of torch threads (CPU kernels
split their sums by thread: 1 and 2 threads differ by 1e-6 in the second loss,
and training amplifies it to the size of the seed-to-seed variation). Every
random draw is seeded (pool, batch order, initialisation, heads, queues,
augmentations, EuroSAT split, retrieval offsets, k-means, bootstrap; the data
loaders have no workers; k-means and the logistic regressions run on one thread,
whose sums do not depend on which thread finishes first), and torch's
deterministic algorithms are on, with a warning for any op that has none. The numbers describe the ``torchgeo_geossl`` of
the checkout that holds this script: run as a script, it starts again with the
checkout first on ``PYTHONPATH`` when the package was imported from elsewhere (an
installed copy, or the editable install of another checkout sharing the virtual
environment: runs of earlier versions measured whatever that copy held when they
started). The JSON records the package folder, the git commit and the modified
files.

CPU threads: when run as a script without ``OMP_WAIT_POLICY`` in the environment,
it starts again with ``OMP_WAIT_POLICY=PASSIVE`` (as ``train_step.py`` does):
with OpenMP's default spinning, other busy processes on a machine whose every core
runs a torch thread made training steps about 6 times slower here. Set the variable
to choose another policy.

Output, in ``--out`` (default ``benchmarks/results/``; with ``--quick`` a new
temporary folder): ``pretrain_probe.md`` (markdown tables and verdicts),
``pretrain_probe.png`` (bar charts with the seeds' 95 % t-intervals) and
``pretrain_probe.json`` (all numbers per seed, which test item each seed got right,
the configuration, the exact command, the code and the machine). If ``--data-root`` or a
data folder it needs is missing, the script prints one line on stderr and exits
with status 2.
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning
import machine
import numpy as np
import pandas as pd
import timm
import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, LightningModule, Trainer
from machine import describe_machine
from matplotlib import pyplot as plt
from output import output_folder
from real_data import ColoradoLandsat
from scipy import stats  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.hooks import RemovableHandle
from torchgeo.datasets import DatasetNotFoundError, GeoDataset, RasterDataset
from torchgeo.datasets.utils import GeoSlice
from torchgeo.samplers import GriddedPatchSampler
from torchgeo.tasks import MoCo, SimCLR
from torchvision.io import ImageReadMode, decode_image

import torchgeo_geossl
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
#: The package this checkout holds, which the script measures.
CHECKOUT_PACKAGE = REPO / 'torchgeo_geossl'
#: The package actually imported (an installed copy comes first on ``sys.path``
#: when the script runs without this checkout on ``PYTHONPATH``).
IMPORTED_PACKAGE = Path(torchgeo_geossl.__file__).resolve().parent
#: cuBLAS workspace that makes CUDA matrix products deterministic.
CUBLAS_WORKSPACE = ':4096:8'
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
METHODS = (
    'raw-pixels',
    'random-init',
    'random-init-bn-init',
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
#: Methods without pretraining: no steps, no learning rate.
UNTRAINED = ('raw-pixels', 'random-init', 'random-init-bn-init')
#: Pairs (a, b) whose difference gets an interval and a verdict.
COMPARISONS = (
    *((m, 'random-init') for m in METHODS if m not in UNTRAINED),
    *((m, 'random-init-bn-init') for m in METHODS if m not in UNTRAINED),
    ('gassl-tp', 'gassl-moco-v2'),
    ('gassl-tp-geo', 'gassl-geo'),
    # the package's methods against TorchGeo's own MoCo-v2 baseline
    *((m, 'torchgeo-moco-v2') for m in (*GASSL_VARIANTS, 'seco')),
    ('random-init', 'raw-pixels'),
    ('random-init-bn-init', 'raw-pixels'),
    *((m, 'raw-pixels') for m in METHODS if m not in UNTRAINED),
)
#: Metrics of every method: name in the JSON and in the tables.
METRICS = {
    'probe': 'EuroSAT probe top-1',
    'retrieval': 'retrieval top-1 (shifted crops)',
    'retrieval_aligned': 'retrieval top-1 (co-registered)',
}
#: Batches of the pool that re-estimate the BatchNorm statistics of ``random-init``.
BN_CALIBRATION_BATCHES = 16
QUICK = {
    'patch_size': 32,
    'steps': 2,
    'batch_size': 8,
    'pool': 48,
    'seeds': 2,
    'eurosat_per_class': 5,
    'retrieval_locations': 16,
    'bootstrap': 200,
}
FULL = {
    'patch_size': 32,
    'steps': 1400,
    'batch_size': 32,
    'pool': 2048,
    'seeds': 3,
    'eurosat_per_class': None,
    'retrieval_locations': None,
    'bootstrap': 2000,
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


def run_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Environment variables that a run as a script must set and start again with.

    Args:
        environ: The environment of this process.

    Returns:
        The variables to set, empty when none is missing:

        * ``PYTHONPATH`` with this checkout first, when ``torchgeo_geossl`` was
          imported from elsewhere (an installed copy, or an editable install of
          another checkout that shares the virtual environment) and the checkout
          is not already first: the numbers must describe the code beside the
          script. Otherwise two runs with the same arguments measure whatever
          the installed copy held when each started.
        * ``OMP_WAIT_POLICY=PASSIVE`` when it is unset: with OpenMP's default
          spinning, other busy processes on a machine whose every core runs a
          torch thread made training steps about 6 times slower here.
    """
    missing = {}
    path = environ.get('PYTHONPATH', '')
    first = path.split(os.pathsep)[0] if path else ''
    if IMPORTED_PACKAGE != CHECKOUT_PACKAGE and first != str(REPO):
        missing['PYTHONPATH'] = os.pathsep.join(p for p in (str(REPO), path) if p)
    if 'OMP_WAIT_POLICY' not in environ:
        missing['OMP_WAIT_POLICY'] = 'PASSIVE'
    return missing


def describe_code() -> dict[str, Any]:
    """Which ``torchgeo_geossl`` the numbers describe (:func:`machine.describe_code`).

    Returns:
        The description of the imported package and this checkout.
    """
    return machine.describe_code(REPO, IMPORTED_PACKAGE)


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
    root: Path,
    bands: Sequence[str],
    size: int,
    shift: int,
    limit: int | None,
    seed: int,
) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """Held-out grid cells at both dates of the OSCD test cities.

    Args:
        root: The shared data folder.
        bands: Bands to read.
        size: Side of the retrieval crops in pixels.
        shift: Largest offset of a crop inside its cell; cells are
            ``size + shift`` pixels wide, on a grid of that stride.
        limit: Largest number of locations (evenly spaced over the grid), or None.
        seed: Seed of the view order draw.

    Returns:
        Earlier and later cells ``[N, C, size + shift, size + shift]`` scaled to
        [0, 1], and a description.

    Raises:
        BadInputError: If fewer than 2 cells fit in the cities.
    """
    cell = size + shift
    dataset = oscd(root, HELD_OUT_CITIES, bands)
    temporal = TemporalViewSampler(dataset, views=2, generator=seed)
    city = dataset.index['filepath'].map(lambda f: Path(f).parent.parent.name)
    queries = []
    per_city = {}
    for name, footprints in dataset.index.geometry.groupby(city.to_numpy()):
        # One grid per city: a grid over the bounding box of cities on several
        # continents would have millions of empty cells.
        grid = GriddedPatchSampler(
            dataset, size=cell, stride=cell, roi=footprints.union_all()
        )
        found = list(grid @ temporal)
        per_city[str(name)] = len(found)
        queries += found
    if len(queries) < 2:
        msg = (
            f'--retrieval-patch-size {size} + --retrieval-shift {shift}: '
            f'{len(queries)} held-out location(s) of {cell} px in '
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
        'shift_px': shift,
        'cell_px': cell,
        'grid_stride_px': cell,
    }
    return scaled[0], scaled[1], info


def crop_views(
    first: Tensor, second: Tensor, size: int, seed: int
) -> dict[str, tuple[Tensor, Tensor]]:
    """The two retrieval protocols: shifted crops and co-registered crops.

    Args:
        first: ``[N, C, S, S]`` cells at the earlier date.
        second: ``[N, C, S, S]`` the same cells at the later date.
        size: Side of the crops, at most ``S``.
        seed: Seed of the offsets.

    Returns:
        ``retrieval``: each date cropped at its own offset, drawn uniformly in
        ``[0, S - size]`` per axis and per location (a question of place, not of
        pixel alignment); ``retrieval_aligned``: both dates cropped at the centre
        of the cell (co-registered pixels, the protocol of earlier versions).
    """
    shift = first.shape[-1] - size
    generator = torch.Generator().manual_seed(seed)
    offsets = torch.randint(0, shift + 1, (2, len(first), 2), generator=generator)
    centre = shift // 2

    def crop(cells: Tensor, rows: Tensor) -> Tensor:
        return torch.stack(
            [
                c[:, int(y) : int(y) + size, int(x) : int(x) + size]
                for c, (y, x) in zip(cells, rows, strict=True)
            ]
        )

    aligned = torch.full((len(first), 2), centre)
    return {
        'retrieval': (crop(first, offsets[0]), crop(second, offsets[1])),
        'retrieval_aligned': (crop(first, aligned), crop(second, aligned)),
    }


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


def initial_backbone(in_channels: int, seed: int) -> nn.Module:
    """The common random initialisation of every method of one seed.

    timm's ResNet with ``zero_init_last=False``: torchvision's initialisation
    (Kaiming-normal convolutions, BatchNorm γ = 1, β = 0), which the references
    use (geography-aware-ssl and seasonal-contrast build torchvision ResNets).
    timm's default zeroes the last BatchNorm γ of every residual block, which makes
    each untrained block an identity: at 32 px the pooled output then depends only
    on the top-left 6 × 6 pixels, through the strided 1 × 1 shortcuts.

    Args:
        in_channels: Input bands.
        seed: Seed of the weights.

    Returns:
        The backbone (pooled features).
    """
    seed_all(seed)
    return timm.create_model(
        MODEL,
        in_chans=in_channels,
        num_classes=0,
        pretrained=False,
        zero_init_last=False,
    )


def encoders(task: LightningModule) -> list[nn.Module]:
    """The backbones of a task: the query encoder and its momentum copy, if any.

    Args:
        task: A TorchGeo or torchgeo_geossl task.

    Returns:
        The modules (TorchGeo: ``backbone``, ``backbone_momentum``; this package:
        ``model``, ``key_encoder``).
    """
    names = ('backbone', 'backbone_momentum', 'model', 'key_encoder')
    found = [getattr(task, n, None) for n in names]
    return [m for m in found if isinstance(m, nn.Module)]


@dataclass
class Standardisation:
    """Per-band mean/std standardisation, the last step before the network.

    The augmentations see images scaled to [0, 1] (Kornia's colour jitter clamps
    to that range); this runs after them, as in the reference code, as a forward
    pre-hook of every encoder during pretraining and explicitly at evaluation.

    Args:
        mean: ``[C]`` per-band mean.
        std: ``[C]`` per-band standard deviation.
    """

    mean: Tensor
    std: Tensor

    @classmethod
    def of(cls, images: Tensor) -> 'Standardisation':
        """Statistics of a pool.

        Args:
            images: ``[..., C, H, W]`` images in [0, 1].

        Returns:
            The standardisation.
        """
        values = images.movedim(-3, 0).reshape(images.shape[-3], -1).double()
        return cls(
            values.mean(dim=1).float(), values.std(dim=1).clamp_min(1e-6).float()
        )

    def __call__(self, images: Tensor) -> Tensor:
        """Standardise a batch.

        Args:
            images: ``[..., C, H, W]`` images.

        Returns:
            ``(images - mean) / std`` per band.
        """
        shape = (-1, 1, 1)
        mean = self.mean.to(images).reshape(shape)
        return (images - mean) / self.std.to(images).reshape(shape)

    def hook(self, module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """Forward pre-hook: standardise the input of an encoder.

        Args:
            module: The encoder.
            args: Its positional inputs, images first.

        Returns:
            The inputs with the images standardised.
        """
        return (self(args[0]), *args[1:])

    def select(self, channels: Sequence[int]) -> 'Standardisation':
        """The statistics of some bands.

        Args:
            channels: Band indices.

        Returns:
            The standardisation of those bands, in that order.
        """
        index = torch.tensor(list(channels))
        return Standardisation(self.mean[index], self.std[index])


def build_task(
    method: str, track: Track, args: argparse.Namespace, clusters: GeoClusters | None
) -> tuple[LightningModule, Callable[[Tensor, Tensor, Tensor], dict[str, Tensor]]]:
    """Create a method's task and the batch layout it takes.

    Args:
        method: One of :data:`METHODS` but the untrained ones.
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
        task = SeCoTask(
            **common,
            queue_size=args.queue,
            lr=moco_lr,
            lr_batch_size=None,
            crop_scale=args.crop_scale,
        )
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
            crop_scale=args.crop_scale,
        )
        return task, lambda image, time, point: {
            'image': image[:, :2],
            'time': time[:, :2],
            'point': point,
        }
    return task, lambda image, time, point: {'image': image[:, 0]}


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


@torch.no_grad()
def calibrate_batchnorm(
    backbone: nn.Module, batches: Sequence[Tensor], device: torch.device
) -> None:
    """Re-estimate BatchNorm's running statistics without changing a weight.

    Args:
        backbone: The network, in place; left in eval mode.
        batches: Standardised input batches; the statistics are their
            cumulative average (``momentum=None``).
        device: Where to run it.
    """
    norms = [m for m in backbone.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    backbone.train().to(device)
    for batch in batches:
        backbone(batch.to(device))
    for norm in norms:
        norm.momentum = 0.1
    backbone.eval()


def start_task(
    task: LightningModule, start: nn.Module, standardisation: Standardisation
) -> list[RemovableHandle]:
    """Load the common initialisation and standardise every encoder's input.

    Args:
        task: A task from :func:`build_task`.
        start: The common initialisation, loaded into every encoder (the momentum
            copies included, so that keys and queries start equal, as in MoCo).
        standardisation: Registered as a forward pre-hook of every encoder: it
            runs after the task's augmentation, on the augmented views.

    Returns:
        The hooks, to remove after pretraining.
    """
    state = start.state_dict()
    for encoder in encoders(task):
        encoder.load_state_dict(state)
    return [e.register_forward_pre_hook(standardisation.hook) for e in encoders(task)]


def pretrain(
    method: str,
    track: Track,
    pool: Pool,
    order: Tensor,
    args: argparse.Namespace,
    clusters: GeoClusters | None,
    start: nn.Module,
    standardisation: Standardisation,
) -> tuple[nn.Module, dict[str, Any]]:
    """Pretrain one method on a pool from a common start (or only initialise it).

    Args:
        method: One of :data:`METHODS` but ``raw-pixels``.
        track: The pretraining data.
        pool: Its samples.
        order: ``[steps, B]`` sample indices of each batch (the same for all).
        args: The command line.
        clusters: Geo-clusters of the pool's locations.
        start: The common initialisation (from :func:`initial_backbone`), loaded
            into every encoder of the task, the momentum copies included.
        standardisation: Applied to every encoder's input, after the augmentation.

    Returns:
        The backbone and what happened (wall time, learning rate, losses).
    """
    if method in UNTRAINED:
        backbone = copy.deepcopy(start)
        if method == 'random-init':
            rows = order[:BN_CALIBRATION_BATCHES]
            calibrate_batchnorm(
                backbone, [standardisation(pool.image[r, 0]) for r in rows], args.device
            )
        return backbone, {'steps': 0, 'init_checksum': checksum(start)}
    task, layout = build_task(method, track, args, clusters)
    hooks = start_task(task, start, standardisation)
    initial = checksum(encoders(task)[0])
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
        deterministic='warn',
    )
    loader = DataLoader(Batches(pool, order, layout), batch_size=None, shuffle=False)
    began = time.perf_counter()
    trainer.fit(task, train_dataloaders=loader)
    wall = time.perf_counter() - began
    for hook in hooks:
        hook.remove()
    losses = recorder.losses
    tail = losses[-max(1, len(losses) // 10) :]
    return encoders(task)[0], {
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
        original filter of the input channel that gets j, times
        ``in_channels / 3``: the dropped bands' share of the response is made up,
        as timm's ``adapt_input_conv`` and TorchGeo do when they change the
        number of input channels.
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
        rgb.weight.copy_(conv.weight[:, source] * (conv.in_channels / 3))
        if conv.bias is not None and rgb.bias is not None:
            rgb.bias.copy_(conv.bias)
    copied = copy.deepcopy(backbone)
    copied.conv1 = rgb.to(conv.weight.device)
    return copied


@torch.no_grad()
def embed(backbone: nn.Module, images: Tensor, device: torch.device) -> Tensor:
    """Pooled features of a frozen backbone, BatchNorm in eval mode.

    Args:
        backbone: The backbone.
        images: ``[N, C, H, W]`` inputs (standardised).
        device: Where to run it.

    Returns:
        ``[N, d]`` features on the CPU.
    """
    backbone.eval().to(device)
    chunks = [
        backbone(chunk.to(device)).float().cpu() for chunk in torch.split(images, 128)
    ]
    return torch.cat(chunks)


def probe_correct(
    train: Tensor, train_labels: Tensor, test: Tensor, test_labels: Tensor
) -> np.ndarray:
    """Which test images a logistic regression on frozen features gets right.

    Args:
        train: Training features.
        train_labels: Their classes.
        test: Test features.
        test_labels: Their classes.

    Returns:
        Bool ``[N_test]``: prediction equals the label.
    """
    probe = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, random_state=0)
    )
    # One BLAS thread: these fits are small, and OpenBLAS threads spinning
    # against other busy processes made them 20 to 40 times slower here.
    with threadpool_limits(limits=1, user_api='blas'):
        probe.fit(train.numpy(), train_labels.numpy())
        predicted = probe.predict(test.numpy())
    return np.asarray(predicted == test_labels.numpy())


def retrieval_correct(first: Tensor, second: Tensor) -> np.ndarray:
    """Top-1 retrieval of the same location at the other date.

    Args:
        first: ``[N, d]`` features of the locations at the earlier date.
        second: ``[N, d]`` features of the same locations at the later date.

    Returns:
        Bool ``[2, N]``: row 0, location i at the earlier date is most
        cosine-similar to location i at the later date among all N; row 1, the
        reverse.
    """
    similarity = F.normalize(first, dim=1) @ F.normalize(second, dim=1).T
    truth = torch.arange(len(first))
    forward = similarity.argmax(dim=1) == truth
    backward = similarity.argmax(dim=0) == truth
    return torch.stack([forward, backward]).numpy()


def t_interval(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of its two-sided 95 % Student-t interval.

    Args:
        values: One value per seed, at least 2.

    Returns:
        ``mean`` and ``t(0.975, n - 1) · s / sqrt(n)`` with the sample standard
        deviation s.
    """
    array = np.asarray(values, dtype=float)
    n = len(array)
    half = float(stats.t.ppf(0.975, n - 1) * array.std(ddof=1) / np.sqrt(n))
    return float(array.mean()), half


def bootstrap_interval(
    outcomes: np.ndarray, draws: int, seed: int
) -> tuple[float, float]:
    """95 % percentile bootstrap interval over test items of a mean outcome.

    Args:
        outcomes: ``[S, K, N]`` per seed, per direction (1 for the probe, 2 for
            retrieval) and per test item (image or location); correctness (0/1)
            or a paired difference of correctness (-1/0/1).
        draws: Number of resamples.
        seed: Seed of the resampling.

    Returns:
        The 2.5th and 97.5th percentiles of the mean over seeds, directions and
        items, resampling the N items with replacement (the same items in every
        seed and direction: the test set is one sample, shared by the seeds).
    """
    n = outcomes.shape[-1]
    generator = np.random.default_rng(seed)
    per_item = outcomes.mean(axis=(0, 1))
    rows = generator.integers(0, n, size=(draws, n))
    means = per_item[rows].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def verdict(a: str, b: str, intervals: Sequence[tuple[float, float]]) -> str:
    """A verdict only where every interval of a difference a − b excludes 0.

    Args:
        a: First method.
        b: Second method.
        intervals: Intervals of the difference (seeds, test set).

    Returns:
        ``'a > b'``, ``'a < b'`` or ``'not resolved at this budget'``.
    """
    if all(low > 0 for low, _ in intervals):
        return f'{a} > {b}'
    if all(high < 0 for _, high in intervals):
        return f'{a} < {b}'
    return 'not resolved at this budget'


def summarise(outcomes: np.ndarray, draws: int, seed: int) -> dict[str, Any]:
    """Per-seed values, seed interval and test-set interval of one metric.

    Args:
        outcomes: ``[S, K, N]`` correctness, or differences of correctness.
        draws: Bootstrap resamples.
        seed: Bootstrap seed.

    Returns:
        ``per_seed``, ``mean``, ``seed_t95`` (half-width), ``seed_interval``
        and ``test_interval`` (bootstrap over test items).
    """
    per_seed = [float(v) for v in outcomes.mean(axis=(1, 2))]
    mean, half = t_interval(per_seed)
    return {
        'per_seed': per_seed,
        'mean': mean,
        'seed_t95': half,
        'seed_interval': [mean - half, mean + half],
        'test_interval': list(bootstrap_interval(outcomes, draws, seed)),
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


def evaluate(
    backbone: nn.Module,
    track: Track,
    eurosat: tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]],
    views: dict[str, tuple[Tensor, Tensor]],
    standardisation: Standardisation,
    device: torch.device,
) -> dict[str, np.ndarray]:
    """Correctness of one frozen backbone on every metric.

    Args:
        backbone: The backbone.
        track: Its pretraining data.
        eurosat: Output of :func:`load_eurosat`.
        views: Output of :func:`crop_views`.
        standardisation: The pool's, applied to every input (EuroSAT through the
            bands its R, G, B are fed to).
        device: Where to run it.

    Returns:
        Per metric of :data:`METRICS`, bool ``[K, N]``.
    """
    train_x, train_y, test_x, test_y, _ = eurosat
    channels = track.eurosat_channels
    rgb = standardisation.select([channels.index(j) for j in range(3)])
    probe_net = with_channels(backbone, channels)
    found = {
        'probe': probe_correct(
            embed(probe_net, rgb(train_x), device),
            train_y,
            embed(probe_net, rgb(test_x), device),
            test_y,
        )[None]
    }
    for name, (first, second) in views.items():
        found[name] = retrieval_correct(
            embed(backbone, standardisation(first), device),
            embed(backbone, standardisation(second), device),
        )
    return found


def evaluate_pixels(
    eurosat: tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]],
    views: dict[str, tuple[Tensor, Tensor]],
) -> dict[str, np.ndarray]:
    """Correctness of the raw-pixel baseline: flattened [0, 1] pixels as features.

    Args:
        eurosat: Output of :func:`load_eurosat`.
        views: Output of :func:`crop_views`.

    Returns:
        Per metric of :data:`METRICS`, bool ``[K, N]``.
    """
    train_x, train_y, test_x, test_y, _ = eurosat
    found = {
        'probe': probe_correct(train_x.flatten(1), train_y, test_x.flatten(1), test_y)[
            None
        ]
    }
    for name, (first, second) in views.items():
        found[name] = retrieval_correct(first.flatten(1), second.flatten(1))
    return found


def encode(correct: np.ndarray) -> list[str]:
    """Correctness rows as strings of 0 and 1, for the JSON.

    Args:
        correct: Bool ``[K, N]``.

    Returns:
        One string per row.
    """
    return [''.join('1' if v else '0' for v in row) for row in correct]


def run_track(
    track: Track,
    args: argparse.Namespace,
    eurosat: tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]],
) -> dict[str, Any]:
    """Pretrain and evaluate every method on one track, for every seed.

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
        args.retrieval_shift,
        args.retrieval_locations,
        args.seed,
    )
    views = crop_views(first, second, args.retrieval_patch_size, args.seed)
    standardisation = Standardisation.of(pool.image)
    try:
        # One OpenMP thread: scikit-learn's k-means adds the threads' partial sums
        # in the order they finish, which changes the last bits of the centroids
        # from run to run with 3 threads or more.
        with threadpool_limits(limits=1, user_api='openmp'):
            clusters = GeoClusters(num_clusters=args.geo_classes, seed=args.seed).fit(
                pool.point
            )
    except ValueError as err:
        msg = f'--geo-classes {args.geo_classes} on {track.name}: {err}'
        raise BadInputError(msg) from err
    labels = clusters.predict(pool.point)
    seeds = list(range(args.seed, args.seed + args.seeds))
    methods = [m for m in METHODS if m in args.methods]
    results: dict[str, Any] = {}
    correct: dict[str, dict[str, np.ndarray]] = {}
    for method in methods:
        if method == 'seco' and track.views < 3:
            results[method] = {
                'skipped': 'SeCo needs 3 acquisitions in distinct seasons per '
                f'location; {track.name} has {track.views}'
            }
            print(f'  {method:<20} n/a ({track.views} dates per location)')
            continue
        if method == 'raw-pixels':
            found = evaluate_pixels(eurosat, views)
            results[method] = {'pretraining': [], 'correct': {}}
            correct[method] = {k: np.stack([v] * len(seeds)) for k, v in found.items()}
            results[method]['correct'] = {k: [encode(v)] for k, v in found.items()}
            continue
        results[method] = {'pretraining': [], 'correct': {k: [] for k in METRICS}}
        correct[method] = {}
        per_seed: dict[str, list[np.ndarray]] = {k: [] for k in METRICS}
        for seed in seeds:
            start = initial_backbone(track.in_channels, seed)
            generator = torch.Generator().manual_seed(seed)
            draws = -(-args.steps * args.batch_size // len(pool.image))
            order = torch.cat(
                [
                    torch.randperm(len(pool.image), generator=generator)
                    for _ in range(draws)
                ]
            )[: args.steps * args.batch_size].reshape(args.steps, args.batch_size)
            seed_all(seed)
            backbone, training = pretrain(
                method, track, pool, order, args, clusters, start, standardisation
            )
            began = time.perf_counter()
            found = evaluate(
                backbone, track, eurosat, views, standardisation, args.device
            )
            training['evaluation_s'] = time.perf_counter() - began
            training['seed'] = seed
            training['start_checksum'] = checksum(start)
            results[method]['pretraining'].append(training)
            for key, value in found.items():
                per_seed[key].append(value)
                results[method]['correct'][key].append(encode(value))
            print(
                f'  {method:<20} seed {seed}: '
                + ' '.join(f'{k} {v.mean():.3f}' for k, v in found.items())
                + f' ({training.get("wall_s", 0.0):.0f} s pretraining)',
                flush=True,
            )
        correct[method] = {k: np.stack(v) for k, v in per_seed.items()}
    draws, boot = args.bootstrap, args.seed
    for method, metrics in correct.items():
        results[method]['metrics'] = {
            k: summarise(v.astype(float), draws, boot) for k, v in metrics.items()
        }
        summary = results[method]['metrics']
        print(
            f'  {method:<20} '
            + ' '.join(
                f'{k} {summary[k]["mean"]:.3f} ± {summary[k]["seed_t95"]:.3f}'
                for k in METRICS
            )
        )
    comparisons = []
    for a, b in COMPARISONS:
        if a not in correct or b not in correct:
            continue
        for metric in METRICS:
            difference = correct[a][metric].astype(float) - correct[b][metric]
            row = summarise(difference, draws, boot)
            row |= {
                'a': a,
                'b': b,
                'metric': metric,
                'verdict': verdict(
                    a, b, [tuple(row['seed_interval']), tuple(row['test_interval'])]
                ),
            }
            comparisons.append(row)
    same = all(
        len(
            {
                round(r['pretraining'][i]['init_checksum'], 3)
                for r in results.values()
                if r.get('pretraining')
            }
        )
        <= 1
        for i in range(len(seeds))
    )
    return {
        'description': track.description,
        'note': track.note,
        'in_channels': track.in_channels,
        'pool': pool.info | {'read_s': read_s},
        'standardisation': {
            'mean': standardisation.mean.tolist(),
            'std': standardisation.std.tolist(),
        },
        'geo_clusters': {
            'k': args.geo_classes,
            'sizes': torch.bincount(labels, minlength=args.geo_classes).tolist(),
            'centroids_lonlat': clusters.centroids_lonlat.tolist(),
        },
        'retrieval_set': held_out,
        'seeds': seeds,
        'same_initialisation': same,
        'methods': results,
        'comparisons': comparisons,
        'wall_s': time.perf_counter() - track_began,
    }


def cell(summary: dict[str, Any]) -> str:
    """A table cell: mean ± seed t-interval, and the test-set interval.

    Args:
        summary: Output of :func:`summarise`.

    Returns:
        The text.
    """
    low, high = summary['test_interval']
    return f'{summary["mean"]:.3f} ± {summary["seed_t95"]:.3f} [{low:.3f}, {high:.3f}]'


def markdown(payload: dict[str, Any]) -> str:
    """Markdown report: configuration, one table per track and the verdicts.

    Args:
        payload: The JSON payload.

    Returns:
        The report.
    """
    config = payload['config']
    machine = payload['machine']
    code = payload['code']
    mode = 'quick (smoke run, not a measurement)' if config['quick'] else 'measurement'
    lines = [
        '# Pretraining probe: same data, same budget',
        '',
        f'Command: `{payload["command"]}`',
        '',
        (
            f'Code: torchgeo_geossl from `{code["package"]}`, commit '
            f'{code["commit"] or "unknown"}'
            + (
                f', modified files: {", ".join(code["modified"])}'
                if code['modified']
                else ''
            )
            + ('' if code['from_checkout'] else ' (NOT the checkout of this script)')
            + '.'
        ),
        '',
        f'Mode: {mode}. Machine: {machine["platform"]}, {machine["cpu"]}, '
        f'{machine["cpus_usable"]} usable CPUs, device {machine["device"]}'
        + (f' ({machine["gpu"]})' if 'gpu' in machine else '')
        + f', torch {machine["versions"]["torch"]}, '
        f'torchgeo {machine["versions"]["torchgeo"]}. Wall time '
        f'{payload["wall_s"]:.0f} s.',
        '',
        (
            f'Budget for every method and seed: {MODEL} (torchvision init), '
            f'{config["patch_size"]} px patches (also the crop size), crop scale '
            f'{tuple(config["crop_scale"])} for every GASSL variant and SeCo, '
            f'{config["steps"]} steps of {config["batch_size"]} samples from a pool '
            f'of {config["pool"]} per track, {config["queue"]} negatives, geo head '
            f'K = {config["geo_classes"]}; {config["seeds"]} pretraining seeds. '
            f'EuroSAT linear probe: {payload["eurosat"]["train"]} training / '
            f'{payload["eurosat"]["test"]} test images.'
        ),
        '',
        (
            'Cells: mean over seeds ± half-width of the 95 % Student-t interval over '
            'seeds [95 % bootstrap interval over the test images or locations, '
            f'{config["bootstrap"]} resamples]. A verdict is given only where both '
            'intervals of the difference exclude 0.'
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
            f'Retrieval over {held["locations"]} held-out locations of '
            f'{", ".join(held["cities"])} (bands {", ".join(held["bands"])}; chance '
            f'{1 / held["locations"]:.3f}): {held["patch_px"]} px crops of '
            f'{held["cell_px"]} px grid cells, each date at its own random offset '
            '(shifted) or both at the centre (co-registered). Same initialisation '
            f'for every method of a seed: {"yes" if track["same_initialisation"] else "NO"}.'
            + (f' Note: {track["note"]}.' if track['note'] else ''),
            '',
            '| method | '
            + ' | '.join(METRICS.values())
            + ' | s/step | loss first → last |',
            '|---|' + '---:|' * (len(METRICS) + 2),
        ]
        for method, row in track['methods'].items():
            if 'skipped' in row:
                lines.append(
                    f'| {method} | '
                    + 'n/a | ' * len(METRICS)
                    + f' | {row["skipped"]} |'
                )
                continue
            cells = [cell(row['metrics'][k]) for k in METRICS]
            runs = row['pretraining']
            if runs and runs[0]['steps']:
                cells += [
                    f'{np.mean([r["s_per_step"] for r in runs]):.3f}',
                    (
                        f'{np.mean([r["first_loss"] for r in runs]):.2f} → '
                        f'{np.mean([r["last_loss_mean_of_last_10pct"] for r in runs]):.2f}'
                    ),
                ]
            else:
                cells += ['', '']
            lines.append(f'| {method} | ' + ' | '.join(cells) + ' |')
        lines += [
            '',
            f'Differences a − b on {name} (paired by seed and test item):',
            '',
            '| a − b | metric | mean | seed 95 % t | test-set 95 % | verdict |',
            '|---|---|---:|---:|---:|---|',
        ]
        for row in track['comparisons']:
            seed_low, seed_high = row['seed_interval']
            low, high = row['test_interval']
            lines.append(
                f'| {row["a"]} − {row["b"]} | {row["metric"]} | {row["mean"]:+.3f} | '
                f'[{seed_low:+.3f}, {seed_high:+.3f}] | [{low:+.3f}, {high:+.3f}] | '
                f'{row["verdict"]} |'
            )
    return '\n'.join(lines) + '\n'


def plot(payload: dict[str, Any], path: Path) -> None:
    """Bar charts per metric and track, error bars the seeds' 95 % t-interval.

    Args:
        payload: The JSON payload.
        path: PNG to write.
    """
    tracks = payload['tracks']
    fig, axes = plt.subplots(
        len(METRICS), len(tracks), figsize=(4.5 * len(tracks), 9), squeeze=False
    )
    for column, (name, track) in enumerate(tracks.items()):
        rows = {m: r for m, r in track['methods'].items() if 'skipped' not in r}
        names = list(rows)
        chance = 1 / track['retrieval_set']['locations']
        for line, (metric, title) in enumerate(METRICS.items()):
            ax = axes[line][column]
            ax.bar(
                names,
                [rows[m]['metrics'][metric]['mean'] for m in names],
                yerr=[rows[m]['metrics'][metric]['seed_t95'] for m in names],
                capsize=3,
                color=('tab:blue', 'tab:green', 'tab:olive')[line],
            )
            if metric != 'probe':
                ax.axhline(chance, color='tab:red', linestyle='--', label='chance')
                ax.legend(fontsize=7)
            ax.set_title(f'{name}: {title}', fontsize=9)
            ax.set_ylim(0, 1)
            ax.set_ylabel('top-1 accuracy')
            ax.tick_params(axis='x', labelsize=7, labelrotation=60)
    config = payload['config']
    fig.suptitle(
        f'{MODEL}, {config["patch_size"]} px, {config["steps"]} steps × '
        f'{config["batch_size"]}, {config["seeds"]} pretraining seeds (95 % t)'
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
        ('seeds', 'pretraining seeds (at least 2)'),
        ('retrieval-locations', 'largest number of held-out locations'),
        ('eurosat-per-class', 'EuroSAT images per class in each half'),
        ('bootstrap', 'bootstrap resamples of the test-set intervals'),
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
        help='side of the held-out retrieval crops in px, whatever --patch-size '
        'is (default 32)',
    )
    parser.add_argument(
        '--retrieval-shift',
        type=int,
        default=8,
        help="largest offset in px of each date's crop in its grid cell; cells "
        'are crop + shift wide (default 8: 40 px cells)',
    )
    parser.add_argument(
        '--crop-scale',
        type=float,
        nargs=2,
        default=(0.2, 1.0),
        metavar=('LOW', 'HIGH'),
        help='crop area range of every GASSL variant and SeCo, the same with and '
        "without temporal positives (default 0.2 1.0, MoCo-v2's)",
    )
    parser.add_argument(
        '--methods',
        default=','.join(METHODS),
        help=f'comma-separated methods (default all: {",".join(METHODS)})',
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
        help='output folder (default benchmarks/results; with --quick a new '
        'temporary folder, so that a smoke run never overwrites the results)',
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
        'bootstrap',
    ):
        if getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be positive')
    if args.retrieval_shift < 0:
        parser.error('--retrieval-shift must be 0 or more (px)')
    low, high = args.crop_scale
    if not 0 < low <= high <= 1:
        parser.error(f'--crop-scale {low} {high}: need 0 < LOW <= HIGH <= 1')
    args.crop_scale = (low, high)
    if args.seeds < 2:
        parser.error('--seeds must be at least 2 (the t-interval over seeds needs 2)')
    methods = [m.strip() for m in args.methods.split(',') if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        parser.error(f'--methods: unknown {unknown}, choose from {", ".join(METHODS)}')
    args.methods = [m for m in METHODS if m in methods]
    args.out = output_folder(args.out, args.quick, 'pretrain_probe')
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
    code = describe_code()
    if not code['from_checkout']:
        print(
            f'[warning] torchgeo_geossl was imported from {IMPORTED_PACKAGE}, not '
            f'from this checkout ({CHECKOUT_PACKAGE}): the numbers describe that '
            f'copy; put {REPO} first on PYTHONPATH (a run as a script does)',
            file=sys.stderr,
        )
    if args.threads:
        torch.set_num_threads(args.threads)
    # The same arguments give the same numbers: deterministic algorithms wherever
    # torch has them (a warning names any op that has none), for the untrained
    # methods' evaluation too; cuBLAS needs its workspace set before it starts.
    os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
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
        'code': code,
        'config': {
            key: str(value) if isinstance(value, Path | torch.device) else value
            for key, value in vars(args).items()
        }
        | {
            'model': MODEL,
            'output_dim': OUTPUT_DIM,
            'init': 'timm zero_init_last=False',
        },
        'machine': describe_machine(args.device),
        'eurosat': eurosat[4],
        'definitions': {
            'probe': 'top-1 accuracy of a logistic regression on standardised, '
            'global-average-pooled frozen features, fit on the fixed training half '
            'and scored on the fixed test half',
            'retrieval': 'top-1 accuracy of finding the same held-out location at '
            'the other date among all held-out locations by cosine similarity of '
            'pooled features, each date cropped at its own random offset in the '
            'grid cell; mean of both directions',
            'retrieval_aligned': 'the same with both dates cropped at the centre '
            'of the cell (co-registered pixels)',
            'seed_t95': 'half-width of the 95 % Student-t interval of the mean '
            'over pretraining seeds',
            'test_interval': '95 % percentile bootstrap interval of the mean over '
            'seeds, resampling test images (probe) or locations (retrieval)',
            'verdict': 'given only where the seed interval and the test-set '
            'interval of the paired difference both exclude 0',
            'correct': 'per seed, per direction, 1 where the test item was right',
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
    missing = run_environment(os.environ)
    if missing:
        # OpenMP reads its policy when torch loads, and the package is imported
        # above: set what is missing, then start again.
        os.environ.update(missing)
        os.execv(sys.executable, [sys.executable, __file__, *sys.argv[1:]])
    sys.exit(main())

"""Benchmark of TemporalViewSampler: read throughput and query-drawing scaling.

Run from the repository root::

    python benchmarks/sampling.py [--data-root ../shared/data]
                                  [--out benchmarks/results] [--quick]

Part 1, read throughput, on the real ``landsat-timeseries-colorado`` series (skipped
with a message when absent) and on one site of the SYNTHETIC demo series written to a
temporary folder. In the same process, with the same patch size, after a warm-up and
over several repeats (interleaved, median reported), it times

* single: TorchGeo ``RandomPatchSampler @ RandomTimestampSampler``, each query read
  with ``dataset[query]``;
* pair: ``RandomPatchSampler @ TemporalViewSampler(views=2)``, each query read with
  ``TemporalViewsDataset(dataset)[query]``.

Both timings include drawing the queries. Reported: singles/s, pairs/s, the ratio
pairs/s ÷ singles/s (target >= 0.45) and the overhead beyond the second read,
``t_pair - 2 * t_single`` in milliseconds per sample, where ``t`` is the median wall
time of one sample: what a pair costs beyond two independent single reads (negative:
a pair is cheaper than two singles).

Part 2, query-drawing scaling, on synthetic indexes of 100, 1,000 and 10,000 files
(footprints of 256 × 256 pixels at 10 m on a grid, 10 dates per footprint, grid
column c acquired c days later than column 0; no file is written). For each size it
reports the construction time and its tracemalloc peak, then the time to draw 10,000
queries (2,000 with ``--quick``) of 64 × 64 pixels: the spatial locations alone, our
temporal draw alone (``_iter_subset`` over those locations, as TorchGeo's
``SpatioTemporalSampler`` calls it), the composed sampler end to end, and TorchGeo's
``RandomTimestampSampler`` composed the same way (whose ``.cx`` scan grows with the
index; fewer queries, scaled). Target: 10,000-file time <= 2 × 100-file time.

Output: a markdown table on stdout, and ``sampling.json`` (all numbers and the
machine) and ``sampling.png`` in ``--out``.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import torch
import torchgeo
from matplotlib import pyplot as plt
from pyproj import CRS
from torchgeo.datasets import GeoDataset, RasterDataset
from torchgeo.datasets.utils import GeoSlice, Sample
from torchgeo.samplers import RandomPatchSampler, RandomTimestampSampler

from torchgeo_geossl.datasets.demo import (
    DEMO_LOCATIONS,
    DemoTimeSeries,
    generate_demo_data,
)
from torchgeo_geossl.datasets.views import TemporalViewsDataset
from torchgeo_geossl.samplers.temporal_views import TemporalViewSampler

REPO = Path(__file__).resolve().parents[1]
PAIR_TARGET = 0.45
SCALING_TARGET = 2.0
INDEX_SIZES = (100, 1_000, 10_000)
DATES_PER_FOOTPRINT = 10
TILE_PIXELS = 256
RES = 10.0

# Expected here: random @ sequential samplers warn that epochs may vary in length,
# and patches straddling synthetic tiles of different dates are skipped (counted).
warnings.filterwarnings('ignore', message='random_sampler @ sequential_sampler')
warnings.filterwarnings('ignore', message='TemporalViewSampler skipping')


class ColoradoLandsat(RasterDataset):
    """Landsat-5/7 reflectance (b3, b4, b5) of the Colorado series (README recipe)."""

    filename_glob = 'L*_b3.tif'
    filename_regex = (
        r'^L[ET][57]\d{6}(?P<date>\d{7})[A-Z]{3}\d{2}_(?P<band>b3|b4|b5)\.tif$'
    )
    date_format = '%Y%j'
    separate_files = True
    all_bands = ('b3', 'b4', 'b5')


class SyntheticIndex(GeoDataset):
    """A GeoDataset whose index is built in memory: footprints on a grid × dates.

    Reading returns only the query bounds; it exists to time samplers.
    """

    def __init__(self, files: int) -> None:
        """Build the index.

        Args:
            files: Number of index rows, a multiple of the dates per footprint.
        """
        footprints = files // DATES_PER_FOOTPRINT
        side = math.ceil(math.sqrt(footprints))
        tile = TILE_PIXELS * RES
        rows, cols = np.divmod(np.arange(footprints), side)
        boxes = shapely.box(
            cols * tile, rows * tile, (cols + 1) * tile, (rows + 1) * tile
        )
        calendar = pd.Timestamp('2021-01-01') + pd.to_timedelta(
            np.arange(DATES_PER_FOOTPRINT) * 36, unit='D'
        )
        left = pd.DatetimeIndex(
            [
                calendar[d] + pd.Timedelta(days=int(c))
                for c in cols
                for d in range(DATES_PER_FOOTPRINT)
            ]
        )
        index = pd.IntervalIndex.from_arrays(
            left, left + pd.Timedelta('1D') - pd.Timedelta('1us'), closed='both'
        )
        index.name = 'datetime'
        self.index = gpd.GeoDataFrame(
            {'filepath': [f'synthetic_{i}.tif' for i in range(len(left))]},
            index=index,
            geometry=np.repeat(boxes, DATES_PER_FOOTPRINT),
            crs=CRS.from_epsg(32631),
        )
        self._res = (RES, RES)

    def __getitem__(self, index: GeoSlice) -> Sample:
        """Return the bounds of a query.

        Args:
            index: A query.

        Returns:
            ``{'bounds': tensor}``.
        """
        return {'bounds': self._slice_to_tensor(index)}


def machine() -> dict[str, Any]:
    """Describe the machine and library versions."""
    cpu = platform.processor()
    cpuinfo = Path('/proc/cpuinfo')
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    return {
        'platform': platform.platform(),
        'cpu': cpu,
        'cpu_count': os.cpu_count(),
        'python': platform.python_version(),
        'torch': torch.__version__,
        'torchgeo': torchgeo.__version__,
        'numpy': np.__version__,
        'pandas': pd.__version__,
        'shapely': shapely.__version__,
        'geopandas': gpd.__version__,
    }


def timed(run: Callable[[], int]) -> tuple[float, int]:
    """Wall time of *run* and the count it returns."""
    start = time.perf_counter()
    count = run()
    return time.perf_counter() - start, count


def consume(queries: Iterable[Any], read: Callable[[Any], Sample]) -> int:
    """Read every query; return how many were read.

    Iterates directly: ``list()`` would call ``len()``, which TorchGeo computes for
    random @ sequential samplers by iterating an extra epoch.
    """
    count = 0
    for query in queries:
        read(query)
        count += 1
    return count


def read_throughput(
    name: str, dataset: GeoDataset, *, patch: int, samples: int, repeats: int
) -> dict[str, Any]:
    """Time single reads and pair reads on *dataset*."""
    views = TemporalViewsDataset(dataset)

    def single(seed: int, length: int) -> int:
        spatial = RandomPatchSampler(dataset, size=patch, length=length, generator=seed)
        return consume(
            spatial @ RandomTimestampSampler(dataset, generator=seed),
            dataset.__getitem__,
        )

    def pair(seed: int, length: int) -> int:
        spatial = RandomPatchSampler(dataset, size=patch, length=length, generator=seed)
        return consume(
            spatial @ TemporalViewSampler(dataset, views=2, generator=seed),
            views.__getitem__,
        )

    single(1000, 5)
    pair(1000, 5)
    single_times: list[float] = []
    pair_times: list[float] = []
    for repeat in range(repeats):
        elapsed, count = timed(partial(single, repeat, samples))
        single_times.append(elapsed / count)
        elapsed, count = timed(partial(pair, repeat, samples))
        pair_times.append(elapsed / count)
    t_single = statistics.median(single_times)
    t_pair = statistics.median(pair_times)
    return {
        'dataset': name,
        'files': len(dataset.index),
        'patch_pixels': patch,
        'samples_per_repeat': samples,
        'repeats': repeats,
        'single_s_per_sample': single_times,
        'pair_s_per_sample': pair_times,
        'singles_per_s': 1 / t_single,
        'pairs_per_s': 1 / t_pair,
        'ratio_pair_over_single': t_single / t_pair,
        'overhead_beyond_two_reads_ms': (t_pair - 2 * t_single) * 1000,
        'target_ratio': PAIR_TARGET,
        'meets_target': t_single / t_pair >= PAIR_TARGET,
    }


def colorado(data_root: Path) -> GeoDataset | None:
    """The Colorado Landsat series, or None (with a message) when it is absent."""
    root = data_root / 'landsat-timeseries-colorado'
    if not root.is_dir():
        print(f'[skip] {root} not found: skipping the Colorado Landsat benchmark')
        return None
    return ColoradoLandsat(paths=root)


def demo(root: Path, size: int) -> GeoDataset:
    """One site of the SYNTHETIC demo series, indexed in its own UTM zone.

    One site only: over all demo sites (spread over the globe) TorchGeo's
    RandomPatchSampler rejection-samples points in the bounding box of all
    footprints and practically never finishes.
    """
    location = DEMO_LOCATIONS[0]
    generate_demo_data(root, size=size, locations=[location])
    return DemoTimeSeries(paths=root, crs=f'EPSG:{location.epsg}')


def scaling(files: int, queries: int, baseline_queries: int) -> dict[str, Any]:
    """Construction cost and drawing time of TemporalViewSampler on synthetic data."""
    build, _ = timed(lambda: len(SyntheticIndex(files).index))
    dataset = SyntheticIndex(files)

    def construct_sampler() -> int:
        TemporalViewSampler(dataset, generator=0)
        return 1

    construct, _ = timed(construct_sampler)
    tracemalloc.start()
    TemporalViewSampler(SyntheticIndex(files), generator=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    sampler = TemporalViewSampler(dataset, views=2, generator=0)
    spatial = RandomPatchSampler(dataset, size=64, length=queries, generator=0)
    spatial_time, _ = timed(lambda: sum(1 for _ in spatial))
    locations = list(RandomPatchSampler(dataset, size=64, length=queries, generator=0))

    def temporal() -> int:
        return sum(1 for loc in locations for _ in sampler._iter_subset(loc))

    temporal_time, drawn = timed(temporal)
    composed = RandomPatchSampler(dataset, size=64, length=queries, generator=1) @ (
        TemporalViewSampler(dataset, views=2, generator=1)
    )
    composed_time, _ = timed(lambda: sum(1 for _ in composed))
    baseline = RandomPatchSampler(
        dataset, size=64, length=baseline_queries, generator=0
    ) @ RandomTimestampSampler(dataset, generator=0)
    baseline_time, _ = timed(lambda: sum(1 for _ in baseline))
    return {
        'files': files,
        'queries': queries,
        'index_build_s': build,
        'construction_s': construct,
        'construction_peak_mib': peak / 2**20,
        'spatial_s': spatial_time,
        'temporal_draw_s': temporal_time,
        'temporal_us_per_query': temporal_time / queries * 1e6,
        'composed_s': composed_time,
        'queries_drawn': drawn,
        'skip_report': sampler.report(),
        'torchgeo_timestamp_queries': baseline_queries,
        'torchgeo_timestamp_s_scaled': baseline_time * queries / baseline_queries,
    }


def markdown(reads: list[dict[str, Any]], scales: list[dict[str, Any]]) -> str:
    """Markdown tables of the results."""
    lines = [
        (
            '| dataset | files | patch | singles/s | pairs/s | pair/single | '
            'overhead beyond 2 reads (ms/sample) | target >= 0.45 |'
        ),
        '|---|---|---|---|---|---|---|---|',
    ]
    for r in reads:
        lines.append(
            f'| {r["dataset"]} | {r["files"]} | {r["patch_pixels"]} | '
            f'{r["singles_per_s"]:.1f} | {r["pairs_per_s"]:.1f} | '
            f'{r["ratio_pair_over_single"]:.2f} | '
            f'{r["overhead_beyond_two_reads_ms"]:+.2f} | '
            f'{"yes" if r["meets_target"] else "NO"} |'
        )
    n = scales[0]['queries']
    lines += [
        '',
        (
            f'Drawing {n} queries of 64 × 64 pixels (yielded: queries whose patch is '
            'covered by 2 dates; the others straddle tiles of different dates):'
        ),
        '',
        (
            '| index files | construction (s) | construction peak (MiB) | '
            'spatial (s) | temporal draw (s) | µs/query | yielded | composed (s) | '
            'TorchGeo RandomTimestamp composed (s, scaled) |'
        ),
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for s in scales:
        lines.append(
            f'| {s["files"]} | {s["construction_s"]:.3f} | '
            f'{s["construction_peak_mib"]:.2f} | {s["spatial_s"]:.3f} | '
            f'{s["temporal_draw_s"]:.3f} | {s["temporal_us_per_query"]:.0f} | '
            f'{s["queries_drawn"]} | {s["composed_s"]:.3f} | '
            f'{s["torchgeo_timestamp_s_scaled"]:.3f} |'
        )
    first, last = scales[0], scales[-1]
    for key, label in (
        ('temporal_draw_s', 'temporal draw'),
        ('composed_s', 'composed'),
    ):
        ratio = last[key] / first[key]
        verdict = 'meets' if ratio <= SCALING_TARGET else 'MISSES'
        lines.append(
            f'\n{label}: {last["files"]} files / {first["files"]} files = '
            f'{ratio:.2f} ({verdict} the <= {SCALING_TARGET:g} target)'
        )
    return '\n'.join(lines)


def plot(reads: list[dict[str, Any]], scales: list[dict[str, Any]], path: Path) -> None:
    """Bar chart of read rates and line chart of drawing time per index size."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(reads))
    left.bar(x - 0.2, [r['singles_per_s'] for r in reads], 0.4, label='single reads')
    left.bar(x + 0.2, [r['pairs_per_s'] for r in reads], 0.4, label='pairs (V=2)')
    left.set_xticks(x, [r['dataset'] for r in reads])
    left.set_ylabel('samples per second')
    left.set_title('Read throughput')
    left.legend()
    files = [s['files'] for s in scales]
    for key, label in (
        ('temporal_draw_s', 'TemporalViewSampler draw'),
        ('composed_s', 'RandomPatch @ TemporalView'),
        ('torchgeo_timestamp_s_scaled', 'RandomPatch @ RandomTimestamp'),
    ):
        right.plot(files, [s[key] for s in scales], marker='o', label=label)
    right.set_xscale('log')
    right.set_yscale('log')
    right.set_xlabel('files in index')
    right.set_ylabel(f'seconds for {scales[0]["queries"]} queries')
    right.set_title('Query drawing')
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', type=Path, default=REPO.parent / 'shared/data')
    parser.add_argument('--out', type=Path, default=REPO / 'benchmarks/results')
    parser.add_argument('--quick', action='store_true', help='run in under a minute')
    args = parser.parse_args(argv)
    plt.switch_backend('Agg')
    samples, repeats = (12, 2) if args.quick else (100, 5)
    queries, baseline_queries = (2_000, 100) if args.quick else (10_000, 1_000)

    reads = []
    dataset = colorado(args.data_root)
    if dataset is not None:
        reads.append(
            read_throughput(
                'landsat-colorado', dataset, patch=32, samples=samples, repeats=repeats
            )
        )
    with tempfile.TemporaryDirectory() as tmp:
        reads.append(
            read_throughput(
                'demo (synthetic)',
                demo(Path(tmp), 128 if args.quick else 256),
                patch=64,
                samples=samples,
                repeats=repeats,
            )
        )
    scales = [scaling(n, queries, baseline_queries) for n in INDEX_SIZES]

    print(markdown(reads, scales))
    args.out.mkdir(parents=True, exist_ok=True)
    results = {
        'machine': machine(),
        'quick': args.quick,
        'reads': reads,
        'scaling': scales,
        'definitions': {
            'ratio_pair_over_single': 'pairs/s divided by singles/s',
            'overhead_beyond_two_reads_ms': (
                't_pair - 2 * t_single, median wall ms per sample; negative means a '
                'pair costs less than two independent single reads'
            ),
        },
    }
    (args.out / 'sampling.json').write_text(json.dumps(results, indent=2) + '\n')
    plot(reads, scales, args.out / 'sampling.png')
    print(f'\nwrote {args.out / "sampling.json"} and {args.out / "sampling.png"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Benchmark of TemporalViewSampler: read throughput and query-drawing scaling.

Run from anywhere (paths resolve relative to this file)::

    .venv/bin/python benchmarks/sampling.py [--quick] [--data-root DIR]
                                            [--demo-root DIR] [--out DIR]

Part 1, read throughput. In one process, with the same patch size and the same
spatial sampler on both sides, after a warm-up and over several interleaved repeats
(median reported), it times

* single: a TorchGeo baseline, ``spatial @ RandomTimestampSampler``, each query read
  with ``dataset[query]`` (one acquisition per sample);
* pair: ``spatial @ TemporalViewSampler(views=2)``, each query read with
  ``TemporalViewsDataset(dataset)[query]`` (two acquisitions per sample).

Both timings include drawing the queries; the drawing alone (iterating the sampler
without reading) is timed too. Datasets and their spatial sampler:

* ``landsat-colorado``: the real ``landsat-timeseries-colorado`` series from
  ``--data-root`` (left out with a message when absent), with TorchGeo's own
  ``RandomPatchSampler``: all 105 scenes share one 61 × 61 pixel footprint, so
  TorchGeo's rejection sampling inside the bounding box never rejects;
* ``demo``: the SYNTHETIC demo series, all 10 sites (five continents, ten UTM zones,
  indexed in Equal Earth), generated into a temporary folder (or ``--demo-root``),
  with ``ScatteredPatchSampler``: ``RandomPatchSampler`` draws points in the bounding
  box of all footprints and rejects those that miss them, and over sites spread
  around the globe that loop practically never ends.

Reported: singles/s, pairs/s, their ratio (target >= 0.45) and the overhead beyond
the second read, ``t_pair - 2 * t_single`` in milliseconds per sample and as a share
of ``2 * t_single`` (target <= 10 %), where ``t`` is the median wall time of one
sample (negative: a pair costs less than two single reads).

Part 2, query-drawing scaling, on synthetic indexes of 100, 1,000, 10,000 and
100,000 files (footprints of 256 × 256 pixels at 10 m on a contiguous grid, so
TorchGeo's ``RandomPatchSampler`` is used; 10 dates per footprint, grid column c
acquired c days later than column 0; no file is written). For each size it reports
the construction time of ``TemporalViewSampler`` and its tracemalloc peak, the
construction time of the spatial sampler, then the median time (of 3 runs) to draw
10,000 queries (2,000 with ``--quick``) of 64 × 64 pixels: the spatial locations
alone, our temporal draw alone (``_iter_subset`` over those locations, as
TorchGeo's ``SpatioTemporalSampler`` calls it), the composed sampler end to end,
and TorchGeo's ``RandomTimestampSampler`` composed the same way (whose ``.cx`` scan
grows with the index; fewer queries, scaled). Target: the per-query cost with
100,000 files is at most 2 × that with 100 files.

Output: markdown tables on stdout, and ``sampling.json`` (all numbers and the
machine) and ``sampling.png`` in ``--out``. See ``benchmarks/README.md``.
"""

import argparse
import json
import math
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
from machine import describe_machine
from matplotlib import pyplot as plt
from output import output_folder
from pyproj import CRS
from real_data import ColoradoLandsat
from torchgeo.datasets import GeoDataset
from torchgeo.datasets.utils import GeoSlice, Sample
from torchgeo.samplers import RandomPatchSampler, RandomTimestampSampler

from torchgeo_geossl.datasets.demo import (
    DEMO_LOCATIONS,
    DemoTimeSeries,
    generate_demo_data,
)
from torchgeo_geossl.datasets.views import TemporalViewsDataset
from torchgeo_geossl.samplers import ScatteredPatchSampler, TemporalViewSampler

REPO = Path(__file__).resolve().parents[1]
DATA_ROOT = Path(__file__).resolve().parents[2] / 'shared' / 'data'
PAIR_TARGET = 0.45
OVERHEAD_TARGET_PCT = 10.0
SCALING_TARGET = 2.0
INDEX_SIZES = (100, 1_000, 10_000, 100_000)
SCALING_REPEATS = 3
DATES_PER_FOOTPRINT = 10
TILE_PIXELS = 256
RES = 10.0
DEMO_TILE = 256
DEMO_TILE_QUICK = 128

DEFINITIONS = {
    'singles_per_s': (
        'single samples per second: spatial @ RandomTimestampSampler, one '
        'dataset[query] read each, drawing included (1 / median s per sample)'
    ),
    'pairs_per_s': (
        'pair samples per second: spatial @ TemporalViewSampler(views=2), one '
        'TemporalViewsDataset[query] read (two acquisitions) each, drawing included'
    ),
    'ratio_pair_over_single': 'pairs/s divided by singles/s (target >= 0.45)',
    'overhead_beyond_two_reads_ms': (
        't_pair - 2 * t_single, median wall ms per sample; negative means a '
        'pair costs less than two independent single reads'
    ),
    'overhead_beyond_two_reads_pct': (
        '(t_pair - 2 * t_single) / (2 * t_single) in percent (target <= 10)'
    ),
    'single_draw_ms': 'median ms to draw one single query (no read)',
    'pair_draw_ms': 'median ms to draw one pair query (no read)',
}

# Expected here: random @ sequential samplers warn that epochs may vary in length,
# and patches straddling synthetic tiles of different dates are skipped (counted).
warnings.filterwarnings('ignore', message='random_sampler @ sequential_sampler')
warnings.filterwarnings('ignore', message='TemporalViewSampler skipping')


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


def timed(run: Callable[[], int]) -> tuple[float, int]:
    """Wall time of *run* and the count it returns."""
    start = time.perf_counter()
    count = run()
    return time.perf_counter() - start, count


def median_time(run: Callable[[], int], repeats: int) -> tuple[float, int]:
    """Median wall time of *repeats* runs of *run* and the count of the last one."""
    times, count = [], 0
    for _ in range(repeats):
        elapsed, count = timed(run)
        times.append(elapsed)
    return statistics.median(times), count


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


def warm_up(dataset: GeoDataset) -> None:
    """Read a few pixels of every file, so that neither side pays for opening them.

    TorchGeo caches open file handles (up to 128); with more files than that, both
    sides reopen files at the same steady rate.
    """
    xres, yres = dataset.res
    for interval, point in zip(
        dataset.index.index, dataset.index.geometry.representative_point(), strict=True
    ):
        dataset[
            point.x - xres : point.x + xres,
            point.y - yres : point.y + yres,
            interval.left : interval.right,
        ]


def read_throughput(
    name: str,
    dataset: GeoDataset,
    *,
    spatial_sampler: type[RandomPatchSampler],
    reason: str,
    patch: int,
    samples: int,
    repeats: int,
) -> dict[str, Any]:
    """Time single reads and pair reads on *dataset* with one spatial sampler."""
    views = TemporalViewsDataset(dataset)

    def samplers(seed: int, length: int) -> dict[str, Iterable[Any]]:
        """Single and pair samplers with the same seeded spatial draws."""
        single = spatial_sampler(dataset, size=patch, length=length, generator=seed)
        pair = spatial_sampler(dataset, size=patch, length=length, generator=seed)
        return {
            'single': single @ RandomTimestampSampler(dataset, generator=seed),
            'pair': pair @ TemporalViewSampler(dataset, views=2, generator=seed),
        }

    readers: dict[str, Callable[[Any], Sample]] = {
        'single': dataset.__getitem__,
        'pair': views.__getitem__,
    }
    warm_up(dataset)
    for kind, sampler in samplers(1000, 5).items():
        consume(sampler, readers[kind])
    times: dict[str, list[float]] = {
        'single': [],
        'pair': [],
        'single_draw': [],
        'pair_draw': [],
    }
    for repeat in range(repeats):
        # Samplers are built outside the timed region, as once per training run
        # and the side that runs first alternates between repeats
        order = slice(None, None, 1 if repeat % 2 == 0 else -1)
        for kind, sampler in list(samplers(repeat, samples).items())[order]:
            elapsed, count = timed(partial(consume, sampler, readers[kind]))
            times[kind].append(elapsed / count)
        for kind, sampler in list(samplers(repeat, samples).items())[order]:
            elapsed, count = timed(partial(consume, sampler, lambda _: {}))
            times[f'{kind}_draw'].append(elapsed / count)
    median = {key: statistics.median(value) for key, value in times.items()}
    t_single, t_pair = median['single'], median['pair']
    ratio = t_single / t_pair
    overhead_pct = (t_pair - 2 * t_single) / (2 * t_single) * 100
    return {
        'dataset': name,
        'files': len(dataset.index),
        'spatial_sampler': spatial_sampler.__name__,
        'spatial_sampler_reason': reason,
        'patch_pixels': patch,
        'samples_per_repeat': samples,
        'repeats': repeats,
        'single_s_per_sample': times['single'],
        'pair_s_per_sample': times['pair'],
        'single_draw_s_per_query': times['single_draw'],
        'pair_draw_s_per_query': times['pair_draw'],
        'singles_per_s': 1 / t_single,
        'pairs_per_s': 1 / t_pair,
        'ratio_pair_over_single': ratio,
        'overhead_beyond_two_reads_ms': (t_pair - 2 * t_single) * 1000,
        'overhead_beyond_two_reads_pct': overhead_pct,
        'single_draw_ms': median['single_draw'] * 1000,
        'pair_draw_ms': median['pair_draw'] * 1000,
        'target_ratio': PAIR_TARGET,
        'target_overhead_pct': OVERHEAD_TARGET_PCT,
        'meets_target': ratio >= PAIR_TARGET and overhead_pct <= OVERHEAD_TARGET_PCT,
    }


def colorado(data_root: Path) -> GeoDataset | None:
    """The Colorado Landsat series, or None (with a message) when it is absent."""
    root = data_root / 'landsat-timeseries-colorado'
    if not root.is_dir():
        print(
            f'[skip] {root} not found (real data; pass --data-root to point at the '
            'shared data folder): the landsat-colorado row is left out, the demo '
            'and scaling benchmarks still run'
        )
        return None
    return ColoradoLandsat(paths=root)


def demo(root: Path, size: int) -> GeoDataset:
    """All sites of the SYNTHETIC demo series, indexed in Equal Earth.

    Generated into *root* unless already there with the same settings.
    """
    generate_demo_data(root, size=size, locations=DEMO_LOCATIONS)
    return DemoTimeSeries(paths=root)


def scaling(
    files: int, queries: int, baseline_queries: int, repeats: int
) -> dict[str, Any]:
    """Construction cost and drawing time of TemporalViewSampler on synthetic data.

    Drawing times are medians of *repeats* runs over the same locations (a run
    disturbed by other load on a shared machine does not decide the figure).
    """
    build, _ = timed(lambda: len(SyntheticIndex(files).index))
    dataset = SyntheticIndex(files)

    def construct_sampler() -> int:
        TemporalViewSampler(dataset, generator=0)
        return 1

    def construct_spatial() -> int:
        RandomPatchSampler(dataset, size=64, length=queries, generator=0)
        return 1

    construct, _ = median_time(construct_sampler, repeats)
    construct_spatial_s, _ = median_time(construct_spatial, repeats)
    tracemalloc.start()
    TemporalViewSampler(SyntheticIndex(files), generator=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    sampler = TemporalViewSampler(dataset, views=2, generator=0)
    spatial = RandomPatchSampler(dataset, size=64, length=queries, generator=0)
    spatial_time, _ = median_time(lambda: sum(1 for _ in spatial), repeats)
    locations = list(RandomPatchSampler(dataset, size=64, length=queries, generator=0))

    def temporal() -> int:
        return sum(1 for loc in locations for _ in sampler._iter_subset(loc))

    temporal_time, drawn = median_time(temporal, repeats)
    composed = RandomPatchSampler(dataset, size=64, length=queries, generator=1) @ (
        TemporalViewSampler(dataset, views=2, generator=1)
    )
    composed_time, _ = median_time(lambda: sum(1 for _ in composed), repeats)
    baseline = RandomPatchSampler(
        dataset, size=64, length=baseline_queries, generator=0
    ) @ RandomTimestampSampler(dataset, generator=0)
    baseline_time, _ = timed(lambda: sum(1 for _ in baseline))
    return {
        'files': files,
        'queries': queries,
        'repeats': repeats,
        'index_build_s': build,
        'construction_s': construct,
        'construction_peak_mib': peak / 2**20,
        'spatial_construction_s': construct_spatial_s,
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
            '| dataset | files | spatial sampler (both sides) | patch | singles/s | '
            'pairs/s | pair/single | overhead beyond 2 reads (ms/sample) | '
            'overhead (% of 2 reads) | draw single (ms) | draw pair (ms) | '
            'meets targets |'
        ),
        '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for r in reads:
        lines.append(
            f'| {r["dataset"]} | {r["files"]} | {r["spatial_sampler"]} | '
            f'{r["patch_pixels"]} | '
            f'{r["singles_per_s"]:.1f} | {r["pairs_per_s"]:.1f} | '
            f'{r["ratio_pair_over_single"]:.2f} | '
            f'{r["overhead_beyond_two_reads_ms"]:+.2f} | '
            f'{r["overhead_beyond_two_reads_pct"]:+.0f} % | '
            f'{r["single_draw_ms"]:.2f} | {r["pair_draw_ms"]:.2f} | '
            f'{"yes" if r["meets_target"] else "NO"} |'
        )
    lines += [
        '',
        (
            f'Targets: pair/single >= {PAIR_TARGET:g} and overhead <= '
            f'{OVERHEAD_TARGET_PCT:g} % of two single reads. Single = spatial @ '
            "TorchGeo's RandomTimestampSampler, dataset[query]; pair = spatial @ "
            'TemporalViewSampler(views=2), TemporalViewsDataset[query]; both include '
            'drawing the queries. Spatial sampler per row:'
        ),
    ]
    lines += [
        f'- {r["dataset"]}: {r["spatial_sampler"]} ({r["spatial_sampler_reason"]})'
        for r in reads
    ]
    lines.append('')
    n = scales[0]['queries']
    lines += [
        (
            f'Drawing {n} queries of 64 × 64 pixels with RandomPatchSampler on a '
            'contiguous grid of footprints (yielded: queries whose patch is covered '
            'by 2 dates; the others straddle tiles of different dates):'
        ),
        '',
        (
            '| index files | construction (s) | construction peak (MiB) | '
            'spatial construction (s) | spatial (s) | temporal draw (s) | µs/query | '
            'yielded | composed (s) | TorchGeo RandomTimestamp composed (s, scaled) |'
        ),
        '|---|---|---|---|---|---|---|---|---|---|',
    ]
    for s in scales:
        lines.append(
            f'| {s["files"]} | {s["construction_s"]:.3f} | '
            f'{s["construction_peak_mib"]:.2f} | {s["spatial_construction_s"]:.3f} | '
            f'{s["spatial_s"]:.3f} | '
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
    left.set_xticks(
        x,
        [
            f'{r["dataset"].split(" (")[0]}\n{r["spatial_sampler"]}\n'
            f'pair/single {r["ratio_pair_over_single"]:.2f}'
            for r in reads
        ],
    )
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
    parser.add_argument(
        '--data-root',
        type=Path,
        default=DATA_ROOT,
        help=f'shared real data folder (default {DATA_ROOT})',
    )
    parser.add_argument(
        '--demo-root',
        type=Path,
        default=None,
        help='folder for the synthetic demo data (default: a temporary folder)',
    )
    parser.add_argument(
        '--out',
        type=Path,
        default=None,
        help='folder for sampling.json and sampling.png (default benchmarks/results; '
        'with --quick a new temporary folder)',
    )
    parser.add_argument(
        '--quick',
        action='store_true',
        help='fewer samples, smaller demo tiles: runs in about 15 s',
    )
    args = parser.parse_args(argv)
    plt.switch_backend('Agg')
    samples, repeats = (12, 2) if args.quick else (100, 5)
    queries, baseline_queries = (2_000, 100) if args.quick else (10_000, 1_000)
    tile = DEMO_TILE_QUICK if args.quick else DEMO_TILE

    reads = []
    with tempfile.TemporaryDirectory() as tmp:
        demo_root = args.demo_root or Path(tmp)
        try:
            demo_dataset = demo(demo_root, tile)
        except (OSError, ValueError) as err:
            parser.error(
                f'cannot prepare the demo data in {demo_root} (--demo-root): {err}. '
                'Empty that folder or choose another one.'
            )
        dataset = colorado(args.data_root)
        if dataset is not None:
            reads.append(
                read_throughput(
                    'landsat-colorado',
                    dataset,
                    spatial_sampler=RandomPatchSampler,
                    reason=(
                        "TorchGeo's own sampler: all scenes share one footprint, "
                        'so bounding-box rejection sampling never rejects'
                    ),
                    patch=32,
                    samples=samples,
                    repeats=repeats,
                )
            )
        reads.append(
            read_throughput(
                f'demo (synthetic, {len(DEMO_LOCATIONS)} sites, {tile} px tiles)',
                demo_dataset,
                spatial_sampler=ScatteredPatchSampler,
                reason=(
                    'sites on five continents: RandomPatchSampler rejection-samples '
                    'in the global bounding box and practically never finishes'
                ),
                patch=64,
                samples=samples,
                repeats=repeats,
            )
        )
    scales = [
        scaling(n, queries, baseline_queries, SCALING_REPEATS) for n in INDEX_SIZES
    ]

    print(markdown(reads, scales))
    args.out = output_folder(args.out, args.quick, 'sampling')
    args.out.mkdir(parents=True, exist_ok=True)
    results = {
        'machine': describe_machine(),
        'quick': args.quick,
        'reads': reads,
        'scaling': scales,
        'definitions': DEFINITIONS,
    }
    (args.out / 'sampling.json').write_text(json.dumps(results, indent=2) + '\n')
    plot(reads, scales, args.out / 'sampling.png')
    print(f'\nwrote {args.out / "sampling.json"} and {args.out / "sampling.png"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Benchmark of the data loaders against the model's consumption rate.

Run from anywhere (paths resolve relative to this file)::

    .venv/bin/python benchmarks/loader.py [--quick] [--sizes 64 128 224]
        [--workers 0 2] [--batch-size B] [--batches N] [--models resnet18 resnet50]
        [--model-batch-size B2] [--repeats R] [--device cpu|cuda]
        [--data-root DIR] [--real-size S] [--out DIR]

For each patch size S and each ``num_workers`` W it measures view pairs per
second of the training loaders of

* ``geotiff``: :class:`~torchgeo_geossl.datamodules.DemoDataModule`, pairs of
  temporal views (``views=2``, ``min_gap='30D'``) read from the generated demo
  GeoTIFF series (10 sites x 12 dates, ``--tile-size`` px tiles, default 512
  (quick: 128): a 224 px patch fits no 256 px tile once it is reprojected to Equal Earth, as
  a whole patch must fit inside a footprint at any rotation; uint16, 4 bands), and the
  real ``landsat-timeseries-colorado`` series of ``--data-root`` when present
  (61 x 61 px scenes: read at ``--real-size`` px, default 32, whatever the
  sizes);
* ``stream``: the same samples chipped once with
  :func:`torchgeo_geossl.chip.chip` (``geossl-chip``) into a LitData store and
  read back by :class:`~torchgeo_geossl.datamodules.StreamingViewsDataModule`
  (``shuffle=True``), measured in the same run right after the GeoTIFF loader
  of the same setting.

A loader's rate is ``(batches - 1) x B`` pairs over the time from its first
batch to its last (worker start-up and the first batch are left out), after a
warm-up epoch that also brings the files into the page cache. ``pairs/s per
process`` divides by ``max(W, 1)``, the processes that read.

The model's consumption rate is the training step of
``torchgeo_geossl.trainers.GeoMoCoTask(temporal=True, geo_classes=100)`` timed
by ``benchmarks/train_step.py`` (imported: the same variant, batch and step) at
each size (input and crop S px, 4 bands, ``--model-batch-size`` pairs) for each
of ``--models``: pairs per second = batch / median step time. A setting is
*loader-bound* when the loader's pairs/s (all its processes) is below the
model's.

Output: markdown tables on stdout, ``loader.json`` (all numbers, the command and
the machine) and ``loader.png`` in ``--out`` (default ``benchmarks/results/``;
with ``--quick`` a new temporary folder).
"""

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from machine import describe_machine
from matplotlib import pyplot as plt
from output import output_folder
from real_data import ColoradoLandsat
from train_step import build, make_batches, seed_everything, timed_step

from torchgeo_geossl.chip import chip
from torchgeo_geossl.datamodules import (
    DemoDataModule,
    StreamingViewsDataModule,
    TemporalGeoDataModule,
)

REPO = Path(__file__).resolve().parents[1]
#: Target of issue 14: stream / geotiff pairs per second per process at 224 px.
TARGET = 3.0
BANDS = 4


def loader_rate(loader: Any, epochs: int = 2) -> dict[str, float]:
    """Pairs per second of a training loader, from its first batch to its last.

    Args:
        loader: A training loader of pair batches (``image [B, 2, C, H, W]``).
        epochs: Epochs to iterate; all but the last are a warm-up.

    Returns:
        ``pairs_per_s``, ``pairs`` timed and ``seconds``.
    """
    for epoch in range(epochs):
        sampler = getattr(loader, 'sampler', None)
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(epoch)
        first = last = 0.0
        pairs = 0
        for index, batch in enumerate(loader):
            now = time.perf_counter()
            if index == 0:
                first = now
            else:
                pairs += len(batch['image'])
            last = now
    seconds = last - first
    return {'pairs_per_s': pairs / seconds, 'pairs': pairs, 'seconds': seconds}


def store_bytes(folder: Path) -> int:
    """Size of the chunks of a LitData store.

    Args:
        folder: The store.

    Returns:
        Bytes of its ``*.bin`` chunks.
    """
    return sum(path.stat().st_size for path in folder.glob('*.bin'))


def measure_data(
    name: str,
    source: Any,
    size: int,
    workers: list[int],
    args: argparse.Namespace,
    tmp: Path,
) -> list[dict[str, Any]]:
    """GeoTIFF and streaming rates of one dataset at one size.

    Args:
        name: Row label of the dataset.
        source: Builds the GeoTIFF data module: ``source(num_workers)``.
        size: Patch size in pixels.
        workers: Values of ``num_workers``.
        args: Parsed command line.
        tmp: Scratch folder for the store.

    Returns:
        One row per number of workers.
    """
    store = tmp / f'{name}-{size}'
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        metadata = chip(source(0), store, num_workers=1)
    chip_s = time.perf_counter() - began
    per_pair = store_bytes(store) / metadata['samples']
    rows = []
    for w in workers:
        datamodule = source(w)
        datamodule.setup('fit')
        geotiff = loader_rate(datamodule.train_dataloader())
        streaming = StreamingViewsDataModule(
            store,
            batch_size=args.batch_size,
            num_workers=w,
            shuffle=True,
            cache_dir=tmp / 'cache',
        )
        streaming.setup('fit')
        stream = loader_rate(streaming.train_dataloader())
        processes = max(w, 1)
        row = {
            'dataset': name,
            'size': size,
            'workers': w,
            'geotiff_pairs_per_s': geotiff['pairs_per_s'],
            'stream_pairs_per_s': stream['pairs_per_s'],
            'geotiff_pairs_per_s_per_process': geotiff['pairs_per_s'] / processes,
            'stream_pairs_per_s_per_process': stream['pairs_per_s'] / processes,
            'ratio': stream['pairs_per_s'] / geotiff['pairs_per_s'],
            'pairs_timed': geotiff['pairs'],
            'store_bytes_per_pair': per_pair,
            'store_gb_per_million_pairs': per_pair * 1e6 / 1e9,
            'chip_s': chip_s,
            'chipped_pairs': metadata['samples'],
        }
        print(
            f'{name} {size}px W={w}: geotiff {row["geotiff_pairs_per_s"]:.1f}, '
            f'stream {row["stream_pairs_per_s"]:.1f} pairs/s '
            f'({row["ratio"]:.1f}x)',
            flush=True,
        )
        rows.append(row)
    return rows


def model_rate(model: str, size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Pairs per second a GASSL training step consumes (``train_step.py``).

    Args:
        model: ``resnet18`` or ``resnet50``.
        size: Input and crop size in pixels.
        args: Parsed command line.

    Returns:
        Model, size, batch, median ms per step and pairs per second.
    """
    device = torch.device(args.device)
    options = argparse.Namespace(
        model=model,
        bands=BANDS,
        queue=4096,
        size=size,
        seed=args.seed,
        precision='32',  # train_step.py's defaults: float32, contiguous
        channels_last=False,
    )
    batches = make_batches(args.model_batch_size, BANDS, size, device, args.seed)
    variant = build('gassl', options, batches, device)
    seed_everything(args.seed)
    timed_step(variant, device)  # warm-up
    times = [timed_step(variant, device) for _ in range(args.repeats)]
    median = statistics.median(times)
    print(
        f'{model} {size}px: {median * 1e3:.0f} ms/step, '
        f'{args.model_batch_size / median:.1f} pairs/s',
        flush=True,
    )
    return {
        'model': model,
        'size': size,
        'batch_size': args.model_batch_size,
        'median_ms': median * 1e3,
        'pairs_per_s': args.model_batch_size / median,
    }


def markdown(rows: list[dict[str, Any]], models: list[dict[str, Any]]) -> str:
    """The results table: loader rates, ratio and whether training is loader-bound.

    Args:
        rows: Loader measurements.
        models: Model measurements.

    Returns:
        A markdown table.
    """
    names = sorted({m['model'] for m in models})
    header = (
        '| dataset | px | workers | GeoTIFF pairs/s | per process | stream pairs/s '
        '| per process | stream / GeoTIFF | store GB per 1M pairs | '
        + ' | '.join(f'{n} pairs/s: GeoTIFF / stream' for n in names)
        + ' |'
    )
    lines = [header, '|' + '---|' * (9 + len(names))]
    for row in rows:
        cells = []
        for name in names:
            rate = next(
                (
                    m['pairs_per_s']
                    for m in models
                    if m['model'] == name and m['size'] == row['size']
                ),
                None,
            )
            if rate is None:
                cells.append('n/a')
                continue
            geotiff = 'loader-bound' if row['geotiff_pairs_per_s'] < rate else 'ok'
            stream = 'loader-bound' if row['stream_pairs_per_s'] < rate else 'ok'
            cells.append(f'{rate:.1f}: {geotiff} / {stream}')
        lines.append(
            f'| {row["dataset"]} | {row["size"]} | {row["workers"]} | '
            f'{row["geotiff_pairs_per_s"]:.1f} | '
            f'{row["geotiff_pairs_per_s_per_process"]:.1f} | '
            f'{row["stream_pairs_per_s"]:.1f} | '
            f'{row["stream_pairs_per_s_per_process"]:.1f} | {row["ratio"]:.1f}x | '
            f'{row["store_gb_per_million_pairs"]:.0f} | ' + ' | '.join(cells) + ' |'
        )
    return '\n'.join(lines)


def plot(rows: list[dict[str, Any]], models: list[dict[str, Any]], path: Path) -> None:
    """Pairs per second against patch size, per loader, workers and model.

    Args:
        rows: Loader measurements.
        models: Model measurements.
        path: PNG to write.
    """
    fig, ax = plt.subplots(figsize=(8, 5))
    demo = [row for row in rows if row['dataset'] == 'demo']
    for w in sorted({row['workers'] for row in demo}):
        for kind, style in (('geotiff', '-o'), ('stream', '-s')):
            points = [
                (r['size'], r[f'{kind}_pairs_per_s']) for r in demo if r['workers'] == w
            ]
            if points:
                ax.plot(*zip(*points, strict=True), style, label=f'{kind}, {w} workers')
    for name in sorted({m['model'] for m in models}):
        points = [(m['size'], m['pairs_per_s']) for m in models if m['model'] == name]
        ax.plot(*zip(*points, strict=True), '--', color='black', alpha=0.6)
        ax.annotate(name, points[-1], fontsize=8)
    ax.set_yscale('log')
    ax.set_xlabel('patch size (px)')
    ax.set_ylabel('view pairs / s (all loader processes)')
    ax.set_title('Demo data: loaders (solid) vs GASSL training step (dashed)')
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line and fill mode-dependent defaults.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The options.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', help='px (default 64 128 224)')
    parser.add_argument('--workers', type=int, nargs='+', help='num_workers (0 2)')
    parser.add_argument('--batch-size', type=int, help='loader batch (8; quick 4)')
    parser.add_argument('--batches', type=int, help='batches per epoch (6; quick 3)')
    parser.add_argument('--models', nargs='+', choices=('resnet18', 'resnet50'))
    parser.add_argument('--model-batch-size', type=int, help='step batch (8; quick 2)')
    parser.add_argument('--repeats', type=int, help='timed steps (2; quick 1)')
    parser.add_argument(
        '--device',
        choices=('cpu', 'cuda'),
        default='cuda' if torch.cuda.is_available() else 'cpu',
    )
    parser.add_argument(
        '--data-root', type=Path, default=REPO.parent / 'shared' / 'data'
    )
    parser.add_argument(
        '--tile-size', type=int, help='demo tiles (default 512; quick 128)'
    )
    parser.add_argument('--real-size', type=int, default=32)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', type=Path, default=None)
    parser.add_argument('--quick', action='store_true', help='tiny run (smoke test)')
    args = parser.parse_args(argv)
    defaults: dict[str, Any] = (
        {
            'sizes': [64],
            'tile_size': 128,
            'workers': [0],
            'batch_size': 4,
            'batches': 3,
            'models': ['resnet18'],
            'model_batch_size': 2,
            'repeats': 1,
        }
        if args.quick
        else {
            'sizes': [64, 128, 224],
            'tile_size': 512,
            'workers': [0, 2],
            'batch_size': 8,
            'batches': 6,
            'models': ['resnet18', 'resnet50'],
            'model_batch_size': 8,
            'repeats': 2,
        }
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.sizes) < 8 or 2 * max(args.sizes) > args.tile_size:
        parser.error(
            f'--sizes must lie in [8, {args.tile_size // 2}] (half of --tile-size '
            f'{args.tile_size}: patches must fit the tiles reprojected to Equal '
            f'Earth), got {args.sizes}'
        )
    if min(args.workers) < 0:
        parser.error(f'--workers must not be negative, got {args.workers}')
    for key in ('batch_size', 'model_batch_size', 'repeats'):
        if getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be positive')
    if args.batches < 2:
        parser.error('--batches must be at least 2 (the first batch is not timed)')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: CUDA is not available')
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark.

    Args:
        argv: Command line arguments (default: ``sys.argv[1:]``).

    Returns:
        Exit status: 0.
    """
    arguments = sys.argv[1:] if argv is None else argv
    args = parse(arguments)
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    began = time.perf_counter()
    length = args.batch_size * args.batches
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix='loader_') as scratch:
        tmp = Path(scratch)
        for size in args.sizes:

            def demo(workers: int, size: int = size) -> DemoDataModule:
                return DemoDataModule(
                    root=tmp / 'demo',
                    tile_size=args.tile_size,
                    batch_size=args.batch_size,
                    patch_size=size,
                    length=length,
                    num_workers=workers,
                    min_gap='30D',
                    seed=args.seed,
                )

            rows += measure_data('demo', demo, size, args.workers, args, tmp)
        colorado = args.data_root / 'landsat-timeseries-colorado'
        if colorado.is_dir():

            def real(workers: int) -> TemporalGeoDataModule:
                return TemporalGeoDataModule(
                    ColoradoLandsat,
                    paths=str(colorado),
                    batch_size=args.batch_size,
                    patch_size=args.real_size,
                    length=length,
                    num_workers=workers,
                    geo_clusters=None,
                    std=10_000.0,
                    seed=args.seed,
                )

            rows += measure_data(
                'landsat-colorado', real, args.real_size, args.workers, args, tmp
            )
        else:
            print(
                f'[skip] {colorado} not found: the landsat-colorado rows are left out'
            )
    models = [
        model_rate(model, size, args) for model in args.models for size in args.sizes
    ]
    elapsed = time.perf_counter() - began
    print(f'\n## Loader vs model ({args.device}, {args.batch_size} pairs/batch)\n')
    table = markdown(rows, models)
    print(table)
    at_target = [r for r in rows if r['dataset'] == 'demo' and r['size'] == 224]
    for row in at_target:
        met = row['ratio'] >= TARGET
        print(
            f'\n224 px, {row["workers"]} workers: stream / GeoTIFF per process '
            f'{row["ratio"]:.1f}x (target >= {TARGET}x: {"met" if met else "NOT met"})'
        )
    print(f'Total wall time {elapsed:.0f} s.')
    args.out = output_folder(args.out, args.quick, 'loader')
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {
        'command': shlex.join([sys.executable, __file__, *arguments]),
        'config': {
            key: str(value) if isinstance(value, Path) else value
            for key, value in vars(args).items()
        },
        'machine': describe_machine(torch.device(args.device)),
        'definitions': {
            'pairs_per_s': '(batches - 1) x batch size / time from first to last '
            'batch, after a warm-up epoch',
            'per_process': 'pairs_per_s / max(workers, 1)',
            'ratio': 'stream pairs_per_s / geotiff pairs_per_s, same setting',
            'loader-bound': 'loader pairs_per_s < model pairs_per_s',
            'target': f'ratio >= {TARGET} at 224 px',
        },
        'wall_s': elapsed,
        'loaders': rows,
        'models': models,
        'table': table,
    }
    (args.out / 'loader.json').write_text(json.dumps(payload, indent=2) + '\n')
    plot(rows, models, args.out / 'loader.png')
    print(f'Wrote {args.out / "loader.json"} and {args.out / "loader.png"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Benchmark of batched multi-view augmentation against TorchGeo's and a per-image loop.

Run from anywhere (paths resolve relative to this file)::

    .venv/bin/python benchmarks/augmentation.py [--quick] [--device cpu|cuda]
                                                [--threads N] [--out DIR]

In one process, on the same input batch (``B`` samples of ``V = 2`` views,
``C`` bands, 128 × 128 px, float32 in [0, 1], cropped to 112 px), for C = 4 and
C = 3, after a warm-up and over several interleaved repeats (median reported), it
times

* ``geossl``: this package's ``gassl_augmentation(112, C)`` (RandomResizedCrop
  scale 0.08-1, then for C = 3 ColorJitter, else brightness/contrast; grayscale;
  blur; horizontal flip; the jitter, grayscale and blur compute only the images
  their p selects), one call on the ``[B, V, C, H, W]`` batch;
* ``geossl-same-ops``: ``MultiViewAugmentation`` wrapping exactly TorchGeo's MoCo-v2
  ops (brightness/contrast also for C = 3, vertical flip added, Kornia's crop
  settings), one call on the ``[B, V, C, H, W]`` batch: the like-for-like row;
* ``torchgeo``: TorchGeo's ``moco_augmentations(2, 112, ones(C))`` used as its MoCo
  task does: ``aug1`` on view 0 and ``aug2`` on view 1, each ``[B, C, H, W]``
  (the baseline of every ratio);
* ``torchvision-loop``: a per-image CPU pipeline like the GASSL reference code's
  (torchvision.transforms.v2 RandomResizedCrop(112, scale 0.08-1), ColorJitter
  (0.4, 0.4, 0.4, 0.1) p 0.8 for RGB only, RandomGrayscale p 0.2 (for C != 3 the
  band mean, as torchvision's grayscale is RGB only), GaussianBlur (kernel 11,
  sigma 0.1-2) p 0.5, RandomHorizontalFlip), applied image by image in a Python
  loop; always on the CPU.

Throughput is augmented images (views) per second: ``B * V / t`` with ``t`` the
median wall time of one batch. Target: ``geossl`` >= ``torchgeo``, reported per
method and band count; for C = 3 the ``geossl`` preset does more work than
TorchGeo (hue and saturation jitter), so ``geossl-same-ops`` is the like-for-like
row.

On the CPU the batched methods run the same Kornia kernels, so the difference
between one call on ``B * V`` images and two calls on ``B`` is small, and the
timings are sensitive to glibc's allocator: the 25 MB intermediates of one
128-image call exceed its adaptive mmap threshold now and then, are handed back to
the OS when freed and page-faulted in again on the next call, which gives the
single large call a bimodal time. Running with
``MALLOC_MMAP_THRESHOLD_=1000000000 MALLOC_TRIM_THRESHOLD_=1000000000`` in the
environment removes that effect (the variables in use are recorded in the JSON).
On a GPU the caching allocator avoids it and the single call also saves kernel
launches.

Output: a markdown table on stdout, ``augmentation.json`` (all numbers and the
machine) and ``augmentation.png`` in ``--out`` (default ``benchmarks/results/``).
"""

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from machine import describe_machine
from matplotlib import pyplot as plt
from output import output_folder
from torch import Tensor, nn
from torchgeo.tasks.moco import moco_augmentations
from torchvision.transforms import v2

from torchgeo_geossl.transforms import MultiViewAugmentation, gassl_augmentation

REPO = Path(__file__).resolve().parents[1]
SIDE = 128
CROP = 112
VIEWS = 2
CHANNELS = (4, 3)
TARGET = 1.0
BASELINE = 'torchgeo'
METHODS = ('geossl', 'geossl-same-ops', 'torchgeo', 'torchvision-loop')


def torchgeo_same_ops(channels: int) -> MultiViewAugmentation:
    """MultiViewAugmentation around TorchGeo's MoCo-v2 op list.

    Args:
        channels: Number of bands.

    Returns:
        TorchGeo's ``aug1`` ops (crop scale 0.2-1, brightness, contrast, weighted
        grayscale, blur, both flips) in one multi-view module.
    """
    aug1, _ = moco_augmentations(2, CROP, torch.ones(channels))
    return MultiViewAugmentation(*aug1.children(), in_channels=channels)


def torchvision_loop(channels: int) -> Callable[[Tensor], Tensor]:
    """Per-image torchvision pipeline in the style of the GASSL reference code.

    Args:
        channels: Number of bands.

    Returns:
        A function augmenting ``[B, V, C, H, W]`` image by image on the CPU.
    """
    if channels == 3:
        gray: nn.Module = v2.RandomGrayscale(p=0.2)
        jitter: list[nn.Module] = [
            v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8)
        ]
    else:
        gray = v2.RandomApply(
            [v2.Lambda(lambda img: img.mean(dim=0, keepdim=True).expand_as(img))], p=0.2
        )
        jitter = []
    pipeline = v2.Compose(
        [
            v2.RandomResizedCrop(CROP, scale=(0.08, 1.0), antialias=True),
            *jitter,
            gray,
            v2.RandomApply([v2.GaussianBlur(11, sigma=(0.1, 2.0))], p=0.5),
            v2.RandomHorizontalFlip(),
        ]
    )

    def run(batch: Tensor) -> Tensor:
        cpu = batch.cpu()
        flat = cpu.reshape(-1, *cpu.shape[2:])
        out = torch.stack([pipeline(image) for image in flat])
        return out.reshape(*cpu.shape[:2], *out.shape[1:])

    return run


def methods(
    channels: int, device: torch.device
) -> dict[str, Callable[[Tensor], Tensor]]:
    """The augmentations to compare, each taking the ``[B, V, C, H, W]`` batch.

    Args:
        channels: Number of bands.
        device: Device of the batched methods.

    Returns:
        Name to function.
    """
    ours = gassl_augmentation(CROP, in_channels=channels).to(device)
    same = torchgeo_same_ops(channels).to(device)
    aug1, aug2 = moco_augmentations(2, CROP, torch.ones(channels))
    aug1, aug2 = aug1.to(device), aug2.to(device)

    def torchgeo_task(batch: Tensor) -> Tensor:
        with torch.no_grad():
            x1 = aug1(batch[:, 0])
            x2 = aug2(batch[:, 1])
        return torch.stack([x1, x2], dim=1)

    return {
        'geossl': ours,
        'geossl-same-ops': same,
        'torchgeo': torchgeo_task,
        'torchvision-loop': torchvision_loop(channels),
    }


def timed(fn: Callable[[Tensor], Tensor], batch: Tensor) -> float:
    """Wall time of one call, synchronising CUDA.

    Args:
        fn: The augmentation.
        batch: Its input.

    Returns:
        Seconds.
    """
    if batch.is_cuda:
        torch.cuda.synchronize(batch.device)
    start = time.perf_counter()
    out = fn(batch)
    if out.is_cuda:
        torch.cuda.synchronize(out.device)
    elapsed = time.perf_counter() - start
    expected = (batch.shape[0], VIEWS, batch.shape[2], CROP, CROP)
    if tuple(out.shape) != expected:
        raise RuntimeError(
            f'unexpected output shape {tuple(out.shape)}, not {expected}'
        )
    return elapsed


def benchmark(
    channels: int, batch_size: int, repeats: int, warmup: int, device: torch.device
) -> dict[str, Any]:
    """Time every method on one batch.

    Args:
        channels: Number of bands.
        batch_size: Samples per batch.
        repeats: Timed repeats (interleaved over methods; order rotates).
        warmup: Untimed calls per method first.
        device: Device of the batched methods.

    Returns:
        Per method: times, median and images per second.
    """
    generator = torch.Generator().manual_seed(channels)
    batch = torch.rand(batch_size, VIEWS, channels, SIDE, SIDE, generator=generator)
    batch = batch.to(device)
    fns = methods(channels, device)
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            timed(fns[name], batch)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(timed(fns[name], batch))
    images = batch_size * VIEWS
    result: dict[str, Any] = {}
    for name in names:
        median = statistics.median(times[name])
        result[name] = {
            'times_s': times[name],
            'median_s': median,
            'images_per_s': images / median,
        }
    base = result[BASELINE]['images_per_s']
    for name in names:
        result[name]['ratio_vs_torchgeo'] = result[name]['images_per_s'] / base
    return result


def table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown table of the results.

    Args:
        results: Per channel count, per method results.

    Returns:
        The table.
    """
    lines = [
        '| C | method | ms / batch (min-max) | images/s | vs TorchGeo |',
        '|---|---|---:|---:|---:|',
    ]
    for channels, per_method in results.items():
        for name, row in per_method.items():
            low, high = min(row['times_s']) * 1e3, max(row['times_s']) * 1e3
            lines.append(
                f'| {channels} | {name} | {row["median_s"] * 1e3:.1f} '
                f'({low:.0f}-{high:.0f}) | {row["images_per_s"]:.0f} | '
                f'{row["ratio_vs_torchgeo"]:.2f} |'
            )
    return '\n'.join(lines)


def plot(results: dict[str, dict[str, Any]], path: Path, title: str) -> None:
    """Bar chart of images per second.

    Args:
        results: Per channel count, per method results.
        path: PNG to write.
        title: Figure title.
    """
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(METHODS)
    keys = list(results)
    for m, name in enumerate(METHODS):
        values = [results[c][name]['images_per_s'] for c in keys]
        positions = [i + (m - (len(METHODS) - 1) / 2) * width for i in range(len(keys))]
        bars = ax.bar(positions, values, width, label=name)
        ratios = [results[c][name]['ratio_vs_torchgeo'] for c in keys]
        ax.bar_label(bars, labels=[f'{r:.2f}×' for r in ratios], fontsize=8)
    ax.set_xticks(range(len(keys)), [f'C = {c}' for c in keys])
    ax.set_ylabel('augmented images / s')
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark.

    Args:
        argv: Command line arguments (default: ``sys.argv[1:]``).

    Returns:
        Exit status: 0.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    parser.add_argument(
        '--out',
        type=Path,
        default=None,
        help='output folder (default benchmarks/results; with --quick a new '
        'temporary folder)',
    )
    parser.add_argument(
        '--quick', action='store_true', help='smaller batch, fewer repeats (< 30 s)'
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch intra-op threads (default: torch default)',
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: CUDA is not available')
    device = torch.device(args.device)
    batch_size, repeats, warmup = (16, 5, 1) if args.quick else (64, 25, 3)

    results: dict[str, dict[str, Any]] = {}
    for channels in CHANNELS:
        results[str(channels)] = benchmark(
            channels, batch_size, repeats, warmup, device
        )

    title = (
        f'B={batch_size}, V={VIEWS}, {SIDE}px -> {CROP}px, float32, {args.device}, '
        f'median of {repeats}'
    )
    print(f'## Augmentation throughput ({title})\n')
    print(table(results))
    verdicts = {
        name: {
            channels: per_method[name]['ratio_vs_torchgeo'] >= TARGET
            for channels, per_method in results.items()
        }
        for name in ('geossl', 'geossl-same-ops')
    }
    print()
    for name, per_channels in verdicts.items():
        text = ', '.join(
            f'C={c}: {"met" if ok else "NOT met"}' for c, ok in per_channels.items()
        )
        print(f'Target {name} >= torchgeo: {text}')
    print(
        'Note: for C = 3 the geossl preset runs MoCo-v2 colour jitter (hue and '
        'saturation included), which TorchGeo replaces by brightness/contrast; '
        'geossl-same-ops is the like-for-like comparison.'
    )

    args.out = output_folder(args.out, args.quick, 'augmentation')
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {
        'config': {
            'batch_size': batch_size,
            'views': VIEWS,
            'side': SIDE,
            'crop': CROP,
            'channels': list(CHANNELS),
            'repeats': repeats,
            'warmup': warmup,
            'quick': args.quick,
        },
        'machine': describe_machine(device),
        'definitions': {
            'images_per_s': 'B * V augmented views / median wall seconds per batch',
            'ratio_vs_torchgeo': 'images_per_s / images_per_s of torchgeo',
        },
        'target_met': verdicts,
        'results': results,
    }
    (args.out / 'augmentation.json').write_text(json.dumps(payload, indent=2) + '\n')
    plot(results, args.out / 'augmentation.png', title)
    print(
        f'\nWrote {args.out / "augmentation.json"} and {args.out / "augmentation.png"}'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Benchmark of one GASSL training step against TorchGeo's MoCo-v2 task.

Run from anywhere (paths resolve relative to this file)::

    .venv/bin/python benchmarks/train_step.py [--quick] [--model resnet18|resnet50]
        [--batch-size B] [--bands C] [--side S] [--size CROP] [--queue N]
        [--repeats R] [--warmup W] [--breakdown-repeats R2] [--device cpu|cuda]
        [--precision 32|bf16-mixed] [--channels-last] [--threads N] [--omp-wait-policy passive|active|unset] [--seed S]
        [--out DIR]

In one process, on the same synthetic batch (``B`` samples of two views with
``C`` bands, ``S × S`` px, float32 uniform in [0, 1], cropped to ``CROP`` px) and
with the same backbone, queue size, temperature (0.07), key momentum (0.999) and
SGD settings (lr 0.03, momentum 0.9, weight decay 1e-4), it times one training
step of

* ``gassl``: ``torchgeo_geossl.trainers.GeoMoCoTask(temporal=True,
  geo_classes=100)``; the batch has ``image [B, 2, C, H, W]``, ``time [B, 2]``
  (two different dates) and ``label [B]`` (geo-cluster targets);
* ``gassl-no-geo``: the same with ``geo_classes=0``, which isolates the cost of
  the geo head (ReLU, Linear(128, 100) and its cross-entropy);
* ``seco``: ``torchgeo_geossl.trainers.SeCoTask`` with the same queue size per head
  on ``image [B, 3, C, H, W]`` (three seasons: the two views plus a third). SeCo
  encodes four views per sample where MoCo-v2 encodes two, but only the query
  needs gradients: the extra cost is two more key forwards without gradient (plus
  three projection heads and losses), not a doubled step, since the query's
  backward pass dominates; the phases are not split for it;
* ``torchgeo-moco-v2``: ``torchgeo.tasks.MoCo(version=2, layers=2,
  hidden_dim=<feature dim>, output_dim=128, memory_bank_size=<queue>)`` on the
  same pixels channel-stacked as ``image [B, 2C, H, W]`` (the baseline);
* ``supervised``: a plain supervised step of the same timm backbone with a
  linear classifier (cross-entropy on random labels) on ``B`` crops of view 0,
  without augmentation: what the encoder alone costs per sample. A MoCo-style
  step encodes ``2B`` images (``B`` of them without gradient) plus the
  augmentation, so it costs more than this by construction.

``--precision bf16-mixed`` runs each ``training_step`` under
``torch.autocast(dtype=torch.bfloat16)``, as Lightning's
``Trainer(precision='bf16-mixed')`` does (backward and optimiser step outside);
``--channels-last`` builds every encoder with ``channels_last=True``
(:func:`torchgeo_geossl.models.use_channels_last` for TorchGeo's backbone and the
supervised one). Both are meant for GPUs.

A step is what Lightning's automatic optimisation does per batch, without the
trainer: ``loss = task.training_step(batch, i)`` (augmentation of both views,
query forward, momentum update of the key encoder and head, key forward, loss,
queue update), ``loss.backward()``, ``optimizer.step()``,
``optimizer.zero_grad()``; the optimiser is the one each task's
``configure_optimizers()`` returns, and ``task.log`` is replaced by a no-op. The
batch is on the device before timing starts; CUDA is synchronised around each
step.

The work differs slightly between the two tasks: TorchGeo augments the two views
in two Kornia calls of ``B`` images with its own op list (crop scale 0.2-1, also a
vertical flip) and has no geo head; GASSL augments all ``2B`` views in one call
(crop scale 0.08-1 for temporal positives, no vertical flip) and adds the geo
head.

After a warm-up, the variants run interleaved, one step each per repeat, with the
order rotated between repeats so that drift of the machine's speed hits all of
them alike. The table gives the median, interquartile range and minimum of
ms/step, the ratio of medians to TorchGeo, the median of the per-repeat ratios
(each step divided by the TorchGeo step of the same repeat) and the ratio of the
fastest steps. Target: ``gassl`` ≤ 1.05 × ``torchgeo-moco-v2`` (ratio of
medians).

A second, shorter interleaved run splits the step into phases by temporarily
wrapping the tasks' submodules with time stamps (synchronising CUDA at each
boundary, hence a separate run): augmentation, query forward (encoder and
projection head), momentum update, key forward, loss (InfoNCE, geo head, queue
update, monitors), backward, optimiser step, and the remainder.

CPU threads: ``torch.set_num_threads`` is set to the number of usable CPUs
(``--threads`` overrides it). Unless the environment sets ``OMP_WAIT_POLICY``
or ``--omp-wait-policy`` says otherwise, the script re-executes itself with
``OMP_WAIT_POLICY=PASSIVE``. With OpenMP's default (spin, then sleep) any other
busy process on a machine whose every core runs a torch thread makes steps many
times slower and erratic, as threads spin at barriers while their partner waits
for a core; passive waiting degrades gracefully but adds a wake-up latency to
every parallel region, so on an idle machine absolute times are higher than
with ``--omp-wait-policy unset`` (most for small batches). Both tasks always run
under the same policy. The script also reports how many cores other processes
kept busy during the run (from ``/proc/stat``) and warns above 0.25.

Output: a markdown table on stdout, ``train_step.json`` (all numbers, the command
and the machine) and ``train_step.png`` in ``--out`` (default
``benchmarks/results/``).
"""

import argparse
import json
import os
import random
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
from machine import describe_machine
from matplotlib import pyplot as plt
from output import output_folder
from torch import Tensor, nn
from torch.optim import Optimizer
from torchgeo.tasks import MoCo

from torchgeo_geossl.models import use_channels_last
from torchgeo_geossl.trainers import GeoMoCoTask, SeCoTask

REPO = Path(__file__).resolve().parents[1]
BASELINE = 'torchgeo-moco-v2'
SUPERVISED = 'supervised'
VARIANTS = ('gassl', 'gassl-no-geo', 'seco', BASELINE, SUPERVISED)
SUPERVISED_CLASSES = 10
TARGET = 1.05
GEO_CLASSES = 100
OUTPUT_DIM = 128
TEMPERATURE = 0.07
MOCO_MOMENTUM = 0.999
LR = 0.03
WEIGHT_DECAY = 1e-4
PHASES = (
    'augmentation',
    'query forward',
    'momentum update',
    'key forward',
    'loss + queue',
    'backward',
    'optimizer',
    'other',
)
#: Order in which the time-stamp events of one step occur.
EVENTS = (
    'start',
    'aug_start',
    'aug_end',
    'query_start',
    'query_end',
    'key_start',
    'key_end',
    'returned',
    'backward',
    'end',
)


class Variant:
    """One task with its optimiser and batch, ready to run training steps.

    Args:
        name: Label of the variant.
        task: The Lightning task (models configured, ``log`` disabled).
        batch: The batch it trains on.
        marks: Per attribute name of a submodule of *task*, the events its call
            starts and ends (None for neither): together ``aug_start``,
            ``aug_end``, ``query_start``, ``query_end``, ``key_start``, ``key_end``.
    """

    def __init__(
        self,
        name: str,
        task: nn.Module,
        batch: dict[str, Tensor],
        marks: dict[str, tuple[str | None, str | None]],
    ) -> None:
        """Take the optimiser out of the task's ``configure_optimizers()``."""
        self.name = name
        self.task = task
        self.batch = batch
        self.marks = marks
        configured = task.configure_optimizers()  # type: ignore[operator]
        self.optimizer: Optimizer = configured['optimizer']
        self.index = 0
        self.losses: list[float] = []
        #: Whether ``training_step`` runs under bfloat16 autocast, as Lightning's
        #: ``precision='bf16-mixed'`` does (the backward pass is outside it).
        self.bf16 = False

    def step(self, mark: Callable[[str], None]) -> None:
        """Run one training step.

        Args:
            mark: Called with an event name after each part of the step.
        """
        device = next(self.task.parameters()).device.type
        with torch.autocast(device, dtype=torch.bfloat16, enabled=self.bf16):
            loss = self.task.training_step(self.batch, self.index)  # type: ignore[operator]
        mark('returned')
        loss.backward()
        mark('backward')
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.index += 1
        self.losses.append(float(loss.detach()))


class SupervisedStep(nn.Module):
    """A plain supervised step: one encoder, a linear classifier, cross-entropy.

    The reference point of what the encoder alone costs: ``B`` crops of view 0
    (the top-left ``size × size`` px, no augmentation) with random labels of
    :data:`SUPERVISED_CLASSES` classes, forward and backward once, SGD with the
    tasks' settings.

    Args:
        model: timm model name.
        bands: Input bands.
        size: Crop side in pixels.
    """

    def __init__(self, model: str, bands: int, size: int) -> None:
        """Create the classifier."""
        super().__init__()
        self.model = timm.create_model(
            model, in_chans=bands, num_classes=SUPERVISED_CLASSES
        )
        self.size = size

    def training_step(self, batch: dict[str, Tensor], index: int) -> Tensor:
        """Cross-entropy of the classifier on the crops.

        Args:
            batch: ``image [B, 2, C, H, W]`` and ``label [B]``.
            index: Unused.

        Returns:
            The loss.
        """
        images = batch['image'][:, 0, :, : self.size, : self.size]
        labels = batch['label'] % SUPERVISED_CLASSES
        return nn.functional.cross_entropy(self.model(images), labels)

    def configure_optimizers(self) -> dict[str, Optimizer]:
        """SGD with the tasks' settings.

        Returns:
            ``{'optimizer': SGD}``.
        """
        optimizer = torch.optim.SGD(
            self.parameters(), lr=LR, momentum=0.9, weight_decay=WEIGHT_DECAY
        )
        return {'optimizer': optimizer}


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA only).

    Args:
        device: The device.
    """
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def make_batches(
    batch_size: int, bands: int, side: int, device: torch.device, seed: int
) -> tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Tensor]]:
    """The synthetic batch in GASSL's and in TorchGeo's layout.

    Args:
        batch_size: Samples B.
        bands: Bands C.
        side: Input side in pixels.
        device: Where the tensors go.
        seed: Seed of the generator.

    Returns:
        ``{'image': [B, 2, C, H, W], 'time': [B, 2], 'label': [B]}`` and
        ``{'image': [B, 2C, H, W]}`` with the same pixels, and SeCo's
        ``{'image': [B, 3, C, H, W]}`` (the same two views and a third).
    """
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(batch_size, 2, bands, side, side, generator=generator)
    day = 86_400.0
    start = torch.randint(0, 3650, (batch_size,), generator=generator) * day
    gap = torch.randint(1, 365, (batch_size,), generator=generator) * day
    times = torch.stack([start, start + gap], dim=1).to(torch.float64)
    label = torch.randint(0, GEO_CLASSES, (batch_size,), generator=generator)
    gassl = {'image': image, 'time': times, 'label': label}
    stacked = {'image': image.reshape(batch_size, 2 * bands, side, side)}
    third = torch.rand(batch_size, 1, bands, side, side, generator=generator)
    seco = {'image': torch.cat([image, third], dim=1)}
    return (
        {k: v.to(device) for k, v in gassl.items()},
        {k: v.to(device) for k, v in stacked.items()},
        {k: v.to(device) for k, v in seco.items()},
    )


def build(
    name: str,
    args: argparse.Namespace,
    batches: tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Tensor]],
    device: torch.device,
) -> Variant:
    """Create one variant with seeded weights.

    Args:
        name: One of :data:`VARIANTS`.
        args: Parsed command line.
        batches: GASSL's, TorchGeo's and SeCo's batch.
        device: Where the task runs.

    Returns:
        The variant.
    """
    seed_everything(args.seed)
    task: nn.Module
    marks: dict[str, tuple[str | None, str | None]] = {}
    if name == SUPERVISED:
        task = SupervisedStep(args.model, args.bands, args.size)
        if args.channels_last:
            use_channels_last(task.model)
        batch = batches[0]
    elif name == BASELINE:
        encoder = timm.create_model(args.model, num_classes=0)
        feature_dim = int(encoder.num_features)  # type: ignore[arg-type]
        task = MoCo(
            model=args.model,
            in_channels=args.bands,
            version=2,
            layers=2,
            hidden_dim=feature_dim,
            output_dim=OUTPUT_DIM,
            lr=LR,
            weight_decay=WEIGHT_DECAY,
            momentum=0.9,
            temperature=TEMPERATURE,
            memory_bank_size=args.queue,
            moco_momentum=MOCO_MOMENTUM,
            size=args.size,
        )
        if args.channels_last:
            use_channels_last(task.backbone)
            use_channels_last(task.backbone_momentum)
        marks = {
            'augmentation1': ('aug_start', None),
            'augmentation2': (None, 'aug_end'),
            'backbone': ('query_start', None),
            'projection_head': (None, 'query_end'),
            'backbone_momentum': ('key_start', None),
            'projection_head_momentum': (None, 'key_end'),
        }
        batch = batches[1]
    elif name == 'seco':
        task = SeCoTask(
            model=args.model,
            in_channels=args.bands,
            queue_size=args.queue,
            output_dim=OUTPUT_DIM,
            temperature=TEMPERATURE,
            moco_momentum=MOCO_MOMENTUM,
            lr=LR,
            weight_decay=WEIGHT_DECAY,
            momentum=0.9,
            size=args.size,
            channels_last=args.channels_last,
        )
        batch = batches[2]
    else:
        task = GeoMoCoTask(
            model=args.model,
            in_channels=args.bands,
            temporal=True,
            geo_classes=GEO_CLASSES if name == 'gassl' else 0,
            queue_size=args.queue,
            output_dim=OUTPUT_DIM,
            temperature=TEMPERATURE,
            moco_momentum=MOCO_MOMENTUM,
            lr=LR,
            weight_decay=WEIGHT_DECAY,
            momentum=0.9,
            size=args.size,
            channels_last=args.channels_last,
        )
        marks = {
            'augmentation': ('aug_start', 'aug_end'),
            'model': ('query_start', None),
            'projection_head': (None, 'query_end'),
            'key_encoder': ('key_start', None),
            'projection_head_momentum': (None, 'key_end'),
        }
        batch = batches[0]
    task.log = lambda *a, **k: None  # type: ignore[method-assign]
    task.to(device).train()
    variant = Variant(name, task, batch, marks)
    variant.bf16 = args.precision == 'bf16-mixed'
    return variant


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices).

    Args:
        seed: The seed.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def timed_step(variant: Variant, device: torch.device) -> float:
    """Wall time of one step, synchronised on CUDA.

    Args:
        variant: What to run.
        device: Its device.

    Returns:
        Seconds.
    """
    synchronize(device)
    start = time.perf_counter()
    variant.step(lambda event: None)
    synchronize(device)
    return time.perf_counter() - start


class Marked(nn.Module):
    """Wrapper that reports events before and after calling a module.

    A wrapper rather than forward hooks: Kornia's augmentation containers convert
    their inputs and outputs in ``__call__``, outside the hooks.

    Args:
        module: The wrapped module.
        mark: Called with an event name.
        first: Event reported before the call, or None.
        last: Event reported after the call, or None.
    """

    def __init__(
        self,
        module: nn.Module,
        mark: Callable[[str], None],
        first: str | None,
        last: str | None,
    ) -> None:
        """Wrap *module*."""
        super().__init__()
        self.module = module
        self.mark = mark
        self.first = first
        self.last = last

    def forward(self, x: Tensor) -> Tensor:
        """Call the module between the two events.

        Args:
            x: Its input.

        Returns:
            Its output.
        """
        if self.first:
            self.mark(self.first)
        out: Tensor = self.module(x)
        if self.last:
            self.mark(self.last)
        return out


def instrumented_step(variant: Variant, device: torch.device) -> dict[str, float]:
    """Run one step with its submodules wrapped to timestamp its phases.

    Args:
        variant: What to run.
        device: Its device.

    Returns:
        Seconds per phase of :data:`PHASES`.
    """
    if not variant.marks:
        variant.step(lambda event: None)
        return {}
    stamps: dict[str, float] = {}

    def mark(event: str) -> None:
        synchronize(device)
        stamps.setdefault(event, time.perf_counter())

    originals = {attr: getattr(variant.task, attr) for attr in variant.marks}
    for attr, (first, last) in variant.marks.items():
        setattr(variant.task, attr, Marked(originals[attr], mark, first, last))
    try:
        mark('start')
        variant.step(mark)
        mark('end')
    finally:
        for attr, module in originals.items():
            setattr(variant.task, attr, module)
    missing = [event for event in EVENTS if event not in stamps]
    if missing:
        raise RuntimeError(f'{variant.name}: time stamps not seen: {missing}')
    order = sorted(EVENTS, key=stamps.__getitem__)
    if order != list(EVENTS):
        raise RuntimeError(f'{variant.name}: unexpected order of phases {order}')

    def span(first: str, last: str) -> float:
        return stamps[last] - stamps[first]

    phases = {
        'augmentation': span('aug_start', 'aug_end'),
        'query forward': span('query_start', 'query_end'),
        'momentum update': span('query_end', 'key_start'),
        'key forward': span('key_start', 'key_end'),
        'loss + queue': span('key_end', 'returned'),
        'backward': span('returned', 'backward'),
        'optimizer': span('backward', 'end'),
    }
    phases['other'] = span('start', 'end') - sum(phases.values())
    return phases


def interleaved(
    variants: list[Variant], repeats: int, run: Callable[[Variant], Any]
) -> dict[str, list[Any]]:
    """Run every variant once per repeat, rotating the order.

    Args:
        variants: What to run.
        repeats: Number of rounds.
        run: Runs one step of a variant and returns its measurement.

    Returns:
        Per variant name, the measurements in repeat order.
    """
    results: dict[str, list[Any]] = {v.name: [] for v in variants}
    for r in range(repeats):
        shift = r % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            results[variant.name].append(run(variant))
    return results


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """First quartile, median and third quartile.

    Args:
        values: At least one value.

    Returns:
        ``(q1, median, q3)``.
    """
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return float(q1), float(median), float(q3)


def busy_cpu_seconds() -> float | None:
    """CPU seconds all processes of the machine have used since boot.

    Returns:
        Non-idle time summed over CPUs from ``/proc/stat``, or None where that
        file does not exist.
    """
    stat = Path('/proc/stat')
    if not stat.is_file():
        return None
    fields = [int(v) for v in stat.read_text().splitlines()[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / os.sysconf('SC_CLK_TCK')


def foreign_cores(before: tuple[float | None, float], elapsed: float) -> float | None:
    """Average number of cores other processes kept busy during the run.

    Args:
        before: :func:`busy_cpu_seconds` and :func:`time.process_time` at the
            start.
        elapsed: Wall seconds since then.

    Returns:
        (machine CPU time - this process's CPU time) / wall time, or None where
        the machine's CPU time is unknown.
    """
    busy = busy_cpu_seconds()
    if busy is None or before[0] is None:
        return None
    own = time.process_time() - before[1]
    return max(0.0, (busy - before[0] - own) / elapsed)


def summarise(
    times: dict[str, list[float]], breakdown: dict[str, list[dict[str, float]]]
) -> dict[str, Any]:
    """Statistics of the timings.

    Args:
        times: Seconds per step, per variant, in repeat order.
        breakdown: Seconds per phase per instrumented step, per variant.

    Returns:
        Per variant: times, quartiles, ratios to the baseline and phase medians,
        all in milliseconds.
    """
    base = times[BASELINE]
    base_median = statistics.median(base)
    result: dict[str, Any] = {}
    for name, values in times.items():
        q1, median, q3 = quartiles(values)
        paired = [t / b for t, b in zip(values, base, strict=True)]
        p1, pm, p3 = quartiles(paired)
        result[name] = {
            'times_ms': [t * 1e3 for t in values],
            'median_ms': median * 1e3,
            'q1_ms': q1 * 1e3,
            'q3_ms': q3 * 1e3,
            'iqr_ms': (q3 - q1) * 1e3,
            'min_ms': min(values) * 1e3,
            'ratio_of_medians': median / base_median,
            'ratio_of_minima': min(values) / min(base),
            'paired_ratio_median': pm,
            'paired_ratio_q1': p1,
            'paired_ratio_q3': p3,
            'breakdown_median_ms': {
                phase: statistics.median(step[phase] for step in breakdown[name]) * 1e3
                for phase in PHASES
                if breakdown[name] and breakdown[name][0]
            },
        }
    return result


def table(result: dict[str, Any]) -> str:
    """Markdown table of the step times.

    Args:
        result: Output of :func:`summarise`.

    Returns:
        The table.
    """
    header = (
        '| variant | median ms/step | IQR ms (q1-q3) | min ms | ratio of medians | '
        'per-repeat ratio, median (q1-q3) | ratio of minima |'
    )
    lines = [header, '|---|---:|---:|---:|---:|---:|---:|']
    for name, row in result.items():
        lines.append(
            f'| {name} | {row["median_ms"]:.1f} | {row["iqr_ms"]:.1f} '
            f'({row["q1_ms"]:.1f}-{row["q3_ms"]:.1f}) | {row["min_ms"]:.1f} | '
            f'{row["ratio_of_medians"]:.3f} | {row["paired_ratio_median"]:.3f} '
            f'({row["paired_ratio_q1"]:.3f}-{row["paired_ratio_q3"]:.3f}) | '
            f'{row["ratio_of_minima"]:.3f} |'
        )
    return '\n'.join(lines)


def breakdown_table(result: dict[str, Any]) -> str:
    """Markdown table of the phase medians.

    Args:
        result: Output of :func:`summarise`.

    Returns:
        The table, one column per variant.
    """
    names = [n for n in result if result[n]['breakdown_median_ms']]
    lines = [
        '| phase (median ms) | ' + ' | '.join(names) + ' |',
        '|---|' + '---:|' * len(names),
    ]
    for phase in PHASES:
        cells = ' | '.join(
            f'{result[n]["breakdown_median_ms"][phase]:.1f}' for n in names
        )
        lines.append(f'| {phase} | {cells} |')
    sums = ' | '.join(
        f'{sum(result[n]["breakdown_median_ms"].values()):.1f}' for n in names
    )
    lines.append(f'| sum of medians | {sums} |')
    return '\n'.join(lines)


def plot(result: dict[str, Any], path: Path, title: str) -> None:
    """Bar charts of the step time and of its phases.

    Args:
        result: Output of :func:`summarise`.
        path: PNG to write.
        title: Figure title.
    """
    names = list(result)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    medians = [result[n]['median_ms'] for n in names]
    errors = [
        [result[n]['median_ms'] - result[n]['q1_ms'] for n in names],
        [result[n]['q3_ms'] - result[n]['median_ms'] for n in names],
    ]
    bars = left.bar(names, medians, yerr=errors, capsize=4, color='tab:blue')
    left.bar_label(
        bars,
        labels=[f'{result[n]["ratio_of_medians"]:.3f}×' for n in names],
        label_type='center',
        color='white',
        fontsize=9,
    )
    left.axhline(
        TARGET * result[BASELINE]['median_ms'],
        color='tab:red',
        linestyle='--',
        label=f'target: {TARGET} × TorchGeo',
    )
    left.set_ylabel('ms / step (median, IQR bars)')
    left.set_ylim(0, 1.25 * max(result[n]['q3_ms'] for n in names))
    left.legend(fontsize=8, loc='upper right')
    bottom = np.zeros(len(names))
    for phase in PHASES:
        values = np.array(
            [result[n]['breakdown_median_ms'].get(phase, 0.0) for n in names]
        )
        right.bar(names, values, bottom=bottom, label=phase)
        bottom += values
    right.set_ylabel('ms (median per phase, instrumented run)')
    right.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    for ax in (left, right):
        ax.tick_params(axis='x', labelsize=8)
    fig.suptitle(title, fontsize=10)
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
    parser.add_argument('--model', choices=('resnet18', 'resnet50'), default='resnet18')
    parser.add_argument('--batch-size', type=int, help='samples (default 32, quick 8)')
    parser.add_argument('--bands', type=int, default=4, help='bands C (default 4)')
    parser.add_argument('--side', type=int, help='input px (default 128, quick 64)')
    parser.add_argument('--size', type=int, help='crop px (default 112, quick 56)')
    parser.add_argument('--queue', type=int, default=4096, help='negatives (4096)')
    parser.add_argument(
        '--repeats', type=int, help='timed rounds (default 25, quick 12)'
    )
    parser.add_argument('--warmup', type=int, help='untimed steps (default 3, quick 2)')
    parser.add_argument(
        '--breakdown-repeats',
        type=int,
        help='instrumented rounds (default 5, quick 3; 0 skips)',
    )
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    parser.add_argument(
        '--precision',
        choices=('32', 'bf16-mixed'),
        default='32',
        help="'bf16-mixed': training_step under bfloat16 autocast, as Lightning's "
        'precision flag (default 32)',
    )
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='encoders and their inputs in the channels-last memory format',
    )
    parser.add_argument(
        '--threads', type=int, help='torch intra-op threads (default: usable CPUs)'
    )
    parser.add_argument(
        '--omp-wait-policy',
        choices=('passive', 'active', 'unset'),
        help='OMP_WAIT_POLICY for torch CPU threads, set before torch loads by '
        "re-executing the script; unset leaves OpenMP's own default (spin, then "
        "sleep). Default: the environment's value, else passive",
    )
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--out',
        type=Path,
        default=None,
        help='folder (default benchmarks/results; with --quick a new temporary folder)',
    )
    parser.add_argument(
        '--quick', action='store_true', help='small batch and images (< 60 s, 2 cores)'
    )
    args = parser.parse_args(argv)
    defaults = (
        {
            'batch_size': 8,
            'side': 64,
            'size': 56,
            'repeats': 12,
            'warmup': 2,
            'breakdown_repeats': 3,
        }
        if args.quick
        else {
            'batch_size': 32,
            'side': 128,
            'size': 112,
            'repeats': 25,
            'warmup': 3,
            'breakdown_repeats': 5,
        }
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ('batch_size', 'bands', 'side', 'size', 'queue', 'repeats'):
        if getattr(args, key) < 1:
            parser.error(f'--{key.replace("_", "-")} must be positive')
    for key in ('warmup', 'breakdown_repeats'):
        if getattr(args, key) < 0:
            parser.error(f'--{key.replace("_", "-")} must not be negative')
    if args.size > args.side:
        parser.error(f'--size {args.size} is larger than --side {args.side}')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: CUDA is not available')
    if args.threads is None:
        args.threads = len(os.sched_getaffinity(0))
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark.

    Re-executes the script first when ``OMP_WAIT_POLICY`` must change (see the
    module docstring).

    Args:
        argv: Command line arguments (default: ``sys.argv[1:]``).

    Returns:
        Exit status: 0.
    """
    arguments = sys.argv[1:] if argv is None else argv
    args = parse(arguments)
    current = os.environ.get('OMP_WAIT_POLICY')
    wanted = args.omp_wait_policy or (current.lower() if current else 'passive')
    policy = None if wanted == 'unset' else wanted.upper()
    if (current or '').upper() != (policy or ''):
        if policy is None:
            del os.environ['OMP_WAIT_POLICY']
        else:
            os.environ['OMP_WAIT_POLICY'] = policy
        explicit = [] if args.omp_wait_policy else ['--omp-wait-policy', wanted]
        os.execv(sys.executable, [sys.executable, __file__, *arguments, *explicit])
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    began = time.perf_counter()
    cpu_before = busy_cpu_seconds(), time.process_time()
    batches = make_batches(args.batch_size, args.bands, args.side, device, args.seed)
    variants = [build(name, args, batches, device) for name in VARIANTS]

    seed_everything(args.seed)
    for variant in variants:
        for _ in range(args.warmup):
            timed_step(variant, device)
    times = interleaved(variants, args.repeats, lambda v: timed_step(v, device))
    breakdown = interleaved(
        variants, args.breakdown_repeats, lambda v: instrumented_step(v, device)
    )
    result = summarise(times, breakdown)
    elapsed = time.perf_counter() - began
    foreign = foreign_cores(cpu_before, elapsed)

    title = (
        f'{args.model}, B={args.batch_size}, C={args.bands}, {args.side}px -> '
        f'{args.size}px, queue {args.queue}, {args.device} ({args.threads} threads), '
        f'{args.precision}{", channels-last" if args.channels_last else ""}, '
        f'median of {args.repeats}'
    )
    ratio = result['gassl']['ratio_of_medians']
    met = ratio <= TARGET
    geo_ms = result['gassl']['median_ms'] - result['gassl-no-geo']['median_ms']
    print(f'## Training step time ({title})\n')
    print(table(result))
    if args.breakdown_repeats:
        print(f'\nPhases (median of {args.breakdown_repeats} instrumented steps):\n')
        print(breakdown_table(result))
    print(
        f'\nTarget gassl <= {TARGET} x {BASELINE}: ratio of medians {ratio:.3f}, '
        f'{"met" if met else "NOT met"}.'
    )
    print(
        f'Geo head: gassl - gassl-no-geo = {geo_ms:+.1f} ms/step '
        f'({geo_ms / result["gassl-no-geo"]["median_ms"]:+.1%}).'
    )
    print(
        f'SeCo: {result["seco"]["ratio_of_medians"]:.2f} x {BASELINE} (4 encoded '
        'views against 2: two extra key forwards without gradient, 3 heads and '
        'losses; the query backward, common to both, dominates).'
    )
    print(
        f'Supervised {args.model} step: '
        f'{result[SUPERVISED]["ratio_of_medians"]:.2f} x {BASELINE} (B images '
        'with gradient, no augmentation, no key encoder).'
    )
    print(f'Total wall time {elapsed:.0f} s.', end=' ')
    if foreign is None:
        print()
    else:
        print(f'Other processes used {foreign:.2f} cores on average meanwhile.')
        if args.device == 'cpu' and foreign > 0.25:
            print(
                'Warning: the machine was busy; with every core used by torch, CPU '
                'timings (absolute and ratios) are then unreliable: run again idle.'
            )

    args.out = output_folder(args.out, args.quick, 'train_step')
    args.out.mkdir(parents=True, exist_ok=True)
    prefix = ['env', '-u', 'OMP_WAIT_POLICY'] if policy is None else []
    prefix += [f'OMP_WAIT_POLICY={policy}'] if policy else []
    command = shlex.join([*prefix, sys.executable, __file__, *arguments])
    payload = {
        'command': command,
        'config': {
            key: str(value) if isinstance(value, Path) else value
            for key, value in vars(args).items()
        }
        | {
            'geo_classes': GEO_CLASSES,
            'output_dim': OUTPUT_DIM,
            'temperature': TEMPERATURE,
            'moco_momentum': MOCO_MOMENTUM,
            'lr': LR,
            'weight_decay': WEIGHT_DECAY,
        },
        'machine': describe_machine(device),
        'definitions': {
            'step': 'training_step + backward + optimizer.step + zero_grad',
            'ratio_of_medians': f'median ms/step / median ms/step of {BASELINE}',
            'paired_ratio': f'step / {BASELINE} step of the same repeat',
            'ratio_of_minima': f'fastest step / fastest step of {BASELINE}',
            'target': f'gassl ratio_of_medians <= {TARGET}',
        },
        'target_met': met,
        'geo_head_ms': geo_ms,
        'wall_s': elapsed,
        'other_processes_cores': foreign,
        'losses': {v.name: v.losses for v in variants},
        'results': result,
    }
    (args.out / 'train_step.json').write_text(json.dumps(payload, indent=2) + '\n')
    plot(result, args.out / 'train_step.png', title)
    print(f'Wrote {args.out / "train_step.json"} and {args.out / "train_step.png"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Benchmark: power-plant fuel type from location alone, per positional encoding.

Part 1 trains the same location encoder (a :class:`LocationEncoder` with its
defaults: one hidden layer of 512, dropout 0.5, output 256) plus a linear class head
on every encoding of :data:`ENCODING_NAMES`, with plain cross-entropy and the same
budget (steps, batch size, Adam learning rate), on a spatial-block split of the REAL
Global Power Plant Database (``primary_fuel``, 15 classes), over several seeds.

Part 2 pre-trains a CSP location encoder (:class:`CSPTask`, encoding ``'grid'``,
trainable ResNet-18 on 32 px tiles) on a SYNTHETIC global image-location set made
with :func:`generate_demo_data`, then fine-tunes it on the power plants and compares
it with the same encoder randomly initialised, with the same budget.

Global Energy Observatory, Google, KTH Royal Institute of Technology in Stockholm,
Enipedia, World Resources Institute. 2018. Global Power Plant Database.
"""

import argparse
import json
import math
import os
import shlex
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
from machine import describe_machine
from output import output_folder

matplotlib.use('Agg')
import matplotlib.pyplot as plt
import numpy as np
import rasterio
import torch
from sklearn.metrics import balanced_accuracy_score
from torch import Tensor, nn

from torchgeo_geossl.datamodules.points import PointsDataModule
from torchgeo_geossl.datasets.demo import DEMO_SCALE, DemoLocation, generate_demo_data
from torchgeo_geossl.location.encoder import LocationEncoder
from torchgeo_geossl.location.encodings import ENCODING_NAMES
from torchgeo_geossl.trainers.csp import CSPTask

CSV = Path('power-plants') / 'global_power_plant_database_v1.csv'
DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2] / 'shared' / 'data'
CREDIT = (
    'Global Energy Observatory, Google, KTH Royal Institute of Technology in '
    'Stockholm, Enipedia, World Resources Institute. 2018. Global Power Plant '
    'Database.'
)
SYNTHETIC_NOTE = (
    'CSP pre-training data is SYNTHETIC (generate_demo_data scenes whose land-cover '
    'mix is a smooth function of latitude/longitude); it carries no real '
    'information about where power plants are, so the pretrained-vs-random '
    'comparison only tests that the pipeline transfers a location encoder, not '
    'that CSP helps on real data.'
)

#: Training budget per mode: steps, batch size, learning rate, seeds.
MODES: dict[str, dict[str, Any]] = {
    'full': {
        'steps': 700,
        'batch_size': 256,
        'lr': 1e-3,
        'seeds': [0, 1, 2],
        'csp_locations': 200,
        'csp_dates': 2,
        'csp_steps': 200,
        'csp_batch_size': 64,
    },
    'quick': {
        'steps': 150,
        'batch_size': 256,
        'lr': 1e-3,
        'seeds': [0, 1],
        'csp_locations': 40,
        'csp_dates': 1,
        'csp_steps': 20,
        'csp_batch_size': 32,
    },
}

#: Split of the power plants: 10-degree blocks, 20 % of the points held out.
BLOCK_SIZE = 10.0
TEST_PCT = 0.2


def seed_everything(seed: int) -> None:
    """Seed NumPy's and torch's global random generators."""
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_classifier(
    encoder: nn.Module,
    points: Tensor,
    labels: Tensor,
    num_classes: int,
    budget: dict[str, Any],
    seed: int,
    freeze_encoder: bool = False,
) -> nn.Module:
    """Train encoder + linear head with cross-entropy for a fixed number of steps.

    Args:
        encoder: Location encoder with an ``output_dim`` attribute.
        points: Training points ``[N, 2]`` (lon, lat) degrees.
        labels: Training labels ``[N]``.
        num_classes: Number of classes.
        budget: ``steps``, ``batch_size`` and ``lr``.
        seed: Seed of the head's initialisation and the batch order.
        freeze_encoder: Train the head only (linear probe; encoder in eval mode).

    Returns:
        The trained model ``Sequential(encoder, head)``.
    """
    torch.manual_seed(seed)
    head = nn.Linear(int(encoder.output_dim), num_classes)
    model = nn.Sequential(encoder, head)
    params = head.parameters() if freeze_encoder else model.parameters()
    optimizer = torch.optim.Adam(params, lr=budget['lr'])
    generator = torch.Generator().manual_seed(seed)
    x = points.float()
    n, b = len(labels), budget['batch_size']
    order = torch.randperm(n, generator=generator)
    cursor = 0
    model.train()
    if freeze_encoder:
        encoder.eval().requires_grad_(False)
    for _ in range(budget['steps']):
        if cursor + b > n:
            order, cursor = torch.randperm(n, generator=generator), 0
        idx = order[cursor : cursor + b]
        cursor += b
        loss = nn.functional.cross_entropy(model(x[idx]), labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


@torch.no_grad()
def evaluate(model: nn.Module, points: Tensor, labels: Tensor) -> dict[str, Any]:
    """Top-1 and macro-averaged accuracy on test points.

    Args:
        model: Trained classifier.
        points: Test points.
        labels: Test labels.

    Returns:
        ``top1``, ``macro`` (mean per-class recall over the classes present) and
        the predictions.
    """
    pred = torch.cat([model(chunk) for chunk in points.float().split(4096)])
    pred = pred.argmax(dim=1)
    return {
        'top1': float((pred == labels).float().mean()),
        'macro': float(balanced_accuracy_score(labels.numpy(), pred.numpy())),
        'pred': pred,
    }


def summary(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation of per-seed values."""
    array = np.asarray(values, dtype=float)
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return {'mean': float(array.mean()), 'std': std}


def synthetic_locations(count: int, seed: int) -> list[DemoLocation]:
    """SYNTHETIC demo places with a land-cover mix that varies smoothly on the globe.

    Points are uniform on the sphere between 55 deg S and 70 deg N (oceans included:
    there is no land mask). Forest share peaks near the equator and around 55 deg
    N and is lowest in the subtropics (about 25 deg); water share follows a smooth
    wave in longitude; built-up share is highest at mid-northern latitudes; parcels
    grow from 120 m (tropics) to 500 m (mid latitudes); snow above 45 deg N and
    below 40 deg S.

    Args:
        count: Number of places.
        seed: Seed of the draw.

    Returns:
        The places.
    """
    rng = np.random.default_rng(seed)
    lo, hi = math.sin(math.radians(-55)), math.sin(math.radians(70))
    lats = np.degrees(np.arcsin(rng.uniform(lo, hi, count)))
    lons = rng.uniform(-180, 180, count)
    places = []
    for i, (lon, lat) in enumerate(zip(lons, lats, strict=True)):
        a = abs(lat)
        forest = 0.1 + 0.45 * math.exp(-((lat / 12) ** 2))
        forest += 0.35 * math.exp(-(((lat - 55) / 10) ** 2))
        forest -= 0.08 * math.exp(-(((a - 25) / 8) ** 2))
        water = 0.03 + 0.12 * (1 + math.sin(math.radians(2 * lon))) / 2
        urban = 0.02 + 0.08 * math.exp(-(((lat - 40) / 12) ** 2))
        places.append(
            DemoLocation(
                name=f'syn{i:04d}',
                region='synthetic',
                lon=float(lon),
                lat=float(lat),
                water=round(water, 3),
                forest=round(max(forest, 0.02), 3),
                urban=round(urban, 3),
                parcel_size=120.0 + 380.0 * min(a, 45.0) / 45.0,
                snow=lat > 45 or lat < -40,
            )
        )
    return places


def synthetic_pairs(
    root: Path, count: int, dates: int, seed: int
) -> tuple[Tensor, Tensor]:
    """Write and read a SYNTHETIC image-location set.

    Args:
        root: Directory for the GeoTIFFs.
        count: Number of places.
        dates: Dates per place (each date is one image).
        seed: Seed of places and scenes.

    Returns:
        Images ``[M, 4, 32, 32]`` (reflectance) and points ``[M, 2]`` (lon, lat).
    """
    places = synthetic_locations(count, seed)
    paths = generate_demo_data(
        root, size=32, res=30.0, seed=seed, locations=places, dates_per_location=dates
    )
    by_name = {p.name: p for p in places}
    images, points = [], []
    for path in paths:
        place = by_name[path.stem.split('_')[1]]
        with rasterio.open(path) as src:
            images.append(src.read().astype(np.float32) / DEMO_SCALE)
        points.append((place.lon, place.lat))
    return torch.from_numpy(np.stack(images)), torch.tensor(points, dtype=torch.float64)


def pretrain_csp(
    images: Tensor, points: Tensor, budget: dict[str, Any], seed: int
) -> CSPTask:
    """Pre-train CSP (grid encoding, trainable ResNet-18) on image-location pairs.

    Args:
        images: ``[M, 4, H, W]``.
        points: ``[M, 2]``.
        budget: ``csp_steps``, ``csp_batch_size``.
        seed: Seed.

    Returns:
        The trained task.
    """
    seed_everything(seed)
    task = CSPTask(model='resnet18', in_channels=4, freeze_backbone=False)
    optimizer = task.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Optimizer)
    generator = torch.Generator().manual_seed(seed)
    b = min(budget['csp_batch_size'], len(points))
    task.train()
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*self.log.*')
        for step in range(budget['csp_steps']):
            idx = torch.randperm(len(points), generator=generator)[:b]
            batch = images[idx]
            flip = torch.rand(b, generator=generator) < 0.5
            batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
            loss = task.training_step({'image': batch, 'point': points[idx]}, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    task.final_csp_loss = float(loss.detach())
    return task.eval()


def fmt(stats: dict[str, float]) -> str:
    """Format mean ± std as percentages."""
    return f'{100 * stats["mean"]:.1f} ± {100 * stats["std"]:.1f}'


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark.

    Args:
        argv: Command-line arguments.

    Returns:
        Exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument(
        '--out',
        type=Path,
        default=None,
        help='folder (default benchmarks/results; with --quick a new temporary folder)',
    )
    parser.add_argument('--quick', action='store_true', help='small budget (~1 min)')
    parser.add_argument(
        '--skip-csp', action='store_true', help='only the per-encoding comparison'
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=os.cpu_count() or 1,
        help='torch threads (default: all CPUs; use 1 on a machine shared with '
        'other jobs, where more threads oversubscribe the cores)',
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(max(args.threads, 1))
    warnings.filterwarnings('ignore', message='y_pred contains classes not in y_true')
    mode = 'quick' if args.quick else 'full'
    budget = MODES[mode]
    csv = args.data_root / CSV
    if not csv.is_file():
        print(
            f'[skip] {csv} not found: the real Global Power Plant Database is needed '
            '(pass --data-root to the folder holding power-plants/). Nothing was run.'
        )
        return 0
    start = time.perf_counter()
    command = shlex.join([sys.executable, *sys.argv])

    datamodule = PointsDataModule(
        csv,
        split='block',
        block_size=BLOCK_SIZE,
        val_split_pct=0.0,
        test_split_pct=TEST_PCT,
    )
    points, labels = datamodule.load()
    classes = list(datamodule.classes or [])
    num_classes = len(classes)
    splits = {}
    baseline = {'top1': [], 'macro': []}
    for seed in budget['seeds']:
        datamodule.seed = seed
        train, _, test = datamodule.split_indices(points)
        splits[seed] = (torch.from_numpy(train), torch.from_numpy(test))
        majority = int(torch.bincount(labels[train], minlength=num_classes).argmax())
        y = labels[test]
        const = torch.full_like(y, majority)
        baseline['top1'].append(float((const == y).float().mean()))
        baseline['macro'].append(float(balanced_accuracy_score(y, const)))
    print(
        f'{len(points)} power plants, {num_classes} classes; block split '
        f'({BLOCK_SIZE:g} deg cells, {TEST_PCT:.0%} test) per seed; mode {mode}: '
        f'{budget["steps"]} steps x batch {budget["batch_size"]}, Adam lr '
        f'{budget["lr"]}, seeds {budget["seeds"]}'
    )

    def run(
        label: str, make: Callable[[Tensor, int], nn.Module], freeze: bool = False
    ) -> dict[str, Any]:
        top1, macro, seconds = [], [], []
        for seed in budget['seeds']:
            train, test = splits[seed]
            seed_everything(seed)
            t0 = time.perf_counter()
            encoder = make(points[train], seed)
            model = train_classifier(
                encoder,
                points[train],
                labels[train],
                num_classes,
                budget,
                seed,
                freeze_encoder=freeze,
            )
            result = evaluate(model, points[test], labels[test])
            seconds.append(time.perf_counter() - t0)
            top1.append(result['top1'])
            macro.append(result['macro'])
            if seed == budget['seeds'][0]:
                predictions[label] = result['pred']
        row = {
            'top1': summary(top1),
            'macro': summary(macro),
            'top1_per_seed': top1,
            'macro_per_seed': macro,
            'seconds_per_run': summary(seconds)['mean'],
        }
        print(
            f'  {label:<28} top-1 {fmt(row["top1"])}  macro {fmt(row["macro"])}  '
            f'({row["seconds_per_run"]:.1f} s/run)',
            flush=True,
        )
        return row

    predictions: dict[str, Tensor] = {}
    encodings: dict[str, Any] = {}
    for name in ENCODING_NAMES:

        def make(train_points: Tensor, seed: int, name: str = name) -> nn.Module:
            kwargs: dict[str, Any] = {}
            if name == 'rbf':
                kwargs = {'train_points': train_points, 'seed': seed}
            return LocationEncoder(name, **kwargs)

        encodings[name] = run(name, make)

    csp: dict[str, Any] = {}
    if not args.skip_csp:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix='csp_synthetic_') as tmp:
            images, image_points = synthetic_pairs(
                Path(tmp), budget['csp_locations'], budget['csp_dates'], seed=0
            )
        task = pretrain_csp(images, image_points, budget, seed=0)
        state = task.location_encoder_state_dict()
        pretrain_s = time.perf_counter() - t0
        print(
            f'CSP pre-training on {len(images)} SYNTHETIC images at '
            f'{budget["csp_locations"]} places: {budget["csp_steps"]} steps, final '
            f'loss {task.final_csp_loss:.3f}, {pretrain_s:.0f} s'
        )

        def pretrained(train_points: Tensor, seed: int) -> nn.Module:
            encoder = task.build_location_encoder()
            encoder.load_state_dict(state)
            return encoder

        def random_init(train_points: Tensor, seed: int) -> nn.Module:
            return task.build_location_encoder()

        csp = {
            'note': SYNTHETIC_NOTE,
            'pretraining': {
                'images': len(images),
                'places': budget['csp_locations'],
                'dates_per_place': budget['csp_dates'],
                'tile': '32 x 32 px at 30 m, 4 bands (blue, green, red, NIR)',
                'image_encoder': 'resnet18, trainable, random init',
                'encoding': 'grid (32 scales, 0.1-360 deg)',
                'steps': budget['csp_steps'],
                'batch_size': budget['csp_batch_size'],
                'final_loss': task.final_csp_loss,
                'seconds': pretrain_s,
            },
            'fine-tune, CSP-pretrained': run('CSP-pretrained, fine-tune', pretrained),
            'fine-tune, random init': run('random init, fine-tune', random_init),
            'linear probe, CSP-pretrained': run(
                'CSP-pretrained, linear probe', pretrained, freeze=True
            ),
            'linear probe, random init': run(
                'random init, linear probe', random_init, freeze=True
            ),
        }

    base = {k: summary(v) for k, v in baseline.items()}
    lines = [
        '| encoder | top-1 acc. (%) | macro acc. (%) | s / run |',
        '| --- | --- | --- | --- |',
        (
            f'| majority class (baseline) | {fmt(base["top1"])} | '
            f'{fmt(base["macro"])} | – |'
        ),
    ]
    for name, row in encodings.items():
        lines.append(
            f'| {name} | {fmt(row["top1"])} | {fmt(row["macro"])} | '
            f'{row["seconds_per_run"]:.1f} |'
        )
    for name, row in csp.items():
        if isinstance(row, dict) and 'top1' in row:
            lines.append(
                f'| grid, {name} | {fmt(row["top1"])} | {fmt(row["macro"])} | '
                f'{row["seconds_per_run"]:.1f} |'
            )
    table = '\n'.join(lines)
    print()
    print(table)
    print()
    if csp:
        print(SYNTHETIC_NOTE)
    print(f'Data: {CREDIT}')

    args.out = output_folder(args.out, args.quick, 'location_encoders')
    args.out.mkdir(parents=True, exist_ok=True)
    best = max(encodings, key=lambda k: encodings[k]['macro']['mean'])
    plot_bars(encodings, csp, base, args.out / 'location_encoders.png', mode)
    first_test = splits[budget['seeds'][0]][1]
    plot_map(
        points[first_test],
        labels[first_test],
        predictions[best],
        classes,
        best,
        args.out / 'location_encoders_map.png',
    )
    total = time.perf_counter() - start
    report = {
        'command': command,
        'mode': mode,
        'machine': describe_machine(),
        'data': {
            'csv': str(csv),
            'credit': CREDIT,
            'points': len(points),
            'classes': classes,
            'split': (
                f'PointsDataModule block split, {BLOCK_SIZE:g} deg cells, '
                f'test_split_pct={TEST_PCT}, val_split_pct=0, split seed = seed'
            ),
            'test_points_per_seed': {s: len(t) for s, (_, t) in splits.items()},
        },
        'training': {
            'loss': 'cross-entropy',
            'model': 'LocationEncoder defaults (1 hidden layer of 512, dropout 0.5, '
            'output 256; SIREN for sh) + linear head',
            'optimizer': 'Adam',
            **{k: budget[k] for k in ('steps', 'batch_size', 'lr', 'seeds')},
        },
        'majority_baseline': {**base, 'per_seed': baseline},
        'encodings': encodings,
        'best_encoding_by_macro': best,
        'csp': csp,
        'table_markdown': table,
        'total_seconds': total,
    }
    path = args.out / 'location_encoders.json'
    path.write_text(json.dumps(report, indent=2))
    print(f'Wrote {path}, location_encoders.png and location_encoders_map.png ')
    print(f'Total {total:.0f} s')
    return 0


def plot_bars(
    encodings: dict[str, Any],
    csp: dict[str, Any],
    base: dict[str, Any],
    path: Path,
    mode: str,
) -> None:
    """Bar chart of top-1 and macro accuracy per encoder, with std error bars."""
    rows = dict(encodings)
    rows.update({f'grid, {k}': v for k, v in csp.items() if 'top1' in v})
    names = list(rows)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(8, 0.7 * len(names)), 4.5))
    for offset, key, label in ((-0.2, 'top1', 'top-1'), (0.2, 'macro', 'macro')):
        ax.bar(
            x + offset,
            [100 * rows[n][key]['mean'] for n in names],
            0.4,
            yerr=[100 * rows[n][key]['std'] for n in names],
            label=label,
            capsize=2,
        )
        ax.axhline(
            100 * base[key]['mean'],
            ls='--',
            lw=1,
            color='C0' if key == 'top1' else 'C1',
            label=f'majority baseline ({label})',
        )
    ax.set_xticks(x, names, rotation=45, ha='right')
    ax.set_ylabel('test accuracy (%)')
    ax.set_title(f'Power-plant fuel from location, block split ({mode})')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_map(
    points: Tensor,
    labels: Tensor,
    pred: Tensor,
    classes: list[str],
    name: str,
    path: Path,
) -> None:
    """Test points coloured by true class and by one encoder's predicted class."""
    cmap = plt.get_cmap('tab20', len(classes))
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.5), sharey=True)
    for ax, values, title in (
        (axes[0], labels, 'true primary_fuel'),
        (axes[1], pred, f'predicted by {name} (seed 0)'),
    ):
        ax.scatter(
            points[:, 0],
            points[:, 1],
            c=values.numpy(),
            cmap=cmap,
            vmin=-0.5,
            vmax=len(classes) - 0.5,
            s=3,
        )
        ax.set_xlim(-180, 180)
        ax.set_ylim(-60, 85)
        ax.set_xlabel('longitude (deg)')
        ax.set_title(f'Test points (block split): {title}')
    axes[0].set_ylabel('latitude (deg)')
    handles = [
        plt.Line2D([], [], marker='o', ls='', color=cmap(i), label=c)
        for i, c in enumerate(classes)
    ]
    fig.legend(handles=handles, loc='center right', fontsize=7)
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == '__main__':
    sys.exit(main())

"""What the main job's held-out comparison can show at its budget: the answer-key ceiling.

The main job (``configs/demo.yaml``) pre-trains GASSL for 60 steps and then asks whether the
trained backbone recognises held-out regions and places better than its random
initialisation, and better than the random initialisation with the batch-norm statistics of
the held-out views (the control of :class:`~torchgeo_geossl.evaluation.HeldOutComparison`).
With version 1 of the demo data it did not, and this script asked whether that said anything
about the method, or only about the budget and the data: it trains the same encoder **with
supervision by the answer key**, cross-entropy on the region (demo site) of every training
patch, the very labels that region recognition scores, and runs the same comparison.

Everything but the loss is the main job's, read from ``configs/demo.yaml`` and
``configs/demo_validation.yaml`` and run through TorchGeo's CLI: the data module and its
held-out split, the encoder and its initialisation, the augmentation and standardisation,
SGD with GASSL's learning rate and cosine schedule, the batch-norm groups, the number of
steps, and the comparison, on the **validation** split (the test split is not read). Two
input pipelines are compared:

* ``augmented``: the main job's augmentation (GASSL's MoCo-v2 pipeline) before the
  standardisation, as GASSL's query view sees it;
* ``crop``: a random ``size`` crop of each patch and nothing else, what the evaluation's
  shifted crops look like.

Supervision by the answer key is not a bound that no method can pass, but it is the
strongest signal for region recognition that a few dozen steps can use: where it cannot
beat the batch-norm control, a self-supervised method trained the same way has nothing to
show, and the budget or the data has to change.

Usage (from the repository root; a full run takes about 20 minutes on 2 cores)::

    .venv/bin/python benchmarks/demo_ceiling.py [--quick] [--out DIR] [--seeds ...]
        [--epochs ...] [--batch-size N] [--pipelines augmented crop]

It writes ``demo_ceiling.json`` and ``demo_ceiling.png`` into ``--out`` (default
``benchmarks/results/``; a ``--quick`` smoke run writes into a new temporary folder).
"""

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from machine import describe_code, describe_machine
from matplotlib import pyplot as plt
from output import output_folder
from torch import Tensor, nn
from torchgeo.datasets.utils import Sample
from torchgeo.main import main as torchgeo_main

import torchgeo_geossl
from torchgeo_geossl.evaluation import (
    distinct_footprints,
    footprint_regions,
    shifted_crops,
)
from torchgeo_geossl.trainers import GeoMoCoTask

REPO = Path(__file__).resolve().parents[1]
CONFIGS = (REPO / 'configs' / 'demo.yaml', REPO / 'configs' / 'demo_validation.yaml')
#: The input pipelines compared.
PIPELINES = ('augmented', 'crop')
#: The two questions of the comparison, as the metric keys name them.
QUESTIONS = ('region', 'place')


class CropOnly(nn.Module):
    """Independent random crops of the views, and nothing else.

    Args:
        size: Side of the crops in pixels.
    """

    def __init__(self, size: int) -> None:
        """Initialize a new CropOnly instance.

        Args:
            size: Side of the crops in pixels.
        """
        super().__init__()
        self.size = size
        self.calls = 0

    def forward(self, views: Tensor) -> Tensor:
        """Crop each view of each sample at its own offset, a new draw every call.

        Args:
            views: Images ``[B, V, C, H, W]``.

        Returns:
            The crops ``[B, V, C, size, size]``.
        """
        self.calls += 1
        return shifted_crops(views, self.size, seed=10_000 + self.calls)


class RegionSupervisedTask(GeoMoCoTask):
    """The main job's task with its loss replaced by the region cross-entropy.

    The encoder, augmentation, standardisation, optimiser and schedule are
    :class:`~torchgeo_geossl.trainers.GeoMoCoTask`'s; the training loss is the
    cross-entropy of a linear head on the pooled features of the query view against
    the region (file footprint) that holds the patch. The head is built in
    :meth:`setup`, when the data module's regions are known, so it is trained with
    the encoder; the random-initialisation twin of the comparison has none.
    """

    def setup(self, stage: str) -> None:
        """Build the region head for the data module's regions.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        super().setup(stage)
        dataset = self.trainer.datamodule.geo_dataset
        self.region_head = nn.Linear(
            self.feature_dim, len(distinct_footprints(dataset))
        )

    def training_step(
        self, batch: Sample, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Cross-entropy of the query view's region.

        Args:
            batch: A batch of the data module, with ``image`` and ``point``.
            batch_idx: Index of the batch.
            dataloader_idx: Index of the dataloader.

        Returns:
            The loss.
        """
        pairs, _ = self._pairs(batch)
        with torch.no_grad():
            pairs = self.standardize(self.augmentation(pairs))
        logits = self.region_head(self.forward(pairs[:, 0]))
        points = torch.as_tensor(batch['point']).reshape(-1, 2).cpu()
        regions = footprint_regions(self.trainer.datamodule.geo_dataset, points)
        if (regions < 0).any():
            msg = (
                f'{int((regions < 0).sum())} training patches lie in no file footprint: '
                'they have no region to supervise with'
            )
            raise ValueError(msg)
        labels = regions.to(logits.device)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        self.log('train_loss', loss, batch_size=len(labels), prog_bar=True)
        self.log('train_region_acc', accuracy, batch_size=len(labels))
        return loss


def cli_arguments(
    pipeline: str,
    epochs: int,
    seed: int,
    root: Path,
    demo_root: Path | None,
    batch_size: int = 32,
) -> list[str]:
    """The ``torchgeo fit`` arguments of one run.

    Args:
        pipeline: One of :data:`PIPELINES`.
        epochs: Number of epochs (20 steps each in the main job).
        seed: ``seed_everything``.
        root: Folder of the run's logs.
        demo_root: None for the main job's data; else a folder for small demo
            tiles (256 px) and epochs of two steps (a smoke test).
        batch_size: Samples per step; the epoch length follows, so that an epoch
            has 20 steps (32: the main job's 640 samples per epoch).

    Returns:
        The arguments after ``fit``.
    """
    size = 64 if demo_root is None else 48
    loggers = [
        {
            'class_path': 'lightning.pytorch.loggers.CSVLogger',
            'init_args': {'save_dir': str(root), 'name': 'csv'},
        }
    ]
    callbacks = [
        {
            'class_path': 'torchgeo_geossl.evaluation.HeldOutComparison',
            'init_args': {'split': 'val'},
        }
    ]
    arguments = [arg for config in CONFIGS for arg in ('--config', str(config))]
    arguments += [
        '--model.class_path',
        f'{__name__}.RegionSupervisedTask',
        '--seed_everything',
        str(seed),
        '--trainer.max_epochs',
        str(epochs),
        '--trainer.default_root_dir',
        str(root),
        '--trainer.enable_checkpointing',
        'false',
        '--trainer.enable_progress_bar',
        'false',
        '--trainer.logger',
        json.dumps(loggers),
        '--trainer.callbacks',
        json.dumps(callbacks),
        '--model.init_args.size',
        str(size),
    ]
    if pipeline == 'crop':
        crop = {'class_path': f'{__name__}.CropOnly', 'init_args': {'size': size}}
        arguments += ['--model.init_args.augmentation', json.dumps(crop)]
    steps_per_epoch = 20 if demo_root is None else 2
    arguments += [
        '--data.init_args.batch_size',
        str(batch_size),
        '--data.init_args.length',
        str(steps_per_epoch * batch_size),
    ]
    if demo_root is not None:
        arguments += [
            '--data.init_args.root',
            str(demo_root),
            '--data.init_args.tile_size',
            '256',
            '--data.init_args.num_workers',
            '0',
            '--trainer.log_every_n_steps',
            '1',
            '--data.init_args.patch_size',
            '56',
            '--data.init_args.holdout.cell_size',
            '800',
        ]
    return arguments


def run(
    pipeline: str, epochs: int, seed: int, demo_root: Path | None, batch_size: int = 32
) -> dict[str, float | int | str]:
    """Train one run and read its comparison.

    Args:
        pipeline: One of :data:`PIPELINES`.
        epochs: Number of epochs.
        seed: ``seed_everything``.
        demo_root: None for the main job's data, else small tiles in this folder
            (:func:`cli_arguments`).
        batch_size: Samples per step (:func:`cli_arguments`).

    Returns:
        The run's settings, its last training loss and region accuracy, its number of
        steps and seconds, and the comparison's ``val_*`` metrics.
    """
    with tempfile.TemporaryDirectory(prefix='demo_ceiling_') as folder:
        root = Path(folder)
        start = time.perf_counter()
        torchgeo_main(
            ['fit', *cli_arguments(pipeline, epochs, seed, root, demo_root, batch_size)]
        )
        seconds = time.perf_counter() - start
        (path,) = root.glob('csv/version_*/metrics.csv')
        metrics = pd.read_csv(path)
    last = metrics.ffill().iloc[-1]
    result: dict[str, float | int | str] = {
        'pipeline': pipeline,
        'batch_size': batch_size,
        'epochs': epochs,
        'seed': seed,
        'steps': int(metrics['step'].max()),
        'seconds': round(seconds, 1),
        'train_loss': float(metrics['train_loss'].dropna().iloc[-1]),
        'train_region_acc': float(metrics['train_region_acc'].dropna().iloc[-1]),
    }
    for question in QUESTIONS:
        for key in (
            'top1_pretrained',
            'top1_random',
            'top1_random_bn',
            'chance',
            'top1_gain',
            'top1_gain_low',
            'top1_gain_high',
            'top1_gain_random_bn',
            'top1_gain_random_bn_low',
            'top1_gain_random_bn_high',
        ):
            result[f'{question}_{key}'] = float(last[f'val_{question}_{key}'])
    return result


def summary_table(runs: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of the runs, one row per run.

    Args:
        runs: The results of :func:`run`.

    Returns:
        The table.
    """
    lines = [
        (
            '| pipeline | batch | steps | seed | region: trained / random / control | '
            'region: trained - control [95 %] | place: trained / random / control | '
            'place: trained - control [95 %] | last training loss, region accuracy |'
        ),
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ]
    for r in runs:
        cells = [str(r[key]) for key in ('pipeline', 'batch_size', 'steps', 'seed')]
        for q in QUESTIONS:
            cells.append(
                f'{r[f"{q}_top1_pretrained"]:.2f} / {r[f"{q}_top1_random"]:.2f} / '
                f'{r[f"{q}_top1_random_bn"]:.2f}'
            )
            cells.append(
                f'{r[f"{q}_top1_gain_random_bn"]:+.2f} '
                f'[{r[f"{q}_top1_gain_random_bn_low"]:+.2f}, '
                f'{r[f"{q}_top1_gain_random_bn_high"]:+.2f}]'
            )
        cells.append(f'{r["train_loss"]:.2f}, {r["train_region_acc"]:.2f}')
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot(runs: Sequence[dict[str, Any]], path: Path) -> None:
    """Gains over the batch-norm control and over the random initialisation, per run.

    Args:
        runs: The results of :func:`run`.
        path: Where to write the PNG.
    """
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    labels = [
        f'{r["pipeline"]}, {r["steps"]} x {r["batch_size"]}, seed {r["seed"]}'
        for r in runs
    ]
    x = np.arange(len(runs))
    for ax, question in zip(axes, QUESTIONS, strict=True):
        for offset, (key, name) in enumerate(
            (('top1_gain', 'vs random init'), ('top1_gain_random_bn', 'vs control'))
        ):
            gain = np.array([r[f'{question}_{key}'] for r in runs])
            low = np.array([r[f'{question}_{key}_low'] for r in runs])
            high = np.array([r[f'{question}_{key}_high'] for r in runs])
            ax.errorbar(
                x + 0.15 * (2 * offset - 1),
                gain,
                yerr=[gain - low, high - gain],
                fmt='o',
                capsize=3,
                label=name,
            )
        ax.axhline(0, color='grey', linewidth=0.8)
        ax.set_xticks(x, labels, fontsize=7, rotation=60, ha='right')
        ax.set_title(f'held-out {question} recognition (val split)')
        ax.set_ylabel('top-1 gain, 95 % bootstrap interval')
        ax.legend(fontsize=8)
    fig.suptitle('Supervised by the answer key (region labels), main job budget')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv: The arguments.

    Returns:
        The options.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument(
        '--quick',
        action='store_true',
        help='smoke test: 256-px demo tiles, one epoch of two steps, one seed',
    )
    parser.add_argument(
        '--out', type=Path, help='output folder (default: benchmarks/results)'
    )
    parser.add_argument(
        '--seeds', type=int, nargs='+', default=[0, 1, 2], help='seed_everything values'
    )
    parser.add_argument(
        '--epochs',
        type=int,
        nargs='+',
        default=[3, 10],
        help='epochs of 20 steps (3: the main job)',
    )
    parser.add_argument(
        '--batch-size',
        type=int,
        default=32,
        help='samples per step (32: the main job; 256: the published runs)',
    )
    parser.add_argument(
        '--pipelines',
        nargs='+',
        choices=PIPELINES,
        default=list(PIPELINES),
        help='input pipelines to run',
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    args = parse(sys.argv[1:] if argv is None else argv)
    seeds = args.seeds[:1] if args.quick else args.seeds
    epochs = [1] if args.quick else args.epochs
    batch_size = 16 if args.quick else args.batch_size
    out = output_folder(args.out, args.quick, 'demo_ceiling')
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='demo_ceiling_data_') as folder:
        demo_root = Path(folder) if args.quick else None
        runs = [
            run(pipeline, epoch, seed, demo_root, batch_size)
            for epoch in epochs
            for pipeline in args.pipelines
            for seed in seeds
        ]
    payload = {
        'benchmark': 'demo_ceiling',
        'date': dt.datetime.now(dt.UTC).isoformat(timespec='seconds'),
        'quick': args.quick,
        'machine': describe_machine(),
        'code': describe_code(REPO, Path(torchgeo_geossl.__file__).resolve().parent),
        'configs': [str(config.relative_to(REPO)) for config in CONFIGS],
        'runs': runs,
    }
    (out / 'demo_ceiling.json').write_text(json.dumps(payload, indent=2) + '\n')
    plot(runs, out / 'demo_ceiling.png')
    print(summary_table(runs))
    print(f'wrote {out / "demo_ceiling.json"} and {out / "demo_ceiling.png"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
"""Pre-train GASSL from Python, export the backbone and use it downstream.

A few steps of :class:`~torchgeo_geossl.trainers.GeoMoCoTask` (temporal positives
and the geo-location head) on the SYNTHETIC demo data, sized to run in seconds on
a CPU, then:

1. export the backbone as one file that TorchGeo and timm load, with JSON metadata
   beside it (:func:`~torchgeo_geossl.export.export_backbone`, as ``geossl-export``
   does);
2. load the exported file into TorchGeo's ``Classification`` with no conversion and
   check that the weights arrived;
3. fit a linear probe (scikit-learn logistic regression) on frozen features to
   tell the ten demo sites apart, next to the same probe on a randomly
   initialised backbone.

A handful of steps on synthetic data does not make a useful representation: the
probe shows how to evaluate a backbone, its accuracies say nothing about GASSL.
``configs/demo.yaml`` (``torchgeo fit``) is the full-size main job.

Run from the repository root::

    python examples/pretrain_gassl.py --out outputs/examples/gassl
"""

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn
from torchgeo.tasks import Classification

from torchgeo_geossl.datamodules import DemoDataModule
from torchgeo_geossl.datasets import DEMO_LOCATIONS
from torchgeo_geossl.export import export_backbone, load_backbone
from torchgeo_geossl.trainers import GeoMoCoTask

BANDS = 4
TILE = 64
PATCH = 24


def site_labels(points: torch.Tensor) -> torch.Tensor:
    """Index of the nearest demo site of each (lon, lat) point.

    Args:
        points: ``[N, 2]`` (lon, lat) in degrees.

    Returns:
        ``[N]`` indices into :data:`~torchgeo_geossl.datasets.DEMO_LOCATIONS`.
    """
    sites = torch.tensor(
        [(site.lon, site.lat) for site in DEMO_LOCATIONS], dtype=points.dtype
    )
    return torch.cdist(points, sites).argmin(dim=1)


@torch.no_grad()
def features_and_sites(
    encoder: nn.Module, data: Path, samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Frozen features of single-view patches and the site each comes from.

    Args:
        encoder: A timm backbone without classifier.
        data: Folder of the demo data.
        samples: Number of patches.
        seed: Seed of the sampler.

    Returns:
        Features ``[N, d]`` and site indices ``[N]``.
    """
    datamodule = DemoDataModule(
        root=data,
        tile_size=TILE,
        patch_size=PATCH,
        batch_size=32,
        views=1,
        geo_clusters=None,
        length=samples,
        seed=seed,
    )
    datamodule.setup('fit')
    encoder.eval()
    features, sites = [], []
    for batch in datamodule.train_dataloader():
        batch = datamodule.on_after_batch_transfer(batch, 0)  # rescale
        # standardise as the task does after its augmentation
        images = datamodule.standardize(batch['image'][:, 0])
        features.append(encoder(images))
        sites.append(site_labels(batch['point']))
    return torch.cat(features).numpy(), torch.cat(sites).numpy()


def probe_accuracy(features: np.ndarray, sites: np.ndarray, seed: int) -> float:
    """Held-out accuracy of a logistic regression on standardised frozen features.

    Args:
        features: ``[N, d]``.
        sites: ``[N]`` class of each sample.
        seed: Seed of the split.

    Returns:
        Accuracy on a random 30 % test split.
    """
    x_train, x_test, y_train, y_test = train_test_split(
        features, sites, test_size=0.3, random_state=seed
    )
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    probe.fit(x_train, y_train)
    return float(probe.score(x_test, y_test))


def main() -> None:
    """Pre-train, export, load into TorchGeo, probe."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--out', type=Path, default=None, help='output folder (default: a temp dir)'
    )
    parser.add_argument(
        '--data', type=Path, default=None, help='demo data folder (default: OUT/demo)'
    )
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--probe-samples', type=int, default=200)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix='geossl-gassl-'))
    out.mkdir(parents=True, exist_ok=True)
    data = args.data or out / 'demo'
    seed_everything(args.seed)

    # 1. Pre-train: the same task and data module as configs/demo.yaml, smaller
    datamodule = DemoDataModule(
        root=data,
        tile_size=TILE,
        patch_size=PATCH,
        batch_size=8,
        views=2,
        min_gap='30D',
        geo_clusters=len(DEMO_LOCATIONS) // 2,
        length=48,
        seed=args.seed,
    )
    task = GeoMoCoTask(
        model='resnet18',
        in_channels=BANDS,
        temporal=True,
        geo_classes=len(DEMO_LOCATIONS) // 2,
        queue_size=256,
        temperature=0.02,
        size=PATCH,
    )
    checkpointing = ModelCheckpoint(dirpath=out / 'checkpoints', save_last=True)
    trainer = Trainer(
        max_epochs=args.epochs,
        accelerator='cpu',
        devices=1,
        logger=CSVLogger(out, name='gassl'),
        callbacks=[checkpointing],
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(task, datamodule=datamodule)
    # last.ckpt, or last-v1.ckpt etc. when an earlier run left one in this folder
    checkpoint = Path(checkpointing.last_model_path)
    losses = trainer.logged_metrics

    # 2. Export the backbone: one file for TorchGeo and timm, and its metadata
    weights, info = export_backbone(checkpoint, out / 'export')
    metadata: dict[str, Any] = json.loads(info.read_text())

    # 3. TorchGeo's Classification loads the exported file (or the checkpoint)
    classifier = Classification(
        model='resnet18',
        weights=str(weights),
        in_channels=BANDS,
        num_classes=len(DEMO_LOCATIONS),
    )
    exported, _ = load_backbone(weights)  # the plain timm state dict
    loaded = classifier.model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in exported.items())

    # 4. Linear probe on frozen features: pre-trained vs random initialisation
    pretrained = timm.create_model('resnet18', in_chans=BANDS, num_classes=0)
    timm.models.load_checkpoint(pretrained, str(weights))  # timm reads it too
    random_init = timm.create_model('resnet18', in_chans=BANDS, num_classes=0)
    accuracy = {}
    for name, encoder in (('pretrained', pretrained), ('random_init', random_init)):
        features, sites = features_and_sites(
            encoder, data, args.probe_samples, args.seed + 1
        )
        accuracy[name] = probe_accuracy(features, sites, args.seed)

    result = {
        'checkpoint': str(checkpoint),
        'backbone_weights': str(weights),
        'backbone_metadata': metadata,
        'steps': int(trainer.global_step),
        'train_loss': float(losses['train_loss']),
        'classification_loaded_tensors': len(exported),
        'probe': {
            'target': 'demo site (10 classes)',
            'samples': len(sites),
            'accuracy': accuracy,
        },
    }
    (out / 'result.json').write_text(json.dumps(result, indent=2) + '\n')
    print(json.dumps(result, indent=2))
    print(f'Wrote {out}')


if __name__ == '__main__':
    main()

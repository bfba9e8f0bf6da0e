#!/usr/bin/env python3
"""Pre-train a CSP location encoder for a few steps and map its embeddings.

:class:`~torchgeo_geossl.trainers.CSPTask` pulls each image and the (lon, lat) it
was taken at together. This example trains it for a few steps on the SYNTHETIC
demo data (one view per location), then:

1. rebuilds the trained location encoder from the checkpoint alone
   (:func:`~torchgeo_geossl.trainers.load_location_encoder`) and checks that it
   gives the task's embeddings;
2. embeds a global lon/lat grid and maps the first three principal components of
   the embeddings as RGB, with the demo sites marked.

The image backbone is a frozen, randomly initialised ResNet-18, as the paper
freezes its image encoder; pass ``--weights`` a GASSL or SeCo checkpoint of this
package (for example ``checkpoints/last.ckpt`` of ``pretrain_gassl.py``) to use a
pre-trained one. Ten sites and a few steps teach the encoder little: the map
shows the mechanics and the encoding's structure (Space2Vec-grid, the paper's
default), not a useful prior.

Run from the repository root::

    python examples/csp_location_encoder.py --out outputs/examples/csp
"""

import argparse
import json
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from torchgeo_geossl.datamodules import DemoDataModule
from torchgeo_geossl.datasets import DEMO_LOCATIONS
from torchgeo_geossl.trainers import CSPTask, load_location_encoder


def lonlat_grid(step: float) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """A regular grid of cell centres over the globe.

    Args:
        step: Cell size in degrees.

    Returns:
        Longitudes ``[W]``, latitudes ``[H]`` (north first) and the points
        ``[H·W, 2]`` as (lon, lat) in degrees.
    """
    lons = np.arange(-180 + step / 2, 180, step)
    lats = np.arange(90 - step / 2, -90, -step)
    lon, lat = np.meshgrid(lons, lats)
    points = torch.from_numpy(np.stack([lon.ravel(), lat.ravel()], axis=1))
    return lons, lats, points


def embedding_map(
    embeddings: np.ndarray, shape: tuple[int, int], step: float, title: str
) -> Figure:
    """Map the first three principal components of embeddings as RGB.

    Args:
        embeddings: ``[H·W, D]`` embeddings of the grid points.
        shape: ``(H, W)`` of the grid.
        step: Cell size in degrees.
        title: Title of the figure.

    Returns:
        The figure.
    """
    components = PCA(n_components=3, random_state=0).fit_transform(embeddings)
    low, high = np.percentile(components, (1, 99), axis=0)
    rgb = np.clip((components - low) / (high - low), 0, 1).reshape(*shape, 3)
    fig, ax = plt.subplots(figsize=(8, 4.3))
    ax.imshow(rgb, extent=(-180, 180, -90, 90), interpolation='nearest')
    ax.scatter(
        [site.lon for site in DEMO_LOCATIONS],
        [site.lat for site in DEMO_LOCATIONS],
        marker='x',
        c='black',
        s=30,
        label='demo sites',
    )
    ax.set_xlabel('longitude (°)')
    ax.set_ylabel('latitude (°)')
    ax.set_xticks(range(-180, 181, 60))
    ax.set_yticks(range(-90, 91, 30))
    ax.legend(loc='lower left', fontsize=8)
    ax.set_title(f'{title} ({step:g}° grid)', fontsize=10)
    fig.tight_layout()
    return fig


def main() -> None:
    """Train CSP briefly, reload its location encoder and map the embeddings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--out', type=Path, default=None, help='output folder (default: a temp dir)'
    )
    parser.add_argument(
        '--data', type=Path, default=None, help='demo data folder (default: OUT/demo)'
    )
    parser.add_argument(
        '--weights', default=None, help='GASSL/SeCo checkpoint of the image backbone'
    )
    parser.add_argument('--encoding', default='grid')
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--step', type=float, default=2.0, help='map cell (degrees)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix='geossl-csp-'))
    out.mkdir(parents=True, exist_ok=True)
    data = args.data or out / 'demo'
    seed_everything(args.seed)

    datamodule = DemoDataModule(
        root=data,
        tile_size=64,
        patch_size=24,
        batch_size=16,
        views=1,  # CSP pairs one image with its location
        geo_clusters=None,
        length=64,
        seed=args.seed,
    )
    task = CSPTask(
        model='resnet18',
        in_channels=4,
        weights=args.weights,
        freeze_backbone=True,
        encoding=args.encoding,
    )
    checkpointing = ModelCheckpoint(dirpath=out / 'checkpoints', save_last=True)
    trainer = Trainer(
        max_epochs=args.epochs,
        accelerator='cpu',
        devices=1,
        logger=False,
        callbacks=[checkpointing],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(task, datamodule=datamodule)
    # last.ckpt, or last-v1.ckpt etc. when an earlier run left one in this folder
    checkpoint = Path(checkpointing.last_model_path)

    # The trained location encoder, rebuilt from the checkpoint alone
    encoder = load_location_encoder(checkpoint)
    lons, lats, points = lonlat_grid(args.step)
    task.eval()
    with torch.no_grad():
        embeddings = task(points.float())  # unit-norm, [H·W, embed_dim]
        reloaded = F.normalize(encoder(points.float()), dim=1)
    torch.testing.assert_close(reloaded, embeddings)

    figure = out / 'location_embeddings.png'
    embedding_map(
        embeddings.numpy(),
        (len(lats), len(lons)),
        args.step,
        f'CSP location embeddings, encoding {args.encoding!r}: first 3 PCs as RGB',
    ).savefig(figure, dpi=80)
    plt.close('all')

    sites = torch.tensor([(s.lon, s.lat) for s in DEMO_LOCATIONS])
    with torch.no_grad():
        site_embeddings = task(sites.float())
    similarity = site_embeddings @ site_embeddings.T
    result = {
        'checkpoint': str(checkpoint),
        'steps': int(trainer.global_step),
        'train_loss': float(trainer.logged_metrics['train_loss']),
        'encoding': args.encoding,
        'embed_dim': int(embeddings.shape[1]),
        'grid_points': int(points.shape[0]),
        'figure': figure.name,
        'site_cosine_similarity': {
            site.name: {
                other.name: round(float(similarity[i, j]), 4)
                for j, other in enumerate(DEMO_LOCATIONS)
            }
            for i, site in enumerate(DEMO_LOCATIONS)
        },
    }
    (out / 'result.json').write_text(json.dumps(result, indent=2) + '\n')
    print(json.dumps({k: v for k, v in result.items() if 'similarity' not in k}))
    print(f'Wrote {out}')


if __name__ == '__main__':
    main()

"""Preview sampled temporal views of the demo data: a table and a PNG grid."""

import argparse
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from torchgeo.datasets.utils import Sample

from .datamodules.demo import DemoDataModule


def format_batch(batch: Sample) -> str:
    """Describe every sample of a batch: where, when and what was drawn.

    Args:
        batch: A batch of the batch contract (``image``, ``point``, ``time`` and
            optionally ``label``).

    Returns:
        A plain-text table, one line per sample.

    .. versionadded:: 0.1
    """
    image, point, time = batch['image'], batch['point'], batch['time']
    header = (
        f'image {tuple(image.shape)} {image.dtype} · '
        f'point {tuple(point.shape)} {point.dtype} · '
        f'time {tuple(time.shape)} {time.dtype}'
    )
    lines = [
        header,
        f'{"#":>3}  {"lon":>10} {"lat":>9}  {"cluster":>7}  dates of the views',
    ]
    for i in range(image.shape[0]):
        lon, lat = point[i].tolist()
        label = str(int(batch['label'][i])) if 'label' in batch else '-'
        dates = ', '.join(
            pd.Timestamp(float(t), unit='s').strftime('%Y-%m-%d') for t in time[i]
        )
        lines.append(f'{i:>3}  {lon:>10.4f} {lat:>9.4f}  {label:>7}  {dates}')
    return '\n'.join(lines)


def plot_views(
    batch: Sample, rgb: Sequence[int] = (2, 1, 0), vmax: float = 3000.0
) -> Figure:
    """Plot a grid of temporal views: one row per location, one column per view.

    All panels share one linear stretch (0 to *vmax*), so brightness differences
    between views are real: clouds saturate to white, nodata is black.

    Args:
        batch: A batch with ``image [B, V, C, H, W]`` (raw reflectance), ``time`` and
            ``point``.
        rgb: Band indices shown as red, green and blue.
        vmax: Pixel value shown at full brightness (3000 = 0.3 reflectance for
            reflectance scaled by 10,000).

    Returns:
        The matplotlib figure.

    .. versionadded:: 0.1
    """
    image = (batch['image'][:, :, list(rgb)].float() / vmax).clamp(0, 1)
    b, v = image.shape[:2]
    fig, axes = plt.subplots(b, v, figsize=(2.6 * v, 2.6 * b), squeeze=False)
    for i in range(b):
        lon, lat = batch['point'][i].tolist()
        for j in range(v):
            ax = axes[i, j]
            ax.imshow(image[i, j].permute(1, 2, 0).numpy())
            date = pd.Timestamp(float(batch['time'][i, j]), unit='s')
            ax.set_title(f'{date:%Y-%m-%d}\n{lon:.2f}°, {lat:.2f}°', fontsize=8)
            ax.axis('off')
    fig.tight_layout()
    return fig


def main(argv: Sequence[str] | None = None) -> None:
    """Generate the demo data, draw a batch of temporal views, print and plot it.

    Args:
        argv: Command-line arguments (defaults to ``sys.argv[1:]``).

    .. versionadded:: 0.1
    """
    parser = argparse.ArgumentParser(
        prog='geossl-preview',
        description='Preview temporal views sampled from the generated demo data.',
    )
    parser.add_argument('--root', type=Path, default=Path('data/demo'))
    parser.add_argument('--out', type=Path, default=Path('outputs/preview.png'))
    parser.add_argument('--views', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=6)
    parser.add_argument('--patch-size', type=int, default=128)
    parser.add_argument('--tile-size', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    for name in ('views', 'batch_size', 'patch_size', 'tile_size'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be at least 1')
    if args.patch_size > args.tile_size:
        parser.error(
            f'--patch-size {args.patch_size} is larger than the demo tiles '
            f'(--tile-size {args.tile_size})'
        )

    datamodule = DemoDataModule(
        root=args.root,
        tile_size=args.tile_size,
        batch_size=args.batch_size,
        patch_size=args.patch_size,
        views=args.views,
        seed=args.seed,
        length=4 * args.batch_size,
        min_gap='30D',
    )
    print(f'Generating demo data in {args.root} (skipped where files exist) ...')
    datamodule.prepare_data()
    datamodule.setup('fit')
    dataset = datamodule.geo_dataset
    assert dataset is not None
    print(
        f'{type(dataset).__name__}: {len(dataset)} files, CRS '
        f'{dataset.crs.name}, resolution {dataset.res}'
    )
    batch = next(iter(datamodule.train_dataloader()))
    print(format_batch(batch))
    print(datamodule.temporal_sampler.report())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot_views(batch).savefig(args.out, dpi=110)
    print(f'Saved a grid of the views to {args.out}')

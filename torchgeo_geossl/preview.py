"""Preview sampled temporal views of any config's data, or of the demo data: a table and a PNG grid."""

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt
import pandas as pd
import torch
import yaml
from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LightningArgumentParser
from matplotlib.figure import Figure
from torchgeo.datamodules import BaseDataModule
from torchgeo.datasets.utils import Sample

from .datamodules.demo import DemoDataModule
from .datasets.ssl import DatasetLayoutError
from .datasets.views import _rgb_indices


def format_batch(batch: Sample) -> str:
    """Describe every sample of a batch: where, when and what was drawn.

    Args:
        batch: A batch of the batch contract (``image`` and optionally ``point``,
            ``time`` and ``label``).

    Returns:
        A plain-text table, one line per sample.

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       ``point``, ``time`` and ``label`` are optional.
    """
    image = batch['image']
    point, time = batch.get('point'), batch.get('time')
    header = ' · '.join(
        f'{key} {tuple(value.shape)} {value.dtype}'
        for key in ('image', 'point', 'time')
        if isinstance(value := batch.get(key), torch.Tensor)
    )
    lines = [
        header,
        f'{"#":>3}  {"lon":>10} {"lat":>9}  {"label":>7}  dates of the views',
    ]
    for i in range(image.shape[0]):
        lon, lat = point[i].tolist() if point is not None else (math.nan, math.nan)
        label = str(int(batch['label'][i])) if 'label' in batch else '-'
        dates = (
            ', '.join(
                pd.Timestamp(float(t), unit='s').strftime('%Y-%m-%d')
                for t in time[i].reshape(-1)
            )
            if time is not None
            else '-'
        )
        lines.append(f'{i:>3}  {lon:>10.4f} {lat:>9.4f}  {label:>7}  {dates}')
    return '\n'.join(lines)


def plot_views(
    batch: Sample, rgb: Sequence[int] = (2, 1, 0), vmax: float | None = 3000.0
) -> Figure:
    """Plot a grid of temporal views: one row per location, one column per view.

    All panels share one linear stretch (0 to *vmax*), so brightness differences
    between views are real: clouds saturate to white, nodata is black.

    Args:
        batch: A batch with ``image [B, V, C, H, W]`` (or ``[B, C, H, W]``, one
            view), and optionally ``time`` and ``point`` (panel titles).
        rgb: Band indices shown as red, green and blue (or one, in grey).
        vmax: Pixel value shown at full brightness (3000 = 0.3 reflectance for
            reflectance scaled by 10,000); None: the 99th percentile of the shown
            bands over the whole batch.

    Returns:
        The matplotlib figure.

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       *vmax* None, batches without ``time`` or ``point`` and ``[B, C, H, W]``
       images.
    """
    image = batch['image'].detach().cpu()
    if image.ndim == 4:
        image = image.unsqueeze(1)
    shown = image[:, :, list(rgb)].float()
    if vmax is None:
        vmax = float(torch.quantile(shown.flatten()[:1_000_000], 0.99)) or 1.0
    shown = (shown / vmax).clamp(0, 1)
    b, v = shown.shape[:2]
    fig, axes = plt.subplots(b, v, figsize=(2.6 * v, 2.6 * b), squeeze=False)
    point, time = batch.get('point'), batch.get('time')
    for i in range(b):
        for j in range(v):
            ax = axes[i, j]
            panel = shown[i, j].permute(1, 2, 0).numpy()
            ax.imshow(panel[..., 0] if panel.shape[-1] == 1 else panel, cmap='gray')
            title = []
            if time is not None:
                when = pd.Timestamp(float(time[i].reshape(-1)[j]), unit='s')
                title.append(f'{when:%Y-%m-%d}')
            if point is not None:
                lon, lat = point[i].tolist()
                title.append(f'{lon:.2f}°, {lat:.2f}°')
            ax.set_title('\n'.join(title), fontsize=8)
            ax.axis('off')
    fig.tight_layout()
    return fig


def datamodule_from_config(
    config: Path, overrides: Sequence[str] = ()
) -> LightningDataModule:
    """Build the data module of a ``torchgeo fit`` config, as TorchGeo's CLI does.

    Reads the ``data`` section of *config* and instantiates it with Lightning's
    :class:`~lightning.pytorch.cli.LightningArgumentParser` (jsonargparse), the
    parser behind ``torchgeo fit``, so ``class_path``, ``init_args`` and
    ``dict_kwargs`` mean what they mean there. The model and trainer sections are
    not read (nothing is downloaded or built for them).

    Args:
        config: Path of a YAML config of ``torchgeo fit``.
        overrides: Further ``--data...`` arguments, as on the ``torchgeo`` command
            line (e.g. ``['--data.init_args.root=data/mine']``).

    Returns:
        The data module, not set up.

    Raises:
        ValueError: If *config* has no ``data`` section or it does not describe a
            TorchGeo data module.

    .. versionadded:: 0.2
    """
    section = yaml.safe_load(Path(config).read_text())
    try:
        data = section['data']
    except (TypeError, KeyError) as err:
        msg = f'{config} has no data section (data: class_path: ..., init_args: ...)'
        raise ValueError(msg) from err
    parser = LightningArgumentParser(prog='geossl-preview', exit_on_error=False)
    parser.add_lightning_class_args(
        BaseDataModule, 'data', subclass_mode=True, required=True
    )
    try:
        parsed = parser.parse_args([f'--data={json.dumps(data)}', *overrides])
    except argparse.ArgumentError as err:
        msg = f'the data section of {config} is not a TorchGeo data module: {err}'
        raise ValueError(msg) from err
    # jsonargparse 4.49 renamed instantiate_classes to instantiate
    instantiate = getattr(parser, 'instantiate', parser.instantiate_classes)
    datamodule: LightningDataModule = instantiate(parsed).data
    return datamodule


def first_batch(datamodule: LightningDataModule, source: str = 'the config') -> Sample:
    """Prepare and set up a data module for fitting and draw its first training batch.

    Args:
        datamodule: A data module of this package (or any TorchGeo one whose
            training loader yields dicts with ``image``).
        source: What the data module comes from, for messages (e.g. the config).

    Returns:
        The first batch of its training loader, with raw pixel values.

    Raises:
        DatasetLayoutError: If the data is absent where the data module looks
            for it (a TorchGeo ``DatasetNotFoundError``, or another
            ``FileNotFoundError``); the message names *source* and how to point
            it elsewhere.
        ValueError: If the batches hold no ``image``.

    .. versionadded:: 0.2
    """
    try:
        datamodule.prepare_data()
        datamodule.setup('fit')
    except FileNotFoundError as err:  # TorchGeo's DatasetNotFoundError is one
        msg = (
            f'The data of {source} is absent ({type(datamodule).__name__}: {err}). '
            'Download it, or point the config at your copy, e.g. '
            '--data.init_args.root PATH'
        )
        raise DatasetLayoutError(msg) from err
    loader = datamodule.train_dataloader()
    batch: Any = next(iter(loader))
    if not isinstance(batch, dict) or 'image' not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        msg = (
            f'{type(datamodule).__name__} of {source} serves no images (its batches '
            f'hold {keys}): there are no views to preview'
        )
        raise ValueError(msg)
    return batch


def main(argv: Sequence[str] | None = None) -> None:
    """Draw a batch of temporal views of a config's data (or the demo's), print and plot it.

    With ``--config X.yaml`` (any ``torchgeo fit`` config) the config's data module
    is built (:func:`datamodule_from_config`; further ``--data...`` arguments
    override the config, as on the ``torchgeo`` command line), its data prepared
    and set up for fitting, and its first training batch printed and plotted (the
    stretch of the grid: 0 to the 99th percentile of the batch). Without it, the
    demo data is generated in ``--root`` and sampled.

    Args:
        argv: Command-line arguments (defaults to ``sys.argv[1:]``).

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       ``--config`` and ``--data...`` overrides.
    """
    parser = argparse.ArgumentParser(
        prog='geossl-preview',
        description=(
            "Preview temporal views sampled from a config's data module (--config) "
            'or from the generated demo data.'
        ),
        epilog=(
            'With --config, arguments such as --data.init_args.root=PATH override '
            'the config as on the torchgeo command line.'
        ),
    )
    parser.add_argument(
        '--config', type=Path, help='a torchgeo fit config (only its data is read)'
    )
    parser.add_argument('--root', type=Path, default=Path('data/demo'))
    parser.add_argument('--out', type=Path, default=Path('outputs/preview.png'))
    parser.add_argument('--views', type=int, default=3)
    parser.add_argument('--batch-size', type=int, default=6)
    parser.add_argument('--patch-size', type=int, default=128)
    parser.add_argument('--tile-size', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    args, extra = parser.parse_known_args(argv)
    for name in ('views', 'batch_size', 'patch_size', 'tile_size'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be at least 1')
    if args.config is not None:
        _preview_config(parser, args, extra)
        return
    if extra:
        parser.error(
            f'unrecognized arguments: {" ".join(extra)} (--data... needs --config)'
        )
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


def _preview_config(
    parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]
) -> None:
    """Preview the first batch of a config's data module (``--config``).

    Args:
        parser: The program's parser, for errors.
        args: Its parsed arguments.
        extra: The ``--data...`` overrides.
    """
    unknown = [a for a in extra if a.startswith('-') and not a.startswith('--data')]
    if unknown:
        parser.error(f'unrecognized arguments: {" ".join(unknown)}')
    overrides = [f'--data.init_args.batch_size={args.batch_size}', *extra]
    try:
        datamodule = datamodule_from_config(args.config, overrides)
        print(f'Preparing the data of {args.config} ({type(datamodule).__name__}) ...')
        batch = first_batch(datamodule, str(args.config))
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    print(format_batch(batch))
    sampler = getattr(datamodule, 'temporal_sampler', None)
    if sampler is not None:
        print(sampler.report())
    dataset = getattr(datamodule, 'train_dataset', None)
    rgb = _rgb_indices(dataset, int(batch['image'].shape[-3]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure = plot_views(batch, rgb=rgb, vmax=None)
    figure.savefig(args.out, dpi=110)
    plt.close(figure)
    print(f'Saved a grid of the views to {args.out}')

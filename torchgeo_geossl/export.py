"""Export pre-trained backbones and load them into TorchGeo's downstream tasks."""

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import timm
import torch
from torch import Tensor

from . import __version__
from .checkpoint import read_checkpoint

#: State-dict prefix of the exportable encoder of this package's tasks.
PREFIX = 'model.'

#: Suffixes of an ``--out`` path that names the weights file, not a folder.
WEIGHT_SUFFIXES = ('.pth', '.pt')


def load_backbone(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Read the encoder weights and metadata of a checkpoint of this package.

    Args:
        path: A Lightning checkpoint of :class:`~torchgeo_geossl.trainers.GeoMoCoTask`
            (or another :class:`~torchgeo_geossl.trainers.MomentumContrastTask`).

    Returns:
        The encoder's plain timm state dict, and metadata: method, timm model name,
        input channels, bands, normalisation, patch and crop size, the source
        checkpoint and this package's version.

    Raises:
        ValueError: If the file is not such a checkpoint.

    .. versionadded:: 0.1
    """
    path = Path(path)
    try:
        checkpoint = read_checkpoint(path)
    except OSError as err:
        raise ValueError(str(err)) from err
    hparams = (
        checkpoint.get('hyper_parameters', {}) if isinstance(checkpoint, dict) else {}
    )
    if 'model' not in hparams or 'state_dict' not in checkpoint:
        msg = (
            f'{path} is not a torchgeo-geossl task checkpoint (it needs '
            "'hyper_parameters.model' and a 'state_dict')"
        )
        raise ValueError(msg)
    state_dict = {
        key.removeprefix(PREFIX): value
        for key, value in checkpoint['state_dict'].items()
        if key.startswith(PREFIX)
    }
    metadata = {
        'method': 'unknown',
        'model': hparams['model'],
        'in_channels': hparams.get('in_channels'),
        **checkpoint.get('geossl', {}),
        'source_checkpoint': str(path),
        'torchgeo_geossl_version': __version__,
    }
    return state_dict, metadata


def export_backbone(checkpoint: str | Path, out: str | Path) -> tuple[Path, Path]:
    """Write a checkpoint's encoder as a plain timm state dict plus JSON metadata.

    The weights load with ``timm.create_model(name, in_chans=C, num_classes=0)
    .load_state_dict(torch.load(weights))``; this function checks that they do.

    Args:
        checkpoint: A checkpoint of one of this package's tasks.
        out: A folder to write ``<stem>-backbone.pth`` and ``<stem>-backbone.json``
            into, or the path of the weights file itself (ending in ``.pth`` or
            ``.pt``), whose metadata goes beside it with the ``.json`` suffix.

    Returns:
        Paths of the weights and of the metadata.

    Raises:
        ValueError: If the checkpoint is not readable or not of this package, or
            *out* is an existing file that is not a ``.pth``/``.pt`` path.

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       *out* (was *out_dir*) may name the weights file.
    """
    target = Path(out)
    if target.suffix in WEIGHT_SUFFIXES:
        weights, info = target, target.with_suffix('.json')
    elif target.is_file():
        msg = (
            f'--out {target} is an existing file: give a folder, or a weights path '
            f'ending in {" or ".join(WEIGHT_SUFFIXES)}'
        )
        raise ValueError(msg)
    else:
        stem = Path(checkpoint).stem
        weights = target / f'{stem}-backbone.pth'
        info = target / f'{stem}-backbone.json'
    state_dict, metadata = load_backbone(checkpoint)
    encoder = timm.create_model(
        metadata['model'], in_chans=metadata['in_channels'], num_classes=0
    )
    encoder.load_state_dict(state_dict)
    weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state_dict, weights)
    metadata['num_features'] = int(cast(int, encoder.num_features))
    info.write_text(json.dumps(metadata, indent=2) + '\n')
    return weights, info


def load_into_object_detection(task: Any, checkpoint: str | Path) -> None:
    """Load a checkpoint's ResNet encoder into TorchGeo's ``ObjectDetection``.

    TorchGeo's ``ObjectDetection`` accepts only torchvision weight enums. Its
    backbone body is a torchvision ResNet, whose parameter names equal timm's for
    ResNets, so the encoder loads directly; the FPN and heads stay as initialised.

    Args:
        task: A ``torchgeo.tasks.ObjectDetection`` with a ResNet backbone of the same
            depth and input channels as the checkpoint.
        checkpoint: A checkpoint of one of this package's tasks.

    Raises:
        ValueError: If the backbone does not match the checkpoint's encoder.

    .. versionadded:: 0.1
    """
    state_dict, metadata = load_backbone(checkpoint)
    body = task.model.backbone.body
    own = body.state_dict()
    usable = {k: v for k, v in state_dict.items() if k in own}
    wrong = [k for k, v in usable.items() if v.shape != own[k].shape]
    missing = sorted(set(own) - set(usable))
    if wrong or missing:
        msg = (
            f'the ObjectDetection backbone ({task.hparams.get("backbone")}, '
            f'{task.hparams.get("in_channels")} channels) does not match the '
            f'checkpoint encoder ({metadata["model"]}, {metadata["in_channels"]} '
            f'channels): shapes differ for {wrong[:3]}, missing {missing[:3]}'
        )
        raise ValueError(msg)
    body.load_state_dict(usable)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``geossl-export CHECKPOINT [--out DIR | --out FILE.pth]``.

    Args:
        argv: Command-line arguments (defaults to ``sys.argv[1:]``).

    .. versionadded:: 0.1
    """
    parser = argparse.ArgumentParser(
        prog='geossl-export',
        description='Write the backbone of a torchgeo-geossl checkpoint as a plain '
        'timm state dict and a JSON of its metadata.',
    )
    parser.add_argument('checkpoint', type=Path)
    parser.add_argument(
        '--out',
        type=Path,
        default=None,
        help="a folder (default: the checkpoint's), or the weights file (.pth/.pt) "
        'with its .json metadata beside it',
    )
    args = parser.parse_args(argv)
    if not args.checkpoint.is_file():
        parser.error(f'checkpoint {args.checkpoint} does not exist')
    try:
        weights, info = export_backbone(
            args.checkpoint, args.out or args.checkpoint.parent
        )
    except ValueError as err:
        parser.error(str(err))
    print(f'Exported backbone weights: {weights}')
    print(f'Exported backbone metadata: {info}')

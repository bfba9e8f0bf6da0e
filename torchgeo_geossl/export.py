"""Export pre-trained backbones and load them into TorchGeo's downstream tasks.

An exported backbone is one PyTorch file (``torch.save`` of a dict of tensors,
strings and numbers, readable with ``weights_only=True``) that three loaders read:

* ``state_dict``: the encoder's tensors under ``model.<timm name>``, with
  ``hyper_parameters.model`` the timm model name: the layout of a Lightning
  checkpoint that TorchGeo's ``weights=path`` (``Classification``,
  ``Regression``, ``SemanticSegmentation``, ``ChangeDetection``, ``MoCo``, ...)
  reads with ``torchgeo.tasks.utils.extract_backbone``;
* ``state_dict_ema``: the same tensors (stored once) under their plain timm names,
  the key that timm's loaders read first (``timm.create_model(...,
  pretrained=True, pretrained_cfg_overlay=dict(file=path))`` and
  ``timm.models.load_checkpoint``);
* ``meta``: TorchGeo's ``Weights.meta`` keys (``model``, ``in_chans``,
  ``ssl_method``, ``bands``, ``dataset``, ``resolution``, ``publication``,
  ``repo``) and the normalisation of pre-training in the raw units of the images
  (``mean``, ``std``, ``low``, ``high``), which :func:`normalization_from` turns
  into a Kornia module.

A JSON copy of ``meta`` is written beside the file for reading by eye.
"""

import argparse
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, cast

import kornia.augmentation as K
import timm
import torch
from torch import Tensor, nn

from . import __version__
from .checkpoint import read_checkpoint
from .transforms import ClipValues

#: State-dict prefix of the exportable encoder of this package's tasks.
PREFIX = 'model.'

#: Suffixes of an ``--out`` path that names the weights file, not a folder.
WEIGHT_SUFFIXES = ('.pth', '.pt')

#: Version of the exported file's layout, stored under ``geossl_export``.
EXPORT_FORMAT = 1

#: TorchGeo's ``ssl_method``, publication and reference repository of each
#: method of this package, for the exported ``meta``.
METHODS: dict[str, dict[str, str]] = {
    'GASSL': {
        'ssl_method': 'gassl',
        'publication': 'https://arxiv.org/abs/2011.09980',
        'repo': 'https://github.com/sustainlab-group/geography-aware-ssl',
    },
    'SeCo': {
        'ssl_method': 'seco',
        'publication': 'https://arxiv.org/abs/2103.16607',
        'repo': 'https://github.com/ServiceNow/seasonal-contrast',
    },
    'MoCo-v2': {
        'ssl_method': 'moco',
        'publication': 'https://arxiv.org/abs/2003.04297',
        'repo': 'https://github.com/facebookresearch/moco',
    },
    'CSP': {
        'ssl_method': 'csp',
        'publication': 'https://arxiv.org/abs/2305.01118',
        'repo': 'https://github.com/gengchenmai/csp',
    },
}


def _is_state_dict(value: Any) -> bool:
    """Whether *value* is a non-empty plain state dict (names to tensors).

    Args:
        value: Anything ``torch.load`` returned.

    Returns:
        True for a non-empty dict of string keys and tensor values.
    """
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in value.items())
    )


def _metadata(
    name: str, in_channels: int | None, stored: Mapping[str, Any], path: Path
) -> dict[str, Any]:
    """The exported metadata of a training checkpoint.

    Args:
        name: The timm model name.
        in_channels: Its input channels.
        stored: The checkpoint's ``geossl`` entry (what the task recorded).
        path: The checkpoint.

    Returns:
        TorchGeo's ``Weights.meta`` keys, then this package's.
    """
    method = stored.get('method', 'unknown')
    described = METHODS.get(method, {})
    return {
        'model': name,
        'in_chans': in_channels,
        'ssl_method': described.get('ssl_method', str(method).lower()),
        'bands': stored.get('bands'),
        'dataset': stored.get('dataset'),
        'resolution': stored.get('resolution'),
        'publication': described.get('publication'),
        'repo': described.get('repo'),
        'method': method,
        'in_channels': in_channels,
        **{k: v for k, v in stored.items() if k not in ('model', 'in_channels')},
        'source_checkpoint': str(path),
        'torchgeo_geossl_version': __version__,
    }


def load_backbone(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Read the encoder weights and metadata of a checkpoint or an exported file.

    Args:
        path: A Lightning checkpoint of one of this package's tasks
            (:class:`~torchgeo_geossl.trainers.GeoMoCoTask`,
            :class:`~torchgeo_geossl.trainers.SeCoTask`,
            :class:`~torchgeo_geossl.trainers.CSPTask`), or a file written by
            :func:`export_backbone`.

    Returns:
        The encoder's plain timm state dict, and metadata: TorchGeo's
        ``Weights.meta`` keys (``model``, ``in_chans``, ``ssl_method``, ``bands``,
        ``dataset``, ``resolution``, ``publication``, ``repo``), this package's
        (``method``, ``in_channels``), the normalisation in raw units (``mean``,
        ``std``, ``low``, ``high``), patch and crop size, the source checkpoint
        and this package's version (None where the checkpoint does not say).

    Raises:
        ValueError: If the file is neither.

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       Reads exported files too; the metadata has TorchGeo's ``Weights.meta`` keys.
    """
    path = Path(path)
    try:
        checkpoint = read_checkpoint(path)
    except OSError as err:
        raise ValueError(str(err)) from err
    if not isinstance(checkpoint, dict):
        checkpoint = {}
    if 'geossl_export' in checkpoint:
        state_dict = checkpoint.get('state_dict_ema')
        meta = checkpoint.get('meta')
        if not _is_state_dict(state_dict) or not isinstance(meta, dict):
            msg = f'{path} is a damaged torchgeo-geossl export (no weights or meta)'
            raise ValueError(msg)
        return dict(cast(dict[str, Tensor], state_dict)), dict(meta)
    hparams = checkpoint.get('hyper_parameters', {})
    if 'model' not in hparams or 'state_dict' not in checkpoint:
        msg = (
            f'{path} is neither a torchgeo-geossl task checkpoint (it needs '
            "'hyper_parameters.model' and a 'state_dict') nor a file written by "
            'geossl-export'
        )
        raise ValueError(msg)
    state_dict = {
        key.removeprefix(PREFIX): value
        for key, value in checkpoint['state_dict'].items()
        if key.startswith(PREFIX)
    }
    metadata = _metadata(
        hparams['model'], hparams.get('in_channels'), checkpoint.get('geossl', {}), path
    )
    return state_dict, metadata


def export_backbone(checkpoint: str | Path, out: str | Path) -> tuple[Path, Path]:
    """Write a checkpoint's encoder as one file that TorchGeo and timm load.

    The file's layout is described in :mod:`torchgeo_geossl.export`; a JSON copy of
    its metadata goes beside it. This function checks that timm builds the encoder
    from it.

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

    .. versionchanged:: 0.2
       The weights file is no longer a plain state dict but the dict that
       TorchGeo's ``weights=path`` and timm's loaders read, with the metadata.
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
        metadata['model'], in_chans=metadata['in_chans'], num_classes=0
    )
    encoder.load_state_dict(state_dict)
    metadata['num_features'] = int(cast(int, encoder.num_features))
    exported = {
        'geossl_export': EXPORT_FORMAT,
        'hyper_parameters': {
            'model': metadata['model'],
            'in_channels': metadata['in_chans'],
        },
        'state_dict': {PREFIX + key: value for key, value in state_dict.items()},
        'state_dict_ema': state_dict,
        'meta': metadata,
    }
    weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save(exported, weights)
    info.write_text(json.dumps(metadata, indent=2) + '\n')
    return weights, info


def normalization_from(
    path: str | Path, video: bool = False
) -> K.AugmentationSequential:
    """The normalisation of pre-training, as a Kornia module for downstream data.

    The network saw ``(clip(x, low, high) - mean) / std`` per band, in the raw
    units of the images (e.g. digital numbers); the module does the same to
    images in those units. It is built like the ``aug`` of TorchGeo's data
    modules (``data_keys=None``: it takes and returns a sample or batch dict and
    only changes ``image``), so it can replace a downstream data module's
    normalisation.

    Args:
        path: A checkpoint of one of this package's tasks, or an exported file.
        video: For images with a time dimension, ``[B, T, C, H, W]`` (e.g.
            TorchGeo's ``OSCDDataModule`` for ``ChangeDetection``): the steps
            go into a ``VideoSequential``, as in those data modules.

    Returns:
        ``AugmentationSequential(ClipValues(low, high), Normalize(mean, std))``
        (without the clip when pre-training did not clip).

    Raises:
        ValueError: If the file records no normalisation (a checkpoint of a task
            trained without one of this package's data modules).

    .. versionadded:: 0.2
    """
    _, meta = load_backbone(path)
    mean, std = meta.get('mean'), meta.get('std')
    if mean is None or std is None:
        msg = (
            f'{path} records no normalisation (mean/std): it was pre-trained with '
            'a data module that does not say how it normalised; normalise the '
            'downstream images as that data module did'
        )
        raise ValueError(msg)
    steps: list[K.AugmentationBase2D] = []
    low, high = meta.get('low'), meta.get('high')
    if low is not None or high is not None:
        steps.append(ClipValues(low=low, high=high))
    steps.append(K.Normalize(mean=torch.tensor(mean), std=torch.tensor(std)))
    if video:
        return K.AugmentationSequential(
            K.VideoSequential(*steps), data_keys=None, keepdim=True
        )
    return K.AugmentationSequential(*steps, data_keys=None, keepdim=True)


class LoadedBackbone(NamedTuple):
    """What :func:`load_into` loaded where.

    .. versionadded:: 0.2
    """

    #: Name of the module that received the weights (``''`` for the top level).
    module: str
    #: Number of tensors copied.
    loaded: int
    #: Tensors of that module kept as initialised (e.g. a classifier head).
    kept: tuple[str, ...]
    #: The metadata of the weights (:func:`load_backbone`).
    meta: dict[str, Any]


def _skip(name: str) -> bool:
    """Whether a tensor is a counter that need not match (BatchNorm's step count).

    Args:
        name: A state-dict key.

    Returns:
        True for ``num_batches_tracked`` buffers.
    """
    return name.endswith('num_batches_tracked')


def _find_backbone(
    target: Mapping[str, Tensor], source: Mapping[str, Tensor]
) -> Counter[str]:
    """Count, per module prefix of *target*, the keys of *source* found under it.

    Args:
        target: State dict of the receiving model.
        source: The encoder's plain state dict.

    Returns:
        The number of source keys below each prefix (``'model.encoder.'``, ...).
    """
    counts: Counter[str] = Counter()
    for key in target:
        if _skip(key):
            continue
        parts = key.split('.')
        for i in range(len(parts)):
            if '.'.join(parts[i:]) in source:
                counts['.'.join(parts[:i]) + ('.' if i else '')] += 1
    return counts


def _classifier_keys(module: nn.Module) -> set[str]:
    """The state-dict keys of a timm model's classifier head.

    Args:
        module: The module that receives the weights.

    Returns:
        Keys of the classifier's tensors (empty if it has no timm classifier).
    """
    get_classifier = getattr(module, 'get_classifier', None)
    if not callable(get_classifier):
        return set()
    head = get_classifier()
    if not isinstance(head, nn.Module):
        return set()
    found = set()
    for name, child in module.named_modules():
        if child is head:
            found |= {f'{name}.{key}' for key in head.state_dict()}
    return found


def load_into(model: nn.Module, checkpoint: str | Path) -> LoadedBackbone:
    """Load a pre-trained encoder into the backbone of any model, loudly.

    The backbone is found by name: the module of *model* under which the most
    parameter names of the encoder are found (``model`` of TorchGeo's
    ``Classification`` and ``Regression``, the smp encoder ``model.encoder`` of
    ``SemanticSegmentation`` and ``ChangeDetection`` (one encoder shared by both
    dates in ``fcsiamdiff``/``fcsiamconc``), the torchvision ResNet
    ``model.backbone.body`` of ``ObjectDetection`` and
    ``InstanceSegmentation``). timm's, smp's and torchvision's ResNets share their
    parameter names.

    Args:
        model: The receiving model, e.g. a TorchGeo task.
        checkpoint: A checkpoint of one of this package's tasks, or an exported
            file.

    Returns:
        Where the weights went and how many tensors were copied.

    Raises:
        ValueError: If no tensor name matches, if the backbone's input channels
            or any tensor's shape differ from the encoder's, or if the backbone
            lacks tensors of the encoder or has tensors (other than a classifier
            head) that the encoder lacks: another architecture or depth.

    .. versionadded:: 0.2
    """
    state_dict, meta = load_backbone(checkpoint)
    described = f'{checkpoint} ({meta.get("model")}, {meta.get("in_chans")} channels)'
    target = model.state_dict()
    counts = _find_backbone(target, state_dict)
    if not counts:
        msg = (
            f'no tensor of the encoder in {described} matches a parameter name of '
            f'{type(model).__name__}: use a backbone of the same architecture '
            f'(e.g. backbone={meta.get("model")!r})'
        )
        raise ValueError(msg)
    best = max(counts.values())
    prefixes = sorted(p for p, n in counts.items() if n == best)
    if len(prefixes) > 1:
        msg = (
            f'the encoder in {described} matches several modules of '
            f'{type(model).__name__} equally: {prefixes}'
        )
        raise ValueError(msg)
    prefix = prefixes[0]
    module_name = prefix.removesuffix('.')
    backbone = '.'.join(n for n in (type(model).__name__, module_name) if n)
    own = {
        key.removeprefix(prefix): value
        for key, value in target.items()
        if key.startswith(prefix)
    }
    wrong = [
        f'{key}: {list(value.shape)} in the checkpoint, {list(own[key].shape)} here'
        for key, value in state_dict.items()
        if key in own and value.shape != own[key].shape
    ]
    first = next(iter(state_dict), None)
    if first is not None and first in own and state_dict[first].ndim == 4:
        theirs, ours = state_dict[first].shape[1], own[first].shape[1]
        if theirs != ours:
            msg = (
                f'the encoder in {described} takes {theirs} input channels '
                f'(bands {meta.get("bands")}), the backbone {backbone} takes '
                f'{ours}: set in_channels={theirs} '
                'and give the bands of pre-training'
            )
            raise ValueError(msg)
    lacking = [k for k in state_dict if k not in own and not _skip(k)]
    module = model.get_submodule(module_name) if module_name else model
    head = _classifier_keys(module)
    extra = [k for k in own if k not in state_dict and not _skip(k) and k not in head]
    if wrong or lacking or extra:
        problems = [
            f'shapes differ for {len(wrong)} tensors ({"; ".join(wrong[:3])})'
            if wrong
            else '',
            f'the backbone lacks {len(lacking)} tensors of the encoder ({lacking[:3]})'
            if lacking
            else '',
            f'the backbone has {len(extra)} tensors that the encoder lacks '
            f'({extra[:3]})'
            if extra
            else '',
        ]
        msg = (
            f'the backbone {backbone} is not the architecture of the encoder in '
            f'{described}: ' + ', '.join(p for p in problems if p)
        )
        raise ValueError(msg)
    loaded = {prefix + k: v for k, v in state_dict.items() if k in own}
    result = model.load_state_dict(loaded, strict=False)
    if result.unexpected_keys:
        msg = f'unexpected keys while loading {described}: {result.unexpected_keys}'
        raise ValueError(msg)
    kept = tuple(sorted(k for k in own if k not in state_dict))
    return LoadedBackbone(module_name, len(loaded), kept, meta)


def load_into_object_detection(task: Any, checkpoint: str | Path) -> None:
    """Load a checkpoint's ResNet encoder into TorchGeo's ``ObjectDetection``.

    TorchGeo's ``ObjectDetection`` accepts only torchvision weight enums. Its
    backbone body is a torchvision ResNet, whose parameter names equal timm's for
    ResNets, so the encoder loads directly; the FPN and heads stay as initialised.
    :func:`load_into` (and the
    :class:`~torchgeo_geossl.callbacks.LoadPretrainedBackbone` callback) does the
    same for every task.

    Args:
        task: A ``torchgeo.tasks.ObjectDetection`` with a ResNet backbone of the same
            depth and input channels as the checkpoint.
        checkpoint: A checkpoint of one of this package's tasks, or an exported
            file.

    Raises:
        ValueError: If the backbone does not match the checkpoint's encoder.

    .. versionadded:: 0.1
    """
    load_into(task.model.backbone.body, checkpoint)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``geossl-export CHECKPOINT [--out DIR | --out FILE.pth]``.

    Args:
        argv: Command-line arguments (defaults to ``sys.argv[1:]``).

    .. versionadded:: 0.1
    """
    parser = argparse.ArgumentParser(
        prog='geossl-export',
        description='Write the backbone of a torchgeo-geossl checkpoint as one file '
        "that TorchGeo's weights= and timm load, with a JSON of its metadata.",
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

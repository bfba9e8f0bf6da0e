"""Pre-trained encoder weights: checkpoints, state-dict files and TorchGeo weight enums.

The ``weights=`` argument of :class:`~torchgeo_geossl.trainers.GeoMoCoTask` and
:class:`~torchgeo_geossl.trainers.SeCoTask` takes what TorchGeo's tasks take
(``torchgeo.tasks.MoCo``, ``Classification``): a weight enum or its name, True for
timm's ImageNet weights, or a file. :func:`read_weights` reads any of them into one
flat state dict, and :func:`encoder_state_dict` finds the encoder in it and checks
that it fits, with an error naming the source and the mismatch instead of a
half-loaded model.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import timm
from torch import Tensor, nn
from torchgeo.models import get_model_weights, get_weight
from torchvision.models._api import WeightsEnum

from ..checkpoint import read_checkpoint

#: Key prefixes under which a state dict may hold an encoder (ties go to the
#: first): none (a plain timm state dict, as written by ``geossl-export`` and held by
#: TorchGeo's weight enums), ``model.`` (this package's tasks, TorchGeo's
#: ``Classification`` and ``Regression``), ``backbone.`` (TorchGeo's ``MoCo`` and
#: ``SimCLR``), ``model.backbone.model.`` (TorchGeo's ``BYOL``) and
#: ``model.encoder.`` (TorchGeo's segmentation and change-detection models).
_ENCODER_PREFIXES = (
    '',
    'model.',
    'backbone.',
    'model.backbone.model.',
    'model.encoder.',
)

#: File suffixes that make an unknown ``weights=`` string a missing file rather
#: than a misspelt weight enum name.
_FILE_SUFFIXES = ('.ckpt', '.pth', '.pt', '.bin')

#: How a weight enum name is spelt: ``<Model>_Weights.<MEMBER>``.
_ENUM_NAME = re.compile(r'^\w+_Weights\.\w+$')


@dataclass(frozen=True)
class PretrainedWeights:
    """The tensors of a ``weights=`` source, before they are fitted to an encoder.

    .. versionadded:: 0.2
    """

    #: How messages name the source, e.g. ``"weight enum
    #: ResNet50_Weights.FMOW_RGB_GASSL"`` or ``"checkpoint outputs/last.ckpt"``.
    source: str
    #: Every tensor of the source under its stored key: the encoder's, and for
    #: task checkpoints the heads' (``projection_head.layers.0.weight``, ...).
    state_dict: dict[str, Tensor]
    #: The architecture the source declares (enum ``meta['model']``, checkpoint
    #: ``hyper_parameters['model']``), or None.
    model: str | None = None


def _describe_architecture(model: str | None) -> str:
    """Words for the architecture a source declares.

    Args:
        model: The declared architecture, or None.

    Returns:
        For example ``" (it declares model='resnet50')"``, or ``''``.
    """
    return '' if model is None else f' (it declares model={model!r})'


def _enum_names(model: str) -> str:
    """The weight enum names TorchGeo has for a model, for messages.

    Args:
        model: A timm model name.

    Returns:
        For example ``"those for model='resnet18': ResNet18_Weights.X, ..."``, or a
        note that TorchGeo has none.
    """
    try:
        members = [str(member) for member in get_model_weights(model)]
    except KeyError:
        return f'TorchGeo has none for model={model!r}'
    return f'those for model={model!r}: ' + ', '.join(members)


def _from_enum(
    enum: WeightsEnum, model: str, in_channels: int, owner: str
) -> PretrainedWeights:
    """Download (or take from the cache) the state dict of a weight enum.

    The enum's ``meta['model']`` and ``meta['in_chans']``, when it has them, are
    checked before anything is downloaded.

    Args:
        enum: The weight enum member.
        model: The encoder's timm name.
        in_channels: The encoder's input channels.
        owner: Who reads the weights, for messages.

    Returns:
        The enum's tensors.

    Raises:
        ValueError: If the enum is for another architecture or channel count.
        OSError: If the download fails.
    """
    meta: dict[str, Any] = getattr(enum, 'meta', {}) or {}
    declared = meta.get('model')
    if isinstance(declared, str) and declared != model:
        msg = (
            f'{owner}: the weight enum {enum} is for model={declared!r}, but the '
            f'task has model={model!r}: the architectures differ; set model to '
            f'{declared!r} or choose weights for {model!r} ({_enum_names(model)})'
        )
        raise ValueError(msg)
    chans = meta.get('in_chans')
    if isinstance(chans, int) and chans != in_channels:
        msg = (
            f'{owner}: the weight enum {enum} takes {chans} input channels '
            f"(meta['in_chans']), but the task has in_channels={in_channels}; set "
            f'in_channels={chans} and give the data those bands '
            f'({meta.get("bands", "see the enum")}), or choose weights for '
            f'{in_channels} bands'
        )
        raise ValueError(msg)
    try:
        state_dict = enum.get_state_dict(
            progress=True, check_hash=True, weights_only=True
        )
    except OSError as err:
        msg = (
            f'{owner}: could not download the weight enum {enum} from {enum.url}: '
            f'{str(err).rstrip(".")}. Without network access, download the file elsewhere and pass '
            'its path as weights='
        )
        raise OSError(msg) from err
    return PretrainedWeights(f'weight enum {enum}', dict(state_dict), declared or None)


def _from_timm(model: str, in_channels: int, owner: str) -> PretrainedWeights:
    """The default pre-trained weights of a timm model (``weights=True``).

    Args:
        model: The timm model name.
        in_channels: Input channels; timm adapts the first convolution to them.
        owner: Who reads the weights, for messages.

    Returns:
        The model's tensors.

    Raises:
        OSError: If the download fails.
    """
    try:
        pretrained = timm.create_model(
            model, pretrained=True, in_chans=in_channels, num_classes=0
        )
    except OSError as err:
        msg = (
            f"{owner}: could not download timm's pre-trained weights of {model!r}: "
            f'{str(err).rstrip(".")}. Without network access, download them elsewhere and pass the '
            'file as weights='
        )
        raise OSError(msg) from err
    return PretrainedWeights(
        f"timm's pre-trained weights of {model!r}", dict(pretrained.state_dict()), model
    )


def _from_file(path: Path, owner: str) -> PretrainedWeights:
    """The tensors of a Lightning checkpoint or a state-dict file.

    Args:
        path: The file.
        owner: Who reads the weights, for messages.

    Returns:
        The tensors; for a checkpoint, its ``state_dict`` and the model named in
        its ``hyper_parameters``.

    Raises:
        FileNotFoundError: If the file does not exist.
        CheckpointReadError: If it is empty, truncated or not a PyTorch file.
        ValueError: If it holds neither a checkpoint nor a state dict.
    """
    loaded = read_checkpoint(path, what=f'{owner}: weights=')
    declared: str | None = None
    kind = 'state dict'
    if isinstance(loaded, dict) and isinstance(loaded.get('state_dict'), dict):
        hparams = loaded.get('hyper_parameters') or {}
        name = hparams.get('model') or hparams.get('backbone')
        declared = name if isinstance(name, str) else None
        loaded = loaded['state_dict']
        kind = 'checkpoint'
    if (
        not isinstance(loaded, dict)
        or not loaded
        or not all(isinstance(v, Tensor) for v in loaded.values())
    ):
        found = (
            f'a dict with keys {sorted(map(str, loaded))[:5]}'
            if isinstance(loaded, dict)
            else type(loaded).__name__
        )
        msg = (
            f'{owner}: weights={str(path)!r} holds {found}, neither a Lightning '
            "checkpoint (a dict with a 'state_dict') nor a state dict (names → "
            'tensors)'
        )
        raise ValueError(msg)
    return PretrainedWeights(
        f'{kind} {path}', cast(dict[str, Tensor], loaded), declared
    )


def read_weights(
    weights: WeightsEnum | str | os.PathLike[str] | bool,
    model: str,
    in_channels: int,
    owner: str = 'weights=',
) -> PretrainedWeights:
    """Read the tensors of a ``weights=`` argument, as TorchGeo's tasks accept it.

    Args:
        weights: One of

            * a TorchGeo (or torchvision) weight enum member, such as
              ``ResNet50_Weights.FMOW_RGB_GASSL`` (downloaded by torchvision into
              its cache, as TorchGeo does);
            * the path of a Lightning checkpoint (this package's tasks, TorchGeo's
              tasks) or of a state-dict file (``geossl-export``'s ``*.pth``, a
              weight enum's file); an existing path is always read as a file;
            * the name of a weight enum, as the CLI gives it
              (``'ResNet50_Weights.FMOW_RGB_GASSL'``);
            * True: timm's pre-trained weights of *model* (ImageNet for ResNets),
              first convolution adapted by timm to *in_channels*.
        model: The timm name of the encoder the weights are for.
        in_channels: Its input channels.
        owner: Who reads the weights, to start messages with.

    Returns:
        The source's tensors, its name for messages, and the architecture it
        declares.

    Raises:
        FileNotFoundError: If *weights* looks like a file path but is none.
        CheckpointReadError: If the file is empty, truncated or not a PyTorch
            file.
        ValueError: If *weights* names no file and no weight enum, a file holds
            no state dict, or an enum is for another architecture or channel
            count.
        TypeError: If *weights* is False.
        OSError: If downloading the weights fails.

    .. versionadded:: 0.2
    """
    if isinstance(weights, WeightsEnum):
        return _from_enum(weights, model, in_channels, owner)
    if weights is True:
        return _from_timm(model, in_channels, owner)
    if isinstance(weights, bool):
        msg = f'{owner}: weights=False loads nothing; read_weights needs a source'
        raise TypeError(msg)
    text = os.fspath(weights)
    if os.path.exists(text):
        return _from_file(Path(text), owner)
    if _ENUM_NAME.match(text):
        try:
            enum = get_weight(text)
        except (KeyError, ValueError) as err:
            msg = (
                f'{owner}: weights={text!r} is not an existing file nor the name of '
                f'a TorchGeo weight enum ({_enum_names(model)})'
            )
            raise ValueError(msg) from err
        return _from_enum(enum, model, in_channels, owner)
    if os.sep in text or '/' in text or text.endswith(_FILE_SUFFIXES):
        msg = f'{owner}: weights={text!r} does not exist: expected a checkpoint or state-dict file'
        raise FileNotFoundError(msg)
    msg = (
        f'{owner}: weights={text!r} is neither an existing file nor the name of a '
        "TorchGeo weight enum, spelt '<Model>_Weights.<NAME>' "
        f'({_enum_names(model)})'
    )
    raise ValueError(msg)


def _input_convolution(encoder: nn.Module) -> str | None:
    """The state-dict key of the weight of an encoder's first convolution.

    Args:
        encoder: The encoder.

    Returns:
        For example ``'conv1.weight'``, or None if it has no convolution.
    """
    for name, module in encoder.named_modules():
        if isinstance(module, nn.Conv2d):
            return f'{name}.weight'
    return None


def _classifier_prefix(encoder: nn.Module) -> str | None:
    """The key prefix of the classifier timm removes with ``num_classes=0``.

    Args:
        encoder: A timm encoder.

    Returns:
        For example ``'fc.'`` for ResNets, or None if unknown.
    """
    config = getattr(encoder, 'pretrained_cfg', None) or {}
    classifier = config.get('classifier')
    return f'{classifier}.' if isinstance(classifier, str) else None


def _examples(items: list[str], count: int = 3) -> str:
    """A few items of a list for messages.

    Args:
        items: The items.
        count: How many to show.

    Returns:
        For example ``'a, b, c, ... (7 in all)'``.
    """
    shown = ', '.join(items[:count])
    return shown + (f', ... ({len(items)} in all)' if len(items) > count else '')


def encoder_state_dict(
    weights: PretrainedWeights,
    encoder: nn.Module,
    model: str,
    in_channels: int,
    owner: str = 'weights=',
) -> tuple[dict[str, Tensor], list[str]]:
    """Find an encoder's tensors in pre-trained weights and check that they fit.

    The encoder's keys are looked up as they are (a plain timm state dict, as
    ``geossl-export`` writes and TorchGeo's weight enums hold) and under the
    prefixes ``model.`` (this package's tasks, TorchGeo's ``Classification`` and
    ``Regression``), ``backbone.`` (TorchGeo's ``MoCo`` and ``SimCLR``),
    ``model.backbone.model.`` (``BYOL``) and ``model.encoder.`` (segmentation and
    change-detection models); the one that holds most of them is used. The
    classifier of a timm model file or of a ``Classification`` checkpoint
    (``fc.*`` for ResNets) is left out and reported; batch-norm ``num_batches_tracked`` counters may be absent. Anything
    else that is missing, extra or of another shape is an architecture mismatch,
    and a first convolution with another number of input channels a channel
    mismatch: both are errors, never a partial load.

    Args:
        weights: The tensors of a source (:func:`read_weights`).
        encoder: The timm encoder (without classifier) to load them into.
        model: Its timm name, for messages.
        in_channels: Its input channels, for messages.
        owner: Who loads the weights, to start messages with.

    Returns:
        The tensors to load into *encoder*, under its own keys, and the keys of
        the source's classifier tensors that were left out.

    Raises:
        ValueError: If the source holds no such encoder, another architecture, or
            weights for another number of input channels.

    .. versionadded:: 0.2
    """
    own = encoder.state_dict()
    source = weights.state_dict
    counts = {
        prefix: sum(prefix + key in source for key in own)
        for prefix in _ENCODER_PREFIXES
    }
    prefix = max(_ENCODER_PREFIXES, key=lambda p: counts[p])
    declared = _describe_architecture(weights.model)
    if counts[prefix] == 0:
        msg = (
            f'{owner}: the {weights.source}{declared} holds no weights of a '
            f'{model} encoder: none of its {len(source)} tensors (e.g. '
            f"{_examples(sorted(source))}) is named like the encoder's (e.g. "
            f'{_examples(list(own))}), directly or under '
            f'{", ".join(repr(p) for p in _ENCODER_PREFIXES if p)}'
        )
        raise ValueError(msg)
    found = {
        key.removeprefix(prefix): value
        for key, value in source.items()
        if key.startswith(prefix)
    }
    classifier = _classifier_prefix(encoder)
    dropped = sorted(
        key
        for key in found
        if classifier and key.startswith(classifier) and key not in own
    )
    extra = sorted(key for key in found if key not in own and key not in dropped)
    missing = [
        key
        for key in own
        if key not in found and not key.endswith('num_batches_tracked')
    ]
    conv = _input_convolution(encoder)
    wrong = [key for key in own if key in found and found[key].shape != own[key].shape]
    channel_only = (
        conv is not None
        and conv in wrong
        and found[conv].ndim == own[conv].ndim == 4
        and found[conv].shape[0] == own[conv].shape[0]
        and found[conv].shape[2:] == own[conv].shape[2:]
    )
    shape_errors = [key for key in wrong if not (channel_only and key == conv)]
    if shape_errors or missing or extra:
        parts = []
        if shape_errors:
            parts.append(
                f'{len(shape_errors)} tensor(s) differ in shape (e.g. '
                + '; '.join(
                    f'{prefix}{key}: {list(found[key].shape)} in the weights, '
                    f'{list(own[key].shape)} here'
                    for key in shape_errors[:2]
                )
                + ')'
            )
        if missing:
            parts.append(f'{len(missing)} are missing (e.g. {_examples(missing)})')
        if extra:
            parts.append(
                f'{len(extra)} are not in a {model} (e.g. '
                f'{_examples([prefix + key for key in extra])})'
            )
        msg = (
            f'{owner}: the {weights.source}{declared} does not hold a {model} '
            f'encoder, the architectures differ: {"; ".join(parts)}. Set model to '
            "the weights' architecture or choose weights for this one"
        )
        raise ValueError(msg)
    if channel_only and conv is not None:
        theirs = int(found[conv].shape[1])
        msg = (
            f'{owner}: the {weights.source} takes {theirs} input channels '
            f'({prefix}{conv} is {list(found[conv].shape)}), but the task has '
            f'in_channels={in_channels}; set in_channels={theirs} and give the '
            f'data those bands, or choose weights for {in_channels} bands'
        )
        raise ValueError(msg)
    return {key: found[key] for key in own if key in found}, [
        prefix + key for key in dropped
    ]

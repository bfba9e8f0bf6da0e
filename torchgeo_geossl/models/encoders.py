"""Backbones with the weight initialisation of the reference implementations."""

from typing import Any

import timm
import torch
from torch import Tensor, nn

#: Whether the last batch norm of each residual branch starts with γ = 0 (timm's
#: default). False: torchvision's ``zero_init_residual=False``, as the references.
ZERO_INIT_LAST = False


def create_encoder(name: str, in_channels: int) -> nn.Module:
    """Create an untrained timm encoder without classifier, initialised as torchvision.

    timm's ResNets (and other timm models with residual blocks) zero the γ of the
    last batch norm of every residual branch by default (``zero_init_last=True``,
    Goyal et al., 2017), so that every block starts as the identity. The reference
    code of MoCo-v2, GASSL (sustainlab-group/geography-aware-ssl
    ``moco_fmow/main_moco_geo+tp.py``: ``torchvision.models.__dict__[arch]``) and
    SeCo (ServiceNow/seasonal-contrast ``models/moco2_module.py``:
    ``torchvision.models.resnet18``) build torchvision's ResNets, whose
    ``zero_init_residual`` is False: every batch norm starts with γ = 1, and the
    convolutions with Kaiming-normal (fan-out) weights, as timm's. This function
    passes ``zero_init_last=False`` (:data:`ZERO_INIT_LAST`) to models that
    accept it, which gives torchvision's initialisation for ResNets. With
    zero-initialised residual branches an untrained network in eval mode only
    sees the pixels its shortcut convolutions sample (the top-left corner of each
    stride-2 window), so a "random init" baseline would be much weaker than a
    torchvision one.

    Args:
        name: Name of the timm model (e.g. ``'resnet50'``).
        in_channels: Number of input bands.

    Returns:
        The encoder; ``model(x)`` gives pooled features ``[B, num_features]``.

    .. versionadded:: 0.2
    """
    try:
        model: nn.Module = timm.create_model(
            name,
            pretrained=False,
            in_chans=in_channels,
            num_classes=0,
            zero_init_last=ZERO_INIT_LAST,
        )
    except TypeError as error:
        # models without residual blocks do not take the argument
        if 'zero_init_last' not in str(error):
            raise
        model = timm.create_model(
            name, pretrained=False, in_chans=in_channels, num_classes=0
        )
    return model


def use_channels_last[ModuleT: nn.Module](module: ModuleT) -> ModuleT:
    """Keep *module*'s weights and 4-D inputs in the channels-last memory format.

    Convolutions of NVIDIA GPUs with tensor cores (and oneDNN on CPUs) run
    fastest on NHWC tensors, PyTorch's ``torch.channels_last``; see PyTorch's
    "Channels Last Memory Format" tutorial. This moves the 4-D weights of
    *module* to that format (``module.to(memory_format=torch.channels_last)``)
    and registers a forward pre-hook that gives every 4-D tensor input the same
    format, so that the batches of a task (contiguous ``[B, C, H, W]`` after the
    augmentation) need no other change. Only the memory layout changes: shapes,
    indexing and the state dict's values stay the same, and the outputs equal
    the default layout's up to floating-point rounding (the kernels sum in
    another order). A :func:`copy.deepcopy` of the module (a momentum encoder)
    keeps the format and the hook.

    Args:
        module: A network of 2-D convolutions.

    Returns:
        *module*, changed in place.

    .. versionadded:: 0.2
    """
    module.to(memory_format=torch.channels_last)
    module.register_forward_pre_hook(_channels_last_inputs)
    return module


def _channels_last_inputs(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Forward pre-hook: 4-D tensor arguments in the channels-last format.

    Args:
        module: The module about to run.
        args: Its positional arguments.

    Returns:
        The arguments, 4-D tensors converted (a no-op for those already in it).
    """
    return tuple(
        arg.contiguous(memory_format=torch.channels_last)
        if isinstance(arg, Tensor) and arg.ndim == 4
        else arg
        for arg in args
    )

"""Backbones with the weight initialisation of the reference implementations."""

import timm
from torch import nn

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

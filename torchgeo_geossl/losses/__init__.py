"""Loss functions of geography-aware self-supervised learning."""

from .csp import (
    ContrastiveObjective,
    InBatchLocationImageLoss,
    RandomLocationLoss,
    SimCSELoss,
    diagonal_top1_accuracy,
    sample_uniform_sphere,
)
from .geoprior import PresenceOnlyLoss
from .infonce import InfoNCELoss, top1_accuracy

__all__ = (
    'ContrastiveObjective',
    'InBatchLocationImageLoss',
    'InfoNCELoss',
    'PresenceOnlyLoss',
    'RandomLocationLoss',
    'SimCSELoss',
    'diagonal_top1_accuracy',
    'sample_uniform_sphere',
    'top1_accuracy',
)

"""Loss functions of geography-aware self-supervised learning."""

from .infonce import InfoNCELoss, top1_accuracy

__all__ = ('InfoNCELoss', 'top1_accuracy')

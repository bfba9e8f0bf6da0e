"""Lightning tasks for geography-aware self-supervised learning."""

from .gassl import GeoMoCoTask
from .momentum import MomentumContrastTask

__all__ = ('GeoMoCoTask', 'MomentumContrastTask')

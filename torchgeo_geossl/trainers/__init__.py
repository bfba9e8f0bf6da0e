"""Lightning tasks for geography-aware self-supervised learning."""

from .gassl import GeoMoCoTask
from .momentum import MomentumContrastTask
from .seco import SeCoTask

__all__ = ('GeoMoCoTask', 'MomentumContrastTask', 'SeCoTask')

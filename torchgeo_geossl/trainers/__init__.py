"""Lightning tasks for geography-aware self-supervised learning."""

from .change import ChangeDetectionTask
from .csp import CSPTask, build_location_encoder, load_location_encoder
from .gassl import GeoMoCoTask
from .geoprior import GeoPriorTask
from .momentum import MomentumContrastTask
from .reliable import ReliableTrainingMixin
from .seco import SeCoTask
from .standardize import StandardizeMixin

__all__ = (
    'CSPTask',
    'ChangeDetectionTask',
    'GeoMoCoTask',
    'GeoPriorTask',
    'MomentumContrastTask',
    'ReliableTrainingMixin',
    'SeCoTask',
    'StandardizeMixin',
    'build_location_encoder',
    'load_location_encoder',
)

"""Lightning data modules (subclasses of TorchGeo's) for temporal views."""

from .demo import DemoDataModule
from .temporal import TemporalGeoDataModule

__all__ = ('DemoDataModule', 'TemporalGeoDataModule')

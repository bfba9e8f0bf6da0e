"""Lightning data modules (subclasses of TorchGeo's) serving multi-view batches."""

from .demo import DemoDataModule
from .fmow import FMoWDataModule
from .normalize import NormalizeViews
from .pretraining import PretrainingMixin
from .ssl import (
    SeasonalContrastS2ViewsDataModule,
    SSL4EOS12ViewsDataModule,
    seco_normalization,
)
from .temporal import TemporalGeoDataModule

__all__ = (
    'DemoDataModule',
    'FMoWDataModule',
    'NormalizeViews',
    'PretrainingMixin',
    'SSL4EOS12ViewsDataModule',
    'SeasonalContrastS2ViewsDataModule',
    'TemporalGeoDataModule',
    'seco_normalization',
)

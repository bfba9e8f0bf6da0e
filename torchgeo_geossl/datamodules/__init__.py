"""Lightning data modules (subclasses of TorchGeo's) serving multi-view batches."""

from .demo import DemoDataModule
from .fmow import FMoWDataModule
from .normalize import NormalizeViews
from .points import PointsDataModule
from .pretraining import PretrainingMixin
from .s2100k import S2100kDataModule
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
    'PointsDataModule',
    'PretrainingMixin',
    'S2100kDataModule',
    'SSL4EOS12ViewsDataModule',
    'SeasonalContrastS2ViewsDataModule',
    'TemporalGeoDataModule',
    'seco_normalization',
)

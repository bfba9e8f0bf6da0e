"""Lightning data modules (subclasses of TorchGeo's) serving multi-view batches."""

from .demo import DemoDataModule
from .fmow import FMoWDataModule
from .normalize import NormalizeViews, as_band_tensor
from .points import PointsDataModule
from .pretraining import PretrainingMixin, held_out_subsets
from .resumable import ResumableTrainMixin
from .s2100k import S2100kDataModule
from .ssl import (
    SeasonalContrastS2ViewsDataModule,
    SSL4EOS12ViewsDataModule,
    seco_normalization,
    seco_statistics,
)
from .temporal import TemporalGeoDataModule

__all__ = (
    'DemoDataModule',
    'FMoWDataModule',
    'NormalizeViews',
    'PointsDataModule',
    'PretrainingMixin',
    'ResumableTrainMixin',
    'S2100kDataModule',
    'SSL4EOS12ViewsDataModule',
    'SeasonalContrastS2ViewsDataModule',
    'TemporalGeoDataModule',
    'as_band_tensor',
    'held_out_subsets',
    'seco_normalization',
    'seco_statistics',
)

"""Lightning data modules (subclasses of TorchGeo's) serving multi-view batches."""

from .demo import DemoDataModule
from .fmow import FMoWDataModule
from .normalize import NormalizeViews, as_band_tensor
from .oscd import MaskOverFrames, OSCDChangeDataModule
from .points import PointsDataModule
from .pretraining import PretrainingMixin, held_out_subsets
from .resumable import ResumableTrainMixin
from .s2100k import S2100kDataModule
from .sentinel2 import Sentinel2ViewsDataModule
from .ssl import (
    SeasonalContrastS2ViewsDataModule,
    SSL4EOS12ViewsDataModule,
    seco_normalization,
    seco_statistics,
)
from .streaming import StreamingViewsDataModule, read_metadata
from .temporal import TemporalGeoDataModule

__all__ = (
    'DemoDataModule',
    'FMoWDataModule',
    'MaskOverFrames',
    'NormalizeViews',
    'OSCDChangeDataModule',
    'PointsDataModule',
    'PretrainingMixin',
    'ResumableTrainMixin',
    'S2100kDataModule',
    'SSL4EOS12ViewsDataModule',
    'SeasonalContrastS2ViewsDataModule',
    'Sentinel2ViewsDataModule',
    'StreamingViewsDataModule',
    'TemporalGeoDataModule',
    'as_band_tensor',
    'held_out_subsets',
    'read_metadata',
    'seco_normalization',
    'seco_statistics',
)

"""Datasets: temporal views of GeoDatasets, SSL dataset adapters, fMoW, demo data."""

from .demo import DEMO_LOCATIONS, DemoLocation, DemoTimeSeries, generate_demo_data
from .fmow import FMOW_CATEGORIES, FMoW, FMoWMetadata, FMoWSite, read_fmow_metadata
from .ssl import DatasetLayoutError, SeasonalContrastS2Views, SSL4EOS12Views
from .views import TemporalViewsDataset, ViewReadError, timestamp_seconds

__all__ = (
    'DEMO_LOCATIONS',
    'FMOW_CATEGORIES',
    'DatasetLayoutError',
    'DemoLocation',
    'DemoTimeSeries',
    'FMoW',
    'FMoWMetadata',
    'FMoWSite',
    'SSL4EOS12Views',
    'SeasonalContrastS2Views',
    'TemporalViewsDataset',
    'ViewReadError',
    'generate_demo_data',
    'read_fmow_metadata',
    'timestamp_seconds',
)

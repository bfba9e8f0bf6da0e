"""Datasets: the temporal views wrapper and the synthetic demo time series."""

from .demo import DEMO_LOCATIONS, DemoLocation, DemoTimeSeries, generate_demo_data
from .views import TemporalViewsDataset, ViewReadError, timestamp_seconds

__all__ = (
    'DEMO_LOCATIONS',
    'DemoLocation',
    'DemoTimeSeries',
    'TemporalViewsDataset',
    'ViewReadError',
    'generate_demo_data',
    'timestamp_seconds',
)

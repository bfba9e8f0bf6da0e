"""Datasets: temporal views of GeoDatasets, SSL dataset adapters, fMoW, demo data."""

from .bands import BandCountError, check_band_counts
from .demo import (
    DEMO_LOCATIONS,
    DemoLocation,
    DemoTimeSeries,
    demo_dates,
    demo_filename,
    generate_demo_data,
)
from .fmow import FMOW_CATEGORIES, FMoW, FMoWMetadata, FMoWSite, read_fmow_metadata
from .indexing import (
    MissingCRSError,
    UnindexedFilesError,
    check_file_crs,
    check_indexed_files,
    unindexed_files,
)
from .skipping import SkipUnreadable
from .ssl import DatasetLayoutError, SeasonalContrastS2Views, SSL4EOS12Views
from .vector import read_labelled_points, read_region
from .views import (
    TemporalViewsDataset,
    ViewReadError,
    plot_sample_views,
    stack_samples_skipping,
    timestamp_seconds,
)

__all__ = (
    'DEMO_LOCATIONS',
    'FMOW_CATEGORIES',
    'BandCountError',
    'DatasetLayoutError',
    'DemoLocation',
    'DemoTimeSeries',
    'FMoW',
    'FMoWMetadata',
    'FMoWSite',
    'MissingCRSError',
    'SSL4EOS12Views',
    'SeasonalContrastS2Views',
    'SkipUnreadable',
    'TemporalViewsDataset',
    'UnindexedFilesError',
    'ViewReadError',
    'check_band_counts',
    'check_file_crs',
    'check_indexed_files',
    'demo_dates',
    'demo_filename',
    'generate_demo_data',
    'plot_sample_views',
    'read_fmow_metadata',
    'read_labelled_points',
    'read_region',
    'stack_samples_skipping',
    'timestamp_seconds',
    'unindexed_files',
)

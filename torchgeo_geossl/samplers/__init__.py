"""Samplers that draw the same location at several acquisition times."""

from .distributed import (
    ResumableSampler,
    ShardedGeoSampler,
    ShardedIndexSampler,
    shared_seed,
)
from .query import ViewsQuery
from .spatial import FootprintGridSampler, ScatteredGridSampler, ScatteredPatchSampler
from .temporal_views import TemporalViewSampler

__all__ = (
    'FootprintGridSampler',
    'ResumableSampler',
    'ScatteredGridSampler',
    'ScatteredPatchSampler',
    'ShardedGeoSampler',
    'ShardedIndexSampler',
    'TemporalViewSampler',
    'ViewsQuery',
    'shared_seed',
)

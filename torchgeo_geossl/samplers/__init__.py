"""Samplers that draw the same location at several acquisition times."""

from .query import ViewsQuery
from .spatial import ScatteredPatchSampler
from .temporal_views import TemporalViewSampler

__all__ = ('ScatteredPatchSampler', 'TemporalViewSampler', 'ViewsQuery')

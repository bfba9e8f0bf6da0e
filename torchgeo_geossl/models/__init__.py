"""Building blocks of the momentum-contrast models (MoCo-v2, GASSL, SeCo)."""

from .distributed import concat_all_gather, gather_with_grad, world_size
from .heads import (
    GeoClassificationHead,
    copy_as_momentum,
    mocov2_projection_head,
    update_momentum,
)
from .queue import NegativeQueue

__all__ = (
    'GeoClassificationHead',
    'NegativeQueue',
    'concat_all_gather',
    'copy_as_momentum',
    'gather_with_grad',
    'mocov2_projection_head',
    'update_momentum',
    'world_size',
)

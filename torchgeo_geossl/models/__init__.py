"""Model building blocks: momentum-contrast parts (MoCo-v2, GASSL, SeCo), geo-prior fusion."""

from .distributed import (
    concat_all_gather,
    forward_shuffled,
    gather_with_grad,
    world_size,
)
from .encoders import create_encoder, use_channels_last
from .geoprior import GeoPriorFusion
from .heads import (
    GeoClassificationHead,
    copy_as_momentum,
    mocov2_projection_head,
    update_momentum,
)
from .queue import NegativeQueue

__all__ = (
    'GeoClassificationHead',
    'GeoPriorFusion',
    'NegativeQueue',
    'concat_all_gather',
    'copy_as_momentum',
    'create_encoder',
    'forward_shuffled',
    'gather_with_grad',
    'mocov2_projection_head',
    'update_momentum',
    'use_channels_last',
    'world_size',
)

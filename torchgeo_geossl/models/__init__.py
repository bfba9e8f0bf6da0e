"""Model building blocks: momentum-contrast parts (MoCo-v2, GASSL, SeCo), pre-trained weights, geo-prior fusion."""

from .distributed import (
    concat_all_gather,
    forward_in_groups,
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
from .pretrained import PretrainedWeights, encoder_state_dict, read_weights
from .queue import NegativeQueue

__all__ = (
    'GeoClassificationHead',
    'GeoPriorFusion',
    'NegativeQueue',
    'PretrainedWeights',
    'concat_all_gather',
    'copy_as_momentum',
    'create_encoder',
    'encoder_state_dict',
    'forward_in_groups',
    'forward_shuffled',
    'gather_with_grad',
    'mocov2_projection_head',
    'read_weights',
    'update_momentum',
    'use_channels_last',
    'world_size',
)

"""Batched Kornia augmentations for multi-view, multispectral batches."""

from .intensity import ClipValues, MultispectralJitter
from .presets import (
    blur_kernel_size,
    gassl_augmentation,
    moco_v2_augmentation,
    seco_artificial_augmentation,
    seco_crop,
)
from .views import MultiViewAugmentation

__all__ = (
    'ClipValues',
    'MultiViewAugmentation',
    'MultispectralJitter',
    'blur_kernel_size',
    'gassl_augmentation',
    'moco_v2_augmentation',
    'seco_artificial_augmentation',
    'seco_crop',
)

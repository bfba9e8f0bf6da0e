"""Batched Kornia augmentations for multi-view, multispectral batches."""

from .intensity import (
    ClipValues,
    FastColorJitter,
    FastRandomGaussianBlur,
    FastRandomGrayscale,
    FastWeightedGrayscale,
    MultispectralJitter,
)
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
    'FastColorJitter',
    'FastRandomGaussianBlur',
    'FastRandomGrayscale',
    'FastWeightedGrayscale',
    'MultiViewAugmentation',
    'MultispectralJitter',
    'blur_kernel_size',
    'gassl_augmentation',
    'moco_v2_augmentation',
    'seco_artificial_augmentation',
    'seco_crop',
)

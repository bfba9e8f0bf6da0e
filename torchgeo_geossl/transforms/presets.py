"""Augmentation presets of MoCo-v2, GASSL and SeCo as MultiViewAugmentation modules.

All presets expect floating point input on the augmentation scale: ``[0, 1]`` for
RGB (8-bit values divided by 255), reflectance for multispectral bands. Kornia's
colour jitter clamps to ``[0, 1]``. As in the reference code, any mean/std
standardisation comes after the augmentation (this package's data modules leave it
to the task, see :class:`~torchgeo_geossl.datamodules.PretrainingMixin`).
"""

import math
from collections.abc import Sequence

import kornia.augmentation as K
import torch
from torch import Tensor

from .intensity import (
    FastColorJitter,
    FastRandomGaussianBlur,
    FastRandomGrayscale,
    FastWeightedGrayscale,
    MultispectralJitter,
)
from .views import MultiViewAugmentation

#: Crop area range of MoCo-v2 (and of GASSL's runs without temporal positives).
MOCO_V2_CROP_SCALE = (0.2, 1.0)

#: Crop area range of GASSL's temporal positives: torchvision's default, which the
#: reference code's ``RandomResizedCrop(224)`` uses.
GASSL_TEMPORAL_CROP_SCALE = (0.08, 1.0)

#: Colour jitter strengths of MoCo-v2 (brightness, contrast, saturation, hue).
MOCO_V2_JITTER = (0.4, 0.4, 0.4, 0.1)

#: Probability of the colour jitter (``RandomApply([ColorJitter], p=0.8)``).
MOCO_V2_JITTER_P = 0.8

#: Probability of the grayscale conversion.
MOCO_V2_GRAYSCALE_P = 0.2

#: Probability of the Gaussian blur.
MOCO_V2_BLUR_P = 0.5

#: Probability of each flip.
FLIP_P = 0.5

#: Gaussian blur standard deviation range of MoCo-v2 (SimCLR).
MOCO_V2_BLUR_SIGMA = (0.1, 2.0)

#: Half-width of the blur kernel in standard deviations of the largest sigma.
BLUR_KERNEL_SIGMAS = 5.5

#: Multispectral jitter strengths (brightness, contrast) of SSL4EO-S12's MoCo-v2
#: recipe (zhu-xlab/SSL4EO-S12 ``pretrain_moco_v2_s2c.py``), MoCo-v2's 0.4.
MULTISPECTRAL_JITTER = (0.4, 0.4)


def blur_kernel_size(sigma_max: float = MOCO_V2_BLUR_SIGMA[1]) -> int:
    """Gaussian blur kernel that holds the whole Gaussian, at any crop size.

    The reference code blurs without truncation (MoCo-v2: PIL's
    ``ImageFilter.GaussianBlur(radius=sigma)``, facebookresearch/moco
    ``moco/loader.py``; SeCo and GASSL reuse it). The kernel spans
    ±:data:`BLUR_KERNEL_SIGMAS` standard deviations of *sigma_max*: 23 px for
    sigma = 2, the MoCo-v2 rule of 10 % of the crop at 224 px (TorchGeo's MoCo
    task), which leaves out less than 1e-7 of the Gaussian's mass. It does not
    shrink with the crop: a 10 % kernel at 48-64 px crops would cut sigma = 2 at
    ±1-1.5 sigma. Kornia pads by reflection, which needs an input side larger
    than half the kernel (12 px for 23); :class:`MultiViewAugmentation` says so
    when an input is smaller.

    Args:
        sigma_max: Largest standard deviation of the blur, in pixels.

    Returns:
        The odd kernel side in pixels.

    Raises:
        ValueError: If *sigma_max* is not positive and finite.

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       The kernel depends on *sigma_max* only, no longer on the crop size
       (formerly 10 % of the crop side, at least 3).
    """
    if not 0 < sigma_max < math.inf:
        raise ValueError(f'sigma_max must be positive and finite, got {sigma_max}')
    return 2 * math.ceil(BLUR_KERNEL_SIGMAS * sigma_max) + 1


#: Blur kernel of the presets: :func:`blur_kernel_size` of MoCo-v2's sigma range.
MOCO_V2_BLUR_KERNEL = blur_kernel_size()

#: Blur kernel of the SeCo preset (the same as the other presets').
SECO_BLUR_KERNEL = MOCO_V2_BLUR_KERNEL


def moco_v2_augmentation(
    size: int = 224,
    in_channels: int = 3,
    crop_scale: tuple[float, float] = MOCO_V2_CROP_SCALE,
    grayscale_weights: Sequence[float] | Tensor | None = None,
    share_geometry: bool = False,
    seed: int | None = None,
    vertical_flip: bool = False,
    blur_kernel: int | None = None,
    cropping_mode: str = 'slice',
) -> MultiViewAugmentation:
    """MoCo-v2 augmentation of every view.

    Source: Chen et al., "Improved Baselines with Momentum Contrastive Learning",
    arXiv:2003.04297, 2020 (recipe of its reference code, facebookresearch/moco,
    ``main_moco.py --aug-plus``); He et al., "Momentum Contrast for Unsupervised
    Visual Representation Learning", CVPR 2020.

    In order: RandomResizedCrop(size, scale=crop_scale, ratio 3/4-4/3), then

    * RGB (``in_channels == 3``): ColorJitter(0.4, 0.4, 0.4, 0.1) with p = 0.8
      (:class:`~torchgeo_geossl.transforms.FastColorJitter`: Kornia's
      ``ColorJitter`` with fused kernels, the same outputs),
      grayscale p = 0.2 (ITU-R 601 luma weights unless *grayscale_weights* are
      given);
    * any other band count, where hue and saturation are meaningless, the
      multispectral recipe of SSL4EO-S12's MoCo-v2 (zhu-xlab/SSL4EO-S12):
      :class:`~torchgeo_geossl.transforms.MultispectralJitter` (brightness ×b,
      b ∈ [0.6, 1.4], the same for every band, then contrast around each band's
      mean, c ∈ [0.6, 1.4], unclipped) with p = 0.8, then TorchGeo's band-weighted
      RandomGrayscale p = 0.2 (equal weights by default: the mean of the bands,
      SSL4EO-S12's ``ToGray``);

    then Gaussian blur (sigma 0.1-2, p = 0.5; kernel :func:`blur_kernel_size`,
    23 px whatever the crop size) and horizontal flip (p = 0.5). The jitter,
    grayscale and blur compute only the images their *p* selects
    (:class:`~torchgeo_geossl.transforms.FastRandomGrayscale`,
    :class:`~torchgeo_geossl.transforms.FastWeightedGrayscale`,
    :class:`~torchgeo_geossl.transforms.FastRandomGaussianBlur`: the same draws
    and outputs as Kornia's and TorchGeo's classes).
    TorchGeo's task also flips vertically; MoCo-v2 does not, so that is off by
    default (*vertical_flip*).

    Deviations from the reference (PIL/torchvision on CPU): the crop is resampled
    bilinearly without antialiasing, the blur kernel is finite (*blur_kernel*,
    ±5.5 sigma) where PIL's is not, and Kornia draws one colour-jitter order per
    batch where torchvision draws one per image.

    Args:
        size: Side of the square output crop in pixels.
        in_channels: Number of bands of the input.
        crop_scale: Range of the crop area as a fraction of the image area.
        grayscale_weights: One weight per band for the grayscale conversion
            (rescaled to sum to 1); None uses luma weights for RGB and equal
            weights otherwise.
        share_geometry: Give all views of a sample the same crop and flips.
        seed: Seed of a deterministic random stream (see
            :class:`MultiViewAugmentation`).
        vertical_flip: Also flip vertically with p = 0.5 (TorchGeo's addition).
        blur_kernel: Odd side of the Gaussian kernel; None uses
            :data:`MOCO_V2_BLUR_KERNEL` (23, see :func:`blur_kernel_size`).
        cropping_mode: Kornia's RandomResizedCrop mode: ``'slice'`` (Kornia's and
            TorchGeo's default: crop by index, then resize each image; the faster
            one on CPU) or ``'resample'`` (one batched warp for all images).

    Returns:
        The augmentation for ``[B, V, C, H, W]`` or ``[B, C, H, W]`` batches.

    Raises:
        TypeError: If *size* or *in_channels* is not an integer.
        ValueError: If a parameter is out of range (named in the message), or
            the blur kernel needs larger crops than *size* (12 px for 23).

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       The RGB colour jitter is :class:`~torchgeo_geossl.transforms.FastColorJitter`
       (was Kornia's ``ColorJitter``; same draws and outputs, faster).

    .. versionchanged:: 0.2
       The grayscale and blur are the package's ``Fast*`` subclasses of Kornia's
       and TorchGeo's classes (same draws and outputs; only the selected images
       are computed).
    """
    _check_positive_int('size', size)
    _check_positive_int('in_channels', in_channels)
    _check_crop_scale(crop_scale)
    kernel = MOCO_V2_BLUR_KERNEL if blur_kernel is None else blur_kernel
    if kernel // 2 >= size:
        msg = (
            f'the {kernel} px blur kernel does not fit size={size} px crops: '
            f"Kornia's reflect padding needs crops of at least {kernel // 2 + 1} px; "
            'use larger crops, or pass a smaller odd blur_kernel (which truncates '
            'the largest sigma of 2 px)'
        )
        raise ValueError(msg)
    ops: list[K.AugmentationBase2D] = [
        K.RandomResizedCrop(
            size=(size, size),
            scale=crop_scale,
            align_corners=False,
            cropping_mode=_check_cropping_mode(cropping_mode),
        )
    ]
    ops.extend(_appearance_ops(in_channels, grayscale_weights, kernel))
    ops.extend(_flips(vertical_flip))
    return MultiViewAugmentation(
        *ops, share_geometry=share_geometry, seed=seed, in_channels=in_channels
    )


def gassl_augmentation(
    size: int = 224,
    in_channels: int = 3,
    temporal: bool = True,
    crop_scale: tuple[float, float] | None = None,
    grayscale_weights: Sequence[float] | Tensor | None = None,
    share_geometry: bool = False,
    seed: int | None = None,
    vertical_flip: bool = False,
    blur_kernel: int | None = None,
    cropping_mode: str = 'slice',
) -> MultiViewAugmentation:
    """GASSL augmentation: MoCo-v2's with the crop scale of the reference code.

    Source: Ayush et al., "Geography-Aware Self-Supervised Learning", ICCV 2021,
    arXiv:2011.09980, and its reference code (sustainlab-group/geography-aware-ssl).
    The paper states MoCo-v2's augmentations; the code crops the views of temporal
    positive pairs with scale (0.08, 1) and the views of non-temporal runs with
    (0.2, 1), a confound the paper does not mention. *temporal* picks the scale
    accordingly; *crop_scale* overrides it. Everything else is
    :func:`moco_v2_augmentation`.

    Args:
        size: Side of the square output crop in pixels.
        in_channels: Number of bands of the input.
        temporal: Whether the views are temporal positives (scale (0.08, 1)) or
            augmentations of one image (scale (0.2, 1)).
        crop_scale: Crop area range overriding the one chosen by *temporal*.
        grayscale_weights: One weight per band for the grayscale conversion; see
            :func:`moco_v2_augmentation`.
        share_geometry: Give all views of a sample the same crop and flips.
        seed: Seed of a deterministic random stream.
        vertical_flip: Also flip vertically with p = 0.5.
        blur_kernel: Odd side of the Gaussian kernel; None: 23 px
            (:func:`blur_kernel_size`).
        cropping_mode: Kornia's RandomResizedCrop mode, ``'slice'`` or
            ``'resample'``.

    Returns:
        The augmentation for ``[B, V, C, H, W]`` or ``[B, C, H, W]`` batches.

    Raises:
        TypeError: If *size* or *in_channels* is not an integer.
        ValueError: If a parameter is out of range (named in the message).

    .. versionadded:: 0.1
    """
    if crop_scale is None:
        crop_scale = GASSL_TEMPORAL_CROP_SCALE if temporal else MOCO_V2_CROP_SCALE
    return moco_v2_augmentation(
        size=size,
        in_channels=in_channels,
        crop_scale=crop_scale,
        grayscale_weights=grayscale_weights,
        share_geometry=share_geometry,
        seed=seed,
        vertical_flip=vertical_flip,
        blur_kernel=blur_kernel,
        cropping_mode=cropping_mode,
    )


def seco_artificial_augmentation(
    in_channels: int = 3,
    grayscale_weights: Sequence[float] | Tensor | None = None,
    seed: int | None = None,
    vertical_flip: bool = False,
    blur_kernel: int = SECO_BLUR_KERNEL,
) -> MultiViewAugmentation:
    """SeCo's artificial augmentation "A", without a crop.

    Source: Mañas et al., "Seasonal Contrast: Unsupervised Pre-Training from
    Uncurated Remote Sensing Data", ICCV 2021, arXiv:2103.16607, and its reference
    code (ServiceNow/seasonal-contrast): colour jitter (0.4, 0.4, 0.4, 0.1) with
    p = 0.8, grayscale p = 0.2, Gaussian blur (sigma 0.1-2) p = 0.5 and a
    horizontal flip, applied to views k0 and k2. SeCo then crops every view with an
    independent RandomResizedCrop: use :func:`seco_crop` for that. For other than
    3 bands the jitter is replaced as in :func:`moco_v2_augmentation`.

    The kernel must fit the input: Kornia's reflect padding needs a side larger
    than ``blur_kernel // 2`` (checked by :class:`MultiViewAugmentation`).

    Args:
        in_channels: Number of bands of the input.
        grayscale_weights: One weight per band for the grayscale conversion; see
            :func:`moco_v2_augmentation`.
        seed: Seed of a deterministic random stream.
        vertical_flip: Also flip vertically with p = 0.5.
        blur_kernel: Odd side of the Gaussian kernel.

    Returns:
        The augmentation for ``[B, V, C, H, W]`` or ``[B, C, H, W]`` batches; the
        spatial size is unchanged.

    Raises:
        TypeError: If *in_channels* is not an integer.
        ValueError: If a parameter is out of range (named in the message).

    .. versionadded:: 0.1
    """
    _check_positive_int('in_channels', in_channels)
    ops = _appearance_ops(in_channels, grayscale_weights, blur_kernel)
    ops.extend(_flips(vertical_flip))
    return MultiViewAugmentation(*ops, seed=seed, in_channels=in_channels)


def seco_crop(
    size: int = 224,
    scale: tuple[float, float] = MOCO_V2_CROP_SCALE,
    seed: int | None = None,
    cropping_mode: str = 'slice',
) -> MultiViewAugmentation:
    """SeCo's crop, drawn independently for every view.

    Source: Mañas et al., ICCV 2021, arXiv:2103.16607 (reference code
    ServiceNow/seasonal-contrast): RandomResizedCrop(224, scale=(0.2, 1)) on each
    of the four views after the artificial augmentation
    (:func:`seco_artificial_augmentation`).

    Args:
        size: Side of the square output crop in pixels.
        scale: Range of the crop area as a fraction of the image area.
        seed: Seed of a deterministic random stream.
        cropping_mode: Kornia's RandomResizedCrop mode, ``'slice'`` or
            ``'resample'``.

    Returns:
        The crop for ``[B, V, C, H, W]`` or ``[B, C, H, W]`` batches.

    Raises:
        TypeError: If *size* is not an integer.
        ValueError: If a parameter is out of range (named in the message).

    .. versionadded:: 0.1
    """
    _check_positive_int('size', size)
    _check_crop_scale(scale)
    crop = K.RandomResizedCrop(
        size=(size, size),
        scale=scale,
        align_corners=False,
        cropping_mode=_check_cropping_mode(cropping_mode),
    )
    return MultiViewAugmentation(crop, seed=seed)


def _appearance_ops(
    in_channels: int,
    grayscale_weights: Sequence[float] | Tensor | None,
    blur_kernel: int,
) -> list[K.AugmentationBase2D]:
    """Colour (or band) jitter, grayscale and blur of the MoCo-v2 recipe.

    Args:
        in_channels: Number of bands.
        grayscale_weights: Band weights of the grayscale conversion, or None.
        blur_kernel: Odd side of the Gaussian kernel.

    Returns:
        The intensity augmentations, in order.

    Raises:
        ValueError: If *blur_kernel* is not an odd integer >= 3 or the weights are
            invalid.
    """
    if blur_kernel < 3 or blur_kernel % 2 == 0:
        raise ValueError(f'blur_kernel must be an odd integer >= 3, got {blur_kernel}')
    weights = _grayscale_weights(grayscale_weights, in_channels)
    ops: list[K.AugmentationBase2D]
    if in_channels == 3:
        brightness, contrast, saturation, hue = MOCO_V2_JITTER
        ops = [
            FastColorJitter(brightness, contrast, saturation, hue, p=MOCO_V2_JITTER_P)
        ]
        if weights is None:
            ops.append(FastRandomGrayscale(p=MOCO_V2_GRAYSCALE_P))
        else:
            ops.append(FastWeightedGrayscale(weights=weights, p=MOCO_V2_GRAYSCALE_P))
    else:
        brightness, contrast = MULTISPECTRAL_JITTER
        ops = [
            MultispectralJitter(brightness, contrast, p=MOCO_V2_JITTER_P),
            FastWeightedGrayscale(
                weights=torch.ones(in_channels) if weights is None else weights,
                p=MOCO_V2_GRAYSCALE_P,
            ),
        ]
    ops.append(
        FastRandomGaussianBlur(
            kernel_size=(blur_kernel, blur_kernel),
            sigma=MOCO_V2_BLUR_SIGMA,
            p=MOCO_V2_BLUR_P,
        )
    )
    return ops


def _flips(vertical_flip: bool) -> list[K.AugmentationBase2D]:
    """Horizontal flip, and optionally vertical flip, each with p = 0.5.

    Args:
        vertical_flip: Whether to add the vertical flip.

    Returns:
        The flips, in order.
    """
    flips: list[K.AugmentationBase2D] = [K.RandomHorizontalFlip(p=FLIP_P)]
    if vertical_flip:
        flips.append(K.RandomVerticalFlip(p=FLIP_P))
    return flips


def _grayscale_weights(
    weights: Sequence[float] | Tensor | None, in_channels: int
) -> Tensor | None:
    """Validate grayscale band weights.

    Args:
        weights: One weight per band, or None.
        in_channels: Number of bands.

    Returns:
        A new float32 tensor of the weights (TorchGeo rescales it in place), or
        None.

    Raises:
        ValueError: If the length differs from *in_channels*, a weight is negative
            or not finite, or all weights are zero.
    """
    if weights is None:
        return None
    tensor = torch.as_tensor(weights, dtype=torch.float32).detach().clone().cpu()
    if tensor.ndim != 1 or tensor.numel() != in_channels:
        raise ValueError(
            f'grayscale_weights must have one weight per band: got shape '
            f'{tuple(tensor.shape)} for in_channels={in_channels}'
        )
    if not bool(torch.isfinite(tensor).all()) or bool((tensor < 0).any()):
        raise ValueError(
            f'grayscale_weights must be finite and non-negative, got {tensor.tolist()}'
        )
    if float(tensor.sum()) <= 0:
        raise ValueError('grayscale_weights must not all be zero')
    return tensor


def _check_positive_int(name: str, value: int) -> None:
    """Check that a parameter is a positive integer.

    Args:
        name: Parameter name, for the message.
        value: Its value.

    Raises:
        TypeError: If *value* is not an integer.
        ValueError: If *value* is not positive.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f'{name} must be an integer, got {value!r}')
    if value < 1:
        raise ValueError(f'{name} must be a positive integer, got {value}')


def _check_crop_scale(scale: tuple[float, float]) -> None:
    """Check a RandomResizedCrop area range.

    Args:
        scale: ``(min, max)`` fraction of the image area.

    Raises:
        ValueError: If it is not ``0 < min <= max <= 1``.
    """
    if len(scale) != 2:
        raise ValueError(f'crop scale must be a (min, max) pair, got {scale}')
    low, high = scale
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high <= 1):
        raise ValueError(f'crop scale must satisfy 0 < min <= max <= 1, got {scale}')


def _check_cropping_mode(mode: str) -> str:
    """Check a Kornia cropping mode.

    Args:
        mode: ``'resample'`` or ``'slice'``.

    Returns:
        *mode*.

    Raises:
        ValueError: For any other value.
    """
    if mode not in ('resample', 'slice'):
        raise ValueError(f"cropping_mode must be 'resample' or 'slice', got {mode!r}")
    return mode

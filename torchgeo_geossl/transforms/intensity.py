"""Intensity augmentations for multispectral images (any number of bands)."""

from collections.abc import Sequence
from typing import Any

import torch
from kornia.augmentation import IntensityAugmentationBase2D
from kornia.augmentation import random_generator as rg
from torch import Tensor


class MultispectralJitter(IntensityAugmentationBase2D):
    r"""Brightness then contrast jitter of reflectance, the same for every band.

    The multispectral counterpart of MoCo-v2's colour jitter used by SSL4EO-S12's
    MoCo-v2 pre-training of 13-band Sentinel-2 images (Wang et al., "SSL4EO-S12",
    arXiv:2211.07044, 2022; reference code zhu-xlab/SSL4EO-S12,
    ``src/benchmark/pretrain_ssl/models/rs_transforms_float32.py`` and
    ``pretrain_moco_v2_s2c.py``:
    ``RandomApply([RandomBrightness(0.4), RandomContrast(0.4)], p=0.8)``). For each
    image it draws a brightness factor ``b ~ U[max(0, 1 - brightness), 1 +
    brightness]`` and a contrast factor ``c ~ U[max(0, 1 - contrast), 1 +
    contrast]`` and computes

    .. math::

        y = b x, \qquad x' = c\,(y - \bar y) + \bar y,

    with :math:`\bar y` the mean of each band over the image. Both are
    multiplicative, as torchvision's brightness (``x · b``), so dark and bright
    bands are scaled alike: an additive shift of ±0.4 (Kornia's
    ``RandomBrightness``) would be larger than the reflectance of most land
    surfaces (0.1-0.25). Hue and saturation have no multispectral meaning and are
    left out. The output is not clipped (reflectance may exceed 1), unlike Kornia's
    and torchvision's colour jitter, which clamp to [0, 1].

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        brightness: float = 0.4,
        contrast: float = 0.4,
        p: float = 0.8,
        same_on_batch: bool = False,
        keepdim: bool = False,
    ) -> None:
        """Initialize a new MultispectralJitter instance.

        Args:
            brightness: Half-width of the brightness factor's range around 1.
            contrast: Half-width of the contrast factor's range around 1.
            p: Probability of jittering an image (both factors together).
            same_on_batch: Draw the same factors for the whole batch.
            keepdim: Whether to keep the output shape the same as the input.

        Raises:
            ValueError: If *brightness* or *contrast* is negative or not finite.
        """
        super().__init__(p=p, same_on_batch=same_on_batch, keepdim=keepdim)
        for name, value in (('brightness', brightness), ('contrast', contrast)):
            if not 0 <= value < float('inf'):
                msg = f'{name} must be a finite non-negative number, got {value}'
                raise ValueError(msg)
        self.brightness = brightness
        self.contrast = contrast
        self._param_generator = rg.PlainUniformGenerator(
            (
                torch.tensor([max(0.0, 1 - brightness), 1 + brightness]),
                'brightness_factor',
                None,
                None,
            ),
            (
                torch.tensor([max(0.0, 1 - contrast), 1 + contrast]),
                'contrast_factor',
                None,
                None,
            ),
        )

    def apply_transform(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
    ) -> Tensor:
        """Scale, then stretch around each band's mean.

        Args:
            input: Images ``[B, C, H, W]`` on the reflectance scale.
            params: The drawn ``brightness_factor`` and ``contrast_factor``
                (``[B]``).
            flags: Static parameters (none).
            transform: Unused.

        Returns:
            The jittered images, same shape.
        """
        shape = (-1, 1, 1, 1)
        brightness = params['brightness_factor'].to(input).reshape(shape)
        contrast = params['contrast_factor'].to(input).reshape(shape)
        scaled = input * brightness
        mean = scaled.mean(dim=(-2, -1), keepdim=True)
        return (scaled - mean) * contrast + mean


class ClipValues(IntensityAugmentationBase2D):
    """Clip every band of the images to a range: ``clamp(x, low, high)``.

    The clip that comes before the standardisation of some pre-training data
    (SeCo clips each band to its quantiles), as a Kornia augmentation so that it
    goes into a TorchGeo data module's ``aug`` with ``K.Normalize``; it is applied
    to every image (``p=1``) and leaves masks and boxes alone.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        low: float | Sequence[float] | None = None,
        high: float | Sequence[float] | None = None,
        keepdim: bool = False,
    ) -> None:
        """Initialize a new ClipValues instance.

        Args:
            low: Lower bound, a scalar or one value per band, or None (no bound).
            high: Upper bound, a scalar or one value per band, or None.
            keepdim: Whether to keep the output shape the same as the input.

        Raises:
            ValueError: If both bounds are None, or a lower bound exceeds its
                upper bound.
        """
        super().__init__(p=1.0, keepdim=keepdim)
        if low is None and high is None:
            raise ValueError('ClipValues needs low, high or both, got neither')
        self.low = None if low is None else torch.tensor(low, dtype=torch.float32)
        self.high = None if high is None else torch.tensor(high, dtype=torch.float32)
        if (
            self.low is not None
            and self.high is not None
            and bool((self.low > self.high).any())
        ):
            msg = (
                f'ClipValues: low {self.low.tolist()} exceeds high {self.high.tolist()}'
            )
            raise ValueError(msg)

    def apply_transform(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
    ) -> Tensor:
        """Clip the images.

        Args:
            input: Images ``[B, C, H, W]``.
            params: Unused.
            flags: Unused.
            transform: Unused.

        Returns:
            The clipped images, same shape.
        """
        low, high = (
            None if bound is None else bound.to(input).reshape(-1, 1, 1)
            for bound in (self.low, self.high)
        )
        return torch.clamp(input, min=low, max=high)

"""Intensity augmentations for multispectral images (any number of bands)."""

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from kornia.augmentation import (
    ColorJitter,
    IntensityAugmentationBase2D,
    RandomGaussianBlur,
    RandomGrayscale,
)
from kornia.augmentation import random_generator as rg
from kornia.core.utils import is_autocast_enabled, is_compiling, is_exporting
from torch import Tensor
from torchgeo.transforms import RandomGrayscale as WeightedGrayscale


class _SelectedImagesOnly:
    """Transform only the images that the probability ``p`` selects.

    Kornia (0.9) transforms every image of a batch and then keeps the input where
    an image was not selected (``torch.where`` over the whole batch), so an
    augmentation with ``p = 0.2`` costs as much as one with ``p = 1`` plus a blend.
    This mixin draws the same parameters (Kornia's ``forward_parameters`` is
    untouched), picks the selected images, transforms them with the class's own
    ``apply_transform`` and their parameters, and copies them into a copy of the
    input. Every output image equals Kornia's: the transform of each image depends
    only on that image and its own parameters.

    Subclasses name the per-image parameters in :attr:`PER_IMAGE_PARAMS` (the
    others, such as ColorJitter's ``order``, are shared by the batch). Kornia's own
    path is taken for ``p = 1``, for inputs that track gradients, inside
    ``torch.compile`` or an export (the selection has a data-dependent size) and for
    inputs that are not ``[B, C, H, W]``.
    """

    #: Parameters with one entry per image, selected with the images.
    PER_IMAGE_PARAMS: ClassVar[tuple[str, ...]] = ()

    p: float
    p_batch: float
    _params: dict[str, Tensor]

    def transform_inputs(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
        **kwargs: Any,
    ) -> Tensor:
        """Transform the selected images of the batch, keep the others.

        Args:
            input: Images ``[B, C, H, W]``.
            params: The drawn parameters, ``batch_prob`` included.
            flags: Static parameters.
            transform: Transformation matrices, if any.
            **kwargs: Parameter overrides (Kornia's).

        Returns:
            A new tensor: the transformed images where selected, the input elsewhere.
        """
        if (
            (self.p == 1.0 and self.p_batch == 1.0)
            or input.ndim != 4
            or (torch.is_grad_enabled() and input.requires_grad)
            or is_compiling()
            or is_exporting()
        ):
            kept: Tensor = super().transform_inputs(  # type: ignore[misc]
                input, params, flags, transform, **kwargs
            )
            return kept
        params, flags = self._process_kwargs_to_params_and_flags(  # type: ignore[attr-defined]
            self._params if params is None else params, flags, **kwargs
        )
        self.validate_tensor(input)  # type: ignore[attr-defined]
        selected = (params['batch_prob'] > 0.5).reshape(-1)
        if len(selected) != len(input):
            blended: Tensor = super().transform_inputs(  # type: ignore[misc]
                input, params, flags, transform
            )
            return blended
        index = selected.nonzero().flatten()
        if len(index) == len(input):
            output: Tensor = self.apply_transform(  # type: ignore[attr-defined]
                input, params, flags, transform=transform
            )
        elif len(index) == 0:
            output = input.clone()
        else:
            output = self._transform_selected(input, index, params, flags, transform)
        if is_autocast_enabled():
            output = output.type(input.dtype)
        return output

    def _transform_selected(
        self,
        input: Tensor,
        index: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None,
    ) -> Tensor:
        """Transform some images of a batch.

        Args:
            input: Images ``[B, C, H, W]``.
            index: Indices of the images to transform (at least one, not all).
            params: The drawn parameters of all B images.
            flags: Static parameters.
            transform: Transformation matrices ``[B, 3, 3]`` or None.

        Returns:
            A copy of *input* with the selected images transformed.
        """
        rows = index.to(input.device)
        subset = {
            key: value.index_select(0, index.to(value.device))
            if key in (*self.PER_IMAGE_PARAMS, 'batch_prob')
            else value
            for key, value in params.items()
        }
        if transform is not None and len(transform) == len(input):
            transform = transform.index_select(0, rows)
        images: Tensor = self.apply_transform(  # type: ignore[attr-defined]
            input.index_select(0, rows), subset, flags, transform=transform
        )
        return input.index_copy(0, rows, images.to(input.dtype))


class MultispectralJitter(_SelectedImagesOnly, IntensityAugmentationBase2D):
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
    and torchvision's colour jitter, which clamp to [0, 1]. Only the images that
    *p* selects are computed (the others are copied).

    .. versionadded:: 0.2
    """

    PER_IMAGE_PARAMS = ('brightness_factor', 'contrast_factor')

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
        return _stretch(input * brightness, contrast)

    def _transform_selected(
        self,
        input: Tensor,
        index: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None,
    ) -> Tensor:
        """Jitter some images of a batch, a few at a time on a CPU.

        Args:
            input: Images ``[B, C, H, W]``.
            index: Indices of the images to jitter.
            params: The drawn parameters of all B images.
            flags: Static parameters (none).
            transform: Unused.

        Returns:
            A copy of *input* with the selected images jittered.
        """
        index = index.to(input.device)
        shape = (-1, 1, 1, 1)
        brightness, contrast = (
            params[key].to(input).index_select(0, index).reshape(shape)
            for key in ('brightness_factor', 'contrast_factor')
        )
        out = input.clone()
        chunk = _CPU_CHUNK if input.device.type == 'cpu' else len(index)
        for start in range(0, len(index), chunk):
            rows = index[start : start + chunk]
            images = input.index_select(0, rows)
            images.mul_(brightness[start : start + chunk])
            out.index_copy_(0, rows, _stretch(images, contrast[start : start + chunk]))
        return out


def _stretch(scaled: Tensor, contrast: Tensor) -> Tensor:
    """Stretch each band around its mean, in place.

    Args:
        scaled: Images ``[B, C, H, W]`` after the brightness factor, changed.
        contrast: ``[B, 1, 1, 1]``.

    Returns:
        *scaled*: ``(y - mean) c + mean`` with the mean of each band of each image.
    """
    mean = scaled.mean(dim=(-2, -1), keepdim=True)
    return scaled.sub_(mean).mul_(contrast).add_(mean)


#: ITU-R 601 luma weights of Kornia's ``rgb_to_grayscale`` (and torchvision's).
_LUMA = (0.299, 0.587, 0.114)

#: Identity factors of brightness, contrast, saturation and hue: a step whose
#: factors are all neutral is skipped, as in Kornia.
_NEUTRAL = (1.0, 1.0, 1.0, 0.0)

#: Images jittered together on a CPU (small enough for the intermediates to stay
#: in the cache).
_CPU_CHUNK = 8


class FastColorJitter(_SelectedImagesOnly, ColorJitter):  # type: ignore[misc]
    r"""Kornia's :class:`~kornia.augmentation.ColorJitter` with fused RGB kernels.

    The same augmentation as Kornia's ``ColorJitter`` (torchvision's formulas):
    the same parameters, the same random draws (factors per image, one random
    order of the four steps per call, shared by the batch) and the same outputs
    within float rounding, computed with fewer passes over the images. For the
    factors :math:`b, c, s` and the hue shift :math:`\eta` (in turns) of an image
    :math:`x \in [0, 1]^{3 \times H \times W}` with luma
    :math:`L(x) = 0.299 r + 0.587 g + 0.114 b`, each step is clamped to
    :math:`[0, 1]`:

    * brightness: :math:`b\,x`;
    * contrast: :math:`c\,x + (1 - c)\,\overline{L(x)}`, with the image mean of the
      luma computed as the luma of the band means (the same number, by linearity);
    * saturation: :math:`s\,x + (1 - s)\,L(x)`, one in-place ``lerp``;
    * hue: Kornia converts to HSV, adds :math:`2\pi\eta` to the hue and converts
      back. The conversion keeps the maximum :math:`M` and the minimum :math:`m`
      of the three channels, and the HSV-to-RGB map is, with the hue
      :math:`h \in [0, 6)` in sextants,

      .. math::

          x_k = m + (M - m)\,\operatorname{clamp}\bigl(
          |((h + o_k) \bmod 6) - 3| - 1, 0, 1\bigr),
          \qquad o = (0, 4, 2) \text{ for } (r, g, b),

      so the shifted image is this formula at :math:`h + 6\eta`, with :math:`h`
      from the channel that holds the maximum (Kornia's ``rgb_to_hsv``) and
      without building the HSV image or selecting the sextant's table row. Gray
      pixels (:math:`M = m`) stay as they are, as in Kornia.

    The hue step is what made Kornia's ``ColorJitter`` slow (82 of 106 ms for 128
    RGB images of 112 px on 2 CPU cores); see ``benchmarks/augmentation.py``.

    The fused kernels work in place on a copy of the input and need three
    channels. Only the images that *p* selects are jittered (Kornia jitters every
    image and then keeps the input of the others); they are gathered a few at a
    time, so that on a CPU the intermediates stay in the cache. Inputs that track
    gradients, inputs with another channel count (any step that runs then fails in
    Kornia with its own message) and a module compiled with :meth:`compile` take
    Kornia's own path.

    .. versionadded:: 0.2

    .. versionchanged:: 0.2
       Images that *p* leaves out are no longer jittered and then discarded.
    """

    PER_IMAGE_PARAMS = (
        'brightness_factor',
        'contrast_factor',
        'saturation_factor',
        'hue_factor',
    )

    def apply_transform(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
    ) -> Tensor:
        """Run the drawn colour steps in the drawn order.

        Args:
            input: RGB images ``[B, 3, H, W]``, floating point.
            params: The drawn ``brightness_factor``, ``contrast_factor``,
                ``saturation_factor``, ``hue_factor`` (``[B]``) and ``order``
                (``[4]``).
            flags: Static parameters (none).
            transform: Unused.

        Returns:
            The jittered images, same shape, clamped to ``[0, 1]``.
        """
        if not self._fused(input):
            jittered: Tensor = super().apply_transform(input, params, flags, transform)
            return jittered
        return self._jitter(input, None, params)

    def _transform_selected(
        self,
        input: Tensor,
        index: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None,
    ) -> Tensor:
        """Jitter some images of a batch.

        Args:
            input: RGB images ``[B, 3, H, W]``.
            index: Indices of the images to jitter.
            params: The drawn parameters of all B images.
            flags: Static parameters (none).
            transform: Unused.

        Returns:
            A copy of *input* with the selected images jittered.
        """
        if not self._fused(input):
            return super()._transform_selected(input, index, params, flags, transform)
        return self._jitter(input, index.to(input.device), params)

    def _fused(self, input: Tensor) -> bool:
        """Whether the fused kernels apply to *input*.

        Args:
            input: The images.

        Returns:
            False for other than three channels, inputs that track gradients and a
            compiled module (Kornia's path), else True.
        """
        return not (
            input.shape[-3] != 3
            or (torch.is_grad_enabled() and input.requires_grad)
            or self.__dict__.get('_uncompiled_fns') is not None
        )

    def _jitter(
        self, input: Tensor, index: Tensor | None, params: dict[str, Tensor]
    ) -> Tensor:
        """Jitter all images, or the images at *index*, with the fused kernels.

        Args:
            input: RGB images ``[B, 3, H, W]``.
            index: Indices of the images to jitter, or None for all.
            params: The drawn parameters of all B images.

        Returns:
            A new tensor: jittered images clamped to ``[0, 1]``, and the other
            images as they were.
        """
        order = (
            self._fixed_order
            if self._fixed_order is not None
            else params['order'].tolist()
        )
        keys = ('brightness_factor', 'contrast_factor', 'saturation_factor')
        factors = [params[key] for key in (*keys, 'hue_factor')]
        steps = [i for i in order if bool((factors[i] != _NEUTRAL[i]).any())]
        factors = [f.to(input).reshape(-1, 1, 1, 1) for f in factors]
        if index is None:
            out = input.clamp(0.0, 1.0)
            count = len(input)
        else:
            out = input.clone()
            factors = [f.index_select(0, index) for f in factors]
            count = len(index)
        # Every step works image by image, so the batch can be split: on a CPU, a
        # few images at a time keep the intermediates in the cache.
        chunk = _CPU_CHUNK if out.device.type == 'cpu' else count
        for start in range(0, count, chunk):
            if index is None:
                images = out[start : start + chunk]
            else:
                rows = index[start : start + chunk]
                images = input.index_select(0, rows).clamp_(0.0, 1.0)
            for step in steps:
                factor = factors[step][start : start + chunk]
                if step == 3:
                    _hue(images, factor.reshape(-1, 1, 1))
                else:
                    _STEPS[step](images, factor)
            images.clamp_(0.0, 1.0)
            if index is not None:
                out.index_copy_(0, rows, images)
        return out


def _luma(image: Tensor) -> Tensor:
    """Luma of RGB images.

    Args:
        image: ``[B, 3, H, W]``.

    Returns:
        ``[B, 1, H, W]``.
    """
    r, g, b = image.unbind(dim=-3)
    gray = torch.add(r * _LUMA[0], g, alpha=_LUMA[1])
    gray.add_(b, alpha=_LUMA[2])
    return gray.unsqueeze(-3)


def _brightness(image: Tensor, factor: Tensor) -> None:
    """Scale by the brightness factor, in place.

    Args:
        image: ``[B, 3, H, W]``, changed in place.
        factor: ``[B, 1, 1, 1]``.
    """
    image.mul_(factor).clamp_(0.0, 1.0)


def _contrast(image: Tensor, factor: Tensor) -> None:
    """Blend with the image mean of the luma, in place.

    Args:
        image: ``[B, 3, H, W]``, changed in place.
        factor: ``[B, 1, 1, 1]``.
    """
    weights = image.new_tensor(_LUMA).reshape(1, 3, 1, 1)
    mean = (image.mean(dim=(-2, -1), keepdim=True) * weights).sum(-3, keepdim=True)
    # In place, as c x + (1 - c) mean: an addcmul with these broadcast operands
    # runs several times slower on CPUs.
    image.mul_(factor).add_(mean * (1 - factor)).clamp_(0.0, 1.0)


def _saturation(image: Tensor, factor: Tensor) -> None:
    """Blend with the luma, in place.

    Args:
        image: ``[B, 3, H, W]``, changed in place.
        factor: ``[B, 1, 1, 1]``.
    """
    image.lerp_(_luma(image), 1 - factor).clamp_(0.0, 1.0)


def _hue(image: Tensor, turns: Tensor) -> None:
    """Rotate the hue (HSV) by a fraction of a turn, in place.

    Args:
        image: ``[B, 3, H, W]`` in ``[0, 1]``, changed in place.
        turns: ``[B, 1, 1]``, the hue shift in turns, at most one turn either way.
    """
    r, g, b = image.unbind(dim=-3)
    high = image.amax(dim=-3)
    low = image.amin(dim=-3)
    chroma = high - low
    # Hue in sextants before the shift, from the first maximal channel (Kornia's
    # rgb_to_hsv): (g - b) / chroma if r is maximal, else (b - r) / chroma + 2 if g
    # is, else (r - g) / chroma + 4. The choice is a blend with 0/1 weights, as
    # torch.where is many times slower than arithmetic on CPUs.
    is_red = torch.ge(r, high, out=torch.empty_like(high))
    is_green = torch.ge(g, high, out=torch.empty_like(high))
    numerator = torch.sub(r, g).add_(chroma, alpha=4)
    numerator.lerp_(torch.sub(b, r).add_(chroma, alpha=2), is_green)
    numerator.lerp_(torch.sub(g, b), is_red)
    # Where the chroma is below the smallest normal number the hue does not
    # matter: it is multiplied by the chroma again below.
    hue = torch.addcdiv(
        6 * turns, numerator, chroma.clamp_min_(torch.finfo(image.dtype).tiny)
    )
    # The ramp of channel k is clamp(dist(hue + o_k, 6Z + 3) - 1, 0, 1) with
    # o = (0, 4, 2); for hue + o_k in [-6, 18] the distance to 6Z + 3 is
    # |||hue + o_k - 6| - 6| - 3|, which spares a remainder.
    offsets = image.new_tensor((-6.0, -2.0, -4.0)).reshape(3, 1, 1)
    ramp = hue.unsqueeze(-3) + offsets
    ramp.abs_().sub_(6).abs_().sub_(3).abs_().sub_(1).clamp_(0.0, 1.0)
    torch.addcmul(low.unsqueeze(-3), ramp, chroma.unsqueeze(-3), out=image)


#: The in-place steps brightness, contrast and saturation, by Kornia's index.
_STEPS = (_brightness, _contrast, _saturation)


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


class FastRandomGaussianBlur(_SelectedImagesOnly, RandomGaussianBlur):  # type: ignore[misc]
    """Kornia's Gaussian blur that blurs only the images *p* selects.

    Kornia's :class:`~kornia.augmentation.RandomGaussianBlur` with the same
    parameters, the same random draws (a sigma per image and the selection with
    probability *p*) and the same outputs: the selected images are blurred with
    Kornia's ``gaussian_blur2d`` and their own sigma, the others are copied.
    Kornia blurs every image and then keeps the input of the images *p* leaves
    out, so with the presets' ``p = 0.5`` this does half the convolutions.

    .. versionadded:: 0.2
    """

    PER_IMAGE_PARAMS = ('sigma',)


class FastRandomGrayscale(_SelectedImagesOnly, RandomGrayscale):  # type: ignore[misc]
    """Kornia's grayscale that converts only the images *p* selects.

    Kornia's :class:`~kornia.augmentation.RandomGrayscale` with the same
    parameters, random draws and outputs (ITU-R 601 luma for RGB unless
    ``rgb_weights`` are given); only the selected images are converted and the
    others are copied, where Kornia converts every image and then keeps the
    input of the others.

    .. versionadded:: 0.2
    """


class FastWeightedGrayscale(_SelectedImagesOnly, WeightedGrayscale):
    """TorchGeo's band-weighted grayscale that converts only the images *p* selects.

    TorchGeo's :class:`~torchgeo.transforms.RandomGrayscale` with the same
    parameters (one weight per band, rescaled to sum to 1), random draws and
    outputs; only the selected images are converted and the others are copied.

    .. versionadded:: 0.2
    """

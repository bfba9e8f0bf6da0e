"""Tests of the MoCo-v2, GASSL and SeCo augmentation presets."""

import math

import kornia.augmentation as K
import pytest
import torch
from torchgeo.transforms import RandomGrayscale

from torchgeo_geossl.transforms import (
    FastColorJitter,
    FastRandomGaussianBlur,
    FastRandomGrayscale,
    FastWeightedGrayscale,
    MultispectralJitter,
    MultiViewAugmentation,
    blur_kernel_size,
    gassl_augmentation,
    moco_v2_augmentation,
    seco_artificial_augmentation,
    seco_crop,
)

SIZE = 16
SIDE = 32


def ops(aug: MultiViewAugmentation) -> list[K.AugmentationBase2D]:
    return list(aug.augmentations.children())


def op_types(aug: MultiViewAugmentation) -> list[type]:
    return [type(op) for op in ops(aug)]


def crop_scale(aug: MultiViewAugmentation) -> tuple[float, float]:
    crop = ops(aug)[0]
    assert isinstance(crop, K.RandomResizedCrop)
    return tuple(crop._param_generator.scale)  # type: ignore[return-value]


def test_moco_v2_rgb_ops() -> None:
    aug = moco_v2_augmentation(size=SIZE)
    assert op_types(aug) == [
        K.RandomResizedCrop,
        FastColorJitter,
        FastRandomGrayscale,
        FastRandomGaussianBlur,
        K.RandomHorizontalFlip,
    ]
    jitter = ops(aug)[1]
    assert 'brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, p=0.8' in repr(
        jitter
    )
    assert [op.p for op in ops(aug)[1:]] == [0.8, 0.2, 0.5, 0.5]
    blur = ops(aug)[3]
    assert 'sigma=(0.1, 2.0)' in repr(blur)
    assert aug.in_channels == 3
    assert not aug.share_geometry


@pytest.mark.parametrize('channels', [4, 13])
def test_moco_v2_multispectral_ops(channels: int) -> None:
    aug = moco_v2_augmentation(size=SIZE, in_channels=channels)
    assert op_types(aug) == [
        K.RandomResizedCrop,
        MultispectralJitter,
        FastWeightedGrayscale,
        FastRandomGaussianBlur,
        K.RandomHorizontalFlip,
    ]
    jitter, gray = ops(aug)[1:3]
    assert (jitter.p, gray.p) == (0.8, 0.2)
    assert (jitter.brightness, jitter.contrast) == (0.4, 0.4)
    weights = gray.flags['weights']
    assert torch.allclose(weights, torch.full((channels,), 1 / channels))
    assert not any(isinstance(op, K.ColorJitter) for op in ops(aug))


def test_custom_grayscale_weights_rescaled_and_not_mutated() -> None:
    given = torch.tensor([1.0, 3.0, 0.0, 0.0])
    aug = moco_v2_augmentation(size=SIZE, in_channels=4, grayscale_weights=given)
    weights = ops(aug)[2].flags['weights']
    assert torch.allclose(weights, torch.tensor([0.25, 0.75, 0.0, 0.0]))
    assert torch.equal(given, torch.tensor([1.0, 3.0, 0.0, 0.0]))


def test_rgb_custom_grayscale_weights_use_torchgeo_op() -> None:
    aug = moco_v2_augmentation(size=SIZE, grayscale_weights=[0.2, 0.7, 0.1])
    assert op_types(aug)[2] is FastWeightedGrayscale
    assert op_types(aug)[1] is FastColorJitter


def test_grayscale_weights_validated() -> None:
    with pytest.raises(ValueError, match=r'got shape \(3,\) for in_channels=4'):
        moco_v2_augmentation(in_channels=4, grayscale_weights=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match='finite and non-negative'):
        moco_v2_augmentation(in_channels=3, grayscale_weights=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match='not all be zero'):
        moco_v2_augmentation(in_channels=3, grayscale_weights=[0.0, 0.0, 0.0])


def test_vertical_flip_option() -> None:
    assert K.RandomVerticalFlip not in op_types(moco_v2_augmentation(size=SIZE))
    aug = moco_v2_augmentation(size=SIZE, in_channels=13, vertical_flip=True)
    assert op_types(aug)[-2:] == [K.RandomHorizontalFlip, K.RandomVerticalFlip]


@pytest.mark.parametrize('size', [224, 112, 64, 48, 16])
@pytest.mark.parametrize('channels', [3, 13])
def test_blur_kernel_does_not_shrink_with_the_crop(size: int, channels: int) -> None:
    # the MoCo-v2 rule at 224 px (10 %, odd: 23) at every crop size
    blur = next(
        op
        for op in ops(moco_v2_augmentation(size=size, in_channels=channels))
        if isinstance(op, K.RandomGaussianBlur)
    )
    assert blur.flags['kernel_size'] == (23, 23)
    assert blur_kernel_size() == 23
    assert blur_kernel_size(1.0) == 13  # ±5.5 sigma, odd
    with pytest.raises(ValueError, match='sigma_max must be positive'):
        blur_kernel_size(0.0)


@pytest.mark.parametrize('size', [16, 48, 64])
def test_blur_of_a_delta_holds_the_whole_gaussian(size: int) -> None:
    # PIL's GaussianBlur (the reference) does not truncate: at sigma = 2 the
    # blurred delta must be the sampled 2-D Gaussian, also at small crops
    blur = next(
        op
        for op in ops(gassl_augmentation(size=size))
        if isinstance(op, K.RandomGaussianBlur)
    )
    side = 41
    delta = torch.zeros(1, 1, side, side)
    delta[..., side // 2, side // 2] = 1.0
    out = blur.apply_transform(delta, {'sigma': torch.tensor([2.0])}, blur.flags)
    sigma = 2.0
    r = torch.arange(side, dtype=torch.float64) - side // 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    expected = torch.outer(g, g) / (2 * math.pi * sigma**2)
    # the continuous Gaussian's mass within the kernel's half-width (11 px)
    inside = math.erf(11.5 / (sigma * math.sqrt(2))) ** 2
    assert inside > 1 - 1e-7
    torch.testing.assert_close(out[0, 0].double(), expected, atol=1e-5, rtol=0)
    assert float(out[0, 0, side // 2, side // 2 + 6]) > 0  # 3 sigma away


def test_blur_kernel_that_does_not_fit_is_refused() -> None:
    aug = seco_artificial_augmentation()
    with pytest.raises(ValueError, match=r'kernel 23x23 does not fit 8x8 px images'):
        aug(torch.rand(2, 2, 3, 8, 8))
    with pytest.raises(ValueError, match=r'23 px blur kernel does not fit size=10'):
        moco_v2_augmentation(size=10)
    with pytest.raises(ValueError, match=r'does not fit 10x10 px .* blur_kernel'):
        MultiViewAugmentation(
            K.RandomResizedCrop((10, 10)), K.RandomGaussianBlur((23, 23), (0.1, 2.0))
        )(torch.rand(2, 2, 3, 32, 32))
    small = moco_v2_augmentation(size=10, blur_kernel=9)
    assert small(torch.rand(2, 2, 3, 32, 32)).shape == (2, 2, 3, 10, 10)


def test_crop_scale_defaults() -> None:
    assert crop_scale(moco_v2_augmentation(size=SIZE)) == (0.2, 1.0)
    assert crop_scale(gassl_augmentation(size=SIZE)) == (0.08, 1.0)
    assert crop_scale(gassl_augmentation(size=SIZE, temporal=False)) == (0.2, 1.0)
    assert crop_scale(gassl_augmentation(size=SIZE, crop_scale=(0.5, 0.9))) == (
        0.5,
        0.9,
    )
    assert crop_scale(seco_crop(size=SIZE)) == (0.2, 1.0)


def test_crop_output_size() -> None:
    crop = ops(moco_v2_augmentation(size=SIZE))[0]
    assert crop.flags['size'] == (SIZE, SIZE)
    assert crop.flags['cropping_mode'] == 'slice'


def test_gassl_forwards_options() -> None:
    aug = gassl_augmentation(
        size=SIZE, in_channels=4, share_geometry=True, seed=5, vertical_flip=True
    )
    assert aug.share_geometry
    assert aug.seed == 5
    assert aug.in_channels == 4
    assert K.RandomVerticalFlip in op_types(aug)


@pytest.mark.parametrize('channels', [3, 4, 13])
@pytest.mark.parametrize('mode', ['slice', 'resample'])
def test_presets_run(channels: int, mode: str) -> None:
    x = torch.rand(3, 2, channels, SIDE, SIDE)
    out = gassl_augmentation(size=SIZE, in_channels=channels, cropping_mode=mode)(x)
    assert out.shape == (3, 2, channels, SIZE, SIZE)
    assert bool(torch.isfinite(out).all())


def test_rgb_output_stays_in_unit_range() -> None:
    x = torch.rand(8, 2, 3, SIDE, SIDE)
    out = moco_v2_augmentation(size=SIZE, seed=0)(x)
    assert float(out.min()) >= 0.0
    assert float(out.max()) <= 1.0


def test_seco_artificial_has_no_crop() -> None:
    aug = seco_artificial_augmentation()
    assert op_types(aug) == [
        FastColorJitter,
        FastRandomGrayscale,
        FastRandomGaussianBlur,
        K.RandomHorizontalFlip,
    ]
    x = torch.rand(2, 2, 3, SIDE, SIDE)
    assert aug(x).shape == x.shape


def test_seco_artificial_multispectral() -> None:
    aug = seco_artificial_augmentation(in_channels=13)
    assert op_types(aug) == [
        MultispectralJitter,
        FastWeightedGrayscale,
        FastRandomGaussianBlur,
        K.RandomHorizontalFlip,
    ]
    assert ops(aug)[2].flags['kernel_size'] == (23, 23)
    x = torch.rand(2, 2, 13, SIDE, SIDE)
    assert aug(x).shape == x.shape


def test_seco_crop_only_crops() -> None:
    aug = seco_crop(size=SIZE)
    assert op_types(aug) == [K.RandomResizedCrop]
    assert aug.in_channels is None
    assert aug(torch.rand(2, 4, 5, SIDE, SIDE)).shape == (2, 4, 5, SIZE, SIZE)


def test_seco_crop_views_independent() -> None:
    image = torch.arange(SIDE * SIDE, dtype=torch.float32).reshape(1, SIDE, SIDE)
    x = image.expand(2, 4, 1, SIDE, SIDE).contiguous()
    out = seco_crop(size=SIZE, seed=0)(x)
    assert not torch.equal(out[0, 0], out[0, 1])


def test_preset_channel_mismatch() -> None:
    aug = moco_v2_augmentation(size=SIZE)
    with pytest.raises(ValueError, match='in_channels=3 but the input has 13 channels'):
        aug(torch.rand(2, 2, 13, SIDE, SIDE))


@pytest.mark.parametrize(
    ('kwargs', 'error', 'message'),
    [
        ({'size': 0}, ValueError, 'size must be a positive integer, got 0'),
        ({'size': 16.0}, TypeError, 'size must be an integer'),
        ({'in_channels': 0}, ValueError, 'in_channels must be a positive integer'),
        (
            {'crop_scale': (0.0, 1.0)},
            ValueError,
            r'0 < min <= max <= 1, got \(0.0, 1.0\)',
        ),
        ({'crop_scale': (0.9, 0.5)}, ValueError, 'min <= max'),
        ({'crop_scale': (0.2, 1.5)}, ValueError, 'max <= 1'),
        ({'blur_kernel': 4}, ValueError, 'odd integer >= 3, got 4'),
        ({'cropping_mode': 'warp'}, ValueError, "'resample' or 'slice', got 'warp'"),
    ],
)
def test_bad_preset_parameters(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        moco_v2_augmentation(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize('channels', [3, 4])
def test_presets_equal_the_kornia_and_torchgeo_ops_they_replace(channels: int) -> None:
    # the same draws and outputs as the preset built from Kornia's ColorJitter,
    # RandomGrayscale and RandomGaussianBlur (TorchGeo's band grayscale) for the
    # same seed: exact for the band path, float rounding for the RGB jitter. The
    # crop, the flip and the band jitter (tested against its formula in
    # test_intensity.py) are the preset's own.
    fast = gassl_augmentation(size=SIZE, in_channels=channels, seed=11)
    crop, jitter, _, blur, flip = ops(fast)
    if channels == 3:
        replaced = [K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8), K.RandomGrayscale(p=0.2)]
    else:
        weights = torch.ones(channels)
        replaced = [jitter, RandomGrayscale(weights=weights, p=0.2)]
    kernel = blur.flags['kernel_size']
    reference = MultiViewAugmentation(
        crop, *replaced, K.RandomGaussianBlur(kernel, (0.1, 2.0), p=0.5), flip, seed=11
    )
    x = torch.rand(24, 2, channels, SIDE, SIDE)
    for _ in range(4):
        out, expected = fast(x), reference(x)
        if channels == 3:
            torch.testing.assert_close(out, expected, atol=5e-6, rtol=0)
        else:
            assert torch.equal(out, expected)

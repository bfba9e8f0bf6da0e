"""Tests of MultiViewAugmentation: shapes, per-view draws, shared geometry, seeding."""

import kornia.augmentation as K
import pytest
import torch
from torch import Tensor
from torchgeo.transforms import RandomGrayscale

from torchgeo_geossl.transforms import (
    MultiViewAugmentation,
    gassl_augmentation,
    moco_v2_augmentation,
)

SIZE = 16
SIDE = 32


def ramp(channels: int = 2, side: int = SIDE) -> Tensor:
    """Image whose every pixel has a distinct value: ``[C, side, side]`` in [0, 1]."""
    pixels = torch.arange(side * side, dtype=torch.float32).reshape(side, side)
    pixels = pixels / (side * side - 1)
    return torch.stack([pixels * (c + 1) / channels for c in range(channels)])


def same_views(batch: int, views: int, channels: int = 2) -> Tensor:
    """A batch whose views (and samples) are all the same ramp image."""
    return ramp(channels).expand(batch, views, channels, SIDE, SIDE).contiguous()


def geometry_only(**kwargs: object) -> MultiViewAugmentation:
    return MultiViewAugmentation(
        K.RandomResizedCrop((SIZE, SIZE), scale=(0.08, 1.0)),
        K.RandomHorizontalFlip(),
        K.RandomVerticalFlip(),
        **kwargs,  # type: ignore[arg-type]
    )


def geometry_and_brightness(**kwargs: object) -> MultiViewAugmentation:
    """Geometry plus an additive, unclipped brightness shift applied to every view."""
    return MultiViewAugmentation(
        K.RandomResizedCrop((SIZE, SIZE), scale=(0.08, 1.0)),
        K.RandomBrightness((0.6, 1.4), clip_output=False, p=1.0),
        K.RandomHorizontalFlip(),
        K.RandomVerticalFlip(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_shapes_five_dimensional() -> None:
    aug = gassl_augmentation(size=SIZE, in_channels=4)
    out = aug(torch.rand(3, 2, 4, SIDE, SIDE))
    assert out.shape == (3, 2, 4, SIZE, SIZE)


def test_shapes_four_dimensional() -> None:
    aug = gassl_augmentation(size=SIZE, in_channels=4)
    out = aug(torch.rand(3, 4, SIDE, SIDE))
    assert out.shape == (3, 4, SIZE, SIZE)


def test_single_view_keeps_view_axis() -> None:
    aug = gassl_augmentation(size=SIZE, in_channels=4)
    assert aug(torch.rand(2, 1, 4, SIDE, SIDE)).shape == (2, 1, 4, SIZE, SIZE)


def test_four_views() -> None:
    aug = gassl_augmentation(size=SIZE, in_channels=3, share_geometry=True)
    assert aug(torch.rand(2, 4, 3, SIDE, SIDE)).shape == (2, 4, 3, SIZE, SIZE)


def test_empty_batch() -> None:
    aug = gassl_augmentation(size=SIZE, in_channels=4)
    assert aug(torch.rand(0, 2, 4, SIDE, SIDE)).shape == (0, 2, 4, SIZE, SIZE)


def test_views_get_independent_parameters() -> None:
    out = geometry_only(seed=0)(same_views(4, 3))
    for b in range(4):
        for i in range(3):
            for j in range(i + 1, 3):
                assert not torch.equal(out[b, i], out[b, j])


def test_share_geometry_identical_without_intensity() -> None:
    out = geometry_only(share_geometry=True, seed=0)(same_views(4, 3))
    for b in range(4):
        assert torch.equal(out[b, 0], out[b, 1])
        assert torch.equal(out[b, 0], out[b, 2])
    # One draw per sample, not per batch: samples (identical inputs) still differ.
    assert not torch.equal(out[0, 0], out[1, 0])
    assert not torch.equal(out[0, 0], out[2, 0])


def test_share_geometry_keeps_intensity_independent() -> None:
    # An additive brightness shift commutes with bilinear resampling: with the same
    # crop and flips, two views differ by one constant per view over the image.
    out = geometry_and_brightness(share_geometry=True, seed=1)(same_views(4, 2))
    diff = out[:, 0] - out[:, 1]
    flat = diff.reshape(4, -1)
    spread = flat.max(dim=1).values - flat.min(dim=1).values
    assert bool((spread < 1e-5).all())
    assert bool((flat.abs().mean(dim=1) > 1e-4).all())


def test_without_share_geometry_crops_differ() -> None:
    out = geometry_and_brightness(share_geometry=False, seed=1)(same_views(4, 2))
    flat = (out[:, 0] - out[:, 1]).reshape(4, -1)
    spread = flat.max(dim=1).values - flat.min(dim=1).values
    assert bool((spread > 1e-3).all())


def test_share_geometry_parameters_of_preset() -> None:
    aug = gassl_augmentation(size=SIZE, in_channels=3, share_geometry=True, seed=4)
    aug(same_views(5, 2, channels=3))
    crop = aug.augmentations[0]
    jitter = aug.augmentations[1]
    flip = aug.augmentations[-1]
    src = crop._params['src'].reshape(5, 2, 4, 2)
    assert torch.equal(src[:, 0], src[:, 1])
    assert not torch.equal(src[0, 0], src[1, 0])
    flips = flip._params['batch_prob'].reshape(5, 2)
    assert torch.equal(flips[:, 0], flips[:, 1])
    brightness = jitter._params['brightness_factor'].reshape(5, 2)
    assert not torch.equal(brightness[:, 0], brightness[:, 1])


def test_seed_reproducible() -> None:
    x = torch.rand(3, 2, 4, SIDE, SIDE)
    first = gassl_augmentation(size=SIZE, in_channels=4, seed=7)
    second = gassl_augmentation(size=SIZE, in_channels=4, seed=7)
    a1, a2 = first(x), first(x)
    b1, b2 = second(x), second(x)
    assert torch.equal(a1, b1)
    assert torch.equal(a2, b2)
    # Successive calls draw different parameters.
    assert not torch.equal(a1, a2)
    assert first.calls == 2


def test_seed_reproducible_with_shared_geometry() -> None:
    x = same_views(3, 2)
    a = geometry_and_brightness(share_geometry=True, seed=11)(x)
    b = geometry_and_brightness(share_geometry=True, seed=11)(x)
    assert torch.equal(a, b)


def test_different_seeds_differ() -> None:
    x = torch.rand(3, 2, 4, SIDE, SIDE)
    a = gassl_augmentation(size=SIZE, in_channels=4, seed=1)(x)
    b = gassl_augmentation(size=SIZE, in_channels=4, seed=2)(x)
    assert not torch.equal(a, b)


def test_seed_leaves_global_rng_untouched() -> None:
    aug = gassl_augmentation(size=SIZE, in_channels=4, seed=3)
    x = torch.rand(2, 2, 4, SIDE, SIDE)
    before = torch.get_rng_state()
    aug(x)
    aug(x)
    assert torch.equal(torch.get_rng_state(), before)


def test_unseeded_draws_from_global_rng() -> None:
    aug = gassl_augmentation(size=SIZE, in_channels=4)
    x = torch.rand(2, 2, 4, SIDE, SIDE)
    torch.manual_seed(5)
    seeded = torch.get_rng_state()
    a = aug(x)
    assert not torch.equal(torch.get_rng_state(), seeded)
    torch.manual_seed(5)
    b = aug(x)
    assert torch.equal(a, b)


def test_no_gradient_tracking() -> None:
    x = torch.rand(2, 2, 4, SIDE, SIDE, requires_grad=True)
    out = gassl_augmentation(size=SIZE, in_channels=4)(x)
    assert not out.requires_grad
    assert out.grad_fn is None


@pytest.mark.parametrize('dtype', [torch.float64, torch.bfloat16])
def test_dtype_preserved(dtype: torch.dtype) -> None:
    x = torch.rand(2, 2, 4, SIDE, SIDE).to(dtype)
    assert gassl_augmentation(size=SIZE, in_channels=4)(x).dtype == dtype


def test_meta_device_preserved() -> None:
    x = torch.empty(2, 2, 4, SIDE, SIDE, device='meta')
    out = gassl_augmentation(size=SIZE, in_channels=4, seed=0)(x)
    assert out.device.type == 'meta'
    assert out.shape == (2, 2, 4, SIZE, SIZE)


@pytest.mark.cuda
def test_cuda_device_dtype_and_seed() -> None:
    x = torch.rand(4, 2, 4, SIDE, SIDE, device='cuda', dtype=torch.float16)
    cuda_state = torch.cuda.get_rng_state()
    a = gassl_augmentation(size=SIZE, in_channels=4, seed=9)(x)
    assert a.device == x.device
    assert a.dtype == torch.float16
    assert torch.equal(torch.cuda.get_rng_state(), cuda_state)
    module = gassl_augmentation(size=SIZE, in_channels=4, seed=9).to('cuda')
    b = module(x)
    assert b.device == x.device
    assert torch.equal(torch.cuda.get_rng_state(), cuda_state)


def test_wrong_rank() -> None:
    aug = gassl_augmentation(size=SIZE, in_channels=4)
    with pytest.raises(ValueError, match=r'got 3 dimensions \(shape \(4, 32, 32\)\)'):
        aug(torch.rand(4, SIDE, SIDE))
    with pytest.raises(ValueError, match='got 6 dimensions'):
        aug(torch.rand(1, 1, 2, 4, SIDE, SIDE))


def test_channel_mismatch_names_both_numbers() -> None:
    aug = gassl_augmentation(size=SIZE, in_channels=13)
    with pytest.raises(ValueError, match='in_channels=13 but the input has 4 channels'):
        aug(torch.rand(2, 2, 4, SIDE, SIDE))


def test_integer_input_rejected() -> None:
    aug = gassl_augmentation(size=SIZE, in_channels=4)
    with pytest.raises(TypeError, match=r'floating point tensor, got torch\.uint8'):
        aug(torch.zeros(2, 2, 4, SIDE, SIDE, dtype=torch.uint8))


def test_non_kornia_module_rejected() -> None:
    with pytest.raises(TypeError, match='got Identity'):
        MultiViewAugmentation(torch.nn.Identity())  # type: ignore[arg-type]


def test_empty_augmentations_rejected() -> None:
    with pytest.raises(ValueError, match='at least one augmentation'):
        MultiViewAugmentation()


def test_rgb_only_op_with_other_channels_rejected() -> None:
    with pytest.raises(
        ValueError, match=r'ColorJitter only works on RGB.*in_channels=4'
    ):
        MultiViewAugmentation(K.ColorJitter(0.4, 0.4, 0.4, 0.1), in_channels=4)


def test_grayscale_weights_length_checked() -> None:
    with pytest.raises(ValueError, match='3 band weights but in_channels=4'):
        MultiViewAugmentation(RandomGrayscale(weights=torch.ones(3)), in_channels=4)


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [({'in_channels': 0}, 'positive'), ({'seed': -1}, 'non-negative')],
)
def test_bad_options(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MultiViewAugmentation(K.RandomHorizontalFlip(), **kwargs)  # type: ignore[arg-type]


def test_repr_and_augmentations() -> None:
    aug = gassl_augmentation(size=SIZE, in_channels=13, share_geometry=True, seed=3)
    text = repr(aug)
    assert text.startswith('MultiViewAugmentation(')
    assert 'in_channels=13, share_geometry=True, seed=3' in text
    assert 'RandomResizedCrop' in text
    assert isinstance(aug.augmentations, K.ImageSequential)
    assert (
        len(list(aug.augmentations.children())) == 5
    )  # crop, jitter, grayscale, blur, flip


def test_autocast_does_not_reach_the_augmentation() -> None:
    # a trainer's precision='bf16-mixed' autocasts the training step; the blur's
    # convolution and the crop's resampling must still run in float32
    x = torch.rand(4, 2, 3, 32, 32)
    expected = moco_v2_augmentation(size=24, seed=0)(x)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = moco_v2_augmentation(size=24, seed=0)(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, atol=0, rtol=0)

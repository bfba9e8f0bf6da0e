"""Tests of the intensity augmentations against plain tensor math.

Reference recipe: SSL4EO-S12's MoCo-v2 (zhu-xlab/SSL4EO-S12,
``src/benchmark/pretrain_ssl/models/rs_transforms_float32.py``): brightness
multiplies every band by one factor in [0.6, 1.4], then contrast stretches each band
around its mean by a factor in [0.6, 1.4], together with p = 0.8.
"""

import colorsys
import itertools
from collections.abc import Sequence

import kornia.augmentation as K
import pytest
import torch
from torch import Tensor
from torchgeo.transforms import RandomGrayscale

from torchgeo_geossl.transforms import (
    ClipValues,
    FastColorJitter,
    FastRandomGaussianBlur,
    FastRandomGrayscale,
    FastWeightedGrayscale,
    MultispectralJitter,
    intensity,
    moco_v2_augmentation,
)

BANDS = 13


def reflectance(n: int, seed: int = 0) -> Tensor:
    """Positive reflectance-like images with bands of different brightness."""
    generator = torch.Generator().manual_seed(seed)
    level = torch.linspace(0.05, 0.4, BANDS).reshape(1, BANDS, 1, 1)
    return level * (0.5 + torch.rand(n, BANDS, 8, 8, generator=generator))


def preset_jitter() -> torch.nn.Module:
    """The colour operation of the multispectral MoCo-v2 preset."""
    aug = moco_v2_augmentation(size=16, in_channels=BANDS)
    return list(aug.augmentations.children())[1]


def test_preset_brightness_is_one_factor_per_image_in_range() -> None:
    torch.manual_seed(0)
    x = reflectance(4000)
    out = preset_jitter()(x)
    # the band means: contrast keeps them, brightness multiplies them by b
    ratio = out.mean(dim=(-2, -1)) / x.mean(dim=(-2, -1))  # [N, C]
    b = ratio[:, 0]
    torch.testing.assert_close(ratio, b[:, None].expand_as(ratio))
    assert float(b.min()) >= 0.6 - 1e-5
    assert float(b.max()) <= 1.4 + 1e-5
    jittered = (b - 1).abs() > 1e-6
    # p = 0.8 of the images, b uniform on [0.6, 1.4]: mean 1, std 0.8 / sqrt(12)
    assert float(jittered.float().mean()) == pytest.approx(0.8, abs=0.03)
    assert float(b[jittered].mean()) == pytest.approx(1.0, abs=0.02)
    assert float(b[jittered].std()) == pytest.approx(0.8 / 12**0.5, abs=0.02)


def test_preset_contrast_stretches_each_band_around_its_mean() -> None:
    torch.manual_seed(1)
    x = reflectance(500)
    out = preset_jitter()(x)
    centred_in = x - x.mean(dim=(-2, -1), keepdim=True)
    centred_out = out - out.mean(dim=(-2, -1), keepdim=True)
    # out - mean(out) = b c (x - mean(x)): one slope per image, every band, pixel
    slope = (centred_out * centred_in).sum(dim=(1, 2, 3)) / (centred_in**2).sum(
        dim=(1, 2, 3)
    )
    torch.testing.assert_close(
        centred_out, slope.reshape(-1, 1, 1, 1) * centred_in, atol=1e-6, rtol=1e-5
    )
    b = out.mean(dim=(1, 2, 3)) / x.mean(dim=(1, 2, 3))
    c = slope / b
    assert float(c.min()) >= 0.6 - 1e-4
    assert float(c.max()) <= 1.4 + 1e-4
    assert float(c.max() - c.min()) > 0.5  # drawn, not constant


def test_formula_on_fixed_factors() -> None:
    jitter = MultispectralJitter(p=1.0)
    x = reflectance(2)
    params = {
        'brightness_factor': torch.tensor([0.7, 1.3]),
        'contrast_factor': torch.tensor([1.2, 0.6]),
    }
    out = jitter.apply_transform(x, params, jitter.flags)
    for i, (b, c) in enumerate([(0.7, 1.2), (1.3, 0.6)]):
        y = b * x[i]
        mean = y.mean(dim=(1, 2), keepdim=True)
        torch.testing.assert_close(out[i], c * (y - mean) + mean)


def test_output_is_not_clipped() -> None:
    jitter = MultispectralJitter(brightness=0.4, contrast=0.0, p=1.0)
    x = torch.full((64, BANDS, 4, 4), 0.9)
    torch.manual_seed(0)
    assert float(jitter(x).max()) > 1.0


@pytest.mark.parametrize('name', ['brightness', 'contrast'])
def test_bad_strength(name: str) -> None:
    with pytest.raises(ValueError, match=f'{name} must be a finite non-negative'):
        MultispectralJitter(**{name: -0.1})  # type: ignore[arg-type]


def test_clip_values_per_band_in_a_kornia_container() -> None:
    clip = K.AugmentationSequential(
        ClipValues(low=[0.0, 10.0], high=[5.0, 100.0]), data_keys=None, keepdim=True
    )
    image = torch.tensor([[-1.0, 7.0], [3.0, 20.0]]).reshape(1, 2, 2, 1)
    mask = torch.tensor([[[[3], [9]]]])
    out = clip({'image': image, 'mask': mask})
    expected = torch.tensor([[0.0, 5.0], [10.0, 20.0]]).reshape(1, 2, 2, 1)
    torch.testing.assert_close(out['image'], expected)
    assert torch.equal(out['mask'], mask)


def test_clip_values_checks_its_bounds() -> None:
    with pytest.raises(ValueError, match='needs low, high or both'):
        ClipValues()
    with pytest.raises(ValueError, match=r'low \[2.0\] exceeds high \[1.0\]'):
        ClipValues(low=[2.0], high=[1.0])


# FastColorJitter: Kornia's ColorJitter (torchvision's formulas) with fused kernels.
# Reference: torchvision's ColorJitter, per image and in the drawn order:
# brightness b x, contrast c x + (1 - c) mean(luma), saturation s x + (1 - s) luma,
# hue through HSV (Python's colorsys, pixel by pixel), each clamped to [0, 1].


def luma(image: Tensor) -> Tensor:
    return 0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2]


def hue_reference(image: Tensor, turns: float) -> Tensor:
    out = torch.empty_like(image)
    for i in range(image.shape[1]):
        for j in range(image.shape[2]):
            h, s, v = colorsys.rgb_to_hsv(*image[:, i, j].tolist())
            out[:, i, j] = torch.tensor(colorsys.hsv_to_rgb((h + turns) % 1.0, s, v))
    return out


def jitter_reference(
    image: Tensor, factors: tuple[float, float, float, float], order: Sequence[int]
) -> Tensor:
    x = image.double().clamp(0, 1)
    b, c, s, h = factors
    for step in order:
        if step == 0:
            x = (b * x).clamp(0, 1)
        elif step == 1:
            x = (c * x + (1 - c) * luma(x).mean()).clamp(0, 1)
        elif step == 2:
            x = (s * x + (1 - s) * luma(x)).clamp(0, 1)
        else:
            x = hue_reference(x, h).clamp(0, 1)
    return x.float()


def rgb_images(n: int, size: int = 5, seed: int = 0) -> Tensor:
    """Colourful images with gray, black and white pixels and a gray image."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=generator)
    x[:, :, 0, 0] = 0.0  # black
    x[:, :, 0, 1] = 1.0  # white
    x[:, :, 0, 2] = 0.5  # gray
    x[:, :, 1, 0] = torch.tensor([1.0, 0.0, 0.0])  # pure red
    x[:, :, 1, 1] = torch.tensor([0.2, 0.2, 0.9])  # two equal channels
    x[:, :, 1, 2] = torch.tensor([0.7, 0.7, 0.1])  # two equal maxima
    x[-1] = x[-1, :1]  # a gray image
    return x


FACTORS = [
    (0.6, 1.4, 0.6, -0.1),
    (1.4, 0.6, 1.4, 0.1),
    (1.2, 1.1, 0.0, 0.5),
    (0.8, 0.7, 2.0, -0.5),
    (1.0, 1.0, 1.0, 0.03),
]


@pytest.mark.parametrize('order', list(itertools.permutations(range(4))))
def test_fast_color_jitter_is_torchvisions_formulas(order: tuple[int, ...]) -> None:
    x = rgb_images(len(FACTORS))
    x[0, 0, 2, 2] = 1.3  # out of range: clamped first, as Kornia does
    params = {
        name: torch.tensor([f[i] for f in FACTORS])
        for i, name in enumerate(
            ['brightness_factor', 'contrast_factor', 'saturation_factor', 'hue_factor']
        )
    }
    params['order'] = torch.tensor(order)
    jitter = FastColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0)
    out = jitter.apply_transform(x, params, jitter.flags)
    for i, factors in enumerate(FACTORS):
        expected = jitter_reference(x[i], factors, order)
        torch.testing.assert_close(out[i], expected, atol=2e-6, rtol=0)


def test_fast_color_jitter_equals_kornia_with_the_same_seed() -> None:
    # same draws (factors per image, one order per call, p) and the same outputs
    x = rgb_images(64, size=16, seed=1)
    fast = FastColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8)
    kornia = K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8)
    orders = set()
    for seed in range(12):
        torch.manual_seed(seed)
        out = fast(x)
        torch.manual_seed(seed)
        expected = kornia(x)
        orders.add(tuple(fast._params['order'].tolist()))
        for key, value in kornia._params.items():
            torch.testing.assert_close(fast._params[key], value, atol=0, rtol=0)
        torch.testing.assert_close(out, expected, atol=5e-6, rtol=0)
    assert len(orders) > 3  # the order is drawn per call


def test_fast_color_jitter_keeps_gradients_through_kornias_path() -> None:
    x = rgb_images(4, size=8).requires_grad_()
    jitter = FastColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0)
    torch.manual_seed(0)
    out = jitter(x)
    torch.manual_seed(0)
    expected = K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0)(x)
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    assert x.grad is not None


def test_fast_color_jitter_does_not_change_its_input() -> None:
    x = rgb_images(8, size=8)
    before = x.clone()
    FastColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0)(x)
    assert torch.equal(x, before)


def test_rgb_preset_uses_fast_color_jitter() -> None:
    aug = moco_v2_augmentation(size=16)
    jitter = list(aug.augmentations.children())[1]
    assert type(jitter) is FastColorJitter
    assert (jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue) == (
        0.4,
        0.4,
        0.4,
        0.1,
    )
    assert jitter.p == 0.8


@pytest.mark.cuda
def test_fast_color_jitter_on_cuda_equals_kornia_and_the_cpu() -> None:
    x = rgb_images(32, size=32, seed=2)
    fast = FastColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0)
    kornia = K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=1.0)
    for seed in range(4):
        torch.manual_seed(seed)
        expected = fast(x)
        params = fast._params
        out = fast(x.cuda(), params=params)
        assert out.device.type == 'cuda'
        torch.testing.assert_close(out.cpu(), expected, atol=5e-6, rtol=0)
        reference = kornia(x.cuda(), params=params)
        torch.testing.assert_close(out, reference, atol=5e-6, rtol=0)


# Only the images that p selects are transformed: Kornia 0.9 transforms every image
# and then keeps the input where an image was not selected. The draws and the
# outputs must stay those of the class each one replaces.


def record_batch_sizes(aug: K.AugmentationBase2D) -> list[int]:
    """Make *aug* record the batch size of every apply_transform call."""
    sizes: list[int] = []
    apply = aug.apply_transform

    def recording(input: Tensor, *args: object, **kwargs: object) -> Tensor:
        sizes.append(len(input))
        out: Tensor = apply(input, *args, **kwargs)
        return out

    aug.apply_transform = recording  # type: ignore[method-assign]
    return sizes


WEIGHTS = (1.0, 2.0, 0.0, 1.0)

REPLACED = {
    'blur': (
        lambda: FastRandomGaussianBlur((7, 7), (0.1, 2.0), p=0.5),
        lambda: K.RandomGaussianBlur((7, 7), (0.1, 2.0), p=0.5),
        3,
    ),
    'rgb-grayscale': (
        lambda: FastRandomGrayscale(p=0.3),
        lambda: K.RandomGrayscale(p=0.3),
        3,
    ),
    'band-grayscale': (
        lambda: FastWeightedGrayscale(torch.tensor(WEIGHTS), p=0.3),
        lambda: RandomGrayscale(torch.tensor(WEIGHTS), p=0.3),
        4,
    ),
}


@pytest.mark.parametrize('name', list(REPLACED))
def test_selected_images_only_equal_the_replaced_class(name: str) -> None:
    fast_cls, kornia_cls, channels = REPLACED[name]
    fast, reference = fast_cls(), kornia_cls()
    x = torch.rand(32, channels, 12, 12, generator=torch.Generator().manual_seed(3))
    sizes = record_batch_sizes(fast)
    for seed in range(5):
        torch.manual_seed(seed)
        out = fast(x)
        torch.manual_seed(seed)
        expected = reference(x)
        for key, value in reference._params.items():
            assert torch.equal(fast._params[key], value), key
        assert torch.equal(out, expected)
        selected = fast._params['batch_prob'] > 0.5
        assert 0 < int(selected.sum()) < len(x)
        # the images left out are the input, and only the others were computed
        assert torch.equal(out[~selected], x[~selected])
        assert sizes[-1] == int(selected.sum())
    assert len(sizes) == 5


def test_band_grayscale_is_the_weighted_band_mean_where_selected() -> None:
    gray = FastWeightedGrayscale(torch.tensor(WEIGHTS), p=0.5)
    x = torch.rand(16, 4, 5, 5, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(0)
    out = gray(x)
    selected = gray._params['batch_prob'] > 0.5
    w = torch.tensor(WEIGHTS) / sum(WEIGHTS)
    mean = (x * w.reshape(1, 4, 1, 1)).sum(dim=1, keepdim=True).expand_as(x)
    expected = torch.where(selected.reshape(-1, 1, 1, 1), mean, x)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    assert 0 < int(selected.sum()) < len(x)


def test_multispectral_jitter_only_jitters_the_selected_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the contrast stretch sees the selected images only (it saw all of them)
    seen: list[int] = []
    stretch = getattr(intensity, '_stretch', None)

    def counting(scaled: Tensor, contrast: Tensor) -> Tensor:
        seen.append(len(scaled))
        assert stretch is not None
        out: Tensor = stretch(scaled, contrast)
        return out

    monkeypatch.setattr(intensity, '_stretch', counting, raising=False)
    jitter = MultispectralJitter(p=0.5)
    x = reflectance(40, seed=2)
    torch.manual_seed(0)
    out = jitter(x)
    params = jitter._params
    selected = params['batch_prob'] > 0.5
    assert sum(seen) == int(selected.sum()) < len(x)
    for i in range(len(x)):
        b = float(params['brightness_factor'][i])
        c = float(params['contrast_factor'][i])
        y = b * x[i]
        mean = y.mean(dim=(1, 2), keepdim=True)
        expected = c * (y - mean) + mean if selected[i] else x[i]
        torch.testing.assert_close(out[i], expected)


def test_fast_color_jitter_only_jitters_the_selected_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the fused hue kernel sees the selected images only (it saw all of them)
    seen: list[int] = []
    hue = intensity._hue

    def counting(image: Tensor, turns: Tensor) -> None:
        seen.append(len(image))
        hue(image, turns)

    monkeypatch.setattr(intensity, '_hue', counting)
    jitter = FastColorJitter(0.4, 0.4, 0.4, 0.1, p=0.5)
    x = rgb_images(40, size=8, seed=3)
    torch.manual_seed(0)
    out = jitter(x)
    selected = jitter._params['batch_prob'] > 0.5
    assert sum(seen) == int(selected.sum()) < len(x)
    assert torch.equal(out[~selected], x[~selected])
    torch.manual_seed(0)
    expected = K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.5)(x)
    torch.testing.assert_close(out, expected, atol=5e-6, rtol=0)


@pytest.mark.parametrize('p', [0.0, 1.0])
def test_selected_images_only_with_none_or_all_selected(p: float) -> None:
    x = rgb_images(6, size=8)
    for fast, reference in (
        (FastRandomGrayscale(p=p), K.RandomGrayscale(p=p)),
        (
            FastColorJitter(0.4, 0.4, 0.4, 0.1, p=p),
            K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=p),
        ),
    ):
        torch.manual_seed(0)
        out = fast(x)
        torch.manual_seed(0)
        torch.testing.assert_close(out, reference(x), atol=5e-6, rtol=0)
        assert out.data_ptr() != x.data_ptr()  # a new tensor, also when p = 0


def test_selected_images_only_keeps_gradients() -> None:
    # inputs that track gradients take Kornia's blend, which they flow through
    x = torch.rand(8, 3, 9, 9).requires_grad_()
    torch.manual_seed(1)
    out = FastRandomGaussianBlur((5, 5), (0.5, 1.5), p=0.5)(x)
    torch.manual_seed(1)
    expected = K.RandomGaussianBlur((5, 5), (0.5, 1.5), p=0.5)(x)
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    assert x.grad is not None


@pytest.mark.cuda
def test_selected_images_only_on_cuda_equal_the_cpu() -> None:
    x = rgb_images(32, size=32, seed=4)
    for aug in (
        FastColorJitter(0.4, 0.4, 0.4, 0.1, p=0.5),
        FastRandomGrayscale(p=0.5),
        FastRandomGaussianBlur((23, 23), (0.1, 2.0), p=0.5),
    ):
        torch.manual_seed(0)
        expected = aug(x)
        out = aug(x.cuda(), params=aug._params)
        assert out.device.type == 'cuda'
        torch.testing.assert_close(out.cpu(), expected, atol=5e-6, rtol=1e-5)

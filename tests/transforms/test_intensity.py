"""Tests of the intensity augmentations against plain tensor math.

Reference recipe: SSL4EO-S12's MoCo-v2 (zhu-xlab/SSL4EO-S12,
``src/benchmark/pretrain_ssl/models/rs_transforms_float32.py``): brightness
multiplies every band by one factor in [0.6, 1.4], then contrast stretches each band
around its mean by a factor in [0.6, 1.4], together with p = 0.8.
"""

import kornia.augmentation as K
import pytest
import torch
from torch import Tensor

from torchgeo_geossl.transforms import (
    ClipValues,
    MultispectralJitter,
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

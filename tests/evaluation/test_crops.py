"""Independently shifted crops of held-out views."""

import pytest
import torch

from torchgeo_geossl.evaluation import shifted_crops


def test_each_view_is_a_window_of_its_image_at_its_own_offset() -> None:
    b, v, c, h, w = 3, 2, 2, 10, 12
    views = torch.arange(b * v * c * h * w, dtype=torch.float32).reshape(b, v, c, h, w)
    crops = shifted_crops(views, 6, seed=0)
    assert crops.shape == (b, v, c, 6, 6)
    offsets = set()
    for i in range(b):
        for j in range(v):
            # the first pixel of band 0 locates the window; the rest must follow
            flat = int(crops[i, j, 0, 0, 0]) - (i * v + j) * c * h * w
            top, left = divmod(flat, w)
            assert 0 <= top <= h - 6
            assert 0 <= left <= w - 6
            expected = views[i, j, :, top : top + 6, left : left + 6]
            assert torch.equal(crops[i, j], expected)
            offsets.add((top, left))
    assert len(offsets) > 1  # views are not all cropped alike


def test_same_seed_same_crops() -> None:
    views = torch.rand(4, 2, 3, 16, 16)
    assert torch.equal(shifted_crops(views, 8, 5), shifted_crops(views, 8, 5))
    assert not torch.equal(shifted_crops(views, 8, 5), shifted_crops(views, 8, 6))


def test_crop_larger_than_view_is_refused() -> None:
    with pytest.raises(
        ValueError, match='crop size=17 must be between 1 and the view side 16'
    ):
        shifted_crops(torch.zeros(1, 2, 1, 16, 20), 17, 0)

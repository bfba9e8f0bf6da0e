"""Independently shifted crops of held-out views."""

import zlib

import numpy as np
import pytest
import torch

from torchgeo_geossl.evaluation import held_out_seeds, place_seeds, shifted_crops


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


def test_place_seeds_come_from_the_coordinates_alone() -> None:
    points = torch.tensor(
        [[1.6, 48.3], [-93.6, 42.0], [1.6, 48.3]], dtype=torch.float64
    )
    seeds = place_seeds(points)
    expected = zlib.crc32(np.array([1.6, 48.3], dtype=np.float64).tobytes())
    assert seeds[0] == seeds[2] == expected
    assert seeds[1] != seeds[0]
    assert place_seeds(points[1:2]) == seeds[1:2]


def test_per_place_seeds_make_crops_independent_of_the_batch() -> None:
    views = torch.rand(6, 2, 3, 16, 16)
    seeds = [11, 22, 33, 44, 55, 66]
    whole = shifted_crops(views, 8, seeds)
    parts = torch.cat(
        [shifted_crops(views[:4], 8, seeds[:4]), shifted_crops(views[4:], 8, seeds[4:])]
    )
    assert torch.equal(whole, parts)
    alone = shifted_crops(views[3:4], 8, seeds[3:4])
    assert torch.equal(alone, whole[3:4])
    # the two views of a place are cropped at their own offsets
    assert not all(torch.equal(whole[i, 0], whole[i, 1]) for i in range(6))


def test_one_seed_per_sample() -> None:
    with pytest.raises(ValueError, match='2 crop seeds for a batch of 3 samples'):
        shifted_crops(torch.zeros(3, 2, 1, 16, 16), 8, [1, 2])


def test_held_out_seeds_come_from_the_batch_points() -> None:
    points = torch.tensor([[1.6, 48.3], [-93.6, 42.0]], dtype=torch.float64)
    assert held_out_seeds({'image': torch.zeros(2, 1), 'point': points}) == [
        zlib.crc32(np.array(row, dtype=np.float64).tobytes()) for row in points.tolist()
    ]


def test_held_out_batch_without_points_is_refused() -> None:
    # Seeds from the batch index would make place recognition depend on the
    # batch size: the batch contract's point is required.
    with pytest.raises(ValueError, match=r"no 'point' \(its keys: image, time\)"):
        held_out_seeds({'image': torch.zeros(2, 1), 'time': torch.zeros(2, 2)})

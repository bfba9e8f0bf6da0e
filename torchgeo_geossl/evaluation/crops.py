"""Deterministic, independently shifted crops of the views of held-out places."""

import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor


def place_seeds(points: Tensor) -> list[int]:
    """Seeds of the crop offsets of places, drawn from their coordinates alone.

    A place's seed is the CRC-32 of its (lon, lat) as float64, so its crops do not
    depend on which other places share its batch, on the batch size or on the
    number of processes.

    Args:
        points: (lon, lat) of B places, ``[B, 2]`` (any float dtype, any device).

    Returns:
        B seeds, each in [0, 2**32).

    .. versionadded:: 0.2
    """
    values = torch.as_tensor(points).detach().to('cpu', torch.float64).reshape(-1, 2)
    return [zlib.crc32(row.numpy().tobytes()) for row in values]


def held_out_seeds(batch: Mapping[str, Any]) -> list[int]:
    """Seeds of the crops of the places of a held-out batch, from their points.

    Args:
        batch: A batch of places with ``point``, their (lon, lat) ``[B, 2]`` (the
            batch contract).

    Returns:
        One seed per place (:func:`place_seeds`).

    Raises:
        ValueError: If the batch has no ``point``: the crops would then depend on
            the batching, and place recognition on the batch size.

    .. versionadded:: 0.2
    """
    if 'point' not in batch:
        keys = ', '.join(sorted(map(str, batch))) or 'none'
        msg = (
            f"a held-out batch has no 'point' (its keys: {keys}): place recognition "
            "draws the crops of each place from its (lon, lat), the batch contract's "
            "'point' [B, 2] in degrees, so that they do not depend on the batching; "
            "give the samples of the held-out loader a 'point'"
        )
        raise ValueError(msg)
    return place_seeds(batch['point'])


def shifted_crops(views: Tensor, size: int, seed: int | Sequence[int]) -> Tensor:
    """Crop every view of every sample at its own random offset.

    Views of one place read from the same window are pixel-aligned; independent
    offsets make recognising the place a question of its content, not of pixel
    registration (a raw-pixel comparison of co-registered views scores well without
    learning anything). The offsets are drawn from *seed* alone, so the same batch
    and seed give the same crops, whatever model looks at them. With one seed per
    sample (:func:`place_seeds`), each sample's crops depend only on its own seed,
    not on the rest of the batch.

    Args:
        views: Images ``[B, V, C, H, W]``.
        size: Side of the square crops in pixels, at most ``min(H, W)``.
        seed: Seed of the offsets of the whole batch, or one seed per sample.

    Returns:
        The crops ``[B, V, C, size, size]``.

    Raises:
        ValueError: If *size* is not between 1 and the smaller image side, or
            there is not one seed per sample.

    .. versionadded:: 0.2

    .. versionchanged:: 0.2
       One seed per sample.
    """
    b, v, _, h, w = views.shape
    if not 1 <= size <= min(h, w):
        msg = f'crop size={size} must be between 1 and the view side {min(h, w)} px'
        raise ValueError(msg)
    if isinstance(seed, int):
        generator = torch.Generator().manual_seed(seed)
        tops = torch.randint(0, h - size + 1, (b, v), generator=generator).tolist()
        lefts = torch.randint(0, w - size + 1, (b, v), generator=generator).tolist()
    elif len(seed) != b:
        msg = f'{len(seed)} crop seeds for a batch of {b} samples: give one per sample'
        raise ValueError(msg)
    else:
        generators = [torch.Generator().manual_seed(s) for s in seed]
        tops = [
            torch.randint(0, h - size + 1, (v,), generator=g).tolist()
            for g in generators
        ]
        lefts = [
            torch.randint(0, w - size + 1, (v,), generator=g).tolist()
            for g in generators
        ]
    return torch.stack(
        [
            torch.stack(
                [
                    views[i, j, :, top : top + size, left : left + size]
                    for j, (top, left) in enumerate(zip(row_t, row_l, strict=True))
                ]
            )
            for i, (row_t, row_l) in enumerate(zip(tops, lefts, strict=True))
        ]
    )

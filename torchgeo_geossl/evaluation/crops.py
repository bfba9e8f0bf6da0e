"""Deterministic, independently shifted crops of the views of held-out places."""

import torch
from torch import Tensor


def shifted_crops(views: Tensor, size: int, seed: int) -> Tensor:
    """Crop every view of every sample at its own random offset.

    Views of one place read from the same window are pixel-aligned; independent
    offsets make recognising the place a question of its content, not of pixel
    registration (a raw-pixel comparison of co-registered views scores well without
    learning anything). The offsets are drawn from *seed* alone, so the same batch
    and seed give the same crops, whatever model looks at them.

    Args:
        views: Images ``[B, V, C, H, W]``.
        size: Side of the square crops in pixels, at most ``min(H, W)``.
        seed: Seed of the offsets.

    Returns:
        The crops ``[B, V, C, size, size]``.

    Raises:
        ValueError: If *size* is not between 1 and the smaller image side.

    .. versionadded:: 0.2
    """
    b, v, _, h, w = views.shape
    if not 1 <= size <= min(h, w):
        msg = f'crop size={size} must be between 1 and the view side {min(h, w)} px'
        raise ValueError(msg)
    generator = torch.Generator().manual_seed(seed)
    tops = torch.randint(0, h - size + 1, (b, v), generator=generator).tolist()
    lefts = torch.randint(0, w - size + 1, (b, v), generator=generator).tolist()
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

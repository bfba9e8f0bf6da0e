"""Per-band normalisation of multi-view batches on device, shared by data modules."""

from collections.abc import Sequence

import kornia.augmentation as K
import torch
from torch import Tensor, nn


def as_band_tensor(value: float | Sequence[float] | Tensor) -> Tensor:
    """Convert a scalar or per-band statistic to a 1-D float32 tensor.

    Args:
        value: Scalar, sequence or tensor of per-band values.

    Returns:
        A 1-D float32 tensor (length 1 for a scalar).

    .. versionadded:: 0.1
    """
    return torch.as_tensor(value, dtype=torch.float32).reshape(-1)


class NormalizeViews(nn.Module):
    """Normalise every view of a batch per band: clip, then ``(x - mean) / std``.

    Works on ``[B, V, C, H, W]`` batches (the batch contract) with Kornia's
    :class:`~kornia.augmentation.VideoSequential` (the same statistics for every
    view), and on single-view ``[B, C, H, W]`` batches. Statistics are scalars or
    per-band sequences of length C; they are moved to the device of the batch.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        mean: float | Sequence[float] | Tensor = 0.0,
        std: float | Sequence[float] | Tensor = 1.0,
        low: float | Sequence[float] | Tensor | None = None,
        high: float | Sequence[float] | Tensor | None = None,
    ) -> None:
        """Initialize a new NormalizeViews instance.

        Args:
            mean: Per-band (or scalar) value subtracted.
            std: Per-band (or scalar) value divided by; must be non-zero.
            low: Per-band (or scalar) lower bound of the raw values, applied before
                normalising, or None.
            high: Per-band (or scalar) upper bound of the raw values, or None.

        Raises:
            ValueError: If *std* has a zero, or if the statistics have different
                numbers of bands.
        """
        super().__init__()
        self.mean = as_band_tensor(mean)
        self.std = as_band_tensor(std)
        self.low = None if low is None else as_band_tensor(low)
        self.high = None if high is None else as_band_tensor(high)
        if bool((self.std == 0).any()):
            msg = f'std must be non-zero for every band, got {self.std.tolist()}'
            raise ValueError(msg)
        sizes = {
            len(t) for t in (self.mean, self.std, self.low, self.high) if t is not None
        }
        if len(sizes - {1}) > 1:
            msg = (
                'mean, std, low and high must be scalars or have one value per band, '
                f'got lengths mean={len(self.mean)}, std={len(self.std)}'
                + (f', low={len(self.low)}' if self.low is not None else '')
                + (f', high={len(self.high)}' if self.high is not None else '')
            )
            raise ValueError(msg)
        self.normalize = K.VideoSequential(
            K.Normalize(mean=self.mean, std=self.std),
            data_format='BTCHW',
            same_on_frame=True,
        )

    def forward(self, image: Tensor) -> Tensor:
        """Normalise a batch of images.

        Args:
            image: ``[B, V, C, H, W]`` or ``[B, C, H, W]``.

        Returns:
            The normalised images, same shape.
        """
        views = image.unsqueeze(1) if image.ndim == 4 else image
        if self.low is not None or self.high is not None:
            low, high = (
                None if t is None else t.to(views).reshape(-1, 1, 1)
                for t in (self.low, self.high)
            )
            views = torch.clamp(views, min=low, max=high)
        normalized: Tensor = self.normalize(views)
        return normalized.reshape(image.shape)

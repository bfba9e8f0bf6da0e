"""TorchGeo's OSCD change-detection data module, with crops that Kornia 0.9 accepts."""

from typing import Any, cast

import kornia.augmentation as K
import torch
from torch import Tensor, nn
from torch.utils.data import random_split
from torchgeo.datamodules import OSCDDataModule
from torchgeo.datasets import OSCD


class MaskOverFrames(nn.Module):
    """Apply a video augmentation to bi-temporal images and their one change mask.

    TorchGeo's OSCD samples hold ``image [T, C, H, W]`` (T = 2 dates) and one
    change mask ``[1, H, W]``. Kornia 0.9 refuses a mask with another number of
    frames than the video ("Video and mask must have the same number of
    frames"), so the mask is repeated over the T frames for the augmentation and
    its first frame kept: crops and flips, the same on every frame, move it with
    the images.

    .. versionadded:: 0.2
    """

    def __init__(self, augmentation: nn.Module) -> None:
        """Initialize a new MaskOverFrames instance.

        Args:
            augmentation: A Kornia ``AugmentationSequential`` with a
                ``VideoSequential`` and ``data_keys=None`` (it takes and returns a
                dict).
        """
        super().__init__()
        self.augmentation = augmentation

    def forward(self, sample: dict[str, Any]) -> dict[str, Any]:
        """Augment images and mask together.

        Args:
            sample: ``image [B, T, C, H, W]`` and optionally ``mask [B, 1, H, W]``.

        Returns:
            The augmented sample, ``mask`` again ``[B, 1, H, W]``.
        """
        mask = sample.get('mask')
        if not isinstance(mask, Tensor):
            out: dict[str, Any] = self.augmentation(sample)
            return out
        frames = sample['image'].shape[1]
        both = {**sample, 'mask': mask.expand(-1, frames, -1, -1)}
        out = self.augmentation(both)
        out['mask'] = out['mask'][:, :1]
        return out


class OSCDChangeDataModule(OSCDDataModule):
    """TorchGeo's :class:`~torchgeo.datamodules.OSCDDataModule` that runs with Kornia 0.9.

    The same data, splits, random crops and normalisation, with the crops and the
    normalisation wrapped in :class:`MaskOverFrames`: TorchGeo 0.10.1's own module
    fails on every sample with Kornia 0.9 (its one-frame change mask next to the
    two dates). The images are ``[B, 2, C, H, W]``, the masks ``[B, 1, H, W]``, as
    :class:`~torchgeo.tasks.ChangeDetection` expects. ``predict`` serves the test
    cities, cropped as for ``test`` (TorchGeo's module has no predict split).

    Use it with :class:`~torchgeo_geossl.trainers.ChangeDetectionTask`, whose
    validation figures work with Kornia 0.9 (TorchGeo's ``ChangeDetection`` fails
    on them under a TensorBoard logger or ``fast_dev_run``).

    .. versionadded:: 0.2

    .. versionchanged:: 0.2
       ``predict`` serves the test cities.
    """

    def __init__(
        self,
        batch_size: int = 32,
        patch_size: tuple[int, int] | int = 64,
        val_split_pct: float = 0.2,
        num_workers: int = 0,
        **kwargs: Any,
    ) -> None:
        """Initialize a new OSCDChangeDataModule instance.

        Args:
            batch_size: Size of each mini-batch.
            patch_size: Size of each patch, either ``size`` or ``(height, width)``;
                a multiple of 32 for U-Net-like models.
            val_split_pct: Fraction of the training cities used for validation.
            num_workers: Number of workers for parallel data loading.
            **kwargs: Passed to :class:`~torchgeo.datasets.OSCD` (``root``,
                ``bands``, ...).
        """
        super().__init__(batch_size, patch_size, val_split_pct, num_workers, **kwargs)
        self.aug = MaskOverFrames(cast(nn.Module, self.aug))

    def setup(self, stage: str) -> None:
        """Set up the datasets, as TorchGeo's OSCDDataModule does.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        transforms = MaskOverFrames(
            K.AugmentationSequential(
                K.VideoSequential(K.RandomCrop(self.patch_size)),
                data_keys=None,
                keepdim=True,
            )
        )
        if stage in ['fit', 'validate']:
            self.dataset = OSCD(split='train', transforms=transforms, **self.kwargs)
            generator = torch.Generator().manual_seed(0)
            self.train_dataset, self.val_dataset = random_split(
                self.dataset, [1 - self.val_split_pct, self.val_split_pct], generator
            )
        if stage in ['test', 'predict']:
            self.test_dataset = OSCD(split='test', transforms=transforms, **self.kwargs)
            self.predict_dataset = self.test_dataset

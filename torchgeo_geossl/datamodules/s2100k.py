"""A TorchGeo data module for S2-100K, SatCLIP's image-location pre-training set."""

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Subset, random_split
from torchgeo.datamodules import NonGeoDataModule
from torchgeo.datasets import S2100k
from torchgeo.datasets.utils import Path

from ..datasets.views import OnReadError
from .pretraining import PretrainingMixin


class S2100kDataModule(PretrainingMixin, NonGeoDataModule):
    """Image-location pairs of S2-100K (Klemmer et al., SatCLIP, AAAI 2025).

    Serves TorchGeo's :class:`~torchgeo.datasets.S2100k`: 100,000 Sentinel-2 L2A
    patches of 256 × 256 pixels with 12 bands (B1-B9, B8A, B11, B12; no B10) and
    the location of each patch. Batches hold ``image [B, 12, H, W]`` (float32,
    divided by *scale* on device, standardised by the task) and ``point [B, 2]``, (lon, lat) in degrees (float64),
    as :class:`~torchgeo_geossl.trainers.csp.CSPTask` consumes them.

    Images are divided by 10,000 by default (``mean=0``, ``std=10000``), SatCLIP's
    convention (its S2-100K transforms compute ``image / 10000.0``), which maps the
    reflectance to about [0, 1]: on device, by :attr:`rescale`. Any further
    standardisation (*mean*, *std* beyond the rescaling) is applied by the task
    (:attr:`standardize`, see
    :class:`~torchgeo_geossl.datamodules.PretrainingMixin`). SatCLIP's augmentations (flips, blur, jitter of
    the locations) are not applied; pass ``transforms`` to the dataset for them.

    Pre-training uses the whole set by default; with ``val_split_pct > 0`` a
    seeded random share is held out as :attr:`val_dataset` (SatCLIP holds out
    10 %) and training uses the rest. Self-supervised pre-training has no
    validation metric here, so :meth:`val_dataloader` returns no loaders; the held-out
    set is there for downstream evaluation.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        root: Path = 'data',
        batch_size: int = 64,
        num_workers: int = 0,
        val_split_pct: float = 0.0,
        mean: float | Sequence[float] = 0.0,
        std: float | Sequence[float] = 10_000.0,
        scale: float | Sequence[float] | None = None,
        seed: int = 0,
        on_read_error: OnReadError = 'raise',
        **kwargs: Any,
    ) -> None:
        """Initialize a new S2100kDataModule instance.

        Args:
            root: Root directory of S2-100K (holding ``index.csv`` and
                ``images/``).
            batch_size: Size of each mini-batch.
            num_workers: Number of workers for parallel data loading.
            val_split_pct: Share of the patches held out of training, in [0, 1).
            mean: Per-band (or scalar) mean of the standardisation, in raw units,
                applied by the task (:attr:`standardize`).
            std: Per-band (or scalar) standard deviation of the standardisation,
                in raw units (10,000 with mean 0: SatCLIP's ``image / 10000``).
            scale: Raw value that maps to 1 on device, before the task's
                augmentation (if any); None: *std* when *mean* is 0.
            seed: Seed of the random hold-out split and of the training order.
            on_read_error: When a file of a sample cannot be read (corrupt,
                truncated, missing): raise (``'raise'``), or leave the sample out of
                its batch with a warning (``'skip'``; see
                :class:`~torchgeo_geossl.datasets.SkipUnreadable`).
            **kwargs: Further arguments of :class:`~torchgeo.datasets.S2100k`
                (``download``, ``checksum``, ``transforms``).

        Raises:
            ValueError: If *val_split_pct* is outside [0, 1), *mode* is given,
                *std* or *scale* is not positive, or *on_read_error* is not
                ``'raise'`` or ``'skip'``.
        """
        if not 0 <= val_split_pct < 1:
            msg = f'val_split_pct must lie in [0, 1), got {val_split_pct}'
            raise ValueError(msg)
        if 'mode' in kwargs:
            msg = (
                'S2100kDataModule serves images with their points: it always uses '
                f"S2100k(mode='both'), got mode={kwargs['mode']!r}"
            )
            raise ValueError(msg)
        super().__init__(S2100k, batch_size, num_workers, root=root, **kwargs)
        self.val_split_pct = val_split_pct
        self.seed = seed
        self.on_read_error = on_read_error
        self.configure_standardization(mean, std, scale)

    def setup(self, stage: str) -> None:
        """Build the training set (and the held-out set).

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'; only 'fit'
                builds anything (self-supervised pre-training).

        Raises:
            ValueError: If the held-out share leaves no training patch.
        """
        if stage != 'fit':
            return
        dataset = S2100k(mode='both', **self.kwargs)
        if not self.val_split_pct:
            self.train_dataset = dataset
            return
        held_out = round(len(dataset) * self.val_split_pct)
        if held_out >= len(dataset):
            msg = (
                f'val_split_pct={self.val_split_pct} holds out all {len(dataset)} '
                'patches of S2-100K; lower it'
            )
            raise ValueError(msg)
        generator = torch.Generator().manual_seed(self.seed)
        train: Subset[Any]
        val: Subset[Any]
        train, val = random_split(
            dataset, [len(dataset) - held_out, held_out], generator=generator
        )
        self.train_dataset = train
        self.val_dataset = val

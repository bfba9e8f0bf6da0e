"""A TorchGeo data module for S2-100K, SatCLIP's image-location pre-training set."""

from collections.abc import Sequence
from typing import Any

from torchgeo.datamodules import NonGeoDataModule
from torchgeo.datasets import S2100k
from torchgeo.datasets.utils import Path

from ..datasets.views import OnReadError
from .pretraining import (
    PretrainingMixin,
    check_split_shares,
    held_out_subsets,
    require_held_out_share,
)


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

    S2-100K has no official split. With ``val_split_pct`` or ``test_split_pct``
    above 0, a spatial hold-out: the patches fall in blocks of *block_size*
    degrees of longitude and latitude, a seeded random share of the blocks is
    held out for validation and another for test
    (:func:`~torchgeo_geossl.evaluation.block_split`), and training uses the
    rest, so no block is shared between splits.
    :class:`~torchgeo_geossl.trainers.CSPTask` scores the held-out patches by
    image-to-location retrieval. Without a share, 'validate' and 'test' are
    refused, naming the parameter. 'predict' serves every patch of the set once.

    .. versionchanged:: 0.2
       The hold-out is spatial (blocks; was: random patches), served by
       :meth:`val_dataloader`; added *test_split_pct* and *block_size*.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        root: Path = 'data',
        batch_size: int = 64,
        num_workers: int = 0,
        val_split_pct: float = 0.0,
        test_split_pct: float = 0.0,
        block_size: float = 1.0,
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
            val_split_pct: Share of the blocks held out for validation, in [0, 1).
            test_split_pct: Share of the blocks held out for test, in [0, 1).
            block_size: Side in degrees of the blocks of the spatial hold-out.
            mean: Per-band (or scalar) mean of the standardisation, in raw units,
                applied by the task (:attr:`standardize`).
            std: Per-band (or scalar) standard deviation of the standardisation,
                in raw units (10,000 with mean 0: SatCLIP's ``image / 10000``).
            scale: Raw value that maps to 1 on device, before the task's
                augmentation (if any); None: *std* when *mean* is 0.
            seed: Seed of the spatial hold-out and of the training order.
            on_read_error: When a file of a sample cannot be read (corrupt,
                truncated, missing): raise (``'raise'``), or leave the sample out of
                its batch with a warning (``'skip'``; see
                :class:`~torchgeo_geossl.datasets.SkipUnreadable`).
            **kwargs: Further arguments of :class:`~torchgeo.datasets.S2100k`
                (``download``, ``checksum``, ``transforms``).

        Raises:
            ValueError: If *val_split_pct* or *test_split_pct* is outside [0, 1),
                *mode* is given,
                *std* or *scale* is not positive, or *on_read_error* is not
                ``'raise'`` or ``'skip'``.
        """
        check_split_shares(val_split_pct, test_split_pct)
        if 'mode' in kwargs:
            msg = (
                'S2100kDataModule serves images with their points: it always uses '
                f"S2100k(mode='both'), got mode={kwargs['mode']!r}"
            )
            raise ValueError(msg)
        super().__init__(S2100k, batch_size, num_workers, root=root, **kwargs)
        self.val_split_pct = val_split_pct
        self.test_split_pct = test_split_pct
        self.block_size = block_size
        self.seed = seed
        self.on_read_error = on_read_error
        self.configure_standardization(mean, std, scale)

    def setup(self, stage: str) -> None:
        """Build the split(s) of *stage*.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.

        Raises:
            ValueError: If *stage* needs a held-out split whose share is 0, or a
                split ends up empty (the message names the parameter).
        """
        require_held_out_share(self, stage, 'patches', 0.1)
        dataset = S2100k(mode='both', **self.kwargs)
        if stage == 'predict':
            self.predict_dataset = dataset
            return
        if not (self.val_split_pct or self.test_split_pct):
            self.train_dataset = dataset
            return
        points = dataset.index[['lon', 'lat']].to_numpy(dtype=float)
        subsets = held_out_subsets(
            dataset,
            points,
            self.block_size,
            self.val_split_pct,
            self.test_split_pct,
            self.seed,
        )
        self.train_dataset = subsets['train']
        if self.val_split_pct:
            self.val_dataset = subsets['val']
        if self.test_split_pct:
            self.test_dataset = subsets['test']

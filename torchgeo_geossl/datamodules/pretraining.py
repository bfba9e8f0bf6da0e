"""What every pre-training data module of this package shares."""

from typing import Any

from torch.utils.data import DataLoader
from torchgeo.datasets.utils import Sample

from ..faults import check_finite_batch
from .normalize import NormalizeViews
from .resumable import ResumableTrainMixin


class PretrainingMixin(ResumableTrainMixin):
    """Data module mixin: normalise views on device; no validation loaders.

    Put it before the TorchGeo data module class in the bases and set
    ``self.normalize`` (a :class:`~torchgeo_geossl.datamodules.NormalizeViews`) in
    ``__init__``. Unlike TorchGeo's ``aug``, the normalisation also applies outside a
    trainer. Self-supervised pre-training has no validation split, so
    :meth:`val_dataloader` returns no loaders. The training loader is sharded across
    processes, seeded per epoch and resumable mid-epoch
    (:class:`~torchgeo_geossl.datamodules.ResumableTrainMixin`).

    .. versionadded:: 0.1
    """

    #: The normalisation applied to every batch.
    normalize: NormalizeViews

    def on_after_batch_transfer(self, batch: Sample, dataloader_idx: int) -> Sample:
        """Check and normalise the views of a batch on the device it was moved to.

        Args:
            batch: A batch whose ``image`` is ``[B, V, C, H, W]`` (or
                ``[B, C, H, W]``).
            dataloader_idx: The index of the dataloader to which the batch belongs.

        Returns:
            The batch with a normalised ``image``.

        Raises:
            NonFiniteError: If the image holds NaN or infinite values
                (:func:`~torchgeo_geossl.faults.check_finite_batch`).
        """
        check_finite_batch(batch)
        batch['image'] = self.normalize(batch['image'])
        return batch

    def val_dataloader(self) -> Any:
        """No validation loaders: pre-training has no validation split.

        Returns:
            An empty list, which Lightning treats as "skip validation" (typed
            ``Any`` because TorchGeo's data modules declare a single loader).
        """
        loaders: list[DataLoader[Sample]] = []
        return loaders

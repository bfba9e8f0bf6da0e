"""Standardisation of the images as the last step of a task's augmentation."""

from lightning.pytorch import LightningModule
from torch import Tensor


class StandardizeMixin(LightningModule):
    """Standardise images with the data module's statistics, after augmenting.

    This package's data modules bring images to the augmentation scale ([0, 1]
    for RGB, reflectance for multispectral bands) and leave the standardisation
    (``(x - mean) / std``) to the task, so that colour augmentations never see
    standardised images (Kornia's ``ColorJitter`` clamps to [0, 1]); see
    :class:`~torchgeo_geossl.datamodules.PretrainingMixin`. Tasks call
    :meth:`standardize` as the last step of the augmentation in training, and on
    the un-augmented views when predicting.

    .. versionadded:: 0.2
    """

    def standardize(self, views: Tensor) -> Tensor:
        """Apply the attached data module's ``standardize`` to images.

        Without a trainer, or with a data module that has no ``standardize`` (e.g.
        one of TorchGeo's, whose ``aug`` already did whatever it does), the images
        are returned unchanged: whoever calls the task's methods on batches of a
        plain data loader must standardise them first, with the data module's
        ``standardize``.

        Args:
            views: Images on the augmentation scale, ``[B, V, C, H, W]`` or
                ``[B, C, H, W]``.

        Returns:
            The standardised images, same shape.
        """
        trainer = self._trainer
        datamodule = getattr(trainer, 'datamodule', None) if trainer else None
        standardize = getattr(datamodule, 'standardize', None)
        if standardize is None:
            return views
        standardized: Tensor = standardize(views)
        return standardized

"""TorchGeo's change-detection task, with validation figures that Kornia 0.9 accepts."""

import kornia.augmentation as K
import matplotlib.pyplot as plt
from einops import rearrange
from torch import Tensor, nn
from torchgeo.datasets import RGBBandsMissingError
from torchgeo.datasets.utils import Sample
from torchgeo.tasks import ChangeDetection

#: Number of validation batches per epoch whose first sample is drawn, as TorchGeo.
FIGURES = 10


def _normalization_of(datamodule: object) -> tuple[Tensor, Tensor] | None:
    """The per-band mean and std with which a data module normalises its images.

    Those of the first Kornia ``Normalize`` in its ``aug`` (TorchGeo's statistics,
    or those of pre-training after ``LoadPretrainedBackbone(normalize=True)``),
    else its ``mean`` and ``std`` attributes.

    Args:
        datamodule: The data module.

    Returns:
        Mean and std ``[C]``, or None when the data module has neither.
    """
    aug = getattr(datamodule, 'aug', None)
    if isinstance(aug, nn.Module):
        for module in aug.modules():
            if isinstance(module, K.Normalize):
                return module.flags['mean'], module.flags['std']
    mean, std = getattr(datamodule, 'mean', None), getattr(datamodule, 'std', None)
    if isinstance(mean, Tensor) and isinstance(std, Tensor):
        return mean, std
    return None


class ChangeDetectionTask(ChangeDetection):
    """TorchGeo's :class:`~torchgeo.tasks.ChangeDetection` with working figures.

    The same models, losses, metrics and logged names (``{split}_loss`` and the
    metrics of TorchGeo's task). Only the figures of the first validation
    batches differ in how they are made: TorchGeo 0.10.1 undoes the data module's
    normalisation of the whole batch with a Kornia ``VideoSequential``, which
    Kornia 0.9 refuses for the one-frame change mask next to the two dates
    (``ValueError: Video and mask must have the same number of frames``) as soon
    as the logger takes figures: with a TensorBoard logger, and with any logger
    under ``fast_dev_run`` (Lightning's ``DummyLogger``). Here the images alone are
    scaled back with the normalisation the data module applied (the first Kornia
    ``Normalize`` of its ``aug``, also after
    :class:`~torchgeo_geossl.callbacks.LoadPretrainedBackbone` replaced it, else
    its ``mean`` and ``std``), and the sample, its change mask and the prediction
    go to the data module's ``plot``, as in TorchGeo.

    Use it wherever ``torchgeo.tasks.ChangeDetection`` is used, e.g. with
    :class:`~torchgeo_geossl.datamodules.OSCDChangeDataModule` and
    :class:`~torchgeo_geossl.callbacks.LoadPretrainedBackbone`
    (``configs/seco/oscd_change_detection.yaml``).

    .. versionadded:: 0.2
    """

    def _shared_step(self, batch: Sample, batch_idx: int, stage: str) -> Tensor:
        """Compute and log the loss, update the metrics, draw validation figures.

        Args:
            batch: A batch with ``image [B, T, C, H, W]`` and ``mask [B, 1, H, W]``.
            batch_idx: Index of the batch.
            stage: ``'train'``, ``'val'`` or ``'test'``.

        Returns:
            The loss.
        """
        model: str = self.hparams['model']
        x = batch['image']
        if not model.startswith('fcsiam') and model != 'changevit':
            x = rearrange(x, 'b t c h w -> b (t c) h w')
        y = batch['mask']
        if self.hparams['task'] == 'multiclass':
            y = y.squeeze(1).long()
        y_hat: Tensor = self(x)
        if self.hparams['loss'] == 'bce':
            y = y.float()
        loss: Tensor = self.criterion(y_hat, y)
        self.log(f'{stage}_loss', loss)
        metrics = getattr(self, f'{stage}_metrics', None)
        if metrics:
            metrics(y_hat, y)
        if stage == 'val' and batch_idx < FIGURES:
            self._log_figure(batch, y_hat, batch_idx)
        return loss

    def _log_figure(self, batch: Sample, y_hat: Tensor, batch_idx: int) -> None:
        """Draw the first sample of a batch with the data module's ``plot``.

        The figure goes to every logger that takes figures (``add_figure``, e.g.
        TensorBoard, also after a CSV logger; TorchGeo asks the first logger
        only). Nothing is drawn without such a logger, a data module with
        ``plot``, or RGB bands.

        Args:
            batch: The batch, normalised by the data module.
            y_hat: The model's output for the batch.
            batch_idx: Index of the batch.
        """
        writers = [
            add_figure
            for logger in self.loggers
            if callable(
                add_figure := getattr(
                    getattr(logger, 'experiment', None), 'add_figure', None
                )
            )
        ]
        datamodule = getattr(self.trainer, 'datamodule', None)
        plot = getattr(datamodule, 'plot', None)
        if not writers or not callable(plot):
            return
        image = batch['image'][0].detach()
        scaling = _normalization_of(datamodule)
        if scaling is not None:
            mean, std = (value.to(image).view(1, -1, 1, 1) for value in scaling)
            image = image * std + mean  # per band of [T, C, H, W]
        output = y_hat[0].detach()
        if self.hparams['task'] == 'multiclass':
            prediction = output.argmax(dim=0, keepdim=True)
        else:
            prediction = (output.sigmoid() >= 0.5).long()
        sample = {
            'image': image.cpu(),
            'mask': batch['mask'][0].detach().cpu(),
            'prediction': prediction.cpu(),
        }
        try:
            figure = plot(sample)
        except RGBBandsMissingError:
            return
        if figure is not None:
            for add_figure in writers:
                add_figure(f'image/{batch_idx}', figure, global_step=self.global_step)
            plt.close(figure)

"""What every trainer of this package adds to a run: exact resume, safe checkpoints, predictions."""

from lightning.pytorch import Callback, LightningModule

from ..callbacks import default_prediction_writer
from ..checkpoint import AtomicCheckpoints
from ..resume import RestoreRNGState


class ReliableTrainingMixin(LightningModule):
    """Resume exactly and write checkpoints atomically.

    Put it before :class:`~torchgeo.tasks.BaseTask` in the bases of a task:

    * :meth:`configure_callbacks` adds
      :class:`~torchgeo_geossl.resume.RestoreRNGState`, so that a run resumed from
      a checkpoint draws the same random numbers as an uninterrupted one (and the
      processes of a distributed run draw different ones);
    * it also adds :class:`~torchgeo_geossl.checkpoint.AtomicCheckpoints`, which
      installs :class:`~torchgeo_geossl.checkpoint.AtomicCheckpointIO` at setup,
      before ``--ckpt_path`` is read, unless the trainer has a checkpoint IO of
      the user's (:func:`~torchgeo_geossl.checkpoint.use_atomic_io`): a failed
      write never destroys the previous checkpoint, and a damaged checkpoint is
      named with what is wrong with it;
    * when predicting without a prediction writer of the user's, it adds
      :class:`~torchgeo_geossl.callbacks.GeoParquetWriter`
      (:func:`~torchgeo_geossl.callbacks.default_prediction_writer`).

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       The checkpoint IO is installed at setup (was: at the start of training).
    """

    def configure_callbacks(self) -> list[Callback]:
        """Callbacks that every run of the task uses.

        Returns:
            :class:`~torchgeo_geossl.resume.RestoreRNGState`,
            :class:`~torchgeo_geossl.checkpoint.AtomicCheckpoints` and, when
            predicting without a prediction writer of the user's,
            :class:`~torchgeo_geossl.callbacks.GeoParquetWriter`.
        """
        return [
            RestoreRNGState(),
            AtomicCheckpoints(),
            *default_prediction_writer(self._trainer),
        ]

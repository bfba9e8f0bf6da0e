"""What every trainer of this package adds to a run: exact resume, safe checkpoints."""

from lightning.pytorch import Callback, LightningModule

from ..checkpoint import use_atomic_io
from ..resume import RestoreRNGState


class ReliableTrainingMixin(LightningModule):
    """Resume exactly and write checkpoints atomically.

    Put it before :class:`~torchgeo.tasks.BaseTask` in the bases of a task:

    * :meth:`configure_callbacks` adds
      :class:`~torchgeo_geossl.resume.RestoreRNGState`, so that a run resumed from
      a checkpoint draws the same random numbers as an uninterrupted one (and the
      processes of a distributed run draw different ones);
    * :meth:`on_train_start` installs
      :class:`~torchgeo_geossl.checkpoint.AtomicCheckpointIO` unless the trainer has
      a checkpoint IO of the user's (:func:`~torchgeo_geossl.checkpoint.use_atomic_io`),
      so that a failed write never destroys the previous checkpoint.

    .. versionadded:: 0.1
    """

    def configure_callbacks(self) -> list[Callback]:
        """Callbacks that every run of the task uses.

        Returns:
            :class:`~torchgeo_geossl.resume.RestoreRNGState`.
        """
        return [RestoreRNGState()]

    def on_train_start(self) -> None:
        """Write checkpoints atomically (:func:`~torchgeo_geossl.checkpoint.use_atomic_io`)."""
        use_atomic_io(self.trainer)

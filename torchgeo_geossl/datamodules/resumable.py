"""A training loader sharded across processes, seeded per epoch and resumable."""

from typing import Any, cast

from torch.utils.data import DataLoader, Dataset, default_collate
from torchgeo.datamodules import BaseDataModule
from torchgeo.datamodules.utils import MisconfigurationException
from torchgeo.datasets.utils import Sample
from torchgeo.samplers import SpatioTemporalSampler

from ..datasets.skipping import SkipUnreadable
from ..datasets.views import OnReadError, _check_choice, stack_samples_skipping
from ..resume import ResumableDataLoader
from ..samplers.distributed import ShardedGeoSampler, ShardedIndexSampler


class ResumableTrainMixin(BaseDataModule):
    """Data module mixin: a training loader that shards, reseeds and resumes.

    Put it before the TorchGeo data module class in the bases. Its
    :meth:`train_dataloader` is a
    :class:`~torchgeo_geossl.resume.ResumableDataLoader` over

    * a :class:`~torchgeo_geossl.samplers.ShardedGeoSampler` of ``train_sampler``
      when :meth:`setup` sets one (a ``spatial @ temporal`` composition), or
    * a :class:`~torchgeo_geossl.samplers.ShardedIndexSampler` of
      ``train_dataset`` (map-style datasets).

    Both draw each epoch from the data module's ``seed`` (when it has an integer
    one; else Lightning's ``seed_everything`` seed) and the epoch number, give each
    process (the trainer's rank and world size) its own share, and are
    :class:`~torch.utils.data.DistributedSampler` instances, so Lightning does not
    wrap them whatever ``use_distributed_sampler`` says. Lightning stores the
    loader's position in checkpoints and resumes mid-epoch from it. Incomplete
    batches are dropped.

    With ``on_read_error = 'skip'``, a map-style training set is wrapped in
    :class:`~torchgeo_geossl.datasets.SkipUnreadable` and collated with
    :func:`~torchgeo_geossl.datasets.stack_samples_skipping`: samples whose files
    cannot be read are left out of their batch, with a warning, and counted in its
    ``skipped``. (A ``spatial @ temporal`` training set handles its read errors
    itself: :class:`~torchgeo_geossl.datasets.TemporalViewsDataset`.)

    .. versionadded:: 0.1
    """

    _on_read_error: OnReadError = 'raise'

    @property
    def on_read_error(self) -> OnReadError:
        """What to do with a sample whose files cannot be read: ``'raise'`` or ``'skip'``.

        Raises:
            ValueError: When set to anything else.
        """
        return self._on_read_error

    @on_read_error.setter
    def on_read_error(self, value: OnReadError) -> None:
        _check_choice('on_read_error', value, OnReadError)
        self._on_read_error = value

    def train_dataloader(self) -> DataLoader[Sample]:
        """The sharded, resumable training loader.

        Returns:
            A :class:`~torchgeo_geossl.resume.ResumableDataLoader`.

        Raises:
            MisconfigurationException: If :meth:`setup` defined no training set.
        """
        dataset = self.train_dataset
        if dataset is None:
            msg = f'{type(self).__name__}.setup must define train_dataset.'
            raise MisconfigurationException(msg)
        num_replicas, rank = self._shard()
        seed = getattr(self, 'seed', None)
        seed = seed if isinstance(seed, int) else None
        composed = getattr(self, 'train_sampler', None)
        collate_fn = getattr(self, 'collate_fn', default_collate)
        sampler: ShardedGeoSampler | ShardedIndexSampler
        if isinstance(composed, SpatioTemporalSampler):
            sampler = ShardedGeoSampler(
                composed, num_replicas=num_replicas, rank=rank, seed=seed
            )
        else:
            sampler = ShardedIndexSampler(
                dataset, num_replicas=num_replicas, rank=rank, seed=seed
            )
            if self.on_read_error == 'skip':
                dataset = cast(Dataset[Sample], SkipUnreadable(dataset))
                collate_fn = stack_samples_skipping
        return ResumableDataLoader(
            dataset,
            sampler=sampler,
            batch_size=self.train_batch_size or self.batch_size,
            num_workers=self.num_workers,
            collate_fn=collate_fn,
            drop_last=True,
            persistent_workers=self.num_workers > 0,
        )

    def _shard(self) -> tuple[int | None, int | None]:
        """Number of processes and rank of this one, from the trainer.

        Returns:
            The trainer's ``distributed_sampler_kwargs``, or ``(None, None)``
            (torch.distributed's, or a single process) without a parallel trainer.
        """
        trainer = self.trainer
        kwargs: dict[str, Any] | None = (
            trainer.distributed_sampler_kwargs if trainer is not None else None
        )
        if not kwargs:
            return None, None
        return int(kwargs['num_replicas']), int(kwargs['rank'])

"""Exact mid-epoch resume: a stateful training loader and the RNG states."""

import random
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch import Callback, LightningModule, Trainer
from numpy.random import SeedSequence
from torch.utils.data import DataLoader, Dataset, Sampler

from .models.distributed import world_size
from .samplers.distributed import ResumableSampler

#: Spawn key of the per-epoch seed of DataLoader workers.
_WORKERS = 2


class ResumableDataLoader(DataLoader[Any]):
    """A DataLoader that Lightning checkpoints and resumes mid-epoch.

    It counts the batches it has handed to the training loop in the current epoch
    (batches prefetched by workers are not counted). :meth:`state_dict` turns that
    count into the position of its sampler, a
    :class:`~torchgeo_geossl.samplers.ResumableSampler` such as
    :class:`~torchgeo_geossl.samplers.ShardedGeoSampler`; Lightning (2.2 or later)
    stores it in checkpoints and, on resume, passes it to :meth:`load_state_dict`
    before the first batch. The resumed epoch then starts right after the
    consumed samples, which are neither loaded nor drawn again.

    Iterating is lazy: the sampler is first read when the first batch is requested,
    after Lightning's ``set_epoch``. The loader has its own ``generator``, reseeded
    from the sampler's seed, the epoch and the rank before each iteration, so that
    the seeds of its worker processes never come from the global torch generator.

    Mid-epoch resume is exact when the dataset draws no random numbers in worker
    processes (it may draw from the global generators with ``num_workers=0``:
    :class:`RestoreRNGState` restores those).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        dataset: Dataset[Any],
        *,
        sampler: ResumableSampler | Sampler[Any],
        **kwargs: Any,
    ) -> None:
        """Initialize a new ResumableDataLoader instance.

        Args:
            dataset: Dataset to load from.
            sampler: The sampler, normally a resumable one (with ``state_at`` and
                ``load_state_dict``); with another sampler (as Lightning's
                ``overfit_batches`` substitutes), a resumed epoch restarts from its
                beginning.
            **kwargs: Further :class:`~torch.utils.data.DataLoader` arguments
                (``batch_size``, ``num_workers``, ``collate_fn``, ``drop_last``,
                ...); not ``batch_sampler`` or ``shuffle``.
        """
        kwargs.setdefault('generator', torch.Generator())
        super().__init__(dataset, sampler=sampler, **kwargs)
        self._resumable = sampler if isinstance(sampler, ResumableSampler) else None
        #: Batches handed to the training loop in epoch :attr:`_epoch`.
        self._batches = 0
        self._epoch = self._resumable.epoch if self._resumable is not None else 0
        #: ``(epoch, batches)`` consumed before the checkpoint being resumed.
        self._resume: tuple[int, int] | None = None

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        """Iterate over the batches of the sampler's current epoch.

        Returns:
            A lazy iterator over the batches; it starts the DataLoader (and reads
            the sampler) at the first ``next``.
        """
        return self._iterate()

    def _current_epoch(self) -> int:
        """The epoch of the sampler.

        Returns:
            The resumable sampler's epoch, or the last iteration's.
        """
        return self._resumable.epoch if self._resumable is not None else self._epoch

    def _iterate(self) -> Iterator[Any]:
        """Yield batches, counting those handed out.

        Yields:
            Batches of the current epoch, after any consumed before a resume.
        """
        epoch = self._current_epoch()
        resume, self._resume = self._resume, None
        self._batches = resume[1] if resume is not None and resume[0] == epoch else 0
        self._epoch = epoch
        sampler = self._resumable
        if sampler is not None and self.generator is not None:
            entropy = SeedSequence(
                sampler.seed, spawn_key=(epoch, _WORKERS, sampler.rank)
            )
            self.generator.manual_seed(int(entropy.generate_state(2, np.uint64)[0]))
        for batch in super().__iter__():
            self._batches += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        """The training position: batches consumed in the epoch, sampler positions.

        The positions of all processes are gathered (they differ where processes
        skipped different locations); under DDP every process must call this
        together, as Lightning does when it saves a checkpoint.

        Returns:
            ``batches``, and with a resumable sampler ``sampler`` (its
            ``state_at`` the consumed samples) and ``processes`` (the ``sampler``
            state of every process, by rank).
        """
        batches = self._batches if self._epoch == self._current_epoch() else 0
        if self._resumable is None:
            return {'batches': batches}
        consumed = batches * (self.batch_size or 1)
        sampler = self._resumable.state_at(consumed)
        processes: list[Any] = [sampler]
        if world_size() > 1:
            processes = [None] * dist.get_world_size()
            dist.all_gather_object(processes, sampler)
        return {'batches': batches, 'sampler': sampler, 'processes': processes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume after the batches a checkpoint had consumed.

        Each process takes its own sampler position when the checkpoint was
        written by as many processes as this run has.

        Args:
            state: A :meth:`state_dict`.

        Raises:
            ValueError: If *state* was not written by a ResumableDataLoader.
        """
        if 'batches' not in state:
            msg = (
                'ResumableDataLoader.load_state_dict: the checkpoint holds the state '
                f'of another loader (keys: {sorted(state)})'
            )
            raise ValueError(msg)
        if self._resumable is None or 'sampler' not in state:
            sampler_name = type(self.sampler).__name__
            warnings.warn(
                f'ResumableDataLoader: cannot resume mid-epoch with a '
                f'{sampler_name} or from a checkpoint without a sampler position; '
                'the epoch restarts from its beginning',
                UserWarning,
                stacklevel=2,
            )
            return
        sampler = state['sampler']
        processes = state.get('processes', [])
        rank = self._resumable.rank
        if len(processes) > rank and processes[rank]['num_replicas'] == len(processes):
            sampler = processes[rank]
        resumed = self._resumable.load_state_dict(sampler)
        # an epoch the sampler restarts counts its batches from 0 again
        self._resume = (int(sampler['epoch']), int(state['batches']) if resumed else 0)


def get_rng_states() -> dict[str, Any]:
    """The states of the global random number generators of this process.

    Returns:
        The states of torch (CPU and, when available, every CUDA device), NumPy's
        global generator and Python's :mod:`random`, as tensors, numbers and
        tuples (loadable with ``torch.load(weights_only=True)``).

    .. versionadded:: 0.1
    """
    numpy_state = np.random.get_state(legacy=False)
    states: dict[str, Any] = {
        'torch': torch.get_rng_state(),
        'numpy': {
            'key': torch.from_numpy(numpy_state['state']['key'].astype(np.int64)),
            'pos': int(numpy_state['state']['pos']),
            'has_gauss': int(numpy_state['has_gauss']),
            'gauss': float(numpy_state['gauss']),
        },
        'python': random.getstate(),
    }
    if torch.cuda.is_available():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def seed_process(base: int, rank: int) -> None:
    """Seed this process's global generators from a base seed and its rank.

    Lightning seeds every process of a distributed run with the same seed, so
    each would draw the same augmentations, SeCo seasons and CSP random
    locations. Seeding from ``(base, rank)`` keeps a run reproducible per seed
    while every process draws its own numbers.

    Args:
        base: Seed shared by all processes (e.g. ``torch.initial_seed()`` after
            ``seed_everything``).
        rank: Global rank of this process.

    .. versionadded:: 0.1
    """
    state = SeedSequence([base, rank]).generate_state(2, dtype=np.uint64)
    torch.manual_seed(int(state[0]) >> 1)
    np.random.seed(int(state[1]) % 2**32)
    random.seed(int(state[1]))


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore the global random number generators from :func:`get_rng_states`.

    Args:
        states: States of :func:`get_rng_states`.

    .. versionadded:: 0.1
    """
    torch.set_rng_state(states['torch'])
    numpy_state = states['numpy']
    np.random.set_state(
        {
            'bit_generator': 'MT19937',
            'state': {
                'key': numpy_state['key'].numpy().astype(np.uint32),
                'pos': numpy_state['pos'],
            },
            'has_gauss': numpy_state['has_gauss'],
            'gauss': numpy_state['gauss'],
        }
    )
    version, internal, gauss = states['python']
    random.setstate((version, tuple(internal), gauss))
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


class RestoreRNGState(Callback):
    """Save the random number generator states in checkpoints; restore them on resume.

    Augmentations draw from the global generators (Kornia from torch's, on the
    training device). ``seed_everything`` and ``Trainer(deterministic=True)`` only
    fix them at the start of a run, and loading a checkpoint, building the model
    and the loaders consume random numbers, so a resumed run would otherwise
    augment differently from an uninterrupted one.

    Every checkpoint stores the states of every process (:func:`get_rng_states`,
    gathered from all processes under DDP). When training resumes from it, each
    process restores its own states at ``on_train_start``, after everything that
    resuming consumes and before the first batch is fetched. A checkpoint written
    by another number of processes restores nothing (with a warning).

    A distributed run that does not resume from such states seeds every process
    from the seed they share and its rank (:func:`seed_process`), at the same
    point: the processes then augment differently, reproducibly per seed.

    Every trainer of this package adds it itself
    (:class:`~torchgeo_geossl.trainers.ReliableTrainingMixin`).

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        """Initialize a new RestoreRNGState instance."""
        self._pending: list[dict[str, Any]] | None = None

    def state_dict(self) -> dict[str, Any]:
        """The RNG states of all processes, for the checkpoint.

        Under DDP every process must call this together (Lightning saves
        checkpoints on all processes).

        Returns:
            ``{'processes': [states of rank 0, rank 1, ...]}``.
        """
        states = get_rng_states()
        if world_size() > 1:
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, states)
            return {'processes': gathered}
        return {'processes': [states]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Keep the checkpoint's RNG states until training starts.

        Args:
            state_dict: A :meth:`state_dict`.
        """
        self._pending = list(state_dict['processes'])

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Restore this process's RNG states of the checkpoint being resumed.

        Args:
            trainer: The trainer.
            pl_module: The module being trained.
        """
        pending, self._pending = self._pending, None
        if pending is not None and len(pending) == trainer.world_size:
            set_rng_states(pending[trainer.global_rank])
            return
        if pending is not None:
            warnings.warn(
                f'RestoreRNGState: the checkpoint holds the RNG states of '
                f'{len(pending)} processes, this run has {trainer.world_size}; '
                'random number generators are not restored',
                UserWarning,
                stacklevel=2,
            )
        if trainer.world_size > 1:
            seed_process(torch.initial_seed(), trainer.global_rank)

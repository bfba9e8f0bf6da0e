"""Samplers that shard an epoch across processes, seeded per epoch and resumable."""

import math
import os
import warnings
from array import array
from collections.abc import Iterator, Sized
from itertools import islice
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

import numpy as np
import torch.distributed as dist
from numpy.random import SeedSequence
from torch.utils.data import Dataset, DistributedSampler
from torchgeo.samplers import (
    RandomPatchSampler,
    RandomPeriodSampler,
    RandomTimedeltaSampler,
    RandomTimestampSampler,
    SpatioTemporalSampler,
)

from .temporal_views import TemporalViewSampler

T = TypeVar('T')

#: Temporal samplers that yield at most one query per location, from a generator.
_OneQuerySampler = (
    TemporalViewSampler
    | RandomTimestampSampler
    | RandomTimedeltaSampler
    | RandomPeriodSampler
)

#: Keys of :meth:`ShardedGeoSampler.state_at` and :meth:`ShardedIndexSampler.state_at`.
_STATE_KEYS = ('epoch', 'seed', 'num_replicas', 'consumed', 'position')

#: Spawn keys that keep the random streams of one epoch apart.
_SPATIAL, _TEMPORAL = 0, 1


@runtime_checkable
class ResumableSampler(Protocol):
    """A sampler whose epoch is a function of its seed and epoch, resumable mid-epoch.

    :class:`~torchgeo_geossl.resume.ResumableDataLoader` stores :meth:`state_at` of
    the queries its batches consumed in Lightning checkpoints and passes it back to
    :meth:`load_state_dict` on resume.

    .. versionadded:: 0.1
    """

    #: The epoch the next iteration draws (set by :meth:`set_epoch`).
    epoch: int
    #: Seed shared by all processes.
    seed: int
    #: Rank of this process.
    rank: int

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the items of the current epoch."""

    def __len__(self) -> int:
        """Number of items per epoch."""

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch the next iteration draws."""

    def state_at(self, consumed: int) -> dict[str, int]:
        """The state after *consumed* items of the current epoch were used."""

    def load_state_dict(self, state: dict[str, int]) -> bool:
        """Make the next iteration of ``state['epoch']`` resume after its items.

        Returns True if it will, False if the epoch restarts from its beginning.
        """


def shared_seed(seed: int | None, num_replicas: int) -> int:
    """The seed all processes of a run share.

    Args:
        seed: An explicit seed, or None.
        num_replicas: Number of processes.

    Returns:
        *seed*; else ``PL_GLOBAL_SEED`` (set by Lightning's ``seed_everything``,
        the same in every process); else, in a single process, fresh entropy.

    Raises:
        ValueError: If *seed* is negative, or None while ``seed_everything`` was
            not called and *num_replicas* > 1 (each process would draw its own
            stream).

    .. versionadded:: 0.1
    """
    if seed is not None:
        if seed < 0:
            raise ValueError(f'seed must be a non-negative integer, got {seed}')
        return seed
    if 'PL_GLOBAL_SEED' in os.environ:
        return int(os.environ['PL_GLOBAL_SEED'])
    if num_replicas > 1:
        msg = (
            f'seed=None with {num_replicas} processes: each would draw its own '
            'stream and their samples would overlap; pass a seed or call '
            'lightning.seed_everything'
        )
        raise ValueError(msg)
    return int(SeedSequence().generate_state(1)[0])


def _world(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    """Number of processes and rank, from torch.distributed when not given.

    Args:
        num_replicas: Number of processes, or None.
        rank: Rank of this process, or None.

    Returns:
        ``(num_replicas, rank)``; ``(1, 0)`` without an initialised process group.

    Raises:
        ValueError: If *rank* is not in ``[0, num_replicas)``.
    """
    initialized = dist.is_available() and dist.is_initialized()
    if num_replicas is None:
        num_replicas = dist.get_world_size() if initialized else 1
    if rank is None:
        rank = dist.get_rank() if initialized else 0
    if num_replicas < 1 or not 0 <= rank < num_replicas:
        msg = f'rank must lie in [0, num_replicas), got rank={rank}, num_replicas={num_replicas}'
        raise ValueError(msg)
    return num_replicas, rank


class _ResumableShards(DistributedSampler[T]):
    """Epoch and resume bookkeeping shared by the sharded samplers."""

    #: Whether the seed was given (else drawn, and replaced by a checkpoint's).
    _seed_given: bool
    #: ``(epoch, consumed, position)`` that the next iteration resumes from.
    _resume: tuple[int, int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch the next iteration draws.

        Lightning calls this before every training epoch. A resume position loaded
        for another epoch is dropped.

        Args:
            epoch: Epoch number.
        """
        if self._resume is not None and self._resume[0] != epoch:
            self._resume = None
        super().set_epoch(epoch)

    def load_state_dict(self, state: dict[str, int]) -> bool:
        """Make the next iteration of ``state['epoch']`` skip the consumed items.

        The consumed items are not loaded again (and :class:`ShardedGeoSampler`
        does not even draw them again).

        Args:
            state: A :meth:`state_at` of this kind of sampler.

        Returns:
            True if the next iteration resumes after the consumed items; False if
            the epoch restarts from its beginning (the state was written by
            another number of processes or with another seed; a warning says so).

        Raises:
            ValueError: If *state* lacks keys.
        """
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            msg = (
                f'{type(self).__name__}.load_state_dict: the state has no {missing} '
                f'(keys: {sorted(state)}); it was not written by this sampler'
            )
            raise ValueError(msg)
        self.epoch = int(state['epoch'])
        self._resume = None
        if state['num_replicas'] != self.num_replicas:
            warnings.warn(
                f'{type(self).__name__}: the checkpoint was written by '
                f'{state["num_replicas"]} processes, this run has '
                f'{self.num_replicas}; epoch {self.epoch} restarts from its beginning',
                UserWarning,
                stacklevel=2,
            )
            return False
        if state['seed'] != self.seed:
            if self._seed_given:
                warnings.warn(
                    f'{type(self).__name__}: the checkpoint was drawn with seed '
                    f'{state["seed"]}, this run has seed {self.seed}; epoch '
                    f'{self.epoch} restarts from its beginning',
                    UserWarning,
                    stacklevel=2,
                )
                return False
            self.seed = int(state['seed'])
        self._resume = (self.epoch, int(state['consumed']), int(state['position']))
        return True

    def _start(self) -> tuple[int, int]:
        """Where this iteration starts; forgets the resume position.

        Returns:
            Items already consumed in this epoch, and the position after them.
        """
        resume, self._resume = self._resume, None
        if resume is None or resume[0] != self.epoch:
            return 0, 0
        return resume[1], resume[2]


class ShardedGeoSampler(_ResumableShards[Any]):
    """Random patch queries of one seeded stream per epoch, split across processes.

    Wraps a ``spatial @ temporal`` composition whose spatial sampler draws random
    locations (:class:`~torchgeo.samplers.RandomPatchSampler`,
    :class:`~torchgeo_geossl.samplers.ScatteredPatchSampler`) and whose temporal
    sampler yields at most one query per location
    (:class:`~torchgeo_geossl.samplers.TemporalViewSampler`, or a TorchGeo temporal
    sampler with the ``'random'`` strategy).

    **One stream per (seed, epoch).** Epoch *e* draws rounds of ``length`` locations
    (``len(spatial)``), round *c* with a generator seeded by ``(seed, e, c)``, and
    numbers them 0, 1, 2, ... in drawing order. The query at location *i* is drawn
    with a generator seeded by ``(seed, e, i)``, so it does not depend on which
    process draws it or on what was drawn before.

    **Sharding.** Process *rank* of *num_replicas* takes the locations
    ``rank, rank + num_replicas, ...``: the processes draw distinct locations, and
    each draws only its own share of the queries (the spatial rounds, vectorised,
    are drawn by all). Without skipped locations, and with ``length`` a multiple
    of *num_replicas*, the processes together yield exactly the queries of one
    process, interleaved.

    **Fixed epoch length.** Every process yields exactly
    ``ceil(length / num_replicas)`` queries (:meth:`__len__`), so that DDP
    processes run the same number of steps: a location at which the temporal
    sampler yields nothing (too few dates, uncovered) is made up for by the next
    own location, from further rounds when needed (at most *max_rounds* extra).

    **Resume.** :meth:`state_at` and :meth:`load_state_dict` let
    :class:`~torchgeo_geossl.resume.ResumableDataLoader` store the position in a
    checkpoint and continue the epoch after the consumed queries, which are not
    drawn again.

    A :class:`~torch.utils.data.DistributedSampler`, so Lightning neither replaces
    nor wraps it, and calls :meth:`set_epoch` before every epoch; call it yourself
    outside Lightning, or every iteration repeats epoch 0. Each iteration replaces
    the ``generator`` of the wrapped samplers.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        sampler: SpatioTemporalSampler,
        *,
        num_replicas: int | None = None,
        rank: int | None = None,
        seed: int | None = None,
        max_rounds: int = 10,
    ) -> None:
        """Initialize a new ShardedGeoSampler instance.

        Args:
            sampler: ``spatial @ temporal``, with a random spatial sampler.
            num_replicas: Number of processes (default: the world size of
                torch.distributed, or 1).
            rank: Rank of this process (default: from torch.distributed, or 0).
            seed: Seed shared by all processes (default: see :func:`shared_seed`).
            max_rounds: Extra rounds of ``length`` locations drawn at most to make
                up for locations without a query.

        Raises:
            TypeError: If *sampler* is not a composition of the supported samplers.
            ValueError: If *rank*, *max_rounds* or the spatial length is invalid,
                or *seed* is None with several processes and no ``seed_everything``.
        """
        if not isinstance(sampler, SpatioTemporalSampler):
            msg = (
                'ShardedGeoSampler wraps a spatial @ temporal composition, e.g. '
                'ScatteredPatchSampler(ds, size=64) @ TemporalViewSampler(ds); got '
                f'{type(sampler).__name__}'
            )
            raise TypeError(msg)
        spatial, temporal = sampler.spatial_sampler, sampler.temporal_sampler
        if not isinstance(spatial, RandomPatchSampler):
            msg = (
                'ShardedGeoSampler needs a spatial sampler that draws random '
                'locations (RandomPatchSampler, ScatteredPatchSampler), got '
                f'{type(spatial).__name__}'
            )
            raise TypeError(msg)
        if not isinstance(temporal, _OneQuerySampler):
            msg = (
                'ShardedGeoSampler needs a temporal sampler that yields at most one '
                'query per location (TemporalViewSampler, RandomTimestampSampler, '
                f'RandomTimedeltaSampler, RandomPeriodSampler), got '
                f'{type(temporal).__name__}'
            )
            raise TypeError(msg)
        if max_rounds < 0:
            raise ValueError(f'max_rounds must be >= 0, got {max_rounds}')
        self.spatial: RandomPatchSampler = spatial
        self.temporal: _OneQuerySampler = temporal
        self.length = len(spatial)
        if self.length < 1:
            raise ValueError(f'the spatial sampler draws {self.length} locations')
        self.max_rounds = max_rounds
        num_replicas, rank = _world(num_replicas, rank)
        self._seed_given = seed is not None
        # Sized by the locations of one round: len(sampler) of a TorchGeo
        # random @ sequential composition would iterate a whole epoch
        super().__init__(
            cast(Dataset[int], range(self.length)),
            num_replicas=num_replicas,
            rank=rank,
            shuffle=True,
            seed=shared_seed(seed, num_replicas),
        )
        #: Own-location count after each query yielded in the current iteration.
        self._trail = array('q')
        #: ``(epoch, consumed, position)`` at the start of the current iteration.
        self._base = (0, 0, 0)

    def __len__(self) -> int:
        """Queries per process and epoch.

        Returns:
            ``ceil(length / num_replicas)``.
        """
        return math.ceil(self.length / self.num_replicas)

    def __iter__(self) -> Iterator[Any]:
        """Draw this process's queries of the current epoch.

        Yields:
            Queries of the temporal sampler (for example
            :class:`~torchgeo_geossl.samplers.ViewsQuery`).

        Raises:
            RuntimeError: If too few locations yield a query within *max_rounds*.
        """
        consumed, own = self._start()
        epoch, quota, step = self.epoch, len(self), self.num_replicas
        self._trail = array('q')
        self._base = (epoch, consumed, own)
        rounds = self.max_rounds + 1
        locations: list[tuple[slice, slice]] = []
        current_round = -1
        while consumed < quota:
            index = own * step + self.rank
            round_, offset = divmod(index, self.length)
            if round_ >= rounds:
                self._exhausted(consumed, quota, rounds)
            if round_ != current_round:
                self.spatial.generator = self._generator(epoch, _SPATIAL, round_)
                locations = list(islice(iter(self.spatial), self.length))
                current_round = round_
            own += 1
            if offset >= len(locations):
                continue
            self.temporal.generator = self._generator(epoch, _TEMPORAL, index)
            query = next(iter(self.temporal._iter_subset(locations[offset])), None)
            if query is None:
                continue
            consumed += 1
            self._trail.append(own)
            yield query

    def state_at(self, consumed: int) -> dict[str, int]:
        """The position after *consumed* queries of the current epoch.

        Args:
            consumed: Queries of this process used so far in the epoch (counted
                from the start of the epoch, including those before a resume).

        Returns:
            ``epoch``, ``seed``, ``num_replicas``, ``consumed`` and ``position``
            (own locations visited), for :meth:`load_state_dict`.
        """
        epoch, base, own = self._base
        if epoch != self.epoch:
            base, own = 0, 0
            consumed = 0
        elif consumed > base and self._trail:
            done = min(consumed - base, len(self._trail))
            consumed, own = base + done, self._trail[done - 1]
        else:
            consumed = base
        return {
            'epoch': self.epoch,
            'seed': self.seed,
            'num_replicas': self.num_replicas,
            'consumed': consumed,
            'position': own,
        }

    def _generator(self, epoch: int, kind: int, index: int) -> np.random.Generator:
        """The generator of one round or one location.

        Args:
            epoch: Epoch number.
            kind: ``_SPATIAL`` or ``_TEMPORAL``.
            index: Round or location number.

        Returns:
            A generator seeded by ``(seed, epoch, kind, index)``.
        """
        return np.random.default_rng(
            SeedSequence(self.seed, spawn_key=(epoch, kind, index))
        )

    def _exhausted(self, found: int, quota: int, rounds: int) -> None:
        """Explain that too few locations yield a query.

        Args:
            found: Queries found.
            quota: Queries needed.
            rounds: Rounds of locations drawn.

        Raises:
            RuntimeError: Always.
        """
        report = (
            f' ({self.temporal.report()})'
            if isinstance(self.temporal, TemporalViewSampler)
            else ''
        )
        msg = (
            f'ShardedGeoSampler: process {self.rank} of {self.num_replicas} found '
            f'only {found} of its {quota} queries of epoch {self.epoch} in {rounds} '
            f'rounds of {self.length} locations; almost no location yields a query'
            + report
            + '. Relax the temporal constraints or narrow roi to where the dates are'
        )
        raise RuntimeError(msg)


class ShardedIndexSampler(_ResumableShards[int]):
    """Torch's seeded, sharded shuffle of a map-style dataset, resumable mid-epoch.

    A :class:`~torch.utils.data.DistributedSampler` (``shuffle=True``: one
    permutation per ``seed + epoch``, split across processes, padded to equal
    shares) that also works in a single process and can resume after the indices
    its batches consumed (:meth:`state_at`, :meth:`load_state_dict`). Lightning
    neither replaces nor wraps it.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        dataset: Dataset[Any],
        *,
        num_replicas: int | None = None,
        rank: int | None = None,
        seed: int | None = None,
    ) -> None:
        """Initialize a new ShardedIndexSampler instance.

        Args:
            dataset: Map-style dataset to sample indices of.
            num_replicas: Number of processes (default: the world size of
                torch.distributed, or 1).
            rank: Rank of this process (default: from torch.distributed, or 0).
            seed: Seed shared by all processes (default: see :func:`shared_seed`).

        Raises:
            TypeError: If *dataset* has no length.
            ValueError: If *rank* is invalid or *dataset* is empty, or *seed* is
                None with several processes and no ``seed_everything``.
        """
        if not isinstance(dataset, Sized):
            msg = (
                'ShardedIndexSampler needs a map-style dataset with a length, got '
                f'{type(dataset).__name__}'
            )
            raise TypeError(msg)
        if len(dataset) == 0:
            raise ValueError(f'{type(dataset).__name__} is empty: nothing to sample')
        num_replicas, rank = _world(num_replicas, rank)
        self._seed_given = seed is not None
        super().__init__(
            dataset,
            num_replicas=num_replicas,
            rank=rank,
            shuffle=True,
            seed=shared_seed(seed, num_replicas),
        )
        self._base = (0, 0)

    def __iter__(self) -> Iterator[int]:
        """Indices of this process for the current epoch, after any resumed ones.

        Yields:
            Dataset indices.
        """
        consumed, _ = self._start()
        self._base = (self.epoch, consumed)
        indices = list(super().__iter__())
        yield from indices[consumed:]

    def state_at(self, consumed: int) -> dict[str, int]:
        """The position after *consumed* indices of the current epoch.

        Args:
            consumed: Indices of this process used so far in the epoch.

        Returns:
            ``epoch``, ``seed``, ``num_replicas``, ``consumed`` and ``position``
            (equal to ``consumed``), for :meth:`load_state_dict`.
        """
        if self._base[0] != self.epoch:
            consumed = 0
        consumed = min(max(consumed, 0), self.num_samples)
        return {
            'epoch': self.epoch,
            'seed': self.seed,
            'num_replicas': self.num_replicas,
            'consumed': consumed,
            'position': consumed,
        }

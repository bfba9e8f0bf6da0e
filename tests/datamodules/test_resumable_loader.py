import io
import random
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import SequentialSampler

from torchgeo_geossl.resume import (
    RestoreRNGState,
    ResumableDataLoader,
    get_rng_states,
    set_rng_states,
)
from torchgeo_geossl.samplers import ShardedIndexSampler

DATA = list(range(20))


def loader(**kwargs: Any) -> ResumableDataLoader:
    sampler = ShardedIndexSampler(DATA, seed=1)
    return ResumableDataLoader(DATA, sampler=sampler, batch_size=3, **kwargs)


def batches(iterable: Any) -> list[list[int]]:
    return [batch.tolist() for batch in iterable]


def test_resumes_after_the_consumed_batches() -> None:
    first = loader(drop_last=True)
    first.sampler.set_epoch(2)  # type: ignore[attr-defined]
    iterator = iter(first)
    consumed = [next(iterator).tolist() for _ in range(2)]
    state = first.state_dict()
    assert state['batches'] == 2
    assert state['sampler']['epoch'] == 2
    assert state['sampler']['consumed'] == 6
    rest = batches(iterator)

    resumed = loader(drop_last=True)
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(2)  # type: ignore[attr-defined]
    assert batches(resumed) == rest
    assert len(consumed + rest) == len(resumed) == 6
    # the count goes on from the checkpoint's
    assert resumed.state_dict()['batches'] == 6
    # the next epoch is whole again
    resumed.sampler.set_epoch(3)  # type: ignore[attr-defined]
    assert resumed.state_dict()['batches'] == 0
    assert len(batches(resumed)) == 6


def test_iterating_is_lazy() -> None:
    data = loader()
    iterator = iter(data)  # Lightning creates the iterator before set_epoch
    data.sampler.set_epoch(5)  # type: ignore[attr-defined]
    sampler = ShardedIndexSampler(DATA, seed=1)
    sampler.set_epoch(5)
    assert next(iterator).tolist() == list(sampler)[:3]


def test_global_generators_are_left_alone() -> None:
    torch.manual_seed(0)
    before = torch.get_rng_state()
    batches(loader())
    assert torch.equal(torch.get_rng_state(), before)


def test_prefetched_batches_are_not_counted() -> None:
    data = loader(num_workers=1, prefetch_factor=4)
    iterator = iter(data)
    next(iterator)
    assert data.state_dict()['batches'] == 1
    assert data.state_dict()['sampler']['consumed'] == 3
    del iterator


def test_other_samplers_restart_the_epoch() -> None:
    # Lightning's overfit_batches substitutes a SequentialSampler
    plain = ResumableDataLoader(DATA, sampler=SequentialSampler(DATA), batch_size=5)
    iterator = iter(plain)
    next(iterator)
    assert plain.state_dict() == {'batches': 1}
    resumed = ResumableDataLoader(DATA, sampler=SequentialSampler(DATA), batch_size=5)
    with pytest.warns(UserWarning, match='SequentialSampler.*restarts'):
        resumed.load_state_dict(plain.state_dict())
    assert len(batches(resumed)) == 4
    with pytest.raises(ValueError, match='another loader'):
        loader().load_state_dict({'epoch': 0})


def test_a_restarted_epoch_counts_its_batches_from_zero() -> None:
    two = ResumableDataLoader(
        DATA,
        sampler=ShardedIndexSampler(DATA, num_replicas=2, rank=0, seed=1),
        batch_size=2,
    )
    iterator = iter(two)
    for _ in range(3):
        next(iterator)
    state = two.state_dict()
    assert state['batches'] == 3

    one = loader()  # one process: the position of two does not apply
    with pytest.warns(UserWarning, match='written by 2 processes.*restarts'):
        one.load_state_dict(state)
    iterator = iter(one)
    next(iterator)
    assert one.state_dict()['batches'] == 1
    assert one.state_dict()['sampler']['consumed'] == 3


def draws() -> tuple[float, float, float]:
    return torch.rand(1).item(), float(np.random.rand()), random.random()


def test_rng_states_round_trip_through_a_checkpoint() -> None:
    states = get_rng_states()
    expected = draws()
    buffer = io.BytesIO()
    torch.save(states, buffer)
    buffer.seek(0)
    set_rng_states(torch.load(buffer, weights_only=True))
    assert draws() == expected


@pytest.mark.cuda
def test_cuda_rng_states_round_trip() -> None:
    states = get_rng_states()
    assert len(states['cuda']) == torch.cuda.device_count()
    expected = torch.rand(4, device='cuda')
    set_rng_states(states)
    assert torch.equal(torch.rand(4, device='cuda'), expected)


def test_callback_restores_when_training_starts() -> None:
    callback = RestoreRNGState()
    saved = callback.state_dict()
    expected = draws()
    callback.load_state_dict(saved)
    draws()  # resuming consumes random numbers
    trainer: Any = SimpleNamespace(world_size=1, global_rank=0)
    callback.on_train_start(trainer, None)  # type: ignore[arg-type]
    assert draws() == expected
    # once only
    callback.on_train_start(trainer, None)  # type: ignore[arg-type]
    assert draws() != expected


def test_callback_refuses_states_of_other_processes() -> None:
    callback = RestoreRNGState()
    state = callback.state_dict()
    callback.load_state_dict({'processes': state['processes'] * 2})
    expected = draws()
    trainer: Any = SimpleNamespace(world_size=1, global_rank=0)
    with pytest.warns(UserWarning, match='RNG states of 2 processes, this run has 1'):
        callback.on_train_start(trainer, None)  # type: ignore[arg-type]
    assert draws() != expected


def test_callback_seeds_each_process_of_a_fresh_distributed_run() -> None:
    def start(rank: int) -> tuple[float, float, float]:
        torch.manual_seed(7)  # Lightning seeds every process alike
        trainer: Any = SimpleNamespace(world_size=2, global_rank=rank)
        RestoreRNGState().on_train_start(trainer, None)  # type: ignore[arg-type]
        return draws()

    first, second = start(0), start(1)
    assert first != second
    assert start(0) == first  # reproducible per seed and rank
    # one process: the generators are left as seeded
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    expected = draws()
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    single: Any = SimpleNamespace(world_size=1, global_rank=0)
    RestoreRNGState().on_train_start(single, None)  # type: ignore[arg-type]
    assert draws() == expected

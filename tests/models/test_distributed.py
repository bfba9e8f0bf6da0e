import datetime
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from conftest import run_gloo_workers

from torchgeo_geossl.models import (
    NegativeQueue,
    concat_all_gather,
    forward_in_groups,
    gather_with_grad,
    world_size,
)

WORLD_SIZE = 2
TIMEOUT_S = 60.0


def test_not_distributed_is_identity() -> None:
    assert world_size() == 1
    x = torch.randn(3, 2, requires_grad=True)
    gathered = concat_all_gather(x)
    assert torch.equal(gathered, x)
    assert not gathered.requires_grad
    with_grad = gather_with_grad(x)
    assert with_grad is x


def test_scalar_is_rejected() -> None:
    with pytest.raises(ValueError, match='at least one dimension'):
        concat_all_gather(torch.tensor(1.0))
    with pytest.raises(ValueError, match='at least one dimension'):
        gather_with_grad(torch.tensor(1.0))


def rank_keys(rank: int, step: int, count: int) -> torch.Tensor:
    """Keys recognisable by rank and step: row i is 100 * step + 10 * rank + i."""
    values = torch.arange(count, dtype=torch.float32) + 100 * step + 10 * rank
    return values[:, None].expand(count, 2).clone()


def worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group(
        'gloo',
        init_method=f'file://{init_file}',
        rank=rank,
        world_size=WORLD_SIZE,
        timeout=datetime.timedelta(seconds=TIMEOUT_S),
    )
    try:
        result: dict[str, object] = {'world_size': world_size()}
        # Different random initial queues on purpose: the ranks are not seeded alike.
        torch.manual_seed(rank)
        queue = NegativeQueue(size=7, dim=2)
        # Step 0: uneven batches (2 keys on rank 0, 3 on rank 1) -> 5 keys.
        queue.enqueue(rank_keys(rank, 0, 2 + rank))
        result['ptr_0'] = int(queue.ptr)
        # Step 1: 2 keys per rank -> 4 keys, wrapping around the end (size 7).
        queue.enqueue(rank_keys(rank, 1, 2))
        result['queue'] = queue.queue.clone()
        result['ptr'] = int(queue.ptr)

        x = torch.full((2, 3), float(rank + 1), requires_grad=True)
        gathered = gather_with_grad(x)
        weights = torch.arange(gathered.numel(), dtype=torch.float32).reshape(
            gathered.shape
        )
        (gathered * weights).sum().backward()
        result['gathered'] = gathered.detach()
        result['grad'] = x.grad

        try:
            concat_all_gather(torch.zeros(1, 2 + rank))
        except ValueError as err:
            result['mismatch_error'] = str(err)
        torch.save(result, os.path.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason='needs gloo'
)
def test_two_processes_share_one_queue(tmp_path: Path) -> None:
    results = run_gloo_workers(worker, tmp_path, WORLD_SIZE, TIMEOUT_S)
    assert [r['world_size'] for r in results] == [2, 2]
    # Step 0 wrote rank 0's 0, 1 then rank 1's 10, 11, 12 at slots 0-4; step 1 wrote
    # rank 0's 100, 101 at slots 5, 6 and rank 1's 110, 111 at slots 0, 1.
    expected = torch.tensor([110.0, 111.0, 10.0, 11.0, 12.0, 100.0, 101.0])
    for result in results:
        assert result['ptr_0'] == 5
        assert result['ptr'] == 2
        assert torch.equal(result['queue'], expected[:, None].expand(7, 2))
    assert torch.equal(results[0]['queue'], results[1]['queue'])

    # gather_with_grad: rank order, and the local slice gets the gradient of the sum
    # of both processes' losses (both used the same weights: 2 × weights).
    expected_gathered = torch.cat([torch.full((2, 3), 1.0), torch.full((2, 3), 2.0)])
    weights = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    for rank, result in enumerate(results):
        assert torch.equal(result['gathered'], expected_gathered)
        assert torch.equal(result['grad'], 2 * weights[2 * rank : 2 * rank + 2])

    for result in results:
        message = result['mismatch_error']
        assert 'differ beyond dim 0' in message
        assert '[[1, 2], [1, 3]]' in message


def batch_norm_by_hand(x: torch.Tensor) -> torch.Tensor:
    """Per-feature standardisation of rows with their own mean and biased variance."""
    mean = x.mean(dim=0, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=0, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-5)


def test_forward_in_groups_normalises_each_group_alone() -> None:
    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(0)) * 5 + 2
    bn = torch.nn.BatchNorm1d(3).train()
    out = forward_in_groups(bn, x, 2)
    expected = torch.cat([batch_norm_by_hand(x[:5]), batch_norm_by_hand(x[5:])])
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    # one group is the plain module: whole-batch statistics
    torch.testing.assert_close(
        forward_in_groups(bn, x, 1), batch_norm_by_hand(x), rtol=1e-5, atol=1e-5
    )


def test_forward_in_groups_shuffles_then_restores_order() -> None:
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(1)) * 3
    bn = torch.nn.BatchNorm1d(3).train()
    torch.manual_seed(5)
    order = torch.randperm(8)
    torch.manual_seed(5)
    out = forward_in_groups(bn, x, 2, shuffle=True)
    expected = torch.empty_like(x)
    for group in order.tensor_split(2):
        expected[group] = batch_norm_by_hand(x[group])
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    # a per-sample module gives the same outputs in the same order
    linear = torch.nn.Linear(3, 2)
    torch.testing.assert_close(forward_in_groups(linear, x, 4, shuffle=True), linear(x))


def test_forward_in_groups_keeps_two_samples_per_group() -> None:
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(2))
    bn = torch.nn.BatchNorm1d(3).train()
    out = forward_in_groups(bn, x, 8)  # at most 5 // 2 = 2 groups: 3 + 2 samples
    expected = torch.cat([batch_norm_by_hand(x[:3]), batch_norm_by_hand(x[3:])])
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('groups', [0, -1, True])
def test_forward_in_groups_rejects_bad_groups(groups: int) -> None:
    with pytest.raises(ValueError, match='positive number of batch-norm groups'):
        forward_in_groups(torch.nn.Identity(), torch.zeros(4, 2), groups)

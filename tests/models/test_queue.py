import io
from collections import deque

import pytest
import torch

from torchgeo_geossl.losses import InfoNCELoss
from torchgeo_geossl.models import NegativeQueue


def keys(start: int, count: int, dim: int = 2) -> torch.Tensor:
    """Keys whose rows are recognisable: row i is filled with start + i."""
    values = torch.arange(start, start + count, dtype=torch.float32)
    return values[:, None].expand(count, dim).clone()


def test_initial_state() -> None:
    queue = NegativeQueue(size=6, dim=4)
    buffers = dict(queue.named_buffers())
    assert set(buffers) == {'queue', 'ptr'}
    assert queue.queue.shape == (6, 4)
    assert queue.queue.dtype == torch.float32
    assert torch.allclose(queue.queue.norm(dim=1), torch.ones(6))
    assert queue.ptr.shape == ()
    assert queue.ptr.dtype == torch.long
    assert int(queue.ptr) == 0
    assert not queue.queue.requires_grad
    assert list(queue.parameters()) == []
    assert 'size=6, dim=4' in repr(queue)


def test_fifo_and_wrap_around() -> None:
    queue = NegativeQueue(size=5, dim=2)
    initial = queue.queue.clone()
    queue.enqueue(keys(10, 3))
    assert torch.equal(queue.queue[:3], keys(10, 3))
    assert torch.equal(queue.queue[3:], initial[3:])
    assert int(queue.ptr) == 3
    queue.enqueue(keys(20, 3))
    expected = torch.tensor([22.0, 11.0, 12.0, 20.0, 21.0])[:, None].expand(5, 2)
    assert torch.equal(queue.queue, expected)
    assert int(queue.ptr) == 1


def test_more_keys_than_size_keeps_newest() -> None:
    queue = NegativeQueue(size=5, dim=2)
    queue.enqueue(keys(0, 7))
    # Same as enqueuing 0..6 one by one: slots 0, 1 are overwritten by 5, 6.
    expected = torch.tensor([5.0, 6.0, 2.0, 3.0, 4.0])[:, None].expand(5, 2)
    assert torch.equal(queue.queue, expected)
    assert int(queue.ptr) == 2
    queue.enqueue(keys(100, 5))
    expected = torch.tensor([103.0, 104.0, 100.0, 101.0, 102.0])[:, None].expand(5, 2)
    assert torch.equal(queue.queue, expected)
    assert int(queue.ptr) == 2


def test_size_not_multiple_of_batch_matches_reference_fifo() -> None:
    size, batch = 7, 3
    queue = NegativeQueue(size=size, dim=2)
    reference: deque[float] = deque(queue.queue[:, 0].tolist(), maxlen=size)
    # The reference is in age order; the queue in storage order starting at ptr.
    for step in range(10):
        queue.enqueue(keys(10 * step, batch))
        reference.extend(float(10 * step + i) for i in range(batch))
        in_age_order = torch.roll(queue.queue[:, 0], -int(queue.ptr))
        assert in_age_order.tolist() == list(reference)
        assert int(queue.ptr) == (batch * (step + 1)) % size


def test_empty_batch_is_a_no_op() -> None:
    queue = NegativeQueue(size=4, dim=2)
    before = queue.queue.clone()
    queue.enqueue(torch.zeros(0, 2))
    assert torch.equal(queue.queue, before)
    assert int(queue.ptr) == 0


def test_keys_are_detached_and_cast() -> None:
    queue = NegativeQueue(size=4, dim=2)
    source = keys(1, 2).double().requires_grad_(True)
    queue.enqueue(source * 2)
    assert queue.queue.dtype == torch.float32
    assert not queue.queue.requires_grad
    assert torch.equal(queue.queue[:2], torch.tensor([[2.0, 2.0], [4.0, 4.0]]))


def test_state_dict_round_trip() -> None:
    torch.manual_seed(0)
    queue = NegativeQueue(size=7, dim=3)
    queue.enqueue(torch.randn(4, 3))
    queue.enqueue(torch.randn(5, 3))
    state = queue.state_dict()
    assert set(state) == {'queue', 'ptr'}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)

    torch.manual_seed(1)
    restored = NegativeQueue(size=7, dim=3)
    assert not torch.equal(restored.queue, queue.queue)
    restored.load_state_dict(torch.load(buffer))
    assert torch.equal(restored.queue, queue.queue)
    assert int(restored.ptr) == int(queue.ptr) == 2
    new_keys = torch.randn(3, 3)
    queue.enqueue(new_keys)
    restored.enqueue(new_keys)
    assert torch.equal(restored.queue, queue.queue)
    assert int(restored.ptr) == int(queue.ptr)


def test_load_state_dict_with_other_size_fails() -> None:
    state = NegativeQueue(size=8, dim=3).state_dict()
    with pytest.raises(RuntimeError, match='size mismatch for queue'):
        NegativeQueue(size=7, dim=3).load_state_dict(state)


def test_negatives_is_a_copy_usable_across_enqueue() -> None:
    queue = NegativeQueue(size=6, dim=2)
    negatives = queue.negatives
    assert torch.equal(negatives, queue.queue)
    assert not negatives.requires_grad
    query = torch.nn.functional.normalize(torch.randn(3, 2), dim=1).requires_grad_(True)
    positive = torch.nn.functional.normalize(torch.randn(3, 2), dim=1)
    loss, _ = InfoNCELoss()(query, positive, negatives)
    # MoCo enqueues inside the training step, before backward.
    queue.enqueue(positive)
    loss.backward()
    assert query.grad is not None
    assert not torch.equal(negatives, queue.queue)


@pytest.mark.parametrize(
    ('size', 'dim', 'name'),
    [(0, 2, 'size'), (-3, 2, 'size'), (4, 0, 'dim'), (4, 2.0, 'dim')],
)
def test_invalid_construction(size: int, dim: int, name: str) -> None:
    with pytest.raises(ValueError, match=f'{name} must be a positive integer'):
        NegativeQueue(size=size, dim=dim)


def test_key_shape_errors() -> None:
    queue = NegativeQueue(size=4, dim=2)
    with pytest.raises(ValueError, match=r'\[N, 2\] \(dim=2\), got \[3, 5\]'):
        queue.enqueue(torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r'got \[2\]'):
        queue.enqueue(torch.zeros(2))
    assert int(queue.ptr) == 0

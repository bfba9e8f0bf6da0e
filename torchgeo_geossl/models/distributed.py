"""Collectives that gather tensors from all processes of a distributed run.

Momentum contrast gathers the keys of every process before they enter the queue of
negatives, so that all processes hold the same queue, and shuffles the key batch
across processes so that batch norm cannot leak the positive (He et al., CVPR 2020,
Sec. 3.3). In-batch contrastive losses (CSP) gather the candidates of all processes,
with gradient, so that a distributed step computes the loss of the global batch.
Every function here falls back to the single-process computation when
:mod:`torch.distributed` is unavailable, not initialised, or has a single process,
so the same code runs on one device.
"""

from collections.abc import Callable
from typing import Any, cast

import torch
import torch.distributed as dist
from torch import Tensor


def world_size() -> int:
    """Number of processes of the current distributed run.

    Returns:
        ``torch.distributed.get_world_size()`` when :mod:`torch.distributed` is
        available and initialised, else 1.

    .. versionadded:: 0.1
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def _check_not_scalar(name: str, tensor: Tensor) -> None:
    """Refuse a 0-dimensional tensor, which has no rows to gather.

    Args:
        name: Name of the calling function, for the message.
        tensor: The tensor to gather.

    Raises:
        ValueError: If *tensor* is 0-dimensional.
    """
    if tensor.ndim == 0:
        msg = f'{name} needs a tensor with at least one dimension, got a scalar'
        raise ValueError(msg)


def _gather_rows(tensor: Tensor, name: str) -> tuple[Tensor, list[int]]:
    """All-gather tensors whose number of rows may differ between processes.

    Args:
        tensor: Local tensor ``[N_r, ...]``; detached here.
        name: Name of the calling function, for the message.

    Returns:
        The concatenation ``[Σ_r N_r, ...]`` in rank order and the row counts N_r.

    Raises:
        ValueError: If the processes' tensors differ beyond dim 0 (every process
            raises, naming all shapes).
    """
    processes = world_size()
    tensor = tensor.detach().contiguous()
    shape = torch.tensor(tensor.shape, dtype=torch.long, device=tensor.device)
    shapes = [torch.empty_like(shape) for _ in range(processes)]
    dist.all_gather(shapes, shape)
    all_shapes = [tuple(int(s) for s in rank_shape.tolist()) for rank_shape in shapes]
    if any(s[1:] != tensor.shape[1:] for s in all_shapes):
        msg = (
            f'{name}: the processes hold tensors that differ beyond dim 0 '
            f'(shapes by rank: {[list(s) for s in all_shapes]}); only the number of '
            'rows may differ'
        )
        raise ValueError(msg)
    counts = [s[0] for s in all_shapes]
    longest = max(counts)
    if tensor.shape[0] < longest:
        padding = tensor.new_zeros((longest - tensor.shape[0], *tensor.shape[1:]))
        tensor = torch.cat([tensor, padding])
    gathered = [torch.empty_like(tensor) for _ in range(processes)]
    dist.all_gather(gathered, tensor)
    rows = torch.cat([part[:n] for part, n in zip(gathered, counts, strict=True)])
    return rows, counts


def _local_first(rows: Tensor, start: int, stop: int) -> Tensor:
    """Move rows ``start:stop`` (this process's) to the front.

    Args:
        rows: Rows of all processes in rank order.
        start: First row of this process.
        stop: End of this process's rows.

    Returns:
        This process's rows, then the other processes' rows in rank order.
    """
    return torch.cat([rows[start:stop], rows[:start], rows[stop:]])


def _rank_order(rows: Tensor, start: int, stop: int) -> Tensor:
    """Undo :func:`_local_first`.

    Args:
        rows: This process's ``stop − start`` rows, then the others in rank order.
        start: First row of this process in rank order.
        stop: End of this process's rows in rank order.

    Returns:
        All rows in rank order.
    """
    n = stop - start
    return torch.cat([rows[n : n + start], rows[:n], rows[n + start :]])


def _own_rows(counts: list[int]) -> tuple[int, int]:
    """Where this process's rows lie in a rank-ordered concatenation.

    Args:
        counts: Row counts of all processes, in rank order.

    Returns:
        ``(start, stop)`` of this process's rows.
    """
    rank = dist.get_rank()
    start = sum(counts[:rank])
    return start, start + counts[rank]


@torch.no_grad()
def concat_all_gather(tensor: Tensor, local_first: bool = False) -> Tensor:
    """Concatenate a tensor from all processes along dim 0, without gradient.

    By default every process receives the same result: the tensors of ranks 0, 1,
    …, W − 1 in rank order. The processes may hold different numbers of rows (the
    last batch of an epoch, for example): the row counts are gathered first and
    each tensor is padded to the largest count for the collective, then trimmed.
    All processes must call this function together with tensors of the same
    dtype, device type and number of dimensions.

    Args:
        tensor: Local tensor ``[N_r, ...]`` with at least one dimension.
        local_first: Put this process's rows first, then the other processes' rows
            in rank order, so that row i of the result is row i of *tensor*
            whatever the rank and the row counts.

    Returns:
        The detached local tensor when not distributed, else the concatenation
        ``[Σ_r N_r, ...]``.

    Raises:
        ValueError: If *tensor* is 0-dimensional, or if the processes' tensors
            differ beyond dim 0 (every process raises, naming all shapes).

    .. versionadded:: 0.1
    """
    _check_not_scalar('concat_all_gather', tensor)
    if world_size() == 1:
        return tensor.detach()
    rows, counts = _gather_rows(tensor, 'concat_all_gather')
    if not local_first:
        return rows
    return _local_first(rows, *_own_rows(counts))


class _GatherWithGrad(torch.autograd.Function):
    """All-gather rows whose backward pass all-reduces the gradient."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor, local_first: bool) -> Tensor:
        """Gather the rows of all processes.

        Args:
            ctx: Autograd context.
            tensor: Local rows ``[N_r, ...]``.
            local_first: Put this process's rows first.

        Returns:
            The rows of all processes.
        """
        rows, counts = _gather_rows(tensor, 'gather_with_grad')
        ctx.own_rows = _own_rows(counts)
        ctx.local_first = local_first
        return _local_first(rows, *ctx.own_rows) if local_first else rows

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        """Sum the gradients of all processes and keep this process's rows.

        Args:
            ctx: Autograd context.
            grad: Gradient of this process's loss for the gathered rows.

        Returns:
            The gradient of the sum of all processes' losses for the local rows.
        """
        start, stop = ctx.own_rows
        if ctx.local_first:
            grad = _rank_order(grad, start, stop)
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[start:stop], None


def gather_with_grad(tensor: Tensor, local_first: bool = False) -> Tensor:
    """Concatenate a tensor from all processes along dim 0, keeping gradients.

    The backward pass sums (all-reduces) the gradients that all processes computed
    for the gathered tensor and returns this process's rows, as lightly's
    :func:`lightly.utils.dist.gather` does: the local tensor receives
    ∂(Σ_r L_r)/∂x, the gradient of the sum of all processes' losses. Under DDP,
    which averages parameter gradients over the W processes, this equals the
    gradient of the mean loss, so a loss averaged over each process's own rows
    gives exactly the gradient of one process computing the loss of the global
    batch when all processes hold the same number of rows. The other processes'
    rows are treated as constants locally. Unlike lightly's function the
    processes may hold different numbers of rows (padded for the collective, as
    :func:`concat_all_gather`).

    All processes must call this function together with tensors of the same
    dtype, device type and number of dimensions, and all must run the backward
    pass.

    Args:
        tensor: Local tensor ``[N_r, ...]`` with at least one dimension.
        local_first: Put this process's rows first, then the other processes' rows
            in rank order, so that an in-batch positive of local row i is row i
            of the result (cross-entropy does not depend on the order of the
            candidates).

    Returns:
        *tensor* itself when not distributed, else the concatenation
        ``[Σ_r N_r, ...]``.

    Raises:
        ValueError: If *tensor* is 0-dimensional, or if the processes' tensors
            differ beyond dim 0.

    .. versionadded:: 0.1
    """
    _check_not_scalar('gather_with_grad', tensor)
    if world_size() == 1:
        return tensor
    return cast(Tensor, _GatherWithGrad.apply(tensor, local_first))


@torch.no_grad()
def forward_shuffled(module: Callable[[Tensor], Tensor], batch: Tensor) -> Tensor:
    """Apply *module* to a random share of all processes' samples (shuffle-BN).

    MoCo's shuffling batch norm (He et al., CVPR 2020, Sec. 3.3; ``_batch_shuffle_ddp``
    in the MoCo, GASSL and SeCo reference code): the batches of all processes are
    gathered, permuted by a random permutation drawn on rank 0 (global torch
    generator) and broadcast, and each process encodes its share of the permuted
    samples, so that the batch-norm statistics of a key come from another subset of
    the global batch than those of its query. The outputs are gathered and
    un-permuted, and each process receives the outputs of its own samples, in
    order. Process r encodes as many samples as it holds, so the processes may hold
    different numbers.

    Without gradient: this is for the momentum (key) encoder. Not distributed, it
    is ``module(batch)``.

    Args:
        module: The module to apply, normally the key encoder in training mode
            (or any function of a batch, such as :func:`forward_in_groups` of it).
        batch: This process's samples ``[N_r, ...]``.

    Returns:
        ``module``'s outputs ``[N_r, ...]`` for this process's samples.

    Raises:
        ValueError: If *batch* is 0-dimensional, or if the processes' batches (or
            outputs) differ beyond dim 0.

    .. versionadded:: 0.1
    """
    _check_not_scalar('forward_shuffled', batch)
    if world_size() == 1:
        return module(batch)
    samples, counts = _gather_rows(batch, 'forward_shuffled')
    total = samples.shape[0]
    if dist.get_rank() == 0:
        permutation = torch.randperm(total, device=batch.device)
    else:
        permutation = torch.empty(total, dtype=torch.long, device=batch.device)
    dist.broadcast(permutation, src=0)
    start, stop = _own_rows(counts)
    outputs = module(samples[permutation[start:stop]])
    shuffled, _ = _gather_rows(outputs, 'forward_shuffled')
    # shuffled[j] is the output of sample permutation[j]
    return shuffled[torch.argsort(permutation)[start:stop]]


def forward_in_groups(
    module: Callable[[Tensor], Tensor],
    batch: Tensor,
    groups: int,
    shuffle: bool = False,
) -> Tensor:
    """Apply *module* to disjoint groups of a batch, one call per group.

    Batch norm then normalises each group with its own statistics, as it does on
    each device of a multi-device run without synchronised batch norm: on one
    device this is what MoCo's reference runs did on 8 GPUs (He et al., CVPR 2020,
    Sec. 3.3 and Appendix A.1; lightly's ``SplitBatchNorm`` does the same). With
    *shuffle*, the batch is permuted (global torch generator) before it is cut into
    groups and the outputs are put back in the input order: a key is then
    normalised with a random group of the batch, not with the samples its query
    sits with (shuffling BN on one device).

    The batch is cut into ``min(groups, N // 2)`` contiguous groups of equal size
    (up to one sample), so that no group has fewer than two samples. Batch-norm
    running statistics are updated once per group.

    Args:
        module: The module to apply (an encoder in training mode).
        batch: Samples ``[N, ...]``.
        groups: Number of groups, at least 1 (1 applies *module* to the batch).
        shuffle: Permute the samples before grouping.

    Returns:
        ``module``'s outputs ``[N, ...]``, in the order of *batch*.

    Raises:
        ValueError: If *groups* is smaller than 1 or *batch* is 0-dimensional.

    .. versionadded:: 0.2
    """
    if isinstance(groups, bool) or groups < 1:
        msg = f'groups must be a positive number of batch-norm groups, got {groups!r}'
        raise ValueError(msg)
    _check_not_scalar('forward_in_groups', batch)
    count = min(groups, batch.shape[0] // 2)
    if count <= 1:
        return module(batch)
    order = torch.randperm(batch.shape[0], device=batch.device) if shuffle else None
    samples = batch if order is None else batch[order]
    outputs = torch.cat([module(chunk) for chunk in samples.tensor_split(count)])
    return outputs if order is None else outputs[torch.argsort(order)]

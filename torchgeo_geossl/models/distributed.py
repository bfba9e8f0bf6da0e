"""Collectives that gather tensors from all processes of a distributed run.

Momentum contrast gathers the keys of every process before they enter the queue of
negatives, so that all processes hold the same queue (He et al., CVPR 2020). Both
functions here are the identity when :mod:`torch.distributed` is unavailable, not
initialised, or has a single process, so the same code runs on one device.
"""

import torch
import torch.distributed as dist
from lightly.utils import dist as lightly_dist
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


@torch.no_grad()
def concat_all_gather(tensor: Tensor) -> Tensor:
    """Concatenate a tensor from all processes along dim 0, without gradient.

    Every process receives the same result: the tensors of ranks 0, 1, …, W − 1 in
    rank order. The processes may hold different numbers of rows (the last batch of
    an epoch, for example): the row counts are gathered first and each tensor is
    padded to the largest count for the collective, then trimmed. All processes must
    call this function together with tensors of the same dtype, device type and
    number of dimensions.

    Args:
        tensor: Local tensor ``[N_r, ...]`` with at least one dimension.

    Returns:
        The detached local tensor when not distributed, else the concatenation
        ``[Σ_r N_r, ...]``.

    Raises:
        ValueError: If *tensor* is 0-dimensional, or if the processes' tensors
            differ beyond dim 0 (every process raises, naming all shapes).

    .. versionadded:: 0.1
    """
    if tensor.ndim == 0:
        msg = (
            'concat_all_gather needs a tensor with at least one dimension, got a scalar'
        )
        raise ValueError(msg)
    tensor = tensor.detach()
    processes = world_size()
    if processes == 1:
        return tensor
    tensor = tensor.contiguous()
    shape = torch.tensor(tensor.shape, dtype=torch.long, device=tensor.device)
    shapes = [torch.empty_like(shape) for _ in range(processes)]
    dist.all_gather(shapes, shape)
    all_shapes = [tuple(int(s) for s in rank_shape.tolist()) for rank_shape in shapes]
    if any(s[1:] != tensor.shape[1:] for s in all_shapes):
        msg = (
            'concat_all_gather: the processes hold tensors that differ beyond dim 0 '
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
    return torch.cat([part[:n] for part, n in zip(gathered, counts, strict=True)])


def gather_with_grad(tensor: Tensor) -> Tensor:
    """Concatenate a tensor from all processes along dim 0, keeping gradients.

    Uses :func:`lightly.utils.dist.gather`, whose backward pass sums (all-reduces)
    the gradients that all processes computed for the gathered tensor and returns
    this rank's slice: the local tensor receives ∂(Σ_r L_r)/∂x, the gradient of the
    sum of all processes' losses. Under DDP, which averages parameter gradients over
    the W processes, this equals the gradient of the mean loss. The other ranks'
    parts of the result are treated as constants locally.

    All processes must call this function together with tensors of the same shape
    and dtype.

    Args:
        tensor: Local tensor ``[N, ...]`` with at least one dimension.

    Returns:
        *tensor* itself when not distributed, else the concatenation
        ``[W · N, ...]`` in rank order.

    Raises:
        ValueError: If *tensor* is 0-dimensional.

    .. versionadded:: 0.1
    """
    if tensor.ndim == 0:
        msg = (
            'gather_with_grad needs a tensor with at least one dimension, got a scalar'
        )
        raise ValueError(msg)
    if world_size() == 1:
        return tensor
    parts: tuple[Tensor, ...] = lightly_dist.gather(tensor.contiguous())
    return torch.cat(parts)

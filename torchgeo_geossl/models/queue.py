"""The first-in, first-out queue of negative keys of momentum contrast."""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .distributed import concat_all_gather


class NegativeQueue(nn.Module):
    """MoCo's queue of negatives: the most recent *size* keys, first in, first out.

    The queue holds key-encoder outputs of past batches, which serve as negatives
    of the InfoNCE loss (He et al., CVPR 2020, Sec. 3.2). It starts with random
    unit vectors (standard normal samples, L2-normalised along the feature
    dimension, drawn from the global torch generator: processes seeded alike start
    alike). :meth:`enqueue` gathers the keys of all processes first, so every
    process holds the same queue, and then overwrites the oldest entries.

    Both the contents (buffer ``queue``, ``[size, dim]``) and the write position
    (buffer ``ptr``, a 0-dim ``long`` tensor) are persistent buffers: they are saved
    in and restored from :meth:`~torch.nn.Module.state_dict` (hence Lightning
    checkpoints) exactly, and follow the module across devices.

    Entries are written at ``ptr`` and wrap around the end of the queue, so a size
    that is not a multiple of the (global) batch size is handled. Enqueuing N keys
    is equivalent to enqueuing them one at a time; when N ≥ size only the newest
    *size* keys remain.

    lightly's :class:`~lightly.models.modules.memory_bank.MemoryBankModule` is not
    reused: in lightly 1.6 its ``bank`` and ``bank_ptr`` buffers are registered with
    ``persistent=False`` (absent from checkpoints, so a resumed run restarts from a
    random queue), and a batch that crosses the end of the bank is truncated (the
    remaining keys are dropped and the pointer reset to 0) instead of wrapping
    around. Its update is also tied to its ``forward`` call rather than an explicit
    enqueue of keys.

    .. versionadded:: 0.1
    """

    queue: Tensor
    ptr: Tensor

    def __init__(self, size: int, dim: int) -> None:
        """Initialize a new NegativeQueue instance.

        Args:
            size: Number of keys held (65,536 in GASSL, 16,384 per head in SeCo).
            dim: Dimension of the keys (128 for the MoCo-v2 projection head).

        Raises:
            ValueError: If *size* or *dim* is not a positive integer.
        """
        super().__init__()
        for name, value in (('size', size), ('dim', dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                msg = f'NegativeQueue {name} must be a positive integer, got {value!r}'
                raise ValueError(msg)
        self.size = size
        self.dim = dim
        self.register_buffer('queue', F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer('ptr', torch.zeros((), dtype=torch.long))

    @property
    def negatives(self) -> Tensor:
        """The keys in the queue, as a detached copy.

        A copy, not a view: the loss of a step keeps using these negatives for its
        backward pass even when :meth:`enqueue` runs before ``backward()``
        (otherwise autograd would report an in-place modification).

        Returns:
            Keys ``[size, dim]`` in storage order (not in age order).
        """
        return self.queue.detach().clone()

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Gather *keys* from all processes and write them over the oldest entries.

        Args:
            keys: Keys ``[N, dim]`` of this process, normally L2-normalised key
                projections; they are detached and cast to the queue's dtype and
                device. With several processes, all must call this together.

        Raises:
            ValueError: If *keys* is not 2-dimensional or its second dimension is
                not the queue's *dim*.
        """
        if keys.ndim != 2 or keys.shape[1] != self.dim:
            msg = (
                f'NegativeQueue.enqueue expects keys of shape [N, {self.dim}] '
                f'(dim={self.dim}), got {list(keys.shape)}'
            )
            raise ValueError(msg)
        keys = concat_all_gather(keys)
        count = keys.shape[0]
        if count == 0:
            return
        kept = min(count, self.size)
        keys = keys[count - kept :].to(self.queue)
        offsets = torch.arange(count - kept, count, device=self.queue.device)
        self.queue[(self.ptr + offsets) % self.size] = keys
        self.ptr.add_(count).remainder_(self.size)

    def extra_repr(self) -> str:
        """Summary shown by ``repr``.

        Returns:
            The size and key dimension.
        """
        return f'size={self.size}, dim={self.dim}'

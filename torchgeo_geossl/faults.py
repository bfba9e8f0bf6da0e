"""Non-finite values in batches and losses: detect them and say where they came from.

A single NaN or infinite pixel makes the loss NaN; with momentum contrast the NaN keys
then enter the queue of negatives and every later loss is NaN too, long after the
offending sample has gone. The checks here stop a run at the first such batch or
loss, before the optimiser step or the queue update, with a message that names the
samples (location, acquisition times, bounds), views and bands involved.
"""

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
import torch
import torch.distributed as dist
from torch import Tensor

from .models.distributed import world_size

#: Number of offending samples described in full in a message.
_SHOWN = 3


class NonFiniteError(ValueError):
    """A batch, sample or loss holds NaN or infinite values.

    The message says where: the samples of the batch (``point``, ``time``,
    ``bounds``), the view and band indices of the non-finite pixels, or the training
    step of a non-finite loss.

    .. versionadded:: 0.1
    """


def _format_time(seconds: float) -> str:
    """ISO date-time of a timestamp in seconds since the Unix epoch.

    Args:
        seconds: Seconds since 1970-01-01T00:00:00Z.

    Returns:
        ``YYYY-MM-DDTHH:MM:SS`` (UTC), or ``'nan'`` for a missing time.
    """
    if not math.isfinite(seconds):
        return str(seconds)
    return pd.Timestamp(seconds, unit='s').isoformat()


def describe_sample(batch: Mapping[str, Any], index: int) -> str:
    """Where one sample of a batch comes from, for error messages.

    Args:
        batch: A batch of the batch contract; ``point`` (lon, lat), ``time``
            (seconds of each view) and TorchGeo's ``bounds`` are used when present.
        index: Index of the sample in the batch.

    Returns:
        For example ``sample 3, point (lon 5.1234, lat 52.1234), time
        [2021-01-15T00:00:00, 2021-03-15T00:00:00], bounds x [630000.0, 630160.0] y
        [5799840.0, 5800000.0]`` (bounds are float32, as TorchGeo returns them).
    """
    parts = [f'sample {index}']
    point = batch.get('point')
    if isinstance(point, Tensor) and point.ndim == 2 and point.shape[-1] == 2:
        lon, lat = point[index].tolist()
        parts.append(f'point (lon {lon:.4f}, lat {lat:.4f})')
    time = batch.get('time')
    if isinstance(time, Tensor) and time.ndim >= 1 and len(time) > index:
        times = time[index].reshape(-1).tolist()
        parts.append(f'time [{", ".join(_format_time(t) for t in times)}]')
    bounds = batch.get('bounds')
    if isinstance(bounds, Tensor) and bounds.ndim == 2 and bounds.shape[-1] >= 6:
        xmin, xmax, _, ymin, ymax = bounds[index, :5].tolist()
        parts.append(f'bounds x [{xmin}, {xmax}] y [{ymin}, {ymax}]')
    return ', '.join(parts)


def nonfinite_summary(image: Tensor) -> str:
    """Which views and bands of an image hold NaN or infinite values, and how many.

    Args:
        image: ``[V, C, H, W]`` (one sample's views), ``[C, H, W]`` (one view) or
            ``[C]``-first tensors of another layout (summarised by band only).

    Returns:
        For example ``'view 1 band 2: 12 NaN, 0 inf of 256 pixels'``, one entry per
        affected view and band, separated by ``'; '``.
    """
    grid = image.reshape(-1, *image.shape[-3:]) if image.ndim >= 3 else image[None]
    entries = []
    for v, view in enumerate(grid):
        for c, band in enumerate(view):
            nan = int(torch.isnan(band).sum())
            inf = int(torch.isinf(band).sum())
            if nan or inf:
                where = f'view {v} band {c}' if grid.shape[0] > 1 else f'band {c}'
                entries.append(
                    f'{where}: {nan} NaN, {inf} inf of {band.numel()} pixels'
                )
    return '; '.join(entries)


def check_finite_batch(batch: Mapping[str, Any], key: str = 'image') -> None:
    """Raise if a batch's images hold NaN or infinite values.

    Called by the pre-training data modules on every batch before normalisation
    (:class:`~torchgeo_geossl.datamodules.PretrainingMixin`), so that any data
    source, not only :class:`~torchgeo_geossl.datasets.TemporalViewsDataset`
    (which checks each view as it reads it), is covered. Costs one reduction over
    the batch.

    Args:
        batch: A batch whose *key* is ``[B, ...]``.
        key: The key to check.

    Raises:
        NonFiniteError: If some values are NaN or infinite, naming the first samples
            (:func:`describe_sample`) and their views and bands.

    .. versionadded:: 0.1
    """
    image = batch.get(key)
    if not isinstance(image, Tensor) or not image.is_floating_point():
        return
    if bool(torch.isfinite(image).all()):
        return
    bad = (~torch.isfinite(image)).reshape(len(image), -1).any(dim=1)
    indices = bad.nonzero().flatten().tolist()
    details = [
        f'{describe_sample(batch, i)}: {nonfinite_summary(image[i].cpu())}'
        for i in indices[:_SHOWN]
    ]
    more = f' (and {len(indices) - _SHOWN} more)' if len(indices) > _SHOWN else ''
    msg = (
        f'the batch {key!r} holds NaN or infinite values in {len(indices)} of '
        f'{len(image)} samples{more}: '
        + ' | '.join(details)
        + '. Training on them would make the loss NaN. Fix or remove the source '
        "files, or let TemporalViewsDataset replace them (on_nonfinite='nodata')."
    )
    raise NonFiniteError(msg)


def check_finite_loss(loss: Tensor, batch: Mapping[str, Any], step: int) -> None:
    """Raise if a training loss is NaN or infinite, before it reaches the optimiser.

    The trainers call it before the backward pass and before they update queues of
    negatives, so a non-finite loss leaves the trained weights, the optimiser state
    and the queues as they were after the previous step (only a momentum encoder
    has moved, by one moving-average step towards the unchanged online encoder),
    which is what a checkpoint written on the exception holds. Costs one device
    synchronisation per step. Under DDP the processes agree first (one all-reduce
    of a flag): every process raises together, instead of the others waiting for
    the one that stopped in the next collective until its timeout.

    Args:
        loss: The training loss.
        batch: The batch it was computed on (described in the message).
        step: The global step, for the message.

    Raises:
        NonFiniteError: If *loss* is NaN or infinite.

    .. versionadded:: 0.1
    """
    finite = torch.isfinite(loss.detach()).all()
    if world_size() > 1:
        flag = finite.to(torch.int32).reshape(1)
        everywhere = flag.clone()
        dist.all_reduce(everywhere, op=dist.ReduceOp.MIN)
        if bool(flag) and not bool(everywhere):
            msg = (
                f'the training loss is NaN or infinite on another process at global '
                f'step {step} (its error describes the batch); stopped before the '
                'optimiser step and the queue update'
            )
            raise NonFiniteError(msg)
    if bool(finite):
        return
    size = next((len(v) for v in batch.values() if isinstance(v, Tensor) and v.ndim), 0)
    shown = '; '.join(describe_sample(batch, i) for i in range(min(size, _SHOWN)))
    more = f' (and {size - _SHOWN} more)' if size > _SHOWN else ''
    image = batch.get('image')
    if isinstance(image, Tensor) and not bool(torch.isfinite(image).all()):
        cause = (
            'the batch image holds NaN or infinite values (use a data module '
            'that checks batches, or check_finite_batch, to find them)'
        )
    else:
        cause = (
            'the inputs are finite, so the model diverged: lower the learning '
            'rate, check the normalisation (mean, std) of the data module, or '
            'train in 32-bit precision'
        )
    msg = (
        f'the training loss is {loss.detach().float().cpu().tolist()} at global step '
        f'{step}; {cause}. Stopped before the optimiser step and the queue update. '
        f'Batch of {size} samples: {shown}{more}'
    )
    raise NonFiniteError(msg)

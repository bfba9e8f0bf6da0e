"""Paired comparison of two encoders on the same held-out queries."""

import dataclasses
import math

import numpy as np
from torch import Tensor


@dataclasses.dataclass(frozen=True)
class PairedComparison:
    """How two encoders compare on the same queries, with its uncertainty.

    Args:
        difference: Accuracy of the first minus accuracy of the second.
        low: Lower end of the bootstrap interval of *difference*.
        high: Upper end of the bootstrap interval of *difference*.
        level: Coverage of the interval (for example 0.95).
        first_only: Queries that only the first encoder gets right.
        second_only: Queries that only the second encoder gets right.
        p_value: Two-sided exact McNemar p-value (a binomial test of *first_only*
            among the discordant queries at probability 1/2).
        groups: Number of groups (places) resampled by the bootstrap.
        queries: Number of queries (views).

    .. versionadded:: 0.2
    """

    difference: float
    low: float
    high: float
    level: float
    first_only: int
    second_only: int
    p_value: float
    groups: int
    queries: int


def paired_comparison(
    first: Tensor,
    second: Tensor,
    level: float = 0.95,
    samples: int = 10_000,
    seed: int = 0,
) -> PairedComparison:
    """Compare the per-query hits of two encoders on the same queries.

    The queries come in groups (the V views of each of N places): the interval of
    the accuracy difference is a percentile bootstrap that resamples whole groups
    with replacement, so views of one place are never counted as independent; the
    exact McNemar test uses the queries that exactly one encoder gets right. The
    hits are taken as fixed per query (the bootstrap does not recompute the nearest
    neighbours of a resampled bank).

    Args:
        first: Hits ``[N, V]`` (bool) of the first encoder.
        second: Hits ``[N, V]`` (bool) of the second encoder, on the same queries.
        level: Coverage of the interval, in (0, 1).
        samples: Number of bootstrap resamples (at least 1).
        seed: Seed of the resampling.

    Returns:
        The difference, its interval and the McNemar test.

    Raises:
        ValueError: If the shapes differ or are not ``[N, V]`` with N >= 1, or
            *level* or *samples* is out of range.

    .. versionadded:: 0.2
    """
    if first.shape != second.shape or first.ndim != 2 or first.shape[0] < 1:
        msg = (
            'first and second must be hits [N, V] of the same N >= 1 groups, got '
            f'{list(first.shape)} and {list(second.shape)}'
        )
        raise ValueError(msg)
    if not 0 < level < 1:
        msg = f'level={level} must lie in (0, 1)'
        raise ValueError(msg)
    if samples < 1:
        msg = f'samples={samples} must be at least 1'
        raise ValueError(msg)
    a = first.bool().cpu().numpy()
    b = second.bool().cpu().numpy()
    groups, views = a.shape
    per_group = (a.astype(np.int64) - b.astype(np.int64)).sum(axis=1)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, groups, size=(samples, groups))
    differences = per_group[draws].sum(axis=1) / (groups * views)
    tail = (1 - level) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    first_only = int((a & ~b).sum())
    second_only = int((~a & b).sum())
    discordant = first_only + second_only
    # two-sided exact binomial test at 1/2: twice the smaller tail, at most 1
    smaller = min(first_only, second_only)
    extreme = sum(math.comb(discordant, i) for i in range(smaller + 1))
    p_value = min(1.0, 2 * extreme / 2**discordant)
    return PairedComparison(
        difference=float(per_group.sum() / (groups * views)),
        low=float(low),
        high=float(high),
        level=level,
        first_only=first_only,
        second_only=second_only,
        p_value=float(p_value),
        groups=groups,
        queries=groups * views,
    )

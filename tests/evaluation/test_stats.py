"""The paired comparison of two encoders against independent math."""

import math

import numpy as np
import pytest
import torch

from torchgeo_geossl.evaluation import paired_comparison


def exact_two_sided_binomial(k: int, n: int) -> float:
    """Two-sided exact binomial p-value at probability 1/2, summed by hand."""
    probability = [math.comb(n, i) / 2**n for i in range(n + 1)]
    return min(1.0, sum(p for p in probability if p <= probability[k] * (1 + 1e-7)))


def test_mcnemar_counts_and_p_value() -> None:
    # 6 places x 2 views: first right and second wrong on 5 views, the opposite on 1
    first = torch.tensor(
        [[1, 1], [1, 0], [1, 1], [0, 0], [1, 1], [0, 1]], dtype=torch.bool
    )
    second = torch.tensor(
        [[0, 0], [1, 0], [0, 1], [0, 0], [0, 0], [1, 1]], dtype=torch.bool
    )
    result = paired_comparison(first, second, samples=100)
    assert (result.first_only, result.second_only) == (5, 1)
    assert result.p_value == pytest.approx(exact_two_sided_binomial(5, 6))
    assert result.p_value == pytest.approx(14 / 64)  # (1 + 6 + 6 + 1) / 2^6
    assert result.difference == pytest.approx((8 - 4) / 12)
    assert (result.groups, result.queries) == (6, 12)


def test_no_discordant_view_gives_p_one() -> None:
    hits = torch.tensor([[True, False], [False, True]])
    result = paired_comparison(hits, hits, samples=10)
    assert result.p_value == 1.0
    assert result.difference == result.low == result.high == 0.0


def test_bootstrap_resamples_whole_places() -> None:
    rng = np.random.default_rng(0)
    first = torch.tensor(rng.random((40, 2)) < 0.5)
    second = torch.tensor(rng.random((40, 2)) < 0.3)
    result = paired_comparison(first, second, level=0.9, samples=2000, seed=3)
    # the same percentile bootstrap over places, written out with numpy
    per_place = first.numpy().sum(1).astype(int) - second.numpy().sum(1).astype(int)
    draws = np.random.default_rng(3).integers(0, 40, size=(2000, 40))
    expected = np.quantile(per_place[draws].sum(1) / 80, [0.05, 0.95])
    assert (result.low, result.high) == pytest.approx(tuple(expected))
    assert result.low < result.difference < result.high
    assert result.level == 0.9


@pytest.mark.parametrize(
    ('shape', 'kwargs', 'match'),
    [
        ((3, 2), {'level': 1.0}, 'level=1.0 must lie in'),
        ((3, 2), {'samples': 0}, 'samples=0 must be at least 1'),
        ((3,), {}, r'hits \[N, V\] of the same N >= 1 groups'),
    ],
)
def test_bad_arguments(
    shape: tuple[int, ...], kwargs: dict[str, float], match: str
) -> None:
    hits = torch.zeros(shape, dtype=torch.bool)
    with pytest.raises(ValueError, match=match):
        paired_comparison(hits, hits, **kwargs)  # type: ignore[arg-type]


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match=r'got \[3, 2\] and \[3, 3\]'):
        paired_comparison(
            torch.zeros(3, 2, dtype=torch.bool), torch.zeros(3, 3, dtype=torch.bool)
        )

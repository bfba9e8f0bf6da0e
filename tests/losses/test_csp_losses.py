import math

import numpy as np
import pytest
import torch
from scipy import stats

from torchgeo_geossl.losses.csp import (
    InBatchLocationImageLoss,
    RandomLocationLoss,
    SimCSELoss,
    diagonal_top1_accuracy,
    sample_uniform_sphere,
)

E1 = [1.0, 0.0]
E2 = [0.0, 1.0]


def test_inbatch_loss_by_hand() -> None:
    # cosine similarities [[1, 0], [0, 1]]; each row: -log(e^(1/τ) / (e^(1/τ) + 1))
    location = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # normalised by the loss
    image = torch.tensor([E1, E2])
    for tau in (1.0, 20.0):
        loss, logits = InBatchLocationImageLoss(tau)(location, image)
        torch.testing.assert_close(logits, torch.tensor([[1.0, 0.0], [0.0, 1.0]]) / tau)
        assert float(loss) == pytest.approx(math.log1p(math.exp(-1 / tau)))
    # τ = 20, the reference default, leaves the term nearly flat: close to log 2
    assert float(InBatchLocationImageLoss()(location, image)[0]) == pytest.approx(
        math.log(2), abs=0.03
    )


def test_inbatch_rows_are_locations_and_symmetric_adds_columns() -> None:
    location = torch.tensor([E1, E1])
    image = torch.tensor([E1, E2])
    loss, logits = InBatchLocationImageLoss(1.0)(location, image)
    torch.testing.assert_close(logits, torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    rows = (math.log1p(math.exp(-1)) + math.log1p(math.e)) / 2
    assert float(loss) == pytest.approx(rows)
    # transposed logits [[1, 1], [0, 0]]: both rows give log 2; added, as contsoftmaxsym
    sym, _ = InBatchLocationImageLoss(1.0, symmetric=True)(location, image)
    assert float(sym) == pytest.approx(rows + math.log(2))


def test_random_location_loss_by_hand() -> None:
    image = torch.tensor([E1, E2])
    location = torch.tensor([E1, [0.6, 0.8]])
    negatives = torch.tensor([[E2, [-1.0, 0.0]], [[0.0, -2.0], [0.8, 0.6]]])
    loss, logits = RandomLocationLoss(0.5)(image, location, negatives)
    expected = torch.tensor([[1.0, 0.0, -1.0], [0.8, -1.0, 0.6]]) / 0.5
    torch.testing.assert_close(logits, expected)
    by_hand = [
        -math.log(math.exp(r[0]) / sum(math.exp(v) for v in r))
        for r in expected.tolist()
    ]
    assert float(loss) == pytest.approx(sum(by_hand) / 2)


def test_random_location_gradient_reaches_the_negatives() -> None:
    negatives = torch.randn(3, 2, 4, requires_grad=True)
    loss, _ = RandomLocationLoss()(torch.randn(3, 4), torch.randn(3, 4), negatives)
    loss.backward()
    assert negatives.grad is not None
    assert negatives.grad.abs().sum() > 0


def test_simcse_loss_by_hand() -> None:
    first = torch.tensor([E1, E2, [0.6, 0.8]])
    second = torch.tensor([E1, [0.6, 0.8], [0.6, 0.8]])
    loss, logits = SimCSELoss(1.0)(first, second)
    sims = [[1.0, 0.6, 0.6], [0.0, 0.8, 0.8], [0.6, 1.0, 1.0]]
    torch.testing.assert_close(logits, torch.tensor(sims))
    by_hand = [
        -math.log(math.exp(r[i]) / sum(math.exp(v) for v in r))
        for i, r in enumerate(sims)
    ]
    assert float(loss) == pytest.approx(sum(by_hand) / 3)


@pytest.mark.parametrize('cls', [InBatchLocationImageLoss, SimCSELoss])
def test_learnable_scale(cls: type[InBatchLocationImageLoss | SimCSELoss]) -> None:
    objective = cls(0.5, learnable_scale=True)
    assert objective.logit_scale is not None
    assert float(objective.scale().detach()) == pytest.approx(2.0)
    a, b = torch.tensor([E1, E2]), torch.tensor([E1, [0.6, 0.8]])
    loss, logits = objective(a, b)
    torch.testing.assert_close(logits, (a @ torch.nn.functional.normalize(b).T) * 2)
    loss.backward()
    assert objective.logit_scale.grad is not None
    assert float(objective.logit_scale.grad) != 0
    with torch.no_grad():
        objective.logit_scale.fill_(10.0)
    assert float(objective.scale().detach()) == 100.0  # CLIP's cap
    assert cls(0.5).logit_scale is None
    assert list(cls(0.5).parameters()) == []


def test_random_location_learnable_scale() -> None:
    objective = RandomLocationLoss(0.25, learnable_scale=True)
    assert [p.shape for p in objective.parameters()] == [torch.Size([])]
    assert float(objective.scale().detach()) == pytest.approx(4.0)


@pytest.mark.parametrize('temperature', [0.0, -1.0, float('nan'), float('inf')])
def test_bad_temperature(temperature: float) -> None:
    with pytest.raises(ValueError, match='temperature must be a finite positive'):
        SimCSELoss(temperature)


def test_learnable_scale_below_cap() -> None:
    with pytest.raises(ValueError, match='temperature must be ≥ 0.01'):
        InBatchLocationImageLoss(0.001, learnable_scale=True)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match=r'\[3, 4\] and \[2, 4\]'):
        InBatchLocationImageLoss()(torch.randn(3, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match=r'random_locations must be \[B, N, D\]'):
        RandomLocationLoss()(torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 4))
    with pytest.raises(ValueError, match=r'\[3, N ≥ 1, 4\]'):
        RandomLocationLoss()(torch.randn(3, 4), torch.randn(3, 4), torch.randn(3, 0, 4))
    with pytest.raises(ValueError, match='B ≥ 1'):
        SimCSELoss()(torch.randn(0, 4), torch.randn(0, 4))


def test_diagonal_top1_accuracy() -> None:
    logits = torch.tensor([[3.0, 1.0, 0.0], [0.0, 1.0, 2.0], [0.0, 0.0, 5.0]])
    assert float(diagonal_top1_accuracy(logits)) == pytest.approx(2 / 3)
    # under DDP the other processes' candidates follow the local square block
    wide = torch.cat([logits, torch.tensor([[4.0], [0.0], [0.0]])], dim=1)
    assert float(diagonal_top1_accuracy(wide)) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match=r'\[N, M\] with M ≥ N .*got \[3, 2\]'):
        diagonal_top1_accuracy(torch.zeros(3, 2))


def test_uniform_sampler_is_uniform_on_the_sphere() -> None:
    generator = torch.Generator().manual_seed(0)
    points = sample_uniform_sphere(
        20_000, generator=generator, dtype=torch.float64
    ).numpy()
    assert points.shape == (20_000, 2)
    lon, lat = points[:, 0], points[:, 1]
    assert lon.min() >= -180
    assert lon.max() < 180
    assert lat.min() >= -90
    assert lat.max() <= 90
    z = torch.sin(torch.deg2rad(torch.from_numpy(lat))).numpy()
    assert stats.kstest(z, stats.uniform(-1, 2).cdf).pvalue > 0.01
    assert stats.kstest(lon, stats.uniform(-180, 360).cdf).pvalue > 0.01
    # a naive uniform latitude would fail: the poles are rare
    assert abs(lat).mean() == pytest.approx(90 - 180 / math.pi, abs=0.5)  # 32.7°


def test_legacy_sampler_is_the_non_uniform_sphericalold() -> None:
    generator = torch.Generator().manual_seed(0)
    points = sample_uniform_sphere(20_000, generator=generator, legacy=True)
    lon, lat = points[:, 0].double(), points[:, 1].double()
    # inside the ellipse (lon/180)² + (lat/90)² ≤ 1: the map's corners never occur
    assert float(((lon / 180) ** 2 + (lat / 90) ** 2).max()) <= 1 + 1e-6
    z = torch.sin(torch.deg2rad(lat)).numpy()
    assert stats.kstest(z, stats.uniform(-1, 2).cdf).pvalue < 1e-6
    # lon / 180 and lat / 90 are the x and y coordinates of a uniform point on the
    # unit sphere: each uniform on [-1, 1] (Archimedes), so lon alone looks right
    assert stats.kstest(lon.numpy(), stats.uniform(-180, 360).cdf).pvalue > 0.01
    assert stats.kstest(lat.numpy() / 90, stats.uniform(-1, 2).cdf).pvalue > 0.01
    # ... but near the dateline the latitudes squeeze towards the equator
    assert float(lat[lon.abs() > 170].abs().max()) < 40


def test_sampler_is_reproducible_and_typed() -> None:
    a = sample_uniform_sphere(5, generator=torch.Generator().manual_seed(3))
    b = sample_uniform_sphere(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert a.dtype == torch.get_default_dtype()
    assert sample_uniform_sphere(0).shape == (0, 2)
    assert sample_uniform_sphere(3, dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ValueError, match='must be ≥ 0, got -1'):
        sample_uniform_sphere(-1)
    with pytest.raises(ValueError, match='floating-point dtype'):
        sample_uniform_sphere(2, dtype=torch.int64)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _nll_of_first(logits: np.ndarray, positive: np.ndarray) -> float:
    """Mean of -log softmax(logits)[positive] per row, numerically in float64."""
    top = logits.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(np.mean(log_z - logits[np.arange(len(logits)), positive]))


@pytest.mark.parametrize('tau', [1.0, 0.07, 20.0])
def test_objectives_match_numpy_formulas_of_the_paper(tau: float) -> None:
    # CSP (Mai et al., ICML 2023, Sec. 3.2, Eqs. 3-5; gengchenmai/csp main/losses.py
    # "contsoftmax"): cosine similarities divided by tau, softmax cross-entropy with
    # the positive among B (in-batch images), 1 + N (own location + random
    # locations) or B (second dropout pass) candidates. Tolerance: 1e-10 (float64).
    rng = np.random.default_rng(0)
    b, n, d = 5, 3, 7
    loc, img, loc2 = (rng.normal(size=(b, d)) for _ in range(3))
    rand = rng.normal(size=(b, n, d))
    t = lambda a: torch.from_numpy(a)

    expected_b = _nll_of_first(_unit(loc) @ _unit(img).T / tau, np.arange(b))
    loss_b, _ = InBatchLocationImageLoss(tau)(t(loc), t(img))
    assert float(loss_b) == pytest.approx(expected_b, abs=1e-10)
    sym = expected_b + _nll_of_first(_unit(img) @ _unit(loc).T / tau, np.arange(b))
    loss_sym, _ = InBatchLocationImageLoss(tau, symmetric=True)(t(loc), t(img))
    assert float(loss_sym) == pytest.approx(sym, abs=1e-10)

    pos = np.sum(_unit(img) * _unit(loc), axis=1, keepdims=True)
    neg = np.einsum('bd,bnd->bn', _unit(img), _unit(rand))
    expected_l = _nll_of_first(np.concatenate([pos, neg], 1) / tau, np.zeros(b, int))
    loss_l, _ = RandomLocationLoss(tau)(t(img), t(loc), t(rand))
    assert float(loss_l) == pytest.approx(expected_l, abs=1e-10)

    expected_d = _nll_of_first(_unit(loc) @ _unit(loc2).T / tau, np.arange(b))
    loss_d, _ = SimCSELoss(tau)(t(loc), t(loc2))
    assert float(loss_d) == pytest.approx(expected_d, abs=1e-10)

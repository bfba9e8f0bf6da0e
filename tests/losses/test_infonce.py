import math

import pytest
import torch
import torch.nn.functional as F

from torchgeo_geossl.losses import InfoNCELoss, top1_accuracy

# Two queries, their positives and three shared negatives, all unit vectors.
QUERY = [[1.0, 0.0], [0.0, 1.0]]
POSITIVE = [[0.6, 0.8], [0.0, 1.0]]
NEGATIVES = [[1.0, 0.0], [0.8, 0.6], [-0.6, 0.8]]
# Dot products by hand: row 0: q·k+ = 0.6, q·n = 1.0, 0.8, -0.6;
# row 1: q·k+ = 1.0, q·n = 0.0, 0.6, 0.8. Divided by T = 0.5:
EXPECTED_LOGITS = [[1.2, 2.0, 1.6, -1.2], [2.0, 0.0, 1.2, 1.6]]


def tensors() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.tensor(QUERY), torch.tensor(POSITIVE), torch.tensor(NEGATIVES)


def test_hand_computed_loss_and_logits() -> None:
    loss, logits = InfoNCELoss(temperature=0.5)(*tensors())
    row0 = -1.2 + math.log(
        math.exp(1.2) + math.exp(2.0) + math.exp(1.6) + math.exp(-1.2)
    )
    row1 = -2.0 + math.log(
        math.exp(2.0) + math.exp(0.0) + math.exp(1.2) + math.exp(1.6)
    )
    assert logits.shape == (2, 4)
    assert torch.allclose(logits, torch.tensor(EXPECTED_LOGITS), atol=1e-6)
    assert loss.shape == ()
    assert loss.item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_top1_accuracy() -> None:
    _, logits = InfoNCELoss(temperature=0.5)(*tensors())
    # Row 0's largest logit is a negative (2.0 > 1.2), row 1's is the positive.
    assert top1_accuracy(logits).item() == pytest.approx(0.5)
    assert top1_accuracy(torch.tensor([[3.0, 1.0], [5.0, 4.0]])).item() == 1.0
    assert top1_accuracy(torch.tensor([[0.0, 1.0, -1.0]])).item() == 0.0


def test_top1_accuracy_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match=r'\[N, 1 \+ M\], got \[3\]'):
        top1_accuracy(torch.zeros(3))
    with pytest.raises(ValueError, match=r'got \[0, 4\]'):
        top1_accuracy(torch.zeros(0, 4))


def test_temperature_scales_logits() -> None:
    _, logits_1 = InfoNCELoss(temperature=1.0)(*tensors())
    _, logits_01 = InfoNCELoss(temperature=0.1)(*tensors())
    assert torch.allclose(logits_01, 10 * logits_1, atol=1e-5)
    assert torch.allclose(logits_1, 0.5 * torch.tensor(EXPECTED_LOGITS), atol=1e-6)


def test_default_temperature() -> None:
    assert InfoNCELoss().temperature == 0.07


def test_many_negatives_shape() -> None:
    query = F.normalize(torch.randn(8, 16), dim=1)
    positive = F.normalize(torch.randn(8, 16), dim=1)
    negatives = F.normalize(torch.randn(100, 16), dim=1)
    loss, logits = InfoNCELoss()(query, positive, negatives)
    assert logits.shape == (8, 101)
    assert torch.isfinite(loss)


def test_gradient_reaches_query_only() -> None:
    query, positive, negatives = tensors()
    query.requires_grad_(True)
    positive.requires_grad_(True)
    negatives.requires_grad_(True)
    temperature = 0.5
    loss, logits = InfoNCELoss(temperature=temperature)(query, positive, negatives)
    loss.backward()
    assert positive.grad is None
    assert negatives.grad is None
    assert query.grad is not None
    # dL/dq_i = (sum_j p_ij k_j - k_i+) / (N T), with k_0 = k_i+ and p = softmax.
    p = torch.softmax(logits.detach(), dim=1)
    keys = torch.cat(
        [torch.tensor(POSITIVE)[:, None], torch.tensor(NEGATIVES).expand(2, 3, 2)],
        dim=1,
    )
    expected = ((p[..., None] * keys).sum(1) - torch.tensor(POSITIVE)) / (
        2 * temperature
    )
    assert torch.allclose(query.grad, expected, atol=1e-6)


def test_normalize_option() -> None:
    query, positive, negatives = tensors()
    loss_unit, _ = InfoNCELoss(temperature=0.5)(query, positive, negatives)
    scaled = (3 * query, torch.tensor([[2.0], [0.5]]) * positive, 7 * negatives)
    loss_scaled, _ = InfoNCELoss(temperature=0.5, normalize=True)(*scaled)
    assert loss_scaled.item() == pytest.approx(loss_unit.item(), rel=1e-6)
    # Without normalize the inputs are used as given.
    loss_raw, _ = InfoNCELoss(temperature=0.5)(*scaled)
    assert loss_raw.item() != pytest.approx(loss_unit.item(), rel=1e-3)


@pytest.mark.parametrize('temperature', [0.0, -0.1, float('nan'), float('inf')])
def test_invalid_temperature(temperature: float) -> None:
    with pytest.raises(ValueError, match='temperature must be a finite positive'):
        InfoNCELoss(temperature=temperature)


def test_shape_errors() -> None:
    loss = InfoNCELoss()
    query, positive, negatives = tensors()
    with pytest.raises(ValueError, match=r'query must be \[N, D\].*got \[2\]'):
        loss(query[0], positive, negatives)
    with pytest.raises(ValueError, match=r'positive must have the shape of query'):
        loss(query, positive[:1], negatives)
    with pytest.raises(ValueError, match=r'negatives must be \[M, 2\].*got \[3, 3\]'):
        loss(query, positive, torch.zeros(3, 3))
    with pytest.raises(ValueError, match='at least one negative'):
        loss(query, positive, torch.zeros(0, 2))

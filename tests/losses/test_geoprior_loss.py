import math

import pytest
import torch

from torchgeo_geossl.losses.geoprior import PresenceOnlyLoss


def test_hand_computed_value_with_default_weight_k() -> None:
    # K = 2 classes, so lambda = 2; sigma(log 3) = 0.75, sigma(0) = 0.5
    logits = torch.tensor([[0.0, math.log(3.0)]])
    target = torch.tensor([1])
    background = torch.tensor([[0.0, math.log(3.0)]])
    loss = PresenceOnlyLoss()(logits, target, background)
    data = (math.log(2.0) + 2 * math.log(4 / 3)) / 2  # mean over B*K = 2 entries
    bg = (math.log(2.0) + math.log(4.0)) / 2  # -log(1 - 0.5), -log(1 - 0.75)
    assert loss.item() == pytest.approx(data + bg, rel=1e-6)


def test_explicit_weights() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)], [math.log(3.0), 0.0]])
    target = torch.tensor([1, 1])
    background = torch.zeros(3, 2)
    loss = PresenceOnlyLoss(pos_weight=10.0, background_weight=0.5)(
        logits, target, background
    )
    # row 0: negative c=0 -> log 2, positive c=1 -> 10 * log(4/3)
    # row 1: negative c=0 -> -log(0.25) = log 4, positive c=1 -> 10 * log 2
    data = (math.log(2) + 10 * math.log(4 / 3) + math.log(4) + 10 * math.log(2)) / 4
    assert loss.item() == pytest.approx(data + 0.5 * math.log(2), rel=1e-6)


def test_matches_reference_formula_with_probabilities() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 4, generator=generator)
    background = torch.randn(6, 4, generator=generator)
    target = torch.tensor([0, 1, 2, 3, 0, 1])
    p, pr = torch.sigmoid(logits), torch.sigmoid(background)
    terms = -torch.log(1 - p)
    terms[torch.arange(6), target] = 4 * -torch.log(p[torch.arange(6), target])
    expected = terms.mean() + (-torch.log(1 - pr)).mean()
    loss = PresenceOnlyLoss()(logits, target, background)
    torch.testing.assert_close(loss, expected)


def test_stable_for_saturated_logits_and_gradient_direction() -> None:
    logits = torch.tensor([[60.0, -60.0]], requires_grad=True)
    loss = PresenceOnlyLoss()(logits, torch.tensor([1]), torch.zeros(1, 2))
    assert torch.isfinite(loss)
    loss.backward()
    assert logits.grad is not None
    assert logits.grad[0, 0] > 0  # the assumed negative is pushed down
    assert logits.grad[0, 1] < 0  # the positive is pushed up


def test_errors() -> None:
    loss = PresenceOnlyLoss()
    with pytest.raises(ValueError, match=r'logits \[B, K\]'):
        loss(torch.zeros(3), torch.zeros(3, dtype=torch.long), torch.zeros(3, 2))
    with pytest.raises(ValueError, match='integer targets'):
        loss(torch.zeros(3, 2), torch.zeros(3), torch.zeros(3, 2))
    with pytest.raises(ValueError, match='K = 2'):
        loss(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r'\[0, 2\), got \[2, 7\]'):
        loss(torch.zeros(3, 2), torch.tensor([0, 2, 7]), torch.zeros(3, 2))
    with pytest.raises(ValueError, match='pos_weight >= 0'):
        PresenceOnlyLoss(pos_weight=-1.0)
    with pytest.raises(ValueError, match='background_weight'):
        PresenceOnlyLoss(background_weight=float('nan'))

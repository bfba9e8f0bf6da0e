import pytest
import torch
from lightly.models.modules.heads import MoCoProjectionHead
from torch import nn

from torchgeo_geossl.models import (
    GeoClassificationHead,
    copy_as_momentum,
    mocov2_projection_head,
    update_momentum,
)


def test_mocov2_projection_head_structure() -> None:
    head = mocov2_projection_head(512)
    assert isinstance(head, MoCoProjectionHead)
    layers = list(head.layers)
    assert [type(layer) for layer in layers] == [nn.Linear, nn.ReLU, nn.Linear]
    first, _, last = layers
    assert isinstance(first, nn.Linear)
    assert isinstance(last, nn.Linear)
    assert (first.in_features, first.out_features) == (512, 512)
    assert (last.in_features, last.out_features) == (512, 128)
    assert first.bias is not None
    assert last.bias is not None
    assert head(torch.randn(3, 512)).shape == (3, 128)


def test_mocov2_projection_head_dimensions() -> None:
    head = mocov2_projection_head(64, hidden_dim=32, output_dim=16)
    first, _, last = list(head.layers)
    assert isinstance(first, nn.Linear)
    assert isinstance(last, nn.Linear)
    assert (first.in_features, first.out_features) == (64, 32)
    assert (last.in_features, last.out_features) == (32, 16)
    assert head(torch.randn(2, 64)).shape == (2, 16)


@pytest.mark.parametrize(
    ('kwargs', 'name'),
    [
        ({'input_dim': 0}, 'input_dim'),
        ({'input_dim': 8, 'hidden_dim': -1}, 'hidden_dim'),
        ({'input_dim': 8, 'output_dim': 0}, 'output_dim'),
    ],
)
def test_mocov2_projection_head_invalid(kwargs: dict[str, int], name: str) -> None:
    with pytest.raises(ValueError, match=f'{name} must be a positive integer'):
        mocov2_projection_head(**kwargs)


def test_geo_classification_head() -> None:
    head = GeoClassificationHead()
    relu, linear = list(head.layers)
    assert isinstance(relu, nn.ReLU)
    assert not relu.inplace
    assert isinstance(linear, nn.Linear)
    assert (linear.in_features, linear.out_features) == (128, 100)
    projection = torch.randn(4, 128)
    before = projection.clone()
    logits = head(projection)
    assert logits.shape == (4, 100)
    # The un-normalised projection stays intact for the contrastive loss.
    assert torch.equal(projection, before)
    expected = projection.clamp(min=0) @ linear.weight.T + linear.bias
    assert torch.allclose(logits, expected, atol=1e-6)


def test_geo_classification_head_errors() -> None:
    head = GeoClassificationHead(input_dim=16, num_classes=5)
    assert head(torch.randn(2, 16)).shape == (2, 5)
    with pytest.raises(ValueError, match=r'\[N, 16\], got \[2, 128\]'):
        head(torch.randn(2, 128))
    with pytest.raises(ValueError, match='num_classes must be a positive integer'):
        GeoClassificationHead(num_classes=0)


def test_copy_as_momentum() -> None:
    online = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    momentum = copy_as_momentum(online)
    assert type(momentum) is nn.Sequential
    for p_q, p_k in zip(online.parameters(), momentum.parameters(), strict=True):
        assert torch.equal(p_q, p_k)
        assert p_q.data_ptr() != p_k.data_ptr()
        assert p_q.requires_grad
        assert not p_k.requires_grad
    with torch.no_grad():
        online[0].weight.add_(1.0)
    assert not torch.equal(online[0].weight, momentum[0].weight)


def test_update_momentum_numbers() -> None:
    online = nn.Linear(2, 1)
    momentum = copy_as_momentum(online)
    with torch.no_grad():
        online.weight.copy_(torch.tensor([[1.0, 2.0]]))
        online.bias.copy_(torch.tensor([3.0]))
        momentum.weight.copy_(torch.tensor([[0.0, 0.0]]))
        momentum.bias.copy_(torch.tensor([1.0]))
    update_momentum(online, momentum, m=0.9)
    # θ_k ← 0.9 θ_k + 0.1 θ_q
    assert torch.allclose(momentum.weight, torch.tensor([[0.1, 0.2]]))
    assert torch.allclose(momentum.bias, torch.tensor([1.2]))
    update_momentum(online, momentum, m=0.9)
    assert torch.allclose(momentum.weight, torch.tensor([[0.19, 0.38]]))
    assert torch.allclose(momentum.bias, torch.tensor([1.38]))
    # The online module is untouched.
    assert torch.equal(online.weight, torch.tensor([[1.0, 2.0]]))
    update_momentum(online, momentum, m=0.0)
    assert torch.equal(momentum.weight, online.weight)


def test_update_momentum_errors() -> None:
    online = nn.Linear(2, 1)
    with pytest.raises(ValueError, match=r'm must lie in \[0, 1\], got 1.5'):
        update_momentum(online, copy_as_momentum(online), m=1.5)
    with pytest.raises(ValueError, match="parameter 'weight' has shape \\[1, 2\\]"):
        update_momentum(online, nn.Linear(3, 1), m=0.9)
    with pytest.raises(ValueError, match='2 vs 4 parameters'):
        update_momentum(online, nn.Sequential(nn.Linear(2, 1), nn.Linear(1, 1)), m=0.9)

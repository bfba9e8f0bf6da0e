"""Tests for torchgeo_geossl.location.encoder."""

import pytest
import torch
from torch import nn
from torchgeo.models.satclip import SirenNet

from torchgeo_geossl.location.encoder import LocationEncoder
from torchgeo_geossl.location.encodings import (
    GridEncoding,
    NeRFEncoding,
    RBFEncoding,
    SphericalHarmonicsEncoding,
)

PTS = torch.tensor(
    [[10.0, 20.0], [-170.0, -45.0], [0.0, 0.0], [120.5, 60.25]], dtype=torch.float64
)


def test_default_structure_and_shape() -> None:
    model = LocationEncoder()
    assert isinstance(model.encoding, GridEncoding)
    assert model.encoding.output_dim == 128
    types = [type(m) for m in model.mlp]
    assert types == [nn.Linear, nn.ReLU, nn.Dropout, nn.LayerNorm, nn.Linear]
    assert model.mlp[0].in_features == 128
    assert model.mlp[0].out_features == 512
    assert model.mlp[2].p == 0.5
    assert model.mlp[4].out_features == 256
    out = model(PTS)
    assert out.shape == (4, 256)
    assert out.dtype == torch.float32
    assert model.output_dim == 256


def test_layers_and_activation() -> None:
    model = LocationEncoder(
        'wrap', output_dim=8, hidden_dim=16, num_hidden_layers=2, activation='tanh'
    )
    types = [type(m) for m in model.mlp]
    block = [nn.Linear, nn.Tanh, nn.Dropout, nn.LayerNorm]
    assert types == block + block + [nn.Linear]
    linear = LocationEncoder('wrap', output_dim=8, num_hidden_layers=0)
    assert [type(m) for m in linear.mlp] == [nn.Linear]
    assert linear(PTS).shape == (4, 8)
    leaky = LocationEncoder('wrap', activation='leakyrelu')
    assert leaky.mlp[1].negative_slope == 0.2
    with pytest.raises(ValueError, match="Unknown activation 'swish'.*relu"):
        LocationEncoder('wrap', activation='swish')


def test_reference_output_block() -> None:
    model = LocationEncoder('nerf', output_dim=32, reference_output_block=True)
    assert [type(m) for m in model.mlp][-3:] == [nn.Linear, nn.ReLU, nn.Dropout]
    model.eval()
    assert bool((model(PTS) >= 0).all())
    plain = LocationEncoder('nerf', output_dim=32).eval()
    assert bool((plain(PTS) < 0).any())


def test_dropout_only_in_training() -> None:
    model = LocationEncoder('grid', frequencies=4, output_dim=16)
    model.train()
    a, b = model(PTS), model(PTS)
    assert not torch.allclose(a, b)
    model.eval()
    torch.testing.assert_close(model(PTS), model(PTS))
    no_drop = LocationEncoder('grid', frequencies=4, output_dim=16, dropout=0.0)
    no_drop.train()
    torch.testing.assert_close(no_drop(PTS), no_drop(PTS))


def test_gradient_flows() -> None:
    model = LocationEncoder('theory', frequencies=4, output_dim=8, hidden_dim=16)
    model(PTS).pow(2).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert bool(param.grad.abs().sum() > 0), name


def test_siren_for_sh() -> None:
    model = LocationEncoder('sh', legendre_polys=4, output_dim=8, hidden_dim=16)
    assert model.siren
    assert isinstance(model.encoding, SphericalHarmonicsEncoding)
    assert isinstance(model.mlp, SirenNet)
    assert model(PTS).shape == (4, 8)
    mlp = LocationEncoder('sh', legendre_polys=4, siren=False)
    assert isinstance(mlp.mlp, nn.Sequential)
    grid_siren = LocationEncoder('grid', frequencies=4, siren=True, output_dim=8)
    assert isinstance(grid_siren.mlp, SirenNet)
    with pytest.raises(ValueError, match='fixed dropout of 0.5'):
        LocationEncoder('sh', dropout=0.1)
    with pytest.raises(ValueError, match='MLP only'):
        LocationEncoder('sh', reference_output_block=True)
    with pytest.raises(ValueError, match='num_hidden_layers >= 1'):
        LocationEncoder('sh', num_hidden_layers=0)


def test_encoding_kwargs_and_module() -> None:
    model = LocationEncoder('grid', frequencies=4, min_radius=1.0, output_dim=8)
    assert model.encoding.output_dim == 16
    assert model.mlp[0].in_features == 16
    train = PTS[:3]
    rbf = LocationEncoder('rbf', train_points=train, num_anchors=3, output_dim=8)
    assert isinstance(rbf.encoding, RBFEncoding)
    assert rbf(PTS).shape == (4, 8)
    with pytest.raises(ValueError, match='train_points'):
        LocationEncoder('rbf')
    custom = LocationEncoder(NeRFEncoding(frequencies=2), output_dim=8)
    assert custom.mlp[0].in_features == 12
    with pytest.raises(ValueError, match=r"\['frequencies'\]"):
        LocationEncoder(NeRFEncoding(), frequencies=3)
    with pytest.raises(ValueError, match='wrap_longitude'):
        LocationEncoder(NeRFEncoding(), wrap_longitude=True)
    with pytest.raises(ValueError, match='output_dim'):
        LocationEncoder(nn.Identity())
    with pytest.raises(TypeError, match='encoding name or an nn.Module'):
        LocationEncoder(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='Unknown location encoding'):
        LocationEncoder('hexagon')


def test_argument_errors() -> None:
    with pytest.raises(ValueError, match='dropout'):
        LocationEncoder('wrap', dropout=1.0)
    with pytest.raises(ValueError, match='hidden_dim'):
        LocationEncoder('wrap', hidden_dim=0)
    with pytest.raises(ValueError, match='num_hidden_layers'):
        LocationEncoder('wrap', num_hidden_layers=-1)


def test_wrap_longitude_and_validation() -> None:
    model = LocationEncoder('grid', frequencies=4, wrap_longitude=True).eval()
    a = model(torch.tensor([[181.0, 10.0]]))
    b = model(torch.tensor([[-179.0, 10.0]]))
    torch.testing.assert_close(a, b)
    strict = LocationEncoder('grid', frequencies=4)
    with pytest.raises(ValueError, match='longitude'):
        strict(torch.tensor([[181.0, 10.0]]))
    with pytest.raises(ValueError, match='non-finite'):
        strict(torch.tensor([[float('nan'), 10.0]]))


def test_input_and_model_dtypes() -> None:
    model = LocationEncoder('spherec', frequencies=4, output_dim=8).eval()
    torch.testing.assert_close(model(PTS), model(PTS.float()), atol=1e-5, rtol=1e-5)
    model64 = LocationEncoder(
        'spherec', frequencies=4, output_dim=8, dtype=torch.float64
    ).double()
    out = model64(PTS)
    assert out.dtype == torch.float64
    assert out.shape == (4, 8)

"""Tests for torchgeo_geossl.location.encoder."""

import math

import pytest
import torch
from torch import nn
from torchgeo.models.satclip import SirenNet

from torchgeo_geossl.location.encoder import FCNet, LocationEncoder
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
    # The CSP reference (gengchenmai/csp main/module.py MultiLayerFeedForwardNN with
    # --num_hidden_layer 1 --hidden_dim 512, dropout 0.5, use_layn T, LeakyReLU(0.2)
    # of run-inat_2018-contsoftmax.sh): activation and dropout after the output too.
    model = LocationEncoder()
    assert model.network == 'mlp'
    assert isinstance(model.encoding, GridEncoding)
    assert model.encoding.output_dim == 128
    types = [type(m) for m in model.mlp]
    assert types == [
        nn.Linear,
        nn.LeakyReLU,
        nn.Dropout,
        nn.LayerNorm,
        nn.Linear,
        nn.LeakyReLU,
        nn.Dropout,
    ]
    assert model.mlp[1].negative_slope == 0.2
    assert model.mlp[0].in_features == 128
    assert model.mlp[0].out_features == 512
    assert model.mlp[2].p == 0.5
    assert model.mlp[6].p == 0.5
    assert model.mlp[4].out_features == 256
    out = model(PTS)
    assert out.shape == (4, 256)
    assert out.dtype == torch.float32
    assert model.output_dim == 256


def test_layers_and_activation() -> None:
    model = LocationEncoder(
        'grid',
        frequencies=4,
        output_dim=8,
        hidden_dim=16,
        num_hidden_layers=2,
        activation='tanh',
        reference_output_block=False,
    )
    types = [type(m) for m in model.mlp]
    block = [nn.Linear, nn.Tanh, nn.Dropout, nn.LayerNorm]
    assert types == block + block + [nn.Linear]
    linear = LocationEncoder(
        'grid',
        frequencies=4,
        output_dim=8,
        num_hidden_layers=0,
        reference_output_block=False,
    )
    assert [type(m) for m in linear.mlp] == [nn.Linear]
    assert linear(PTS).shape == (4, 8)
    gelu = LocationEncoder('grid', frequencies=4, activation='gelu')
    assert isinstance(gelu.mlp[1], nn.GELU)
    with pytest.raises(ValueError, match="Unknown activation 'swish'.*relu"):
        LocationEncoder('grid', activation='swish')


def test_reference_output_block() -> None:
    model = LocationEncoder(
        'nerf',
        frequencies=4,
        output_dim=32,
        activation='relu',
        reference_output_block=True,
    )
    assert [type(m) for m in model.mlp][-3:] == [nn.Linear, nn.ReLU, nn.Dropout]
    model.eval()
    assert bool((model(PTS) >= 0).all())
    plain = LocationEncoder(
        'nerf',
        frequencies=4,
        output_dim=32,
        activation='relu',
        reference_output_block=False,
    ).eval()
    assert bool((plain(PTS) < 0).any())


def reference_mlp(
    x: torch.Tensor, mlp: nn.Module, hidden: int, slope: float
) -> torch.Tensor:
    """The reference's SingleFeedForwardNN stack written out, in eval mode."""
    params = dict(mlp.named_parameters())

    def layer(i: int, v: torch.Tensor) -> torch.Tensor:
        return v @ params[f'{i}.weight'].T + params[f'{i}.bias']

    def leaky(v: torch.Tensor) -> torch.Tensor:
        return torch.where(v > 0, v, slope * v)

    def norm(i: int, v: torch.Tensor) -> torch.Tensor:
        mean = v.mean(-1, keepdim=True)
        var = ((v - mean) ** 2).mean(-1, keepdim=True)
        return (v - mean) / torch.sqrt(var + 1e-5) * params[f'{i}.weight'] + params[
            f'{i}.bias'
        ]

    out = x
    for h in range(hidden):
        y = leaky(layer(4 * h, out))
        # skip connection only where input and output widths are equal
        out = norm(4 * h + 3, y + out if out.shape[1] == y.shape[1] else y)
    return leaky(layer(4 * hidden, out))


def test_mlp_matches_the_reference_feed_forward_stack() -> None:
    torch.manual_seed(0)
    model = (
        LocationEncoder(
            'grid', frequencies=2, output_dim=6, hidden_dim=8, num_hidden_layers=3
        )
        .double()
        .eval()
    )
    features = model.encoding(PTS).double()
    expected = reference_mlp(features, model.mlp, 3, 0.2)
    torch.testing.assert_close(model(PTS), expected, rtol=1e-12, atol=1e-12)
    # residual=False removes the skips: a different function
    model.mlp.skips = [False, False, False]
    assert not torch.allclose(model(PTS), expected)


def test_xavier_uniform_init() -> None:
    torch.manual_seed(0)
    model = LocationEncoder('grid', frequencies=32, hidden_dim=512, output_dim=256)
    for linear in (model.mlp[0], model.mlp[4]):
        fan_out, fan_in = linear.weight.shape
        bound = math.sqrt(6 / (fan_in + fan_out))
        w = linear.weight.detach()
        assert float(w.abs().max()) <= bound
        # uniform on [-bound, bound]: variance bound^2 / 3 (PyTorch's default
        # kaiming_uniform(a=sqrt(5)) would give 1 / (3 fan_in))
        assert float(w.var()) == pytest.approx(bound**2 / 3, rel=0.05)


def reference_fcnet(x: torch.Tensor, net: nn.Module, blocks: int) -> torch.Tensor:
    """Mac Aodha et al.'s FCNet (geo_prior models.py) written out, in eval mode."""
    p = dict(net.named_parameters())
    out = torch.relu(x @ p['input.weight'].T + p['input.bias'])
    for b in range(blocks):
        y = torch.relu(out @ p[f'blocks.{b}.w1.weight'].T + p[f'blocks.{b}.w1.bias'])
        y = torch.relu(y @ p[f'blocks.{b}.w2.weight'].T + p[f'blocks.{b}.w2.bias'])
        out = out + y
    return out


def test_wrap_is_mac_aodhas_residual_fcnet() -> None:
    model = LocationEncoder('wrap', output_dim=16).double().eval()
    assert model.network == 'fcnet'
    assert isinstance(model.mlp, FCNet)
    assert len(model.mlp.blocks) == 4
    assert model.mlp.input.in_features == 4
    assert model.mlp.blocks[0].dropout.p == 0.5
    features = model.encoding(PTS).double()
    torch.testing.assert_close(model(PTS), reference_fcnet(features, model.mlp, 4))
    two = LocationEncoder('wrap', output_dim=16, num_hidden_layers=2).double().eval()
    torch.testing.assert_close(two(PTS), reference_fcnet(features, two.mlp, 2))
    # wrap + MLP ("wrap + ffn" of TorchSpatial) stays available
    ffn = LocationEncoder('wrap', network='mlp')
    assert isinstance(ffn.mlp[0], nn.Linear)
    with pytest.raises(ValueError, match='hidden_dim must be None or output_dim'):
        LocationEncoder('wrap', output_dim=16, hidden_dim=32)
    with pytest.raises(ValueError, match="MLP only, not to network='fcnet'"):
        LocationEncoder('wrap', activation='relu')
    with pytest.raises(ValueError, match='Unknown network'):
        LocationEncoder('wrap', network='cnn')  # type: ignore[arg-type]


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
    assert model.network == 'siren'
    assert isinstance(model.encoding, SphericalHarmonicsEncoding)
    assert isinstance(model.mlp, SirenNet)
    assert len(model.mlp.layers) == 2  # SatCLIP-L40: 2 SIREN layers
    assert model(PTS).shape == (4, 8)
    satclip = LocationEncoder('sh')
    assert satclip.encoding.output_dim == 1600  # L = 40
    assert satclip.mlp.last_layer.weight.shape[1] == 512
    mlp = LocationEncoder('sh', legendre_polys=4, network='mlp')
    assert isinstance(mlp.mlp[0], nn.Linear)
    grid_siren = LocationEncoder('grid', frequencies=4, network='siren', output_dim=8)
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

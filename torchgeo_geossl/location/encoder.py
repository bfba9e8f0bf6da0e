"""Location encoder: a positional encoding followed by a neural network.

The CSP location encoder (Mai et al., ICML 2023) is ``e(x) = NN(PE(x))``: a
positional encoding of ``(lon, lat)`` degrees (see
:mod:`torchgeo_geossl.location.encodings`) followed by a multi-layer perceptron or,
for spherical harmonics as in SatCLIP, a SIREN network.
"""

from torch import Tensor, nn
from torchgeo.models.satclip import SirenNet

from .encodings import build_encoding

#: Activations accepted by :class:`LocationEncoder` (the CSP reference's set;
#: ``'leakyrelu'`` uses a negative slope of 0.2 as there).
ACTIVATIONS = ('relu', 'leakyrelu', 'gelu', 'sigmoid', 'tanh')

#: Dropout probability hard-wired in TorchGeo's :class:`SirenNet` hidden layers.
_SIREN_DROPOUT = 0.5


def _activation(name: str) -> nn.Module:
    """Build an activation module by name.

    Args:
        name: One of :data:`ACTIVATIONS`.

    Returns:
        The activation.

    Raises:
        ValueError: If *name* is unknown.
    """
    match name:
        case 'relu':
            return nn.ReLU()
        case 'leakyrelu':
            return nn.LeakyReLU(negative_slope=0.2)
        case 'gelu':
            return nn.GELU()
        case 'sigmoid':
            return nn.Sigmoid()
        case 'tanh':
            return nn.Tanh()
    raise ValueError(
        f'Unknown activation {name!r}; valid names: {", ".join(ACTIVATIONS)}'
    )


class LocationEncoder(nn.Module):
    """Positional encoding of ``(lon, lat)`` followed by an MLP or a SIREN.

    MLP (CSP, default): each of the ``num_hidden_layers`` hidden layers is
    ``Linear -> activation -> Dropout -> LayerNorm`` (the order of the CSP reference
    code), followed by a final ``Linear`` to ``output_dim``; with
    ``num_hidden_layers = 0`` it is a single ``Linear``. The CSP reference code also
    applies the activation and dropout after the output layer;
    ``reference_output_block=True`` reproduces that quirk (off by default, since it
    makes a ReLU encoder's output non-negative before L2 normalisation).

    SIREN (SatCLIP, default for ``encoding='sh'``): TorchGeo's
    :class:`~torchgeo.models.satclip.SirenNet` with ``num_hidden_layers`` sine
    layers of ``hidden_dim`` units (first-layer ``w0 = 30``) and a linear output;
    its hidden layers use dropout with ``p = 0.5``, fixed by TorchGeo.

    If you use this model in your research, please cite:

    * https://arxiv.org/abs/2305.01118
    * https://doi.org/10.1609/aaai.v39i4.32457

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        encoding: str | nn.Module = 'grid',
        output_dim: int = 256,
        hidden_dim: int = 512,
        num_hidden_layers: int = 1,
        dropout: float = 0.5,
        activation: str = 'relu',
        siren: bool | None = None,
        wrap_longitude: bool = False,
        reference_output_block: bool = False,
        **encoding_kwargs: object,
    ) -> None:
        """Initialize a new LocationEncoder instance.

        Args:
            encoding: Name of a positional encoding (see
                :func:`~torchgeo_geossl.location.encodings.build_encoding`) or an
                encoding module with an integer ``output_dim`` attribute.
            output_dim: Size of the location embedding.
            hidden_dim: Width of the hidden layers.
            num_hidden_layers: Number of hidden layers (at least 1 for a SIREN).
            dropout: Dropout probability of the MLP's hidden layers; must be 0.5
                (TorchGeo's fixed value) for a SIREN.
            activation: Activation of the MLP, one of :data:`ACTIVATIONS`; unused
                by a SIREN.
            siren: Use a SIREN instead of the MLP; None means True for
                ``encoding='sh'`` and False otherwise.
            wrap_longitude: Let the encoding wrap longitudes outside
                ``[-180, 180)`` instead of rejecting them (only with an encoding
                name; set it on the module otherwise).
            reference_output_block: Apply the activation and dropout after the
                output layer as the CSP reference code does (MLP only).
            **encoding_kwargs: Arguments of the encoding when *encoding* is a name
                (e.g. ``frequencies``, ``min_radius``, ``train_points``).

        Raises:
            TypeError: If *encoding* is neither a name nor a module.
            ValueError: If an argument is invalid or inconsistent (the message says
                which).
        """
        super().__init__()
        if isinstance(encoding, str):
            self.encoding: nn.Module = build_encoding(
                encoding, wrap_longitude=wrap_longitude, **encoding_kwargs
            )
            name = encoding.lower()
        elif isinstance(encoding, nn.Module):
            if encoding_kwargs or wrap_longitude:
                given = sorted(encoding_kwargs) + (
                    ['wrap_longitude'] if wrap_longitude else []
                )
                raise ValueError(
                    f'Encoding arguments {given} are only used with an encoding '
                    'name; configure the encoding module itself instead'
                )
            self.encoding = encoding
            name = type(encoding).__name__
        else:
            raise TypeError(
                f'encoding must be an encoding name or an nn.Module, got '
                f'{type(encoding).__name__}'
            )
        in_dim = getattr(self.encoding, 'output_dim', None)
        if isinstance(in_dim, bool) or not isinstance(in_dim, int) or in_dim < 1:
            raise ValueError(
                f'The encoding {name} must expose a positive int output_dim, got '
                f'{in_dim!r}'
            )
        for arg, value in (('output_dim', output_dim), ('hidden_dim', hidden_dim)):
            if value < 1:
                raise ValueError(f'{arg} must be >= 1, got {value}')
        if num_hidden_layers < 0:
            raise ValueError(f'num_hidden_layers must be >= 0, got {num_hidden_layers}')
        if not 0 <= dropout < 1:
            raise ValueError(f'dropout must be in [0, 1), got {dropout}')
        act = _activation(activation)
        self.siren = name == 'sh' if siren is None else siren
        self.output_dim = output_dim

        if self.siren:
            if num_hidden_layers < 1:
                raise ValueError('A SIREN needs num_hidden_layers >= 1')
            if dropout != _SIREN_DROPOUT:
                raise ValueError(
                    f'TorchGeo SirenNet uses a fixed dropout of {_SIREN_DROPOUT}; '
                    f'got dropout={dropout} with siren=True'
                )
            if reference_output_block:
                raise ValueError(
                    'reference_output_block applies to the MLP only, not to a SIREN'
                )
            self.mlp: nn.Module = SirenNet(
                dim_in=in_dim,
                dim_hidden=hidden_dim,
                dim_out=output_dim,
                num_layers=num_hidden_layers,
            )
            return

        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(num_hidden_layers):
            layers += [
                nn.Linear(width, hidden_dim),
                _activation(activation),
                nn.Dropout(dropout),
                nn.LayerNorm(hidden_dim),
            ]
            width = hidden_dim
        layers.append(nn.Linear(width, output_dim))
        if reference_output_block:
            layers += [act, nn.Dropout(dropout)]
        self.mlp = nn.Sequential(*layers)

    def forward(self, points: Tensor) -> Tensor:
        """Embed locations.

        Args:
            points: ``[B, 2]`` ``(lon, lat)`` in degrees, any floating dtype, on the
                module's device.

        Returns:
            Embeddings ``[B, output_dim]`` in the dtype of the network's parameters.

        Raises:
            TypeError: If *points* is not a floating tensor.
            ValueError: If *points* is invalid (shape, non-finite values, latitude
                or longitude out of range).
        """
        features: Tensor = self.encoding(points)
        dtype = next(self.mlp.parameters()).dtype
        out: Tensor = self.mlp(features.to(dtype))
        return out

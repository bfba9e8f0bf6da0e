"""Location encoder: a positional encoding followed by a neural network.

The CSP location encoder (Mai et al., ICML 2023) is ``e(x) = NN(PE(x))``: a
positional encoding of ``(lon, lat)`` degrees (see
:mod:`torchgeo_geossl.location.encodings`) followed by a network: the CSP reference's
multi-layer perceptron, Mac Aodha et al.'s residual FCNet (for the ``wrap`` encoding)
or, for spherical harmonics as in SatCLIP, a SIREN network.
"""

from typing import Any, Literal

from torch import Tensor, nn
from torchgeo.models.satclip import SirenNet

from .encodings import build_encoding

#: Networks accepted by :class:`LocationEncoder`.
NETWORKS = ('mlp', 'fcnet', 'siren')

#: Network of an encoding name when ``network`` is None: Mac Aodha et al.'s FCNet for
#: ``wrap`` (CSP's ``geo_net`` baseline), a SIREN for ``sh`` (SatCLIP); the MLP else.
DEFAULT_NETWORKS = {'wrap': 'fcnet', 'sh': 'siren'}

#: Default activation of the MLP: LeakyReLU(0.2), as CSP's iNat2018 run
#: (gengchenmai/csp ``main/run-inat_2018-contsoftmax.sh``, ``ACT=leakyrelu``); its fMoW
#: run uses ``'gelu'`` (``main/run-fmow-contsoftmax.sh``).
MLP_ACTIVATION = 'leakyrelu'

#: Default number of hidden layers of the MLP (CSP: ``--num_hidden_layer 1``).
MLP_HIDDEN_LAYERS = 1

#: Default width of the MLP's hidden layers (CSP: ``--hidden_dim 512``).
MLP_HIDDEN_DIM = 512

#: Number of residual blocks of Mac Aodha et al.'s FCNet (``models.FCNet``).
FCNET_BLOCKS = 4

#: Default number of SIREN layers (SatCLIP-L40, TorchGeo's ``SatCLIP``).
SIREN_HIDDEN_LAYERS = 2

#: Default width of the SIREN layers (SatCLIP ``capacity``).
SIREN_HIDDEN_DIM = 512

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


class _ReferenceMLP(nn.Sequential):
    """The CSP reference's ``MultiLayerFeedForwardNN`` as a flat sequence.

    Hidden layer ``h`` is the four modules ``Linear, activation, Dropout,
    LayerNorm`` at indices ``4 h .. 4 h + 3``; its output is
    ``LayerNorm(Dropout(act(Linear(x))) + x)`` when it has a skip connection, else
    ``LayerNorm(Dropout(act(Linear(x))))``. The output ``Linear`` follows, then
    (with the reference output block) the activation and dropout.
    """

    def __init__(self, layers: list[nn.Module], skips: list[bool]) -> None:
        """Initialize a new _ReferenceMLP instance.

        Args:
            layers: The modules, in order.
            skips: Whether each hidden layer has a skip connection.
        """
        super().__init__(*layers)
        self.skips = skips

    def forward(self, input: Tensor) -> Tensor:
        """Apply the layers with their skip connections.

        Args:
            input: Features ``[B, in_dim]``.

        Returns:
            Features ``[B, output_dim]``.
        """
        x = input
        modules = list(self)
        for h, skip in enumerate(self.skips):
            linear, act, dropout, norm = modules[4 * h : 4 * h + 4]
            y = dropout(act(linear(x)))
            x = norm(y + x if skip else y)
        for module in modules[4 * len(self.skips) :]:
            x = module(x)
        return x


class _ResLayer(nn.Module):
    """Residual block of Mac Aodha et al.'s FCNet: ``x + ReLU(W2 Drop(ReLU(W1 x)))``."""

    def __init__(self, width: int, dropout: float) -> None:
        """Initialize a new _ResLayer instance.

        Args:
            width: Number of features in and out.
            dropout: Dropout probability between the two linear layers.
        """
        super().__init__()
        self.w1 = nn.Linear(width, width)
        self.w2 = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block.

        Args:
            x: Features ``[B, width]``.

        Returns:
            Features ``[B, width]``.
        """
        y = self.dropout(nn.functional.relu(self.w1(x)))
        return x + nn.functional.relu(self.w2(y))


class FCNet(nn.Module):
    """Residual fully connected network of Mac Aodha et al. (ICCV 2019).

    ``Linear(in, W) -> ReLU`` followed by *num_blocks* residual blocks
    ``x + ReLU(Linear(Dropout(ReLU(Linear(x)))))`` of width ``W``; the output is the
    last block's, ``W`` features (the location embedding of the geo-prior model,
    ``num_filts = 256``, with 4 blocks and dropout 0.5). As the ``wrap`` baseline
    of CSP (gengchenmai/csp ``main/models.py``, ``FCNet``/``ResLayer``) and of
    Mac Aodha et al.'s ``geo_prior`` code. PyTorch's default initialisation, as
    there.

    If you use this model in your research, please cite:

    * https://doi.org/10.1109/ICCV.2019.00996

    .. versionadded:: 0.2
    """

    def __init__(
        self, in_dim: int, width: int, num_blocks: int = 4, dropout: float = 0.5
    ) -> None:
        """Initialize a new FCNet instance.

        Args:
            in_dim: Number of input features.
            width: Width ``W`` of every layer, and number of output features.
            num_blocks: Number of residual blocks.
            dropout: Dropout probability inside each block.

        Raises:
            ValueError: If a size is not positive or *dropout* is outside
                ``[0, 1)``.
        """
        super().__init__()
        if in_dim < 1 or width < 1 or num_blocks < 0:
            raise ValueError(
                f'FCNet needs in_dim >= 1, width >= 1 and num_blocks >= 0; got '
                f'{in_dim}, {width}, {num_blocks}'
            )
        if not 0 <= dropout < 1:
            raise ValueError(f'FCNet dropout must be in [0, 1), got {dropout}')
        self.input = nn.Linear(in_dim, width)
        self.blocks = nn.Sequential(
            *(_ResLayer(width, dropout) for _ in range(num_blocks))
        )

    def forward(self, x: Tensor) -> Tensor:
        """Embed features.

        Args:
            x: Features ``[B, in_dim]``.

        Returns:
            Features ``[B, width]``.
        """
        out: Tensor = self.blocks(nn.functional.relu(self.input(x)))
        return out


class LocationEncoder(nn.Module):
    """Positional encoding of ``(lon, lat)`` followed by a network.

    *network* (None picks the published pairing: ``'fcnet'`` for ``wrap``,
    ``'siren'`` for ``sh``, ``'mlp'`` otherwise):

    * ``'mlp'`` (CSP; gengchenmai/csp ``main/module.py``,
      ``MultiLayerFeedForwardNN``): each of the *num_hidden_layers* (default 1)
      hidden layers of *hidden_dim* (default 512) units is
      ``Linear -> activation -> Dropout -> (+ input) -> LayerNorm``, the skip
      connection where the layer's input and output widths are equal (only
      between hidden layers; ``residual=False`` removes them). The output
      ``Linear`` to *output_dim* follows, then, as in the reference, the
      activation and dropout again (``reference_output_block``; off gives a
      plain linear output). Linear weights are initialised Xavier-uniform (biases
      keep PyTorch's default), as the reference. Activation: LeakyReLU(0.2) by
      default, as CSP's iNat2018 run; its fMoW run used ``'gelu'``.
    * ``'fcnet'`` (Mac Aodha et al., ICCV 2019; CSP's ``wrap`` baseline):
      :class:`FCNet` with 4 residual blocks of width *output_dim* (*hidden_dim*
      must be None or equal to it) and ReLU.
    * ``'siren'`` (SatCLIP): TorchGeo's ``SirenNet`` (``torchgeo.models.satclip``)
      with *num_hidden_layers* (default 2) sine layers of *hidden_dim* (default
      512) units (first-layer ``w0 = 30``) and a linear output; its hidden layers
      use dropout with ``p = 0.5``, fixed by TorchGeo.

    Options that do not apply to the chosen network (an *activation*, *residual*
    or *reference_output_block* for the FCNet or SIREN) are refused, not ignored.

    If you use this model in your research, please cite:

    * https://arxiv.org/abs/2305.01118
    * https://doi.org/10.1109/ICCV.2019.00996
    * https://doi.org/10.1609/aaai.v39i4.32457

    .. versionadded:: 0.1

    .. versionchanged:: 0.2
       Follows the reference by default: LeakyReLU(0.2) instead of ReLU, the
       activation and dropout after the output layer, skip connections between
       equal-width hidden layers, Xavier-uniform initialisation, the residual
       FCNet for ``wrap`` and 2 SIREN layers for ``sh``; *network* replaces
       ``siren``.
    """

    def __init__(
        self,
        encoding: str | nn.Module = 'grid',
        output_dim: int = 256,
        hidden_dim: int | None = None,
        num_hidden_layers: int | None = None,
        dropout: float = 0.5,
        activation: str | None = None,
        network: Literal['mlp', 'fcnet', 'siren'] | None = None,
        residual: bool | None = None,
        wrap_longitude: bool = False,
        reference_output_block: bool | None = None,
        **encoding_kwargs: object,
    ) -> None:
        """Initialize a new LocationEncoder instance.

        Args:
            encoding: Name of a positional encoding (see
                :func:`~torchgeo_geossl.location.encodings.build_encoding`) or an
                encoding module with an integer ``output_dim`` attribute.
            output_dim: Size of the location embedding.
            hidden_dim: Width of the hidden layers; None: 512 (MLP, SIREN) or
                *output_dim* (FCNet).
            num_hidden_layers: Number of hidden layers (MLP, SIREN) or residual
                blocks (FCNet); None: 1 (MLP), 2 (SIREN), 4 (FCNet).
            dropout: Dropout probability of the hidden layers; must be 0.5
                (TorchGeo's fixed value) for a SIREN.
            activation: Activation of the MLP, one of :data:`ACTIVATIONS`; None:
                ``'leakyrelu'`` (slope 0.2). Only for the MLP.
            network: ``'mlp'``, ``'fcnet'`` or ``'siren'``; None: ``'fcnet'`` for
                ``encoding='wrap'``, ``'siren'`` for ``'sh'``, ``'mlp'`` otherwise
                (also for an encoding module).
            residual: Skip connections between the MLP's equal-width hidden
                layers; None: True (the reference's ``--skip_connection T``).
                Only for the MLP.
            wrap_longitude: Let the encoding wrap longitudes outside
                ``[-180, 180)`` instead of rejecting them (only with an encoding
                name; set it on the module otherwise).
            reference_output_block: Apply the activation and dropout after the
                MLP's output layer, as the CSP reference code does; None: True.
                Only for the MLP.
            **encoding_kwargs: Arguments of the encoding when *encoding* is a name
                (e.g. ``frequencies``, ``min_radius``, ``train_points``).

        Raises:
            TypeError: If *encoding* is neither a name nor a module.
            ValueError: If an argument is invalid, inconsistent or does not apply
                to the network (the message says which).
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
        if network is None:
            network = DEFAULT_NETWORKS.get(name, 'mlp')  # type: ignore[assignment]
        if network not in NETWORKS:
            raise ValueError(
                f'Unknown network {network!r}; valid names: {", ".join(NETWORKS)}'
            )
        if output_dim < 1:
            raise ValueError(f'output_dim must be >= 1, got {output_dim}')
        if hidden_dim is not None and hidden_dim < 1:
            raise ValueError(f'hidden_dim must be >= 1, got {hidden_dim}')
        if num_hidden_layers is not None and num_hidden_layers < 0:
            raise ValueError(f'num_hidden_layers must be >= 0, got {num_hidden_layers}')
        if not 0 <= dropout < 1:
            raise ValueError(f'dropout must be in [0, 1), got {dropout}')
        self.network = network
        self.output_dim = output_dim
        if network != 'mlp':
            mlp_only = {
                'activation': activation,
                'residual': residual,
                'reference_output_block': reference_output_block,
            }
            unused = sorted(k for k, v in mlp_only.items() if v is not None)
            if unused:
                raise ValueError(
                    f'{unused} apply to the MLP only, not to network={network!r} '
                    f'(encoding {name}); leave them unset or pass network="mlp"'
                )
        self.mlp: nn.Module
        if network == 'siren':
            layers = (
                SIREN_HIDDEN_LAYERS if num_hidden_layers is None else num_hidden_layers
            )
            if layers < 1:
                raise ValueError('A SIREN needs num_hidden_layers >= 1')
            if dropout != _SIREN_DROPOUT:
                raise ValueError(
                    f'TorchGeo SirenNet uses a fixed dropout of {_SIREN_DROPOUT}; '
                    f'got dropout={dropout} with network="siren"'
                )
            self.mlp = SirenNet(
                dim_in=in_dim,
                dim_hidden=SIREN_HIDDEN_DIM if hidden_dim is None else hidden_dim,
                dim_out=output_dim,
                num_layers=layers,
            )
        elif network == 'fcnet':
            if hidden_dim is not None and hidden_dim != output_dim:
                raise ValueError(
                    f'The FCNet keeps one width and its last block is the '
                    f'embedding, so hidden_dim must be None or output_dim '
                    f'({output_dim}); got {hidden_dim}'
                )
            blocks = FCNET_BLOCKS if num_hidden_layers is None else num_hidden_layers
            self.mlp = FCNet(in_dim, output_dim, blocks, dropout)
        else:
            self.mlp = _build_mlp(
                in_dim,
                output_dim,
                MLP_HIDDEN_DIM if hidden_dim is None else hidden_dim,
                MLP_HIDDEN_LAYERS if num_hidden_layers is None else num_hidden_layers,
                dropout,
                MLP_ACTIVATION if activation is None else activation,
                True if residual is None else residual,
                True if reference_output_block is None else reference_output_block,
            )

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


def _build_mlp(
    in_dim: int,
    output_dim: int,
    hidden_dim: int,
    num_hidden_layers: int,
    dropout: float,
    activation: str,
    residual: bool,
    reference_output_block: bool,
) -> _ReferenceMLP:
    """Build the CSP reference's MLP (see :class:`LocationEncoder`).

    Args:
        in_dim: Number of input features.
        output_dim: Number of output features.
        hidden_dim: Width of the hidden layers.
        num_hidden_layers: Number of hidden layers.
        dropout: Dropout probability.
        activation: Name of the activation.
        residual: Skip connections between equal-width hidden layers.
        reference_output_block: Activation and dropout after the output layer.

    Returns:
        The MLP.
    """
    layers: list[nn.Module] = []
    skips: list[bool] = []
    width = in_dim
    for _ in range(num_hidden_layers):
        layers += [
            nn.Linear(width, hidden_dim),
            _activation(activation),
            nn.Dropout(dropout),
            nn.LayerNorm(hidden_dim),
        ]
        skips.append(residual and width == hidden_dim)
        width = hidden_dim
    layers.append(nn.Linear(width, output_dim))
    if reference_output_block:
        layers += [_activation(activation), nn.Dropout(dropout)]
    for layer in layers:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
    return _ReferenceMLP(layers, skips)


def make_location_encoder(
    encoding: str,
    *,
    frequencies: int | None = None,
    min_radius: float | None = None,
    max_radius: float | None = None,
    encoding_kwargs: dict[str, Any] | None = None,
    **encoder_kwargs: Any,
) -> LocationEncoder:
    """Build a location encoder from task arguments: the one factory of the tasks.

    :class:`~torchgeo_geossl.trainers.CSPTask` and
    :class:`~torchgeo_geossl.trainers.GeoPriorTask` both build their encoder here,
    so the same name and arguments give the same encoding. A scale argument left
    None is not passed, so the encoding keeps its own default in its own unit
    (grid and theory: 32 scales between 0.1 and 360 degrees; Sphere2Vec: 64
    scales between 0.001 and 1 radian).

    Args:
        encoding: Name of a positional encoding.
        frequencies: Number of scales (or random features), or None.
        min_radius: Finest scale in the encoding's unit, or None.
        max_radius: Coarsest scale in the encoding's unit, or None.
        encoding_kwargs: Further arguments of the encoding.
        **encoder_kwargs: Arguments of :class:`LocationEncoder` (``output_dim``,
            ``hidden_dim``, ``network``, ...).

    Returns:
        The untrained encoder.

    Raises:
        ValueError: If the encoding does not accept an argument, or an argument
            is out of range (the message names it and its unit).

    .. versionadded:: 0.2
    """
    scales = {
        'frequencies': frequencies,
        'min_radius': min_radius,
        'max_radius': max_radius,
    }
    kwargs: dict[str, Any] = {k: v for k, v in scales.items() if v is not None}
    kwargs.update(encoding_kwargs or {})
    try:
        return LocationEncoder(encoding, **encoder_kwargs, **kwargs)
    except TypeError as err:
        msg = (
            f'the encoding {encoding!r} does not accept the arguments '
            f'{sorted(kwargs)} ({err}); leave frequencies, min_radius and '
            'max_radius unset (null) for encodings without scales and pass its '
            'own arguments in encoding_kwargs'
        )
        raise ValueError(msg) from err

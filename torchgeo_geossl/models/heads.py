"""Projection and geo-location heads, and the momentum (EMA) copies of modules."""

import copy

from lightly.models.modules.heads import MoCoProjectionHead
from lightly.models.utils import deactivate_requires_grad
from lightly.models.utils import update_momentum as lightly_update_momentum
from torch import Tensor, nn


def _check_positive(name: str, value: int) -> None:
    """Raise unless *value* is a positive integer.

    Args:
        name: Parameter name for the message.
        value: Value to check.

    Raises:
        ValueError: If *value* is not a positive integer.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        msg = f'{name} must be a positive integer, got {value!r}'
        raise ValueError(msg)


def mocov2_projection_head(
    input_dim: int, hidden_dim: int | None = None, output_dim: int = 128
) -> nn.Module:
    """The MoCo-v2 "MLP" projection head: Linear(d, h) → ReLU → Linear(h, 128).

    Chen et al., arXiv 2003.04297, replace MoCo's linear projection by a two-layer
    MLP without batch norm; GASSL (Ayush et al., ICCV 2021) and each of SeCo's
    heads (Mañas et al., ICCV 2021) use it with h = d. The module is lightly's
    :class:`~lightly.models.modules.heads.MoCoProjectionHead` with two layers and no
    batch norm; its ``layers`` attribute is ``Sequential(Linear, ReLU, Linear)``. Its
    output is not normalised: normalise it for the contrastive loss.

    Args:
        input_dim: Dimension d of the backbone features (2048 for ResNet-50, 512
            for ResNet-18).
        hidden_dim: Hidden dimension h; None for d.
        output_dim: Output dimension.

    Returns:
        The projection head, mapping ``[N, input_dim]`` to ``[N, output_dim]``.

    Raises:
        ValueError: If a dimension is not a positive integer.

    .. versionadded:: 0.1
    """
    hidden = input_dim if hidden_dim is None else hidden_dim
    _check_positive('input_dim', input_dim)
    _check_positive('hidden_dim', hidden)
    _check_positive('output_dim', output_dim)
    head: nn.Module = MoCoProjectionHead(
        input_dim, hidden, output_dim, num_layers=2, batch_norm=False
    )
    return head


class GeoClassificationHead(nn.Module):
    """GASSL's geo-location pretext classifier: ReLU → Linear(input_dim, K).

    Ayush et al. (ICCV 2021) predict the k-means cluster of a sample's location
    from the query branch. The paper describes this head as "a CNN"; the reference
    code applies a ReLU and one linear layer to the *un-normalised* 128-d output of
    the query projection head, which is what this module does. The ReLU is not
    in-place, so the projection it reads stays intact for the contrastive loss.

    .. versionadded:: 0.1
    """

    def __init__(self, input_dim: int = 128, num_classes: int = 100) -> None:
        """Initialize a new GeoClassificationHead instance.

        Args:
            input_dim: Dimension of the projection it classifies.
            num_classes: Number of location clusters K.

        Raises:
            ValueError: If a dimension is not a positive integer.
        """
        super().__init__()
        _check_positive('input_dim', input_dim)
        _check_positive('num_classes', num_classes)
        self.input_dim = input_dim
        self.num_classes = num_classes
        self.layers = nn.Sequential(nn.ReLU(), nn.Linear(input_dim, num_classes))

    def forward(self, projection: Tensor) -> Tensor:
        """Compute the cluster logits.

        Args:
            projection: Un-normalised query projections ``[N, input_dim]``.

        Returns:
            Logits ``[N, num_classes]``.

        Raises:
            ValueError: If *projection* is not ``[N, input_dim]``.
        """
        if projection.ndim != 2 or projection.shape[1] != self.input_dim:
            msg = (
                f'GeoClassificationHead expects projections of shape '
                f'[N, {self.input_dim}], got {list(projection.shape)}'
            )
            raise ValueError(msg)
        logits: Tensor = self.layers(projection)
        return logits


def copy_as_momentum[ModuleT: nn.Module](module: ModuleT) -> ModuleT:
    """A frozen deep copy of *module*, to be the momentum (key) encoder or head.

    The copy starts with the same parameters and buffers, and its parameters have
    ``requires_grad=False`` (lightly's
    :func:`~lightly.models.utils.deactivate_requires_grad`): it is only ever moved
    towards *module* by :func:`update_momentum`.

    Args:
        module: The online (query) module.

    Returns:
        The independent copy.

    .. versionadded:: 0.1
    """
    momentum = copy.deepcopy(module)
    deactivate_requires_grad(momentum)
    return momentum


def update_momentum(online: nn.Module, momentum: nn.Module, m: float) -> None:
    """Exponential-moving-average step θ_k ← m θ_k + (1 − m) θ_q (MoCo, Eq. 2).

    Checks the pairing, then calls lightly's
    :func:`~lightly.models.utils.update_momentum`. Only parameters move; buffers
    (batch-norm statistics) of the momentum module keep their own running values,
    as in MoCo.

    Args:
        online: Query-side module (θ_q).
        momentum: Its momentum copy (θ_k), updated in place.
        m: Momentum in [0, 1] (0.999 in MoCo); 1 leaves θ_k unchanged, 0 copies θ_q.

    Raises:
        ValueError: If *m* is outside [0, 1], or the two modules' parameters differ
            in number or shape.

    .. versionadded:: 0.1
    """
    if not 0.0 <= m <= 1.0:
        msg = f'momentum m must lie in [0, 1], got {m!r}'
        raise ValueError(msg)
    online_params = list(online.named_parameters())
    momentum_params = list(momentum.named_parameters())
    if len(online_params) != len(momentum_params):
        msg = (
            'update_momentum: the momentum module is not a copy of the online module: '
            f'{len(online_params)} vs {len(momentum_params)} parameters'
        )
        raise ValueError(msg)
    for (name, p_q), (name_k, p_k) in zip(online_params, momentum_params, strict=True):
        if p_q.shape != p_k.shape:
            msg = (
                'update_momentum: the momentum module is not a copy of the online '
                f'module: parameter {name!r} has shape {list(p_q.shape)} but '
                f'{name_k!r} has {list(p_k.shape)}'
            )
            raise ValueError(msg)
    lightly_update_momentum(online, momentum, m)

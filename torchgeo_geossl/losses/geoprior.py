r"""Presence-only loss of geographical priors (Mac Aodha, Cole & Perona, ICCV 2019).

A geo-prior predicts, for a location :math:`x`, the probability
:math:`\sigma(f_c(x))` that class :math:`c` occurs there, from presence-only data:
each training sample says where one class *was* observed, never where a class is
absent. The "full assume negative" loss of Presence-Only Geographical Priors for
Fine-Grained Image Classification (arXiv 1906.05272, Eq. 7) treats every other class
at an observed location, and every class at a random location, as absent.
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PresenceOnlyLoss(nn.Module):
    r"""The "full assume negative" presence-only loss of a geographical prior.

    For a sample of class :math:`y` observed at :math:`x`, the class scores
    (logits) :math:`f_c(x)` of the :math:`K` classes, and a location :math:`r`
    drawn uniformly on the sphere (Mac Aodha et al., ICCV 2019, arXiv 1906.05272,
    Eq. 7):

    .. math::

        \mathcal{L}(x, y, r) = -\lambda \log \sigma(f_y(x))
            - \sum_{c \neq y} \log\bigl(1 - \sigma(f_c(x))\bigr)
            - \sum_{c=1}^{K} \log\bigl(1 - \sigma(f_c(r))\bigr)

    The positive weight :math:`\lambda` balances the one positive against the
    :math:`2K - 1` assumed negatives. Both reference implementations, the paper's
    (macaodha/geo_prior) and CSP's fine-tuning stage (gengchenmai/csp), set
    :math:`\lambda = K`, the default here (:math:`\lambda = 2048` is the choice of
    the later SINR work, Cole et al. 2023, for tens of thousands of classes).
    Like both, the reduction is a mean over the :math:`B \times K` entries of each
    term: the returned value is

    .. math::

        \frac{1}{BK} \sum_{i,c} \ell^{\text{data}}_{ic}
        + w_r \frac{1}{B'K} \sum_{j,c} -\log\bigl(1 - \sigma(f_c(r_j))\bigr)

    with :math:`w_r` = *background_weight* (CSP's ``rand_sample_weight``, 1 by
    default). The logs are computed stably from the logits
    (:math:`-\log \sigma(z) = \mathrm{softplus}(-z)`,
    :math:`-\log(1 - \sigma(z)) = \mathrm{softplus}(z)`) instead of the references'
    :math:`-\log(p + 10^{-5})`, which differ only for saturated probabilities.

    .. versionadded:: 0.1
    """

    def __init__(
        self, pos_weight: float | None = None, background_weight: float = 1.0
    ) -> None:
        r"""Initialize a new PresenceOnlyLoss instance.

        Args:
            pos_weight: Weight :math:`\lambda` of the positive term; None for the
                number of classes K (the reference implementations' choice).
            background_weight: Weight of the random-location term.

        Raises:
            ValueError: If a weight is negative or not finite.
        """
        super().__init__()
        for name, value in (
            ('pos_weight', pos_weight),
            ('background_weight', background_weight),
        ):
            if value is not None and not (math.isfinite(value) and value >= 0):
                msg = f'PresenceOnlyLoss needs a finite {name} >= 0, got {value}'
                raise ValueError(msg)
        self.pos_weight = pos_weight
        self.background_weight = background_weight

    def forward(
        self, logits: Tensor, target: Tensor, background_logits: Tensor
    ) -> Tensor:
        """Compute the loss.

        Args:
            logits: Class scores :math:`f_c(x)` at the observed locations ``[B, K]``.
            target: Observed classes ``[B]``, integers in ``[0, K)``.
            background_logits: Class scores :math:`f_c(r)` at random locations
                ``[B', K]`` (usually B' = B).

        Returns:
            The scalar loss.

        Raises:
            ValueError: If the shapes do not fit together or a target is outside
                ``[0, K)``.
        """
        if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] == 0:
            msg = f'PresenceOnlyLoss expects logits [B, K], got {list(logits.shape)}'
            raise ValueError(msg)
        batch, classes = logits.shape
        if target.shape != (batch,) or target.dtype.is_floating_point:
            msg = (
                f'PresenceOnlyLoss expects integer targets [B] = [{batch}], got '
                f'{target.dtype} {list(target.shape)}'
            )
            raise ValueError(msg)
        if background_logits.ndim != 2 or background_logits.shape[1] != classes:
            msg = (
                f"PresenceOnlyLoss expects background_logits [B', K] with K = "
                f'{classes}, got {list(background_logits.shape)}'
            )
            raise ValueError(msg)
        if bool(((target < 0) | (target >= classes)).any()):
            bad = sorted({int(t) for t in target if not 0 <= t < classes})
            msg = f'PresenceOnlyLoss targets must lie in [0, {classes}), got {bad}'
            raise ValueError(msg)
        pos_weight = classes if self.pos_weight is None else self.pos_weight
        positive = F.one_hot(target.long(), classes).bool()
        data = torch.where(
            positive, pos_weight * F.softplus(-logits), F.softplus(logits)
        )
        loss = data.mean()
        if background_logits.shape[0] > 0:
            loss = loss + self.background_weight * F.softplus(background_logits).mean()
        return loss

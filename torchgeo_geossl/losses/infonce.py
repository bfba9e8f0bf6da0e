"""InfoNCE with explicit negatives, the contrastive loss of MoCo, GASSL and SeCo."""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def top1_accuracy(logits: Tensor) -> Tensor:
    """Fraction of rows whose largest logit is the positive one (column 0).

    Ties go to the lowest index (:func:`torch.argmax`), so a row whose positive
    ties with a negative counts as correct.

    Args:
        logits: InfoNCE logits ``[N, 1 + M]`` with the positive in column 0, as
            returned by :class:`InfoNCELoss`.

    Returns:
        A scalar float tensor in [0, 1], without gradient.

    Raises:
        ValueError: If *logits* is not 2-dimensional with at least one row.

    .. versionadded:: 0.1
    """
    if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] == 0:
        shape = list(logits.shape)
        msg = f'top1_accuracy expects logits of shape [N, 1 + M], got {shape}'
        raise ValueError(msg)
    return (logits.detach().argmax(dim=1) == 0).float().mean()


class InfoNCELoss(nn.Module):
    r"""InfoNCE over one positive and a shared set of explicit negatives.

    For a query :math:`q_i`, its positive key :math:`k_{i+}` and the negatives
    :math:`k_1, \dots, k_M` shared by all queries (MoCo, He et al., CVPR 2020,
    Eq. 1; van den Oord et al., arXiv 1807.03748):

    .. math::

        \mathcal{L}_i = -\log \frac{\exp(q_i \cdot k_{i+} / \tau)}
            {\exp(q_i \cdot k_{i+} / \tau) + \sum_{j=1}^{M} \exp(q_i \cdot k_j / \tau)}

    and the loss is the mean over the N queries. It is the cross-entropy of the
    logits ``cat([(q · k₊)[:, None], q @ negatives.T]) / τ`` (``[N, 1 + M]``) with
    target class 0, which :meth:`forward` also returns for monitoring
    (:func:`top1_accuracy`).

    The inputs are expected to be L2-normalised (dot products are cosine
    similarities); they are only normalised here with ``normalize=True``. Only the
    query receives gradient: *positive* and *negatives* are key-encoder outputs or
    queue entries, and :meth:`forward` detaches them.

    The negatives are given explicitly: MoCo's queue
    (:attr:`~torchgeo_geossl.models.NegativeQueue.negatives`), with SeCo's extra
    in-batch keys of the other key views concatenated by the caller. lightly's
    :class:`~lightly.loss.NTXentLoss` is not used because in lightly 1.6 it
    normalises its inputs itself, takes its negatives either from the other samples
    of the batch (SimCLR) or from its own memory bank, which its ``forward`` also
    updates with the positives, and returns only the loss: it accepts no explicit
    negatives (needed for SeCo's extra negatives) and exposes no logits (needed for
    top-1 accuracy).

    .. versionadded:: 0.1
    """

    def __init__(self, temperature: float = 0.07, normalize: bool = False) -> None:
        """Initialize a new InfoNCELoss instance.

        Args:
            temperature: Temperature τ dividing the similarities (0.07 in MoCo and
                SeCo; every published GASSL run used 0.02).
            normalize: L2-normalise query, positive and negatives along the feature
                dimension before the dot products.

        Raises:
            ValueError: If *temperature* is not a finite positive number.
        """
        super().__init__()
        valid = isinstance(temperature, int | float) and not isinstance(
            temperature, bool
        )
        if not valid or not math.isfinite(temperature) or temperature <= 0:
            msg = (
                'InfoNCELoss temperature must be a finite positive number, '
                f'got {temperature!r}'
            )
            raise ValueError(msg)
        self.temperature = float(temperature)
        self.normalize = normalize

    def forward(
        self, query: Tensor, positive: Tensor, negatives: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Compute the loss and the logits.

        Args:
            query: Query projections ``[N, D]``.
            positive: Positive key of each query ``[N, D]`` (detached here).
            negatives: Negatives ``[M, D]`` shared by all queries, M ≥ 1 (detached
                here).

        Returns:
            ``(loss, logits)``: the scalar mean loss and the logits ``[N, 1 + M]``,
            positive in column 0.

        Raises:
            ValueError: If a shape is wrong, naming the shapes received.
        """
        if query.ndim != 2 or query.shape[0] == 0:
            shape = list(query.shape)
            msg = f'InfoNCELoss query must be [N, D] with N ≥ 1, got {shape}'
            raise ValueError(msg)
        if positive.shape != query.shape:
            msg = (
                'InfoNCELoss positive must have the shape of query '
                f'{list(query.shape)}, got {list(positive.shape)}'
            )
            raise ValueError(msg)
        if negatives.ndim != 2 or negatives.shape[1] != query.shape[1]:
            msg = (
                f'InfoNCELoss negatives must be [M, {query.shape[1]}] (the feature '
                f'dimension of query {list(query.shape)}), got {list(negatives.shape)}'
            )
            raise ValueError(msg)
        if negatives.shape[0] == 0:
            msg = (
                f'InfoNCELoss needs at least one negative, got {list(negatives.shape)}'
            )
            raise ValueError(msg)
        positive = positive.detach()
        negatives = negatives.detach()
        if self.normalize:
            query = F.normalize(query, dim=1)
            positive = F.normalize(positive, dim=1)
            negatives = F.normalize(negatives, dim=1)
        positive_logits = (query * positive).sum(dim=1, keepdim=True)
        negative_logits = query @ negatives.T
        logits = torch.cat([positive_logits, negative_logits], dim=1) / self.temperature
        target = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
        loss = F.cross_entropy(logits, target)
        return loss, logits

    def extra_repr(self) -> str:
        """Summary shown by ``repr``.

        Returns:
            The temperature and the normalisation flag.
        """
        return f'temperature={self.temperature}, normalize={self.normalize}'

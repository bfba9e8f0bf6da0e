"""k-nearest-neighbour evaluation of frozen features: k-NN prediction and place recognition."""

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric


def knn_predict(
    query: Tensor,
    bank: Tensor,
    bank_labels: Tensor,
    k: int = 1,
    exclude: Tensor | None = None,
) -> Tensor:
    """Labels of *query* predicted by a similarity-weighted vote of its k nearest neighbours.

    Neighbours are found by cosine similarity between the L2-normalised features
    (the k-NN monitor of Wu et al., CVPR 2018, and of MoCo's evaluation code, without
    the exponential weighting). Each of the *k* most similar bank entries votes for
    its label with its cosine similarity; the label with the largest sum wins.

    Args:
        query: Query features ``[Q, d]``.
        bank: Features of the labelled bank ``[N, d]``.
        bank_labels: Integer labels of the bank ``[N]``.
        k: Number of neighbours, 1 to the number of bank entries a query may use.
        exclude: Optional bool mask ``[Q, N]`` of bank entries a query may not use
            (for example itself, in a leave-one-out evaluation).

    Returns:
        The predicted labels ``[Q]`` (int64).

    Raises:
        ValueError: If the shapes do not match or *k* is out of range.

    .. versionadded:: 0.2
    """
    if query.ndim != 2 or bank.ndim != 2 or query.shape[1] != bank.shape[1]:
        msg = (
            f'query [Q, d] and bank [N, d] must share d, got {list(query.shape)} '
            f'and {list(bank.shape)}'
        )
        raise ValueError(msg)
    if bank_labels.shape != bank.shape[:1]:
        msg = (
            f'bank_labels must have shape [{len(bank)}], got {list(bank_labels.shape)}'
        )
        raise ValueError(msg)
    if exclude is not None and exclude.shape != (len(query), len(bank)):
        msg = (
            f'exclude must have shape [{len(query)}, {len(bank)}], got '
            f'{list(exclude.shape)}'
        )
        raise ValueError(msg)
    available = len(bank) - (int(exclude.sum(1).max()) if exclude is not None else 0)
    if not 1 <= k <= available:
        msg = f'k={k} must be between 1 and {available} (bank entries a query may use)'
        raise ValueError(msg)
    similarity = (
        F.normalize(query.double(), dim=1) @ F.normalize(bank.double(), dim=1).T
    )
    if exclude is not None:
        similarity = similarity.masked_fill(exclude, float('-inf'))
    weights, nearest = similarity.topk(k, dim=1)
    labels = bank_labels.to(torch.long)
    votes = torch.zeros(len(query), int(labels.max()) + 1, dtype=torch.float64)
    votes.scatter_add_(1, labels[nearest].cpu(), weights.cpu())
    return votes.argmax(dim=1).to(query.device)


def place_recognition_hits(features: Tensor) -> Tensor:
    """Which views of N places are recognised, leave-one-out, among V views each.

    Every view of every place is a query; the bank is all other views of all places.
    A query is recognised when its most similar other view (cosine similarity,
    :func:`knn_predict` with k = 1) shows the same place. With views of each place at
    different dates, the nearest neighbour must be found across the dates, against
    views of other places at the same dates.

    Args:
        features: Features ``[N, V, d]`` of V >= 2 views of N >= 2 places.

    Returns:
        A bool tensor ``[N, V]``: whether each view's nearest neighbour shows its place.

    Raises:
        ValueError: If *features* has fewer than 2 places or 2 views.

    .. versionadded:: 0.2
    """
    if features.ndim != 3 or features.shape[0] < 2 or features.shape[1] < 2:
        msg = (
            'place recognition needs features [N, V, d] of N >= 2 places with V >= 2 '
            f'views each, got {list(features.shape)}'
        )
        raise ValueError(msg)
    n, v, d = features.shape
    flat = features.reshape(n * v, d)
    places = torch.arange(n, device=features.device).repeat_interleave(v)
    itself = torch.eye(n * v, dtype=torch.bool, device=features.device)
    predicted = knn_predict(flat, flat, places, k=1, exclude=itself)
    return (predicted == places).reshape(n, v)


def place_recognition_accuracy(features: Tensor) -> float:
    """Leave-one-out place recognition top-1 accuracy of V views of N places.

    The share of the N·V views that :func:`place_recognition_hits` recognises.

    Args:
        features: Features ``[N, V, d]`` of V >= 2 views of N >= 2 places.

    Returns:
        The share of the N·V queries whose nearest neighbour is a view of their place.

    Raises:
        ValueError: If *features* has fewer than 2 places or 2 views.

    .. versionadded:: 0.2
    """
    return float(place_recognition_hits(features).double().mean())


def place_recognition_chance(places: int, views: int) -> float:
    """Expected :func:`place_recognition_accuracy` of features unrelated to the place.

    A query's nearest neighbour is then uniform among the other N·V − 1 views, of
    which V − 1 show its place.

    Args:
        places: Number N of places.
        views: Number V of views per place.

    Returns:
        (V − 1) / (N·V − 1).

    .. versionadded:: 0.2
    """
    return (views - 1) / (places * views - 1)


class PlaceRecognitionAccuracy(Metric):
    """Accumulate view features of held-out places; compute place recognition top-1.

    A :class:`torchmetrics.Metric`: :meth:`update` with the features ``[B, V, d]``
    of a batch of B places, :meth:`compute` gives
    :func:`place_recognition_accuracy` over all places seen since the last
    :meth:`~torchmetrics.Metric.reset` (gathered from all processes under DDP).

    .. versionadded:: 0.2
    """

    full_state_update = False
    higher_is_better = True
    features: list[Tensor]

    def __init__(self, **kwargs: Any) -> None:
        """Initialize a new PlaceRecognitionAccuracy instance.

        Args:
            **kwargs: Keyword arguments of :class:`torchmetrics.Metric`.
        """
        super().__init__(**kwargs)
        self.add_state('features', default=[], dist_reduce_fx='cat')

    def update(self, features: Tensor) -> None:
        """Add the features of a batch of places.

        Args:
            features: Features ``[B, V, d]`` of V views of each of B places.
        """
        self.features.append(features.detach().float())

    def _all(self) -> Tensor:
        """All accumulated features ``[N, V, d]``."""
        state: Tensor | list[Tensor] = self.features
        return torch.cat(state) if isinstance(state, list) else state

    def compute(self) -> Tensor:
        """Place recognition top-1 accuracy over the accumulated places.

        Returns:
            A scalar tensor.
        """
        return torch.tensor(place_recognition_accuracy(self._all()))

    def chance(self) -> float:
        """Chance level of :meth:`compute` for the accumulated places.

        Returns:
            :func:`place_recognition_chance` of their number and views.
        """
        features = self._all()
        return place_recognition_chance(features.shape[0], features.shape[1])


def region_recognition_hits(features: Tensor, regions: Tensor) -> Tensor:
    """Which views of N places find a view of another place of their own region.

    Every view of every place is a query; the bank is the views of all *other*
    places (its own place's views are left out, so the place itself cannot be
    recognised). A query is recognised when its most similar view (cosine
    similarity, :func:`knn_predict` with k = 1) lies in the same region: the
    nearest neighbour has to be found across the dates (and so the seasons) and
    among places of every region.

    Args:
        features: Features ``[N, V, d]`` of V >= 1 views of N places.
        regions: Integer region of each place ``[N]``.

    Returns:
        A bool tensor ``[N, V]``: whether each view's nearest view of another place
        lies in its region.

    Raises:
        ValueError: If the shapes do not match or there are fewer than 2 places.

    .. versionadded:: 0.2
    """
    if (
        features.ndim != 3
        or features.shape[0] < 2
        or regions.shape != features.shape[:1]
    ):
        msg = (
            'region recognition needs features [N, V, d] of N >= 2 places and '
            f'regions [N], got {list(features.shape)} and {list(regions.shape)}'
        )
        raise ValueError(msg)
    n, v, d = features.shape
    places = torch.arange(n, device=features.device).repeat_interleave(v)
    labels = regions.to(features.device).repeat_interleave(v)
    own_place = places[:, None] == places[None, :]
    flat = features.reshape(n * v, d)
    predicted = knn_predict(flat, flat, labels, k=1, exclude=own_place)
    return (predicted == labels).reshape(n, v)


def region_recognition_chance(regions: Tensor) -> float:
    """Region recognition top-1 of features unrelated to the region.

    A query of a place of region r draws its neighbour uniformly among the other
    N − 1 places, n_r − 1 of which share its region: chance is
    Σ_r n_r (n_r − 1) / (N (N − 1)) over the regions' place counts n_r.

    Args:
        regions: Integer region of each of N >= 2 places ``[N]``.

    Returns:
        The chance level.

    Raises:
        ValueError: If there are fewer than 2 places.

    .. versionadded:: 0.2
    """
    n = int(regions.numel())
    if n < 2:
        msg = f'region recognition needs at least 2 places, got {n}'
        raise ValueError(msg)
    counts = torch.unique(regions, return_counts=True)[1].double()
    return float((counts * (counts - 1)).sum() / (n * (n - 1)))

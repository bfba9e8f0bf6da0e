"""Image-to-location retrieval of held-out places: CSP's metric of learning."""

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import Metric


def image_to_location_top1(images: Tensor, locations: Tensor) -> float:
    """Share of images whose most similar location embedding is their own place's.

    Args:
        images: Image embeddings ``[N, V, D]`` of V views of each of N places.
        locations: Location embeddings ``[N, D]`` of the N places.

    Returns:
        Top-1 accuracy of retrieving each image's place among the N locations by
        cosine similarity (ties go to the lower index).

    Raises:
        ValueError: If the shapes do not match or there are fewer than 2 places.

    .. versionadded:: 0.2
    """
    if (
        images.ndim != 3
        or locations.ndim != 2
        or images.shape[0] != locations.shape[0]
        or images.shape[2] != locations.shape[1]
        or len(locations) < 2
    ):
        msg = (
            'image-to-location retrieval needs images [N, V, D] and locations '
            f'[N, D] of N >= 2 places, got {list(images.shape)} and '
            f'{list(locations.shape)}'
        )
        raise ValueError(msg)
    n, v, d = images.shape
    queries = F.normalize(images.reshape(n * v, d).double(), dim=1)
    keys = F.normalize(locations.double(), dim=1)
    best = (queries @ keys.T).argmax(dim=1)
    places = torch.arange(n, device=images.device).repeat_interleave(v)
    return float((best == places).double().mean())


class ImageLocationRetrieval(Metric):
    """Accumulate image and location embeddings of places; compute retrieval top-1.

    :meth:`update` with the image embeddings ``[B, V, D]`` and the location
    embeddings ``[B, D]`` of a batch of B places; :meth:`compute` gives
    :func:`image_to_location_top1` over every place seen since the last reset
    (gathered from all processes under DDP). Chance is 1 / N for N places.

    .. versionadded:: 0.2
    """

    full_state_update = False
    higher_is_better = True
    images: list[Tensor]
    locations: list[Tensor]

    def __init__(self, **kwargs: Any) -> None:
        """Initialize a new ImageLocationRetrieval instance.

        Args:
            **kwargs: Keyword arguments of :class:`torchmetrics.Metric`.
        """
        super().__init__(**kwargs)
        self.add_state('images', default=[], dist_reduce_fx='cat')
        self.add_state('locations', default=[], dist_reduce_fx='cat')

    def update(self, images: Tensor, locations: Tensor) -> None:
        """Add the embeddings of a batch of places.

        Args:
            images: Image embeddings ``[B, V, D]``.
            locations: Location embeddings ``[B, D]``.
        """
        self.images.append(images.detach().float())
        self.locations.append(locations.detach().float())

    def places(self) -> int:
        """Number of places accumulated (on this process).

        Returns:
            The number of location embeddings.
        """
        return sum(len(x) for x in self.locations)

    def compute(self) -> Tensor:
        """Image-to-location retrieval top-1 over the accumulated places.

        Returns:
            A scalar tensor.
        """
        images: Tensor | list[Tensor] = self.images
        locations: Tensor | list[Tensor] = self.locations
        images = torch.cat(images) if isinstance(images, list) else images
        locations = torch.cat(locations) if isinstance(locations, list) else locations
        return torch.tensor(image_to_location_top1(images, locations))

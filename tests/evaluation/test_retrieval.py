"""Image-to-location retrieval against independent numpy."""

import numpy as np
import pytest
import torch

from torchgeo_geossl.evaluation import ImageLocationRetrieval, image_to_location_top1


def retrieval_reference(images: np.ndarray, locations: np.ndarray) -> float:
    """Share of images whose cosine-nearest location is their own, in numpy."""
    n, v, d = images.shape
    queries = images.reshape(n * v, d)
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    keys = locations / np.linalg.norm(locations, axis=1, keepdims=True)
    best = np.argmax(queries @ keys.T, axis=1)
    return float(np.mean(best == np.repeat(np.arange(n), v)))


def test_top1_equals_numpy() -> None:
    rng = np.random.default_rng(0)
    images = rng.normal(size=(7, 3, 5))
    locations = rng.normal(size=(7, 5))
    expected = retrieval_reference(images, locations)
    got = image_to_location_top1(torch.from_numpy(images), torch.from_numpy(locations))
    assert got == pytest.approx(expected)


def test_perfect_and_hand_counted() -> None:
    locations = torch.eye(3)
    # place 0's two images point at it; place 1's at place 2; place 2's at itself
    images = torch.tensor(
        [[[2.0, 0, 0], [1, 0.1, 0]], [[0, 0, 1], [0, 0, 3]], [[0, 0, 1], [0, 0.2, 1]]]
    )
    assert image_to_location_top1(images, locations) == pytest.approx(4 / 6)
    assert image_to_location_top1(locations.unsqueeze(1), locations) == 1.0


def test_metric_accumulates_batches() -> None:
    rng = np.random.default_rng(1)
    images = rng.normal(size=(6, 1, 4)).astype(np.float32)
    locations = rng.normal(size=(6, 4)).astype(np.float32)
    metric = ImageLocationRetrieval()
    metric.update(torch.from_numpy(images[:4]), torch.from_numpy(locations[:4]))
    metric.update(torch.from_numpy(images[4:]), torch.from_numpy(locations[4:]))
    assert metric.places() == 6
    assert float(metric.compute()) == pytest.approx(
        retrieval_reference(images, locations)
    )


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match='N >= 2 places'):
        image_to_location_top1(torch.zeros(1, 1, 2), torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r'\[3, 1, 2\] and \[2, 2\]'):
        image_to_location_top1(torch.zeros(3, 1, 2), torch.zeros(2, 2))

"""k-NN prediction and place recognition against independent numpy."""

import numpy as np
import pytest
import torch

from torchgeo_geossl.evaluation import (
    PlaceRecognitionAccuracy,
    knn_predict,
    place_recognition_accuracy,
    place_recognition_chance,
    place_recognition_hits,
    region_recognition_chance,
    region_recognition_hits,
)


def numpy_knn(
    query: np.ndarray,
    bank: np.ndarray,
    labels: np.ndarray,
    k: int,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Cosine k-NN with similarity-weighted votes, written out in numpy."""
    q = query / np.linalg.norm(query, axis=1, keepdims=True)
    b = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    out = []
    for i in range(len(q)):
        sims = b @ q[i]
        candidates = [j for j in range(len(b)) if exclude is None or not exclude[i, j]]
        nearest = sorted(candidates, key=lambda j: -sims[j])[:k]
        votes: dict[int, float] = {}
        for j in nearest:
            votes[int(labels[j])] = votes.get(int(labels[j]), 0.0) + sims[j]
        out.append(max(votes, key=lambda c: votes[c]))
    return np.array(out)


@pytest.mark.parametrize('k', [1, 3, 7])
def test_knn_predict_matches_numpy(k: int) -> None:
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(40, 6))
    labels = rng.integers(0, 5, 40)
    query = rng.normal(size=(15, 6))
    exclude = rng.random((15, 40)) < 0.2
    expected = numpy_knn(query, bank, labels, k, exclude)
    got = knn_predict(
        torch.tensor(query),
        torch.tensor(bank),
        torch.tensor(labels),
        k=k,
        exclude=torch.tensor(exclude),
    )
    np.testing.assert_array_equal(got.numpy(), expected)


def test_knn_predict_weighs_votes_by_similarity() -> None:
    # two far neighbours of class 1 against one exact match of class 0
    bank = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    labels = torch.tensor([0, 1, 1])
    query = torch.tensor([[1.0, 0.05]])
    assert knn_predict(query, bank, labels, k=3).tolist() == [0]


def test_knn_predict_checks_its_arguments() -> None:
    bank = torch.zeros(4, 3)
    with pytest.raises(ValueError, match='must share d'):
        knn_predict(torch.zeros(2, 2), bank, torch.zeros(4))
    with pytest.raises(ValueError, match='k=5 must be between 1 and 4'):
        knn_predict(torch.zeros(2, 3), bank, torch.zeros(4), k=5)
    with pytest.raises(ValueError, match='k=4 must be between 1 and 3'):
        knn_predict(
            torch.zeros(4, 3),
            bank,
            torch.zeros(4),
            k=4,
            exclude=torch.eye(4, dtype=torch.bool),
        )


def numpy_place_recognition(features: np.ndarray) -> float:
    n, v, _ = features.shape
    flat = features.reshape(n * v, -1)
    flat = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    sims = flat @ flat.T
    np.fill_diagonal(sims, -np.inf)
    nearest = sims.argmax(axis=1)
    return float(np.mean(nearest // v == np.arange(n * v) // v))


def test_place_recognition_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    places = rng.normal(size=(12, 1, 8))
    features = places + 0.9 * rng.normal(size=(12, 3, 8))
    expected = numpy_place_recognition(features)
    assert 0 < expected < 1  # the example is neither trivial nor hopeless
    assert place_recognition_accuracy(torch.tensor(features)) == pytest.approx(expected)


def test_place_recognition_hits_are_per_view() -> None:
    rng = np.random.default_rng(4)
    features = rng.normal(size=(7, 3, 6)) + rng.normal(size=(7, 1, 6))
    flat = features.reshape(21, 6)
    flat = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    sims = flat @ flat.T
    np.fill_diagonal(sims, -np.inf)
    expected = (sims.argmax(axis=1) // 3 == np.arange(21) // 3).reshape(7, 3)
    assert 0 < expected.sum() < 21
    hits = place_recognition_hits(torch.tensor(features))
    assert hits.dtype == torch.bool
    assert np.array_equal(hits.numpy(), expected)


def test_place_recognition_chance_is_the_mean_of_unrelated_features() -> None:
    rng = np.random.default_rng(2)
    scores = [numpy_place_recognition(rng.normal(size=(5, 3, 4))) for _ in range(4000)]
    assert place_recognition_chance(5, 3) == pytest.approx(2 / 14)
    assert np.mean(scores) == pytest.approx(2 / 14, abs=0.01)


def test_place_recognition_needs_two_places_and_two_views() -> None:
    with pytest.raises(ValueError, match='N >= 2 places with V >= 2'):
        place_recognition_accuracy(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match='N >= 2 places with V >= 2'):
        place_recognition_accuracy(torch.zeros(3, 1, 3))


def test_metric_accumulates_batches() -> None:
    rng = np.random.default_rng(3)
    features = rng.normal(size=(9, 2, 5)) + rng.normal(size=(9, 1, 5))
    metric = PlaceRecognitionAccuracy()
    metric.update(torch.tensor(features[:4]))
    metric.update(torch.tensor(features[4:]))
    assert float(metric.compute()) == pytest.approx(numpy_place_recognition(features))
    assert metric.chance() == pytest.approx(1 / 17)


def region_hits_by_hand(features: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Leave-one-place-out 1-NN by cosine similarity, with plain numpy loops."""
    n, v, _ = features.shape
    hits = np.zeros((n, v), bool)
    for i in range(n):
        for a in range(v):
            q = features[i, a] / np.linalg.norm(features[i, a])
            best, where = -np.inf, -1
            for j in range(n):
                if j == i:
                    continue
                for b in range(v):
                    k = features[j, b] / np.linalg.norm(features[j, b])
                    if q @ k > best:
                        best, where = q @ k, j
            hits[i, a] = regions[where] == regions[i]
    return hits


def test_region_recognition_hits_leave_the_own_place_out() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(9, 2, 5))
    regions = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    hits = region_recognition_hits(
        torch.from_numpy(features), torch.from_numpy(regions)
    )
    assert np.array_equal(hits.numpy(), region_hits_by_hand(features, regions))
    # identical views of one place: its own other view would be the nearest, but it
    # is left out, so the nearest view of another place decides
    twins = np.repeat(np.eye(3)[:, None, :], 2, axis=1) + 0.01
    twins[2] = [[1.0, 0.02, 0.0], [1.0, 0.0, 0.02]]  # place 2 looks like place 0
    got = region_recognition_hits(torch.tensor(twins), torch.tensor([5, 6, 5]))
    assert got.tolist() == [[True, True], [False, False], [True, True]]


def test_region_recognition_chance_counts_pairs_of_places() -> None:
    # N = 5 places, regions of 3 and 2: (3·2 + 2·1) / (5·4) = 0.4
    assert region_recognition_chance(torch.tensor([1, 1, 1, 4, 4])) == pytest.approx(
        0.4
    )
    assert region_recognition_chance(torch.tensor([0, 1, 2])) == 0.0
    with pytest.raises(ValueError, match='at least 2 places'):
        region_recognition_chance(torch.tensor([3]))


def test_region_recognition_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match='regions \\[N\\]'):
        region_recognition_hits(torch.zeros(3, 2, 4), torch.zeros(2))

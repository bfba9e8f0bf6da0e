"""Tests for torchgeo_geossl.location.clusters."""

import io
import pickle
from pathlib import Path

import numpy as np
import pyproj
import pytest
import torch
from conftest import SeriesDataset, monthly, write_series
from sklearn.cluster import KMeans
from torchgeo.datasets import stack_samples

from torchgeo_geossl.location import (
    AddGeoClusterLabel,
    GeoClusters,
    lonlat_to_unit_vectors,
)


def random_points(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(-180, 180, n)
    lat = np.rad2deg(np.arcsin(rng.uniform(-1, 1, n)))  # uniform on the sphere
    return np.stack([lon, lat], axis=-1)


def test_deterministic_given_seed() -> None:
    pts = random_points(300)
    a = GeoClusters(num_clusters=8, seed=3).fit(pts)
    b = GeoClusters(num_clusters=8, seed=3).fit(torch.from_numpy(pts))
    assert a.centroids.dtype == torch.float64
    assert a.centroids.shape == (8, 3)
    assert torch.equal(a.centroids, b.centroids)
    c = GeoClusters(num_clusters=8, seed=4).fit(pts)
    assert not torch.equal(a.centroids, c.centroids)


def test_predict_equals_sklearn() -> None:
    pts = random_points(400, seed=1)
    clusters = GeoClusters(num_clusters=12, seed=0).fit(pts)
    kmeans = KMeans(n_clusters=12, random_state=0, n_init='auto')
    kmeans.fit(lonlat_to_unit_vectors(pts))
    np.testing.assert_array_equal(clusters.centroids.numpy(), kmeans.cluster_centers_)
    new = random_points(1000, seed=2)
    labels = clusters.predict(torch.from_numpy(new))
    assert labels.dtype == torch.long
    assert labels.shape == (1000,)
    np.testing.assert_array_equal(
        labels.numpy(), kmeans.predict(lonlat_to_unit_vectors(new))
    )
    # numpy input and single points.
    np.testing.assert_array_equal(clusters.predict(new).numpy(), labels.numpy())
    single = clusters.predict(torch.tensor(new[5]))
    assert single.shape == ()
    assert single.item() == labels[5].item()


def test_centroids_lonlat() -> None:
    # Two tight groups: the centroid directions are the group centres.
    pts = np.array([[10.0, 45.0], [10.2, 45.0], [-60.0, -10.0], [-60.2, -10.0]])
    clusters = GeoClusters(num_clusters=2, seed=0).fit(pts)
    found = sorted(map(tuple, clusters.centroids_lonlat.numpy().round(3)))
    assert found[0] == pytest.approx((-60.1, -10.0), abs=1e-3)
    assert found[1] == pytest.approx((10.1, 45.0), abs=1e-3)


def test_antimeridian_neighbours_share_a_cluster() -> None:
    rng = np.random.default_rng(0)
    # Three sites: one astride the antimeridian, two far away from it.
    sites = [(179.95, 10.0), (-179.95, 10.0), (0.0, 10.0), (90.0, -30.0)]
    pts = np.concatenate([np.asarray(s) + rng.normal(0, 0.01, (20, 2)) for s in sites])
    pts[:, 0] = (pts[:, 0] + 180) % 360 - 180
    clusters = GeoClusters(num_clusters=3, seed=0).fit(pts)
    labels = clusters.predict(
        torch.tensor([[179.9, 10.0], [-179.9, 10.0], [0.0, 10.0]])
    )
    assert labels[0] == labels[1]
    assert labels[0] != labels[2]


def test_too_many_clusters() -> None:
    # 5 points but 3 distinct locations (duplicates and +-180 are the same place).
    pts = np.array([[0.0, 0.0], [0.0, 0.0], [180.0, 5.0], [-180.0, 5.0], [1.0, 1.0]])
    with pytest.raises(
        ValueError, match=r'4 clusters to 3 distinct location\(s\) \(5 points'
    ):
        GeoClusters(num_clusters=4).fit(pts)
    assert GeoClusters(num_clusters=3).fit(pts).centroids.shape == (3, 3)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match='num_clusters must be >= 1, got 0'):
        GeoClusters(num_clusters=0)
    with pytest.raises(TypeError, match='num_clusters must be an int'):
        GeoClusters(num_clusters=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r'shape \[N, 2\], got shape \[4, 3\]'):
        GeoClusters(num_clusters=2).fit(np.zeros((4, 3)))


def test_unfitted_errors() -> None:
    clusters = GeoClusters(num_clusters=2)
    assert not clusters.is_fitted
    for use in (
        lambda: clusters.predict(np.zeros((1, 2))),
        lambda: clusters.centroids,
        clusters.state_dict,
        lambda: AddGeoClusterLabel(clusters),
    ):
        with pytest.raises(RuntimeError, match='GeoClusters is not fitted: call fit'):
            use()


def test_state_dict_round_trip_and_pickle() -> None:
    pts = random_points(200, seed=5)
    clusters = GeoClusters(num_clusters=7, seed=11).fit(pts)
    state = clusters.state_dict()
    assert set(state) == {'num_clusters', 'seed', 'centroids'}
    assert state['num_clusters'] == 7
    assert state['seed'] == 11
    # Through torch.save as a Lightning checkpoint would.
    buffer = io.BytesIO()
    torch.save({'geo_clusters': state}, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)['geo_clusters']
    restored = GeoClusters.from_state_dict(loaded)
    assert torch.equal(restored.centroids, clusters.centroids)
    assert (restored.num_clusters, restored.seed) == (7, 11)
    other = GeoClusters(num_clusters=2)
    other.load_state_dict(state)
    assert torch.equal(other.centroids, clusters.centroids)

    unpickled = pickle.loads(pickle.dumps(clusters))
    assert torch.equal(unpickled.centroids, clusters.centroids)
    query = random_points(50, seed=6)
    assert torch.equal(unpickled.predict(query), clusters.predict(query))

    with pytest.raises(KeyError, match=r"missing key\(s\) \['centroids'\]"):
        GeoClusters.from_state_dict({'num_clusters': 7, 'seed': 0})
    bad = dict(state, num_clusters=6)
    with pytest.raises(ValueError, match=r'shape \[7, 3\], expected \[6, 3\]'):
        GeoClusters.from_state_dict(bad)


def test_from_dataset_utm_zones(tmp_path: Path) -> None:
    # Two sites in different UTM zones / hemispheres, reprojected by TorchGeo into
    # the CRS of the first file (EPSG:32631).
    write_series(
        tmp_path,
        site='a',
        dates=monthly(3),
        crs='EPSG:32631',
        origin=(500_000.0, 5_762_000.0),
    )
    write_series(
        tmp_path,
        site='b',
        dates=monthly(2),
        crs='EPSG:32760',
        origin=(500_000.0, 5_572_000.0),
    )
    ds = SeriesDataset(tmp_path)
    assert ds.crs.to_epsg() == 32631
    clusters = GeoClusters.from_dataset(ds, num_clusters=2, seed=0)
    found = sorted(map(tuple, clusters.centroids_lonlat.numpy()))
    # Tile centres: 32 px * 10 m tiles, 160 m from the north-west corner.
    to_ll = pyproj.Transformer.from_crs(32760, 4326, always_xy=True)
    b_center = to_ll.transform(500_160.0, 5_571_840.0)
    assert found[0] == pytest.approx((3.0023, 52.0072), abs=1e-3)
    assert found[1] == pytest.approx(b_center, abs=1e-4)
    assert b_center[1] < -39
    # Only 2 distinct footprints although there are 5 files.
    with pytest.raises(ValueError, match='3 clusters to 2 distinct'):
        GeoClusters.from_dataset(ds, num_clusters=3)
    # Dense sampling inside footprints: deterministic, more distinct locations.
    dense = GeoClusters.from_dataset(
        ds, num_clusters=6, seed=1, points_per_footprint=10
    )
    again = GeoClusters.from_dataset(
        ds, num_clusters=6, seed=1, points_per_footprint=10
    )
    assert torch.equal(dense.centroids, again.centroids)
    lonlat = dense.centroids_lonlat
    near_a = (lonlat[:, 0] - 3.0).abs() < 0.01
    near_b = (lonlat[:, 0] - 177.0).abs() < 0.01
    assert bool((near_a | near_b).all())
    with pytest.raises(ValueError, match='points_per_footprint must be >= 1'):
        GeoClusters.from_dataset(ds, num_clusters=2, points_per_footprint=0)


def test_transform_single_and_batch() -> None:
    pts = np.array([[10.0, 45.0], [10.2, 45.0], [-60.0, -10.0], [-60.2, -10.0]])
    clusters = GeoClusters(num_clusters=2, seed=0).fit(pts)
    transform = AddGeoClusterLabel(clusters)
    samples = [
        transform(
            {'point': torch.tensor(p, dtype=torch.float64), 'image': torch.zeros(1)}
        )
        for p in pts
    ]
    for s in samples:
        assert s['label'].dtype == torch.long
        assert s['label'].shape == ()
    assert samples[0]['label'] == samples[1]['label'] != samples[2]['label']
    batch = transform(stack_samples([{'point': s['point']} for s in samples]))
    assert batch['label'].dtype == torch.long
    assert batch['label'].tolist() == [int(s['label']) for s in samples]
    with pytest.raises(
        KeyError, match="needs the sample's 'point'.*TemporalViewsDataset"
    ):
        transform({'image': torch.zeros(1)})

"""Geo-location clusters: pseudo-labels for the GASSL geo-location pretext task."""

from typing import Any, Self

import numpy as np
import numpy.typing as npt
import shapely
import torch
from geopandas import GeoSeries
from sklearn.cluster import KMeans
from torch import Tensor
from torchgeo.datasets import GeoDataset
from torchgeo.datasets.utils import Sample

from .coordinates import lonlat_to_unit_vectors, to_lonlat

#: Decimals to which unit vectors are rounded to identify distinct locations
#: (1e-7 of the Earth's radius is about 0.6 m).
_DISTINCT_DECIMALS = 7


def _as_lonlat_array(points: Tensor | npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Convert ``(lon, lat)`` points to a float64 numpy array ``[N, 2]``.

    Args:
        points: ``[N, 2]`` (or ``[2]``) ``(lon, lat)`` degrees, numpy or torch.

    Returns:
        A float64 array ``[N, 2]``.

    Raises:
        ValueError: If the shape is not ``[N, 2]`` or ``[2]``.
    """
    if isinstance(points, Tensor):
        arr = points.detach().cpu().to(torch.float64).numpy()
    else:
        arr = np.asarray(points, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(
            f'Expected (lon, lat) points of shape [N, 2], got shape {list(arr.shape)}'
        )
    return arr


class GeoClusters:
    """k-means clusters of training locations, used as geo-location class labels.

    GASSL (Ayush et al., *Geography-Aware Self-Supervised Learning*, ICCV 2021,
    Sec. 3.3) adds a geo-location pretext task: the locations of the training images
    are clustered with k-means into K clusters (K = 100 in the paper) and the network
    predicts the cluster of each image. This class fits those clusters and assigns
    cluster ids to new points.

    Locations are clustered as 3-D unit vectors on the sphere (see
    :func:`~torchgeo_geossl.location.coordinates.lonlat_to_unit_vectors`), so
    clusters have no discontinuity at the antimeridian or the poles. Fitting uses
    scikit-learn's :class:`~sklearn.cluster.KMeans` (k-means++ initialisation,
    ``random_state=seed``), so it is deterministic given a seed. Each distinct
    location counts once: points closer than about 0.6 m (unit vectors equal when
    rounded to 1e-7) are merged before fitting, so a site imaged at many dates does
    not outweigh a site imaged once.

    :meth:`predict` assigns each point to the nearest centroid by Euclidean distance
    between unit vectors (exactly the rule of :meth:`sklearn.cluster.KMeans.predict`),
    computed in torch float64 on the device of the points. Centroids are the k-means
    means, which lie slightly inside the sphere; :attr:`centroids_lonlat` gives their
    directions.

    Instances hold only ints and a tensor: they pickle (DataLoader workers), and
    :meth:`state_dict`/:meth:`load_state_dict` round-trip exactly, so a Lightning
    module can store the clusters in its checkpoint.

    .. versionadded:: 0.1
    """

    def __init__(self, num_clusters: int = 100, seed: int = 0) -> None:
        """Initialize a new, unfitted GeoClusters instance.

        Args:
            num_clusters: Number of clusters K (GASSL uses 100).
            seed: Seed of the k-means initialisation (``random_state``).

        Raises:
            TypeError: If *num_clusters* is not an int.
            ValueError: If *num_clusters* is smaller than 1.
        """
        if isinstance(num_clusters, bool) or not isinstance(num_clusters, int):
            raise TypeError(f'num_clusters must be an int, got {num_clusters!r}')
        if num_clusters < 1:
            raise ValueError(f'num_clusters must be >= 1, got {num_clusters}')
        self.num_clusters = num_clusters
        self.seed = int(seed)
        self._centroids: Tensor | None = None

    def __repr__(self) -> str:
        """Return a short description.

        Returns:
            The class name, K, seed and whether the clusters are fitted.
        """
        state = 'fitted' if self.is_fitted else 'unfitted'
        return (
            f'{type(self).__name__}(num_clusters={self.num_clusters}, '
            f'seed={self.seed}, {state})'
        )

    @property
    def is_fitted(self) -> bool:
        """Whether centroids are available.

        Returns:
            True after :meth:`fit` or :meth:`load_state_dict`.
        """
        return self._centroids is not None

    @property
    def centroids(self) -> Tensor:
        """Cluster centroids as 3-D vectors.

        Returns:
            A ``[K, 3]`` float64 CPU tensor (k-means means of unit vectors).

        Raises:
            RuntimeError: If the clusters are not fitted.
        """
        return self._require_fitted()

    @property
    def centroids_lonlat(self) -> Tensor:
        """Directions of the centroids as ``(lon, lat)`` degrees.

        Returns:
            A ``[K, 2]`` float64 tensor, longitudes in ``[-180, 180]``.

        Raises:
            RuntimeError: If the clusters are not fitted.
        """
        c = self._require_fitted()
        lon = torch.rad2deg(torch.atan2(c[:, 1], c[:, 0]))
        lat = torch.rad2deg(torch.atan2(c[:, 2], torch.hypot(c[:, 0], c[:, 1])))
        return torch.stack([lon, lat], dim=-1)

    def _require_fitted(self) -> Tensor:
        """Return the centroids, or raise if unfitted.

        Returns:
            The ``[K, 3]`` centroids.

        Raises:
            RuntimeError: If the clusters are not fitted.
        """
        if self._centroids is None:
            raise RuntimeError(
                f'{type(self).__name__} is not fitted: call fit(points), '
                f'{type(self).__name__}.from_dataset(dataset) or load_state_dict() '
                'first'
            )
        return self._centroids

    def fit(self, points: Tensor | npt.ArrayLike) -> Self:
        """Fit the clusters to training locations.

        Args:
            points: ``[N, 2]`` ``(lon, lat)`` degrees WGS84, numpy or torch.

        Returns:
            This instance, fitted.

        Raises:
            ValueError: If the points are invalid, or if there are fewer distinct
                locations than clusters.
        """
        vectors = lonlat_to_unit_vectors(_as_lonlat_array(points).reshape(-1, 2))
        # First occurrence of each distinct location; k-means sees it unrounded.
        rounded = np.round(vectors, _DISTINCT_DECIMALS) + 0.0  # + 0.0 maps -0 to 0
        _, first = np.unique(rounded, axis=0, return_index=True)
        if self.num_clusters > len(first):
            raise ValueError(
                f'Cannot fit {self.num_clusters} clusters to {len(first)} distinct '
                f'location(s) ({len(vectors)} points given): use num_clusters <= '
                f'{len(first)} or more locations'
            )
        kmeans = KMeans(
            n_clusters=self.num_clusters, random_state=self.seed, n_init='auto'
        )
        kmeans.fit(vectors[np.sort(first)])
        self._centroids = torch.from_numpy(
            np.asarray(kmeans.cluster_centers_, dtype=np.float64).copy()
        )
        return self

    @classmethod
    def from_dataset(
        cls,
        dataset: GeoDataset,
        num_clusters: int = 100,
        seed: int = 0,
        points_per_footprint: int | None = None,
    ) -> Self:
        """Fit clusters to the footprints of a TorchGeo dataset.

        The footprints are the geometries of ``dataset.index`` (in ``dataset.crs``);
        identical footprints (the same scene extent at several dates) are taken once.
        By default each footprint contributes its centroid. With
        *points_per_footprint*, that many points are instead drawn uniformly inside
        each footprint (with :meth:`geopandas.GeoSeries.sample_points`, seeded by
        *seed*), which lets large scenes spread over several clusters. Points are
        converted to longitude/latitude with pyproj.

        Args:
            dataset: Any GeoDataset with an ``index`` and a ``crs`` (also a
                :class:`~torchgeo_geossl.datasets.TemporalViewsDataset`).
            num_clusters: Number of clusters K.
            seed: Seed of the k-means initialisation and of the point sampling.
            points_per_footprint: If given, number of random points per footprint
                instead of its centroid.

        Returns:
            Fitted clusters.

        Raises:
            ValueError: If the dataset has no CRS or no footprints, if
                *points_per_footprint* is not positive, or if there are fewer distinct
                locations than clusters.
        """
        crs = dataset.crs
        if crs is None:
            raise ValueError(
                f'{type(dataset).__name__} has no CRS: cannot compute the '
                'longitude/latitude of its footprints'
            )
        geoms = GeoSeries(dataset.index.geometry.values, crs=crs)
        geoms = geoms[~(geoms.is_empty | geoms.isna())]
        if len(geoms) == 0:
            raise ValueError(f'{type(dataset).__name__} has no footprints to cluster')
        wkb = shapely.to_wkb(shapely.normalize(np.asarray(geoms.values)))
        _, first = np.unique(wkb, return_index=True)
        geoms = geoms.iloc[np.sort(first)]
        if points_per_footprint is None:
            xy = shapely.get_coordinates(shapely.centroid(np.asarray(geoms.values)))
        else:
            if points_per_footprint < 1:
                raise ValueError(
                    f'points_per_footprint must be >= 1, got {points_per_footprint}'
                )
            sampled = geoms.sample_points(
                points_per_footprint, rng=np.random.default_rng(seed)
            )
            xy = shapely.get_coordinates(np.asarray(sampled.values))
        lonlat = to_lonlat(xy[:, 0], xy[:, 1], crs)
        return cls(num_clusters=num_clusters, seed=seed).fit(lonlat)

    def predict(self, points: Tensor | npt.ArrayLike) -> Tensor:
        """Cluster id of each point.

        Args:
            points: ``[..., 2]`` ``(lon, lat)`` degrees, numpy or torch; a tensor's
                device is kept.

        Returns:
            Long tensor of shape ``[...]`` (``[N]`` for ``[N, 2]`` input, a scalar
            for ``[2]``) on the device of *points*.

        Raises:
            RuntimeError: If the clusters are not fitted.
            ValueError: If the points are invalid.
        """
        centroids = self._require_fitted()
        if isinstance(points, Tensor):
            p = points.to(torch.float64)
        else:
            p = torch.from_numpy(np.asarray(points, dtype=np.float64))
        vectors = lonlat_to_unit_vectors(p)
        shape = vectors.shape[:-1]
        flat = vectors.reshape(-1, 3)
        dist = torch.cdist(
            flat, centroids.to(flat.device), compute_mode='donot_use_mm_for_euclid_dist'
        )
        return dist.argmin(dim=-1).reshape(shape)

    def state_dict(self) -> dict[str, Any]:
        """Serialisable state (ints and a tensor only).

        Returns:
            ``{'num_clusters': int, 'seed': int, 'centroids': Tensor[K, 3]}``.

        Raises:
            RuntimeError: If the clusters are not fitted.
        """
        return {
            'num_clusters': self.num_clusters,
            'seed': self.seed,
            'centroids': self._require_fitted().clone(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the state saved by :meth:`state_dict`.

        Args:
            state_dict: A dict from :meth:`state_dict`.

        Raises:
            KeyError: If a key is missing.
            ValueError: If the centroids do not have shape ``[num_clusters, 3]``.
        """
        missing = {'num_clusters', 'seed', 'centroids'} - set(state_dict)
        if missing:
            raise KeyError(
                f'GeoClusters state_dict is missing key(s) {sorted(missing)}'
            )
        num_clusters = int(state_dict['num_clusters'])
        centroids = torch.as_tensor(state_dict['centroids'], dtype=torch.float64)
        if tuple(centroids.shape) != (num_clusters, 3):
            raise ValueError(
                f'GeoClusters state_dict centroids have shape {list(centroids.shape)}, '
                f'expected [{num_clusters}, 3]'
            )
        self.num_clusters = num_clusters
        self.seed = int(state_dict['seed'])
        self._centroids = centroids.detach().cpu().clone()

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, Any]) -> Self:
        """Build fitted clusters from a :meth:`state_dict`.

        Args:
            state_dict: A dict from :meth:`state_dict`.

        Returns:
            The restored clusters.
        """
        clusters = cls(int(state_dict.get('num_clusters', 1)))
        clusters.load_state_dict(state_dict)
        return clusters


class AddGeoClusterLabel:
    """Transform adding the geo-cluster id of a sample's ``point`` as ``label``.

    Works on single samples (``point`` of shape ``[2]`` → scalar ``label``) and on
    batches (``[B, 2]`` → ``[B]``); ``label`` is a long tensor on the device of
    ``point``. Use it as the ``transforms`` of a
    :class:`~torchgeo_geossl.datasets.TemporalViewsDataset`, which provides ``point``.

    .. versionadded:: 0.1
    """

    def __init__(self, clusters: GeoClusters) -> None:
        """Initialize a new AddGeoClusterLabel instance.

        Args:
            clusters: Fitted clusters.

        Raises:
            RuntimeError: If *clusters* is not fitted.
        """
        clusters._require_fitted()
        self.clusters = clusters

    def __call__(self, sample: Sample) -> Sample:
        """Add ``label`` to *sample*.

        Args:
            sample: A sample or batch with ``point`` (``(lon, lat)`` degrees).

        Returns:
            The same dict with ``label`` added.

        Raises:
            KeyError: If *sample* has no ``point``.
        """
        if 'point' not in sample:
            raise KeyError(
                "AddGeoClusterLabel needs the sample's 'point' ((lon, lat) degrees), "
                f'but the sample only has keys {sorted(sample)}; wrap the dataset in '
                'torchgeo_geossl.datasets.TemporalViewsDataset, which adds it'
            )
        sample['label'] = self.clusters.predict(sample['point'])
        return sample

"""Data module for the generated demo time series."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..datasets.demo import DemoTimeSeries, generate_demo_data
from .temporal import TemporalGeoDataModule


class DemoDataModule(TemporalGeoDataModule):
    """Temporal views of the synthetic demo time series, generated on first use.

    :meth:`prepare_data` writes the demo GeoTIFFs with
    :func:`~torchgeo_geossl.datasets.demo.generate_demo_data` when *root* holds none,
    so ``torchgeo fit`` with this data module works on a fresh machine with no
    download. Images are divided by 10,000 on device (uint16 reflectance to
    [0, 1], the augmentation scale) and not standardised by default.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        root: str | Path = 'data/demo',
        tile_size: int = 256,
        data_seed: int = 0,
        batch_size: int = 16,
        patch_size: int | tuple[int, int] = 96,
        views: int = 2,
        geo_clusters: int | None = 4,
        mean: float | Sequence[float] = 0.0,
        std: float | Sequence[float] = 10_000.0,
        scale: float | Sequence[float] | None = None,
        seed: int | None = 0,
        **kwargs: Any,
    ) -> None:
        """Initialize a new DemoDataModule instance.

        Args:
            root: Directory of the demo GeoTIFFs (generated there if empty).
            tile_size: Width and height in pixels of generated tiles.
            data_seed: Seed of the generated data (fixed, so that changing the
                sampling *seed* reuses the same files).
            batch_size: Size of each mini-batch.
            patch_size: Size of each patch in pixels.
            views: Number of acquisition times per location.
            geo_clusters: Number of geo-location clusters (at most the number of
                demo locations), or None for no ``label``.
            mean: Per-band (or scalar) mean of the standardisation, in raw units
                (applied by the task after augmenting).
            std: Per-band (or scalar) standard deviation of the standardisation,
                in raw units (10,000 with mean 0: no standardisation beyond the
                rescaling to reflectance).
            scale: Raw value that maps to 1 for the augmentation; None: *std*
                when *mean* is 0 (see :class:`TemporalGeoDataModule`).
            seed: Seed of the samplers and the k-means fit.
            **kwargs: Further :class:`TemporalGeoDataModule` arguments (``length``,
                ``min_gap``, ``num_workers``, ...).
        """
        super().__init__(
            DemoTimeSeries,
            batch_size=batch_size,
            patch_size=patch_size,
            views=views,
            geo_clusters=geo_clusters,
            mean=mean,
            std=std,
            scale=scale,
            seed=seed,
            paths=str(root),
            **kwargs,
        )
        self.root = Path(root)
        self.tile_size = tile_size
        self.data_seed = data_seed

    def prepare_data(self) -> None:
        """Generate the demo data in *root* unless it is already there."""
        generate_demo_data(self.root, size=self.tile_size, seed=self.data_seed)

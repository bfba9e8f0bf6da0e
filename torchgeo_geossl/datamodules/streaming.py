"""A data module that streams the samples written by ``geossl-chip`` (LitData)."""

import json
from pathlib import Path
from typing import Any, cast

import fsspec
from litdata import StreamingDataLoader, StreamingDataset
from matplotlib.figure import Figure
from torchgeo.datamodules.utils import MisconfigurationException

from ..datasets.views import plot_sample_views, stack_samples_skipping
from ..location.clusters import GeoClusters
from ..samplers.spatial import _check_count
from .pretraining import PretrainingMixin

#: Name of the file, beside LitData's ``index.json``, that records how the samples
#: were drawn and what the batches need (standardisation, geo-clusters).
METADATA = 'geossl.json'

#: Version of :data:`METADATA`'s layout.
METADATA_VERSION = 1


def read_metadata(input_dir: str | Path) -> dict[str, Any]:
    """Read the metadata ``geossl-chip`` wrote beside a store.

    Args:
        input_dir: Local folder or object-store URI of the store.

    Returns:
        The contents of its ``geossl.json``.

    Raises:
        ValueError: If the store has no ``geossl.json`` (not written by
            ``geossl-chip``), or one of another version.

    .. versionadded:: 0.2
    """
    path = f'{str(input_dir).rstrip("/")}/{METADATA}'
    try:
        with fsspec.open(path) as file:
            metadata: dict[str, Any] = json.load(file)
    except FileNotFoundError as err:
        msg = (
            f'input_dir={input_dir} has no {METADATA}: it is not a store written by '
            'geossl-chip (geossl-chip --config CONFIG.yaml --out DIR writes one)'
        )
        raise ValueError(msg) from err
    if metadata.get('version') != METADATA_VERSION:
        msg = (
            f'{path} has version {metadata.get("version")}; this torchgeo-geossl '
            f'reads version {METADATA_VERSION}: chip the data again'
        )
        raise ValueError(msg)
    return metadata


class StreamingViewsDataModule(PretrainingMixin):
    """Serve batches of the batch contract from a store written by ``geossl-chip``.

    ``geossl-chip`` draws the samples of one epoch of any pre-training data module
    of this package and writes them, in order, with LitData
    (:func:`litdata.optimize`) to a local folder or an object store
    (:mod:`torchgeo_geossl.chip`). This data module reads them back with LitData's
    :class:`~litdata.StreamingDataset` and
    :class:`~litdata.StreamingDataLoader` as the same batches: ``image [B, V, C,
    H, W]`` in the dtype the source read, ``point``, ``time``, ``label`` when the
    source had it, ``bounds``, ``transform`` and ``skipped`` (all zeros: samples
    the source skipped are not in the store). The standardisation and the
    geo-clusters of the source are read from the store's ``geossl.json``, so every
    task (:class:`~torchgeo_geossl.trainers.GeoMoCoTask`,
    :class:`~torchgeo_geossl.trainers.SeCoTask`,
    :class:`~torchgeo_geossl.trainers.CSPTask`) trains on it unchanged: swap the
    ``data:`` section of the config.

    With ``shuffle=False`` and ``num_workers=0`` the batches hold the source data
    module's samples of the chipped epoch in its order (with workers, each
    worker reads its own contiguous part of the store and the loader interleaves
    their batches); every epoch serves the same samples. With ``shuffle=True``
    LitData shuffles the order of the chunks and of the samples within chunks,
    from *seed* and the epoch number. Incomplete batches are dropped.

    Under DDP LitData gives each process its own share of the store, and its
    loader's state (samples consumed per worker, epoch) is what Lightning stores
    in checkpoints: a run resumed from a mid-epoch checkpoint continues the epoch
    where it stopped, with as many processes and workers as the interrupted run
    (:doc:`/user/streaming`).

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        input_dir: str | Path,
        batch_size: int = 32,
        num_workers: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        cache_dir: str | Path | None = None,
        max_cache_size: str | None = None,
    ) -> None:
        """Initialize a new StreamingViewsDataModule instance.

        Args:
            input_dir: Local folder or object-store URI (``s3://...``) of a store
                written by ``geossl-chip``.
            batch_size: Size of each mini-batch (per process).
            num_workers: Number of workers for parallel data loading.
            shuffle: Whether to shuffle the samples every epoch (chunks, then
                samples within chunks); False serves them in the chipped order.
            seed: Seed of the shuffle; each epoch shuffles from the seed and the
                epoch number.
            cache_dir: Where LitData keeps the chunks it downloads from an object
                store (default: LitData's cache folder). Local stores are read in
                place.
            max_cache_size: Most disk space of the cache (e.g. ``'100GB'``;
                default: LitData's).

        Raises:
            ValueError: If *batch_size* or *num_workers* is out of range, or
                *input_dir* holds no store written by ``geossl-chip``.
        """
        _check_count('batch_size', batch_size, 1)
        _check_count('num_workers', num_workers, 0)
        super().__init__(StreamingDataset, batch_size, num_workers)
        self.input_dir = str(input_dir)
        self.shuffle = shuffle
        self.seed = seed
        self.cache_dir = None if cache_dir is None else str(cache_dir)
        self.max_cache_size = max_cache_size
        self.metadata = read_metadata(self.input_dir)
        #: Patch size and number of views of the source (for exported metadata).
        self.patch_size = self.metadata.get('patch_size')
        self.views = self.metadata.get('views')
        bands = self.metadata.get('bands')
        self.kwargs = {} if bands is None else {'bands': bands}
        standardization = self.metadata.get('standardization') or {
            'mean': 0.0,
            'std': 1.0,
            'scale': 1.0,
        }
        self.configure_standardization(**standardization)
        clusters = self.metadata.get('geo_clusters')
        self.geo_clusters = (
            None if clusters is None else GeoClusters.from_state_dict(clusters)
        )
        self.num_geo_clusters = 0 if clusters is None else clusters['num_clusters']
        self.collate_fn = stack_samples_skipping

    def setup(self, stage: str) -> None:
        """Open the store for training.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'; only 'fit'
                has data.

        Raises:
            ValueError: If *stage* is 'validate', 'test' or 'predict': a store
                holds training samples only, so those stages need the GeoTIFF data
                module it was chipped from.
        """
        if stage != 'fit':
            msg = (
                f'{type(self).__name__} streams training samples only, so it has no '
                f'{stage!r} stage: run `torchgeo {stage}` with the data: section of '
                f'the config the store was chipped from (recorded in '
                f'{self.input_dir}/geossl.json), which holds out places for '
                'validation and test and serves the grid of locations for predict'
            )
            raise ValueError(msg)
        self.train_dataset = StreamingDataset(
            self.input_dir,
            cache_dir=self.cache_dir,
            shuffle=self.shuffle,
            seed=self.seed,
            drop_last=True,
            max_cache_size=self.max_cache_size,
        )

    def train_dataloader(self) -> Any:
        """LitData's loader of the store, stateful for mid-epoch resume.

        Returns:
            A :class:`~litdata.StreamingDataLoader` of batches of
            ``batch_size`` (typed ``Any``, as it is a loader of an iterable
            dataset).

        Raises:
            MisconfigurationException: If :meth:`setup` was not called for 'fit'.
        """
        if self.train_dataset is None:
            msg = f"{type(self).__name__}.setup('fit') must be called first"
            raise MisconfigurationException(msg)
        return StreamingDataLoader(
            cast(StreamingDataset, self.train_dataset),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            collate_fn=self.collate_fn,
            drop_last=True,
        )

    def plot(
        self,
        sample: dict[str, Any],
        show_titles: bool = True,
        suptitle: str | None = None,
    ) -> Figure:
        """Plot the views of a sample of the store side by side, titled with dates.

        The store keeps no band names, so the first three channels are shown as
        red, green and blue (the first one in grey for fewer channels), each
        view stretched on its own (:func:`~torchgeo_geossl.datasets.plot_sample_views`).

        Args:
            sample: A sample with ``image [V, C, H, W]`` and optional ``time``.
            show_titles: Flag indicating whether to show titles above each panel.
            suptitle: Optional string to use as a suptitle.

        Returns:
            A matplotlib Figure with one panel per view.

        .. versionadded:: 0.2
        """
        channels = sample['image'].shape[-3]
        rgb = [0, 1, 2] if channels >= 3 else [0]
        return plot_sample_views(
            sample, rgb, show_titles=show_titles, suptitle=suptitle
        )

"""A TorchGeo data module serving fMoW-RGB sites as temporal views."""

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from torch.utils.data import ConcatDataset
from torchgeo.datamodules import NonGeoDataModule

from ..datasets.fmow import FMoW
from ..datasets.views import OnReadError
from ..location.clusters import GeoClusters
from .pretraining import PretrainingMixin

#: ImageNet mean on [0, 1], the augmentation scale: the GASSL code's
#: ``Normalize(mean, std)`` after the augmentations and ``ToTensor()``
#: (geography-aware-ssl ``moco_fmow/main_moco_geo+tp.py``).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
#: ImageNet standard deviation on [0, 1], the *std* of the same ``Normalize``.
IMAGENET_STD = (0.229, 0.224, 0.225)

#: :data:`IMAGENET_MEAN` on the 0-255 scale of
#: :class:`~torchgeo_geossl.datasets.fmow.FMoW` images (the data module's *mean*, in
#: raw units).
IMAGENET_MEAN_255 = tuple(255 * m for m in IMAGENET_MEAN)
#: :data:`IMAGENET_STD` on the 0-255 scale (the data module's *std*, in raw units).
IMAGENET_STD_255 = tuple(255 * s for s in IMAGENET_STD)


class FMoWDataModule(PretrainingMixin, NonGeoDataModule):
    """Serve batches of V views of fMoW-RGB sites, with GASSL's geo-clusters.

    Batches follow the package's batch contract: ``image [B, V, 3, H, W]``
    (divided by 255 on device; the task standardises with ImageNet statistics
    after augmenting, as the GASSL code does: ``ToTensor()``, augmentations,
    ``Normalize``),
    ``time [B, V]`` (seconds, float64), ``point [B, 2]`` ((lon, lat), float64) and
    ``label [B]``, the fMoW *category* of each site (see
    :class:`~torchgeo_geossl.datasets.fmow.FMoW`).

    With *geo_clusters*, k-means clusters of the site locations
    (:meth:`~torchgeo_geossl.datasets.fmow.FMoW.site_points`) are fitted at setup
    and exposed as :attr:`geo_clusters`;
    :class:`~torchgeo_geossl.trainers.GeoMoCoTask` picks them up and computes its
    geo-location targets from ``point``. Because ``label`` holds categories, a task
    with a geo head (``geo_classes > 0``) and no clusters is refused at setup: it
    would otherwise read the categories as geo-clusters.

    An epoch passes over the *images* (``epoch='image'``), as the GASSL reference
    code: each sample is one image of a served site with V − 1 other images of
    the same site as its other views (see
    :class:`~torchgeo_geossl.datasets.fmow.FMoW`), so the paper's 200 epochs are
    200 passes over the images, not over the sites.

    .. versionchanged:: 0.2
       Added *epoch*, ``'image'`` by default (an epoch used to visit each site
       once).

    Views are drawn with ``FMoW(seed=None)``: from torch's generator, so they change
    every epoch and are reproducible under ``seed_everything``.

    Validation and test use fMoW's official ``val`` split (sites apart from the
    training sites; the ``test`` and ``seq`` splits are not read by
    :class:`~torchgeo_geossl.datasets.fmow.FMoW`): every val site once, with
    ``max(views, 2)`` of its images drawn from *seed*, the same in every epoch,
    for the task's place recognition. 'predict' serves every image of the
    ``train`` and ``val`` splits once, one view per sample (a site at one date).

    .. versionchanged:: 0.2
       Validation, test and predict stages.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        root: str | Path = 'data/fmow',
        batch_size: int = 64,
        num_workers: int = 0,
        views: int = 2,
        size: int | tuple[int, int] = 448,
        crop_to_box: bool = False,
        box_context: float = 0.0,
        insufficient: Literal['skip', 'repeat', 'error'] = 'skip',
        geo_clusters: int | GeoClusters | None = 100,
        mean: float | Sequence[float] = IMAGENET_MEAN_255,
        std: float | Sequence[float] = IMAGENET_STD_255,
        scale: float | Sequence[float] = 255.0,
        seed: int = 0,
        on_read_error: OnReadError = 'raise',
        epoch: Literal['site', 'image'] = 'image',
    ) -> None:
        """Initialize a new FMoWDataModule instance.

        Args:
            root: Root directory of fMoW-RGB (holding ``train/``).
            batch_size: Size of each mini-batch.
            num_workers: Number of workers for parallel data loading.
            views: Number V of images per site.
            size: Side (or ``(height, width)``) in pixels of every view before the
                task's augmentations (GASSL resizes to 448 and crops 224).
            crop_to_box: Crop images to the object's bounding box first.
            box_context: Enlarge the box by this fraction of its size.
            insufficient: Sites with fewer than *views* images: ``'skip'`` them,
                ``'repeat'`` images, or raise (``'error'``).
            geo_clusters: Number of geo-location clusters K to fit on the site
                locations at setup (GASSL: 100), already fitted
                :class:`~torchgeo_geossl.location.GeoClusters`, or None.
            mean: Per-channel (or scalar) mean of the standardisation on the
                0-255 scale, subtracted by the task after augmenting.
            std: Per-channel (or scalar) standard deviation of the
                standardisation on the 0-255 scale.
            scale: Value that maps to 1 for the augmentation: images are divided
                by it on device (255, the reference's ``ToTensor()``).
            seed: Seed of the k-means fit and of the training order.
            on_read_error: When a file of a sample cannot be read (corrupt,
                truncated, missing): raise (``'raise'``), or leave the sample out of
                its batch with a warning (``'skip'``; see
                :class:`~torchgeo_geossl.datasets.SkipUnreadable`).
            epoch: What an epoch iterates: ``'image'`` (every image of the served
                sites once, its other views drawn from the same site, as the GASSL
                reference code, whose 200 epochs pass over 363,571 images) or
                ``'site'`` (every site once: several times fewer steps per epoch).

        Raises:
            ValueError: If *geo_clusters* is a negative number, *std* or *scale*
                is not positive, or
                *on_read_error* is not ``'raise'`` or ``'skip'``.
        """
        super().__init__(
            FMoW,
            batch_size,
            num_workers,
            root=root,
            views=views,
            size=size,
            crop_to_box=crop_to_box,
            box_context=box_context,
            insufficient=insufficient,
            epoch=epoch,
        )
        if isinstance(geo_clusters, int) and geo_clusters < 0:
            msg = f'geo_clusters must be a positive number of clusters, a GeoClusters or None, got {geo_clusters}'
            raise ValueError(msg)
        self.geo_clusters: GeoClusters | None = (
            geo_clusters if isinstance(geo_clusters, GeoClusters) else None
        )
        self.num_geo_clusters = (
            geo_clusters if isinstance(geo_clusters, int) and geo_clusters > 0 else 0
        )
        self.seed = seed
        self.on_read_error = on_read_error
        self.configure_standardization(mean, std, scale)

    def setup(self, stage: str) -> None:
        """Build the datasets of *stage* and fit the geo-clusters.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict' (see the class
                description).

        Raises:
            ValueError: If the task has a geo head but the data module no clusters.
        """
        if stage == 'predict':
            single = {**self.kwargs, 'views': 1, 'epoch': 'image', 'seed': self.seed}
            self.predict_dataset = ConcatDataset(
                [FMoW(split=split, **single) for split in ('train', 'val')]
            )
            return
        if stage == 'test':
            self.test_dataset = self._held_out()
            return
        if stage == 'validate':
            self.val_dataset = self._held_out()
            return
        self._check_geo_head()
        dataset = FMoW(split='train', **self.kwargs)
        self.train_dataset = dataset
        self.val_dataset = self._held_out()
        if self.geo_clusters is None and self.num_geo_clusters:
            cluster_seed = int(np.random.SeedSequence(self.seed).generate_state(1)[0])
            self.geo_clusters = GeoClusters(self.num_geo_clusters, seed=cluster_seed)
            self.geo_clusters.fit(dataset.site_points())

    def _held_out(self) -> FMoW:
        """The official val split: every site once, at least two of its images.

        Returns:
            The dataset of held-out sites.
        """
        views = max(int(self.kwargs['views']), 2)
        return FMoW(
            split='val',
            **{**self.kwargs, 'views': views, 'epoch': 'site', 'seed': self.seed},
        )

    def _check_geo_head(self) -> None:
        """Refuse a task with a geo head when this module has no clusters.

        Raises:
            ValueError: If the trainer's model has ``geo_classes > 0`` but neither it
                nor this data module has geo-clusters.
        """
        if self.num_geo_clusters or self.geo_clusters is not None:
            return
        trainer = self.trainer
        model = trainer.lightning_module if trainer is not None else None
        hparams = getattr(model, 'hparams', {})
        geo_classes = hparams.get('geo_classes', 0) if hparams else 0
        if geo_classes and getattr(model, 'geo_clusters', None) is None:
            msg = (
                f'the task has a geo head (geo_classes={geo_classes}) but '
                'FMoWDataModule has geo_clusters=None: its label is the fMoW '
                f'category, not a geo-cluster; set geo_clusters={geo_classes}'
            )
            raise ValueError(msg)

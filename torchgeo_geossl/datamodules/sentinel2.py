"""Temporal views of one's own folder of dated Sentinel-2 band files."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torchgeo.datasets import Sentinel2

from .temporal import TemporalGeoDataModule


class Sentinel2ViewsDataModule(TemporalGeoDataModule):
    """Temporal views of a folder of dated Sentinel-2 images, read with TorchGeo.

    A :class:`TemporalGeoDataModule` over TorchGeo's
    :class:`~torchgeo.datasets.Sentinel2`: every file under *root* named as ESA
    names the band files of its products is indexed, with the date from the file
    name; *bands* are read, one file per band. Files of one granule and date
    differ only in the band. TorchGeo's pattern (``Sentinel2.filename_regex``)::

        T<tile: 2 digits, 3 letters>_<date: YYYYMMDDTHHMMSS>_<band>[_<resolution>].<ext>

    for example ``T31UFQ_20210301T105031_B02.tif`` (Level-1C ``IMG_DATA``) or, in
    the Level-2A layout, ``R10m/T31UFQ_20210301T105031_B02_10m.jp2`` (each
    resolution in its ``R<resolution>`` folder). All files are read in the CRS
    of the first file (or *crs*) at *res*, so granules of several UTM zones can be
    mixed. The digital numbers (reflectance × 10,000) are divided by 10,000 on
    device by default: the augmentation scale.

    For other file names, subclass :class:`~torchgeo.datasets.Sentinel2` (or
    :class:`~torchgeo.datasets.RasterDataset`) with your own ``filename_regex``
    and ``date_format`` and give it to :class:`TemporalGeoDataModule` as
    *dataset_class*.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        root: str | Path = 'data/sentinel2',
        bands: Sequence[str] = ('B02', 'B03', 'B04', 'B08'),
        res: float | None = 10.0,
        crs: str | None = None,
        batch_size: int = 32,
        patch_size: int | tuple[int, int] = 64,
        views: int = 2,
        mean: float | Sequence[float] = 0.0,
        std: float | Sequence[float] = 10_000.0,
        scale: float | Sequence[float] | None = None,
        **kwargs: Any,
    ) -> None:
        """Initialize a new Sentinel2ViewsDataModule instance.

        Args:
            root: Folder searched (recursively) for the band files.
            bands: Bands to read, in channel order, among
                ``Sentinel2.all_bands`` (``B01`` to ``B12``, ``B8A``); the first
                band's files are the ones indexed.
            res: Resolution in units of the CRS (10 m for the 10 m bands); None:
                that of the first file.
            crs: CRS to read in (e.g. ``'EPSG:32631'``); None: that of the first
                file.
            batch_size: Size of each mini-batch.
            patch_size: Size of each patch in pixels.
            views: Number of acquisition times per location.
            mean: Per-band (or scalar) mean of the standardisation, in digital
                numbers (applied by the task after augmenting).
            std: Per-band (or scalar) standard deviation of the standardisation,
                in digital numbers (10,000 with mean 0: reflectance, no further
                standardisation).
            scale: Digital number that maps to 1 for the augmentation; None:
                *std* when *mean* is 0 (see :class:`TemporalGeoDataModule`).
            **kwargs: Further :class:`TemporalGeoDataModule` arguments
                (``length``, ``min_gap``, ``geo_clusters``, ``holdout``,
                ``num_workers``, ...).

        Raises:
            ValueError: If a band is not a Sentinel-2 band, or an argument of
                :class:`TemporalGeoDataModule` is out of range.
        """
        unknown = [band for band in bands if band not in Sentinel2.all_bands]
        if unknown or not bands:
            msg = (
                f'bands must be Sentinel-2 bands among {list(Sentinel2.all_bands)}, '
                f'got {list(bands)}'
            )
            raise ValueError(msg)
        super().__init__(
            Sentinel2,
            batch_size=batch_size,
            patch_size=patch_size,
            views=views,
            mean=mean,
            std=std,
            scale=scale,
            paths=str(root),
            bands=list(bands),
            res=res,
            crs=crs,
            **kwargs,
        )
        self.root = Path(root)
        self.bands = list(bands)

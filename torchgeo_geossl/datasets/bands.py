"""Check that the files of a raster dataset all have the bands it reads."""

from collections.abc import Iterable, Sequence

import rasterio
from rasterio.errors import RasterioError
from torchgeo.datasets import GeoDataset, RasterDataset

#: Number of files named per band count in a message.
_SHOWN = 3


class BandCountError(ValueError):
    """Files of one raster dataset have different numbers of bands.

    TorchGeo reads the same band indexes from every file of a
    :class:`~torchgeo.datasets.RasterDataset`: a file with fewer bands fails deep in
    rasterio (``band index 4 out of range``), and without ``all_bands`` a file with
    other bands silently gives samples of another shape. The message names the
    files and their band counts.

    .. versionadded:: 0.1
    """


def _raster_members(dataset: GeoDataset) -> list[RasterDataset]:
    """The raster datasets a GeoDataset reads from.

    Args:
        dataset: A GeoDataset; IntersectionDataset/UnionDataset members are searched
            recursively.

    Returns:
        *dataset* itself if it is a RasterDataset, else its RasterDataset members.
    """
    if isinstance(dataset, RasterDataset):
        return [dataset]
    members = getattr(dataset, 'datasets', None)
    if not isinstance(members, Sequence):
        return []
    return [r for m in members if isinstance(m, GeoDataset) for r in _raster_members(m)]


def _dataset_files(dataset: RasterDataset) -> list[str]:
    """Every file a raster dataset may read.

    Args:
        dataset: A RasterDataset.

    Returns:
        The unique ``filepath`` values of its index; for ``separate_files`` datasets,
        the file of every selected band.
    """
    files = [str(f) for f in dict.fromkeys(dataset.index['filepath'])]
    if dataset.separate_files:
        files = [dataset._update_filepath(b, f) for f in files for b in dataset.bands]
    return list(dict.fromkeys(files))


def _band_counts(paths: Iterable[str]) -> dict[str, int]:
    """Number of bands of each file, read from its header.

    Args:
        paths: Raster files.

    Returns:
        ``{path: count}`` for the files rasterio can open (unreadable files are
        reported by the reader, not here).
    """
    counts = {}
    for path in paths:
        try:
            with rasterio.open(path) as src:
                counts[path] = int(src.count)
        except RasterioError:
            continue
    return counts


def _needed_band(dataset: RasterDataset) -> int | None:
    """Highest band index the dataset reads from each file, if it selects bands.

    Args:
        dataset: A RasterDataset.

    Returns:
        ``max(band_indexes)``, or None when every band of each file is read.
    """
    indexes = None if dataset.separate_files else dataset.band_indexes
    return max(indexes) if indexes else None


def _listing(counts: dict[str, int]) -> str:
    """Files grouped by band count, a few per group.

    Args:
        counts: ``{path: count}``.

    Returns:
        For example ``'4 bands: a.tif, b.tif (+10 more); 3 bands: c.tif'``, the
        most frequent count first.
    """
    groups: dict[int, list[str]] = {}
    for path, count in counts.items():
        groups.setdefault(count, []).append(path)
    parts = []
    for count, paths in sorted(groups.items(), key=lambda g: -len(g[1])):
        more = f' (+{len(paths) - _SHOWN} more)' if len(paths) > _SHOWN else ''
        parts.append(f'{count} band(s): {", ".join(paths[:_SHOWN])}{more}')
    return '; '.join(parts)


def _check_counts(
    dataset: RasterDataset, counts: dict[str, int], reference: dict[str, int]
) -> None:
    """Raise if files have too few or inconsistent bands for *dataset*.

    Args:
        dataset: The RasterDataset the files belong to.
        counts: ``{path: count}`` of the files to check.
        reference: ``{path: count}`` of files known to be right (for example the
            first file of the index), compared with *counts* when the dataset
            reads every band of each file; may be empty.

    Raises:
        BandCountError: If a file has fewer bands than the highest band index the
            dataset reads, or, when it reads every band, if the files (with the
            reference) have different band counts.
    """
    name = type(dataset).__name__
    needed = _needed_band(dataset)
    if needed is not None:
        short = {p: c for p, c in counts.items() if c < needed}
        if short:
            msg = (
                f'{name} reads bands {tuple(dataset.bands)} (band indexes '
                f'{list(dataset.band_indexes or [])}) of every file, but some files '
                f'have fewer than {needed} bands: {_listing(short)}. All files of a '
                'dataset must have the same bands; remove or fix these files, or '
                'select fewer bands.'
            )
            raise BandCountError(msg)
        return
    merged = {**reference, **counts}
    if len(set(merged.values())) > 1:
        kind = 'band file' if dataset.separate_files else 'file'
        msg = (
            f'the files of {name} have different numbers of bands: '
            f'{_listing(merged)}. {name} reads every band of each {kind}, so its '
            'samples would have different shapes; all files of a dataset must have '
            "the same bands (or set the dataset's all_bands and bands to read the "
            'common ones).'
        )
        raise BandCountError(msg)


def check_band_counts(dataset: GeoDataset, *, max_files: int | None = 1000) -> None:
    """Check the band counts of every file of a dataset by reading their headers.

    Args:
        dataset: A GeoDataset; each RasterDataset member is checked on its own.
        max_files: Skip members with more files than this (opening each costs about
            a millisecond on local disks, more on network storage); None checks all.

    Raises:
        BandCountError: If a file of a member has fewer bands than the highest
            band index the member reads or, when the member reads every band of
            its files, if its files have different numbers of bands.

    .. versionadded:: 0.1
    """
    for member in _raster_members(dataset):
        files = _dataset_files(member)
        if max_files is not None and len(files) > max_files:
            continue
        _check_counts(member, _band_counts(files), {})


def _check_files_of_read(dataset: GeoDataset, files: Sequence[str]) -> None:
    """Check the files of one failed or unexpected read against their dataset.

    Used when a read raises or returns another number of bands than expected, so
    that large datasets, not checked file by file at construction, still get a
    message naming the file.

    Args:
        dataset: The GeoDataset that was read.
        files: The files the read used.

    Raises:
        BandCountError: If one of *files* has too few bands, or another band count
            than the first file of its RasterDataset.
    """
    for member in _raster_members(dataset):
        own = _dataset_files(member)
        known = set(own)
        mine = [f for f in files if f in known]
        if not mine:
            continue
        _check_counts(member, _band_counts(mine), _band_counts(own[:1]))

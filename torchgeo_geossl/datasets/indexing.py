"""Report files a raster dataset could not index, or indexed in the wrong CRS."""

import os
import re
import warnings
from typing import Literal

import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError
from torchgeo.datasets import GeoDataset

from .bands import _dataset_files, _raster_members

#: What to do with files that match a dataset's file pattern but are not indexed.
OnUnindexed = Literal['warn', 'raise']

#: Number of files named in a message.
_SHOWN = 5


class MissingCRSError(ValueError):
    """Some files of a raster dataset have a CRS and others have none.

    TorchGeo places a file without a CRS in the dataset's CRS (the first file's,
    or the one passed as ``crs=``) without a word, so its pixels land wherever its
    transform's numbers fall in that CRS. Raised by :func:`check_file_crs`; the
    message names the files.

    .. versionadded:: 0.2
    """


class UnindexedFilesError(OSError):
    """Files of a raster dataset could not be indexed.

    TorchGeo's :class:`~torchgeo.datasets.RasterDataset` leaves out of its index,
    without a word, every file that rasterio cannot open (empty, truncated, not a
    raster). Raised by :func:`check_indexed_files` with ``on_unindexed='raise'``;
    the message names the files and the reasons.

    .. versionadded:: 0.2
    """


def unindexed_files(
    dataset: GeoDataset, *, max_files: int | None = 1000
) -> dict[str, str]:
    """Files that match a dataset's file pattern but could not be indexed.

    A file that matches the pattern, is missing from the index and cannot be opened
    (empty, truncated, not a raster) is one TorchGeo dropped. Files that open are
    left out: an index filtered on purpose (by dates or places) misses them too.

    Args:
        dataset: A GeoDataset; each RasterDataset member is checked.
        max_files: Open at most this many files missing from the index per member
            (None: all).

    Returns:
        ``{path: reason}`` for each such file, the reason being the error rasterio
        gives when opening it.

    .. versionadded:: 0.2
    """
    missing: dict[str, str] = {}
    for member in _raster_members(dataset):
        regex = re.compile(member.filename_regex, re.VERBOSE)
        indexed = set(_dataset_files(member))
        candidates = [
            path
            for path in member.files
            if path not in indexed and regex.match(os.path.basename(path)) is not None
        ]
        for path in candidates[:max_files]:
            reason = _why_unreadable(path)
            if reason is not None:
                missing[path] = reason
    return missing


def check_indexed_files(
    dataset: GeoDataset, on_unindexed: OnUnindexed = 'warn'
) -> dict[str, str]:
    """Warn about (or refuse) files a raster dataset could not index.

    Args:
        dataset: A GeoDataset; each RasterDataset member is checked.
        on_unindexed: ``'warn'`` gives one :class:`UserWarning` naming the files,
            their reasons and their count; ``'raise'`` raises
            :class:`UnindexedFilesError` instead.

    Returns:
        ``{path: reason}`` of the files left out of the index (empty if none).

    Raises:
        UnindexedFilesError: If files were left out and ``on_unindexed='raise'``.
        ValueError: If *on_unindexed* is not ``'warn'`` or ``'raise'``.

    .. versionadded:: 0.2
    """
    if on_unindexed not in ('warn', 'raise'):
        msg = f"on_unindexed must be 'warn' or 'raise', got {on_unindexed!r}"
        raise ValueError(msg)
    missing = unindexed_files(dataset)
    if not missing:
        return missing
    total = len(missing) + sum(
        len(set(m.index['filepath'])) for m in _raster_members(dataset)
    )
    listing = '; '.join(
        f'{path}: {why}' for path, why in list(missing.items())[:_SHOWN]
    )
    more = f' (+{len(missing) - _SHOWN} more)' if len(missing) > _SHOWN else ''
    message = (
        f'{len(missing)} of {total} files of {type(dataset).__name__} could not be '
        f'indexed and are left out of the dataset: {listing}{more}'
    )
    if on_unindexed == 'raise':
        raise UnindexedFilesError(f'{message}. Fix or remove these files.')
    warnings.warn(
        f"{message}. Fix or remove these files, or pass on_unindexed='raise' to stop "
        'on them.',
        UserWarning,
        stacklevel=3,
    )
    return missing


def _why_unreadable(path: str) -> str | None:
    """Why rasterio cannot open a file.

    Args:
        path: The file.

    Returns:
        The error of opening it, or None if it opens.
    """
    try:
        size = os.path.getsize(path)
    except OSError as err:
        return f'{type(err).__name__}: {err}'
    if size == 0:
        return 'empty file (0 bytes)'
    try:
        rasterio.open(path).close()
    except (RasterioError, CPLE_BaseError, OSError) as err:
        return f'{type(err).__name__}: {err} ({size} bytes)'
    return None


def check_file_crs(dataset: GeoDataset, *, max_files: int | None = 1000) -> None:
    """Refuse a raster dataset whose files mix headers with and without a CRS.

    Args:
        dataset: A GeoDataset; each RasterDataset member is checked on its own.
        max_files: Skip members with more files than this (each header is read);
            None checks all.

    Raises:
        MissingCRSError: If some indexed files of a member have no CRS and others
            have one.

    .. versionadded:: 0.2
    """
    for member in _raster_members(dataset):
        files = _dataset_files(member)
        if max_files is not None and len(files) > max_files:
            continue
        without = []
        for path in files:
            try:
                with rasterio.open(path) as src:
                    if src.crs is None:
                        without.append(path)
            except (RasterioError, CPLE_BaseError, OSError):
                continue
        if without and len(without) < len(files):
            shown = ', '.join(without[:_SHOWN])
            more = f' (+{len(without) - _SHOWN} more)' if len(without) > _SHOWN else ''
            msg = (
                f'{len(without)} of {len(files)} files of {type(member).__name__} '
                f'have no CRS: {shown}{more}. TorchGeo would place them in the '
                f"dataset's CRS ({member.crs.to_string()}) without a word; give them "
                'their CRS (for example gdal_edit.py -a_srs EPSG:<code> FILE) or remove '
                'them.'
            )
            raise MissingCRSError(msg)

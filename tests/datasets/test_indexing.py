"""Tests for torchgeo_geossl.datasets.indexing."""

import warnings
from pathlib import Path

import pytest
from conftest import SeriesDataset, monthly, write_series

from torchgeo_geossl.datamodules import TemporalGeoDataModule
from torchgeo_geossl.datasets import (
    MissingCRSError,
    TemporalViewsDataset,
    UnindexedFilesError,
    check_file_crs,
    check_indexed_files,
    unindexed_files,
)


def damage(root: Path) -> tuple[Path, Path]:
    """Three good files, one truncated to 100 bytes and one empty."""
    paths = write_series(root, dates=monthly(5))
    truncated, empty = paths[1], paths[3]
    truncated.write_bytes(truncated.read_bytes()[:100])
    empty.write_bytes(b'')
    return truncated, empty


def test_unindexed_files_are_named_with_reasons(tmp_path: Path) -> None:
    truncated, empty = damage(tmp_path)
    (tmp_path / 'notes.txt').write_text('not matched by the file pattern')
    ds = SeriesDataset(tmp_path)
    assert len(ds.index) == 3  # TorchGeo drops the two damaged files silently
    missing = unindexed_files(ds)
    assert set(missing) == {str(truncated), str(empty)}
    assert missing[str(empty)] == 'empty file (0 bytes)'
    assert '100 bytes' in missing[str(truncated)]


def test_warn_and_raise(tmp_path: Path) -> None:
    truncated, empty = damage(tmp_path)
    ds = SeriesDataset(tmp_path)
    with pytest.warns(UserWarning, match=r'2 of 5 files of SeriesDataset could not be'):
        wrapper = TemporalViewsDataset(ds)
    assert set(wrapper.unindexed) == {str(truncated), str(empty)}
    with pytest.raises(UnindexedFilesError, match=str(empty.name)):
        TemporalViewsDataset(ds, on_unindexed='raise')
    with pytest.raises(ValueError, match="on_unindexed must be 'warn' or 'raise'"):
        check_indexed_files(ds, 'ignore')  # type: ignore[arg-type]


def test_clean_dataset_is_silent(tmp_path: Path) -> None:
    write_series(tmp_path, dates=monthly(3))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        wrapper = TemporalViewsDataset(SeriesDataset(tmp_path))
    assert wrapper.unindexed == {}


def test_datamodule_option(tmp_path: Path) -> None:
    damage(tmp_path)
    dm = TemporalGeoDataModule(
        SeriesDataset,
        paths=str(tmp_path),
        batch_size=2,
        patch_size=8,
        length=2,
        on_unindexed='raise',
    )
    with pytest.raises(UnindexedFilesError, match='2 of 5 files'):
        dm.setup('fit')


def test_file_without_crs_among_files_with_one(tmp_path: Path) -> None:
    dates = monthly(3)
    write_series(tmp_path, dates=dates[:2])
    (bare,) = write_series(tmp_path, dates=dates[2:], crs=None)  # type: ignore[arg-type]
    ds = SeriesDataset(tmp_path)
    assert len(ds.index) == 3  # TorchGeo indexes it in the first file's CRS
    with pytest.raises(MissingCRSError, match=rf'1 of 3 files .* have no CRS: {bare}'):
        TemporalViewsDataset(ds)
    check_file_crs(ds, max_files=2)  # too many files to check: skipped


def test_files_all_without_crs_follow_the_dataset_crs(tmp_path: Path) -> None:
    write_series(tmp_path, dates=monthly(2), crs=None)  # type: ignore[arg-type]
    ds = SeriesDataset(tmp_path, crs='EPSG:32631')
    check_file_crs(ds)  # the user chose the CRS of all files: nothing mixed


def test_files_left_out_on_purpose_are_not_reported(tmp_path: Path) -> None:
    # an index filtered by the user (here: the last two dates) is not damage
    write_series(tmp_path, dates=monthly(4))
    ds = SeriesDataset(tmp_path)
    ds.index = ds.index.iloc[:2]
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        wrapper = TemporalViewsDataset(ds)
    assert wrapper.unindexed == {}

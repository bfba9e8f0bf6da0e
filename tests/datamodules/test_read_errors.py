"""``on_read_error`` of the map-style pre-training data modules.

SeCo, SSL4EO-S12, fMoW and S2-100K: a corrupt file stops training with an error
naming it, or its sample is left out of its batch with a warning and counted in
``skipped``.
"""

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from lightning.pytorch import LightningDataModule

from torchgeo_geossl.datamodules import (
    FMoWDataModule,
    S2100kDataModule,
    SeasonalContrastS2ViewsDataModule,
    SSL4EOS12ViewsDataModule,
)

DATA = Path(__file__).resolve().parents[1] / 'data'

Make = Callable[..., LightningDataModule]


def seco(root: Path, **kwargs: object) -> LightningDataModule:
    return SeasonalContrastS2ViewsDataModule(root=root, batch_size=2, seed=0, **kwargs)  # type: ignore[arg-type]


def ssl4eo(root: Path, **kwargs: object) -> LightningDataModule:
    return SSL4EOS12ViewsDataModule(
        root=root,
        split='s2c',
        batch_size=2,
        seasons=2,
        seed=0,
        **kwargs,  # type: ignore[arg-type]
    )


def fmow(root: Path, **kwargs: object) -> LightningDataModule:
    # one sample per site, so the corrupt site is one sample (per image, each of its
    # images would be one)
    return FMoWDataModule(
        root=root,
        batch_size=2,
        size=16,
        geo_clusters=None,
        epoch='site',
        **kwargs,  # type: ignore[arg-type]
    )


def s2100k(root: Path, **kwargs: object) -> LightningDataModule:
    return S2100kDataModule(root=root, batch_size=2, **kwargs)  # type: ignore[arg-type]


#: data module, fixture, files to corrupt (every file one sample can read), and the
#: part of the error message that names them
CASES: dict[str, tuple[Make, str, str, str]] = {
    'seco': (seco, 'seco', 'seasonal_contrast_100k/000001/*/B2.tif', '000001'),
    'ssl4eo': (ssl4eo, 'ssl4eo_s12', 's2c/0000001/*/B12.tif', '0000001'),
    'fmow': (fmow, 'fmow', 'train/zoo/zoo_0/*_rgb.jpg', 'zoo_0'),
    's2100k': (s2100k, 's2100k', 'images/patch_3.tif', 'patch_3.tif'),
}


def corrupt_copy(tmp_path: Path, name: str) -> tuple[Make, Path, str]:
    make, fixture, pattern, named = CASES[name]
    root = tmp_path / fixture
    shutil.copytree(DATA / fixture, root)
    files = sorted(root.glob(pattern))
    assert files
    for path in files:
        path.write_bytes(path.read_bytes()[:40])  # truncated
    return make, root, named


def fit_setup(datamodule: LightningDataModule) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # fixture locations with too few seasons
        datamodule.setup('fit')


@pytest.mark.parametrize('name', list(CASES))
def test_skip_leaves_the_sample_out_with_a_warning(name: str, tmp_path: Path) -> None:
    make, root, named = corrupt_copy(tmp_path, name)
    datamodule = make(root, on_read_error='skip')
    fit_setup(datamodule)
    size = len(datamodule.train_dataset)  # type: ignore[attr-defined]
    loader = datamodule.train_dataloader()
    with pytest.warns(UserWarning, match="Skipping it \\(on_read_error='skip'\\)") as w:
        batches = list(loader)
    messages = [str(m.message) for m in w if 'Skipping it' in str(m.message)]
    assert len(messages) == 1  # one unreadable sample, drawn once
    assert named in messages[0]
    assert '1 unreadable sample(s) so far' in messages[0]
    skipped = sum(int(batch['skipped'].sum()) for batch in batches)
    kept = sum(len(batch['image']) for batch in batches)
    assert skipped == 1
    assert kept + skipped == size // 2 * 2  # incomplete batches are dropped


@pytest.mark.parametrize('name', list(CASES))
def test_raise_names_the_file(name: str, tmp_path: Path) -> None:
    make, root, named = corrupt_copy(tmp_path, name)
    datamodule = make(root)
    fit_setup(datamodule)
    with pytest.raises(OSError, match=named):
        list(datamodule.train_dataloader())


@pytest.mark.parametrize('name', list(CASES))
def test_readable_data_has_nothing_skipped(name: str) -> None:
    make, fixture, _, _ = CASES[name]
    datamodule = make(DATA / fixture, on_read_error='skip')
    fit_setup(datamodule)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        batches = list(datamodule.train_dataloader())
    assert batches
    assert all(int(batch['skipped'].sum()) == 0 for batch in batches)


@pytest.mark.parametrize('name', list(CASES))
def test_invalid_choice(name: str, tmp_path: Path) -> None:
    make, fixture, _, _ = CASES[name]
    with pytest.raises(
        ValueError, match="on_read_error must be one of \\['raise', 'skip'\\]"
    ):
        make(DATA / fixture, on_read_error='ignore')

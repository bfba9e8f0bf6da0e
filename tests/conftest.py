"""Shared fixtures: tiny dated GeoTIFF time series written on the fly."""

import datetime as dt
import importlib
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import rasterio
import torch
import torch.multiprocessing as mp
from rasterio.transform import from_origin
from torchgeo.datasets import RasterDataset

SHARED_DATA = Path(__file__).resolve().parents[2] / 'shared' / 'data'


class SeriesDataset(RasterDataset):
    """RasterDataset over files named ``<site>_<YYYYMMDD>.tif`` (written by ``write_series``)."""

    filename_glob = '*.tif'
    filename_regex = r'^(?P<site>[a-z0-9]+)_(?P<date>\d{8})\.tif$'
    date_format = '%Y%m%d'
    all_bands = ('b1', 'b2', 'b3', 'b4')
    nodata = 0


class ColoradoLandsat(RasterDataset):
    """Landsat-5/7 reflectance (b3, b4, b5) of ../shared/data/landsat-timeseries-colorado.

    The recipe of the shared data's README: one file per band, the date as year and day
    of year in the scene id, nodata -9999.
    """

    filename_glob = 'L*_b3.tif'
    filename_regex = (
        r'^L[ET][57]\d{6}(?P<date>\d{7})[A-Z]{3}\d{2}_(?P<band>b3|b4|b5)\.tif$'
    )
    date_format = '%Y%j'
    separate_files = True
    all_bands = ('b3', 'b4', 'b5')
    nodata = -9999


#: The benchmark scripts, which import their sibling modules by name.
BENCHMARKS = Path(__file__).resolve().parents[1] / 'benchmarks'


def import_benchmark(name: str) -> ModuleType:
    """Import a script of ``benchmarks/`` as a module, with its folder on the path.

    Args:
        name: The script's name without ``.py``.

    Returns:
        The module.
    """
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


def pixel_value(date: dt.date, band: int) -> int:
    """Value written to every valid pixel of *band* at *date*: decodes the date back."""
    return 1000 * (band + 1) + date.timetuple().tm_yday


def write_series(
    root: Path,
    *,
    site: str = 'site',
    dates: Sequence[dt.date] = (),
    crs: str = 'EPSG:32631',
    origin: tuple[float, float] = (500_000.0, 5_700_000.0),
    size: int = 32,
    res: float = 10.0,
    bands: int = 4,
    nodata_fraction: dict[dt.date, float] | None = None,
    dtype: str = 'uint16',
    nodata: float | None = 0,
) -> list[Path]:
    """Write one GeoTIFF per date for one site; return the paths.

    Every valid pixel of band b at date d equals ``pixel_value(d, b)``; the first
    ``nodata_fraction[d]`` share of rows of date d is *nodata* (0 when None, which
    declares no nodata value in the header).
    """
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for date in dates:
        data = np.stack(
            [np.full((size, size), pixel_value(date, b), dtype) for b in range(bands)]
        )
        frac = (nodata_fraction or {}).get(date, 0.0)
        data[:, : round(frac * size), :] = 0 if nodata is None else nodata
        path = root / f'{site}_{date:%Y%m%d}.tif'
        with rasterio.open(
            path,
            'w',
            driver='GTiff',
            height=size,
            width=size,
            count=bands,
            dtype=dtype,
            crs=crs,
            transform=from_origin(origin[0], origin[1], res, res),
            nodata=nodata,
        ) as f:
            f.write(data)
        paths.append(path)
    return paths


def monthly(n: int, year: int = 2021, day: int = 15) -> list[dt.date]:
    """*n* dates, one per month starting in January of *year*."""
    return [dt.date(year, m + 1, day) for m in range(n)]


@pytest.fixture
def series_factory(tmp_path: Path) -> Callable[..., list[Path]]:
    """``write_series`` bound to a fresh temporary directory (``root`` defaults to it)."""

    def factory(**kwargs: object) -> list[Path]:
        root = kwargs.pop('root', tmp_path)
        assert isinstance(root, Path)
        return write_series(root, **kwargs)  # type: ignore[arg-type]

    return factory


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` beside the checkout; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip('../shared/data is not present')
    return SHARED_DATA


def run_gloo_workers(
    worker: Callable[[int, str, str], None],
    out_dir: Path,
    nprocs: int = 2,
    timeout_s: float = 120.0,
) -> list[Any]:
    """Run ``worker(rank, init_dir, out_dir)`` in *nprocs* spawned processes.

    Each worker initialises a gloo process group (file store under ``init_dir``)
    and saves its results to ``out_dir/rank<r>.pt``, which are returned in rank
    order. Fails the test if the workers do not finish within *timeout_s*.
    """
    context = mp.start_processes(
        worker,
        args=(str(out_dir / 'init'), str(out_dir)),
        nprocs=nprocs,
        join=False,
        start_method='spawn',
    )
    deadline = time.monotonic() + timeout_s
    while not context.join(timeout=1.0):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.terminate()
            pytest.fail(f'distributed workers did not finish within {timeout_s} s')
    return [torch.load(out_dir / f'rank{rank}.pt') for rank in range(nprocs)]


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--test-order``: run the tests in reverse or shuffled order.

    The suite must pass in any order: a test that passes only after (or before)
    another shares state with it. CI runs the fast tests a second time reversed.
    """
    parser.addoption(
        '--test-order',
        default='file',
        help="'file' (the default), 'reverse', or 'shuffle:SEED'",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[Any]) -> None:
    """Skip ``cuda`` tests without CUDA; reorder the tests as ``--test-order`` asks.

    ``@pytest.mark.cuda`` tests need a CUDA device; ``benchmarks/gpu_check.sh``
    runs them (``pytest -m cuda``) on a GPU machine.
    """
    if not torch.cuda.is_available():
        skip = pytest.mark.skip(
            reason='needs a CUDA device (run benchmarks/gpu_check.sh on a GPU machine)'
        )
        for item in items:
            if 'cuda' in item.keywords:
                item.add_marker(skip)
    order = config.getoption('--test-order')
    if order == 'file':
        return
    if order == 'reverse':
        items.reverse()
    elif order.startswith('shuffle:'):
        np.random.default_rng(int(order.removeprefix('shuffle:'))).shuffle(items)
    else:
        raise pytest.UsageError(
            f"--test-order must be 'file', 'reverse' or 'shuffle:SEED', got {order!r}"
        )


@pytest.fixture(scope='session')
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Checkpoints of a GASSL pre-training step on the demo data, per timm model.

    4 bands (red, green, blue, nir), 1 optimiser step, one checkpoint per model
    name, written once per test session.
    """
    from lightning.pytorch import Trainer

    from torchgeo_geossl.datamodules import DemoDataModule
    from torchgeo_geossl.trainers import GeoMoCoTask

    made: dict[str, Path] = {}

    def make(model: str = 'resnet18') -> Path:
        if model not in made:
            tmp = tmp_path_factory.mktemp(f'pretrained-{model}')
            datamodule = DemoDataModule(
                root=tmp / 'demo',
                tile_size=48,
                patch_size=24,
                batch_size=4,
                length=4,
                geo_clusters=3,
                bands=('red', 'green', 'blue', 'nir'),
            )
            task = GeoMoCoTask(
                model=model, in_channels=4, size=16, queue_size=16, geo_classes=3
            )
            trainer = Trainer(
                max_epochs=1,
                accelerator='cpu',
                logger=False,
                enable_progress_bar=False,
                enable_checkpointing=False,
                default_root_dir=tmp,
            )
            trainer.fit(task, datamodule=datamodule)
            made[model] = tmp / 'gassl.ckpt'
            trainer.save_checkpoint(made[model])
        return made[model]

    return make


@pytest.fixture
def build_page(tmp_path: Path) -> Callable[[str], Path]:
    """Build a page of reStructuredText with ``docs/conf.py``, offline, with ``-W``.

    The page gets the configuration's static files and intersphinx inventories (a
    missing inventory is a warning, so an error under ``-W``).

    Returns:
        A function of the page's text that returns the build folder.
    """
    docs = Path(__file__).resolve().parents[1] / 'docs'

    def build(text: str) -> Path:
        source = tmp_path / 'source'
        source.mkdir()
        shutil.copy(docs / 'conf.py', source)
        shutil.copytree(docs / '_static', source / '_static')
        shutil.copytree(docs / '_inventories', source / '_inventories')
        (source / 'index.rst').write_text(text)
        html = tmp_path / 'html'
        result = subprocess.run(
            [sys.executable, '-m', 'sphinx', '-W', '-q', '-b', 'html', str(source),
             str(html)],
            check=False, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        return html

    return build

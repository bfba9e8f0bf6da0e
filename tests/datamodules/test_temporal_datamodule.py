import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely
import torch
from conftest import SeriesDataset, monthly, pixel_value, write_series
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import LightningCLI
from pyproj import Transformer
from torch import Tensor
from torchgeo.datamodules import BaseDataModule
from torchgeo.main import main as torchgeo_main
from torchgeo.tasks import BaseTask

from torchgeo_geossl.datamodules import TemporalGeoDataModule
from torchgeo_geossl.evaluation import HeldOutSplit
from torchgeo_geossl.location import GeoClusters

SITES = {
    'ams': ('EPSG:32631', (630_000.0, 5_800_000.0)),
    'syd': ('EPSG:32756', (330_000.0, 6_250_000.0)),
    'fij': ('EPSG:32760', (700_000.0, 8_150_000.0)),
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for site, (crs, origin) in SITES.items():
        write_series(tmp_path, site=site, dates=monthly(6), crs=crs, origin=origin)
    return tmp_path


def make(root: Path, **kwargs: object) -> TemporalGeoDataModule:
    options: dict[str, object] = {
        'paths': str(root),
        'crs': 'EPSG:8857',
        'res': 10.0,
        'batch_size': 4,
        'patch_size': 16,
        'length': 8,
    }
    options.update(kwargs)
    return TemporalGeoDataModule(SeriesDataset, **options)  # type: ignore[arg-type]


def test_batch_contract(root: Path) -> None:
    dm = make(root, views=3, geo_clusters=2, std=1000.0)
    dm.setup('fit')
    batch = next(iter(dm.train_dataloader()))
    assert batch['image'].shape == (4, 3, 4, 16, 16)
    assert batch['point'].shape == (4, 2)
    assert batch['point'].dtype == torch.float64
    assert batch['time'].shape == (4, 3)
    assert batch['time'].dtype == torch.float64
    assert batch['label'].dtype == torch.long
    assert set(batch['label'].tolist()) <= {0, 1}
    # views of one location are distinct acquisitions
    assert all(len(set(row.tolist())) == 3 for row in batch['time'])
    assert isinstance(dm.geo_clusters, GeoClusters)

    raw = batch['image'].clone()
    out = dm.on_after_batch_transfer(batch, 0)
    torch.testing.assert_close(out['image'], raw / 1000.0)


def test_same_seed_same_batches(root: Path) -> None:
    def first_batch(seed: int) -> dict[str, Tensor]:
        dm = make(root, seed=seed)
        dm.setup('fit')
        return next(iter(dm.train_dataloader()))

    a, b, c = first_batch(1), first_batch(1), first_batch(2)
    assert torch.equal(a['image'], b['image'])
    assert torch.equal(a['time'], b['time'])
    assert not torch.equal(a['time'], c['time']) or not torch.equal(
        a['point'], c['point']
    )


def test_per_band_normalisation(root: Path) -> None:
    dm = make(root, mean=[1.0, 2.0, 3.0, 4.0], std=[2.0, 2.0, 2.0, 2.0], scale=4.0)
    image = torch.ones(2, 2, 4, 3, 3)
    out = dm.on_after_batch_transfer({'image': image}, 0)['image']
    # on device: divided by scale only
    assert out[0, 1, :, 0, 0].tolist() == [0.25] * 4
    # standardize on the rescaled image: the same as (x - mean) / std on raw
    standardized = dm.standardize(out)
    assert standardized[0, 1, :, 0, 0].tolist() == [0.0, -0.5, -1.0, -1.5]
    with pytest.raises(ValueError, match='give scale'):
        make(root, mean=[1.0, 2.0, 3.0, 4.0], std=2.0)


def test_out_of_scale_images_are_warned_about(root: Path) -> None:
    dm = make(root)  # mean 0, std 1: the raw values are the augmentation scale
    image = torch.full((2, 2, 4, 3, 3), 1000.0)
    image[0, 0, 0, 0, 0] = 0.5
    with pytest.warns(UserWarning, match=r'143 of 144 image values lie outside'):
        dm.on_after_batch_transfer({'image': image}, 0)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # the first batch only
        dm.on_after_batch_transfer({'image': image}, 0)
    fine = make(root)
    fine.on_after_batch_transfer({'image': torch.rand(2, 2, 4, 3, 3)}, 0)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # checked once, on the first batch
        fine.on_after_batch_transfer({'image': image}, 0)


def test_fitted_clusters_are_used(root: Path) -> None:
    clusters = GeoClusters(num_clusters=3, seed=0)
    clusters.fit(torch.tensor([[5.0, 52.0], [151.0, -33.9], [179.9, -16.6]]))
    dm = make(root, geo_clusters=clusters)
    dm.setup('fit')
    assert dm.geo_clusters is clusters
    batch = next(iter(dm.train_dataloader()))
    torch.testing.assert_close(batch['label'], clusters.predict(batch['point']))


def test_roi_that_selects_nothing(root: Path) -> None:
    dm = make(root, roi=shapely.box(0, 0, 1, 1))
    with pytest.raises(ValueError, match='roi .* selects nothing'):
        dm.setup('fit')


def test_negative_clusters() -> None:
    with pytest.raises(ValueError, match='geo_clusters'):
        TemporalGeoDataModule(SeriesDataset, geo_clusters=-1)


def test_min_gap_and_periods(root: Path) -> None:
    dm = make(root, views=2, min_gap='90D', distinct_periods='Q', length=16)
    dm.setup('fit')
    for batch in dm.train_dataloader():
        for t0, t1 in batch['time'].tolist():
            d0, d1 = (dt.datetime.fromtimestamp(t, dt.UTC) for t in (t0, t1))
            assert abs(t1 - t0) >= 90 * 86400
            assert (d0.month - 1) // 3 != (d1.month - 1) // 3 or d0.year != d1.year


class _CountingTask(LightningModule):
    """Consumes batches and checks that the data module normalised them."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.seen = 0

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        assert batch['image'].ndim == 5
        assert float(batch['image'].max()) < 10  # divided by scale
        self.seen += batch['image'].shape[0]
        return self.layer(batch['image'].mean().reshape(1, 1)).sum()

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        raise AssertionError('pre-training has no validation loader')

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_lightning_fit(root: Path, tmp_path: Path) -> None:
    dm = make(root, std=10_000.0)
    task = _CountingTask()
    trainer = Trainer(
        max_epochs=1,
        accelerator='cpu',
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=dm)
    assert task.seen == 8


def test_files_without_crs(root: Path) -> None:
    no_crs = root / 'nocrs'
    write_series(no_crs, site='bad', dates=monthly(2), crs=None)  # type: ignore[arg-type]
    dm = TemporalGeoDataModule(SeriesDataset, paths=str(no_crs), patch_size=8)
    with pytest.raises(ValueError, match=r'2 file\(s\) have no CRS .*bad_20210115.tif'):
        dm.setup('fit')


def test_nodata_option(root: Path) -> None:
    # The files and SeriesDataset declare 0; a value given to the data module wins.
    default = make(root)
    default.setup('fit')
    assert default.train_dataset.nodata == 0
    given = make(root, nodata=-9999)
    given.setup('fit')
    assert given.train_dataset.nodata == -9999


VECTOR = Path(__file__).resolve().parents[1] / 'data' / 'vector'
DEMO = Path(__file__).resolve().parents[1] / 'data' / 'demo'


def roi_config(tmp_path: Path) -> Path:
    """A YAML config of the demo fixture with ``roi:`` a vector file."""
    config = tmp_path / 'roi.yaml'
    config.write_text(
        f"""
model:
  class_path: torchgeo_geossl.trainers.GeoMoCoTask
  init_args: {{model: resnet18, in_channels: 4, geo_classes: 0, queue_size: 64, size: 16}}
data:
  class_path: torchgeo_geossl.datamodules.TemporalGeoDataModule
  init_args:
    dataset_class: torchgeo_geossl.datasets.DemoTimeSeries
    batch_size: 2
    patch_size: 8
    length: 16
    std: 10000.0
    roi: {VECTOR / 'beauce.geojson'}
  dict_kwargs:
    paths: {DEMO}
    crs: EPSG:8857
"""
    )
    return config


def test_roi_vector_file_from_yaml(tmp_path: Path) -> None:
    cli = LightningCLI(
        model_class=BaseTask,
        datamodule_class=BaseDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        run=False,
        args=['--config', str(roi_config(tmp_path))],
    )
    dm = cli.datamodule
    assert isinstance(dm, TemporalGeoDataModule)
    dm.setup('fit')
    # patch centres, back in longitude/latitude: all at the one demo site inside
    # beauce.geojson (lon 1.595-1.605, lat 48.295-48.305), none at the 9 others
    to_lonlat = Transformer.from_crs('EPSG:8857', 'EPSG:4326', always_xy=True)
    queries = list(dm.train_sampler)
    assert len(queries) == 16
    for query in queries:
        x, y = query[0], query[1]
        lon, lat = to_lonlat.transform((x.start + x.stop) / 2, (y.start + y.stop) / 2)
        assert 1.595 < lon < 1.605
        assert 48.295 < lat < 48.305


@pytest.mark.slow
def test_roi_vector_file_with_torchgeo_fit(tmp_path: Path) -> None:
    torchgeo_main([
        'fit', '--config', str(roi_config(tmp_path)), '--trainer.fast_dev_run=1',
        '--trainer.accelerator=cpu', f'--trainer.default_root_dir={tmp_path}',
    ])  # fmt: skip


def test_predict_serves_every_patch_at_every_date(tmp_path: Path) -> None:
    dates = monthly(3)
    write_series(tmp_path, site='ams', dates=dates, crs='EPSG:32631')
    dm = TemporalGeoDataModule(
        SeriesDataset, paths=str(tmp_path), batch_size=5, patch_size=8
    )
    dm.setup('predict')
    batches = list(dm.predict_dataloader())
    points = torch.cat([b['point'] for b in batches]).numpy()
    times = torch.cat([b['time'] for b in batches])
    images = torch.cat([b['image'] for b in batches])
    # 32 x 32 px tiles at 10 m: 4 x 4 patches of 8 px, at each of 3 dates
    assert images.shape == (48, 1, 4, 8, 8)
    assert times.shape == (48, 1)
    # each patch is read at the date its time says (pixel values encode the date)
    for image, time in zip(images, times[:, 0].tolist(), strict=True):
        date = dt.datetime.fromtimestamp(time, dt.UTC).date()
        assert date in dates
        for band in range(4):
            assert int(image[0, band, 0, 0]) == pixel_value(date, band)
    # the 16 patch centres, from the GeoTIFF origin (500000, 5700000) with pyproj
    xs = 500_000 + 40 + 80 * np.arange(4)
    ys = 5_700_000 - 320 + 40 + 80 * np.arange(4)
    grid_x, grid_y = np.meshgrid(xs, ys)
    to_lonlat = pyproj.Transformer.from_crs(32631, 4326, always_xy=True)
    lon, lat = to_lonlat.transform(grid_x.ravel(), grid_y.ravel())
    expected = sorted(zip(np.round(lon, 9), np.round(lat, 9), strict=True))
    found = sorted({(round(x, 9), round(y, 9)) for x, y in points.tolist()})
    assert found == expected
    assert len(points) == 3 * len(found)


def test_predict_reads_reprojected_files(root: Path) -> None:
    dm = make(root, patch_size=8)
    dm.setup('predict')
    # 3 sites of 32 x 32 px in UTM warped to Equal Earth: every patch is readable
    samples = sum(len(b['image']) for b in dm.predict_dataloader())
    assert 0 < samples <= len(dm.predict_grid)


def test_held_out_places_have_two_views_for_one_view_training(root: Path) -> None:
    dm = make(
        root,
        views=1,
        holdout=HeldOutSplit(cell_size=160.0, val_fraction=0.3, test_fraction=0.3),
        patch_size=8,
    )
    dm.setup('validate')
    batch = next(iter(dm.val_dataloader()))
    assert batch['image'].shape[1] == 2
    assert (batch['time'][:, 0] != batch['time'][:, 1]).all()

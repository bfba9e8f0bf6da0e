import warnings
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningCLI
from torchgeo.datamodules import BaseDataModule
from torchgeo.main import main as torchgeo_main
from torchgeo.tasks import BaseTask

from torchgeo_geossl.datamodules.fmow import (
    IMAGENET_MEAN_255,
    IMAGENET_STD_255,
    FMoWDataModule,
)
from torchgeo_geossl.location import GeoClusters
from torchgeo_geossl.trainers import GeoMoCoTask

FIXTURE = Path(__file__).resolve().parents[1] / 'data' / 'fmow'
CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / 'gassl'
#: The four rows of GASSL's Table 1 on fMoW: (config, temporal, geo_classes, views).
TABLE1 = [
    ('fmow_moco_v2', False, 0, 1),
    ('fmow_moco_v2_geo', False, 100, 1),
    ('fmow_moco_v2_tp', True, 0, 2),
    ('fmow_tp_geo', True, 100, 2),
]

pytestmark = pytest.mark.filterwarnings('ignore:.*fewer than views=:UserWarning')


def setup_fit(**kwargs: object) -> FMoWDataModule:
    kwargs = {'root': FIXTURE, 'batch_size': 2, 'size': 32, **kwargs}
    dm = FMoWDataModule(**kwargs)  # type: ignore[arg-type]
    dm.setup('fit')
    return dm


def test_batches_follow_the_contract_and_are_normalised() -> None:
    dm = setup_fit(geo_clusters=2)
    torch.manual_seed(0)
    batch = next(iter(dm.train_dataloader()))
    assert batch['image'].shape == (2, 2, 3, 32, 32)
    assert batch['time'].shape == (2, 2)
    assert batch['time'].dtype == torch.float64
    assert batch['point'].shape == (2, 2)
    assert batch['point'].dtype == torch.float64
    assert batch['label'].shape == (2,)
    assert batch['label'].dtype == torch.long
    raw = batch['image'].clone()
    out = dm.on_after_batch_transfer(batch, 0)
    # on device: ToTensor()'s division by 255, the augmentation scale
    torch.testing.assert_close(out['image'], raw / 255)
    # the task's last step: ImageNet's Normalize on [0, 1]
    imagenet_mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 1, 3, 1, 1)
    imagenet_std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 1, 3, 1, 1)
    torch.testing.assert_close(
        dm.standardize(out['image']), (raw / 255 - imagenet_mean) / imagenet_std
    )
    # raw-unit statistics, as exported: 255 × ImageNet's
    torch.testing.assert_close(dm.mean, torch.tensor(IMAGENET_MEAN_255))
    torch.testing.assert_close(dm.std, torch.tensor(IMAGENET_STD_255))


def test_training_set_and_the_official_validation_split() -> None:
    dm = setup_fit(geo_clusters=None)
    assert dm.train_dataset is not None
    # an epoch passes over the 14 images of the 5 served sites (crop_field_1 has
    # one image: skipped), as the GASSL reference code
    assert len(dm.train_dataset) == 14
    # fit validates on fMoW's own val split (the places of validation curves)
    assert dm.val_dataset is not None
    assert dm.val_dataset.split == 'val'  # type: ignore[attr-defined]
    assert len(dm.val_dataloader().dataset) == 2
    assert dm.geo_clusters is None
    repeat = setup_fit(geo_clusters=None, insufficient='repeat', views=3)
    assert len(repeat.train_dataset) == 15  # type: ignore[arg-type]
    sites = setup_fit(geo_clusters=None, epoch='site')
    assert len(sites.train_dataset) == 5  # type: ignore[arg-type]


def test_geo_clusters_are_fitted_on_site_points() -> None:
    dm = setup_fit(geo_clusters=3, seed=1)
    clusters = dm.geo_clusters
    assert isinstance(clusters, GeoClusters)
    assert clusters.num_clusters == 3
    points = dm.train_dataset.site_points()  # type: ignore[union-attr]
    labels = clusters.predict(points)
    assert set(labels.tolist()) == {0, 1, 2}
    # fit with the data module's seed: the same clusters again
    again = setup_fit(geo_clusters=3, seed=1).geo_clusters
    assert again is not None
    assert torch.equal(again.centroids, clusters.centroids)
    fitted = GeoClusters(2).fit(points)
    assert setup_fit(geo_clusters=fitted).geo_clusters is fitted


def test_invalid_geo_clusters() -> None:
    with pytest.raises(ValueError, match='geo_clusters must be a positive number'):
        FMoWDataModule(root=FIXTURE, geo_clusters=-1)


def trainer(root: Path) -> Trainer:
    return Trainer(
        fast_dev_run=1,
        accelerator='cpu',
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
    )


def test_gassl_task_takes_the_clusters_and_trains(tmp_path: Path) -> None:
    dm = FMoWDataModule(root=FIXTURE, batch_size=2, size=16, geo_clusters=2)
    task = GeoMoCoTask(model='resnet18', size=16, queue_size=8, geo_classes=2)
    seen: list[torch.Tensor] = []
    geo_labels = task.geo_labels

    def spy(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        seen.append(geo_labels(batch))
        return seen[-1]

    task.geo_labels = spy  # type: ignore[method-assign]
    trainer(tmp_path).fit(task, datamodule=dm)
    assert dm.geo_clusters is not None
    assert task.geo_clusters is dm.geo_clusters
    # geo targets are the clusters of the sites' points, not the categories
    assert len(seen) == 1
    assert set(seen[0].tolist()) <= {0, 1}


def test_geo_head_without_clusters_is_refused(tmp_path: Path) -> None:
    dm = FMoWDataModule(root=FIXTURE, batch_size=2, size=16, geo_clusters=None)
    task = GeoMoCoTask(model='resnet18', size=16, queue_size=8, geo_classes=62)
    with pytest.raises(
        ValueError, match='label is the fMoW category, not a geo-cluster'
    ):
        trainer(tmp_path).fit(task, datamodule=dm)


@pytest.mark.parametrize(('name', 'temporal', 'geo_classes', 'views'), TABLE1)
def test_fmow_config_has_the_paper_settings(
    name: str, temporal: bool, geo_classes: int, views: int
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        cli = LightningCLI(
            model_class=BaseTask,
            datamodule_class=BaseDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            run=False,
            args=['--config', str(CONFIGS / f'{name}.yaml')],
        )
    task, data = cli.model, cli.datamodule
    assert isinstance(task, GeoMoCoTask)
    assert isinstance(data, FMoWDataModule)
    assert task.hparams['model'] == 'resnet50'
    assert task.hparams['temporal'] is temporal
    assert task.hparams['geo_classes'] == geo_classes
    assert data.num_geo_clusters == geo_classes
    assert task.queue.negatives.shape == (65_536, 128)
    assert task.hparams['temperature'] == 0.02
    assert task.hparams['moco_momentum'] == 0.999
    assert task.hparams['lr'] == 0.03
    assert task.hparams['lr_batch_size'] == 256
    assert task.hparams['schedule'] == 'cosine'
    assert task.hparams['size'] == 224
    assert cli.trainer.max_epochs == 200
    assert data.kwargs['root'] == 'data/fmow'
    assert data.kwargs['views'] == views
    assert data.kwargs['epoch'] == 'image'  # the reference iterates images


@pytest.mark.parametrize(('name', 'temporal', 'geo_classes', 'views'), TABLE1)
def test_fmow_config_runs_with_the_torchgeo_cli(
    name: str,
    temporal: bool,
    geo_classes: int,
    views: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # the config's outputs/ go there
    geo = (
        ['--model.init_args.geo_classes=2', '--data.init_args.geo_clusters=2']
        if geo_classes
        else []
    )
    torchgeo_main(
        [
            'fit',
            '--config',
            str(CONFIGS / f'{name}.yaml'),
            '--trainer.fast_dev_run=1',
            '--trainer.accelerator=cpu',
            f'--trainer.default_root_dir={tmp_path}',
            '--model.init_args.model=resnet18',
            '--model.init_args.size=24',
            '--model.init_args.queue_size=64',
            f'--data.init_args.root={FIXTURE}',
            '--data.init_args.size=32',
            '--data.init_args.batch_size=2',
            '--data.init_args.num_workers=0',
            *geo,
        ]
    )


def test_validate_and_test_use_the_official_val_sites() -> None:
    dm = FMoWDataModule(root=FIXTURE, batch_size=2, size=16, views=1, seed=3)
    dm.setup('validate')
    dm.setup('test')
    val_sites = sorted(p.name for p in FIXTURE.glob('val/*/*') if p.is_dir())
    for dataset in (dm.val_dataset, dm.test_dataset):
        assert sorted(s.name for s in dataset.sites) == val_sites
        assert len(dataset) == len(val_sites)  # one sample per site
    first = next(iter(dm.val_dataloader()))
    assert first['image'].shape[1] == 2  # place recognition needs two images
    again = next(iter(dm.val_dataloader()))
    torch.testing.assert_close(first['time'], again['time'])  # the same each epoch


def test_predict_serves_every_image_once() -> None:
    dm = FMoWDataModule(root=FIXTURE, batch_size=2, size=16)
    dm.setup('predict')
    images = sorted(FIXTURE.glob('*/*/*/*_rgb.jpg'))
    assert len(dm.predict_dataset) == len(images)
    batch = next(iter(dm.predict_dataloader()))
    assert batch['image'].shape == (2, 1, 3, 16, 16)
    assert batch['time'].shape == (2, 1)

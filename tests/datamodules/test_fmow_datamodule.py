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
CONFIG = Path(__file__).resolve().parents[2] / 'configs' / 'gassl' / 'fmow_tp_geo.yaml'

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


def test_training_set_and_no_validation() -> None:
    dm = setup_fit(geo_clusters=None)
    assert dm.train_dataset is not None
    assert len(dm.train_dataset) == 5  # crop_field_1 has one image: skipped
    assert dm.val_dataloader() == []
    assert dm.geo_clusters is None
    repeat = setup_fit(geo_clusters=None, insufficient='repeat', views=3)
    assert len(repeat.train_dataset) == 6  # type: ignore[arg-type]


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


def test_fmow_config_has_the_paper_settings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        cli = LightningCLI(
            model_class=BaseTask,
            datamodule_class=BaseDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            run=False,
            args=['--config', str(CONFIG)],
        )
    task, data = cli.model, cli.datamodule
    assert isinstance(task, GeoMoCoTask)
    assert isinstance(data, FMoWDataModule)
    assert task.hparams['model'] == 'resnet50'
    assert task.hparams['temporal'] is True
    assert task.hparams['geo_classes'] == 100
    assert data.num_geo_clusters == 100
    assert task.queue.negatives.shape == (65_536, 128)
    assert task.hparams['temperature'] == 0.02
    assert task.hparams['moco_momentum'] == 0.999
    assert task.hparams['lr'] == 0.03
    assert task.hparams['lr_batch_size'] == 256
    assert task.hparams['schedule'] == 'cosine'
    assert task.hparams['size'] == 224
    assert cli.trainer.max_epochs == 200
    assert data.kwargs['root'] == 'data/fmow'
    assert data.kwargs['views'] == 2


def test_fmow_config_runs_with_the_torchgeo_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the config's outputs/ go there
    torchgeo_main(
        [
            'fit',
            '--config',
            str(CONFIG),
            '--trainer.fast_dev_run=1',
            '--trainer.accelerator=cpu',
            f'--trainer.default_root_dir={tmp_path}',
            '--model.init_args.model=resnet18',
            '--model.init_args.size=24',
            '--model.init_args.queue_size=64',
            '--model.init_args.geo_classes=2',
            f'--data.init_args.root={FIXTURE}',
            '--data.init_args.size=32',
            '--data.init_args.batch_size=2',
            '--data.init_args.num_workers=0',
            '--data.init_args.geo_clusters=2',
        ]
    )

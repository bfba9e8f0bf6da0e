"""Callbacks: LogSampledViews (figures of the first batch) and LoadPretrainedBackbone."""

import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import yaml
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.logger import DummyLogger
from matplotlib.figure import Figure
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import Tensor, nn
from torchgeo.main import main as torchgeo_main
from torchgeo.tasks import (
    ChangeDetection,
    Classification,
    InstanceSegmentation,
    ObjectDetection,
    Regression,
    SemanticSegmentation,
)

from torchgeo_geossl.callbacks import (
    GeoParquetWriter,
    LoadPretrainedBackbone,
    LogSampledViews,
)
from torchgeo_geossl.datamodules import OSCDChangeDataModule
from torchgeo_geossl.export import export_backbone

ROOT = Path(__file__).resolve().parents[1]
OSCD_FIXTURE = ROOT / 'tests' / 'data' / 'oscd'
OSCD_CONFIG = ROOT / 'configs' / 'seco' / 'oscd_change_detection.yaml'
OSCD_BANDS = ['B04', 'B03', 'B02', 'B08']  # red, green, blue, nir: the fixture's


def encoder_of(path: Path) -> dict[str, Tensor]:
    """The pre-trained encoder's tensors, read with plain torch."""
    checkpoint = torch.load(path, map_location='cpu', weights_only=False)
    return {
        k[len('model.') :]: v
        for k, v in checkpoint['state_dict'].items()
        if k.startswith('model.')
    }


TASKS: dict[str, tuple[Callable[[], LightningModule], Callable[[nn.Module], nn.Module]]]
TASKS = {
    'classification': (
        lambda: Classification(model='resnet18', in_channels=4, num_classes=3),
        lambda t: t.model,
    ),
    'regression': (
        lambda: Regression(model='resnet18', in_channels=4),
        lambda t: t.model,
    ),
    'semantic_segmentation': (
        lambda: SemanticSegmentation(
            model='unet', backbone='resnet18', in_channels=4, num_classes=3
        ),
        lambda t: t.model.encoder,
    ),
    'object_detection': (
        lambda: ObjectDetection(
            model='faster-rcnn', backbone='resnet18', in_channels=4, num_classes=2
        ),
        lambda t: t.model.backbone.body,
    ),
    'change_detection_fcsiamdiff': (
        lambda: ChangeDetection(model='fcsiamdiff', backbone='resnet18', in_channels=4),
        lambda t: t.model.encoder,
    ),
    'change_detection_fcsiamconc': (
        lambda: ChangeDetection(model='fcsiamconc', backbone='resnet18', in_channels=4),
        lambda t: t.model.encoder,
    ),
}


def check_loaded(backbone: nn.Module, encoder: dict[str, Tensor]) -> int:
    """Every encoder tensor the backbone has equals the source; returns how many."""
    own = backbone.state_dict()
    compared = 0
    for name, value in encoder.items():
        if name.endswith('num_batches_tracked') and name not in own:
            continue  # torchvision's FrozenBatchNorm2d has no step counter
        assert torch.equal(own[name], value), name
        compared += 1
    return compared


def run_setup(task: LightningModule, callback: LoadPretrainedBackbone) -> None:
    trainer = Trainer(accelerator='cpu', logger=False, enable_progress_bar=False)
    callback.setup(trainer, task, 'fit')


@pytest.mark.parametrize('name', sorted(TASKS))
def test_loads_into_every_task(
    name: str, pretrained: Callable[[str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    path = pretrained('resnet18')
    encoder = encoder_of(path)
    build, backbone_of = TASKS[name]
    task = build()
    assert not torch.equal(backbone_of(task).conv1.weight, encoder['conv1.weight'])
    with caplog.at_level(logging.INFO):
        run_setup(task, LoadPretrainedBackbone(checkpoint=path))
    compared = check_loaded(backbone_of(task), encoder)
    assert compared >= 100  # 100 tensors of a ResNet-18 without step counters
    assert f'loaded {compared} tensors of resnet18' in caplog.text


def test_loads_the_exported_file(
    pretrained: Callable[[str], Path], tmp_path: Path
) -> None:
    path = pretrained('resnet18')
    weights, _ = export_backbone(path, tmp_path)
    task = ChangeDetection(model='fcsiamdiff', backbone='resnet18', in_channels=4)
    run_setup(task, LoadPretrainedBackbone(checkpoint=weights))
    assert check_loaded(task.model.encoder, encoder_of(path)) == 120


@pytest.mark.slow
def test_loads_into_instance_segmentation(pretrained: Callable[[str], Path]) -> None:
    path = pretrained('resnet50')  # TorchGeo's Mask R-CNN takes only a ResNet-50
    task = InstanceSegmentation(backbone='resnet50', in_channels=4, num_classes=2)
    run_setup(task, LoadPretrainedBackbone(checkpoint=path))
    # every tensor of the ResNet-50 (its BatchNorm here counts steps too)
    assert check_loaded(task.model.backbone.body, encoder_of(path)) == 318


def test_loads_once_per_task(pretrained: Callable[[str], Path]) -> None:
    callback = LoadPretrainedBackbone(checkpoint=pretrained('resnet18'))
    task = Classification(model='resnet18', in_channels=4, num_classes=3)
    run_setup(task, callback)
    with torch.no_grad():
        task.model.conv1.weight.fill_(0.5)  # fine-tuned
    run_setup(task, callback)  # e.g. trainer.test after trainer.fit
    assert bool((task.model.conv1.weight == 0.5).all())


@pytest.mark.parametrize(
    ('task', 'match'),
    [
        (
            lambda: Classification(model='resnet18', in_channels=3, num_classes=3),
            (
                r'takes 4 input channels \(bands \[.red., .green., .blue., .nir.\]\), '
                r'the backbone Classification.model takes 3: set in_channels=4'
            ),
        ),
        (
            lambda: SemanticSegmentation(
                model='unet', backbone='resnet34', in_channels=4, num_classes=3
            ),
            (
                r'is not the architecture of the encoder .* the backbone has 80 '
                r'tensors that the encoder lacks'
            ),
        ),
        (
            lambda: Classification(model='resnet50', in_channels=4, num_classes=3),
            r'is not the architecture of the encoder .* shapes differ',
        ),
        (
            lambda: ChangeDetection(model='unet', backbone='resnet18', in_channels=4),
            r'takes 4 input channels .* takes 8',  # unet: dates concatenated
        ),
        (
            lambda: ChangeDetection(model='fcn', in_channels=4),
            r'no tensor of the encoder .* matches a parameter name',
        ),
    ],
    ids=['channels', 'deeper', 'wider', 'concatenated_dates', 'no_backbone'],
)
def test_refuses_another_architecture(
    task: Callable[[], LightningModule], match: str, pretrained: Callable[[str], Path]
) -> None:
    with pytest.raises(ValueError, match=match):
        run_setup(task(), LoadPretrainedBackbone(checkpoint=pretrained('resnet18')))


def test_normalize_replaces_the_datamodule_aug(
    pretrained: Callable[[str], Path],
) -> None:
    datamodule = OSCDChangeDataModule(
        root=str(OSCD_FIXTURE), bands=OSCD_BANDS, patch_size=32
    )
    trainer = Trainer(accelerator='cpu', logger=False, enable_progress_bar=False)
    trainer.datamodule = datamodule  # type: ignore[misc]
    task = ChangeDetection(model='fcsiamdiff', backbone='resnet18', in_channels=4)
    LoadPretrainedBackbone(checkpoint=pretrained('resnet18'), normalize=True).setup(
        trainer, task, 'fit'
    )
    image = torch.arange(2 * 2 * 4 * 3 * 3, dtype=torch.float32).reshape(2, 2, 4, 3, 3)
    out = datamodule.aug({'image': image.clone()})
    # the demo data module's pre-training: (x - 0) / 10000, no clip
    torch.testing.assert_close(out['image'], image / 10000)


def test_normalize_needs_a_plain_aug(pretrained: Callable[[str], Path]) -> None:
    datamodule = OSCDChangeDataModule(root=str(OSCD_FIXTURE))
    datamodule.train_aug = datamodule.aug
    trainer = Trainer(accelerator='cpu', logger=False, enable_progress_bar=False)
    trainer.datamodule = datamodule  # type: ignore[misc]
    task = ChangeDetection(model='fcsiamdiff', backbone='resnet18', in_channels=4)
    callback = LoadPretrainedBackbone(checkpoint=pretrained('resnet18'), normalize=True)
    with pytest.raises(ValueError, match='has train_aug, which may hold other'):
        callback.setup(trainer, task, 'fit')


def oscd_config(tmp_path: Path, checkpoint: Path, root: Path) -> Path:
    """The documented OSCD config, pointed at a checkpoint and data, small."""
    config = yaml.safe_load(OSCD_CONFIG.read_text())
    for callback in config['trainer']['callbacks']:
        if callback['class_path'].endswith('LoadPretrainedBackbone'):
            callback['init_args']['checkpoint'] = str(checkpoint)
        if callback['class_path'].endswith('ModelCheckpoint'):
            callback['init_args']['dirpath'] = str(tmp_path / 'checkpoints')
    for logger in config['trainer']['logger']:
        logger['init_args']['save_dir'] = str(tmp_path / 'logs')
    config['trainer']['default_root_dir'] = str(tmp_path)
    config['trainer'].update(max_epochs=1, limit_val_batches=1, num_sanity_val_steps=0)
    config['model']['init_args']['in_channels'] = len(OSCD_BANDS)
    config['data']['dict_kwargs'].update(root=str(root), bands=OSCD_BANDS)
    config['data']['init_args'].update(
        patch_size=32, batch_size=2, num_workers=0, val_split_pct=1 / 3
    )
    path = tmp_path / 'oscd.yaml'
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.slow
def test_oscd_config_with_the_torchgeo_cli(
    pretrained: Callable[[str], Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = oscd_config(tmp_path, pretrained('resnet18'), OSCD_FIXTURE)
    with caplog.at_level(logging.INFO):
        torchgeo_main(['fit', '--config', str(config)])
    assert 'loaded 120 tensors of resnet18 (GASSL)' in caplog.text
    assert 'into model.encoder' in caplog.text
    tuned = torch.load(tmp_path / 'checkpoints' / 'last.ckpt', weights_only=False)
    assert any(k.startswith('model.encoder.layer4') for k in tuned['state_dict'])
    assert 'OSCDChangeDataModule now normalises as in pre-training' in caplog.text
    # the TensorBoard logger of the config got the figure of the validation batch
    (events,) = (tmp_path / 'logs' / 'tensorboard').rglob('events.out.tfevents.*')
    accumulator = EventAccumulator(str(events.parent), size_guidance={'images': 0})
    accumulator.Reload()
    assert accumulator.Tags()['images'] == ['image/0']


@pytest.mark.slow
def test_oscd_config_on_real_oscd_images(
    shared_data: Path,
    pretrained: Callable[[str], Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The real Sentinel-2 pairs of four OSCD cities in TorchGeo's OSCD layout.

    ``../shared`` has OSCD's images but not its change maps (licensed for
    non-commercial use only): the maps here are all zero, so this checks that the
    config reads, normalises and trains on real images, not what it learns.
    """
    source = shared_data / 'oscd-s2-bitemporal'
    root = tmp_path / 'oscd'
    images = root / 'Onera Satellite Change Detection dataset - Images'
    cities = ('aguasclaras', 'bercy', 'paris', 'norcia')
    for city in cities:
        split = 'Test' if city == 'norcia' else 'Train'
        for date in (1, 2):
            (images / city / f'imgs_{date}_rect').mkdir(parents=True)
            for band in sorted((source / city / f'imgs_{date}').glob('*.tif')):
                os.symlink(band, images / city / f'imgs_{date}_rect' / band.name)
        shutil.copy(source / city / 'dates.txt', images / city / 'dates.txt')
        first = next((source / city / 'imgs_1').glob('*_B02.tif'))
        with Image.open(first) as band:
            width, height = band.size
        labels = root / f'Onera Satellite Change Detection dataset - {split} Labels'
        (labels / city / 'cm').mkdir(parents=True)
        Image.fromarray(np.zeros((height, width), dtype=np.uint8)).save(
            labels / city / 'cm' / 'cm.png'
        )
    config = oscd_config(tmp_path, pretrained('resnet18'), root)
    with caplog.at_level(logging.INFO):
        torchgeo_main(['fit', '--config', str(config)])
    assert 'loaded 120 tensors of resnet18 (GASSL)' in caplog.text
    assert (tmp_path / 'checkpoints' / 'last.ckpt').is_file()


class Writer:
    """Stands for a SummaryWriter: records add_figure calls."""

    def __init__(self) -> None:
        """Start with no calls."""
        self.calls: list[tuple[str, list[Figure], int]] = []

    def add_figure(
        self, tag: str, figure: list[Figure], global_step: int, close: bool
    ) -> None:
        """Record a call."""
        self.calls.append((tag, figure, global_step))


class Plots:
    """Stands for a data module: records the samples it plots."""

    def __init__(self) -> None:
        """Start with no samples."""
        self.samples: list[dict[str, Any]] = []

    def plot(self, sample: dict[str, Any], suptitle: str) -> Figure:
        """Record the sample; return an empty figure."""
        self.samples.append(sample)
        return plt.figure()


def batch(b: int = 6) -> dict[str, torch.Tensor]:
    return {
        'image': torch.arange(b, dtype=torch.float32).reshape(b, 1, 1, 1, 1),
        'skipped': torch.zeros(b, dtype=torch.int64),
    }


def trainer(loggers: list[Any], datamodule: Any) -> Any:
    return SimpleNamespace(
        loggers=loggers, datamodule=datamodule, is_global_zero=True, global_step=7
    )


def test_logs_the_first_batch_once() -> None:
    writer, data = Writer(), Plots()
    logger = SimpleNamespace(experiment=writer)
    callback = LogSampledViews(samples=4)
    for i in range(2):
        callback.on_train_batch_start(
            trainer([logger], data),
            None,  # type: ignore[arg-type]
            batch(),
            i,
        )
    ((tag, figures, step),) = writer.calls
    assert tag == 'train_views'
    assert len(figures) == 4
    assert step == 7
    # the first four samples of the batch, one by one (torchgeo's unbind_samples)
    assert [float(s['image'].flatten()[0]) for s in data.samples] == [0, 1, 2, 3]


def test_loggers_without_figures_are_passed_over(tmp_path: Path) -> None:
    data = Plots()
    callback = LogSampledViews()
    loggers = [CSVLogger(tmp_path), DummyLogger()]
    callback.on_train_batch_start(trainer(loggers, data), None, batch(), 0)  # type: ignore[arg-type]
    assert data.samples == []  # nothing drawn


def test_samples_must_be_positive() -> None:
    with pytest.raises(ValueError, match='samples must be at least 1, got 0'):
        LogSampledViews(samples=0)


def test_geoparquet_writer_writes_dict_columns(tmp_path: Path) -> None:
    writer = GeoParquetWriter(output=tmp_path / 'prior.parquet')
    trainer = SimpleNamespace(world_size=1, global_rank=0, default_root_dir=tmp_path)
    task = LightningModule()
    writer.on_predict_epoch_start(trainer, task)  # type: ignore[arg-type]
    for start in (0, 2):
        batch = {'point': torch.tensor([[10.0 + start, 20.0], [11.0 + start, -5.0]])}
        columns = {
            'probability': torch.tensor([[0.25, 0.5], [0.75, 0.125]]) + start,
            'label': torch.tensor([1, 0]) + start,
            'name': [['a', 'b'], ['c']],
        }
        writer.write_on_batch_end(trainer, task, columns, None, batch, start, 0)  # type: ignore[arg-type]
    writer.on_predict_epoch_end(trainer, task)  # type: ignore[arg-type]
    frame = geopandas.read_parquet(tmp_path / 'prior.parquet')
    assert list(frame.columns) == ['probability', 'label', 'name', 'geometry']
    assert frame.geometry.x.tolist() == [10.0, 11.0, 12.0, 13.0]
    assert frame.geometry.y.tolist() == [20.0, -5.0, 20.0, -5.0]
    assert frame['label'].tolist() == [1, 0, 3, 2]
    assert frame['label'].dtype == np.int64
    probability = np.stack(frame['probability'].to_numpy())
    assert probability.dtype == np.float32
    np.testing.assert_array_equal(
        probability, [[0.25, 0.5], [0.75, 0.125], [2.25, 2.5], [2.75, 2.125]]
    )
    assert [list(n) for n in frame['name']] == [['a', 'b'], ['c']] * 2


@pytest.mark.parametrize(
    ('columns', 'error', 'match'),
    [
        ({'time': torch.zeros(2)}, ValueError, "fills the column 'time' itself"),
        ({'p': torch.zeros(3)}, ValueError, "3 values of 'p' for a batch of 2"),
        ({'p': torch.zeros(2, 1, 1)}, ValueError, r"'p' must be \[B\] or \[B, n\]"),
        ({'p': 0.5}, TypeError, "'p' must be a tensor or a sequence"),
        (torch.zeros(2), ValueError, r'must return a tensor \[B, d\]'),
        ({}, ValueError, 'a dict of per-sample columns, got dict'),
    ],
)
def test_geoparquet_writer_refuses_bad_columns(
    columns: Any, error: type[Exception], match: str, tmp_path: Path
) -> None:
    writer = GeoParquetWriter(output=tmp_path / 'x.parquet')
    trainer = SimpleNamespace(world_size=1, global_rank=0, default_root_dir=tmp_path)
    task = LightningModule()
    writer.on_predict_epoch_start(trainer, task)  # type: ignore[arg-type]
    batch = {'point': torch.zeros(2, 2)}
    with pytest.raises(error, match=match):
        writer.write_on_batch_end(trainer, task, columns, None, batch, 0, 0)  # type: ignore[arg-type]


def test_geoparquet_writer_refuses_other_columns_later(tmp_path: Path) -> None:
    writer = GeoParquetWriter(output=tmp_path / 'x.parquet')
    trainer = SimpleNamespace(world_size=1, global_rank=0, default_root_dir=tmp_path)
    task = LightningModule()
    writer.on_predict_epoch_start(trainer, task)  # type: ignore[arg-type]
    batch = {'point': torch.zeros(2, 2)}
    writer.write_on_batch_end(trainer, task, {'a': torch.zeros(2)}, None, batch, 0, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"columns \['b'\] for batch 1, but \['a'\]"):
        writer.write_on_batch_end(
            trainer, task, {'b': torch.zeros(2)}, None, batch, 1, 0
        )  # type: ignore[arg-type]

import json
from pathlib import Path

import pytest
import timm
import torch
from lightning.pytorch import Trainer
from torchgeo.tasks import Classification, ObjectDetection, SemanticSegmentation

from torchgeo_geossl.datamodules import DemoDataModule
from torchgeo_geossl.export import (
    export_backbone,
    load_backbone,
    load_into_object_detection,
    main,
)
from torchgeo_geossl.trainers import GeoMoCoTask


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeoMoCoTask, Path]:
    tmp = tmp_path_factory.mktemp('export')
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
        model='resnet18', in_channels=4, size=16, queue_size=16, geo_classes=3
    )
    trainer = Trainer(
        max_epochs=1,
        accelerator='cpu',
        logger=False,
        enable_progress_bar=False,
        default_root_dir=tmp,
    )
    trainer.fit(task, datamodule=datamodule)
    path = tmp / 'gassl.ckpt'
    trainer.save_checkpoint(path)
    return task, path


def test_classification_loads_the_checkpoint(
    checkpoint: tuple[GeoMoCoTask, Path],
) -> None:
    task, path = checkpoint
    clf = Classification(
        model='resnet18', weights=str(path), in_channels=4, num_classes=10
    )
    for name, value in task.model.state_dict().items():
        assert torch.equal(clf.model.state_dict()[name], value), name


@pytest.mark.parametrize('model', ['unet', 'deeplabv3+'])
def test_segmentation_loads_the_checkpoint(
    checkpoint: tuple[GeoMoCoTask, Path], model: str
) -> None:
    task, path = checkpoint
    seg = SemanticSegmentation(
        model=model,
        backbone='resnet18',
        weights=str(path),
        in_channels=4,
        num_classes=3,
    )
    encoder = seg.model.encoder.state_dict()
    own = task.model.state_dict()
    shared = [k for k in own if k in encoder]
    assert len(shared) == len(own)
    for name in shared:
        assert torch.equal(encoder[name], own[name]), name


def test_object_detection_helper(checkpoint: tuple[GeoMoCoTask, Path]) -> None:
    task, path = checkpoint
    det = ObjectDetection(
        model='faster-rcnn', backbone='resnet18', in_channels=4, num_classes=2
    )
    load_into_object_detection(det, path)
    body = det.model.backbone.body.state_dict()
    for name, value in task.model.state_dict().items():
        if name in body:
            assert torch.equal(body[name], value), name
    wrong = ObjectDetection(
        model='faster-rcnn', backbone='resnet50', in_channels=4, num_classes=2
    )
    with pytest.raises(ValueError, match='does not match the checkpoint encoder'):
        load_into_object_detection(wrong, path)


def test_export_writes_timm_weights_and_metadata(
    checkpoint: tuple[GeoMoCoTask, Path], tmp_path: Path
) -> None:
    task, path = checkpoint
    weights, info = export_backbone(path, tmp_path)
    encoder = timm.create_model('resnet18', in_chans=4, num_classes=0)
    encoder.load_state_dict(torch.load(weights, weights_only=True))
    x = torch.rand(2, 4, 32, 32)
    task.model.eval()
    encoder.eval()
    torch.testing.assert_close(encoder(x), task.model(x))
    meta = json.loads(info.read_text())
    assert meta['method'] == 'GASSL'
    assert meta['model'] == 'resnet18'
    assert meta['in_channels'] == 4
    assert meta['bands'] == ['red', 'green', 'blue', 'nir']
    assert meta['mean'] == [0.0]
    assert meta['std'] == [10000.0]
    assert meta['low'] is None  # no clip: (x - mean) / std
    assert meta['high'] is None
    assert meta['patch_size'] == 24
    assert meta['num_features'] == 512


def test_export_cli(
    checkpoint: tuple[GeoMoCoTask, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, path = checkpoint
    main([str(path), '--out', str(tmp_path)])
    assert f'Exported backbone weights: {tmp_path}' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([str(tmp_path / 'missing.ckpt')])
    assert 'does not exist' in capsys.readouterr().err
    not_a_checkpoint = tmp_path / 'x.ckpt'
    torch.save({'state_dict': {}}, not_a_checkpoint)
    with pytest.raises(ValueError, match='not a torchgeo-geossl task checkpoint'):
        load_backbone(not_a_checkpoint)

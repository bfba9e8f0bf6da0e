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
    normalization_from,
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
    with pytest.raises(
        ValueError,
        match='IntermediateLayerGetter is not the architecture of the encoder',
    ):
        load_into_object_detection(wrong, path)


def test_export_writes_timm_weights_and_metadata(
    checkpoint: tuple[GeoMoCoTask, Path], tmp_path: Path
) -> None:
    task, path = checkpoint
    weights, info = export_backbone(path, tmp_path)
    x = torch.rand(2, 4, 32, 32)
    task.model.eval()
    # timm's two ways to load a file
    created = timm.create_model(
        'resnet18',
        pretrained=True,
        pretrained_cfg_overlay={'file': str(weights)},
        in_chans=4,
        num_classes=0,
    )
    loaded = timm.create_model('resnet18', in_chans=4, num_classes=0)
    timm.models.load_checkpoint(loaded, str(weights))  # strict
    for encoder in (created, loaded):
        encoder.eval()
        torch.testing.assert_close(encoder(x), task.model(x))
    meta = json.loads(info.read_text())
    exported = torch.load(weights, weights_only=True)
    assert exported['meta'] == meta
    # TorchGeo's Weights.meta keys
    assert meta['model'] == 'resnet18'
    assert meta['in_chans'] == 4
    assert meta['ssl_method'] == 'gassl'
    assert meta['bands'] == ['red', 'green', 'blue', 'nir']
    assert meta['dataset'] == 'DemoTimeSeries'
    assert meta['resolution'] == [10.0, 10.0]
    assert meta['publication'] == 'https://arxiv.org/abs/2011.09980'
    assert meta['repo'] == 'https://github.com/sustainlab-group/geography-aware-ssl'
    # and this package's
    assert meta['method'] == 'GASSL'
    assert meta['in_channels'] == 4
    assert meta['mean'] == [0.0]
    assert meta['std'] == [10000.0]
    assert meta['low'] is None  # no clip: (x - mean) / std
    assert meta['high'] is None
    assert meta['patch_size'] == 24
    assert meta['num_features'] == 512


def test_torchgeo_tasks_load_the_exported_file(
    checkpoint: tuple[GeoMoCoTask, Path], tmp_path: Path
) -> None:
    task, path = checkpoint
    weights, _ = export_backbone(path, tmp_path)
    own = task.model.state_dict()
    clf = Classification(
        model='resnet18', weights=str(weights), in_channels=4, num_classes=10
    )
    seg = SemanticSegmentation(
        model='unet',
        backbone='resnet18',
        weights=str(weights),
        in_channels=4,
        num_classes=3,
    )
    for loaded in (clf.model.state_dict(), seg.model.encoder.state_dict()):
        for name, value in own.items():
            assert torch.equal(loaded[name], value), name


@pytest.mark.parametrize('source', ['checkpoint', 'export'])
def test_normalization_from(
    checkpoint: tuple[GeoMoCoTask, Path], tmp_path: Path, source: str
) -> None:
    _, path = checkpoint
    if source == 'export':
        path, _ = export_backbone(path, tmp_path)
    normalize = normalization_from(path)
    image = torch.tensor([0.0, 5000.0, 10000.0, 20000.0]).reshape(1, 4, 1, 1)
    out = normalize({'image': image, 'mask': torch.ones(1, 1, 1, 1)})
    torch.testing.assert_close(out['image'], image / 10000)  # (x - 0) / 10000
    assert torch.equal(out['mask'], torch.ones(1, 1, 1, 1))


def test_normalization_from_clips_first(tmp_path: Path) -> None:
    weights = tmp_path / 'seco.pth'
    meta = {'mean': [100.0, 0.0], 'std': [50.0, 2.0], 'low': [0.0, 0.0]}
    meta |= {'high': [300.0, 10.0], 'model': 'resnet18'}
    state = timm.create_model('resnet18', in_chans=2, num_classes=0).state_dict()
    torch.save({'geossl_export': 1, 'state_dict_ema': state, 'meta': meta}, weights)
    image = torch.tensor([500.0, 4.0, -20.0, 12.0]).reshape(2, 2, 1, 1)
    out = normalization_from(weights)({'image': image})['image']
    expected = torch.tensor([(300 - 100) / 50, 4 / 2, (0 - 100) / 50, 10 / 2])
    torch.testing.assert_close(out, expected.reshape(2, 2, 1, 1))


def test_normalization_from_needs_statistics(tmp_path: Path) -> None:
    weights = tmp_path / 'bare.pth'
    state = timm.create_model('resnet18', in_chans=2, num_classes=0).state_dict()
    meta = {'model': 'resnet18', 'mean': None, 'std': None}
    torch.save({'geossl_export': 1, 'state_dict_ema': state, 'meta': meta}, weights)
    with pytest.raises(ValueError, match='records no normalisation'):
        normalization_from(weights)


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
    with pytest.raises(ValueError, match='neither a torchgeo-geossl task checkpoint'):
        load_backbone(not_a_checkpoint)


def test_export_to_a_weights_path(
    checkpoint: tuple[GeoMoCoTask, Path], tmp_path: Path
) -> None:
    _, path = checkpoint
    out = tmp_path / 'sub' / 'x.pth'
    main([str(path), '--out', str(out)])
    assert out.is_file()  # a file, not a folder named x.pth
    assert json.loads(out.with_suffix('.json').read_text())['model'] == 'resnet18'
    weights, meta = load_backbone(out)
    assert meta['model'] == 'resnet18'
    encoder = timm.create_model('resnet18', in_chans=4, num_classes=0)
    encoder.load_state_dict(weights)


def test_export_names_a_damaged_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / 'empty.ckpt'
    empty.write_bytes(b'')
    with pytest.raises(SystemExit):
        main([str(empty)])
    assert f'{empty} is empty (0 bytes)' in capsys.readouterr().err

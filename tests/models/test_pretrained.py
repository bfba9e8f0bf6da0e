from functools import cache
from pathlib import Path
from typing import Any
from urllib.error import URLError

import pytest
import timm
import torch
import torchvision.models._api
from torch import Tensor, nn
from torchgeo.models import ResNet18_Weights, ResNet50_Weights

from torchgeo_geossl.checkpoint import CheckpointReadError
from torchgeo_geossl.models import create_encoder, encoder_state_dict, read_weights


@cache
def _tensors(model: str, in_chans: int, num_classes: int) -> dict[str, Tensor]:
    torch.manual_seed(1)
    net = timm.create_model(model, in_chans=in_chans, num_classes=num_classes)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_()
    return net.state_dict()


def tensors(
    model: str = 'resnet18', in_chans: int = 4, num_classes: int = 1000
) -> dict[str, Tensor]:
    """The state dict of a timm model with random (not initial) values, cloned."""
    return {k: v.clone() for k, v in _tensors(model, in_chans, num_classes).items()}


@cache
def encoder(model: str, in_channels: int) -> nn.Module:
    """An encoder to fit weights to (never modified by the tests)."""
    return create_encoder(model, in_channels)


def fit(
    weights: object, model: str = 'resnet18', in_channels: int = 4
) -> tuple[dict[str, Tensor], list[str]]:
    """Read *weights* and fit them to an encoder."""
    source = read_weights(weights, model, in_channels)  # type: ignore[arg-type]
    return encoder_state_dict(source, encoder(model, in_channels), model, in_channels)


def test_plain_state_dict_leaves_out_the_classifier(tmp_path: Path) -> None:
    state = tensors(num_classes=10)
    path = tmp_path / 'backbone.pth'
    torch.save(state, path)
    found, dropped = fit(str(path))
    assert dropped == ['fc.bias', 'fc.weight']
    assert set(found) == set(state) - {'fc.weight', 'fc.bias'}
    for key, value in found.items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize(
    'prefix', ['model.', 'backbone.', 'model.backbone.model.', 'model.encoder.']
)
def test_checkpoint_prefixes(tmp_path: Path, prefix: str) -> None:
    state = tensors(num_classes=0)
    other = {'backbone_momentum.conv1.weight': torch.zeros(64, 4, 7, 7)}
    path = tmp_path / 'task.ckpt'
    torch.save(
        {
            'state_dict': {**{prefix + k: v for k, v in state.items()}, **other},
            'hyper_parameters': {'model': 'resnet18'},
        },
        path,
    )
    found, dropped = fit(str(path))
    assert not dropped
    assert set(found) == set(state)
    for key, value in found.items():
        assert torch.equal(value, state[key]), key


@pytest.fixture
def local_enum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Tensor]:
    """ResNet18_Weights.SENTINEL2_RGB_SECO read from a local file in its format."""
    enum = ResNet18_Weights.SENTINEL2_RGB_SECO
    state = tensors('resnet18', enum.meta['in_chans'])  # with fc, as the real file
    path = tmp_path / f'{enum}.pth'
    torch.save(state, path)
    monkeypatch.setattr(enum.value, 'url', str(path))

    def load(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = torch.load(url, weights_only=True)
        return loaded

    monkeypatch.setattr(torchvision.models._api, 'load_state_dict_from_url', load)
    return state


@pytest.mark.parametrize(
    'weights',
    [ResNet18_Weights.SENTINEL2_RGB_SECO, 'ResNet18_Weights.SENTINEL2_RGB_SECO'],
    ids=['member', 'name'],
)
def test_weight_enum(local_enum: dict[str, Tensor], weights: object) -> None:
    found, dropped = fit(weights, in_channels=3)
    assert dropped == ['fc.bias', 'fc.weight']
    assert set(found) == set(local_enum) - set(dropped)
    for key, value in found.items():
        assert torch.equal(value, local_enum[key]), key


def never_download(*args: Any, **kwargs: Any) -> None:
    raise AssertionError('nothing may be downloaded')


@pytest.mark.parametrize(
    ('model', 'in_channels', 'match'),
    [
        (
            'resnet18',
            3,
            (
                "weight enum ResNet50_Weights.FMOW_RGB_GASSL is for model='resnet50', "
                "but the task has model='resnet18'.*ResNet18_Weights.SENTINEL2_RGB_SECO"
            ),
        ),
        (
            'resnet50',
            4,
            (
                "takes 3 input channels \\(meta\\['in_chans'\\]\\), but the task has "
                'in_channels=4; set in_channels=3'
            ),
        ),
    ],
)
def test_enum_mismatch_is_refused_before_downloading(
    monkeypatch: pytest.MonkeyPatch, model: str, in_channels: int, match: str
) -> None:
    monkeypatch.setattr(
        torchvision.models._api, 'load_state_dict_from_url', never_download
    )
    with pytest.raises(ValueError, match=match):
        read_weights(ResNet50_Weights.FMOW_RGB_GASSL, model, in_channels)


def test_failed_download_names_the_enum(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: Any, **kwargs: Any) -> None:
        raise URLError('no network')

    monkeypatch.setattr(torchvision.models._api, 'load_state_dict_from_url', offline)
    with pytest.raises(
        OSError,
        match='could not download the weight enum ResNet50_Weights.FMOW_RGB_GASSL '
        'from https://.*no network.*pass its path as weights=',
    ):
        read_weights('ResNet50_Weights.FMOW_RGB_GASSL', 'resnet50', 3)


def test_true_takes_timm_pretrained_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    state = tensors(num_classes=0)
    create = timm.create_model

    def pretrained(name: str, **kwargs: Any) -> nn.Module:
        assert kwargs.pop('pretrained') is True
        net = create(name, **kwargs)
        net.load_state_dict(state)
        return net

    monkeypatch.setattr(timm, 'create_model', pretrained)
    source = read_weights(True, 'resnet18', 4)
    assert source.source == "timm's pre-trained weights of 'resnet18'"
    for key, value in state.items():
        assert torch.equal(source.state_dict[key], value), key


def test_architecture_mismatch(tmp_path: Path) -> None:
    path = tmp_path / 'r18.pth'
    torch.save(tensors(num_classes=0), path)
    with pytest.raises(
        ValueError,
        match=f'state dict {path} does not hold a resnet50 encoder, the '
        'architectures differ: .* differ in shape .*layer1.0.conv1.weight: '
        '\\[64, 64, 3, 3\\] in the weights, \\[64, 64, 1, 1\\] here.* are missing',
    ):
        fit(str(path), model='resnet50')


def test_channel_mismatch(tmp_path: Path) -> None:
    path = tmp_path / 'r18.ckpt'
    state = {f'model.{k}': v for k, v in tensors(num_classes=0).items()}
    torch.save({'state_dict': state, 'hyper_parameters': {'model': 'resnet18'}}, path)
    with pytest.raises(
        ValueError,
        match=f'checkpoint {path} takes 4 input channels \\(model.conv1.weight is '
        '\\[64, 4, 7, 7\\]\\), but the task has in_channels=3; set in_channels=4',
    ):
        fit(str(path), in_channels=3)


@pytest.mark.parametrize(
    ('content', 'match'),
    [
        ([1, 2], 'holds list, neither a Lightning checkpoint'),
        ({'epoch': 3}, "holds a dict with keys \\['epoch'\\], neither"),
        (
            {'head.weight': torch.zeros(2, 2)},
            (
                'holds no weights of a resnet18 encoder: none of its 1 tensors '
                '\\(e.g. head.weight\\)'
            ),
        ),
    ],
    ids=['list', 'no-tensors', 'other-model'],
)
def test_files_without_an_encoder(tmp_path: Path, content: object, match: str) -> None:
    path = tmp_path / 'odd.pth'
    torch.save(content, path)
    with pytest.raises(ValueError, match=match):
        fit(str(path))


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / 'empty.ckpt'
    empty.write_bytes(b'')
    with pytest.raises(CheckpointReadError, match='weights= .*empty.ckpt is empty'):
        fit(str(empty))
    with pytest.raises(FileNotFoundError, match="weights='nowhere/last.ckpt' does not"):
        fit('nowhere/last.ckpt')
    with pytest.raises(
        ValueError,
        match="weights='ResNet18_Weights.NOPE' is not an existing file nor the name "
        "of a TorchGeo weight enum \\(those for model='resnet18': ",
    ):
        fit('ResNet18_Weights.NOPE')
    with pytest.raises(ValueError, match="spelt '<Model>_Weights.<NAME>'"):
        fit('gassl')

import importlib
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from torchgeo.datamodules import SeasonalContrastS2DataModule, SSL4EOS12DataModule
from torchgeo.main import main as torchgeo_main

from torchgeo_geossl.datamodules.normalize import NormalizeViews
from torchgeo_geossl.datamodules.ssl import (
    SECO_QUANTILES,
    SeasonalContrastS2ViewsDataModule,
    SSL4EOS12ViewsDataModule,
    seco_normalization,
)

DATA = Path(__file__).resolve().parents[1] / 'data'
SECO = DATA / 'seco'
SSL4EO = DATA / 'ssl4eo_s12'
CONFIG = Path(__file__).resolve().parents[2] / 'configs' / 'seco' / 'seco_s2.yaml'

# ImageNet statistics of red, green, blue = B4, B3, B2
IMAGENET = {'B4': (0.485, 0.229), 'B3': (0.456, 0.224), 'B2': (0.406, 0.225)}


def seco_batch(**kwargs: object) -> tuple[SeasonalContrastS2ViewsDataModule, dict]:
    dm = SeasonalContrastS2ViewsDataModule(root=str(SECO), **kwargs)  # type: ignore[arg-type]
    with pytest.warns(UserWarning, match='skipped'):
        dm.setup('fit')
    return dm, next(iter(dm.train_dataloader()))


def test_seco_batches_follow_the_batch_contract() -> None:
    dm, batch = seco_batch(batch_size=2, seasons=3, seed=0)
    assert isinstance(dm, SeasonalContrastS2DataModule)
    assert batch['image'].shape == (2, 3, 3, 264, 264)
    assert batch['image'].dtype == torch.float32
    assert batch['time'].shape == (2, 3)
    assert batch['time'].dtype == torch.float64
    assert batch['point'].shape == (2, 2)
    assert batch['point'].dtype == torch.float64
    assert all(len(set(row.tolist())) == 3 for row in batch['time'])
    assert dm.val_dataloader() == []
    assert len(dm.train_dataloader()) == 1  # two usable locations, one batch


def test_seco_five_seasons() -> None:
    _, batch = seco_batch(batch_size=1, seasons=5)
    assert batch['image'].shape == (1, 5, 3, 264, 264)
    assert len(set(batch['time'][0].tolist())) == 5


def test_seco_stretch_on_device_then_imagenet_standardisation() -> None:
    dm, batch = seco_batch(batch_size=2, seed=0)
    raw = batch['image'].clone()
    out = dm.on_after_batch_transfer(batch, 0)['image']
    standardized = dm.standardize(out)
    for c, band in enumerate(('B4', 'B3', 'B2')):
        lo, hi = SECO_QUANTILES[band]
        mean, std = IMAGENET[band]
        scaled = ((raw[:, :, c] - lo) / (hi - lo)).clamp(0, 1)
        # on device: only the quantile stretch to [0, 1], the augmentation scale
        torch.testing.assert_close(out[:, :, c], scaled)
        # the task's last step: ImageNet statistics on [0, 1]
        torch.testing.assert_close(standardized[:, :, c], (scaled - mean) / std)
    assert out.min() >= 0
    assert out.max() <= 1
    # raw-unit statistics (exports): (clip(x) - mean) / std
    for c, band in enumerate(('B4', 'B3', 'B2')):
        lo, hi = SECO_QUANTILES[band]
        mean, std = IMAGENET[band]
        assert float(dm.mean[c]) == pytest.approx(lo + mean * (hi - lo))
        assert float(dm.std[c]) == pytest.approx(std * (hi - lo))
    assert dm.low is not None
    assert dm.low.tolist() == [0.0, 2.0, 3.0]
    assert dm.high is not None
    assert dm.high.tolist() == [129.0, 103.0, 88.0]


def test_seco_constants_are_torchgeos() -> None:
    normalize = list(SeasonalContrastS2DataModule().aug.children())
    low = normalize[0].flags['mean'].tolist()
    high = (normalize[0].flags['mean'] + normalize[0].flags['std']).tolist()
    imagenet = normalize[2].flags
    assert set(zip(low, high, strict=True)) == set(SECO_QUANTILES.values())
    assert imagenet['mean'].tolist() == pytest.approx(
        [IMAGENET[b][0] for b in ('B4', 'B3', 'B2')]
    )
    assert imagenet['std'].tolist() == pytest.approx(
        [IMAGENET[b][1] for b in ('B4', 'B3', 'B2')]
    )
    # the quantiles of the reference code follow the band, in any band order
    normalization = seco_normalization(['B2', 'B4'])
    x = torch.tensor([3.0, 0.0]).reshape(1, 1, 2, 1, 1)
    expected = torch.tensor([-0.406 / 0.225, -0.485 / 0.229]).reshape(1, 1, 2, 1, 1)
    torch.testing.assert_close(normalization(x), expected)


def test_seco_other_bands_are_divided_by_255() -> None:
    dm, batch = seco_batch(batch_size=2, bands=['B8', 'B11'])
    assert batch['image'].shape == (2, 3, 2, 264, 264)
    raw = batch['image'].clone()
    out = dm.on_after_batch_transfer(batch, 0)['image']
    torch.testing.assert_close(out, raw / 255)
    torch.testing.assert_close(dm.standardize(out), out)


def test_ssl4eo_batches_and_normalisation() -> None:
    dm = SSL4EOS12ViewsDataModule(root=str(SSL4EO), batch_size=2, seasons=3, seed=0)
    assert isinstance(dm, SSL4EOS12DataModule)
    dm.setup('fit')
    batch = next(iter(dm.train_dataloader()))
    assert batch['image'].shape == (2, 3, 13, 264, 264)
    assert batch['time'].shape == (2, 3)
    assert batch['time'].dtype == torch.float64
    assert batch['point'].dtype == torch.float64
    assert dm.val_dataloader() == []
    raw = batch['image'].clone()
    out = dm.on_after_batch_transfer(batch, 0)['image']
    torch.testing.assert_close(out, raw / 10_000)
    torch.testing.assert_close(dm.standardize(out), out)


def test_validate_without_a_hold_out_names_the_share() -> None:
    dm = SSL4EOS12ViewsDataModule(root=str(SSL4EO))
    with pytest.raises(ValueError, match='has val_split_pct=0.*set val_split_pct'):
        dm.setup('validate')
    assert dm.train_dataset is None


def test_normalize_views() -> None:
    normalize = NormalizeViews(mean=[1.0, 2.0], std=[2.0, 4.0], low=0.0, high=[5, 6])
    x = torch.tensor([[-1.0, 10.0], [3.0, 4.0]]).reshape(2, 2, 1, 1)  # [B, C, H, W]
    out = normalize(x)
    assert out.shape == x.shape
    expected = torch.tensor([[-0.5, 1.0], [1.0, 0.5]]).reshape(2, 2, 1, 1)
    torch.testing.assert_close(out, expected)
    views = torch.stack([x, x + 1], dim=1)  # [B, V, C, H, W]: same statistics per view
    torch.testing.assert_close(normalize(views)[:, 0], expected)
    with pytest.raises(ValueError, match=r'std must be non-zero .* \[1\.0, 0\.0\]'):
        NormalizeViews(std=[1.0, 0.0])
    with pytest.raises(ValueError, match='mean=3, std=2'):
        NormalizeViews(mean=[0.0, 0.0, 0.0], std=[1.0, 2.0])


@pytest.mark.cuda
def test_normalisation_on_cuda() -> None:
    normalize = seco_normalization(('B4', 'B3', 'B2'))
    x = torch.full((2, 3, 3, 4, 4), 50.0)
    torch.testing.assert_close(normalize(x.cuda()).cpu(), normalize(x))


def test_config_data_section() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    model = config['model']['init_args']
    assert config['model']['class_path'] == 'torchgeo_geossl.trainers.seco.SeCoTask'
    assert model['model'] == 'resnet18'
    assert model['schedule'] == 'step'
    assert model['queue_size'] == 16_384
    assert model['temperature'] == 0.07
    assert model['moco_momentum'] == 0.999
    assert (model['lr'], model['lr_batch_size'], model['size']) == (0.03, 256, 224)
    assert config['trainer']['max_epochs'] == 200
    module, name = config['data']['class_path'].rsplit('.', 1)
    data_class = getattr(importlib.import_module(module), name)
    assert data_class is SeasonalContrastS2ViewsDataModule
    args = {**config['data']['init_args'], 'root': str(SECO), 'version': '100k'}
    dm = data_class(**args)
    assert dm.kwargs['seasons'] == 3
    assert dm.kwargs['bands'] == ('B4', 'B3', 'B2')
    assert dm.batch_size == 256


def test_config_runs_with_the_torchgeo_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seco = pytest.importorskip('torchgeo_geossl.trainers.seco')
    seen: list[dict[str, torch.Tensor]] = []
    training_step = seco.SeCoTask.training_step

    def spy(self: object, batch: dict[str, torch.Tensor], *args: object) -> object:
        seen.append({key: value.clone() for key, value in batch.items()})
        return training_step(self, batch, *args)

    monkeypatch.setattr(seco.SeCoTask, 'training_step', spy)
    args = [
        'fit',
        '--config',
        str(CONFIG),
        '--trainer.fast_dev_run=1',
        '--trainer.accelerator=cpu',
        f'--trainer.default_root_dir={tmp_path}',
        '--model.init_args.model=resnet18',
        '--model.init_args.size=32',
        '--model.init_args.queue_size=8',
        f'--data.init_args.root={SECO}',
        '--data.init_args.version=100k',
        '--data.init_args.batch_size=2',
        '--data.init_args.num_workers=0',
        # two usable locations: both for training, none held out
        '--data.init_args.val_split_pct=0',
        '--data.init_args.test_split_pct=0',
    ]
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*skipped 1 of 3 locations')
        torchgeo_main(args)
    (batch,) = seen
    assert batch['image'].shape == (2, 3, 3, 264, 264)
    assert batch['time'].shape == (2, 3)
    # normalised on device by the data module before the step
    assert float(batch['image'].min()) >= -0.485 / 0.229 - 1e-5
    assert float(batch['image'].max()) <= (1 - 0.406) / 0.225 + 1e-5


def test_seco_spatial_hold_out_and_predict() -> None:
    dm = SeasonalContrastS2ViewsDataModule(
        root=SECO, version='100k', batch_size=1, val_split_pct=0.5, seed=0
    )
    dm.setup('validate')
    train = list(dm.train_dataset.indices)  # type: ignore[attr-defined]
    val = list(dm.val_dataset.indices)  # type: ignore[attr-defined]
    # the fixture's two usable locations, Paris and Sydney: one block each
    assert sorted(train + val) == [0, 1]
    assert len(val) == 1
    first = next(iter(dm.val_dataloader()))
    assert first['image'].shape[:2] == (1, 3)
    torch.testing.assert_close(next(iter(dm.val_dataloader()))['time'], first['time'])
    with pytest.raises(ValueError, match='has test_split_pct=0.*set test_split_pct'):
        dm.setup('test')
    dm.setup('predict')
    seasons = [
        d
        for location in ('000000', '000001')
        for d in (SECO / 'seasonal_contrast_100k' / location).iterdir()
        if d.is_dir()
    ]
    assert len(dm.predict_dataset) == len(seasons)
    sample = dm.predict_dataset[0]
    assert sample['image'].shape[0] == 1
    assert sample['time'].shape == (1,)

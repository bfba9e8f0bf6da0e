"""Every data module × task: colour ops see [0, 1], the network standardised views.

Issue 11, "standardisation before colour jitter".

The references (facebookresearch/moco ``main_moco.py``, sustainlab-group/
geography-aware-ssl ``moco_fmow/main_moco_geo+tp.py``, ServiceNow/seasonal-contrast
``main_pretrain.py``) augment images in [0, 1] and apply ``Normalize(mean, std)``
last. The expected network input is computed here from the constants of each
recipe, not with the package's own normalisation.
"""

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import kornia.augmentation as K
import pytest
import torch
from conftest import SeriesDataset, write_series
from lightning.pytorch import LightningDataModule, Trainer
from torch import Tensor, nn

from torchgeo_geossl.datamodules import (
    DemoDataModule,
    FMoWDataModule,
    S2100kDataModule,
    SeasonalContrastS2ViewsDataModule,
    SSL4EOS12ViewsDataModule,
    TemporalGeoDataModule,
)
from torchgeo_geossl.trainers import CSPTask, GeoMoCoTask, SeCoTask

DATA = Path(__file__).resolve().parents[1] / 'data'

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
#: SeCo's RGB channels B4, B3, B2 get the ImageNet statistics of red, green, blue.
#: Series fixture: mean and std (raw digital numbers) and the reflectance scale.
SERIES_MEAN = [2000.0, 3000.0, 4000.0, 5000.0]
SERIES_STD = [500.0, 1000.0, 1500.0, 2000.0]
SERIES_SCALE = 10_000.0


def series_module(root: Path, views: int) -> TemporalGeoDataModule:
    for i, origin in enumerate([(500_000.0, 5_700_000.0), (600_000.0, 5_800_000.0)]):
        dates = [dt.date(2021, month, 15) for month in (1, 3, 5, 7, 9, 11)]
        write_series(root, site=f'site{i}', dates=dates, origin=origin, size=32)
    return TemporalGeoDataModule(
        SeriesDataset,
        paths=str(root),
        batch_size=4,
        patch_size=16,
        length=4,
        views=views,
        mean=SERIES_MEAN,
        std=SERIES_STD,
        scale=SERIES_SCALE,
    )


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('demo')
    DemoDataModule(root=root, tile_size=64).prepare_data()
    return root


def demo_module(root: Path, views: int) -> DemoDataModule:
    return DemoDataModule(
        root=root, tile_size=64, batch_size=4, patch_size=32, length=4, views=views
    )


def fmow_module(root: Path, views: int) -> FMoWDataModule:
    return FMoWDataModule(
        root=DATA / 'fmow',
        batch_size=2,
        size=32,
        views=views,
        insufficient='repeat',
        geo_clusters=None,
    )


def seco_module(root: Path, views: int) -> SeasonalContrastS2ViewsDataModule:
    return SeasonalContrastS2ViewsDataModule(
        root=str(DATA / 'seco'), batch_size=2, seasons=3, seed=0
    )


def ssl4eo_module(root: Path, views: int) -> SSL4EOS12ViewsDataModule:
    return SSL4EOS12ViewsDataModule(
        root=str(DATA / 'ssl4eo_s12'), batch_size=2, seasons=3, seed=0
    )


def s2100k_module(root: Path, views: int) -> S2100kDataModule:
    return S2100kDataModule(
        root=str(DATA / 's2100k'),
        batch_size=3,
        mean=[500.0 * (b + 1) for b in range(12)],
        std=[1000.0 + 10.0 * b for b in range(12)],
        scale=10_000.0,
    )


#: name: (factory, bands, mean and std on the augmentation scale, independently
#: written from each recipe).
MODULES: dict[
    str,
    tuple[Callable[[Path, int], LightningDataModule], int, list[float], list[float]],
] = {
    'temporal': (
        series_module,
        4,
        [m / SERIES_SCALE for m in SERIES_MEAN],
        [s / SERIES_SCALE for s in SERIES_STD],
    ),
    'demo': (demo_module, 4, [0.0], [1.0]),  # reflectance, not standardised
    'fmow': (fmow_module, 3, IMAGENET_MEAN, IMAGENET_STD),  # ToTensor, Normalize
    # quantile stretch to [0, 1], then ImageNet statistics of B4, B3, B2
    'seco': (seco_module, 3, IMAGENET_MEAN, IMAGENET_STD),
    'ssl4eo': (ssl4eo_module, 13, [0.0], [1.0]),  # reflectance
    's2100k': (
        s2100k_module,
        12,
        [500.0 * (b + 1) / 10_000 for b in range(12)],
        [(1000.0 + 10.0 * b) / 10_000 for b in range(12)],
    ),
}


def colour_ops(module: nn.Module) -> list[nn.Module]:
    """Every intensity augmentation except the blur: the colour operations."""
    return [
        m
        for m in module.modules()
        if isinstance(m, K.IntensityAugmentationBase2D)
        and not isinstance(m, K.RandomGaussianBlur)
    ]


class Recorder:
    """Forward hooks: colour ops' input ranges, augmented views, encoder input."""

    def __init__(self, augmentation: nn.Module, last_step: nn.Module) -> None:
        """Hook the colour ops of *augmentation* and the output of *last_step*."""
        self.ranges: list[tuple[str, float, float]] = []
        self.augmented: list[Tensor] = []
        self.encoder_input: list[Tensor] = []
        self.ops = colour_ops(augmentation)
        assert self.ops, 'the augmentation has no colour operation'
        for op in self.ops:
            op.register_forward_pre_hook(self._range)
        last_step.register_forward_hook(self._augmented)

    def _range(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        x = args[0]
        self.ranges.append((type(module).__name__, float(x.min()), float(x.max())))

    def _augmented(self, module: nn.Module, args: tuple[Any, ...], out: Tensor) -> None:
        self.augmented.append(out.detach().clone())

    def watch_encoder(self, encoder: nn.Module) -> None:
        """Record the inputs of the first convolution of *encoder*."""
        conv = next(m for m in encoder.modules() if isinstance(m, nn.Conv2d))
        conv.register_forward_pre_hook(
            lambda module, args: self.encoder_input.append(args[0].detach().clone())
        )


def fit(task: nn.Module, datamodule: LightningDataModule, root: Path) -> None:
    trainer = Trainer(
        fast_dev_run=1,
        accelerator='cpu',
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
    )
    trainer.fit(task, datamodule=datamodule)  # type: ignore[arg-type]


def standardized(views: Tensor, mean: list[float], std: list[float]) -> Tensor:
    shape = (-1, 1, 1)
    return (views - torch.tensor(mean).reshape(shape)) / torch.tensor(std).reshape(
        shape
    )


def check_ranges(recorder: Recorder, bands: int) -> None:
    assert recorder.ranges, 'no colour operation ran'
    if bands == 3:
        # Kornia's ColorJitter clamps to [0, 1]: every colour op must see [0, 1]
        for name, low, high in recorder.ranges:
            assert low >= 0, (name, low)
            assert high <= 1, (name, high)
    else:
        # reflectance (digital numbers / 10,000: at most about 1.5, bright clouds);
        # the unclipped multispectral jitter may stretch it a little
        name, low, high = recorder.ranges[0]
        assert low >= 0, (name, low)
        assert high <= 1.5, (name, high)
        for name, low, high in recorder.ranges:
            assert low >= -1, (name, low)
            assert high <= 2, (name, high)


@pytest.mark.parametrize('name', ['temporal', 'demo', 'fmow', 'seco', 'ssl4eo'])
def test_gassl_augments_then_standardizes(
    name: str, tmp_path: Path, demo_root: Path
) -> None:
    factory, bands, mean, std = MODULES[name]
    data_root = demo_root if name == 'demo' else tmp_path
    datamodule = factory(data_root, 2)
    size = 16 if name == 'temporal' else 32
    # one batch-norm group: the recorder sees the whole query batch enter the encoder
    task = GeoMoCoTask(
        model='resnet18',
        in_channels=bands,
        size=size,
        queue_size=8,
        geo_classes=0,
        bn_splits=1,
    )
    recorder = Recorder(task.augmentation, task.augmentation)
    recorder.watch_encoder(task.model)
    fit(task, datamodule, tmp_path)
    check_ranges(recorder, bands)
    query = recorder.augmented[0][:, 0]
    torch.testing.assert_close(
        recorder.encoder_input[0], standardized(query, mean, std)
    )


@pytest.mark.parametrize('name', ['temporal', 'demo', 'fmow', 'seco', 'ssl4eo'])
def test_seco_augments_then_standardizes(
    name: str, tmp_path: Path, demo_root: Path
) -> None:
    factory, bands, mean, std = MODULES[name]
    data_root = demo_root if name == 'demo' else tmp_path
    datamodule = factory(data_root, 3)
    size = 16 if name == 'temporal' else 32
    task = SeCoTask(
        model='resnet18', in_channels=bands, size=size, queue_size=8, bn_splits=1
    )
    recorder = Recorder(task.artificial, task.crop)
    recorder.watch_encoder(task.model)
    keys: list[Tensor] = []
    conv = next(m for m in task.key_encoder.modules() if isinstance(m, nn.Conv2d))
    conv.register_forward_pre_hook(lambda m, args: keys.append(args[0].clone()))
    fit(task, datamodule, tmp_path)
    check_ranges(recorder, bands)
    # q = crop(t0), k0 = crop(A(t1)), k1 = crop(t2), k2 = crop(A(t0)): the plain
    # and the artificially augmented views are standardised alike, last
    crops = recorder.augmented[0]
    torch.testing.assert_close(
        recorder.encoder_input[0], standardized(crops[:, 0], mean, std)
    )
    for j in range(3):
        torch.testing.assert_close(keys[j], standardized(crops[:, 1 + j], mean, std))


@pytest.mark.parametrize('name', ['s2100k', 'fmow', 'demo'])
def test_csp_standardizes_its_images(
    name: str, tmp_path: Path, demo_root: Path
) -> None:
    factory, bands, mean, std = MODULES[name]
    data_root = demo_root if name == 'demo' else tmp_path
    datamodule = factory(data_root, 2)
    task = CSPTask(
        model='resnet18',
        in_channels=bands,
        embed_dim=8,
        hidden_dim=16,
        freeze_backbone=False,
    )
    images: list[Tensor] = []
    original = datamodule.on_after_batch_transfer

    def spy(batch: Any, index: int) -> Any:
        out = original(batch, index)
        image = out['image']
        images.append((image[:, 0] if image.ndim == 5 else image).clone())
        return out

    datamodule.on_after_batch_transfer = spy  # type: ignore[method-assign,assignment]
    inputs: list[Tensor] = []
    conv = next(m for m in task.model.modules() if isinstance(m, nn.Conv2d))
    conv.register_forward_pre_hook(
        lambda module, args: inputs.append(args[0].detach().clone())
    )
    fit(task, datamodule, tmp_path)
    # the data module hands over the augmentation scale, CSP standardises
    assert float(images[0].min()) >= 0
    assert float(images[0].max()) <= (1 if bands == 3 else 1.5)
    torch.testing.assert_close(inputs[0], standardized(images[0], mean, std))


def test_predict_standardizes_the_plain_first_view() -> None:
    datamodule = fmow_module(DATA, 2)
    task = GeoMoCoTask(model='resnet18', size=32, queue_size=8, geo_classes=0)
    task._trainer = SimpleNamespace(datamodule=datamodule)  # type: ignore[assignment]
    inputs: list[Tensor] = []
    conv = next(m for m in task.model.modules() if isinstance(m, nn.Conv2d))
    conv.register_forward_pre_hook(lambda m, args: inputs.append(args[0].clone()))
    views = torch.rand(2, 2, 3, 32, 32)  # the augmentation scale, [0, 1]
    task.eval()
    with torch.no_grad():
        task.predict_step({'image': views}, 0)
    expected = standardized(views[:, 0], IMAGENET_MEAN, IMAGENET_STD)
    torch.testing.assert_close(inputs[0], expected)
    # without a trainer, the views are used as given
    task._trainer = None
    with torch.no_grad():
        task.predict_step({'image': views}, 0)
    torch.testing.assert_close(inputs[1], views[:, 0])

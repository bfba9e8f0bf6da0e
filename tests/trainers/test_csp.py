import math
import warnings
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from torch import Tensor
from torch.utils.data import DataLoader
from torchgeo.main import main as torchgeo_main

from torchgeo_geossl.datamodules import FMoWDataModule, S2100kDataModule
from torchgeo_geossl.location.encodings import ENCODING_NAMES
from torchgeo_geossl.trainers import GeoMoCoTask
from torchgeo_geossl.trainers.csp import CSPTask, load_location_encoder
from torchgeo_geossl.trainers.geoprior import GeoPriorTask

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
S2100K = Path(__file__).resolve().parents[1] / 'data' / 's2100k'
SMALL = {
    'model': 'resnet18',
    'in_channels': 4,
    'embed_dim': 8,
    'frequencies': 4,
    'hidden_dim': 16,
}
POINTS = [[2.35, 48.86], [-58.4, -34.6], [179.8, -16.9], [36.8, -1.3]]


def batch(views: int | None = 2, b: int = 4) -> dict[str, Tensor]:
    generator = torch.Generator().manual_seed(0)
    shape = (b, 4, 16, 16) if views is None else (b, views, 4, 16, 16)
    return {
        'image': torch.rand(*shape, generator=generator),
        'point': torch.tensor(POINTS[:b], dtype=torch.float64),
    }


def logging_task(**kwargs: object) -> tuple[CSPTask, dict[str, Tensor]]:
    task = CSPTask(**{**SMALL, **kwargs})  # type: ignore[arg-type]
    logged: dict[str, Tensor] = {}
    task.log = lambda name, value, **_: logged.__setitem__(name, torch.as_tensor(value))  # type: ignore[method-assign]
    return task, logged


@pytest.mark.parametrize('views', [None, 1, 2])
def test_training_step_gradients_only_where_expected(views: int | None) -> None:
    task, _ = logging_task()
    task.train()
    loss = task.training_step(batch(views), 0)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None for p in task.model.parameters())
    assert not any(p.requires_grad for p in task.model.parameters())
    for module in (task.image_projection, task.location_encoder):
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None for g in grads)
        assert any(float(g.abs().sum()) > 0 for g in grads if g is not None)
    # the frozen backbone stays in eval mode (its batch-norm statistics do not move)
    assert not task.model.training
    assert task.location_encoder.training


def test_view_zero_is_encoded() -> None:
    task, _ = logging_task()
    seen: list[Tensor] = []
    task.model.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    data = batch(3)
    task.training_step(data, 0)
    assert torch.equal(seen[0], data['image'][:, 0])


def test_trainable_backbone_gets_gradients() -> None:
    task, _ = logging_task(freeze_backbone=False)
    task.train()
    task.training_step(batch(), 0).backward()
    assert task.model.training
    assert all(p.grad is not None for p in task.model.parameters())


def test_loss_combines_the_three_objectives() -> None:
    task, logged = logging_task(random_weight=0.5, simcse_weight=2.0)
    loss = task.training_step(batch(), 0)
    expected = (
        logged['train_inbatch_loss']
        + 0.5 * logged['train_random_location_loss']
        + 2.0 * logged['train_simcse_loss']
    )
    torch.testing.assert_close(loss, expected)
    # τ_B = 20 keeps the in-batch term close to log B
    assert abs(float(logged['train_inbatch_loss']) - math.log(4)) < 0.05
    for name in (
        'train_location_to_image_top1',
        'train_image_to_location_top1',
        'train_random_location_top1',
    ):
        assert 0 <= float(logged[name]) <= 1


def test_options_reach_the_objectives() -> None:
    task, logged = logging_task(
        symmetric=True,
        learnable_scale=True,
        temperature_inbatch=0.1,
        num_random_locations=3,
        legacy_location_sampler=True,
    )
    assert task.inbatch_loss.symmetric
    scales = [n for n, _ in task.named_parameters() if 'logit_scale' in n]
    assert len(scales) == 3
    assert float(task.inbatch_loss.scale().detach()) == pytest.approx(10.0)
    seen: list[Tensor] = []
    task.location_encoder.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    task.training_step(batch(), 0)
    assert seen[1].shape == (12, 2)  # B · N random locations
    # the legacy sampler stays inside the ellipse (lon/180)² + (lat/90)² ≤ 1
    lon, lat = seen[1][:, 0], seen[1][:, 1]
    assert float(((lon / 180) ** 2 + (lat / 90) ** 2).max()) <= 1 + 1e-6
    assert 'train_inbatch_scale' in logged
    optimizer = task.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam)
    names = {id(p) for g in optimizer.param_groups for p in g['params']}
    assert all(id(p) in names for p in (task.inbatch_loss.logit_scale,))
    assert not any(id(p) in names for p in task.model.parameters())


def test_batch_without_point() -> None:
    task = CSPTask(**SMALL)  # type: ignore[arg-type]
    data = batch()
    del data['point']
    with pytest.raises(ValueError, match='CSP needs point.*S2100kDataModule'):
        task.training_step(data, 0)


@pytest.mark.parametrize(
    ('point', 'match'),
    [([0.0, 95.0], 'latitude outside'), ([float('nan'), 0.0], 'non-finite')],
)
def test_bad_locations(point: list[float], match: str) -> None:
    task = CSPTask(**SMALL)  # type: ignore[arg-type]
    data = batch()
    data['point'][1] = torch.tensor(point, dtype=torch.float64)
    with pytest.raises(ValueError, match=match):
        task.training_step(data, 0)


def test_wrong_channels() -> None:
    task = CSPTask(**SMALL)  # type: ignore[arg-type]
    data = batch()
    data['image'] = data['image'][:, :, :3]
    with pytest.raises(ValueError, match=r'in_channels=4.*\[4, 2, 3, 16, 16\]'):
        task.training_step(data, 0)


def test_bad_hyperparameters() -> None:
    with pytest.raises(ValueError, match='needs dropout > 0'):
        CSPTask(**SMALL, dropout=0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='num_random_locations must be positive'):
        CSPTask(**SMALL, num_random_locations=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="encoding 'wrap' does not accept"):
        CSPTask(**SMALL, encoding='wrap')  # type: ignore[arg-type]
    wrap = CSPTask(
        **{**SMALL, 'frequencies': None, 'hidden_dim': None},  # type: ignore[arg-type]
        encoding='wrap',
    )
    assert torch.isfinite(wrap.training_step(batch(), 0))
    with pytest.raises(ValueError, match='neither an existing checkpoint'):
        CSPTask(**SMALL, weights='no/such/file.ckpt')  # type: ignore[arg-type]


def test_sphere2vec_encodings_get_radians() -> None:
    # Sphere2Vec radii are radians (TorchSpatial runs: 0.001 to 1); CSPTask used to
    # pass the grid's degrees (0.1 to 360), 100 times coarser at the finest scale.
    task = CSPTask(**SMALL, encoding='spherec')  # type: ignore[arg-type]
    freqs = task.location_encoder.encoding.freqs
    torch.testing.assert_close(
        freqs, torch.tensor([1000.0, 100.0, 10.0, 1.0], dtype=torch.float64)
    )
    grid = CSPTask(**SMALL).location_encoder.encoding.freqs  # type: ignore[arg-type]
    torch.testing.assert_close(
        grid, 1 / (0.1 * 3600.0 ** (torch.arange(4, dtype=torch.float64) / 3))
    )
    with pytest.raises(ValueError, match='max_radius is in radians'):
        CSPTask(**SMALL, encoding='spherem', min_radius=0.1, max_radius=360.0)  # type: ignore[arg-type]


RBF_POINTS = [[0.0, 0.0], [10.0, 10.0], [-120.0, 45.0], [170.0, -40.0]]


@pytest.mark.parametrize('name', list(ENCODING_NAMES))
def test_csp_and_geoprior_build_the_same_encoder(name: str) -> None:
    extra = {'train_points': RBF_POINTS, 'num_anchors': 3} if name == 'rbf' else {}
    for scales in ({}, {'frequencies': 3}):
        if scales and name in ('wrap', 'rbf', 'sh'):
            continue
        csp = CSPTask(  # type: ignore[arg-type]
            model='resnet18',
            in_channels=4,
            encoding=name,
            encoding_kwargs=extra,
            freeze_backbone=False,
            **scales,
        ).location_encoder
        prior = GeoPriorTask(
            num_classes=3,
            encoding=name,
            encoder_kwargs=extra,
            **scales,  # type: ignore[arg-type]
        ).location_encoder
        assert type(csp.encoding) is type(prior.encoding)
        assert repr(csp) == repr(prior)
        a, b = csp.encoding.state_dict(), prior.encoding.state_dict()
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
        shapes = {k: v.shape for k, v in csp.state_dict().items()}
        assert shapes == {k: v.shape for k, v in prior.state_dict().items()}


def test_frozen_random_backbone_warns() -> None:
    with pytest.warns(
        UserWarning, match=r'freezes a RANDOMLY initialised resnet18.*weights'
    ):
        CSPTask(**SMALL)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        CSPTask(**SMALL, freeze_backbone=False)  # type: ignore[arg-type]


@pytest.fixture(scope='module')
def gassl_checkpoint(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[GeoMoCoTask, Path]:
    tmp = tmp_path_factory.mktemp('csp_gassl')
    samples = [{'image': torch.rand(2, 4, 24, 24)} for _ in range(4)]
    task = GeoMoCoTask(
        model='resnet18', in_channels=4, size=16, queue_size=16, geo_classes=0
    )
    trainer = Trainer(
        max_steps=1,
        accelerator='cpu',
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        default_root_dir=tmp,
    )
    trainer.fit(task, train_dataloaders=DataLoader(samples, batch_size=4))
    path = tmp / 'gassl.ckpt'
    trainer.save_checkpoint(path)
    return task, path


def test_gassl_checkpoint_is_the_frozen_image_encoder(
    gassl_checkpoint: tuple[GeoMoCoTask, Path],
) -> None:
    gassl, path = gassl_checkpoint
    task, _ = logging_task(weights=str(path))
    own = task.model.state_dict()
    for name, value in gassl.model.state_dict().items():
        assert torch.equal(own[name], value), name
    task.train()
    task.training_step(batch(), 0).backward()
    for name, value in gassl.model.state_dict().items():
        assert torch.equal(task.model.state_dict()[name], value), name
    assert all(p.grad is None for p in task.model.parameters())


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'in_channels': 3}, r'resnet18 with 4 input channels.*in_channels=3'),
        ({'model': 'resnet34'}, r"resnet18 .*model='resnet34'"),
    ],
)
def test_mismatched_checkpoint(
    gassl_checkpoint: tuple[GeoMoCoTask, Path], kwargs: dict[str, object], match: str
) -> None:
    _, path = gassl_checkpoint
    with pytest.raises(ValueError, match=match):
        CSPTask(**{**SMALL, **kwargs, 'weights': str(path)})  # type: ignore[arg-type]


def test_location_encoder_export(tmp_path: Path) -> None:
    task = CSPTask(**SMALL, encoding='spherec+')  # type: ignore[arg-type]
    trainer = Trainer(max_steps=0, logger=False, enable_progress_bar=False)
    trainer.strategy.connect(task)
    path = tmp_path / 'csp.ckpt'
    trainer.save_checkpoint(path)
    state = task.location_encoder_state_dict()
    rebuilt = task.build_location_encoder()
    rebuilt.load_state_dict(state)
    loaded = load_location_encoder(path)
    task.eval()
    points = torch.tensor(POINTS, dtype=torch.float64)
    expected = task.location_encoder(points)
    torch.testing.assert_close(rebuilt.eval()(points), expected)
    torch.testing.assert_close(loaded(points), expected)
    torch.testing.assert_close(
        task(points), torch.nn.functional.normalize(expected, dim=1)
    )
    torch.save({'state_dict': {}}, tmp_path / 'other.ckpt')
    with pytest.raises(ValueError, match='not a CSPTask checkpoint'):
        load_location_encoder(tmp_path / 'other.ckpt')


def test_demo_config_runs_with_the_torchgeo_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the config's outputs/ go there
    torchgeo_main(
        [
            'fit',
            '--config',
            str(CONFIGS / 'csp' / 'demo.yaml'),
            '--trainer.fast_dev_run=1',
            f'--trainer.default_root_dir={tmp_path}',
            f'--data.init_args.root={tmp_path / "demo"}',
            '--data.init_args.tile_size=48',
            '--data.init_args.patch_size=24',
            '--data.init_args.batch_size=4',
            '--data.init_args.num_workers=0',
            '--data.init_args.holdout=null',  # tiles too small for the held-out grid
            '--model.init_args.hidden_dim=16',
            '--model.init_args.embed_dim=8',
        ]
    )


def test_s2100k_config_runs_with_the_torchgeo_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the config's outputs/ go there
    torchgeo_main(
        [
            'fit',
            '--config',
            str(CONFIGS / 'csp' / 's2100k.yaml'),
            '--trainer.fast_dev_run=1',
            '--trainer.accelerator=cpu',
            f'--trainer.default_root_dir={tmp_path}',
            f'--data.init_args.root={S2100K}',
            '--data.init_args.batch_size=3',
            '--data.init_args.num_workers=0',
            '--model.init_args.model=resnet18',
            '--model.init_args.weights=null',
            '--model.init_args.hidden_dim=16',
            '--model.init_args.embed_dim=8',
        ]
    )


def test_trains_on_fmow_sites(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parents[1] / 'data' / 'fmow'
    datamodule = FMoWDataModule(root=fixture, batch_size=2, size=32, geo_clusters=None)
    task = CSPTask(**{**SMALL, 'in_channels': 3, 'freeze_backbone': False})
    before = [p.detach().clone() for p in task.location_encoder.parameters()]
    trainer = Trainer(
        fast_dev_run=1, accelerator='cpu', logger=False, default_root_dir=tmp_path
    )
    trainer.fit(task, datamodule=datamodule)
    after = list(task.location_encoder.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))


def test_channels_last_gives_the_same_loss() -> None:
    losses = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        task, _ = logging_task(channels_last=channels_last, freeze_backbone=False)
        task.train()
        losses.append(task.training_step(batch(), 0))
    assert task.model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(losses[1], losses[0], atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_demo_config_runs_in_bf16_channels_last_with_the_torchgeo_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a non-finite loss would stop the run (NonFiniteError)
    monkeypatch.chdir(tmp_path)
    torchgeo_main(
        [
            'fit',
            '--config',
            str(CONFIGS / 'csp' / 'demo.yaml'),
            '--trainer.fast_dev_run=1',
            '--trainer.precision=bf16-mixed',
            '--model.init_args.channels_last=true',
            f'--trainer.default_root_dir={tmp_path}',
            f'--data.init_args.root={tmp_path / "demo"}',
            '--data.init_args.tile_size=48',
            '--data.init_args.patch_size=24',
            '--data.init_args.batch_size=4',
            '--data.init_args.num_workers=0',
            '--data.init_args.holdout=null',
            '--model.init_args.hidden_dim=16',
            '--model.init_args.embed_dim=8',
        ]
    )


def test_validation_logs_image_to_location_retrieval() -> None:
    task, logged = logging_task(freeze_backbone=False)
    task.eval()
    data = batch(views=2)
    with torch.no_grad():
        task.validation_step(data, 0)
        task.on_validation_epoch_end()
        # recomputed with plain torch: every view against every place's location
        backbone = task.model(data['image'].flatten(0, 1))
        images = torch.nn.functional.normalize(task.image_projection(backbone), dim=1)
        locations = task.location_encoder(data['point'])
    locations = locations / locations.norm(dim=1, keepdim=True)
    nearest = (images.double() @ locations.double().T).argmax(dim=1)
    expected = (nearest == torch.arange(4).repeat_interleave(2)).double().mean()
    assert float(logged['val_image_to_location_top1']) == pytest.approx(float(expected))
    assert float(logged['val_image_to_location_top1_chance']) == pytest.approx(0.25)


@pytest.mark.slow
def test_s2100k_validate_and_test_report_retrieval(tmp_path: Path) -> None:
    datamodule = S2100kDataModule(
        root=S2100K, batch_size=3, val_split_pct=0.34, test_split_pct=0.34
    )
    task = CSPTask(**{**SMALL, 'in_channels': 12})
    trainer = Trainer(accelerator='cpu', logger=False, default_root_dir=tmp_path)
    validated = trainer.validate(task, datamodule=datamodule)
    tested = trainer.test(task, datamodule=datamodule)
    assert set(validated[0]) == {
        'val_image_to_location_top1',
        'val_image_to_location_top1_chance',
    }
    assert validated[0]['val_image_to_location_top1_chance'] == pytest.approx(1 / 2)
    assert tested[0]['test_image_to_location_top1_chance'] == pytest.approx(1 / 2)

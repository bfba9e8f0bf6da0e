import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import timm
import torch
import torchvision.models._api
from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningCLI
from torch import Tensor, nn
from torch.utils.data import DataLoader
from torchgeo.datamodules import BaseDataModule
from torchgeo.main import main as torchgeo_main
from torchgeo.models import ResNet18_Weights, ResNet50_Weights
from torchgeo.tasks import BaseTask, MoCo

from torchgeo_geossl.datamodules import DemoDataModule
from torchgeo_geossl.export import export_backbone
from torchgeo_geossl.trainers import GeoMoCoTask
from torchgeo_geossl.trainers.momentum import MomentumContrastTask
from torchgeo_geossl.trainers.seco import SeCoTask

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
M = 0.5  # a small key momentum makes m^N and m far apart


def gassl() -> MomentumContrastTask:
    return GeoMoCoTask(
        model='resnet18',
        in_channels=3,
        size=16,
        queue_size=32,
        geo_classes=0,
        moco_momentum=M,
        lr=0.0,
        weight_decay=0.0,
        augmentation=nn.Identity(),
    )


def seco() -> MomentumContrastTask:
    return SeCoTask(
        model='resnet18',
        in_channels=3,
        size=16,
        queue_size=32,
        moco_momentum=M,
        lr=0.0,
        weight_decay=0.0,
        artificial=nn.Identity(),
        crop=nn.Identity(),
    )


def momentum_pairs(task: MomentumContrastTask) -> list[tuple[nn.Module, nn.Module]]:
    """(online, momentum) modules of a task."""
    if isinstance(task, GeoMoCoTask):
        return [
            (task.model, task.key_encoder),
            (task.projection_head, task.projection_head_momentum),
        ]
    assert isinstance(task, SeCoTask)
    return [
        (task.model, task.key_encoder),
        *zip(task.projection_heads, task.projection_heads_momentum, strict=True),
    ]


def loader(views: int, batches: int) -> DataLoader[dict[str, Tensor]]:
    generator = torch.Generator().manual_seed(0)
    samples = [
        {'image': torch.rand(views, 3, 16, 16, generator=generator)}
        for _ in range(4 * batches)
    ]
    return DataLoader(samples, batch_size=4)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ('build', 'views'), [(gassl, 2), (seco, 3)], ids=['gassl', 'seco']
)
@pytest.mark.parametrize(
    ('accumulate', 'batches', 'epochs', 'steps'),
    [
        (3, 3, 1, 1),  # one optimiser step of three micro-batches
        (3, 4, 2, 4),  # windows of 3 and 1 (cut by the epoch's end), two epochs
        (1, 3, 1, 3),  # no accumulation: one update per batch
    ],
)
def test_key_encoder_moves_once_per_optimiser_step(
    build: Any, views: int, accumulate: int, batches: int, epochs: int, steps: int
) -> None:
    task = build()
    pairs = momentum_pairs(task)
    # start the momentum side away from the online side; lr = 0 and no weight
    # decay keep the online side fixed, so the EMA's effect is visible exactly
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _, momentum in pairs:
            for p in momentum.parameters():
                p.copy_(torch.randn(p.shape, generator=generator))
    online0 = [[p.detach().clone() for p in o.parameters()] for o, _ in pairs]
    key0 = [[p.detach().clone() for p in k.parameters()] for _, k in pairs]
    trainer = Trainer(
        max_epochs=epochs,
        accumulate_grad_batches=accumulate,
        accelerator='cpu',
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        trainer.fit(task, train_dataloaders=loader(views, batches))
    assert trainer.global_step == steps
    # θ_k ← m θ_k + (1 − m) θ_q once per optimiser step, with θ_q constant:
    # after s steps θ_k = m^s θ_k0 + (1 − m^s) θ_q
    decay = M**steps
    for (online, momentum), q_params, k_params in zip(
        pairs, online0, key0, strict=True
    ):
        for q_now, q, k_now, k in zip(
            online.parameters(), q_params, momentum.parameters(), k_params, strict=True
        ):
            assert torch.equal(q_now, q)  # lr = 0: the query side did not move
            expected = decay * k + (1 - decay) * q
            torch.testing.assert_close(k_now, expected, rtol=1e-6, atol=1e-6)


def test_ema_step_survives_a_checkpoint() -> None:
    task = gassl()
    task.ema_step = 7
    checkpoint: dict[str, Any] = {'state_dict': {}}
    task.on_save_checkpoint(checkpoint)
    restored = gassl()
    restored.on_load_checkpoint(checkpoint)
    assert restored.ema_step == 7


def lr_per_epoch(task: MomentumContrastTask, max_epochs: int) -> list[float]:
    """The learning rate of each epoch, stepping the scheduler as Lightning does."""
    task.trainer = Trainer(max_epochs=max_epochs, accelerator='cpu', logger=False)
    config = cast(dict[str, Any], task.configure_optimizers())
    optimizer, scheduler = config['optimizer'], config['lr_scheduler']
    rates = []
    for _ in range(max_epochs):
        rates.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        scheduler.step()
    return rates


def test_seco_default_schedule_is_the_reference_step_schedule() -> None:
    # pl_bolts MocoLRScheduler: lr = 0.03 · 0.1^(#milestones ≤ epoch), (120, 160)
    task = SeCoTask(model='resnet18', queue_size=32)
    rates = lr_per_epoch(task, 200)
    for epoch, rate in enumerate(rates):
        expected = (
            0.03 * (0.1 if epoch >= 120 else 1.0) * (0.1 if epoch >= 160 else 1.0)
        )
        assert math.isclose(rate, expected, rel_tol=1e-9), epoch


def test_default_milestones_scale_with_max_epochs() -> None:
    task = SeCoTask(model='resnet18', queue_size=32)
    rates = lr_per_epoch(task, 10)  # 60 % and 80 % of 10 epochs
    expected = [0.03] * 6 + [0.003] * 2 + [0.0003] * 2
    for rate, value in zip(rates, expected, strict=True):
        assert math.isclose(rate, value, rel_tol=1e-9)


def test_gassl_default_schedule_is_cosine_per_epoch() -> None:
    # MoCo/GASSL --cos: lr · ½(1 + cos(π e / E)) at the start of epoch e
    task = GeoMoCoTask(model='resnet18', queue_size=32, geo_classes=0)
    rates = lr_per_epoch(task, 20)
    for epoch, rate in enumerate(rates):
        expected = 0.03 * 0.5 * (1 + math.cos(math.pi * epoch / 20))
        assert math.isclose(rate, expected, rel_tol=1e-6, abs_tol=1e-12), epoch


def test_explicit_milestones_after_the_last_epoch_warn() -> None:
    task = SeCoTask(model='resnet18', queue_size=32, milestones=(2, 30))
    with pytest.warns(
        UserWarning, match=r'milestones \[30\] lie at or after max_epochs=5'
    ):
        rates = lr_per_epoch(task, 5)
    assert [round(r, 6) for r in rates] == [0.03, 0.03, 0.003, 0.003, 0.003]


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'milestones': (160, 120)}, 'milestones must be None'),
        ({'milestones': (0, 10)}, 'milestones must be None'),
        ({'schedule': 'constant'}, "schedule must be 'cosine' or 'step'"),
    ],
)
def test_bad_schedules(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SeCoTask(model='resnet18', queue_size=32, **kwargs)


@pytest.mark.parametrize('build', [gassl, seco], ids=['gassl', 'seco'])
def test_tasks_build_torchvision_initialised_encoders(build: Any) -> None:
    task = build()
    for module in task.model.modules():
        if isinstance(module, nn.BatchNorm2d):
            assert torch.equal(module.weight, torch.ones_like(module.weight))


# weights=: the sources are real files of each kind, compared tensor by tensor with
# what the task holds afterwards (query and key sides)

GASSL_SMALL: dict[str, Any] = {
    'model': 'resnet18',
    'in_channels': 4,
    'size': 16,
    'queue_size': 32,
    'geo_classes': 3,
}
SECO_SMALL: dict[str, Any] = {
    'model': 'resnet18',
    'in_channels': 4,
    'size': 16,
    'queue_size': 32,
}


def save_checkpoint(module: nn.Module, path: Path) -> dict[str, Tensor]:
    """Save a Lightning checkpoint of *module*, every tensor moved from its init.

    Every parameter and float buffer (batch-norm statistics, queues) is redrawn.

    Returns:
        The checkpoint's state dict, as read back from the file.
    """
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator))
        for b in module.buffers():
            if b.is_floating_point():
                b.copy_(torch.rand(b.shape, generator=generator) + 0.5)
    trainer = Trainer(accelerator='cpu', logger=False, enable_checkpointing=False)
    trainer.strategy.connect(module)  # type: ignore[arg-type]
    trainer.save_checkpoint(path)
    state: dict[str, Tensor] = torch.load(path, weights_only=True)['state_dict']
    return state


def assert_holds(module: nn.Module, source: dict[str, Tensor], prefix: str) -> None:
    """Every tensor of *module* equals the source's under *prefix*."""
    own = module.state_dict()
    assert own
    for key, value in own.items():
        assert torch.equal(value, source[prefix + key]), prefix + key


def assert_differs(module: nn.Module, source: dict[str, Tensor], prefix: str) -> None:
    """No weight tensor of *module* equals the source's under *prefix*."""
    for key, value in module.state_dict().items():
        if value.is_floating_point() and value.numel() > 1:
            assert not torch.equal(value, source[prefix + key]), prefix + key


def not_loaded_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if 'NOT loaded' in str(w.message)]


@pytest.mark.parametrize(
    ('cls', 'kwargs', 'heads'),
    [
        (GeoMoCoTask, GASSL_SMALL, 'projection_head'),
        (SeCoTask, SECO_SMALL, 'projection_heads'),
    ],
    ids=['gassl', 'seco'],
)
def test_weights_from_a_checkpoint_of_the_same_task(
    tmp_path: Path, cls: Any, kwargs: dict[str, Any], heads: str
) -> None:
    path = tmp_path / 'source.ckpt'
    source = save_checkpoint(cls(**kwargs), path)
    fresh = cls(**kwargs)
    assert_differs(fresh.model, source, 'model.')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        task = cls(**kwargs, weights=str(path))
    assert not not_loaded_warnings(caught)
    assert_holds(task.model, source, 'model.')
    assert_holds(task.key_encoder, source, 'model.')
    assert_holds(getattr(task, heads), source, f'{heads}.')
    assert_holds(getattr(task, f'{heads}_momentum'), source, f'{heads}.')
    assert (
        task.model.conv1.weight.data_ptr() != task.key_encoder.conv1.weight.data_ptr()
    )
    # the queues (and GASSL's geo head) belong to the source's data: not loaded
    for name in ('queue', 'geo_head', 'queues'):
        if hasattr(task, name):
            assert_differs(getattr(task, name), source, f'{name}.')
    # weights are not a hyperparameter: the task's own checkpoints load without them
    assert 'weights' not in task.hparams
    own = tmp_path / 'own.ckpt'
    trainer = Trainer(accelerator='cpu', logger=False, enable_checkpointing=False)
    trainer.strategy.connect(task)
    trainer.save_checkpoint(own)
    path.unlink()
    restored = cls.load_from_checkpoint(own)
    assert_holds(restored.model, source, 'model.')


def test_weights_from_an_exported_backbone(tmp_path: Path) -> None:
    path = tmp_path / 'gassl.ckpt'
    save_checkpoint(GeoMoCoTask(**GASSL_SMALL), path)
    weights, _ = export_backbone(path, tmp_path / 'backbone.pth')
    # the exported file's plain timm names (geossl-export's format)
    backbone = torch.load(weights, weights_only=True)['state_dict_ema']
    with pytest.warns(
        UserWarning,
        match="SeCoTask\\(weights='.*backbone.pth'\\): loaded the resnet18 encoder "
        f'\\({len(backbone)} tensors\\) of the checkpoint .*backbone.pth into the query '
        'and key encoders. NOT loaded, left at their random initialisation: '
        'projection_heads \\(not in the weights: .*\\). queues starts afresh',
    ):
        task = SeCoTask(**SECO_SMALL, weights=str(weights))
    assert_holds(task.model, backbone, '')
    assert_holds(task.key_encoder, backbone, '')
    # the heads keep their random initialisation, key heads equal to query heads
    assert_holds(
        task.projection_heads_momentum,
        {f'p.{k}': v for k, v in task.projection_heads.state_dict().items()},
        'p.',
    )


def test_weights_from_a_torchgeo_moco_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / 'moco.ckpt'
    moco = MoCo(
        model='resnet18',
        in_channels=4,
        version=2,
        layers=2,
        hidden_dim=512,
        output_dim=128,
        memory_bank_size=32,
        size=16,
    )
    source = save_checkpoint(moco, path)
    task = GeoMoCoTask(**GASSL_SMALL, weights=str(path))
    assert_holds(task.model, source, 'backbone.')
    assert_holds(task.key_encoder, source, 'backbone.')
    assert_holds(task.projection_head, source, 'projection_head.')
    assert_holds(task.projection_head_momentum, source, 'projection_head.')


def test_heads_of_other_shapes_are_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / 'source.ckpt'
    source = save_checkpoint(GeoMoCoTask(**GASSL_SMALL, output_dim=64), path)
    with pytest.warns(
        UserWarning,
        match='NOT loaded, left at their random initialisation: projection_head '
        "\\(it differs from this task's: projection_head.layers.2.weight: \\[64, "
        '512\\] in the weights, \\[128, 512\\] here',
    ):
        task = GeoMoCoTask(**GASSL_SMALL, weights=str(path))
    assert_holds(task.model, source, 'model.')
    assert_holds(task.key_encoder, source, 'model.')


def local_enum(
    enum: Any, path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Tensor]:
    """Serve a weight enum from a local file in its format (timm model with fc)."""
    torch.manual_seed(3)
    net = timm.create_model(enum.meta['model'], in_chans=enum.meta['in_chans'])
    state = net.state_dict()
    torch.save(state, path)
    monkeypatch.setattr(enum.value, 'url', str(path))

    def load(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = torch.load(url, weights_only=True)
        return loaded

    monkeypatch.setattr(torchvision.models._api, 'load_state_dict_from_url', load)
    return state


@pytest.mark.parametrize(
    ('cls', 'enum', 'kwargs', 'heads', 'as_name'),
    [
        (
            SeCoTask,
            ResNet18_Weights.SENTINEL2_RGB_SECO,
            {**SECO_SMALL, 'in_channels': 3},
            'projection_heads',
            False,
        ),
        (
            SeCoTask,
            ResNet18_Weights.SENTINEL2_RGB_SECO,
            {**SECO_SMALL, 'in_channels': 3},
            'projection_heads',
            True,
        ),
        (
            GeoMoCoTask,
            ResNet50_Weights.FMOW_RGB_GASSL,
            {**GASSL_SMALL, 'model': 'resnet50', 'in_channels': 3},
            'projection_head',
            True,
        ),
    ],
    ids=['seco-member', 'seco-name', 'gassl-name'],
)
def test_weights_from_a_torchgeo_weight_enum(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cls: Any,
    enum: Any,
    kwargs: dict[str, Any],
    heads: str,
    as_name: bool,
) -> None:
    source = local_enum(enum, tmp_path / 'enum.pth', monkeypatch)
    with pytest.warns(
        UserWarning,
        match=f'of the weight enum {enum} into the query and key encoders; left '
        'out the classifier \\(fc.bias and fc.weight\\). NOT loaded, left at their '
        f'random initialisation: {heads} \\(not in the weights',
    ):
        task = cls(**kwargs, weights=str(enum) if as_name else enum)
    assert_holds(task.model, source, '')
    assert_holds(task.key_encoder, source, '')


def test_weights_mismatch_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / 'source.ckpt'
    save_checkpoint(GeoMoCoTask(**GASSL_SMALL), path)
    with pytest.raises(
        ValueError,
        match=f"SeCoTask\\(weights='{path}'\\): the checkpoint {path} takes 4 input "
        'channels',
    ):
        SeCoTask(**{**SECO_SMALL, 'in_channels': 3}, weights=str(path))
    with pytest.raises(
        ValueError,
        match=f"checkpoint {path} \\(it declares model='resnet18'\\) does not hold a "
        'resnet34 encoder, the architectures differ: .* are missing',
    ):
        SeCoTask(**{**SECO_SMALL, 'model': 'resnet34'}, weights=str(path))


def test_weights_true_from_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # `--model.init_args.weights=true` must reach the task as True (timm's weights),
    # not as the string 'true'
    torch.manual_seed(4)
    state = timm.create_model('resnet18', in_chans=4, num_classes=0).state_dict()
    create = timm.create_model

    def pretrained(name: str, **kwargs: Any) -> nn.Module:
        load = kwargs.pop('pretrained', False)
        net = create(name, **kwargs)
        if load:
            net.load_state_dict(state)
        return net

    monkeypatch.setattr(timm, 'create_model', pretrained)
    cli = LightningCLI(
        model_class=BaseTask,
        datamodule_class=BaseDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        run=False,
        save_config_callback=None,
        args=[
            '--model=torchgeo_geossl.trainers.SeCoTask',
            '--model.init_args.in_channels=4',
            '--model.init_args.queue_size=8',
            '--model.init_args.weights=true',
            '--data=torchgeo_geossl.datamodules.DemoDataModule',
            '--trainer.logger=false',
        ],
    )
    task = cast(SeCoTask, cli.model)
    assert task.weights is True
    assert_holds(task.model, state, '')
    assert_holds(task.key_encoder, state, '')


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('demo')
    DemoDataModule(root=root, tile_size=64).prepare_data()
    return root


def record_fit_start(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Tensor]]:
    """Record the query and key encoders' tensors when fit starts."""
    seen: list[dict[str, Tensor]] = []
    on_fit_start = MomentumContrastTask.on_fit_start

    def record(self: MomentumContrastTask) -> None:
        seen.append({k: v.clone() for k, v in self.model.state_dict().items()})
        seen.append({k: v.clone() for k, v in self.key_encoder.state_dict().items()})
        on_fit_start(self)

    monkeypatch.setattr(MomentumContrastTask, 'on_fit_start', record)
    return seen


CLI_ARGS = [
    '--trainer.fast_dev_run=1',
    '--trainer.accelerator=cpu',
    '--data.init_args.tile_size=64',
    '--data.init_args.patch_size=32',
    '--data.init_args.batch_size=4',
    '--data.init_args.num_workers=0',
    '--model.init_args.size=24',
    '--model.init_args.queue_size=64',
]


@pytest.mark.slow
def test_weights_from_yaml_through_the_torchgeo_cli(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / 'gassl.ckpt'
    save_checkpoint(GeoMoCoTask(**GASSL_SMALL), path)
    weights, _ = export_backbone(path, tmp_path / 'backbone.pth')
    overlay = tmp_path / 'weights.yaml'
    overlay.write_text(f'model:\n  init_args:\n    weights: {weights}\n')
    seen = record_fit_start(monkeypatch)
    monkeypatch.chdir(tmp_path)
    torchgeo_main(
        [
            'fit',
            '--config',
            str(CONFIGS / 'demo.yaml'),
            '--config',
            str(overlay),
            *CLI_ARGS,
            f'--trainer.default_root_dir={tmp_path}',
            f'--data.init_args.root={demo_root}',
            '--data.init_args.holdout=null',
        ]
    )
    backbone = torch.load(weights, weights_only=True)['state_dict_ema']
    assert len(seen) == 2
    for state in seen:
        assert state.keys() == backbone.keys()
        for key, value in state.items():
            assert torch.equal(value, backbone[key]), key


@pytest.mark.slow
def test_weight_enum_name_through_the_torchgeo_cli(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enum = ResNet18_Weights.SENTINEL2_RGB_SECO
    source = local_enum(enum, tmp_path / 'enum.pth', monkeypatch)
    seen = record_fit_start(monkeypatch)
    monkeypatch.chdir(tmp_path)
    with pytest.warns(UserWarning, match=f'weight enum {enum} into the query and key'):
        torchgeo_main(
            [
                'fit',
                '--config',
                str(CONFIGS / 'seco' / 'demo.yaml'),
                *CLI_ARGS,
                f'--trainer.default_root_dir={tmp_path}',
                f'--data.init_args.root={demo_root}',
                '--data.dict_kwargs.bands=[red, green, blue]',
                '--model.init_args.in_channels=3',
                f'--model.init_args.weights={enum}',
            ]
        )
    assert len(seen) == 2
    for state in seen:
        for key, value in state.items():
            assert torch.equal(value, source[key]), key


@pytest.mark.parametrize('make', [gassl, seco])
def test_bn_groups_default_to_the_reference_batch_per_gpu(
    make: Callable[[], MomentumContrastTask],
) -> None:
    # the reference runs: 256 samples over 8 GPUs, 32 per GPU's batch norm
    task = make()
    assert task.hparams['bn_splits'] is None
    assert [task.bn_groups(b) for b in (8, 32, 63, 64, 100, 256)] == [1, 1, 1, 2, 3, 8]
    task.hparams['bn_splits'] = 4
    assert task.bn_groups(256) == 4


@pytest.fixture(params=[gassl, seco], ids=['gassl', 'seco'])
def four_groups(request: pytest.FixtureRequest) -> tuple[MomentumContrastTask, Tensor]:
    """A task in training mode with 4 batch-norm groups, and a batch of 8 images."""
    task: MomentumContrastTask = request.param()
    task.hparams['bn_splits'] = 4
    task.train()
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    return task, x


def test_queries_are_normalised_within_their_group(
    four_groups: tuple[MomentumContrastTask, Tensor],
) -> None:
    # with 4 groups of a batch of 8, the features of samples 0-1 depend on samples
    # 0-1 only: changing samples 2-7 leaves them unchanged (one GPU of four)
    task, x = four_groups
    y = x.clone()
    y[2:] = 3 * torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        first, second = task(x), task(y)
    torch.testing.assert_close(first[:2], second[:2])
    assert not torch.allclose(first[2:], second[2:])
    # one group: every feature depends on the whole batch (per-view BN)
    task.hparams['bn_splits'] = 1
    with torch.no_grad():
        assert not torch.allclose(task(x)[:2], task(y)[:2])


def test_keys_are_normalised_with_a_random_group(
    four_groups: tuple[MomentumContrastTask, Tensor],
) -> None:
    # shuffling BN on one device: a key's statistics come from a random group of
    # the key batch, so the samples a key sits with change from draw to draw
    task, x = four_groups
    torch.manual_seed(0)
    keys = [task.encode_keys(x) for _ in range(4)]
    assert any(not torch.allclose(keys[0][:2], other[:2]) for other in keys[1:])
    # each key equals the key encoder applied to its own group of 2 after the draw
    torch.manual_seed(3)
    order = torch.randperm(8)
    torch.manual_seed(3)
    shuffled = task.encode_keys(x)
    with torch.no_grad():
        for group in order.tensor_split(4):
            torch.testing.assert_close(
                shuffled[group], task.key_encoder(x[group]), rtol=1e-5, atol=1e-5
            )


@pytest.mark.parametrize('splits', [0, -2, True, 1.5])
def test_bad_bn_splits(splits: Any) -> None:
    with pytest.raises(
        ValueError,
        match=r'bn_splits must be None \(groups of 32 samples\) or a positive',
    ):
        GeoMoCoTask(model='resnet18', queue_size=32, geo_classes=0, bn_splits=splits)

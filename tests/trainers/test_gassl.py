import math
import warnings
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningCLI
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import Tensor
from torchgeo.datamodules import BaseDataModule
from torchgeo.main import main as torchgeo_main
from torchgeo.tasks import BaseTask

from torchgeo_geossl.datamodules import DemoDataModule
from torchgeo_geossl.location import GeoClusters
from torchgeo_geossl.trainers import GeoMoCoTask

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
# one batch-norm group: these tests look at whole batches entering the encoders
# (the groups of bn_splits are tested in tests/trainers/test_momentum.py)
SMALL = {
    'model': 'resnet18',
    'in_channels': 4,
    'size': 16,
    'queue_size': 32,
    'bn_splits': 1,
}


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('demo')
    DemoDataModule(root=root, tile_size=64).prepare_data()
    return root


def batch(
    b: int = 4, v: int = 2, c: int = 4, size: int = 24, label: bool = True
) -> dict[str, Tensor]:
    generator = torch.Generator().manual_seed(0)
    out = {
        'image': torch.rand(b, v, c, size, size, generator=generator),
        'time': torch.arange(b * v, dtype=torch.float64).reshape(b, v),
    }
    if label:
        out['label'] = torch.arange(b) % 3
    return out


def test_training_step_updates_queue_and_logs() -> None:
    task = GeoMoCoTask(**SMALL, geo_classes=3)
    before = task.queue.negatives.clone()
    loss = task.training_step(batch(), 0)
    assert torch.isfinite(loss)
    after = task.queue.negatives
    assert not torch.equal(before[:4], after[:4])  # 4 keys enqueued at the front
    assert torch.equal(before[4:], after[4:])
    torch.testing.assert_close(after[:4].norm(dim=1), torch.ones(4))


def infonce_reference(q: Tensor, k: Tensor, queue: Tensor, t: float) -> Tensor:
    """MoCo's InfoNCE (He et al. 2020, Eq. 1) written out in float64.

    Row i: -log(exp(q_i·k_i / t) / (exp(q_i·k_i / t) + Σ_n exp(q_i·n / t))).
    """
    q, k, queue = q.double(), k.double(), queue.double()
    positive = (q * k).sum(dim=1) / t
    negative = q @ queue.T / t
    total = positive.exp() + negative.exp().sum(dim=1)
    return (total.log() - positive).mean()


def cross_entropy_reference(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean of -log softmax(logits)[label], in float64."""
    logits = logits.double()
    picked = logits[torch.arange(len(labels)), labels]
    return (logits.exp().sum(dim=1).log() - picked).mean()


def test_loss_is_infonce_plus_geo_cross_entropy() -> None:
    # GASSL Eq. 4 with the reference code's head: L = InfoNCE(q, k, queue) / T
    # + geo_weight · CE(Linear(ReLU(z_q)), cluster), recomputed from the networks
    # with plain torch (tolerance 1e-5: the task computes in float32)
    torch.manual_seed(0)
    task = GeoMoCoTask(
        **SMALL, geo_classes=3, geo_weight=0.5, augmentation=torch.nn.Identity()
    )
    logged: dict[str, Tensor] = {}
    task.log = lambda name, value, **_: logged.__setitem__(name, torch.as_tensor(value))  # type: ignore[method-assign]
    data = batch()
    queue = task.queue.negatives.clone()
    loss = task.training_step(data, 0)
    assert task.geo_head is not None
    with torch.no_grad():
        z = task.projection_head(task.model(data['image'][:, 0]))
        q = z / z.norm(dim=1, keepdim=True)
        key = task.projection_head_momentum(task.key_encoder(data['image'][:, 1]))
        k = key / key.norm(dim=1, keepdim=True)
        linear = task.geo_head.layers[-1]
        geo_logits = z.clamp(min=0) @ linear.weight.T + linear.bias
    contrastive = infonce_reference(q, k, queue, 0.02)
    geo = cross_entropy_reference(geo_logits, data['label'])
    expected = contrastive + 0.5 * geo
    assert abs(float(loss.detach()) - float(expected)) < 1e-5
    assert abs(float(logged['train_contrastive_loss']) - float(contrastive)) < 1e-5
    assert abs(float(logged['train_geo_loss']) - float(geo)) < 1e-5
    # an untrained model is close to chance on both tasks
    assert abs(float(logged['train_geo_loss']) - math.log(3)) < 1.0
    assert 0 <= float(logged['train_contrastive_top1']) <= 1


def test_geo_head_reads_the_unnormalised_projection() -> None:
    task = GeoMoCoTask(**SMALL, geo_classes=3)
    seen: dict[str, Tensor] = {}
    task.projection_head.register_forward_hook(lambda m, i, o: seen.__setitem__('z', o))
    assert task.geo_head is not None
    task.geo_head.register_forward_hook(
        lambda m, i, o: seen.__setitem__('geo_in', i[0])
    )
    task.training_step(batch(), 0)
    assert torch.equal(seen['geo_in'], seen['z'])
    assert not torch.allclose(seen['z'].norm(dim=1), torch.ones(4))


def test_key_view_is_the_other_acquisition() -> None:
    task = GeoMoCoTask(**SMALL, geo_classes=0, augmentation=torch.nn.Identity())
    inputs: list[Tensor] = []
    task.key_encoder.register_forward_hook(lambda m, i, o: inputs.append(i[0]))
    data = batch(label=False)
    task.training_step(data, 0)
    assert torch.equal(inputs[0], data['image'][:, 1])


def test_without_temporal_positives_key_is_the_same_image() -> None:
    task = GeoMoCoTask(
        **SMALL, temporal=False, geo_classes=0, augmentation=torch.nn.Identity()
    )
    inputs: list[Tensor] = []
    task.key_encoder.register_forward_hook(lambda m, i, o: inputs.append(i[0]))
    data = batch(label=False)
    task.training_step(data, 0)
    assert torch.equal(inputs[0], data['image'][:, 0])


def test_channel_stacked_layout() -> None:
    task = GeoMoCoTask(**SMALL, geo_classes=0, augmentation=torch.nn.Identity())
    inputs: list[Tensor] = []
    task.key_encoder.register_forward_hook(lambda m, i, o: inputs.append(i[0]))
    data = batch(label=False)
    stacked = {
        'image': data['image'].flatten(1, 2)
    }  # [B, 2C, H, W] as TorchGeo's SSL datamodules
    assert torch.isfinite(task.training_step(stacked, 0))
    assert torch.equal(inputs[0], data['image'][:, 1])


def test_single_view_falls_back_and_warns_once() -> None:
    task = GeoMoCoTask(**SMALL, geo_classes=0)
    logged: dict[str, Tensor] = {}
    task.log = lambda name, value, **_: logged.__setitem__(name, torch.as_tensor(value))  # type: ignore[method-assign]
    with pytest.warns(UserWarning, match='single view'):
        task.training_step(batch(v=1, label=False), 0)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        task.training_step(batch(v=1, label=False), 1)
    assert float(logged['train_single_date_fraction']) == 1.0
    assert task.single_date_samples == 8


def test_repeated_dates_are_counted() -> None:
    task = GeoMoCoTask(**SMALL, geo_classes=0)
    logged: dict[str, Tensor] = {}
    task.log = lambda name, value, **_: logged.__setitem__(name, torch.as_tensor(value))  # type: ignore[method-assign]
    data = batch(label=False)
    data['time'][:2, 1] = data['time'][:2, 0]
    task.training_step(data, 0)
    assert float(logged['train_single_date_fraction']) == 0.5


def test_in_channels_mismatch() -> None:
    task = GeoMoCoTask(**SMALL, geo_classes=0)
    with pytest.raises(ValueError, match='in_channels=4.*\\[4, 2, 3, 24, 24\\]'):
        task.training_step(batch(c=3, label=False), 0)


def test_geo_head_without_targets() -> None:
    task = GeoMoCoTask(**SMALL, geo_classes=3)
    with pytest.raises(ValueError, match="neither 'point' nor 'label'"):
        task.training_step(batch(label=False), 0)


def test_labels_from_points_with_clusters() -> None:
    clusters = GeoClusters(num_clusters=2, seed=0).fit(
        torch.tensor([[0.0, 0.0], [1.0, 1.0], [120.0, 40.0], [121.0, 41.0]])
    )
    task = GeoMoCoTask(**SMALL, geo_classes=2, geo_clusters=clusters)
    data = batch(label=False)
    data['point'] = torch.tensor([[0.5, 0.5], [120.5, 40.5]] * 2, dtype=torch.float64)
    labels = task.geo_labels(data)
    torch.testing.assert_close(labels, clusters.predict(data['point']))
    assert labels[0] != labels[1]


def test_bad_hyperparameters() -> None:
    with pytest.raises(ValueError, match='queue_size'):
        GeoMoCoTask(**{**SMALL, 'queue_size': 0})
    with pytest.raises(ValueError, match='geo_classes'):
        GeoMoCoTask(**SMALL, geo_classes=-1)


def test_queue_size_not_a_multiple_of_the_batch() -> None:
    task = GeoMoCoTask(**{**SMALL, 'queue_size': 10}, geo_classes=0)
    for i in range(3):  # 3 × 4 keys wrap around a queue of 10
        task.training_step(batch(label=False), i)
    assert int(task.queue.ptr) == 2


def _fit(root: Path, tmp_path: Path, **task_kwargs: object) -> tuple[GeoMoCoTask, Path]:
    datamodule = DemoDataModule(
        root=root, tile_size=64, patch_size=32, batch_size=4, length=8, geo_clusters=4
    )
    task = GeoMoCoTask(**{**SMALL, **task_kwargs})  # type: ignore[arg-type]
    trainer = Trainer(
        max_epochs=1,
        accelerator='cpu',
        logger=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=datamodule)
    ckpt = tmp_path / 'task.ckpt'
    trainer.save_checkpoint(ckpt)
    return task, ckpt


def test_resume_restores_queue_and_clusters(demo_root: Path, tmp_path: Path) -> None:
    task, ckpt = _fit(demo_root, tmp_path, geo_classes=4)
    assert task.geo_clusters is not None
    restored = GeoMoCoTask.load_from_checkpoint(ckpt)
    assert torch.equal(restored.queue.negatives, task.queue.negatives)
    assert int(restored.queue.ptr) == int(task.queue.ptr) == 8 % 32
    assert restored.geo_clusters is not None
    assert torch.equal(restored.geo_clusters.centroids, task.geo_clusters.centroids)

    # resuming training through Lightning restores the queue and clusters, then trains on
    datamodule = DemoDataModule(
        root=demo_root,
        tile_size=64,
        patch_size=32,
        batch_size=4,
        length=8,
        geo_clusters=4,
    )
    resumed = GeoMoCoTask(**SMALL, geo_classes=4)
    seen: list[Tensor] = []
    resumed.on_train_epoch_start = lambda: seen.append(resumed.queue.negatives)  # type: ignore[method-assign]
    trainer = Trainer(
        max_epochs=2,
        accelerator='cpu',
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(resumed, datamodule=datamodule, ckpt_path=ckpt)
    assert torch.equal(seen[0], task.queue.negatives)
    assert resumed.geo_clusters is not None
    assert torch.equal(resumed.geo_clusters.centroids, task.geo_clusters.centroids)
    assert int(resumed.queue.ptr) == 16 % 32

    # a task configured differently is refused before any tensor is loaded
    other = GeoMoCoTask(**{**SMALL, 'queue_size': 64}, geo_classes=4)
    with pytest.raises(ValueError, match='queue_size'):
        trainer.fit(other, datamodule=datamodule, ckpt_path=ckpt)

    checkpoint = torch.load(ckpt, weights_only=True)
    with pytest.raises(
        ValueError, match='queue.*\\[32, 128\\] in the checkpoint, \\[64, 128\\] here'
    ):
        GeoMoCoTask(**{**SMALL, 'queue_size': 64}, geo_classes=4).on_load_checkpoint(
            checkpoint
        )
    with pytest.raises(ValueError, match='geo_head'):
        GeoMoCoTask(**SMALL, geo_classes=5).on_load_checkpoint(checkpoint)


@pytest.mark.parametrize(
    'name', ['moco_v2', 'moco_v2_geo', 'moco_v2_tp', 'moco_v2_tp_geo']
)
def test_table1_configs_run_with_the_torchgeo_cli(
    name: str, demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the config's outputs/ go there
    args = [
        'fit',
        '--config',
        str(CONFIGS / 'gassl' / f'{name}.yaml'),
        '--trainer.fast_dev_run=1',
        '--trainer.accelerator=cpu',
        f'--trainer.default_root_dir={tmp_path}',
        '--model.init_args.model=resnet18',
        '--model.init_args.size=24',
        '--model.init_args.queue_size=64',
        f'--data.init_args.root={demo_root}',
        '--data.init_args.tile_size=64',
        '--data.init_args.patch_size=32',
        '--data.init_args.batch_size=4',
        '--data.init_args.num_workers=0',
    ]
    torchgeo_main(args)


def test_demo_config_runs_with_the_torchgeo_cli(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(
        tmp_path
    )  # the config's logger and checkpoints use relative paths
    args = [
        'fit',
        '--config',
        str(CONFIGS / 'demo.yaml'),
        '--trainer.fast_dev_run=1',
        f'--trainer.default_root_dir={tmp_path}',
        f'--data.init_args.root={demo_root}',
        '--data.init_args.tile_size=64',
        '--data.init_args.patch_size=32',
        '--data.init_args.batch_size=4',
        '--data.init_args.num_workers=0',
        '--data.init_args.holdout=null',  # tiles too small for the held-out grid
        '--model.init_args.size=24',
    ]
    torchgeo_main(args)


@pytest.mark.parametrize(
    ('name', 'temporal', 'geo_classes', 'views'),
    [
        ('moco_v2', False, 0, 1),
        ('moco_v2_geo', False, 10, 1),
        ('moco_v2_tp', True, 0, 2),
        ('moco_v2_tp_geo', True, 10, 2),
    ],
)
def test_table1_configs_build_the_paper_settings(
    name: str, temporal: bool, geo_classes: int, views: int
) -> None:
    cli = LightningCLI(
        model_class=BaseTask,
        datamodule_class=BaseDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        run=False,
        args=['--config', str(CONFIGS / 'gassl' / f'{name}.yaml')],
    )
    task, data = cli.model, cli.datamodule
    assert isinstance(task, GeoMoCoTask)
    assert isinstance(data, DemoDataModule)
    assert task.hparams['temporal'] is temporal
    assert task.hparams['geo_classes'] == geo_classes
    assert data.views == views
    assert data.num_geo_clusters == geo_classes
    # published hyperparameters
    assert task.hparams['model'] == 'resnet50'
    assert task.queue.negatives.shape == (65_536, 128)
    assert task.hparams['temperature'] == 0.02
    assert task.hparams['moco_momentum'] == 0.999
    assert task.hparams['lr'] == 0.03
    assert task.hparams['lr_batch_size'] == 256
    assert cli.trainer.max_epochs == 200


def test_demo_config_normalises_reflectance() -> None:
    cli = LightningCLI(
        model_class=BaseTask,
        datamodule_class=BaseDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        run=False,
        args=['--config', str(CONFIGS / 'demo.yaml')],
    )
    assert isinstance(cli.datamodule, DemoDataModule)
    assert cli.datamodule.std.tolist() == [10_000.0]
    assert cli.model.hparams['temporal'] is True
    assert cli.model.hparams['geo_classes'] == 4


def test_any_dataset_through_yaml(tmp_path: Path) -> None:
    config = tmp_path / 'real.yaml'
    config.write_text(
        f"""
model:
  class_path: torchgeo_geossl.trainers.GeoMoCoTask
  init_args: {{model: resnet18, in_channels: 4, geo_classes: 2, queue_size: 64, size: 16}}
data:
  class_path: torchgeo_geossl.datamodules.TemporalGeoDataModule
  init_args:
    dataset_class: torchgeo_geossl.datasets.DemoTimeSeries
    batch_size: 2
    patch_size: 8
    length: 4
    min_gap: 30D
    geo_clusters: 2
    std: 10000.0
  dict_kwargs:
    paths: {Path(__file__).resolve().parents[1] / 'data' / 'demo'}
"""
    )
    torchgeo_main(
        [
            'fit',
            '--config',
            str(config),
            '--trainer.fast_dev_run=1',
            '--trainer.accelerator=cpu',
            f'--trainer.default_root_dir={tmp_path}',
        ]
    )


def test_points_without_clusters_are_not_replaced_by_class_labels() -> None:
    task = GeoMoCoTask(**SMALL, geo_classes=3)
    data = batch()  # 'label' holds class ids here, as fMoW's categories
    data['point'] = torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(
        ValueError,
        match='no geo-clusters were fitted: give the data module geo_clusters=3',
    ):
        task.geo_labels(data)


@pytest.mark.slow
def test_demo_config_logs_to_tensorboard_and_csv(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fast_dev_run would replace the loggers: two real steps instead
    monkeypatch.chdir(tmp_path)
    torchgeo_main(
        [
            'fit',
            '--config',
            str(CONFIGS / 'demo.yaml'),
            '--trainer.max_steps=2',
            '--trainer.max_epochs=1',
            '--trainer.log_every_n_steps=1',
            f'--data.init_args.root={demo_root}',
            '--data.init_args.tile_size=64',
            '--data.init_args.patch_size=32',
            '--data.init_args.batch_size=4',
            '--data.init_args.length=8',
            '--data.init_args.num_workers=0',
            '--data.init_args.holdout=null',
            '--model.init_args.size=24',
        ]
    )
    events = sorted((tmp_path / 'outputs' / 'demo' / 'tensorboard').rglob('events.*'))
    assert len(events) == 1
    accumulator = EventAccumulator(str(events[0]), size_guidance={'images': 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    assert {'train_loss', 'train_contrastive_loss', 'epoch'} <= set(tags['scalars'])
    assert len(accumulator.Scalars('train_loss')) == 2  # one per step
    assert tags['images'] == ['train_views']
    (image,) = accumulator.Images('train_views')
    assert image.step == 0
    assert image.width > 0
    assert image.encoded_image_string.startswith(b'\x89PNG')
    csv = sorted((tmp_path / 'outputs' / 'demo' / 'gassl').rglob('metrics.csv'))
    assert len(csv) == 1
    assert 'train_loss' in csv[0].read_text().splitlines()[0]


def test_channels_last_gives_the_same_loss() -> None:
    losses = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        task = GeoMoCoTask(
            **SMALL,
            geo_classes=3,
            channels_last=channels_last,
            augmentation=torch.nn.Identity(),
        )
        losses.append(task.training_step(batch(), 0))
    assert task.model.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert task.key_encoder.conv1.weight.is_contiguous(
        memory_format=torch.channels_last
    )
    torch.testing.assert_close(losses[1], losses[0], atol=1e-5, rtol=1e-4)


def test_bf16_autocast_runs_the_encoders_in_bf16_with_a_close_loss() -> None:
    # what Lightning's precision='bf16-mixed' does around training_step; the
    # augmentation stays in float32 (MultiViewAugmentation disables autocast)
    losses = []
    dtypes: list[torch.dtype] = []

    def record(module: torch.nn.Module, args: object, out: Tensor) -> None:
        dtypes.append(out.dtype)

    for autocast in (False, True):
        torch.manual_seed(0)
        task = GeoMoCoTask(**SMALL, geo_classes=3, channels_last=autocast)
        task.augmentation.register_forward_hook(record)
        task.model.register_forward_hook(record)
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
            losses.append(task.training_step(batch(), 0))
    # float32: augmentation, encoder; autocast: augmentation float32, encoder bf16
    assert dtypes == [torch.float32] * 3 + [torch.bfloat16]
    assert torch.isfinite(losses[1])
    # bfloat16 keeps 8 significant bits: 2 % of the loss
    torch.testing.assert_close(losses[1].float(), losses[0], atol=0, rtol=0.02)


@pytest.mark.slow
def test_demo_config_runs_in_bf16_channels_last_with_the_torchgeo_cli(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a non-finite loss would stop the run (NonFiniteError)
    monkeypatch.chdir(tmp_path)
    args = [
        'fit',
        '--config',
        str(CONFIGS / 'demo.yaml'),
        '--trainer.fast_dev_run=1',
        '--trainer.precision=bf16-mixed',
        '--model.init_args.channels_last=true',
        f'--trainer.default_root_dir={tmp_path}',
        f'--data.init_args.root={demo_root}',
        '--data.init_args.tile_size=64',
        '--data.init_args.patch_size=32',
        '--data.init_args.batch_size=4',
        '--data.init_args.num_workers=0',
        '--data.init_args.holdout=null',
        '--model.init_args.size=24',
    ]
    torchgeo_main(args)


@pytest.mark.cuda
def test_bf16_channels_last_on_cuda_gives_a_close_loss() -> None:
    losses = []
    for fast in (False, True):
        torch.manual_seed(0)
        task = GeoMoCoTask(**SMALL, geo_classes=3, channels_last=fast).cuda()
        cuda_batch = {key: value.cuda() for key, value in batch().items()}
        with torch.autocast('cuda', dtype=torch.bfloat16, enabled=fast):
            losses.append(task.training_step(cuda_batch, 0).float())
    assert torch.isfinite(losses[1])
    torch.testing.assert_close(losses[1], losses[0], atol=0, rtol=0.02)


@pytest.mark.cuda
def test_demo_config_trains_on_the_gpu_in_bf16_channels_last(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [
        'fit',
        '--config',
        str(CONFIGS / 'demo.yaml'),
        '--trainer.accelerator=gpu',
        '--trainer.devices=1',
        '--trainer.fast_dev_run=2',
        '--trainer.precision=bf16-mixed',
        '--model.init_args.channels_last=true',
        f'--trainer.default_root_dir={tmp_path}',
        f'--data.init_args.root={demo_root}',
        '--data.init_args.tile_size=64',
        '--data.init_args.patch_size=32',
        '--data.init_args.batch_size=8',
        '--data.init_args.num_workers=0',
        '--data.init_args.holdout=null',
        '--model.init_args.size=24',
    ]
    torchgeo_main(args)

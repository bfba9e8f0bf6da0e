import inspect
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningCLI
from torch import Tensor, nn
from torchgeo.datamodules import BaseDataModule
from torchgeo.main import main as torchgeo_main
from torchgeo.tasks import BaseTask, Classification

from torchgeo_geossl.datamodules import DemoDataModule
from torchgeo_geossl.export import load_backbone
from torchgeo_geossl.losses import InfoNCELoss
from torchgeo_geossl.models import NegativeQueue
from torchgeo_geossl.trainers.seco import SeCoTask
from torchgeo_geossl.transforms import MultiViewAugmentation

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
# one batch-norm group: these tests look at whole batches entering the encoders
# (the groups of bn_splits are tested in tests/trainers/test_momentum.py)
SMALL: dict[str, Any] = {
    'model': 'resnet18',
    'in_channels': 4,
    'size': 16,
    'queue_size': 32,
    'bn_splits': 1,
}
MARK = 10.0  # what the test's artificial augmentation adds


class AddMark(nn.Module):
    """An 'artificial augmentation' that only marks the views it was applied to."""

    def forward(self, x: Tensor) -> Tensor:
        """Add MARK to every view."""
        return x + MARK


def traceable(**kwargs: Any) -> SeCoTask:
    """A small task whose augmentations keep the views recognisable."""
    return SeCoTask(**SMALL, artificial=AddMark(), crop=nn.Identity(), **kwargs)


def batch(b: int = 4, v: int = 3, c: int = 4, size: int = 24) -> dict[str, Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        'image': torch.rand(b, v, c, size, size, generator=generator),
        'time': torch.arange(b * v, dtype=torch.float64).reshape(b, v),
    }


def queue(task: SeCoTask, i: int) -> NegativeQueue:
    module = task.queues[i]
    assert isinstance(module, NegativeQueue)
    return module


class Recorder(InfoNCELoss):
    """InfoNCELoss that keeps the inputs and logits of every call."""

    def __init__(self, temperature: float) -> None:
        """Start with no recorded call."""
        super().__init__(temperature)
        self.calls: list[dict[str, Tensor]] = []

    def forward(
        self, query: Tensor, positive: Tensor, negatives: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Compute the loss and record the call."""
        loss, logits = super().forward(query, positive, negatives)
        self.calls.append(
            {
                'query': query.detach(),
                'positive': positive.detach(),
                'negatives': negatives.detach(),
                'logits': logits.detach(),
                'loss': loss.detach(),
            }
        )
        return loss, logits


def record(task: SeCoTask) -> Recorder:
    recorder = Recorder(task.hparams['temperature'])
    task.criterion = recorder
    return recorder


def same_rows(a: Tensor, b: Tensor) -> bool:
    """Whether a and b hold the same rows, in any order."""
    if a.shape != b.shape:
        return False
    distance = torch.cdist(a, b)
    return bool(
        (distance.min(dim=1).values < 1e-5).all()
        and (distance.min(dim=0).values < 1e-5).all()
    )


def test_logit_shapes_and_queries() -> None:
    task = traceable()
    recorder = record(task)
    features: list[Tensor] = []
    task.model.register_forward_hook(lambda m, i, o: features.append(o.detach()))
    queues_before = [queue(task, i).queue.clone() for i in range(3)]
    n, k = 4, 32
    task.training_step(batch(b=n), 0)
    assert len(recorder.calls) == 3
    assert recorder.calls[0]['logits'].shape == (n, 1 + k)
    assert recorder.calls[1]['logits'].shape == (n, 1 + k + 2 * n)
    assert recorder.calls[2]['logits'].shape == (n, 1 + k + 2 * n)
    for i, call in enumerate(recorder.calls):
        expected = F.normalize(task.projection_heads[i](features[0]), dim=1)
        torch.testing.assert_close(call['query'], expected)
        # the first K negatives are head i's own queue as it was before the step
        assert torch.equal(call['negatives'][:k], queues_before[i])
    assert not torch.equal(queues_before[0], queues_before[1])


def test_views_positives_and_extra_negatives() -> None:
    task = traceable()
    recorder = record(task)
    data = batch(b=6, v=5)
    images = data['image']
    query_inputs: list[Tensor] = []
    keys: list[tuple[Tensor, Tensor]] = []
    task.model.register_forward_hook(lambda m, i, o: query_inputs.append(i[0]))
    task.key_encoder.register_forward_hook(
        lambda m, i, o: keys.append((i[0], o.detach()))
    )
    queues_before = [queue(task, i).queue.clone() for i in range(3)]
    task.training_step(data, 0)

    def find(x: Tensor) -> tuple[int, bool, int]:
        """(sample, augmented, view index) of an encoder input row."""
        for b, views in enumerate(images):
            for v, view in enumerate(views):
                if torch.equal(x, view):
                    return b, False, v
                if torch.allclose(x, view + MARK):
                    return b, True, v
        raise AssertionError('the encoder input is none of the views')

    inputs = torch.cat([x for x, _ in keys])
    outputs = torch.cat([f for _, f in keys])
    n = images.shape[0]
    assert len(inputs) == 3 * n
    found = [find(x) for x in inputs]
    roles: dict[str, list[int]] = {'k0': [], 'k1': [], 'k2': []}
    for b in range(n):
        sample, augmented, t0 = find(query_inputs[0][b])
        assert sample == b
        assert not augmented  # q = t0, without the artificial augmentation
        mine = {row: (a, v) for row, (s, a, v) in enumerate(found) if s == b}
        by_role = {
            'k2': [r for r, (a, v) in mine.items() if a and v == t0],  # A(t0)
            'k1': [r for r, (a, v) in mine.items() if not a],  # t2
            'k0': [r for r, (a, v) in mine.items() if a and v != t0],  # A(t1)
        }
        assert all(len(rows) == 1 for rows in by_role.values()), mine
        t1, t2 = mine[by_role['k0'][0]][1], mine[by_role['k1'][0]][1]
        assert len({t0, t1, t2}) == 3  # three distinct seasons
        for role, rows in by_role.items():
            roles[role].append(rows[0])

    for i, call in enumerate(recorder.calls):
        head = task.projection_heads_momentum[i]
        embedded = {
            role: F.normalize(head(outputs[rows]), dim=1)
            for role, rows in roles.items()
        }
        torch.testing.assert_close(call['positive'], embedded[f'k{i}'])
        extras = call['negatives'][32:]
        if i == 0:
            assert len(extras) == 0
        else:
            others = [embedded[f'k{j}'] for j in range(3) if j != i]
            assert same_rows(extras, torch.cat(others))
        # queue i received head i's positive keys, and nothing else changed
        after = queue(task, i).queue
        torch.testing.assert_close(after[:n], embedded[f'k{i}'])
        assert torch.equal(after[n:], queues_before[i][n:])
        assert int(queue(task, i).ptr) == n


def test_seasons_are_distinct_and_cover_all_views() -> None:
    task = SeCoTask(**SMALL)
    torch.manual_seed(0)
    drawn = task.draw_seasons(3000, 5)
    assert drawn.shape == (3000, 3)
    ordered = drawn.sort(dim=1).values
    assert bool((ordered[:, 1:] != ordered[:, :-1]).all())  # no repeat in a sample
    assert set(drawn.unique().tolist()) == {0, 1, 2, 3, 4}
    counts = torch.bincount(drawn.flatten(), minlength=5).float() / len(drawn)
    torch.testing.assert_close(counts, torch.full((5,), 0.6), atol=0.04, rtol=0)
    assert len({tuple(row) for row in drawn.tolist()}) == 60  # 5 · 4 · 3 triples
    # with exactly three views, all three are used, in a random order per sample
    three = task.draw_seasons(200, 3)
    assert bool((three.sort(dim=1).values == torch.arange(3)).all())
    assert len({tuple(row) for row in three.tolist()}) == 6


def test_reference_season_draw_with_replacement() -> None:
    task = SeCoTask(**SMALL, season_replacement=True)
    torch.manual_seed(0)
    drawn = task.draw_seasons(20_000, 5)
    assert drawn.shape == (20_000, 3)
    distinct = drawn.sort(dim=1).values.diff(dim=1).ne(0).all(dim=1).float().mean()
    # np.random.choice(paths, 3): all three differ with probability 5·4·3 / 5³
    assert abs(float(distinct) - 60 / 125) < 0.015
    counts = torch.bincount(drawn.flatten(), minlength=5).float() / drawn.numel()
    torch.testing.assert_close(counts, torch.full((5,), 0.2), atol=0.01, rtol=0)


def test_fewer_than_three_views() -> None:
    task = traceable()
    with pytest.raises(
        ValueError,
        match=r'SeCo needs 3 distinct seasons per sample, the batch has V=2 '
        r'\(image \[4, 2, 4, 24, 24\]',
    ):
        task.training_step(batch(v=2), 0)
    with pytest.raises(ValueError, match='the batch has V=1'):
        task.training_step({'image': torch.rand(4, 4, 24, 24)}, 0)
    with pytest.raises(ValueError, match='the batch has V=2'):
        task.draw_seasons(4, 2)


@pytest.mark.parametrize('views', [3, 5])
def test_channel_stacked_layout(views: int) -> None:
    task = traceable()
    query_inputs: list[Tensor] = []
    task.model.register_forward_hook(lambda m, i, o: query_inputs.append(i[0]))
    data = batch(v=views)
    stacked = {'image': data['image'].flatten(1, 2)}  # [B, V·C, H, W]
    assert torch.isfinite(task.training_step(stacked, 0))
    for b, x in enumerate(query_inputs[0]):
        assert any(torch.equal(x, view) for view in data['image'][b])
    with pytest.raises(ValueError, match='in_channels=4'):
        task.training_step({'image': torch.rand(4, 3 * 3, 24, 24)}, 0)


def test_loss_is_the_sum_of_the_heads_and_logs() -> None:
    task = SeCoTask(**SMALL)
    logged: dict[str, Tensor] = {}
    task.log = lambda name, value, **_: logged.__setitem__(name, torch.as_tensor(value))  # type: ignore[method-assign]
    data = batch()
    loss = task.training_step(data, 0)
    heads = sum(logged[f'train_loss_head{i}'] for i in range(3))
    torch.testing.assert_close(loss, heads)
    torch.testing.assert_close(logged['train_loss'], loss)
    for i in range(3):
        assert 0 <= float(logged[f'train_top1_head{i}']) <= 1
    assert 0 < float(logged['train_ssl_std']) < 1
    assert float(logged['train_repeated_season_fraction']) == 0.0
    loss.backward()  # the query side of all three heads receives gradient
    for head in task.projection_heads:
        assert all(p.grad is not None for p in head.parameters())
    assert all(p.grad is None for p in task.key_encoder.parameters())
    # views that are the same acquisition are counted
    data['time'][:2] = 0.0
    task.training_step(data, 1)
    assert float(logged['train_repeated_season_fraction']) == 0.5


def infonce_reference(q: Tensor, k: Tensor, negatives: Tensor, t: float) -> Tensor:
    """MoCo's InfoNCE (He et al. 2020, Eq. 1) written out in float64.

    Row i: -log(exp(q_i·k_i / t) / (exp(q_i·k_i / t) + Σ_n exp(q_i·n / t))).
    """
    q, k, negatives = q.double(), k.double(), negatives.double()
    positive = (q * k).sum(dim=1) / t
    negative = q @ negatives.T / t
    total = positive.exp() + negative.exp().sum(dim=1)
    return (total.log() - positive).mean()


def test_loss_matches_an_independent_reference() -> None:
    # SeCo (Sec. 3, Fig. 2; ServiceNow/seasonal-contrast models/moco2_module.py):
    # q = t0, k0 = A(t1), k1 = t2, k2 = A(t0); head i: positive k_i, negatives
    # queue i and, for heads 1 and 2, the batch's other two key views embedded by
    # head i; L = L0 + L1 + L2. Recomputed from the networks with plain torch
    # (tolerance 1e-5: the task computes in float32).
    torch.manual_seed(0)
    task = traceable()
    data = batch(b=5, v=4)
    seasons = torch.tensor([[0, 1, 2], [3, 2, 1], [1, 3, 0], [2, 0, 3], [0, 3, 1]])
    task.draw_seasons = lambda b, v: seasons  # type: ignore[method-assign]
    queues = [queue(task, i).queue.clone() for i in range(3)]
    loss = task.training_step(data, 0)
    rows = torch.arange(5)
    t0, t1, t2 = (data['image'][rows, seasons[:, j]] for j in range(3))
    key_views = [t1 + MARK, t2, t0 + MARK]  # k0 = A(t1), k1 = t2, k2 = A(t0)
    expected = torch.zeros((), dtype=torch.float64)
    with torch.no_grad():
        v_q = task.model(t0)
        v_k = [task.key_encoder(x) for x in key_views]
        for i in range(3):
            z = task.projection_heads[i](v_q)
            q = z / z.norm(dim=1, keepdim=True)
            head = task.projection_heads_momentum[i]
            keys = [head(v) for v in v_k]
            keys = [k / k.norm(dim=1, keepdim=True) for k in keys]
            negatives = [queues[i]] + (
                [keys[j] for j in range(3) if j != i] if i else []
            )
            expected = expected + infonce_reference(
                q, keys[i], torch.cat(negatives), 0.07
            )
    assert abs(float(loss.detach()) - float(expected)) < 1e-5


def test_published_defaults_and_hyperparameters() -> None:
    defaults = {
        name: p.default
        for name, p in inspect.signature(SeCoTask.__init__).parameters.items()
    }
    assert defaults['model'] == 'resnet18'  # the reference CLI's --base_encoder
    assert defaults['in_channels'] == 3
    assert defaults['temperature'] == 0.07
    assert defaults['moco_momentum'] == 0.999
    assert defaults['queue_size'] == 16_384
    assert defaults['lr'] == 0.03
    assert defaults['lr_batch_size'] == 256
    assert defaults['momentum'] == 0.9
    assert defaults['weight_decay'] == 1e-4
    assert defaults['schedule'] == 'step'  # pl_bolts MocoLRScheduler
    assert defaults['milestones'] is None  # 60 % and 80 % of max_epochs
    assert defaults['size'] == 224
    assert defaults['crop_scale'] == (0.2, 1.0)
    task = SeCoTask(model='resnet18')
    assert [queue(task, i).queue.shape for i in range(3)] == [(16_384, 128)] * 3
    assert 'artificial' not in task.hparams
    assert 'crop' not in task.hparams
    assert isinstance(task.artificial, MultiViewAugmentation)
    assert isinstance(task.crop, MultiViewAugmentation)
    assert task.crop(torch.rand(2, 4, 3, 64, 64)).shape == (2, 4, 3, 224, 224)
    assert task.method == 'SeCo'
    with pytest.raises(ValueError, match='queue_size'):
        SeCoTask(**{**SMALL, 'queue_size': 0})


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('seco-demo')
    DemoDataModule(root=root, tile_size=64).prepare_data()
    return root


def test_checkpoint_round_trip(demo_root: Path, tmp_path: Path) -> None:
    datamodule = DemoDataModule(
        root=demo_root,
        tile_size=64,
        patch_size=32,
        batch_size=4,
        length=8,
        views=3,
        distinct_periods='Q',
        geo_clusters=None,
    )
    task = SeCoTask(**SMALL)
    trainer = Trainer(
        max_epochs=1,
        accelerator='cpu',
        logger=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, datamodule=datamodule)
    # the data module served three different quarters per location
    assert float(trainer.callback_metrics['train_repeated_season_fraction']) == 0.0
    ckpt = tmp_path / 'seco.ckpt'
    trainer.save_checkpoint(ckpt)

    restored = SeCoTask.load_from_checkpoint(ckpt)
    for i in range(3):
        assert torch.equal(queue(restored, i).queue, queue(task, i).queue)
        assert int(queue(restored, i).ptr) == int(queue(task, i).ptr) == 8
    assert not torch.equal(queue(task, 0).queue, queue(task, 1).queue)

    checkpoint = torch.load(ckpt, weights_only=True)
    with pytest.raises(
        ValueError,
        match=r'queues\.0\.queue: \[32, 128\] in the checkpoint, \[64, 128\] here',
    ):
        SeCoTask(**{**SMALL, 'queue_size': 64}).on_load_checkpoint(checkpoint)

    clf = Classification(
        model='resnet18', weights=str(ckpt), in_channels=4, num_classes=10
    )
    own = task.model.state_dict()
    loaded = clf.model.state_dict()
    for name, value in own.items():
        assert torch.equal(loaded[name], value), name
    weights, metadata = load_backbone(ckpt)
    assert weights.keys() == own.keys()
    assert metadata['method'] == 'SeCo'
    assert metadata['model'] == 'resnet18'
    assert metadata['in_channels'] == 4
    assert metadata['patch_size'] == 32


def test_demo_config_runs_with_the_torchgeo_cli(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(
        tmp_path
    )  # the config's logger and checkpoints use relative paths
    args = [
        'fit',
        '--config',
        str(CONFIGS / 'seco' / 'demo.yaml'),
        '--trainer.fast_dev_run=1',
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


def test_demo_config_settings() -> None:
    cli = LightningCLI(
        model_class=BaseTask,
        datamodule_class=BaseDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        run=False,
        args=[
            '--config',
            str(CONFIGS / 'seco' / 'demo.yaml'),
            '--model.init_args.queue_size=64',
        ],
    )
    task, data = cli.model, cli.datamodule
    assert isinstance(task, SeCoTask)
    assert isinstance(data, DemoDataModule)
    assert data.views == 3
    assert data.distinct_periods == 'Q'
    assert data.num_geo_clusters == 0
    assert task.hparams['in_channels'] == 4
    assert task.hparams['temperature'] == 0.07
    assert task.hparams['moco_momentum'] == 0.999
    assert task.hparams['lr'] == 0.03
    assert tuple(task.hparams['crop_scale']) == (0.2, 1.0)


def test_channels_last_gives_the_same_loss() -> None:
    losses = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        task = traceable(channels_last=channels_last)
        losses.append(task.training_step(batch(), 0))
    assert task.key_encoder.conv1.weight.is_contiguous(
        memory_format=torch.channels_last
    )
    torch.testing.assert_close(losses[1], losses[0], atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_demo_config_runs_in_bf16_channels_last_with_the_torchgeo_cli(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a non-finite loss would stop the run (NonFiniteError)
    monkeypatch.chdir(tmp_path)
    args = [
        'fit',
        '--config',
        str(CONFIGS / 'seco' / 'demo.yaml'),
        '--trainer.fast_dev_run=1',
        '--trainer.precision=bf16-mixed',
        '--model.init_args.channels_last=true',
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

"""Distributed data parallel training of GASSL, SeCo and CSP with two CPU processes.

Two kinds of check: the real ``torchgeo fit ... --trainer.strategy ddp`` command run as
a subprocess (Lightning launches the second process by re-running the command), and
two processes joined by gloo (``torch.multiprocessing``) that run the tasks' and
losses' steps by hand, compared with one process on the concatenated batch.
"""

import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import torch.distributed as dist
from conftest import run_gloo_workers
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

import torchgeo_geossl.trainers.seco as seco_module
from torchgeo_geossl.datasets import generate_demo_data
from torchgeo_geossl.faults import NonFiniteError, check_finite_loss
from torchgeo_geossl.losses.csp import InBatchLocationImageLoss, SimCSELoss
from torchgeo_geossl.models import NegativeQueue
from torchgeo_geossl.models.distributed import (
    concat_all_gather,
    forward_shuffled,
    gather_with_grad,
)
from torchgeo_geossl.trainers import (
    CSPTask,
    GeoMoCoTask,
    MomentumContrastTask,
    SeCoTask,
)

WORLD_SIZE = 2
TIMEOUT_S = 120.0
CONFIGS = Path(__file__).resolve().parents[2] / 'configs'

needs_gloo = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason='needs gloo'
)


# ---------------------------------------------------------------------------------
# The torchgeo CLI with --trainer.strategy ddp
# ---------------------------------------------------------------------------------


class StepRecorder(Callback):
    """Saves, after every training step of every process, what must agree."""

    def __init__(self, out_dir: str) -> None:
        """Save the records in *out_dir*."""
        self.out_dir = Path(out_dir)

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Save queues, parameters, locations, loss and lr of this process and step."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        trainable = torch.cat(
            [p.detach().flatten() for p in pl_module.parameters() if p.requires_grad]
        ).double()
        queues = [m for m in pl_module.modules() if isinstance(m, NegativeQueue)]
        record = {
            'world_size': trainer.world_size,
            'queues': [(q.queue.clone(), int(q.ptr)) for q in queues],
            'params': torch.stack([trainable.sum(), trainable.square().sum()]),
            'point': batch['point'].clone(),
            'loss': outputs['loss'].detach().clone(),
            'lr': trainer.optimizers[0].param_groups[0]['lr'],
            'rng': torch.get_rng_state(),
        }
        name = f'rank{trainer.global_rank}_{trainer.global_step}.pt'
        torch.save(record, self.out_dir / name)


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('ddp_demo')
    generate_demo_data(root, size=64)
    return root


MOMENTUM_OVERRIDES = ['--model.init_args.size=24', '--model.init_args.queue_size=64']
CLI_CASES = {
    # tiles of 64 px are too small for the demo's held-out grid
    'gassl': (
        'demo.yaml',
        'outputs/demo/checkpoints',
        [*MOMENTUM_OVERRIDES, '--data.init_args.holdout=null'],
        1,
    ),
    'seco': (
        'seco/demo.yaml',
        'outputs/seco/demo/checkpoints',
        [*MOMENTUM_OVERRIDES, '--data.init_args.holdout=null'],
        3,
    ),
    'csp': (
        'csp/demo.yaml',
        'outputs/csp/demo/checkpoints',
        ['--data.init_args.holdout=null'],
        0,
    ),
}


def fit_with_ddp(
    config: str, cwd: Path, records_dir: Path, max_steps: int, arguments: list[str]
) -> None:
    """Run ``torchgeo fit --config <config>`` on 2 CPU processes in *cwd*."""
    recorder = {
        'class_path': 'test_ddp.StepRecorder',
        'init_args': {'out_dir': str(records_dir)},
    }
    command = [
        sys.executable,
        '-m',
        'torchgeo',
        'fit',
        '--config',
        str(CONFIGS / config),
        '--trainer.strategy',
        'ddp',
        '--trainer.devices',
        str(WORLD_SIZE),
        '--trainer.accelerator',
        'cpu',
        '--trainer.max_steps',
        str(max_steps),
        '--trainer.enable_progress_bar=false',
        f'--trainer.callbacks+={json.dumps(recorder)}',
        *arguments,
    ]
    # the recorder's module, and the conftest it imports
    here = Path(__file__).parent
    path = [str(here), str(here.parent), os.environ.get('PYTHONPATH', '')]
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(path), 'OMP_NUM_THREADS': '1'}
    # the configs write logs and checkpoints under relative paths: run in cwd
    result = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-5000:]


def demo_data_arguments(root: Path) -> list[str]:
    return [
        f'--data.init_args.root={root}',
        '--data.init_args.tile_size=64',
        '--data.init_args.patch_size=32',
        '--data.init_args.batch_size=4',
        '--data.init_args.num_workers=0',
    ]


@needs_gloo
@pytest.mark.slow
@pytest.mark.parametrize('name', list(CLI_CASES))
def test_torchgeo_fit_with_ddp(name: str, demo_root: Path, tmp_path: Path) -> None:
    config, checkpoints, overrides, num_queues = CLI_CASES[name]
    records_dir = tmp_path / 'records'
    arguments = [*demo_data_arguments(demo_root), *overrides]
    fit_with_ddp(config, tmp_path, records_dir, max_steps=2, arguments=arguments)

    records = [
        [torch.load(records_dir / f'rank{rank}_{step + 1}.pt') for step in range(2)]
        for rank in range(WORLD_SIZE)
    ]
    for step in range(2):
        first, second = records[0][step], records[1][step]
        assert first['world_size'] == second['world_size'] == WORLD_SIZE
        # DDP averaged the gradients: both processes hold the same parameters
        assert torch.equal(first['params'], second['params'])
        # ... but trained on different locations, with different random draws
        assert not torch.equal(first['point'], second['point'])
        assert not torch.equal(first['rng'], second['rng'])
        assert len(first['queues']) == len(second['queues']) == num_queues
        for (queue0, ptr0), (queue1, ptr1) in zip(
            first['queues'], second['queues'], strict=True
        ):
            # keys of both processes (4 + 4) were enqueued, identically on both
            assert ptr0 == ptr1 == 8 * (step + 1) % 64
            assert torch.equal(queue0, queue1)
    if num_queues:
        # lr 0.03 per 256 samples (the published rule of the main job and SeCo's
        # demo), scaled to the global batch of 2 processes × 4
        assert records[0][0]['lr'] == pytest.approx(0.03 * 4 * 2 / 256)

    # rank 0 wrote the checkpoint, with the queues of the last step
    checkpoint = torch.load(
        tmp_path / checkpoints / 'last.ckpt', map_location='cpu', weights_only=False
    )
    assert checkpoint['global_step'] == 2
    state = checkpoint['state_dict']
    saved = [state[k] for k in sorted(state) if k.endswith('queue')]
    final = [queue for queue, _ in records[0][1]['queues']]
    assert len(saved) == num_queues
    for queue in saved:
        assert any(torch.equal(queue, other) for other in final)


def load_records(records_dir: Path) -> dict[tuple[int, int], Any]:
    """The :class:`StepRecorder` records of a run, by (rank, global step)."""
    records = {}
    for path in records_dir.glob('rank*_*.pt'):
        rank, step = re.fullmatch(r'rank(\d+)_(\d+)', path.stem).groups()  # type: ignore[union-attr]
        records[int(rank), int(step)] = torch.load(path)
    return records


RESUME_LENGTH = 24  # 3 steps per epoch: 2 processes × batches of 4
INTERRUPT_AT = 2  # mid-epoch
RESUME_TOTAL = 5  # the resumed run crosses the end of epoch 0


@needs_gloo
@pytest.mark.slow
@pytest.mark.parametrize('name', ['gassl', 'csp'])
def test_ddp_resume_gives_the_same_losses(
    name: str, demo_root: Path, tmp_path: Path
) -> None:
    config, _, overrides, _ = CLI_CASES[name]
    arguments = [
        *demo_data_arguments(demo_root),
        f'--data.init_args.length={RESUME_LENGTH}',
        '--trainer.deterministic=true',
        *overrides,
    ]

    def run(label: str, max_steps: int, *extra: str) -> dict[tuple[int, int], Any]:
        cwd, records_dir = tmp_path / label, tmp_path / f'{label}_records'
        cwd.mkdir()
        # a checkpoint mid-epoch, as left by an interrupted run (in every run, so
        # that the runs differ only in max_steps and ckpt_path)
        interrupt = {
            'class_path': 'lightning.pytorch.callbacks.ModelCheckpoint',
            'init_args': {
                'dirpath': str(cwd / 'interrupted'),
                'filename': 'interrupted',
                'every_n_train_steps': INTERRUPT_AT,
                'save_top_k': -1,
            },
        }
        callback = f'--trainer.callbacks+={json.dumps(interrupt)}'
        fit_with_ddp(
            config, cwd, records_dir, max_steps, [*arguments, callback, *extra]
        )
        return load_records(records_dir)

    full = run('full', RESUME_TOTAL)
    run('first', INTERRUPT_AT)
    checkpoint = tmp_path / 'first' / 'interrupted' / 'interrupted.ckpt'
    resumed = run('resumed', RESUME_TOTAL, f'--ckpt_path={checkpoint}')

    steps = range(INTERRUPT_AT + 1, RESUME_TOTAL + 1)
    assert sorted(full) == [(r, s) for r in range(WORLD_SIZE) for s in range(1, 6)]
    assert sorted(resumed) == [(r, s) for r in range(WORLD_SIZE) for s in steps]
    for key in sorted(resumed):
        # the same locations, augmented alike, on every process: the same losses
        assert torch.equal(resumed[key]['point'], full[key]['point']), key
        assert torch.equal(resumed[key]['loss'], full[key]['loss']), key
        assert torch.equal(resumed[key]['rng'], full[key]['rng']), key
        assert torch.equal(resumed[key]['params'], full[key]['params']), key
        assert resumed[key]['lr'] == full[key]['lr'], key
        for (queue, ptr), (ref, ref_ptr) in zip(
            resumed[key]['queues'], full[key]['queues'], strict=True
        ):
            assert ptr == ref_ptr, key
            assert torch.equal(queue, ref), key
    # the processes trained on different locations
    assert not torch.equal(full[0, 3]['point'], full[1, 3]['point'])


# ---------------------------------------------------------------------------------
# Two processes joined by gloo, stepping by hand
# ---------------------------------------------------------------------------------

SHUFFLE_COUNTS = (4, 6)  # forward_shuffled with uneven batches
CSP_BATCH = 8  # 4 per process
MOMENTUM_BATCH = 2  # per process
MOMENTUM_STEPS = 2
QUEUE_SIZE = 16


class CenteringRecorder(nn.Module):
    """Batch-dependent like batch norm (subtracts the batch mean); records inputs."""

    def __init__(self) -> None:
        """Start with no recorded input."""
        super().__init__()
        self.inputs: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        """Record *x* and subtract its mean over the batch."""
        self.inputs.append(x.clone())
        return x - x.mean(dim=0, keepdim=True)


def shuffle_samples(rank: int) -> Tensor:
    """Rows (id, id²) of the global sample ids held by *rank*."""
    start = sum(SHUFFLE_COUNTS[:rank])
    ids = torch.arange(start, start + SHUFFLE_COUNTS[rank], dtype=torch.float32)
    return torch.stack([ids, ids**2], dim=1)


LOSSES = {
    'inbatch': lambda: InBatchLocationImageLoss(0.5),
    'symmetric': lambda: InBatchLocationImageLoss(
        0.5, symmetric=True, learnable_scale=True
    ),
    'simcse': lambda: SimCSELoss(0.5),
}


class TinyDualEncoder(nn.Module):
    """Linear location and image encoders feeding one CSP objective."""

    def __init__(self, loss: str) -> None:
        """Seeded encoders and the objective named *loss*."""
        super().__init__()
        torch.manual_seed(0)
        self.location = nn.Linear(3, 8)
        self.image = nn.Linear(5, 8)
        self.objective = LOSSES[loss]()

    def forward(self, points: Tensor, images: Tensor) -> tuple[Tensor, Tensor]:
        """The objective's loss and logits."""
        location = self.location(points)
        if isinstance(self.objective, SimCSELoss):
            # a deterministic stand-in for the second dropout pass
            second: Tensor = self.location(1.5 * points)
            return self.objective(location, second)
        return self.objective(location, self.image(images))


def loss_inputs() -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(CSP_BATCH, 3, generator=generator), torch.randn(
        CSP_BATCH, 5, generator=generator
    )


def run_objective(loss: str, rows: slice, distributed: bool) -> dict[str, Any]:
    model = TinyDualEncoder(loss)
    points, images = loss_inputs()
    step = (
        DistributedDataParallel(model, find_unused_parameters=True)
        if distributed
        else model
    )
    value, logits = step(points[rows], images[rows])
    value.backward()
    grads = {
        name: p.grad.clone()
        for name, p in model.named_parameters()
        if p.grad is not None
    }
    return {'loss': value.detach(), 'logits': logits.detach(), 'grads': grads}


def csp_task() -> CSPTask:
    torch.manual_seed(0)
    # no random draw: no dropout (hence no SimCSE) and L_L weighted 0; the frozen
    # backbone is in eval mode, so its batch norm does not depend on the batch
    return CSPTask(
        model='resnet18',
        in_channels=4,
        embed_dim=16,
        frequencies=4,
        hidden_dim=32,
        dropout=0.0,
        simcse_weight=0.0,
        random_weight=0.0,
        temperature_inbatch=0.5,
        symmetric=True,
    )


def csp_batch(rows: slice) -> dict[str, Tensor]:
    generator = torch.Generator().manual_seed(2)
    image = torch.rand(CSP_BATCH, 4, 16, 16, generator=generator)
    point = torch.rand(CSP_BATCH, 2, generator=generator) * 2 - 1
    point = point * torch.tensor([180.0, 90.0])
    return {'image': image[rows], 'point': point[rows]}


def run_csp_task(rows: slice, distributed: bool) -> dict[str, Any]:
    task = csp_task()
    loss = task.training_step(csp_batch(rows), 0)
    loss.backward()
    grads = {}
    for name, p in task.named_parameters():
        if p.grad is None:
            continue
        if distributed:  # what DDP does: average the processes' gradients
            dist.all_reduce(p.grad)
            p.grad /= WORLD_SIZE
        grads[name] = p.grad.clone()
    return {'loss': loss.detach(), 'grads': grads}


def momentum_task(name: str) -> MomentumContrastTask:
    torch.manual_seed(0)  # as seed_everything: same weights and queues everywhere
    if name == 'gassl':
        return GeoMoCoTask(
            model='resnet18',
            in_channels=4,
            size=16,
            queue_size=QUEUE_SIZE,
            geo_classes=0,
        )
    return SeCoTask(model='resnet18', in_channels=4, size=16, queue_size=QUEUE_SIZE)


def run_momentum(name: str, rank: int) -> dict[str, Any]:
    """Steps of GASSL or SeCo on this process's batches, recording what moves."""
    task = momentum_task(name)
    queues = [m for m in task.modules() if isinstance(m, NegativeQueue)]
    key_views: list[Tensor] = []
    encoded: list[Tensor] = []
    criterion: list[tuple[Tensor, Tensor]] = []
    gathers: list[tuple[Tensor, Tensor]] = []
    encode_keys = task.encode_keys

    def spy_encode_keys(images: Tensor) -> Tensor:
        key_views.append(images.clone())
        return encode_keys(images)

    def spy_gather(tensor: Tensor, local_first: bool = False) -> Tensor:
        gathered = concat_all_gather(tensor, local_first)
        gathers.append((tensor.clone(), gathered.clone()))
        return gathered

    task.encode_keys = spy_encode_keys  # type: ignore[method-assign]
    task.key_encoder.register_forward_pre_hook(
        lambda module, args: encoded.append(args[0].clone())
    )
    task.criterion.register_forward_hook(
        lambda module, args, output: criterion.append(
            (args[1].clone(), args[2].clone())
        )
    )
    seco_module.concat_all_gather = spy_gather  # type: ignore[assignment]
    optimizer = torch.optim.SGD(
        [p for p in task.parameters() if p.requires_grad], lr=0.1
    )
    views = 2 if name == 'gassl' else 3
    steps = []
    try:
        for step in range(MOMENTUM_STEPS):
            generator = torch.Generator().manual_seed(100 * step + rank)
            batch = {
                'image': torch.rand(
                    MOMENTUM_BATCH, views, 4, 20, 20, generator=generator
                )
            }
            before = [q.queue.clone() for q in queues]
            torch.manual_seed(10 * step + rank)  # augmentations differ by process
            loss = task.training_step(batch, step)
            optimizer.zero_grad()
            loss.backward()
            for p in task.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= WORLD_SIZE
            optimizer.step()
            after = [(q.queue.clone(), int(q.ptr)) for q in queues]
            steps.append({'before': before, 'after': after})
    finally:
        seco_module.concat_all_gather = concat_all_gather  # type: ignore[assignment]
    return {
        'steps': steps,
        'key_views': key_views,
        'encoded': encoded,
        'criterion': criterion,
        'gathers': gathers,
    }


def worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group(
        'gloo',
        init_method=f'file://{init_file}',
        rank=rank,
        world_size=WORLD_SIZE,
        timeout=datetime.timedelta(seconds=TIMEOUT_S),
    )
    torch.set_num_threads(1)
    try:
        result: dict[str, Any] = {}
        # a NaN loss on rank 1 only: both processes stop at the same step
        loss = torch.tensor(float('nan') if rank else 1.0)
        try:
            check_finite_loss(loss, {'point': torch.zeros(2, 2)}, step=7)
        except NonFiniteError as err:
            result['nonfinite'] = str(err)
        # gather_with_grad / concat_all_gather with local_first and uneven rows
        x = torch.full((2 + rank, 3), float(rank + 1), requires_grad=True)
        gathered = gather_with_grad(x, local_first=True)
        weights = torch.arange(gathered.numel(), dtype=torch.float32)
        (gathered * weights.reshape(gathered.shape)).sum().backward()
        result['gather'] = {
            'values': gathered.detach(),
            'grad': x.grad,
            'no_grad': concat_all_gather(x, local_first=True),
        }

        torch.manual_seed(0)  # rank 0 draws the permutation
        centering = CenteringRecorder()
        result['shuffle'] = {
            'output': forward_shuffled(centering, shuffle_samples(rank)),
            'encoded': centering.inputs[0],
        }

        half = CSP_BATCH // WORLD_SIZE
        rows = slice(rank * half, (rank + 1) * half)
        result['objectives'] = {
            loss: run_objective(loss, rows, distributed=True) for loss in LOSSES
        }
        result['csp_task'] = run_csp_task(rows, distributed=True)
        result['gassl'] = run_momentum('gassl', rank)
        result['seco'] = run_momentum('seco', rank)
        torch.save(result, os.path.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope='module')
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip('needs gloo')
    out = tmp_path_factory.mktemp('ddp_ranks')
    return run_gloo_workers(worker, out, WORLD_SIZE, TIMEOUT_S)


@pytest.mark.slow
def test_a_nan_loss_on_one_process_stops_every_process(
    ranks: list[dict[str, Any]],
) -> None:
    assert 'NaN or infinite on another process at global step 7' in ranks[0].get(
        'nonfinite', ''
    )
    assert 'the training loss is nan at global step 7' in ranks[1].get('nonfinite', '')


@pytest.mark.slow
def test_gather_local_first_with_uneven_rows(ranks: list[dict[str, Any]]) -> None:
    # rank 0 holds 2 rows of 1s, rank 1 holds 3 rows of 2s
    ones, twos = torch.full((2, 3), 1.0), torch.full((3, 3), 2.0)
    weights = torch.arange(15, dtype=torch.float32).reshape(5, 3)
    first, second = ranks[0]['gather'], ranks[1]['gather']
    assert torch.equal(first['values'], torch.cat([ones, twos]))
    assert torch.equal(second['values'], torch.cat([twos, ones]))
    assert torch.equal(first['no_grad'], first['values'])
    assert torch.equal(second['no_grad'], second['values'])
    # each rank's rows receive the weights of their positions on both ranks
    assert torch.equal(first['grad'], weights[0:2] + weights[3:5])
    assert torch.equal(second['grad'], weights[2:5] + weights[0:3])


@pytest.mark.slow
def test_shuffle_bn_mixes_processes_and_restores_order(
    ranks: list[dict[str, Any]],
) -> None:
    samples = torch.cat([shuffle_samples(rank) for rank in range(WORLD_SIZE)])
    encoded = [r['shuffle']['encoded'] for r in ranks]
    # each process encodes as many samples as it holds, and every sample once
    assert [len(e) for e in encoded] == list(SHUFFLE_COUNTS)
    ids = torch.cat(encoded)[:, 0].sort().values
    assert torch.equal(ids, samples[:, 0])
    # the key batches mix the processes' samples
    assert not torch.equal(encoded[0], shuffle_samples(0))
    # each process gets the outputs of its own samples, in order: its sample minus
    # the mean of the batch it was encoded in
    for rank, result in enumerate(ranks):
        expected = []
        for sample in shuffle_samples(rank):
            batch = next(e for e in encoded if (e == sample).all(dim=1).any())
            expected.append(sample - batch.mean(dim=0))
        torch.testing.assert_close(result['shuffle']['output'], torch.stack(expected))


@pytest.mark.slow
@pytest.mark.parametrize('loss', list(LOSSES))
def test_csp_objectives_equal_one_process_on_the_full_batch(
    loss: str, ranks: list[dict[str, Any]]
) -> None:
    full = run_objective(loss, slice(None), distributed=False)
    parts = [r['objectives'][loss] for r in ranks]
    # the mean of the processes' losses is the loss of the global batch ...
    mean = sum(p['loss'] for p in parts) / WORLD_SIZE
    torch.testing.assert_close(mean, full['loss'])
    # ... and the DDP-averaged gradients are its gradients
    for part in parts:
        assert part['grads'].keys() == full['grads'].keys()
        for name, grad in full['grads'].items():
            torch.testing.assert_close(part['grads'][name], grad)
    # each process's logits: its rows against all candidates, its own first
    half = CSP_BATCH // WORLD_SIZE
    for rank, part in enumerate(parts):
        own = list(range(rank * half, (rank + 1) * half))
        columns = own + [c for c in range(CSP_BATCH) if c not in own]
        torch.testing.assert_close(part['logits'], full['logits'][own][:, columns])


@pytest.mark.slow
def test_csp_task_step_equals_one_process_on_the_full_batch(
    ranks: list[dict[str, Any]],
) -> None:
    full = run_csp_task(slice(None), distributed=False)
    parts = [r['csp_task'] for r in ranks]
    mean = sum(p['loss'] for p in parts) / WORLD_SIZE
    torch.testing.assert_close(mean, full['loss'])
    assert 'image_projection.weight' in full['grads']
    assert any(name.startswith('location_encoder.') for name in full['grads'])
    for part in parts:
        assert part['grads'].keys() == full['grads'].keys()
        for name, grad in full['grads'].items():
            torch.testing.assert_close(part['grads'][name], grad)


@pytest.mark.slow
@pytest.mark.parametrize('name', ['gassl', 'seco'])
def test_queues_are_identical_after_each_step(
    name: str, ranks: list[dict[str, Any]]
) -> None:
    heads = 1 if name == 'gassl' else 3
    global_batch = MOMENTUM_BATCH * WORLD_SIZE
    runs = [r[name] for r in ranks]
    for step in range(MOMENTUM_STEPS):
        after = [run['steps'][step]['after'] for run in runs]
        assert len(after[0]) == heads
        for head in range(heads):
            (queue0, ptr0), (queue1, ptr1) = after[0][head], after[1][head]
            assert ptr0 == ptr1 == global_batch * (step + 1) % QUEUE_SIZE
            assert torch.equal(queue0, queue1)
            # the new entries are the positive keys of rank 0, then rank 1
            positives = torch.cat(
                [run['criterion'][step * heads + head][0] for run in runs]
            )
            start = global_batch * step
            torch.testing.assert_close(queue0[start : start + global_batch], positives)


@pytest.mark.slow
@pytest.mark.parametrize('name', ['gassl', 'seco'])
def test_keys_are_encoded_with_shuffled_batch_norm(
    name: str, ranks: list[dict[str, Any]]
) -> None:
    runs = [r[name] for r in ranks]
    calls = len(runs[0]['key_views'])
    assert calls == MOMENTUM_STEPS * (1 if name == 'gassl' else 3)
    mixed = False
    for call in range(calls):
        views = torch.cat([run['key_views'][call] for run in runs])
        encoded = torch.cat([run['encoded'][call] for run in runs])
        # the key encoder saw all key images of the global batch once each ...
        order = [
            next(i for i, view in enumerate(views) if torch.equal(view, image))
            for image in encoded
        ]
        assert sorted(order) == list(range(len(views)))
        # ... each process as many as it holds
        assert all(len(run['encoded'][call]) == MOMENTUM_BATCH for run in runs)
        mixed |= not torch.equal(runs[0]['encoded'][call], runs[0]['key_views'][call])
    assert mixed


@pytest.mark.slow
def test_seco_extra_negatives_include_other_processes_keys(
    ranks: list[dict[str, Any]],
) -> None:
    runs = [r['seco'] for r in ranks]
    for step in range(MOMENTUM_STEPS):
        for head in (1, 2):
            call = step * 2 + head - 1
            local = [run['gathers'][call][0] for run in runs]
            # the other two key views' head-i keys of both processes, in rank order
            expected = torch.cat(local)
            assert len(expected) == 2 * MOMENTUM_BATCH * WORLD_SIZE
            for run in runs:
                gathered = run['gathers'][call][1]
                assert torch.equal(gathered, expected)
                negatives = run['criterion'][step * 3 + head][1]
                queue = run['steps'][step]['before'][head]
                assert torch.equal(negatives, torch.cat([queue, gathered]))
    # head 0 contrasts against its queue only
    for run in runs:
        negatives = run['criterion'][0][1]
        assert torch.equal(negatives, run['steps'][0]['before'][0])


# ---------------------------------------------------------------------------------
# One process
# ---------------------------------------------------------------------------------


def test_one_process_needs_no_collective() -> None:
    module = CenteringRecorder()
    x = shuffle_samples(1)
    torch.testing.assert_close(forward_shuffled(module, x), x - x.mean(dim=0))
    assert torch.equal(module.inputs[0], x)
    y = torch.randn(3, 2, requires_grad=True)
    assert gather_with_grad(y, local_first=True) is y
    assert torch.equal(concat_all_gather(y, local_first=True), y)
    with pytest.raises(ValueError, match='forward_shuffled needs a tensor'):
        forward_shuffled(module, torch.tensor(1.0))


@pytest.mark.parametrize('task_class', [GeoMoCoTask, SeCoTask])
def test_sync_batchnorm_is_refused_with_shuffle_bn(
    task_class: type[MomentumContrastTask],
) -> None:
    kwargs = {'model': 'resnet18', 'in_channels': 4, 'size': 16, 'queue_size': 8}
    task = task_class(**kwargs)
    assert task.hparams['shuffle_bn'] is True
    task.on_fit_start()  # plain batch norm: nothing to say
    task.key_encoder = nn.SyncBatchNorm.convert_sync_batchnorm(task.key_encoder)
    with pytest.raises(
        ValueError, match=r'shuffle_bn=True\) cannot be combined with synchronised'
    ):
        task.on_fit_start()
    task = task_class(**kwargs, shuffle_bn=False)
    task.model = nn.SyncBatchNorm.convert_sync_batchnorm(task.model)
    with pytest.warns(UserWarning, match='leak the positive'):
        task.on_fit_start()


def test_learning_rate_scales_with_the_global_batch() -> None:
    task = GeoMoCoTask(model='resnet18', in_channels=4, queue_size=8, geo_classes=0)
    task._trainer = SimpleNamespace(  # type: ignore[assignment]
        datamodule=SimpleNamespace(batch_size=16),
        world_size=4,  # 2 nodes × 2 devices
        accumulate_grad_batches=2,
    )
    # 16 per process × 4 processes × 2 accumulated batches = 128 = 256 / 2
    assert task.effective_lr() == pytest.approx(0.03 / 2)
    # a training batch size of its own wins over the data module's batch_size
    task._trainer.datamodule = SimpleNamespace(  # type: ignore[union-attr]
        batch_size=16, train_batch_size=32
    )
    assert task.effective_lr() == pytest.approx(0.03)

import math
import warnings
from typing import Any, cast

import pytest
import torch
from lightning.pytorch import Trainer
from torch import Tensor, nn
from torch.utils.data import DataLoader

from torchgeo_geossl.trainers import GeoMoCoTask
from torchgeo_geossl.trainers.momentum import MomentumContrastTask
from torchgeo_geossl.trainers.seco import SeCoTask

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

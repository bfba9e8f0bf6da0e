"""ChangeDetectionTask: TorchGeo's ChangeDetection with figures that Kornia 0.9 accepts."""

from types import SimpleNamespace
from typing import Any

import kornia.augmentation as K
import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn
from torchgeo.tasks import ChangeDetection

from torchgeo_geossl.trainers import ChangeDetectionTask

MEAN = torch.tensor([100.0, 200.0, 300.0])
STD = torch.tensor([10.0, 20.0, 40.0])


class Recorder:
    """Stands for a data module and a SummaryWriter: records plots and figures."""

    def __init__(self, aug: nn.Module) -> None:
        """Keep *aug* as the data module's normalisation."""
        self.aug = aug
        self.mean = torch.zeros(3)  # TorchGeo's statistics, replaced in aug
        self.std = torch.ones(3)
        self.samples: list[dict[str, Tensor]] = []
        self.figures: list[tuple[str, Figure, int]] = []

    def plot(self, sample: dict[str, Tensor]) -> Figure:
        """Record the sample."""
        self.samples.append(sample)
        return plt.figure()

    def add_figure(self, tag: str, figure: Figure, global_step: int) -> None:
        """Record the figure."""
        self.figures.append((tag, figure, global_step))


def task_with(recorder: Recorder) -> ChangeDetectionTask:
    task = ChangeDetectionTask(model='fcsiamdiff', backbone='resnet18', in_channels=3)
    task.log = lambda *args, **kwargs: None  # type: ignore[method-assign]
    trainer = SimpleNamespace(
        datamodule=recorder,
        loggers=[
            SimpleNamespace(experiment=object()),
            SimpleNamespace(experiment=recorder),
        ],
        global_step=7,
        training=False,
        sanity_checking=False,
    )
    task._trainer = trainer  # type: ignore[assignment]
    return task.eval()


def batch_of(raw: Tensor, mask: Tensor) -> dict[str, Any]:
    """The batch as the data module serves it: (raw - mean) / std per band."""
    return {
        'image': (raw - MEAN.view(1, 1, 3, 1, 1)) / STD.view(1, 1, 3, 1, 1),
        'mask': mask,
    }


@pytest.mark.parametrize(
    'aug',
    [
        K.AugmentationSequential(
            K.VideoSequential(K.Normalize(mean=MEAN, std=STD)),
            data_keys=None,
            keepdim=True,
        ),
        # a wrapper, as LoadPretrainedBackbone(normalize=True) puts in
        nn.Sequential(nn.Identity(), K.Normalize(mean=MEAN, std=STD)),
    ],
)
def test_figure_of_a_two_date_batch_with_one_mask(aug: nn.Module) -> None:
    recorder = Recorder(aug)
    task = task_with(recorder)
    generator = torch.Generator().manual_seed(0)
    raw = torch.rand(2, 2, 3, 32, 32, generator=generator) * 1000
    mask = (torch.rand(2, 1, 32, 32, generator=generator) > 0.5).long()
    with torch.no_grad():
        task._shared_step(batch_of(raw, mask), 0, 'val')
    (sample,) = recorder.samples
    torch.testing.assert_close(sample['image'], raw[0], rtol=1e-5, atol=1e-3)
    assert torch.equal(sample['mask'], mask[0])
    with torch.no_grad():
        logits = task(batch_of(raw, mask)['image'])
    assert sample['prediction'].shape == (1, 32, 32)
    assert torch.equal(sample['prediction'], (logits[0] > 0).long())
    ((tag, _, step),) = recorder.figures
    assert (tag, step) == ('image/0', 7)


def test_figures_of_the_first_validation_batches_only() -> None:
    recorder = Recorder(nn.Identity())
    task = task_with(recorder)
    batch = {'image': torch.zeros(1, 2, 3, 32, 32), 'mask': torch.zeros(1, 1, 32, 32)}
    with torch.no_grad():
        task._shared_step(batch, 9, 'val')
        task._shared_step(batch, 10, 'val')
        task._shared_step(batch, 0, 'test')
        task._shared_step(batch, 0, 'train')
    assert [tag for tag, _, _ in recorder.figures] == ['image/9']
    # no normalisation in aug: the data module's mean and std (0 and 1 here)
    assert torch.equal(recorder.samples[0]['image'], batch['image'][0])


def test_loss_is_torchgeo_s() -> None:
    recorder = Recorder(nn.Identity())
    task = task_with(recorder)
    generator = torch.Generator().manual_seed(1)
    batch = {
        'image': torch.randn(2, 2, 3, 32, 32, generator=generator),
        'mask': (torch.rand(2, 1, 32, 32, generator=generator) > 0.5).long(),
    }
    with torch.no_grad():
        ours = task._shared_step(dict(batch), 0, 'test')
        theirs = ChangeDetection._shared_step(task, dict(batch), 0, 'test')
        logits = task(batch['image'])
    torch.testing.assert_close(ours, theirs)
    expected = nn.functional.binary_cross_entropy_with_logits(
        logits, batch['mask'].float()
    )
    torch.testing.assert_close(ours, expected)

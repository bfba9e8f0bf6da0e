"""LogSampledViews: a figure of the first batch's views, to loggers that take figures."""

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import matplotlib.pyplot as plt
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.logger import DummyLogger
from matplotlib.figure import Figure

from torchgeo_geossl.callbacks import LogSampledViews


class Writer:
    """Stands for a SummaryWriter: records add_figure calls."""

    def __init__(self) -> None:
        """Start with no calls."""
        self.calls: list[tuple[str, list[Figure], int]] = []

    def add_figure(
        self, tag: str, figure: list[Figure], global_step: int, close: bool
    ) -> None:
        """Record a call."""
        self.calls.append((tag, figure, global_step))


class Plots:
    """Stands for a data module: records the samples it plots."""

    def __init__(self) -> None:
        """Start with no samples."""
        self.samples: list[dict[str, Any]] = []

    def plot(self, sample: dict[str, Any], suptitle: str) -> Figure:
        """Record the sample; return an empty figure."""
        self.samples.append(sample)
        return plt.figure()


def batch(b: int = 6) -> dict[str, torch.Tensor]:
    return {
        'image': torch.arange(b, dtype=torch.float32).reshape(b, 1, 1, 1, 1),
        'skipped': torch.zeros(b, dtype=torch.int64),
    }


def trainer(loggers: list[Any], datamodule: Any) -> Any:
    return SimpleNamespace(
        loggers=loggers, datamodule=datamodule, is_global_zero=True, global_step=7
    )


def test_logs_the_first_batch_once() -> None:
    writer, data = Writer(), Plots()
    logger = SimpleNamespace(experiment=writer)
    callback = LogSampledViews(samples=4)
    for i in range(2):
        callback.on_train_batch_start(
            trainer([logger], data),
            None,  # type: ignore[arg-type]
            batch(),
            i,
        )
    ((tag, figures, step),) = writer.calls
    assert tag == 'train_views'
    assert len(figures) == 4
    assert step == 7
    # the first four samples of the batch, one by one (torchgeo's unbind_samples)
    assert [float(s['image'].flatten()[0]) for s in data.samples] == [0, 1, 2, 3]


def test_loggers_without_figures_are_passed_over(tmp_path: Path) -> None:
    data = Plots()
    callback = LogSampledViews()
    loggers = [CSVLogger(tmp_path), DummyLogger()]
    callback.on_train_batch_start(trainer(loggers, data), None, batch(), 0)  # type: ignore[arg-type]
    assert data.samples == []  # nothing drawn


def test_samples_must_be_positive() -> None:
    with pytest.raises(ValueError, match='samples must be at least 1, got 0'):
        LogSampledViews(samples=0)

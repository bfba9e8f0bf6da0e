"""Pre-trained versus randomly initialised: the held-out comparison of the main job."""

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torchgeo.datasets.utils import Sample

from .crops import shifted_crops
from .knn import place_recognition_accuracy, place_recognition_chance

#: The line printed by :class:`HeldOutComparison`.
COMPARISON_LINE = (
    'held-out place recognition top-1: pretrained {pretrained:.2f} vs random init '
    '{random:.2f} (chance {chance:.2f})'
)


def held_out_features(
    encoder: Callable[[Tensor], Tensor], views: Tensor, size: int, seed: int
) -> Tensor:
    """Frozen features of independently shifted crops of the views of places.

    Args:
        encoder: Maps images ``[N, C, size, size]`` to pooled features ``[N, d]``.
        views: Standardised views ``[B, V, C, H, W]`` of B places.
        size: Side of the crops (:func:`~torchgeo_geossl.evaluation.shifted_crops`),
            at most the view side.
        seed: Seed of the crop offsets.

    Returns:
        Features ``[B, V, d]``.

    .. versionadded:: 0.2
    """
    b, v = views.shape[:2]
    crops = shifted_crops(views, size, seed)
    with torch.no_grad():
        features = encoder(crops.flatten(0, 1))
    return features.reshape(b, v, -1)


def random_init_twin(task: LightningModule, seed: int = 0) -> LightningModule:
    """The same task, built from the same hyperparameters, at random initialisation.

    The twin is constructed by the task's own class (so its encoder is initialised
    exactly as the task's was before training) under a fixed torch seed, without
    changing the global random state, and put in evaluation mode on the task's
    device. Hyperparameters that are not constructor arguments (the CLI's
    ``_class_path``) are left out. Its batch-norm layers keep their initial running statistics.

    Args:
        task: A task whose ``hparams`` are its constructor's arguments.
        seed: Torch seed of the initialisation.

    Returns:
        The untrained twin.

    .. versionadded:: 0.2
    """
    parameters = inspect.signature(type(task)).parameters
    arguments = {k: v for k, v in task.hparams.items() if k in parameters}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        twin = type(task)(**arguments)
    return twin.to(task.device).eval()


def place_recognition(
    encoder: Callable[[Tensor], Tensor],
    batches: Iterable[Sample],
    prepare: Callable[[Sample], Tensor],
    size: int,
) -> tuple[float, float, int]:
    """Place recognition top-1 of an encoder on the batches of a held-out loader.

    Args:
        encoder: Maps images ``[N, C, size, size]`` to features ``[N, d]``.
        batches: Batches of places (one entry per place, V views each).
        prepare: Turns a batch into standardised views ``[B, V, C, H, W]`` on the
            encoder's device.
        size: Side of the crops.

    Returns:
        The accuracy, its chance level and the number of places.

    Raises:
        ValueError: If the batches hold fewer than 2 places.

    .. versionadded:: 0.2
    """
    features = [
        held_out_features(encoder, prepare(batch), size, seed=index).cpu()
        for index, batch in enumerate(batches)
    ]
    if not features:
        msg = 'the held-out loader yielded no batch: no place to recognise'
        raise ValueError(msg)
    stacked = torch.cat(features)
    chance = place_recognition_chance(stacked.shape[0], stacked.shape[1])
    return place_recognition_accuracy(stacked), chance, stacked.shape[0]


class HeldOutComparison(Callback):
    """At the end of ``fit``, compare the backbone with its random initialisation.

    Runs the data module's test loader (held-out places at held-out dates, see
    :class:`~torchgeo_geossl.evaluation.HeldOutSplit`) through the trained encoder
    and through the same encoder at random initialisation
    (:func:`random_init_twin`), scores both by leave-one-out place recognition
    (:func:`~torchgeo_geossl.evaluation.place_recognition_accuracy` of the pooled
    backbone features of independently shifted crops) and prints one line::

        held-out place recognition top-1: pretrained 0.xx vs random init 0.yy (chance 0.zz)

    The three numbers are also logged (``test_place_top1_pretrained``,
    ``test_place_top1_random``, ``test_place_chance``). The test split is used
    only here, once, after training; nothing is tuned on it.

    .. versionadded:: 0.2
    """

    def __init__(self, seed: int = 0) -> None:
        """Initialize a new HeldOutComparison instance.

        Args:
            seed: Torch seed of the random initialisation.
        """
        self.seed = seed

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Score both encoders on the test places and print the comparison.

        Args:
            trainer: The trainer.
            pl_module: The trained task; it needs ``model`` (the encoder),
                ``views_from_batch`` and ``hparams['size']``. The views are
                rescaled (the data module's ``on_after_batch_transfer``) and
                standardised (its ``standardize``), without augmentation.

        Without a held-out split in the data module there is nothing to compare:
        it warns and prints nothing.
        """
        datamodule: Any = getattr(trainer, 'datamodule', None)
        if getattr(datamodule, 'holdout', None) is None:
            rank_zero_warn(
                'HeldOutComparison: the data module has no held-out split '
                '(TemporalGeoDataModule(holdout=HeldOutSplit(...))), so the '
                'pre-trained backbone is not compared with its random initialisation'
            )
            return
        datamodule.held_out_sets('test')
        loader = datamodule.held_out_loader('test')
        size = min(int(pl_module.hparams['size']), datamodule.test_places.pixels)
        twin = random_init_twin(pl_module, self.seed)
        was_training = pl_module.training
        pl_module.eval()

        def prepare(batch: Sample) -> Tensor:
            batch = {
                key: value.to(pl_module.device) if isinstance(value, Tensor) else value
                for key, value in batch.items()
            }
            batch = datamodule.on_after_batch_transfer(batch, 0)
            task: Any = pl_module
            views: Tensor = datamodule.standardize(task.views_from_batch(batch))
            return views

        def encoder(module: nn.Module) -> Callable[[Tensor], Tensor]:
            model = module.model
            assert isinstance(model, nn.Module)
            return model

        pretrained, chance, places = place_recognition(
            encoder(pl_module), loader, prepare, size
        )
        random, _, _ = place_recognition(encoder(twin), loader, prepare, size)
        pl_module.train(was_training)
        if trainer.is_global_zero:
            print(
                COMPARISON_LINE.format(
                    pretrained=pretrained, random=random, chance=chance
                ),
                flush=True,
            )
        for logger in trainer.loggers:
            logger.log_metrics(
                {
                    'test_place_top1_pretrained': pretrained,
                    'test_place_top1_random': random,
                    'test_place_chance': chance,
                    'test_places': places,
                },
                step=trainer.global_step,
            )
            logger.save()

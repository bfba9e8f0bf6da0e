"""Pre-trained versus randomly initialised: the held-out comparison of the main job."""

import dataclasses
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torchgeo.datasets.utils import Sample

from .crops import shifted_crops
from .knn import place_recognition_chance, place_recognition_hits
from .split import Split
from .stats import paired_comparison

#: The line printed by :class:`HeldOutComparison` (the split is named for ``'val'``).
COMPARISON_LINE = (
    'held-out place recognition top-1{split}: pretrained {pretrained:.2f} vs random '
    'init {random:.2f} (chance {chance:.2f})'
)

#: The second line: the paired difference, its interval and McNemar's test.
INTERVAL_LINE = (
    'pretrained - random init: {difference:+.2f}, {percent:g}% bootstrap interval '
    '[{low:+.2f}, {high:+.2f}] over {groups} places; {first_only} vs {second_only} '
    'views recognised by one only, exact McNemar p = {p_value:.2g} ({queries} views)'
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
) -> Tensor:
    """Which views of the places of a held-out loader an encoder recognises.

    Args:
        encoder: Maps images ``[N, C, size, size]`` to features ``[N, d]``.
        batches: Batches of places (one entry per place, V views each).
        prepare: Turns a batch into standardised views ``[B, V, C, H, W]`` on the
            encoder's device.
        size: Side of the crops.

    Returns:
        :func:`~torchgeo_geossl.evaluation.place_recognition_hits` ``[N, V]`` of
        all places; its mean is the place recognition top-1.

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
    return place_recognition_hits(torch.cat(features))


class HeldOutComparison(Callback):
    """At the end of ``fit``, compare the backbone with its random initialisation.

    Runs the data module's test loader (held-out places at held-out dates, see
    :class:`~torchgeo_geossl.evaluation.HeldOutSplit`) through the trained encoder
    and through the same encoder at random initialisation
    (:func:`random_init_twin`), scores both by leave-one-out place recognition
    (:func:`~torchgeo_geossl.evaluation.place_recognition_hits` of the pooled
    backbone features of independently shifted crops) and prints two lines::

        held-out place recognition top-1: pretrained 0.xx vs random init 0.yy (chance 0.zz)
        pretrained - random init: +0.dd, 95% bootstrap interval [+0.ll, +0.hh] over N places; b vs c views recognised by one only, exact McNemar p = p (M views)

    The second line is :func:`~torchgeo_geossl.evaluation.paired_comparison` of the
    two encoders' hits on the same views. The numbers are also logged
    (``test_place_top1_pretrained``, ``test_place_top1_random``,
    ``test_place_chance``, ``test_places``, ``test_place_top1_gain`` with
    ``_low`` and ``_high``, ``test_place_mcnemar_p``). The test split is used only
    here, once, after training; nothing is tuned on it. To choose settings, use
    ``split='val'`` (the validation places and months; the first line then reads
    ``held-out place recognition top-1 (val split): ...`` and the keys start with
    ``val_``).

    .. versionadded:: 0.2
    """

    def __init__(self, seed: int = 0, split: Split = 'test') -> None:
        """Initialize a new HeldOutComparison instance.

        Args:
            seed: Torch seed of the random initialisation (and of the bootstrap).
            split: The held-out split to score, ``'test'`` or ``'val'``.

        Raises:
            ValueError: If *split* is neither ``'test'`` nor ``'val'``.
        """
        if split not in ('test', 'val'):
            msg = f"split={split!r} must be 'test' or 'val' (a held-out split)"
            raise ValueError(msg)
        self.seed = seed
        self.split: Split = split

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Score both encoders on the held-out places and print the comparison.

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
        split = self.split
        datamodule.held_out_sets(split)
        loader = datamodule.held_out_loader(split)
        places = getattr(datamodule, f'{split}_places')
        size = min(int(pl_module.hparams['size']), places.pixels)
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

        trained = place_recognition(encoder(pl_module), loader, prepare, size)
        untrained = place_recognition(encoder(twin), loader, prepare, size)
        pl_module.train(was_training)
        pretrained = float(trained.double().mean())
        random = float(untrained.double().mean())
        chance = place_recognition_chance(*trained.shape)
        paired = paired_comparison(trained, untrained, seed=self.seed)
        if trainer.is_global_zero:
            label = '' if split == 'test' else f' ({split} split)'
            print(
                COMPARISON_LINE.format(
                    split=label, pretrained=pretrained, random=random, chance=chance
                ),
                INTERVAL_LINE.format(
                    percent=100 * paired.level, **dataclasses.asdict(paired)
                ),
                sep='\n',
                flush=True,
            )
        for logger in trainer.loggers:
            logger.log_metrics(
                {
                    f'{split}_place_top1_pretrained': pretrained,
                    f'{split}_place_top1_random': random,
                    f'{split}_place_chance': chance,
                    f'{split}_places': trained.shape[0],
                    f'{split}_place_top1_gain': paired.difference,
                    f'{split}_place_top1_gain_low': paired.low,
                    f'{split}_place_top1_gain_high': paired.high,
                    f'{split}_place_mcnemar_p': paired.p_value,
                },
                step=trainer.global_step,
            )
            logger.save()

"""Pre-trained versus randomly initialised: the held-out comparison of the main job."""

import copy
import dataclasses
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import shapely
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_warn
from pyproj import Transformer
from torch import Tensor, nn
from torchgeo.datasets import GeoDataset
from torchgeo.datasets.utils import Sample

from .crops import held_out_seeds, shifted_crops
from .knn import (
    place_recognition_chance,
    place_recognition_hits,
    region_recognition_chance,
    region_recognition_hits,
)
from .split import Split
from .stats import paired_comparison

#: The first line printed by :class:`HeldOutComparison` (the split is named for ``'val'``).
REGION_LINE = (
    'held-out region recognition top-1{split}: pretrained {pretrained:.2f} vs random '
    'init {random:.2f} (chance {chance:.2f})'
)

#: The line of the place recognition comparison (the split is named for ``'val'``).
COMPARISON_LINE = (
    'held-out place recognition top-1{split}: pretrained {pretrained:.2f} vs random '
    'init {random:.2f} (chance {chance:.2f})'
)

#: The line under each comparison: the paired difference, its interval and McNemar's test.
INTERVAL_LINE = (
    '  pretrained - random init: {difference:+.2f}, {percent:g}% bootstrap interval '
    '[{low:+.2f}, {high:+.2f}] over {groups} places; {first_only} vs {second_only} '
    'views recognised by one only, exact McNemar p = {p_value:.2g} ({queries} views)'
)

#: The control under each interval line: the random initialisation with batch-norm
#: statistics of the held-out views (:func:`batch_norm_reset`).
CONTROL_LINE = (
    '  random init with batch-norm statistics of these views: {control:.2f}; '
    'pretrained - it: {difference:+.2f}, {percent:g}% bootstrap interval '
    '[{low:+.2f}, {high:+.2f}]; {first_only} vs {second_only} views recognised by '
    'one only, exact McNemar p = {p_value:.2g}'
)

#: The batch-norm layers whose running statistics :func:`batch_norm_reset` resets.
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def held_out_features(
    encoder: Callable[[Tensor], Tensor],
    views: Tensor,
    size: int,
    seed: int | Sequence[int],
) -> Tensor:
    """Frozen features of independently shifted crops of the views of places.

    Args:
        encoder: Maps images ``[N, C, size, size]`` to pooled features ``[N, d]``.
        views: Standardised views ``[B, V, C, H, W]`` of B places.
        size: Side of the crops (:func:`~torchgeo_geossl.evaluation.shifted_crops`),
            at most the view side.
        seed: Seed of the crop offsets, one for the batch or one per place
            (:func:`~torchgeo_geossl.evaluation.place_seeds`).

    Returns:
        Features ``[B, V, d]``.

    .. versionadded:: 0.2

    .. versionchanged:: 0.2
       One seed per place.
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


def held_out_bank(
    encoders: Sequence[Callable[[Tensor], Tensor]],
    batches: Iterable[Sample],
    prepare: Callable[[Sample], Tensor],
    size: int,
) -> tuple[list[Tensor], Tensor]:
    """Features of the views of the places of a held-out loader, and their points.

    Each batch is read and prepared once, and every encoder embeds the same crops
    of it, so the encoders are compared on the same views.

    Args:
        encoders: Each maps images ``[N, C, size, size]`` to features ``[N, d]``.
        batches: Batches of places (one entry per place, V views each, with
            ``point``).
        prepare: Turns a batch into standardised views ``[B, V, C, H, W]`` on the
            encoders' device.
        size: Side of the crops (:func:`held_out_features`, seeded by each
            place's point, :func:`~torchgeo_geossl.evaluation.place_seeds`, so
            they do not depend on the batching).

    Returns:
        The features ``[N, V, d]`` of each encoder, in order, on the CPU, and the
        places' (lon, lat) ``[N, 2]``.

    Raises:
        ValueError: If the batches hold no place, or a batch has no ``point``.

    .. versionadded:: 0.2
    """
    features: list[list[Tensor]] = [[] for _ in encoders]
    points: list[Tensor] = []
    for batch in batches:
        views = prepare(batch)
        seeds = held_out_seeds(batch)
        point = torch.as_tensor(batch['point']).reshape(-1, 2).cpu()
        for bank, encoder in zip(features, encoders, strict=True):
            bank.append(held_out_features(encoder, views, size, seeds).cpu())
        points.append(point)
    if not points:
        msg = 'the held-out loader yielded no batch: no place to recognise'
        raise ValueError(msg)
    return [torch.cat(bank) for bank in features], torch.cat(points)


def batch_norm_reset(encoder: nn.Module) -> nn.Module:
    """A copy of *encoder* that learns the batch-norm statistics of what it sees.

    Training changes a network in two ways: its weights, and the running statistics
    of its batch-norm layers, which follow the data even when the weights hardly
    move. A randomly initialised network whose batch-norm layers normalise with the
    statistics of the data can recognise more than the same network with its
    initial statistics (mean 0, variance 1), so a gain over the random
    initialisation alone may come from the statistics only. This copy makes that
    control: the same weights, every batch-norm layer's running statistics reset,
    their momentum None (an equally weighted average over the batches) and the
    copy in training mode. Run it over the held-out crops (as one of the encoders
    of :func:`held_out_bank`; its outputs there are discarded), then put it in
    evaluation mode: it normalises with the statistics of those crops.
    :class:`HeldOutComparison` uses the held-out views themselves, which can only
    make the control stronger.

    Args:
        encoder: The encoder (left unchanged).

    Returns:
        The copy, in training mode.

    Raises:
        ValueError: If the encoder has no batch-norm layer (nothing to re-estimate).

    .. versionadded:: 0.2
    """
    control = copy.deepcopy(encoder)
    layers = [m for m in control.modules() if isinstance(m, BATCH_NORMS)]
    if not layers:
        msg = (
            f'{type(encoder).__name__} has no batch-norm layer: there are no '
            'statistics to re-estimate'
        )
        raise ValueError(msg)
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
    return control.train()


def distinct_footprints(dataset: GeoDataset) -> list[shapely.Geometry]:
    """The distinct file footprints of *dataset*: the regions of region recognition.

    The files of a time series share their footprint (a tile, a scene); each
    distinct footprint counts once, in the order of the dataset's index.

    Args:
        dataset: A dataset with an index of file footprints in its CRS.

    Returns:
        The footprints, in the dataset's CRS.

    .. versionadded:: 0.2
    """
    wkb = dict.fromkeys(shapely.to_wkb(dataset.index.geometry.values))
    return list(shapely.from_wkb(list(wkb)))


def footprint_regions(dataset: GeoDataset, points: Tensor) -> Tensor:
    """The region of each point: which distinct file footprint of *dataset* holds it.

    Each distinct footprint of the dataset's index (:func:`distinct_footprints`) is
    a region; a point belongs to the first one that contains it.

    Args:
        dataset: A dataset with an index of file footprints in its CRS.
        points: Points (lon, lat) in degrees ``[N, 2]``.

    Returns:
        The region index of each point ``[N]`` (int64), -1 where no footprint
        contains it.

    .. versionadded:: 0.2
    """
    shapes = distinct_footprints(dataset)
    to_crs = Transformer.from_crs(4326, dataset.crs, always_xy=True)
    x, y = to_crs.transform(
        points[:, 0].double().numpy(), points[:, 1].double().numpy()
    )
    regions = torch.full((len(points),), -1, dtype=torch.long)
    for index, shape in enumerate(shapes):
        inside = torch.from_numpy(shapely.contains_xy(shape, x, y))
        regions[inside & (regions < 0)] = index
    return regions


def held_out_regions(dataset: object, points: Tensor) -> Tensor | None:
    """The regions that region recognition scores the held-out places by, if any.

    Region recognition needs a dataset with file footprints and held-out places in
    at least two of them. When it cannot be scored, or when places lie in no
    footprint, this says so with a warning instead of leaving the line or the
    places out silently.

    Args:
        dataset: The data module's ``geo_dataset`` (None or anything else: no
            regions).
        points: The held-out places' (lon, lat) in degrees ``[N, 2]``.

    Returns:
        :func:`footprint_regions` of the places (-1 for a place in no footprint,
        which region recognition leaves out), or None when region recognition
        cannot be scored.

    .. versionadded:: 0.2
    """
    if not isinstance(dataset, GeoDataset):
        rank_zero_warn(
            'HeldOutComparison: region recognition is not scored: the data module '
            f'has no geo_dataset with file footprints (got {type(dataset).__name__}); '
            'only place recognition is compared'
        )
        return None
    regions = footprint_regions(dataset, points)
    outside = int((regions < 0).sum())
    if outside:
        rank_zero_warn(
            f'HeldOutComparison: {outside} of {len(regions)} held-out places lie in '
            f'no file footprint of {type(dataset).__name__}; region recognition '
            'leaves them out'
        )
    found = len(set(regions[regions >= 0].tolist()))
    if found < 2:
        rank_zero_warn(
            f'HeldOutComparison: region recognition is not scored: the '
            f'{len(regions)} held-out places lie in {found} region (file footprint) '
            f'of {type(dataset).__name__}, it needs at least 2; only place '
            'recognition is compared'
        )
        return None
    return regions


class HeldOutComparison(Callback):
    """At the end of ``fit``, compare the backbone with its random initialisation.

    Runs the data module's test loader (held-out places at held-out dates, see
    :class:`~torchgeo_geossl.evaluation.HeldOutSplit`) through the trained encoder
    and through the same encoder at random initialisation
    (:func:`random_init_twin`), on the same views (:func:`held_out_bank`, pooled
    backbone features of independently shifted crops), and scores both twice:

    * **region recognition** (:func:`~torchgeo_geossl.evaluation.region_recognition_hits`):
      does a view's nearest view of *another* place lie in the same region, a
      distinct file footprint of the dataset (a tile of a time series, one site of
      the demo data; :func:`footprint_regions`)? This asks what geography-aware
      pre-training teaches: which landscape a patch shows, whatever the season.
      Printed only for data modules with a ``geo_dataset`` of two or more regions;
      otherwise a warning says why it is left out (:func:`held_out_regions`).
    * **place recognition** (:func:`~torchgeo_geossl.evaluation.place_recognition_hits`):
      is a view's nearest other view one of the same place, at another date?

    Each comparison prints three lines::

        held-out region recognition top-1: pretrained 0.xx vs random init 0.yy (chance 0.zz)
          pretrained - random init: +0.dd, 95% bootstrap interval [+0.ll, +0.hh] over N places; b vs c views recognised by one only, exact McNemar p = p (M views)
          random init with batch-norm statistics of these views: 0.ww; pretrained - it: +0.dd, 95% bootstrap interval [+0.ll, +0.hh]; b vs c views recognised by one only, exact McNemar p = p
        held-out place recognition top-1: pretrained 0.xx vs random init 0.yy (chance 0.zz)
          pretrained - random init: ...
          random init with batch-norm statistics of these views: ...

    The second line of each is :func:`~torchgeo_geossl.evaluation.paired_comparison`
    of the two encoders' hits on the same views. The third compares the trained
    encoder, in the same way, with a control: the random initialisation whose
    batch-norm layers normalise with the statistics of the held-out crops
    (:func:`batch_norm_reset`). Training moves these statistics even where it
    hardly moves the weights, and the statistics alone can change what a random
    network recognises, so a gain over the random initialisation that the control
    matches is not evidence that the weights learned. Encoders without batch norm
    print no third line. The numbers are also logged
    (``test_region_top1_pretrained``, ``test_region_top1_random``,
    ``test_region_chance``, ``test_regions``, ``test_region_top1_gain`` with
    ``_low`` and ``_high``, ``test_region_mcnemar_p``; for the control
    ``test_region_top1_random_bn``, ``test_region_top1_gain_random_bn`` with ``_low``
    and ``_high``, ``test_region_random_bn_mcnemar_p``; and the same with
    ``place``). The test split is used only here, once, after training; nothing is
    tuned on it. To choose settings, use ``split='val'`` (the validation places and
    months; the lines then read ``... top-1 (val split): ...`` and the keys start
    with ``val_``).

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

        def encoder(module: nn.Module) -> nn.Module:
            model = module.model
            assert isinstance(model, nn.Module)
            return model

        encoders = [encoder(pl_module), encoder(twin)]
        if any(isinstance(m, BATCH_NORMS) for m in encoders[1].modules()):
            # the control learns the views' statistics in the first pass
            encoders.append(batch_norm_reset(encoders[1]))
        banks, points = held_out_bank(encoders, loader, prepare, size)
        trained, untrained = banks[:2]
        adapted: Tensor | None = None
        if len(encoders) == 3:
            adapted = held_out_bank([encoders[2].eval()], loader, prepare, size)[0][0]
        pl_module.train(was_training)
        scorers: list[tuple[str, str, Callable[[Tensor], Tensor], float]] = []
        regions = held_out_regions(getattr(datamodule, 'geo_dataset', None), points)
        if regions is not None:
            known = regions >= 0
            scorers.append(
                (
                    'region',
                    REGION_LINE,
                    lambda f: region_recognition_hits(f[known], regions[known]),
                    region_recognition_chance(regions[known]),
                )
            )
        scorers.append(
            (
                'place',
                COMPARISON_LINE,
                place_recognition_hits,
                place_recognition_chance(*trained.shape[:2]),
            )
        )
        label = '' if split == 'test' else f' ({split} split)'
        for task, line, score, chance in scorers:
            first, second = score(trained), score(untrained)
            pretrained = float(first.double().mean())
            random = float(second.double().mean())
            paired = paired_comparison(first, second, seed=self.seed)
            lines = [
                line.format(
                    split=label, pretrained=pretrained, random=random, chance=chance
                ),
                INTERVAL_LINE.format(
                    percent=100 * paired.level, **dataclasses.asdict(paired)
                ),
            ]
            metrics = {
                f'{split}_{task}_top1_pretrained': pretrained,
                f'{split}_{task}_top1_random': random,
                f'{split}_{task}_chance': chance,
                f'{split}_{task}s': first.shape[0],
                f'{split}_{task}_top1_gain': paired.difference,
                f'{split}_{task}_top1_gain_low': paired.low,
                f'{split}_{task}_top1_gain_high': paired.high,
                f'{split}_{task}_mcnemar_p': paired.p_value,
            }
            if adapted is not None:
                third = score(adapted)
                versus = paired_comparison(first, third, seed=self.seed)
                lines.append(
                    CONTROL_LINE.format(
                        control=float(third.double().mean()),
                        percent=100 * versus.level,
                        **dataclasses.asdict(versus),
                    )
                )
                metrics |= {
                    f'{split}_{task}_top1_random_bn': float(third.double().mean()),
                    f'{split}_{task}_top1_gain_random_bn': versus.difference,
                    f'{split}_{task}_top1_gain_random_bn_low': versus.low,
                    f'{split}_{task}_top1_gain_random_bn_high': versus.high,
                    f'{split}_{task}_random_bn_mcnemar_p': versus.p_value,
                }
            if trainer.is_global_zero:
                print(*lines, sep='\n', flush=True)
            for logger in trainer.loggers:
                logger.log_metrics(metrics, step=trainer.global_step)
                logger.save()

"""Chip once, stream many times: write a data module's samples to a LitData store.

``geossl-chip --config CONFIG.yaml --out DIR [--samples N] [--seed S]`` draws the
samples of one training epoch with the ``data:`` section of a ``torchgeo fit``
config (its data module, sampler and seed) and writes them with
:func:`litdata.optimize` to a streaming store: a local folder or an object-store
URI (``s3://...``, ``gs://...``; LitData and fsspec handle the transfer).
:class:`~torchgeo_geossl.datamodules.StreamingViewsDataModule` reads it back as
the same batches (:doc:`/user/streaming`).
"""

import argparse
import json
import multiprocessing
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import fsspec
import torch
import yaml
from jsonargparse import ArgumentParser
from lightning.pytorch import LightningDataModule
from litdata import StreamingDataset, optimize
from torch import Tensor
from torch.utils.data import Dataset
from torchgeo.datasets.utils import Sample

from .datamodules.pretraining import PretrainingMixin
from .datamodules.streaming import METADATA, METADATA_VERSION
from .samplers.distributed import ResumableSampler

#: Default size of a chunk of the store. 64 MB holds about 40 view pairs of 4
#: bands at 224 px in float32: large enough that one request to an object store
#: (tens of ms of latency) moves data for a whole batch or more, small enough that
#: LitData's prefetch (two chunks per worker by default) stays far below a
#: worker's memory and that a shuffled epoch still draws from thousands of chunks
#: of a store of a million pairs.
CHUNK_BYTES = '64MB'


class ReadSample:
    """Read one drawn query of a dataset, for :func:`litdata.optimize`.

    A generator function: it yields the sample, or nothing where the dataset
    skipped it (a :class:`~torchgeo_geossl.datasets.TemporalViewsDataset` returns
    None for an unreadable file or a view without enough valid pixels), so the
    store holds the samples the source data module's batches hold, in order.

    .. versionadded:: 0.2
    """

    def __init__(self, dataset: Dataset[Sample | None]) -> None:
        """Initialize a new ReadSample instance.

        Args:
            dataset: The training dataset of the source data module.
        """
        self.dataset = dataset

    def __call__(self, query: Any) -> Iterator[Sample]:
        """Read one query.

        Args:
            query: An index or query drawn by the data module's sampler.

        Yields:
            The sample, unless the dataset skipped it.
        """
        sample = self.dataset[query]
        if sample is not None:
            yield sample


def _as_list(value: Tensor | None) -> list[float] | None:
    """A per-band statistic as a JSON list.

    Args:
        value: A tensor or None.

    Returns:
        Its values, or None.
    """
    return None if value is None else torch.as_tensor(value).flatten().tolist()


def chip(
    datamodule: LightningDataModule,
    output_dir: str | Path,
    samples: int | None = None,
    seed: int | None = None,
    chunk_bytes: int | str = CHUNK_BYTES,
    num_workers: int = 1,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Draw one epoch of a data module's samples and write them to a LitData store.

    The data module (one of this package's pre-training data modules, whose
    training loader has a resumable sampler) is prepared and set up for
    ``'fit'`` in a single process; its sampler's draws of epoch 0 are read by
    *num_workers* processes, each a contiguous part of them in order, and written
    by :func:`litdata.optimize` in that order. Samples the dataset skips are left
    out, as the source's batches leave them out. A JSON file :data:`METADATA` is
    written beside LitData's ``index.json``.

    Args:
        datamodule: The source data module (not yet set up).
        output_dir: Local folder or object-store URI of the new store; it must not
            hold a store yet.
        samples: Number of samples to draw: the epoch length (``length``) of a
            data module that has one, else the first *samples* of the epoch. None:
            the data module's own epoch.
        seed: Seed of the data module's samplers (its ``seed``), or None to keep
            the data module's.
        chunk_bytes: Largest size of a chunk of the store (:data:`CHUNK_BYTES`).
        num_workers: Processes that read the samples.
        source: The ``data:`` section of the config, recorded in :data:`METADATA`.

    Returns:
        The contents of :data:`METADATA`: counts (``samples`` written, ``drawn``,
        ``skipped``), the seed, the standardisation and geo-clusters of the
        source, and *source*.

    Raises:
        ValueError: If *samples* or *num_workers* is out of range, the data module
            has no ``seed`` to set, or the epoch has fewer than *samples* samples.
        TypeError: If the data module's training loader has no resumable sampler.

    .. versionadded:: 0.2
    """
    name = type(datamodule).__name__
    if samples is not None and samples < 1:
        raise ValueError(f'samples must be at least 1, got {samples}')
    if num_workers < 1:
        raise ValueError(f'num_workers must be at least 1, got {num_workers}')
    if seed is not None:
        if not hasattr(datamodule, 'seed'):
            raise ValueError(f'seed: {name} has no seed to set')
        datamodule.seed = seed
    if samples is not None and hasattr(datamodule, 'length'):
        datamodule.length = samples
    datamodule.prepare_data()
    datamodule.setup('fit')
    loader = datamodule.train_dataloader()
    sampler = getattr(loader, 'sampler', None)
    if not isinstance(sampler, ResumableSampler):
        msg = (
            f'geossl-chip draws with the resumable sampler of the training loader of '
            f"this package's data modules; {name}'s loader has a "
            f'{type(sampler).__name__}'
        )
        raise TypeError(msg)
    sampler.set_epoch(0)
    queries = list(sampler)
    if samples is not None:
        if len(queries) < samples:
            msg = (
                f'samples={samples}: an epoch of {name} has only {len(queries)} samples'
            )
            raise ValueError(msg)
        queries = queries[:samples]
    output = str(output_dir)
    # LitData sets the global start method (to spawn: forking a process that
    # already runs threads, such as DataLoader workers or k-means, can deadlock);
    # put it back afterwards
    start_method = multiprocessing.get_start_method(allow_none=True)
    try:
        optimize(
            ReadSample(loader.dataset),
            queries,
            output,
            chunk_bytes=chunk_bytes,
            num_workers=min(num_workers, len(queries)),
            keep_data_ordered=True,
            reorder_files=False,
            verbose=False,
            start_method='spawn',
        )
    finally:
        multiprocessing.set_start_method(start_method, force=True)
    with tempfile.TemporaryDirectory() as cache:
        written = len(StreamingDataset(output, cache_dir=cache))
    if written < len(queries):
        warnings.warn(
            f'geossl-chip: {len(queries) - written} of {len(queries)} drawn samples '
            'were skipped by the dataset (unreadable files or too much nodata), as '
            f"{name}'s batches skip them; the store holds {written}",
            UserWarning,
            stacklevel=2,
        )
    clusters = getattr(datamodule, 'geo_clusters', None)
    metadata: dict[str, Any] = {
        'version': METADATA_VERSION,
        'samples': written,
        'drawn': len(queries),
        'skipped': len(queries) - written,
        'seed': getattr(datamodule, 'seed', None),
        'source_class': f'{type(datamodule).__module__}.{name}',
        'source': source,
        'batch_size': getattr(datamodule, 'batch_size', None),
        'patch_size': getattr(datamodule, 'patch_size', None),
        'views': getattr(datamodule, 'views', None),
        'bands': _bands(datamodule),
        'chunk_bytes': chunk_bytes,
        'standardization': {
            'mean': _as_list(datamodule.mean),
            'std': _as_list(datamodule.std),
            'scale': _as_list(datamodule.rescale.std),
            'offset': _as_list(datamodule.rescale.mean),
            'low': _as_list(datamodule.low),
            'high': _as_list(datamodule.high),
        }
        if isinstance(datamodule, PretrainingMixin)
        else None,
        'geo_clusters': None
        if clusters is None
        else {
            'num_clusters': clusters.num_clusters,
            'seed': clusters.seed,
            'centroids': clusters.centroids.tolist(),
        },
    }
    with fsspec.open(f'{output.rstrip("/")}/{METADATA}', 'w') as file:
        json.dump(metadata, file, indent=2)
    return metadata


def _bands(datamodule: LightningDataModule) -> list[str] | None:
    """The band names of the source data module, where it says.

    Args:
        datamodule: The source data module, set up.

    Returns:
        The ``bands`` of its arguments or dataset, or None.
    """
    kwargs = getattr(datamodule, 'kwargs', {}) or {}
    dataset = getattr(datamodule, 'geo_dataset', None)
    bands = kwargs.get('bands') or getattr(dataset, 'bands', None)
    return None if bands is None else [str(band) for band in bands]


def load_datamodule(config: str | Path) -> tuple[LightningDataModule, dict[str, Any]]:
    """Instantiate the data module of a ``torchgeo fit`` config.

    Args:
        config: A YAML config with a ``data:`` section (``class_path`` and
            ``init_args``), as ``torchgeo fit --config`` reads it.

    Returns:
        The data module and the ``data:`` section.

    Raises:
        ValueError: If the config has no ``data:`` section with a ``class_path``.

    .. versionadded:: 0.2
    """
    with open(config) as file:
        parsed = yaml.safe_load(file) or {}
    section = parsed.get('data') if isinstance(parsed, dict) else None
    if not section or 'class_path' not in section:
        msg = f'{config} has no data: section (class_path and init_args) to chip'
        raise ValueError(msg)
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(LightningDataModule, 'data', required=True)
    namespace = parser.parse_object({'data': section})
    datamodule = parser.instantiate(namespace).data
    return datamodule, section


def main(argv: Sequence[str] | None = None) -> None:
    """Chip the data module of a config into a LitData store.

    Args:
        argv: Command-line arguments (defaults to ``sys.argv[1:]``).

    .. versionadded:: 0.2
    """
    parser = argparse.ArgumentParser(
        prog='geossl-chip',
        description="Draw the samples of one epoch of a config's data module and "
        'write them to a LitData streaming store.',
    )
    parser.add_argument(
        '--config', required=True, type=Path, help='torchgeo fit config'
    )
    parser.add_argument(
        '--out', required=True, help='local folder or object-store URI of the store'
    )
    parser.add_argument(
        '--samples', type=int, help="samples to draw (default: the data module's epoch)"
    )
    parser.add_argument(
        '--seed', type=int, help="sampling seed (default: the data module's)"
    )
    parser.add_argument(
        '--workers', type=int, default=1, help='reading processes (default 1)'
    )
    parser.add_argument(
        '--chunk-bytes',
        default=CHUNK_BYTES,
        help=f'largest chunk of the store (default {CHUNK_BYTES})',
    )
    args = parser.parse_args(argv)
    if args.samples is not None and args.samples < 1:
        parser.error(f'--samples must be at least 1, got {args.samples}')
    if args.workers < 1:
        parser.error(f'--workers must be at least 1, got {args.workers}')
    if not args.config.is_file():
        parser.error(f'--config {args.config}: no such file')
    datamodule, section = load_datamodule(args.config)
    metadata = chip(
        datamodule,
        args.out,
        samples=args.samples,
        seed=args.seed,
        chunk_bytes=args.chunk_bytes,
        num_workers=args.workers,
        source=section,
    )
    print(
        f'Wrote {metadata["samples"]} samples of {metadata["drawn"]} drawn to '
        f'{args.out} (seed {metadata["seed"]})'
    )
    local = Path(args.out)
    if local.is_dir():
        size = sum(path.stat().st_size for path in local.glob('*.bin'))
        per_sample = size / metadata['samples']
        print(
            f'Store size: {size} bytes, {per_sample / 1e3:.1f} kB per sample, '
            f'{per_sample * 1e6 / 1e9:.1f} GB per million samples'
        )

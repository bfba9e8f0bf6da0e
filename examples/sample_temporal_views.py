#!/usr/bin/env python3
"""Draw temporal views from the demo data and plot what the sampler chose.

Generates the SYNTHETIC demo time series (no download), builds a
:class:`~torchgeo_geossl.datamodules.DemoDataModule` twice and draws one batch from
each:

* **GASSL views**: two acquisitions per location at least 30 days apart
  (``views=2, min_gap='30D'``), the temporal positives of GASSL;
* **SeCo seasons**: three acquisitions per location in three different quarters
  (``views=3, distinct_periods='Q'``), SeCo's seasons.

Both reject views with more than 5 % nodata (``max_nodata_fraction=0.05``) in
favour of one of four alternative draws (``redraws=4``). Clouds are not nodata:
they stay, as they would in real imagery.

For each, it writes a figure with one row per location: the RGB views with their
dates, and a timeline of every acquisition covering the patch (grey) and the ones
drawn (coloured). It also writes the batch as text and a JSON summary of the batch
contract (keys, shapes, dtypes).

Run from the repository root::

    python examples/sample_temporal_views.py --out outputs/examples/views

The figures of the documentation, ``docs/_static/examples/gassl_views.png`` and
``seco_seasons.png``, are the PNGs this command writes, copied there.
"""

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use('Agg')

import matplotlib.pyplot as plt
import pandas as pd
import shapely
import torch
from matplotlib.figure import Figure
from torchgeo.datasets import GeoDataset

from torchgeo_geossl.datamodules import DemoDataModule
from torchgeo_geossl.preview import format_batch
from torchgeo_geossl.samplers import ViewsQuery

#: Pixel value shown at full brightness (0.3 reflectance, stored × 10,000).
VMAX = 3000.0


def draw_samples(
    datamodule: DemoDataModule, count: int
) -> tuple[list[ViewsQuery], list[str], list[dict[str, Any]]]:
    """Draw and read queries at *count* different demo sites.

    Iterates the data module's sampler (``ScatteredPatchSampler @
    TemporalViewSampler``) directly, so that every query's exact patch is known,
    and reads each query with the data module's ``TemporalViewsDataset``.

    Args:
        datamodule: A data module after ``setup('fit')``.
        count: Number of samples, one per site.

    Returns:
        The queries, the site name of each and the samples read.
    """
    dataset = datamodule.geo_dataset
    assert dataset is not None
    queries, sites, samples = [], [], []
    for query in datamodule.train_sampler:
        assert isinstance(query, ViewsQuery)
        site = site_of(dataset, query)
        if site in sites:
            continue
        sample = datamodule.train_dataset[query]
        if sample is None:  # the views dataset may skip a sample it cannot serve
            continue
        queries.append(query)
        sites.append(site)
        samples.append(sample)
        if len(queries) == count:
            break
    return queries, sites, samples


def covering_rows(dataset: GeoDataset, query: ViewsQuery) -> pd.DataFrame:
    """Index rows whose footprint covers the whole patch of a query.

    Args:
        dataset: The indexed dataset.
        query: A query of the temporal-view sampler.

    Returns:
        The rows of ``dataset.index`` that could serve a view of this patch.
    """
    # Shrunk by half a pixel, as the sampler tolerates rounding at the edges
    eps = 0.5 * min(dataset.res)
    patch = shapely.box(
        query.x.start + eps, query.y.start + eps, query.x.stop - eps, query.y.stop - eps
    )
    rows = dataset.index.sindex.query(patch, predicate='covered_by')
    return dataset.index.iloc[rows].sort_index()


def site_of(dataset: GeoDataset, query: ViewsQuery) -> str:
    """Demo site of a query, from the name of a file covering its patch.

    Args:
        dataset: The demo dataset.
        query: A query of the temporal-view sampler.

    Returns:
        The site name (``demo_<site>_<YYYYMMDD>.tif``).
    """
    path = Path(covering_rows(dataset, query)['filepath'].iloc[0])
    return path.stem.split('_')[1]


def plot_queries(
    dataset: GeoDataset,
    queries: list[ViewsQuery],
    sites: list[str],
    batch: dict[str, Any],
    title: str,
) -> Figure:
    """One row per location: the views, then the timeline of acquisitions.

    Args:
        dataset: The demo dataset.
        queries: The queries that were read.
        sites: Site name of each query.
        batch: The stacked samples of the queries (raw reflectance × 10,000).
        title: Title of the figure.

    Returns:
        The figure.
    """
    rows, views = batch['image'].shape[:2]
    fig, axes = plt.subplots(
        rows,
        views + 1,
        figsize=(1.9 * views + 4.2, 1.9 * rows + 0.5),
        gridspec_kw={'width_ratios': [1] * views + [2.2]},
        squeeze=False,
    )
    colours = plt.get_cmap('tab10').colors
    year = pd.Timestamp(float(batch['time'].min()), unit='s').year
    for i, (query, site) in enumerate(zip(queries, sites, strict=True)):
        lon, lat = batch['point'][i].tolist()
        for j in range(views):
            ax = axes[i, j]
            rgb = (batch['image'][i, j, [2, 1, 0]] / VMAX).clamp(0, 1)
            ax.imshow(rgb.permute(1, 2, 0).numpy())
            date = pd.Timestamp(float(batch['time'][i, j]), unit='s')
            ax.set_title(f'view {j}: {date:%Y-%m-%d}', fontsize=8, color=colours[j])
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(f'{site}\n{lon:.1f}°, {lat:.1f}°', fontsize=8)
        timeline = axes[i, views]
        available = covering_rows(dataset, query).index.left
        timeline.scatter(available, [0] * len(available), marker='|', s=300, c='0.6')
        for j in range(views):
            date = pd.Timestamp(float(batch['time'][i, j]), unit='s')
            timeline.scatter([date], [0], marker='o', s=70, color=colours[j])
        timeline.set_xlim(pd.Timestamp(year, 1, 1), pd.Timestamp(year + 1, 1, 1))
        timeline.set_yticks([])
        for quarter in pd.date_range(f'{year}-04-01', periods=3, freq='3MS'):
            timeline.axvline(quarter, color='0.85', lw=0.8, zorder=0)
        timeline.tick_params(labelsize=7)
        timeline.xaxis.set_major_formatter(matplotlib.dates.DateFormatter('%b'))
        if i == 0:
            timeline.set_title(
                'acquisitions covering the patch (grey), drawn (colour)', fontsize=8
            )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def contract(batch: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Keys, shapes and dtypes of a batch.

    Args:
        batch: A batch of the batch contract.

    Returns:
        ``{key: {'shape': [...], 'dtype': '...'}}`` for every tensor.
    """
    return {
        key: {'shape': list(value.shape), 'dtype': str(value.dtype)}
        for key, value in batch.items()
        if isinstance(value, torch.Tensor)
    }


def main() -> None:
    """Generate the demo data, draw GASSL views and SeCo seasons, plot them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--out', type=Path, default=None, help='output folder (default: a temp dir)'
    )
    parser.add_argument(
        '--data', type=Path, default=None, help='demo data folder (default: OUT/demo)'
    )
    parser.add_argument('--locations', type=int, default=4)
    parser.add_argument('--tile-size', type=int, default=128)
    parser.add_argument('--patch-size', type=int, default=48)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix='geossl-views-'))
    out.mkdir(parents=True, exist_ok=True)
    data = args.data or out / 'demo'

    settings = {
        'gassl_views': {
            'views': 2,
            'min_gap': '30D',
            'max_nodata_fraction': 0.05,
            'redraws': 4,
            'title': 'GASSL temporal positives: 2 dates at least 30 days apart',
        },
        'seco_seasons': {
            'views': 3,
            'distinct_periods': 'Q',
            'max_nodata_fraction': 0.05,
            'redraws': 4,
            'title': 'SeCo seasons: 3 dates in 3 different quarters',
        },
    }
    summary: dict[str, Any] = {}
    text = []
    for name, options in settings.items():
        title = options.pop('title')
        datamodule = DemoDataModule(
            root=data,
            tile_size=args.tile_size,
            patch_size=args.patch_size,
            batch_size=args.locations,
            seed=args.seed,
            **options,
        )
        datamodule.prepare_data()  # writes the demo GeoTIFFs once
        datamodule.setup('fit')
        dataset = datamodule.geo_dataset
        assert dataset is not None
        queries, sites, samples = draw_samples(datamodule, args.locations)
        batch = datamodule.collate_fn(samples)  # as the data module's loader does

        figure = out / f'{name}.png'
        plot_queries(dataset, queries, sites, batch, title).savefig(figure, dpi=80)
        plt.close('all')
        text += [f'== {name}: {title}', format_batch(batch)]
        text.append(datamodule.temporal_sampler.report())
        summary[name] = {
            'figure': figure.name,
            'sites': sites,
            'dates': [
                [f'{pd.Timestamp(float(t), unit="s"):%Y-%m-%d}' for t in row]
                for row in batch['time']
            ],
            'batch': contract(batch),
        }
        print(f'{name}: {figure}')

    (out / 'batches.txt').write_text('\n'.join(text) + '\n')
    (out / 'views.json').write_text(json.dumps(summary, indent=2) + '\n')
    print('\n'.join(text))
    print(f'Wrote {out}')


if __name__ == '__main__':
    main()

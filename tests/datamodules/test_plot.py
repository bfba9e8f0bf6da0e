"""``plot`` of the data modules and TorchGeo's ``unbind_samples`` on their batches."""

import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import SeriesDataset, monthly, write_series
from lightning.pytorch import LightningDataModule
from matplotlib.figure import Figure
from torchgeo.datasets import unbind_samples

from torchgeo_geossl.datamodules import (
    DemoDataModule,
    FMoWDataModule,
    PointsDataModule,
    S2100kDataModule,
    SeasonalContrastS2ViewsDataModule,
    SSL4EOS12ViewsDataModule,
    TemporalGeoDataModule,
)

DATA = Path(__file__).resolve().parents[1] / 'data'

#: data module on its fixture, and the number of views of its samples (0: one image)
CASES: dict[str, tuple[Callable[[Path], LightningDataModule], int]] = {
    'temporal': (
        lambda tmp: TemporalGeoDataModule(
            SeriesDataset,
            paths=str(tmp),
            batch_size=3,
            patch_size=16,
            length=6,
            views=3,
            geo_clusters=1,
        ),
        3,
    ),
    'demo': (
        lambda tmp: DemoDataModule(
            root=DATA / 'demo', tile_size=16, batch_size=3, patch_size=8, length=6
        ),
        2,
    ),
    'seco': (
        lambda tmp: SeasonalContrastS2ViewsDataModule(
            root=DATA / 'seco', batch_size=2, seed=0
        ),
        3,
    ),
    'ssl4eo': (
        lambda tmp: SSL4EOS12ViewsDataModule(
            root=DATA / 'ssl4eo_s12', split='s2c', batch_size=2, seasons=2, seed=0
        ),
        2,
    ),
    'fmow': (
        lambda tmp: FMoWDataModule(
            root=DATA / 'fmow', batch_size=2, size=16, views=2, geo_clusters=None
        ),
        2,
    ),
    's2100k': (lambda tmp: S2100kDataModule(root=DATA / 's2100k', batch_size=2), 0),
}


@pytest.mark.parametrize('name', list(CASES))
def test_unbind_and_plot_a_batch(name: str, tmp_path: Path) -> None:
    make, views = CASES[name]
    write_series(tmp_path, dates=monthly(6))
    datamodule = make(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # fixture locations with too few seasons
        datamodule.setup('fit')
    batch = next(iter(datamodule.train_dataloader()))
    samples = unbind_samples(batch)
    assert len(samples) == len(batch['image'])
    torch.testing.assert_close(samples[-1]['image'], batch['image'][-1])
    if 'skipped' in batch:
        assert sum(int(s['skipped']) for s in samples) == int(batch['skipped'].sum())
    fig = datamodule.plot(samples[0], suptitle=name)  # type: ignore[attr-defined]
    assert isinstance(fig, Figure)
    assert fig.texts[0].get_text() == name
    if views:
        assert len(fig.axes) == views
        dates = [
            f'{pd.Timestamp(float(t), unit="s"):%Y-%m-%d}' for t in samples[0]['time']
        ]
        assert [ax.get_title() for ax in fig.axes] == dates


def test_plot_before_setup() -> None:
    datamodule = DemoDataModule(root=DATA / 'demo', tile_size=64)
    with pytest.raises(RuntimeError, match=r'call setup\("fit"\) first'):
        datamodule.plot({'image': torch.zeros(2, 4, 8, 8)})


def test_points_plot() -> None:
    datamodule = PointsDataModule(
        path=DATA / 'points' / 'points.csv',
        lon_column='lon',
        lat_column='lat',
        label_column='biome',
        batch_size=4,
    )
    with pytest.raises(RuntimeError, match='call setup'):
        datamodule.plot({'point': torch.zeros(2), 'label': torch.tensor(0)})
    datamodule.setup('fit')
    batch = next(iter(datamodule.train_dataloader()))
    fig = datamodule.plot(unbind_samples(batch)[0], suptitle='one point')
    (ax,) = fig.axes
    names = sorted({'desert', 'forest', 'tundra'})
    assert ax.get_title() == names[int(batch['label'][0])]
    # grey: all 90 points of the file; then the sample's point at its (lon, lat)
    assert len(ax.collections[0].get_offsets()) == 90
    offsets = ax.collections[1].get_offsets()
    assert offsets.tolist() == [batch['point'][0].tolist()]

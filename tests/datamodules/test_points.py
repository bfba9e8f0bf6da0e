from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from torchgeo_geossl.datamodules.points import PointsDataModule

FIXTURE = Path(__file__).resolve().parents[1] / 'data' / 'points' / 'points.csv'
VECTOR = Path(__file__).resolve().parents[1] / 'data' / 'vector' / 'points.gpkg'
COLUMNS = {'lon_column': 'lon', 'lat_column': 'lat', 'label_column': 'biome'}


def test_fixture_batches_and_classes() -> None:
    dm = PointsDataModule(FIXTURE, **COLUMNS, batch_size=8)
    dm.setup('fit')
    assert dm.classes == ['desert', 'forest', 'tundra']
    batch = next(iter(dm.train_dataloader()))
    assert batch['point'].shape == (8, 2)
    assert batch['point'].dtype == torch.float64
    assert batch['label'].dtype == torch.int64
    frame = pd.read_csv(FIXTURE)
    # every batch row is a CSV row with its label mapped alphabetically
    for (lon, lat), label in zip(
        batch['point'].tolist(), batch['label'].tolist(), strict=True
    ):
        row = frame[(frame['lon'] == lon) & (frame['lat'] == lat)]
        assert row['biome'].item() == dm.classes[label]
    assert dm.on_after_batch_transfer(batch, 0) is batch


@pytest.mark.parametrize('split', ['random', 'block'])
def test_splits_are_disjoint_and_cover_everything(split: str) -> None:
    dm = PointsDataModule(
        FIXTURE, **COLUMNS, split=split, block_size=5.0, val_split_pct=0.2,
        test_split_pct=0.2, batch_size=4,
    )  # fmt: skip
    dm.setup('fit')
    assert dm.points is not None
    train, val, test = dm.split_indices(dm.points)
    all_indices = np.concatenate([train, val, test])
    assert sorted(all_indices.tolist()) == list(range(90))
    assert min(len(test), len(val), len(train)) > 0
    if split == 'random':
        assert (len(test), len(val)) == (18, 18)
    else:
        # no 5-degree cell is shared between two splits
        cells = [
            {tuple(c) for c in np.floor(dm.points[idx].numpy() / 5.0).tolist()}
            for idx in (train, val, test)
        ]
        assert not (cells[0] & cells[1])
        assert not (cells[0] & cells[2])
        assert not (cells[1] & cells[2])
        assert max(len(test), len(val)) <= 18
    again = PointsDataModule(FIXTURE, **COLUMNS, split=split, block_size=5.0,
                             val_split_pct=0.2, test_split_pct=0.2)  # fmt: skip
    assert all(
        np.array_equal(a, b)
        for a, b in zip(again.split_indices(dm.points), (train, val, test), strict=True)
    )


def test_fixed_classes_order(tmp_path: Path) -> None:
    dm = PointsDataModule(FIXTURE, **COLUMNS, classes=['tundra', 'forest', 'desert'])
    _, labels = dm.load()
    frame = pd.read_csv(FIXTURE)
    assert labels.tolist() == [
        ['tundra', 'forest', 'desert'].index(b) for b in frame['biome']
    ]
    with pytest.raises(ValueError, match=r"labels \['tundra'\] are not in classes"):
        PointsDataModule(FIXTURE, **COLUMNS, classes=['desert', 'forest']).load()


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='nope.csv'):
        PointsDataModule(tmp_path / 'nope.csv').load()
    with pytest.raises(ValueError, match=r"no column\(s\) \['longitude', 'latitude'"):
        PointsDataModule(FIXTURE, label_column='biome').load()
    bad = tmp_path / 'bad.csv'
    bad.write_text('lon,lat,biome\n10,20,a\n200,20,b\n5,x,a\n1,2,\n')
    with pytest.raises(ValueError, match=r'3 row\(s\).*lines \[3, 4, 5\]'):
        PointsDataModule(bad, **COLUMNS).load()
    with pytest.raises(ValueError, match='batch_size=128'):
        PointsDataModule(FIXTURE, **COLUMNS, batch_size=128).setup('fit')
    with pytest.raises(ValueError, match="'random' or 'block'"):
        PointsDataModule(FIXTURE, split='grid')  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='sum below 1'):
        PointsDataModule(FIXTURE, val_split_pct=0.5, test_split_pct=0.5)
    with pytest.raises(ValueError, match='block_size'):
        PointsDataModule(FIXTURE, block_size=0)


def test_vector_points_in_another_crs() -> None:
    # points.gpkg holds the points of points.csv in Web Mercator (EPSG:3857)
    dm = PointsDataModule(VECTOR, label_column='biome', batch_size=8)
    points, labels = dm.load()
    frame = pd.read_csv(FIXTURE)
    np.testing.assert_allclose(
        points.numpy(), frame[['lon', 'lat']].to_numpy(), rtol=0, atol=1e-9
    )
    assert dm.classes == ['desert', 'forest', 'tundra']
    assert [dm.classes[i] for i in labels.tolist()] == frame['biome'].tolist()
    dm.setup('fit')
    assert next(iter(dm.train_dataloader()))['point'].dtype == torch.float64


def test_vector_points_errors(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"points\.gpkg.* no label column 'primary_fuel'"
    ):
        PointsDataModule(VECTOR).load()
    nameless = tmp_path / 'nameless.geojson'
    nameless.write_text(
        '{"type": "FeatureCollection", "features": ['
        '{"type": "Feature", "properties": {"biome": "a"},'
        ' "geometry": {"type": "Point", "coordinates": [10, 20]}},'
        '{"type": "Feature", "properties": {"biome": null},'
        ' "geometry": {"type": "Point", "coordinates": [11, 21]}}]}'
    )
    with pytest.raises(ValueError, match=r'1 feature\(s\) have a missing label.*\[1\]'):
        PointsDataModule(nameless, label_column='biome').load()


def test_power_plants(shared_data: Path) -> None:
    csv = shared_data / 'power-plants' / 'global_power_plant_database_v1.csv'
    dm = PointsDataModule(csv, split='block', batch_size=256)
    dm.setup('fit')
    assert dm.classes is not None
    assert len(dm.classes) == 15
    assert (dm.classes[0], dm.classes[-1]) == ('Biomass', 'Wind')
    assert dm.points is not None
    assert dm.labels is not None
    assert len(dm.points) == 29_910
    assert int((dm.labels == dm.classes.index('Hydro')).sum()) == 7155
    sizes = [len(d) for d in (dm.train_dataset, dm.val_dataset, dm.test_dataset)]  # type: ignore[arg-type]
    assert sum(sizes) == 29_910
    assert 0.05 < sizes[2] / 29_910 <= 0.1

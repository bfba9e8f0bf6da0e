"""Held-out locations and dates: the splits never share a pixel or a date."""

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
import torch

from torchgeo_geossl.datamodules import DemoDataModule
from torchgeo_geossl.datasets.demo import DEMO_LOCATIONS, generate_demo_data
from torchgeo_geossl.evaluation import (
    HeldOutPlaces,
    HeldOutSplit,
    block_split,
    footprint_regions,
)
from torchgeo_geossl.evaluation.split import Split

HOLDOUT = HeldOutSplit(
    cell_size=320.0,
    val_fraction=0.2,
    test_fraction=0.2,
    val_months=(4, 10),
    test_months=(1, 7),
)


@pytest.fixture(scope='module')
def datamodule(tmp_path_factory: pytest.TempPathFactory) -> DemoDataModule:
    root = tmp_path_factory.mktemp('holdout_demo')
    generate_demo_data(root, size=96)
    dm = DemoDataModule(
        root=root,
        tile_size=96,
        patch_size=16,
        batch_size=8,
        length=200,
        min_gap='30D',
        num_workers=0,
        holdout=HOLDOUT,
    )
    dm.setup('fit')
    dm.setup('test')
    return dm


def box(query: Any) -> shapely.Polygon:
    x, y = query.x, query.y
    patch: shapely.Polygon = shapely.box(x.start, y.start, x.stop, y.stop)
    return patch


def months(query: Any) -> set[int]:
    return {pd.Timestamp(t.start).month for t in query.t}


def test_cells_partition_the_footprints(datamodule: DemoDataModule) -> None:
    dataset = datamodule.geo_dataset
    assert dataset is not None
    cells = HOLDOUT.cells(dataset)
    total = sum(len(c) for c in cells.values())
    assert len(cells['val']) == round(0.2 * total) == len(cells['test'])
    footprint = dataset.index.geometry.union_all()
    union = shapely.union_all([c for split in cells.values() for c in split])
    assert union.area == pytest.approx(footprint.area, rel=1e-9)
    regions = {split: shapely.union_all(c) for split, c in cells.items()}
    pairs: list[tuple[Split, Split]] = [
        ('train', 'val'),
        ('train', 'test'),
        ('val', 'test'),
    ]
    for a, b in pairs:
        assert regions[a].intersection(regions[b]).area == pytest.approx(0, abs=1e-6)


def test_training_queries_stay_in_training_cells_and_months(
    datamodule: DemoDataModule,
) -> None:
    dataset = datamodule.geo_dataset
    assert dataset is not None
    train = HOLDOUT.region(dataset, 'train').buffer(1e-6)
    queries: list[Any] = list(datamodule.train_sampler)  # type: ignore[arg-type]
    assert len(queries) > 100
    for query in queries:
        assert train.contains(box(query))
        assert months(query).isdisjoint({1, 4, 7, 10})


@pytest.mark.parametrize(('split', 'held_out'), [('val', {4, 10}), ('test', {1, 7})])
def test_held_out_places_are_disjoint_from_training(
    datamodule: DemoDataModule, split: Split, held_out: set[int]
) -> None:
    dataset = datamodule.geo_dataset
    assert dataset is not None
    train = HOLDOUT.region(dataset, 'train')
    cells = shapely.union_all(HOLDOUT.cells(dataset)[split]).buffer(1e-6)
    queries: list[Any] = list(datamodule.held_out_loader(split).sampler)
    assert len(queries) >= 5
    for query in queries:
        patch = box(query)
        assert cells.contains(patch)
        assert patch.intersection(train).area == pytest.approx(0, abs=1e-6)
        assert months(query) == held_out  # two views, one at each held-out month
    # every place once, the same draws at every call (every epoch)
    assert len({box(q).wkt for q in queries}) == len(queries)
    again: list[Any] = list(datamodule.held_out_loader(split).sampler)
    assert [q.t for q in again] == [q.t for q in queries]
    # and at every pass over the same loader: Lightning iterates one validation
    # loader every epoch, and HeldOutComparison one loader per encoder
    sampler = datamodule.held_out_loader(split).sampler
    passes = [[q.t for q in sampler] for _ in range(3)]
    assert passes[0] == passes[1] == passes[2] == [q.t for q in queries]


def test_validation_and_test_places_do_not_overlap(datamodule: DemoDataModule) -> None:
    val = shapely.union_all([box(q) for q in datamodule.held_out_loader('val').sampler])
    test = shapely.union_all(
        [box(q) for q in datamodule.held_out_loader('test').sampler]
    )
    assert val.intersection(test).area == pytest.approx(0, abs=1e-6)


def test_batches_hold_two_views_of_each_place(datamodule: DemoDataModule) -> None:
    batch = next(iter(datamodule.val_dataloader()))
    assert batch['image'].shape[1:] == (2, 4, 16, 16)
    assert (batch['time'][:, 0] != batch['time'][:, 1]).all()


def test_places_lie_wholly_inside_their_cells(tmp_path: Path) -> None:
    generate_demo_data(tmp_path, size=32)
    dm = DemoDataModule(root=tmp_path, tile_size=32)
    dataset = dm._build_dataset()
    cell = shapely.box(*dataset.index.geometry.iloc[0].buffer(-40).bounds)
    cell = cell.intersection(dataset.index.geometry.iloc[0])
    places = HeldOutPlaces(dataset, [cell], size=4)
    assert len(places) > 0
    for x, y in places:
        assert cell.buffer(1e-6).contains(shapely.box(x.start, y.start, x.stop, y.stop))


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'cell_size': 0}, 'cell_size=0 must be a positive length'),
        (
            {'cell_size': 1, 'val_fraction': 1.0},
            r'val_fraction=1.0 must lie in \[0, 1\)',
        ),
        (
            {'cell_size': 1, 'val_fraction': 0.5, 'test_fraction': 0.5},
            'leaves no training',
        ),
        ({'cell_size': 1, 'val_months': (13,)}, r'calendar months 1-12, got \[13\]'),
        (
            {'cell_size': 1, 'val_months': (3,), 'test_months': (3,)},
            r'months \[3\] are in both',
        ),
    ],
)
def test_invalid_splits_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        HeldOutSplit(**kwargs)  # type: ignore[arg-type]


def test_months_without_files_are_refused(datamodule: DemoDataModule) -> None:
    dataset = datamodule.geo_dataset
    assert dataset is not None
    split = HeldOutSplit(cell_size=320.0, val_months=tuple(range(1, 13)))
    with pytest.raises(ValueError, match=r'the train months \[\] select no file'):
        split.dates(dataset, 'train')


def test_split_without_months_holds_out_places_at_every_date(
    datamodule: DemoDataModule,
) -> None:
    dataset = datamodule.geo_dataset
    assert dataset is not None
    split = HeldOutSplit(cell_size=320.0, test_months=(1, 7))
    assert split.months('val') == set(range(1, 13))
    assert split.months('test') == {1, 7}
    assert split.months('train') == set(range(1, 13)) - {1, 7}
    assert len(split.dates(dataset, 'val').index) == len(dataset.index)


def test_block_split_keeps_blocks_together() -> None:
    rng = np.random.default_rng(0)
    points = np.column_stack([rng.uniform(-20, 20, 400), rng.uniform(-10, 10, 400)])
    parts = block_split(points, 5.0, 0.25, 0.25, seed=3)
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(400))
    blocks = {
        name: {tuple(b) for b in np.floor(points[ids] / 5.0).astype(int).tolist()}
        for name, ids in parts.items()
    }
    # 8 x 4 blocks of 5 degrees, all occupied: 8 to val, 8 to test, 16 to train
    assert [len(blocks[name]) for name in ('val', 'test', 'train')] == [8, 8, 16]
    assert not blocks['val'] & blocks['test']
    assert not (blocks['val'] | blocks['test']) & blocks['train']
    again = block_split(points, 5.0, 0.25, 0.25, seed=3)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)


def test_block_split_names_the_empty_split() -> None:
    points = np.array([[0.5, 0.5], [10.5, 0.5], [20.5, 0.5]])
    with pytest.raises(ValueError, match='the test split is empty.*test_split_pct'):
        block_split(points, 1.0, 0.34, 0.1)
    with pytest.raises(ValueError, match='block_size=0.0 must be a positive'):
        block_split(points, 0.0, 0.34, 0.1)


def test_footprint_regions_are_the_distinct_tiles(datamodule: DemoDataModule) -> None:
    dataset = datamodule.geo_dataset
    assert dataset is not None
    # the centre of each demo site's tile lies in its own region, and all dates of a
    # site share one footprint: as many regions as sites
    sites = {loc.name: (loc.lon, loc.lat) for loc in DEMO_LOCATIONS}
    used = [
        name
        for name in sites
        if any(f'_{name}_' in p for p in dataset.index['filepath'])
    ]
    points = torch.tensor([sites[name] for name in used], dtype=torch.float64)
    regions = footprint_regions(dataset, points)
    assert sorted(regions.tolist()) == list(range(len(used)))
    far = footprint_regions(dataset, torch.tensor([[0.0, -89.0]], dtype=torch.float64))
    assert far.tolist() == [-1]

import math
from pathlib import Path

import pytest
import torch
from torchgeo.datasets import S2100k

from torchgeo_geossl.datamodules.s2100k import S2100kDataModule

ROOT = Path(__file__).resolve().parents[1] / 'data' / 's2100k'
#: (lon, lat) of the fixture's patches, from tests/data/s2100k/data.py
POINTS = [
    (2.3522, 48.8566),
    (-58.3816, -34.6037),
    (179.8, -16.9),
    (-179.6, 65.2),
    (36.8219, -1.2921),
    (15.6, 78.2),
]


def test_fixture_reads_through_torchgeo() -> None:
    dataset = S2100k(ROOT)
    assert len(dataset) == 6
    sample = dataset[2]
    assert sample['image'].shape == (12, 8, 8)
    assert float(sample['image'][3, 0, 0]) == 4000 + 2
    assert sample['point'].dtype == torch.float64
    assert sample['point'].tolist() == pytest.approx(POINTS[2])


def test_batches_are_normalised_with_points() -> None:
    datamodule = S2100kDataModule(root=ROOT, batch_size=3)
    datamodule.setup('fit')
    assert len(datamodule.train_dataset) == 6  # type: ignore[arg-type]
    raw = next(iter(datamodule.train_dataloader()))
    batch = datamodule.on_after_batch_transfer(raw, 0)
    assert batch['image'].shape == (3, 12, 8, 8)
    assert batch['point'].shape == (3, 2)
    assert batch['point'].dtype == torch.float64
    # pixel value 1000 * (band + 1) + patch index, divided by 10,000 (SatCLIP)
    for image, point in zip(batch['image'], batch['point'], strict=True):
        index = [pytest.approx(p) for p in POINTS].index(point.tolist())
        expected = (1000 * torch.arange(1, 13) + index) / 10_000
        torch.testing.assert_close(image[:, 0, 0], expected.float())
    # nothing left to standardise after the division (SatCLIP)
    torch.testing.assert_close(datamodule.standardize(batch['image']), batch['image'])
    assert datamodule.val_dataloader() == []


def test_hold_out_is_seeded_and_disjoint() -> None:
    def split(seed: int) -> tuple[list[int], list[int]]:
        datamodule = S2100kDataModule(root=ROOT, val_split_pct=0.34, seed=seed)
        datamodule.setup('fit')
        train = list(datamodule.train_dataset.indices)  # type: ignore[attr-defined]
        val = list(datamodule.val_dataset.indices)  # type: ignore[attr-defined]
        return train, val

    train, val = split(0)
    assert len(val) == 2
    assert sorted(train + val) == list(range(6))
    assert split(0) == (train, val)


def test_errors() -> None:
    with pytest.raises(ValueError, match=r'val_split_pct must lie in \[0, 1\)'):
        S2100kDataModule(root=ROOT, val_split_pct=1.0)
    with pytest.raises(ValueError, match="mode='both'"):
        S2100kDataModule(root=ROOT, mode='points')
    with pytest.raises(ValueError, match=r'std must be positive and finite .*\[0\.0\]'):
        S2100kDataModule(root=ROOT, std=0.0)
    with pytest.raises(ValueError, match='give scale'):
        S2100kDataModule(root=ROOT, mean=1000.0, std=10_000.0)
    with pytest.raises(ValueError, match='on the augmentation scale'):
        S2100kDataModule(root=ROOT, std=10_000.0, scale=1.0)


def test_spatial_hold_out_for_validate_test_and_predict() -> None:
    datamodule = S2100kDataModule(
        root=ROOT, val_split_pct=0.34, test_split_pct=0.34, block_size=1.0
    )
    datamodule.setup('fit')
    train = list(datamodule.train_dataset.indices)  # type: ignore[attr-defined]
    val = list(datamodule.val_dataset.indices)  # type: ignore[attr-defined]
    test = list(datamodule.test_dataset.indices)  # type: ignore[attr-defined]
    # 6 patches in 6 one-degree blocks: 2 blocks each for val and test
    assert (len(train), len(val), len(test)) == (2, 2, 2)
    assert sorted(train + val + test) == list(range(6))
    blocks = {
        name: {(math.floor(POINTS[i][0]), math.floor(POINTS[i][1])) for i in ids}
        for name, ids in (('train', train), ('val', val), ('test', test))
    }
    assert not blocks['train'] & (blocks['val'] | blocks['test'])
    batch = next(iter(datamodule.val_dataloader()))
    assert batch['image'].shape[:2] == (2, 12)
    datamodule.setup('predict')
    assert len(datamodule.predict_dataset) == 6


def test_validate_without_a_share_names_it() -> None:
    with pytest.raises(ValueError, match='has test_split_pct=0.*set test_split_pct'):
        S2100kDataModule(root=ROOT, val_split_pct=0.5).setup('test')

"""Sentinel2ViewsDataModule and configs/gassl/own_sentinel2.yaml on Sentinel-2 file names."""

from pathlib import Path

import pandas as pd
import pytest
import rasterio
import torch
from torchgeo.main import main as torchgeo_main

from torchgeo_geossl.datamodules import Sentinel2ViewsDataModule

FIXTURE = Path(__file__).resolve().parents[1] / 'data' / 'sentinel2'
CONFIG = (
    Path(__file__).resolve().parents[2] / 'configs' / 'gassl' / 'own_sentinel2.yaml'
)


def test_views_of_the_folder() -> None:
    dm = Sentinel2ViewsDataModule(
        root=FIXTURE, batch_size=4, patch_size=16, length=4, min_gap='30D'
    )
    dm.setup('fit')
    batch = next(iter(dm.train_dataloader()))
    assert batch['image'].shape == (4, 2, 4, 16, 16)
    # the dates of the file names (YYYYMMDDTHHMMSS), at least 30 days apart
    names = {p.name.split('_')[1] for p in FIXTURE.glob('T*_B02.tif')}
    dates = {pd.Timestamp(n).normalize() for n in names}
    for row in batch['time']:
        seen = [pd.Timestamp(float(t), unit='s').normalize() for t in row]
        assert set(seen) <= dates
        assert abs(seen[1] - seen[0]) >= pd.Timedelta('30D')
    # the files' digital numbers (nodata 0 outside the footprints)
    values = []
    for path in FIXTURE.glob('T*.tif'):
        with rasterio.open(path) as src:
            values.append(src.read())
    high = max(int(v.max()) for v in values)
    assert 0 < float(batch['image'].max()) <= high
    out = dm.on_after_batch_transfer(batch, 0)
    assert float(out['image'].max()) < 1.0  # divided by 10,000
    assert torch.isfinite(out['image']).all()


def test_unknown_band() -> None:
    with pytest.raises(
        ValueError, match=r"bands must be Sentinel-2 bands .* got \['B02', 'B13'\]"
    ):
        Sentinel2ViewsDataModule(root=FIXTURE, bands=['B02', 'B13'])


@pytest.mark.slow
def test_own_sentinel2_config_trains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the config's outputs/ go there
    torchgeo_main(
        [
            'fit',
            '--config',
            str(CONFIG),
            '--trainer.fast_dev_run=1',
            '--trainer.accelerator=cpu',
            f'--data.init_args.root={FIXTURE}',
            '--data.init_args.patch_size=8',
            '--data.init_args.holdout.cell_size=160',
            '--data.init_args.batch_size=4',
            '--data.init_args.num_workers=0',
            '--model.init_args.model=resnet18',
            '--model.init_args.size=16',
            '--model.init_args.queue_size=64',
        ]
    )

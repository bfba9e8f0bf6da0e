from pathlib import Path

import torch

from torchgeo_geossl.datamodules import OSCDChangeDataModule

FIXTURE = Path(__file__).resolve().parents[1] / 'data' / 'oscd'


def test_crops_move_the_change_mask_with_the_images() -> None:
    datamodule = OSCDChangeDataModule(
        root=str(FIXTURE),
        bands=['B04', 'B03', 'B02', 'B08'],
        patch_size=16,
        batch_size=3,
        val_split_pct=0,
    )
    datamodule.setup('fit')
    batch = next(iter(datamodule.train_dataloader()))
    assert batch['image'].shape == (3, 2, 4, 16, 16)
    assert batch['mask'].shape == (3, 1, 16, 16)
    # the fixture brightens the changed pixels of the second date by 2,000
    brightened = (batch['image'][:, 1] - batch['image'][:, 0]).mean(dim=1) > 1000
    assert torch.equal(batch['mask'][:, 0], brightened.long())
    out = datamodule.aug(batch)  # OSCD's per-band statistics
    mean = torch.tensor([1254.932861328125, 1257.1082763671875, 1351.3319091796875])
    std = torch.tensor([726.4053344726562, 508.9673767089844, 394.5567321777344])
    expected = (batch['image'][:, :, :3] - mean.reshape(3, 1, 1)) / std.reshape(3, 1, 1)
    torch.testing.assert_close(out['image'][:, :, :3], expected)
    assert torch.equal(out['mask'], batch['mask'])

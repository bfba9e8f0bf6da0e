import pickle
import warnings

import pytest
import torch
from rasterio.errors import RasterioIOError
from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset
from torchgeo.datasets.utils import Sample

from torchgeo_geossl.datasets import SkipUnreadable, stack_samples_skipping


class Flaky(Dataset[Sample]):
    """Six samples; reading sample 2 fails with *error*."""

    def __init__(self, error: Exception) -> None:
        """Fail with *error*."""
        self.error = error

    def __len__(self) -> int:
        """Six samples."""
        return 6

    def __getitem__(self, index: int) -> Sample:
        """Sample *index*, filled with its index."""
        if index == 2:
            raise self.error
        return {'image': torch.full((1, 2, 2), float(index))}


@pytest.mark.parametrize(
    'error',
    [
        OSError('truncated.tif: unexpected end of file'),
        FileNotFoundError('gone.tif'),
        RasterioIOError('truncated.tif: not recognized as a supported file format'),
    ],
)
def test_read_errors_become_none_with_one_warning(error: Exception) -> None:
    dataset = SkipUnreadable(Flaky(error))
    assert len(dataset) == 6
    with pytest.warns(UserWarning, match='Could not read sample 2 of Flaky') as w:
        assert dataset[2] is None
    assert str(error) in str(w[0].message)
    assert '1 unreadable sample(s) so far in this process' in str(w[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # the second failure is only counted
        assert dataset[2] is None
    assert dataset.stats == {'read_errors': 2}
    sample = dataset[3]
    assert sample is not None
    assert torch.equal(sample['image'], torch.full((1, 2, 2), 3.0))


@pytest.mark.parametrize('error', [ValueError('bad parameter'), KeyError('image')])
def test_other_errors_propagate(error: Exception) -> None:
    dataset = SkipUnreadable(Flaky(error))
    with pytest.raises(type(error)):
        dataset[2]
    assert dataset.stats == {'read_errors': 0}


def test_subset_is_named() -> None:
    dataset = SkipUnreadable(Subset(Flaky(OSError('truncated.tif')), [2]))
    with pytest.warns(UserWarning, match='sample 0 of Subset of Flaky'):
        assert dataset[0] is None


def test_batches_leave_the_sample_out_in_workers() -> None:
    dataset = SkipUnreadable(Subset(Flaky(OSError('truncated.tif')), [1, 2, 3, 4]))
    loader = DataLoader(
        dataset, batch_size=2, num_workers=1, collate_fn=stack_samples_skipping
    )
    first, second = list(loader)  # (the warning is the worker's)
    assert first['image'][:, 0, 0, 0].tolist() == [1.0]
    assert first['skipped'].tolist() == [1]
    assert second['image'][:, 0, 0, 0].tolist() == [3.0, 4.0]
    assert second['skipped'].tolist() == [0, 0]
    # workers hold their own copies: the main process's counter is untouched
    assert dataset.stats == {'read_errors': 0}
    assert pickle.loads(pickle.dumps(dataset)).stats == {'read_errors': 0}


def test_needs_a_length() -> None:
    class Stream(IterableDataset[Sample]):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield {}

    with pytest.raises(TypeError, match='needs a map-style dataset with a length'):
        SkipUnreadable(Stream())  # type: ignore[arg-type]

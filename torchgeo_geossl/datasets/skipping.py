"""Leave out the samples of a map-style dataset whose files cannot be read."""

import os
import warnings

from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError
from torch.utils.data import Dataset
from torchgeo.datasets.utils import Sample

#: Errors that mean "this sample's file cannot be read": missing, truncated or
#: undecodable files (OSError, which this package's DatasetLayoutError and
#: ViewReadError are, as are rasterio's RasterioIOError and PIL's decoding errors)
#: and GDAL errors rasterio raises while reading.
_READ_ERRORS: tuple[type[BaseException], ...] = (OSError, RasterioError, CPLE_BaseError)


class SkipUnreadable(Dataset[Sample | None]):
    """A map-style dataset whose unreadable samples become None.

    Wraps a map-style dataset (the SeCo, SSL4EO-S12, fMoW and S2-100K sets of this
    package, or any TorchGeo ``NonGeoDataset``). When reading sample *i* raises a read
    error (an ``OSError``, as for a file that is missing, truncated or cannot be
    decoded, or a rasterio/GDAL error), the sample is returned as None, so that
    :func:`~torchgeo_geossl.datasets.stack_samples_skipping` leaves it out of its
    batch and counts it in the batch's ``skipped``. This is what
    ``on_read_error='skip'`` of the pre-training data modules does; see
    :doc:`/user/reliability`.

    The first failure of each sample in a process is reported with a
    ``UserWarning`` naming the dataset, the index, the error (which names the file)
    and a running count; further failures of the same sample are only counted in
    :attr:`stats`. Other errors (wrong arguments, a
    :class:`~torchgeo_geossl.faults.NonFiniteError`, a bug) propagate unchanged.

    .. versionadded:: 0.1
    """

    def __init__(self, dataset: Dataset[Sample]) -> None:
        """Initialize a new SkipUnreadable instance.

        Args:
            dataset: A map-style dataset (with ``__len__``) returning samples.

        Raises:
            TypeError: If *dataset* has no length.
        """
        if not hasattr(dataset, '__len__'):
            msg = (
                f'SkipUnreadable needs a map-style dataset with a length, got '
                f'{type(dataset).__name__}'
            )
            raise TypeError(msg)
        self.dataset = dataset
        #: ``read_errors``: reads that failed (each is a skipped sample).
        self.stats: dict[str, int] = {'read_errors': 0}
        self._warned: set[int] = set()

    def __len__(self) -> int:
        """Return the length of the wrapped dataset.

        Returns:
            Number of samples, skipped ones included.
        """
        return len(self.dataset)

    def __getitem__(self, index: int) -> Sample | None:
        """Read sample *index*, or None if its files cannot be read.

        Args:
            index: Index of the sample.

        Returns:
            The sample of the wrapped dataset, or None after a read error.
        """
        try:
            return self.dataset[index]
        except _READ_ERRORS as err:
            self.stats['read_errors'] += 1
            if index not in self._warned:
                self._warned.add(index)
                warnings.warn(
                    f'Could not read sample {index} of {self._name()} '
                    f'({type(err).__name__}: {err}). Skipping it '
                    f"(on_read_error='skip'): {self.stats['read_errors']} unreadable "
                    f'sample(s) so far in this process (pid {os.getpid()}); further '
                    "failures of this sample are only counted (the batch's 'skipped').",
                    UserWarning,
                    stacklevel=2,
                )
            return None

    def _name(self) -> str:
        """Name of the wrapped dataset, looking through ``Subset``.

        Returns:
            The class name, with that of the subset's dataset if any.
        """
        inner = getattr(self.dataset, 'dataset', None)
        name = type(self.dataset).__name__
        return f'{name} of {type(inner).__name__}' if inner is not None else name

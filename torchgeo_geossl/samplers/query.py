"""The multi-time query that temporal-view samplers yield and the views wrapper reads."""

from typing import NamedTuple

from torchgeo.datasets.utils import GeoSlice


class ViewsQuery(NamedTuple):
    """One location seen at V acquisition times.

    A :class:`ViewsQuery` is what :class:`~torchgeo_geossl.samplers.TemporalViewSampler`
    yields and what :class:`~torchgeo_geossl.datasets.TemporalViewsDataset` reads. Its
    first three fields follow TorchGeo's ``[xmin:xmax, ymin:ymax, tmin:tmax]`` order,
    except that the time component holds one slice per view.

    .. versionadded:: 0.1
    """

    #: ``xmin:xmax`` of the patch in dataset CRS units.
    x: slice
    #: ``ymin:ymax`` of the patch in dataset CRS units.
    y: slice
    #: One ``tmin:tmax`` slice per view (length V), each selecting one acquisition.
    t: tuple[slice, ...]
    #: Alternative draws of V time slices at the same location, tried in order by the
    #: views wrapper when a view of :attr:`t` has too much nodata (bounded redraws).
    alternates: tuple[tuple[slice, ...], ...] = ()

    def view(self, i: int) -> GeoSlice:
        """Single-time TorchGeo query of view *i*.

        Args:
            i: Index of the view.

        Returns:
            ``(x, y, t[i])``, a query any TorchGeo ``GeoDataset`` accepts.
        """
        return self.x, self.y, self.t[i]

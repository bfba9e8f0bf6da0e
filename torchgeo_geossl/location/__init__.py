"""Location targets: longitude/latitude of samples and geo-location clusters."""

from .clusters import AddGeoClusterLabel, GeoClusters
from .coordinates import (
    lonlat_to_unit_vectors,
    lonlat_transformer,
    normalize_longitude,
    query_center_lonlat,
    to_lonlat,
)

__all__ = (
    'AddGeoClusterLabel',
    'GeoClusters',
    'lonlat_to_unit_vectors',
    'lonlat_transformer',
    'normalize_longitude',
    'query_center_lonlat',
    'to_lonlat',
)

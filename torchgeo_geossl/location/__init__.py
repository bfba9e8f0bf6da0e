"""Location targets and encoders: lon/lat of samples, geo-clusters, positional encodings."""

from .clusters import AddGeoClusterLabel, GeoClusters
from .coordinates import (
    lonlat_to_unit_vectors,
    lonlat_transformer,
    normalize_longitude,
    query_center_lonlat,
    to_lonlat,
)
from .encoder import FCNet, LocationEncoder, make_location_encoder
from .encodings import (
    ENCODING_NAMES,
    GridEncoding,
    NeRFEncoding,
    PositionalEncoding,
    RandomFourierEncoding,
    RBFEncoding,
    SphereCEncoding,
    SphereCPlusEncoding,
    SphereMEncoding,
    SphereMPlusEncoding,
    SphericalHarmonicsEncoding,
    TheoryEncoding,
    WrapEncoding,
    build_encoding,
    geometric_frequencies,
    validate_points,
)

__all__ = (
    'ENCODING_NAMES',
    'AddGeoClusterLabel',
    'FCNet',
    'GeoClusters',
    'GridEncoding',
    'LocationEncoder',
    'NeRFEncoding',
    'PositionalEncoding',
    'RBFEncoding',
    'RandomFourierEncoding',
    'SphereCEncoding',
    'SphereCPlusEncoding',
    'SphereMEncoding',
    'SphereMPlusEncoding',
    'SphericalHarmonicsEncoding',
    'TheoryEncoding',
    'WrapEncoding',
    'build_encoding',
    'geometric_frequencies',
    'lonlat_to_unit_vectors',
    'lonlat_transformer',
    'make_location_encoder',
    'normalize_longitude',
    'query_center_lonlat',
    'to_lonlat',
    'validate_points',
)

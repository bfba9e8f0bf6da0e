"""torchgeo-geossl: geography-aware self-supervised learning for TorchGeo."""

__version__ = '0.1.0.dev0'

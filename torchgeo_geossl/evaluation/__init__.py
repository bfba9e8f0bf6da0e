"""Held-out evaluation of pre-trained backbones: splits, k-NN metrics, comparison."""

from .comparison import (
    HeldOutComparison,
    batch_norm_reset,
    distinct_footprints,
    footprint_regions,
    held_out_bank,
    held_out_features,
    held_out_regions,
    random_init_twin,
)
from .crops import held_out_seeds, place_seeds, shifted_crops
from .knn import (
    PlaceRecognitionAccuracy,
    knn_predict,
    place_recognition_accuracy,
    place_recognition_chance,
    place_recognition_hits,
    region_recognition_chance,
    region_recognition_hits,
)
from .retrieval import ImageLocationRetrieval, image_to_location_top1
from .split import HeldOutPlaces, HeldOutSplit, block_split
from .stats import PairedComparison, paired_comparison

__all__ = (
    'HeldOutComparison',
    'HeldOutPlaces',
    'HeldOutSplit',
    'ImageLocationRetrieval',
    'PairedComparison',
    'PlaceRecognitionAccuracy',
    'batch_norm_reset',
    'block_split',
    'distinct_footprints',
    'footprint_regions',
    'held_out_bank',
    'held_out_features',
    'held_out_regions',
    'held_out_seeds',
    'image_to_location_top1',
    'knn_predict',
    'paired_comparison',
    'place_recognition_accuracy',
    'place_recognition_chance',
    'place_recognition_hits',
    'place_seeds',
    'random_init_twin',
    'region_recognition_chance',
    'region_recognition_hits',
    'shifted_crops',
)

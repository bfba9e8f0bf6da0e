"""Held-out evaluation of pre-trained backbones: splits, k-NN metrics, comparison."""

from .comparison import (
    HeldOutComparison,
    held_out_features,
    place_recognition,
    random_init_twin,
)
from .crops import shifted_crops
from .knn import (
    PlaceRecognitionAccuracy,
    knn_predict,
    place_recognition_accuracy,
    place_recognition_chance,
    place_recognition_hits,
)
from .split import HeldOutPlaces, HeldOutSplit
from .stats import PairedComparison, paired_comparison

__all__ = (
    'HeldOutComparison',
    'HeldOutPlaces',
    'HeldOutSplit',
    'PairedComparison',
    'PlaceRecognitionAccuracy',
    'held_out_features',
    'knn_predict',
    'paired_comparison',
    'place_recognition',
    'place_recognition_accuracy',
    'place_recognition_chance',
    'place_recognition_hits',
    'random_init_twin',
    'shifted_crops',
)

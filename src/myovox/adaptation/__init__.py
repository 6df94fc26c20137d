"""Adapting a trained model to new data (a new session, a re-donned band)."""

from .augment import AUGMENTATIONS, augment_windows, parse_augment
from .finetune import FINE_TUNE_STRATEGIES, fine_tune
from .label_free import (
    ADAPT_METHODS,
    ORDER_KEYS,
    adapt,
    first_part,
    predict_adapted,
    session_scale,
    standardize_sessions,
)

__all__ = [
    "ADAPT_METHODS",
    "AUGMENTATIONS",
    "FINE_TUNE_STRATEGIES",
    "ORDER_KEYS",
    "adapt",
    "augment_windows",
    "fine_tune",
    "first_part",
    "parse_augment",
    "predict_adapted",
    "session_scale",
    "standardize_sessions",
]

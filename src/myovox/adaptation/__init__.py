"""Adapting a trained model to new data (a new session, a re-donned band)."""

from .finetune import FINE_TUNE_STRATEGIES, fine_tune
from .label_free import ADAPT_METHODS, adapt, predict_adapted, session_scale, standardize_sessions

__all__ = [
    "ADAPT_METHODS",
    "FINE_TUNE_STRATEGIES",
    "adapt",
    "fine_tune",
    "predict_adapted",
    "session_scale",
    "standardize_sessions",
]

"""Adapting a trained model to new data (a new session, a re-donned band)."""

from .finetune import FINE_TUNE_STRATEGIES, fine_tune

__all__ = ["FINE_TUNE_STRATEGIES", "fine_tune"]

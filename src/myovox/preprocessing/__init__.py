"""Preprocessing: filters (zero-phase and causal, one design), channel selection, trimming."""
from __future__ import annotations

from .channels import SILENTWEAR_CHANNEL_ORDER, SILENTWEAR_DROPPED_CHANNELS, select_channels
from .filters import CausalFilter, FilterDesign, design_filter, filter_causal, filter_zero_phase
from .pipeline import preprocess, preprocess_dataset, resolve_filter, trim_to_cues

__all__ = [
    "FilterDesign", "design_filter", "filter_zero_phase", "filter_causal", "CausalFilter",
    "SILENTWEAR_CHANNEL_ORDER", "SILENTWEAR_DROPPED_CHANNELS", "select_channels",
    "trim_to_cues", "preprocess", "preprocess_dataset", "resolve_filter",
]

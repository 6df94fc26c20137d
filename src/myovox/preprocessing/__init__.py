"""Preprocessing: filters (zero-phase and causal, one design), channel selection, trimming."""

from __future__ import annotations

from .channels import SILENTWEAR_CHANNEL_ORDER, SILENTWEAR_DROPPED_CHANNELS, select_channels
from .filters import CausalFilter, FilterDesign, design_filter, filter_causal, filter_zero_phase
from .pipeline import preprocess, preprocess_dataset, resolve_filter, trim_to_cues

__all__ = [
    "SILENTWEAR_CHANNEL_ORDER",
    "SILENTWEAR_DROPPED_CHANNELS",
    "CausalFilter",
    "FilterDesign",
    "design_filter",
    "filter_causal",
    "filter_zero_phase",
    "preprocess",
    "preprocess_dataset",
    "resolve_filter",
    "select_channels",
    "trim_to_cues",
]

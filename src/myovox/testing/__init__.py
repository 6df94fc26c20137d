"""Synthetic data generators shipped for users' tests and demos.

``myovox.testing.synth`` writes SilentWear-format recordings and dataset folders whose structure
(word-specific muscle patterns, day-to-day electrode shifts, silent vs vocalized) makes the
reference's findings observable without real data. ``myovox.testing.holds`` writes continuous
recordings of *held* gestures (postures held for seconds, with onset transients and within-hold
fluctuation) from the same signal model, for live recognition of sustained gestures.
"""

from __future__ import annotations

from .holds import HoldConfig, generate_hold_dataset, generate_hold_recording
from .synth import CONDITIONS, SynthConfig, generate_dataset, generate_recording

__all__ = [
    "CONDITIONS",
    "HoldConfig",
    "SynthConfig",
    "generate_dataset",
    "generate_hold_dataset",
    "generate_hold_recording",
    "generate_recording",
]

"""Synthetic data generators shipped for users' tests and demos.

``myovox.testing.synth`` writes SilentWear-format recordings and dataset folders whose structure
(word-specific muscle patterns, day-to-day electrode shifts, silent vs vocalized) makes the
reference's findings observable without real data.
"""

from __future__ import annotations

from .synth import CONDITIONS, SynthConfig, generate_dataset, generate_recording

__all__ = ["CONDITIONS", "SynthConfig", "generate_dataset", "generate_recording"]

"""Guided recording of new sessions: a cue protocol, a crash-safe writer and the recorder loop."""

from __future__ import annotations

from .cues import CueProtocol
from .recorder import GuidedRecorder, read_session

__all__ = ["CueProtocol", "GuidedRecorder", "read_session"]

"""Live recognition: ring buffer, causal filtering, sliding windows, model, post-processing, outputs."""

from __future__ import annotations

from .buffer import RingBuffer
from .postprocess import CommandEvent, PostProcessor

__all__ = ["CommandEvent", "PostProcessor", "Recognizer", "RingBuffer"]


def __getattr__(name: str):
    if name == "Recognizer":
        from .recognizer import Recognizer

        return Recognizer
    raise AttributeError(name)

"""Live recognition: ring buffer, causal filtering, sliding windows, model, post-processing, outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .buffer import RingBuffer
from .postprocess import CommandEvent, PostProcessor

if TYPE_CHECKING:  # imported on first use at run time (see __getattr__)
    from .recognizer import Recognizer

__all__ = ["CommandEvent", "PostProcessor", "Recognizer", "RingBuffer"]


def __getattr__(name: str) -> type[Recognizer]:
    if name == "Recognizer":
        from .recognizer import Recognizer

        return Recognizer
    raise AttributeError(name)

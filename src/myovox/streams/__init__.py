"""Live data sources with one protocol: ``start()``, ``read(timeout)``, ``stop()``, context manager.

Sources: :class:`ReplayStream` (a Recording or file, real time or as fast as possible),
:class:`LSLStream` (Lab Streaming Layer inlet), :class:`BrainFlowStream` (BrainFlow boards) and
:class:`BioGAPStream` (BioGAP-Ultra packets from a TCP socket or file). :func:`open_stream` parses
``replay:FILE``, ``lsl:NAME``, ``brainflow:BOARD`` and ``biogap:tcp://HOST:PORT`` specs.
"""
from __future__ import annotations

from .base import BaseStream, Chunk, open_stream

__all__ = ["BaseStream", "Chunk", "open_stream"]

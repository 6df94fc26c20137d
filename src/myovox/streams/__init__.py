"""Live data sources with one protocol: ``start()``, ``read(timeout)``, ``stop()``, context manager.

Sources: :class:`ReplayStream` (a Recording or file, real time or as fast as possible),
:class:`LSLStream` (Lab Streaming Layer inlet), :class:`BrainFlowStream` (BrainFlow boards) and
:class:`BioGAPStream` (BioGAP-Ultra packets from a TCP socket or file). :func:`open_stream` parses
``replay:FILE``, ``lsl:NAME``, ``brainflow:BOARD`` and ``biogap:tcp://HOST:PORT`` specs.

Every source puts lost samples back where they were lost (BioGAP packet counter, the lost packets a
``.bio`` file records, LSL time stamps, BrainFlow's package counter) as NaN samples flagged in
``Chunk.missing``, so sample index is true time; ``stream.stats`` counts them (``n_lost``, ``n_gaps``).
"""
from __future__ import annotations

from .base import BaseStream, Chunk, open_stream

__all__ = ["BaseStream", "Chunk", "open_stream"]

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

import importlib
from typing import Any

from .._checks import did_you_mean
from ..exceptions import ValidationError
from .base import BaseStream, Chunk

#: spec scheme -> module of this package; each module's ``from_target(target, **options)`` builds its stream
SCHEMES: dict[str, str] = {
    "replay": "replay",  # replay:FILE
    "lsl": "lsl",  # lsl:NAME (extra myovox[stream])
    "brainflow": "brainflow",  # brainflow:BOARD (extra myovox[stream])
    "biogap": "biogap",  # biogap:tcp://HOST:PORT, biogap:FILE, biogap:ble://ADDRESS?char=UUID
}


def open_stream(spec: str, **options: Any) -> BaseStream:
    """Build (not start) a stream from ``kind:target``, e.g. ``replay:rec.bio``, ``lsl:myovox``,
    ``brainflow:synthetic``, ``biogap:tcp://127.0.0.1:5000``, ``biogap:file.bin`` or
    ``biogap:ble://ADDRESS?char=UUID`` (BLE, extra ``myovox[ble]``).

    ``options`` go to the stream's constructor (e.g. ``realtime=True`` for replay).
    """
    kind, sep, target = str(spec).partition(":")
    if not sep or kind not in SCHEMES:
        raise ValidationError(
            f"Invalid stream source {spec!r}: expected KIND:TARGET with KIND one of "
            f"{', '.join(SCHEMES)}.{did_you_mean(kind, SCHEMES)}"
        )
    module = importlib.import_module(f"{__name__}.{SCHEMES[kind]}")
    return module.from_target(target, **options)


__all__ = ["SCHEMES", "BaseStream", "Chunk", "open_stream"]

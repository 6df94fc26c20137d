"""Replay a Recording (or a file) as a stream, in real time or as fast as possible."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from .._checks import check_positive
from ..exceptions import StreamError
from ..recording import Recording
from .base import BaseStream, Chunk


class ReplayStream(BaseStream):
    """Stream the samples of a recording in chunks.

    Parameters
    ----------
    source : Recording | path-like
        What to replay; a path is read with :func:`myovox.io.read_recording` on ``start``.
    chunk_s : float
        Chunk length in seconds (default 0.04 s, e.g. 5 BioGAP packets).
    realtime : bool
        Pace chunks by the clock (``speed`` times real time); False delivers them at once.
    speed : float
        Real-time factor when ``realtime`` (2.0 = twice as fast).
    loop : bool
        Start again at the end instead of finishing.
    clock, sleep : callables
        Injectable time source and sleep (tests pass fake ones).
    """

    def __init__(self, source: Recording | str | Path, *, chunk_s: float = 0.04, realtime: bool = False,
                 speed: float = 1.0, loop: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__()
        self.source = source
        self.chunk_s = check_positive("chunk_s", chunk_s, "duration in seconds")
        self.realtime = realtime
        self.speed = check_positive("speed", speed, "real-time factor")
        self.loop = loop
        self.clock, self.sleep = clock, sleep
        self.recording: Recording | None = None

    def describe(self) -> str:
        src = self.source.source if isinstance(self.source, Recording) else str(self.source)
        return f"replay:{src}"

    def _open(self) -> None:
        if isinstance(self.source, Recording):
            rec = self.source
        else:
            from ..io import read_recording

            rec = read_recording(self.source)
        self.recording = rec
        self.sfreq, self.ch_names = rec.sfreq, tuple(rec.ch_names)
        self._pos = 0
        self._chunk_n = max(1, int(round(self.chunk_s * rec.sfreq)))
        self._t0 = self.clock()

    def _read(self, timeout: float | None) -> Chunk | None:
        rec = self.recording
        if rec is None:  # read() checks that the stream was started
            raise StreamError(f"stream {self.describe()} is not open.")
        if self._pos >= rec.n_times:
            if not self.loop or rec.n_times == 0:
                return None
            self._pos = 0
        stop = min(self._pos + self._chunk_n, rec.n_times)
        if self.realtime:
            due = self._t0 + (self._next_sample + stop - self._pos) / (rec.sfreq * self.speed)
            wait = due - self.clock()
            if wait > 0:
                self.sleep(wait)
        data = rec.data[:, self._pos:stop]
        labels = None if rec.labels is None else rec.labels[self._pos:stop]
        missing = ~np.isfinite(data).all(axis=0) if not np.isfinite(data).all() else None
        self._pos = stop
        return self._make_chunk(data, labels=labels, missing=missing)

    def _close(self) -> None:
        pass

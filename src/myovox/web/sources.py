"""Streams the dashboard makes: a queue-fed stream for the recorder, and the demo's synthetic participant.

:class:`FeedStream` lets the one reader of the live source hand chunks to
:class:`~myovox.acquisition.GuidedRecorder` (which reads a stream in its own thread), so the
recording is written by the same crash-safe recorder as ``myovox record``. Samples are renumbered
from the recording's start, and the chunks of a pause are never fed, so the cue protocol's clock
(stream time of the recording) stops while the recording is paused.

:class:`DemoParticipant` is ``myovox serve --demo``'s wearer of the band: a synthetic session
replayed at the pace of the clock, looped; when a guided recording starts it speaks the words that
recording cues, in its order (:func:`myovox.testing.synth.generate_cued_recording`); while the
recording is paused it rests.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .._checks import check_positive
from ..exceptions import StreamError
from ..recording import Recording
from ..streams.base import BaseStream, Chunk
from ..streams.replay import fill_lost_packets

__all__ = ["DemoParticipant", "FeedStream"]


class FeedStream(BaseStream):
    """A stream whose chunks another thread puts in (:meth:`put`); :meth:`close` ends it.

    Parameters
    ----------
    sfreq : float
    ch_names : sequence of str
    label : str
        What :meth:`describe` says (the recorder stores it as the recording's source).
    """

    def __init__(self, sfreq: float, ch_names: Any, label: str = "dashboard") -> None:
        super().__init__()
        self.sfreq = float(sfreq)
        self.ch_names = tuple(str(c) for c in ch_names)
        self.label = label
        self._queue: queue.Queue[Chunk | None] = queue.Queue()
        self._n_put = 0
        self._closed = False

    def describe(self) -> str:
        return self.label

    @property
    def n_put(self) -> int:
        """Samples put in so far (the recording's stream time times ``sfreq``)."""
        return self._n_put

    def put(self, data: np.ndarray, missing: np.ndarray | None = None) -> None:
        """Append samples ``(n_channels, n)`` (ignored once closed)."""
        if self._closed:
            return
        chunk = Chunk(np.asarray(data, dtype=np.float64), self._n_put, self.sfreq, missing=missing)
        self._n_put += chunk.n_samples
        self._queue.put(chunk)

    def close(self) -> None:
        """End the stream: the reader gets ``None`` after the chunks already put."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)

    def _open(self) -> None:
        pass

    def _read(self, timeout: float | None) -> Chunk | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            raise StreamError(f"{self.label}: no data for {timeout} s.") from None

    def _close(self) -> None:
        pass


class DemoParticipant(BaseStream):
    """A synthetic participant wearing the band, paced by the clock (``speed`` times real time).

    Parameters
    ----------
    make_idle : callable
        Returns the :class:`Recording` replayed (looped) while no recording runs; called on start.
    make_cued : callable
        ``make_cued(protocol) -> Recording``: the participant following a cue protocol.
    label : str
        What :meth:`describe` says.
    speed : float
        Real-time factor.
    chunk_s : float
        Seconds of stream time per chunk (default 0.04 s times ``speed``, 25 chunks per second).
    clock, sleep : callables
        Injectable time source and sleep.
    """

    def __init__(
        self,
        make_idle: Callable[[], Recording],
        make_cued: Callable[[Any], Recording],
        *,
        label: str = "demo",
        speed: float = 1.0,
        chunk_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.make_idle, self.make_cued = make_idle, make_cued
        self.label = label
        self.speed = check_positive("speed", speed, "real-time factor")
        self.chunk_s = 0.04 * max(1.0, self.speed) if chunk_s is None else check_positive("chunk_s", chunk_s)
        self.clock, self.sleep = clock, sleep
        self._lock = threading.Lock()
        self._idle: Recording | None = None
        self._current: Recording | None = None
        self._pos = 0
        self._idle_pos = 0
        self._hold = False
        self._rest: tuple[int, int] = (0, 1)

    def describe(self) -> str:
        return self.label

    def _open(self) -> None:
        rec, n_packets = fill_lost_packets(self.make_idle())
        self.stats.extra["packets_lost"] = n_packets
        self._idle = self._current = rec
        self.sfreq, self.ch_names = rec.sfreq, tuple(rec.ch_names)
        self._pos = 0
        self._chunk_n = max(1, int(round(self.chunk_s * rec.sfreq)))
        # rest to loop while held: the idle recording's start screen (before the first cue)
        labels = rec.labels if rec.labels is not None else np.zeros(rec.n_times, dtype=int)
        first_cue = int(np.argmax(labels != 0)) if (labels != 0).any() else rec.n_times
        self._rest = (0, max(self._chunk_n, min(first_cue, rec.n_times)))
        self._t0 = self.clock()

    # ------------------------------------------------------------------ control (any thread)
    def follow(self, recording: Recording) -> None:
        """Speak ``recording`` (made by ``make_cued``) from the next chunk on, then go back to idle."""
        with self._lock:
            if self._current is self._idle:
                self._idle_pos = self._pos
            self._current, self._pos, self._hold = recording, 0, False

    def hold(self, on: bool) -> None:
        """Rest (``True``) without advancing the recording being spoken; ``False`` continues it."""
        with self._lock:
            self._hold = bool(on)

    def release(self) -> None:
        """Back to the idle recording, where it was left."""
        with self._lock:
            if self._current is not self._idle:
                self._current, self._pos, self._hold = self._idle, self._idle_pos, False

    # ------------------------------------------------------------------ reading
    def _read(self, timeout: float | None) -> Chunk | None:
        n = self._chunk_n
        due = self._t0 + (self._next_sample + n) / (self.sfreq * self.speed)
        wait = due - self.clock()
        if wait > 0:
            self.sleep(wait)
        with self._lock:
            rec = self._current
            if rec is None:
                raise StreamError(f"stream {self.describe()} is not open.")
            if self._hold:
                a, b = self._rest
                idx = a + (self._next_sample + np.arange(n)) % (b - a)
                data = self._idle_data()[:, idx]
                labels: np.ndarray | None = np.zeros(n, dtype=np.int64)
            else:
                if self._pos >= rec.n_times and rec is not self._idle and self._idle is not None:
                    rec, self._pos = self._idle, self._idle_pos  # finished speaking: back to idle
                    self._current = rec
                if self._pos >= rec.n_times:
                    self._pos = 0
                stop = min(self._pos + n, rec.n_times)
                data = rec.data[:, self._pos : stop]
                labels = None if rec.labels is None else np.asarray(rec.labels[self._pos : stop])
                self._pos = stop
        good = np.isfinite(data).all(axis=0)
        return self._make_chunk(data, labels=labels, missing=None if good.all() else ~good)

    def _idle_data(self) -> np.ndarray:
        if self._idle is None:
            raise StreamError(f"stream {self.describe()} is not open.")
        return self._idle.data

    def _close(self) -> None:
        pass

"""Lab Streaming Layer: an inlet source and an outlet that publishes a recording (``myovox publish``).

LSL carries no packet counter, so the inlet finds lost samples in the time stamps: a step between
consecutive stamps longer than one sample period plus ``gap_tolerance_s`` is filled with flagged
NaN samples (see :func:`myovox.streams.base.gaps_from_timestamps`), so stream time stays true.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from .._checks import check_positive, require
from .._logging import logger
from ..exceptions import StreamError
from ..recording import Recording
from .base import BaseStream, Chunk, gaps_from_timestamps, insert_missing, stamps_with_gaps


def _pylsl() -> ModuleType:
    return require("pylsl", "Lab Streaming Layer streams")


class LSLStream(BaseStream):
    """Read an LSL stream found by name (or type).

    Parameters
    ----------
    name : str | None
        Stream name to resolve; ``None`` takes the first stream of ``stream_type``.
    stream_type : str
        LSL content type to match when ``name`` is None (default ``"EMG"``).
    resolve_timeout : float
        Seconds to wait for the stream to appear on ``start`` (and on each reconnect).
    stall_timeout : float
        Seconds without a sample after which the inlet is considered stalled.
    reconnect : int
        How many times to resolve the stream again after a stall before raising ``StreamError``.
    fill_gaps : bool
        Insert flagged NaN samples where the time stamps show lost samples (default True).
    gap_tolerance_s : float
        Time-stamp jitter tolerated before a step counts as a gap (default 0.05 s).
    max_gap_s : float
        Steps longer than this are not filled (a clock reset or a paused outlet, default 30 s).
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        stream_type: str = "EMG",
        resolve_timeout: float = 5.0,
        stall_timeout: float = 2.0,
        reconnect: int = 3,
        max_chunk_s: float = 0.1,
        fill_gaps: bool = True,
        gap_tolerance_s: float = 0.05,
        max_gap_s: float = 30.0,
    ) -> None:
        super().__init__()
        self.name, self.stream_type = name, stream_type
        self.resolve_timeout = check_positive("resolve_timeout", resolve_timeout, "duration in seconds")
        self.stall_timeout = check_positive("stall_timeout", stall_timeout, "duration in seconds")
        self.reconnect = int(reconnect)
        self.max_chunk_s = check_positive("max_chunk_s", max_chunk_s, "duration in seconds")
        self.fill_gaps = bool(fill_gaps)
        self.gap_tolerance_s = check_positive("gap_tolerance_s", gap_tolerance_s, "duration in seconds")
        self.max_gap_s = check_positive("max_gap_s", max_gap_s, "duration in seconds")
        self._inlet: Any | None = None  # a pylsl.StreamInlet while started
        self._last_stamp: float | None = None

    def describe(self) -> str:
        return f"lsl:{self.name or self.stream_type}"

    def _resolve(self) -> tuple[Any, Any]:
        pylsl = _pylsl()
        prop, value = ("name", self.name) if self.name else ("type", self.stream_type)
        found = pylsl.resolve_byprop(prop, value, 1, self.resolve_timeout)
        if not found:
            raise StreamError(f"no LSL stream with {prop}={value!r} found within {self.resolve_timeout:g} s.")
        info = found[0]
        inlet = pylsl.StreamInlet(info, max_buflen=30, processing_flags=pylsl.proc_clocksync)
        try:  # subscribe now, so that samples pushed from here on are buffered for us
            inlet.open_stream(timeout=self.resolve_timeout)
        except Exception as err:  # pylsl raises its own TimeoutError/LostError
            raise StreamError(f"LSL stream {info.name()!r} was found but could not be opened ({err}).") from err
        return info, inlet

    def _open(self) -> None:
        info, self._inlet = self._resolve()
        sfreq = info.nominal_srate()
        if sfreq <= 0:
            raise StreamError(f"LSL stream {info.name()!r} has an irregular rate; myovox needs a fixed rate.")
        self.sfreq = float(sfreq)
        self.ch_names = _channel_names(info)
        self._source_id = info.source_id()
        self._last_data = time.monotonic()
        self._attempts = 0
        self._last_stamp = None

    def _read(self, timeout: float | None) -> Chunk | None:
        timeout = self.stall_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        max_samples = max(1, int(self.max_chunk_s * self.sfreq))
        while True:
            if self._inlet is None:  # _recover replaces it, never clears it
                raise StreamError(f"{self.describe()} has no open inlet.")
            samples, stamps = self._inlet.pull_chunk(timeout=min(0.05, timeout), max_samples=max_samples)
            if samples:
                data = np.asarray(samples, dtype=np.float64).T
                if data.shape[0] != self.n_channels:
                    raise StreamError(
                        f"{self.describe()} delivered {data.shape[0]} channels, expected {self.n_channels}."
                    )
                self._last_data = time.monotonic()
                self._attempts = 0
                return self._chunk_with_gaps(data, np.asarray(stamps, dtype=np.float64))
            if time.monotonic() >= deadline:
                self._recover()
                deadline = time.monotonic() + timeout

    def _chunk_with_gaps(self, data: np.ndarray, stamps: np.ndarray) -> Chunk:
        """A chunk with flagged NaN samples where the stamps show lost samples."""
        previous, self._last_stamp = self._last_stamp, float(stamps[-1]) if stamps.size else self._last_stamp
        if not self.fill_gaps or stamps.size != data.shape[1]:
            return self._make_chunk(data, timestamps=stamps)
        at, n_fill = gaps_from_timestamps(
            stamps, self.sfreq, previous, tolerance_s=self.gap_tolerance_s, max_gap_s=self.max_gap_s
        )
        if not at.size:
            return self._make_chunk(data, timestamps=stamps)
        filled, missing = insert_missing(data, at, n_fill)
        self.stats.extra["gaps_from_timestamps"] = self.stats.extra.get("gaps_from_timestamps", 0) + int(at.size)
        return self._make_chunk(filled, missing=missing, timestamps=stamps_with_gaps(stamps, missing, self.sfreq))

    def _recover(self) -> None:
        """Called when nothing arrived within the timeout: reconnect or give up clearly.

        The reconnect budget is spent across consecutive stalls and refilled when data arrive, so a
        stream that keeps resolving but never delivers still ends with ``StreamError``.
        """
        while self._attempts < self.reconnect:
            self._attempts += 1
            attempt = self._attempts
            logger.warning(
                "%s stalled (no data for %.1f s); reconnecting (%d/%d)",
                self.describe(),
                time.monotonic() - self._last_data,
                attempt,
                self.reconnect,
            )
            try:
                if self._inlet is not None:
                    self._inlet.close_stream()
            except Exception:  # noqa: BLE001 - a dead inlet may fail to close
                pass
            try:
                info, inlet = self._resolve()
            except StreamError:
                continue
            if _channel_names(info) != self.ch_names or info.nominal_srate() != self.sfreq:
                raise StreamError(f"{self.describe()} came back with different channels or rate.")
            self._inlet = inlet
            self.stats.n_reconnects += 1
            return
        raise StreamError(
            f"{self.describe()} stalled: no data for {time.monotonic() - self._last_data:.1f} s "
            f"and {self.reconnect} reconnect attempts failed."
        )

    def _close(self) -> None:
        if self._inlet is not None:
            try:
                self._inlet.close_stream()
            finally:
                self._inlet = None


def _channel_names(info: Any) -> tuple[str, ...]:
    n = info.channel_count()
    names: list[str] = []
    try:
        ch = info.desc().child("channels").child("channel")
        for _ in range(n):
            label = ch.child_value("label")
            if not label:
                break
            names.append(label)
            ch = ch.next_sibling()
    except Exception:  # noqa: BLE001 - malformed description: fall back to numbered names
        names = []
    if len(names) != n or len(set(names)) != n:
        names = [f"Ch_{i}" for i in range(n)]
    return tuple(names)


def make_outlet(
    name: str,
    ch_names: Sequence[str],
    sfreq: float,
    *,
    stream_type: str = "EMG",
    source_id: str | None = None,
    units: str = "",
) -> Any:
    """Create a float32 LSL outlet with channel labels in its description."""
    pylsl = _pylsl()
    info = pylsl.StreamInfo(name, stream_type, len(ch_names), sfreq, pylsl.cf_float32, source_id or f"myovox-{name}")
    chans = info.desc().append_child("channels")
    for c in ch_names:
        node = chans.append_child("channel")
        node.append_child_value("label", str(c))
        if units:
            node.append_child_value("unit", units)
    return pylsl.StreamOutlet(info, chunk_size=0, max_buffered=60)


def publish_recording(
    recording: Recording,
    name: str = "myovox",
    *,
    stream_type: str = "EMG",
    chunk_s: float = 0.02,
    realtime: bool = True,
    loop: bool = False,
    stop_event: threading.Event | None = None,
    wait_for_consumer: float = 0.0,
    linger_s: float = 1.0,
) -> int:
    """Push a recording to an LSL outlet chunk by chunk; returns the number of samples pushed.

    ``wait_for_consumer`` seconds are spent waiting for an inlet to connect before pushing; after the
    last chunk the outlet stays open ``linger_s`` seconds so that connected inlets receive everything.
    """
    outlet = make_outlet(
        name, recording.ch_names, recording.sfreq, stream_type=stream_type, units=str(recording.meta.get("units", ""))
    )
    if wait_for_consumer > 0:
        outlet.wait_for_consumers(wait_for_consumer)
    n = max(1, int(round(chunk_s * recording.sfreq)))
    data = np.ascontiguousarray(recording.data.T, dtype=np.float32)
    pushed, t0 = 0, time.monotonic()
    while True:
        for start in range(0, len(data), n):
            if stop_event is not None and stop_event.is_set():
                return pushed
            block = data[start : start + n]
            if realtime:
                wait = t0 + (pushed + len(block)) / recording.sfreq - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            outlet.push_chunk(block)
            pushed += len(block)
        if not loop:
            end = time.monotonic() + linger_s
            while time.monotonic() < end and not (stop_event is not None and stop_event.is_set()):
                time.sleep(0.02)
            return pushed


def from_target(target: str, **options: Any) -> LSLStream:
    """``lsl:NAME``: the LSL stream of that name, or the first EMG stream when NAME is empty."""
    return LSLStream(name=target or None, **options)

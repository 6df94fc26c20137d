"""Replay a Recording (or a file) as a stream, in real time or as fast as possible.

Lost packets are put back where they were lost: a ``.bio`` file is read with NaN samples in
place of its lost packets (``read_bio(fill_lost="nan")``), and a Recording whose
``meta["lost_packets"]`` lists gaps that were not filled (e.g. ``read_bio(fill_lost="none")``, the
synthetic generator) gets them inserted here. Inserted and NaN samples are flagged in
``Chunk.missing``, so stream time stays true and ``stats.n_lost`` counts them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_positive
from .._logging import logger
from ..exceptions import StreamError
from ..recording import Recording
from .base import BaseStream, Chunk, insert_missing


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
    fill_lost : bool
        Put lost packets back as flagged NaN samples (default True); False replays the samples as
        stored, joined across gaps, so stream time runs ahead of true time after each loss.
    clock, sleep : callables
        Injectable time source and sleep (tests pass fake ones).
    """

    def __init__(
        self,
        source: Recording | str | Path,
        *,
        chunk_s: float = 0.04,
        realtime: bool = False,
        speed: float = 1.0,
        loop: bool = False,
        fill_lost: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.source = source
        self.chunk_s = check_positive("chunk_s", chunk_s, "duration in seconds")
        self.realtime = realtime
        self.speed = check_positive("speed", speed, "real-time factor")
        self.loop = loop
        self.fill_lost = bool(fill_lost)
        self.clock, self.sleep = clock, sleep
        self.recording: Recording | None = None

    def describe(self) -> str:
        src = self.source.source if isinstance(self.source, Recording) else str(self.source)
        return f"replay:{src}"

    def _open(self) -> None:
        if isinstance(self.source, Recording):
            rec = self.source
        else:
            rec = read_lossy(self.source, fill_lost=self.fill_lost)
        if self.fill_lost:
            rec, n_packets = fill_lost_packets(rec)
            self.stats.extra["packets_lost"] = n_packets
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
        data = rec.data[:, self._pos : stop]
        labels = None if rec.labels is None else rec.labels[self._pos : stop]
        good = np.isfinite(data).all(axis=0)  # one pass over the chunk (NaN: lost packets)
        missing = None if good.all() else ~good
        self._pos = stop
        return self._make_chunk(data, labels=labels, missing=missing)

    def _close(self) -> None:
        pass


def read_lossy(path: str | Path, *, fill_lost: bool = True) -> Recording:
    """Read a recording file; with ``fill_lost`` a ``.bio`` file's lost packets come back as NaN
    samples in place (``read_bio(fill_lost="nan")``), other formats are read as they are."""
    from ..io import read_recording

    path = Path(path)
    if fill_lost and path.name.lower().endswith(".bio"):
        return read_recording(path, fill_lost="nan")
    return read_recording(path)


def fill_lost_packets(rec: Recording) -> tuple[Recording, int]:
    """Insert NaN samples for the lost packets that ``rec.meta["lost_packets"]`` lists but the
    data do not hold yet; returns the recording (the same one when there is nothing to insert)
    and the number of lost packets.

    Labels of inserted samples carry the label before the gap. A recording whose gaps were
    already filled (``read_bio(fill_lost="nan")``: ``meta["inserted_packets"]``) is returned as is.
    """
    meta = rec.meta or {}
    records = meta.get("lost_packets") or []
    if not isinstance(records, (list, tuple)) or not records:
        return rec, 0
    n_packets = int(sum(int(r.get("n_lost", 0)) for r in records if isinstance(r, dict)))
    already = (
        "inserted_packets" in meta
        or "filled_lost_samples" in meta
        or any(isinstance(r, dict) and r.get("filled_sample_index_after_gap") is not None for r in records)
    )
    if already:
        return rec, n_packets
    try:  # a missing or None samples_per_packet lands in the except (KeyError, TypeError)
        spp = int(meta["samples_per_packet"])
        at = [int(r["emg_sample_index_after_gap"]) for r in records]
        n_fill = [int(r["n_lost"]) * spp for r in records]
    except (KeyError, TypeError, ValueError):
        logger.warning(
            "%s: meta['lost_packets'] lacks sample positions or samples_per_packet; lost packets "
            "are not re-inserted (stream time runs ahead after each gap).",
            rec.source,
        )
        return rec, n_packets
    order = np.argsort(at, kind="stable")
    at_s, n_s = np.asarray(at)[order], np.asarray(n_fill)[order]
    keep = at_s <= rec.n_times
    if not keep.all():
        logger.warning(
            "%s: %d lost-packet record(s) point past the end of the data; ignored.", rec.source, int((~keep).sum())
        )
    at_s, n_s = at_s[keep], n_s[keep]
    data, missing = insert_missing(rec.data, at_s, n_s)
    labels = rec.labels
    if labels is not None and np.asarray(labels).size:
        src = np.maximum(np.cumsum(~missing) - 1, 0)  # the last measured sample at or before each one
        labels = np.asarray(labels)[src]
    new_meta = dict(meta, filled_lost_samples=int(missing.sum()))
    return rec.copy(data=data, labels=labels, meta=new_meta), n_packets


def from_target(target: str, **options: Any) -> ReplayStream:
    """``replay:FILE``: replay a recording file (see :func:`myovox.streams.open_stream`)."""
    return ReplayStream(target, **options)

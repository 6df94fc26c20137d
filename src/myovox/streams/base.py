"""The stream protocol shared by every live source, and the ``Chunk`` it delivers."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._logging import logger
from ..exceptions import StreamError, ValidationError


@dataclass
class Chunk:
    """A block of consecutive samples from a stream.

    Parameters
    ----------
    data : array, shape (n_channels, n_samples)
    first_sample : int
        Index of the first sample since the stream started (lost samples count).
    sfreq : float
    missing : array of bool, shape (n_samples,) | None
        True where a sample was lost and filled (e.g. a lost BLE packet), not measured.
    labels : array of int | None
        Ground-truth labels where the source knows them (replay of a labelled recording).
    timestamps : array of float | None
        Source/host time stamps of each sample (seconds), when the source gives them.
    """

    data: np.ndarray
    first_sample: int
    sfreq: float
    missing: np.ndarray | None = None
    labels: np.ndarray | None = None
    timestamps: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[1])

    @property
    def t_start(self) -> float:
        """Stream time (s) of the first sample."""
        return self.first_sample / self.sfreq

    @property
    def t_end(self) -> float:
        """Stream time (s) just after the last sample."""
        return (self.first_sample + self.n_samples) / self.sfreq


@dataclass
class StreamStats:
    """Counters every stream keeps: samples delivered (filled ones included), lost (filled and flagged
    in ``Chunk.missing``), gaps (runs of lost samples), non-finite values, chunks, reconnects.
    ``extra`` holds source-specific counters (e.g. ``packets_lost`` of BioGAP sources)."""

    n_samples: int = 0
    n_lost: int = 0
    n_gaps: int = 0
    n_nonfinite: int = 0
    n_chunks: int = 0
    n_reconnects: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "extra"}
        d.update(self.extra)
        return d


class BaseStream(abc.ABC):
    """Base class of live sources. Constructors store settings only; I/O starts in :meth:`start`.

    Subclasses implement ``_open()``, ``_read(timeout) -> Chunk | None`` and ``_close()`` and set
    ``sfreq``, ``ch_names`` (at the latest in ``_open``). ``read`` returns ``None`` once a finite
    source is exhausted and raises :class:`StreamError` when a live source stalls for good.
    """

    sfreq: float = 0.0
    ch_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._running = False
        self._next_sample = 0
        self._last_missing = False
        self.stats = StreamStats()

    # -- protocol -----------------------------------------------------------------
    @property
    def n_channels(self) -> int:
        return len(self.ch_names)

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> BaseStream:
        if self._running:
            return self
        self._open()
        self._running = True
        logger.info("stream %s started: %d ch @ %g Hz", self.describe(), self.n_channels, self.sfreq)
        return self

    def read(self, timeout: float | None = None) -> Chunk | None:
        """Next chunk, or ``None`` at the end of a finite source."""
        if not self._running:
            raise StreamError(f"stream {self.describe()} is not started; call start() or use 'with'.")
        chunk = self._read(timeout)
        if chunk is None:
            return None
        finite = np.isfinite(chunk.data)
        if chunk.missing is not None:
            finite = finite | np.asarray(chunk.missing, dtype=bool)[None, :]  # filled gaps are counted in n_lost
        n_bad = int(finite.size - np.count_nonzero(finite))
        if n_bad:
            self.stats.n_nonfinite += n_bad
        if chunk.missing is not None and chunk.missing.any():
            miss = np.asarray(chunk.missing, dtype=bool)
            self.stats.n_lost += int(np.count_nonzero(miss))
            starts = np.count_nonzero(miss[1:] & ~miss[:-1]) + int(miss[0] and not self._last_missing)
            self.stats.n_gaps += int(starts)
        if chunk.n_samples:
            self._last_missing = bool(chunk.missing is not None and chunk.missing[-1])
        self.stats.n_samples += chunk.n_samples
        self.stats.n_chunks += 1
        return chunk

    def stop(self) -> None:
        if self._running:
            self._running = False
            try:
                self._close()
            finally:
                logger.info("stream %s stopped: %s", self.describe(), self.stats.as_dict())

    def __enter__(self) -> BaseStream:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __iter__(self) -> Iterator[Chunk]:
        while True:
            chunk = self.read()
            if chunk is None:
                return
            yield chunk

    def describe(self) -> str:
        return type(self).__name__

    # -- helpers for subclasses -----------------------------------------------------
    def _make_chunk(self, data: np.ndarray, **kw: Any) -> Chunk:
        chunk = Chunk(np.asarray(data, dtype=np.float64), self._next_sample, self.sfreq, **kw)
        self._next_sample += chunk.n_samples
        return chunk

    @abc.abstractmethod
    def _open(self) -> None: ...

    @abc.abstractmethod
    def _read(self, timeout: float | None) -> Chunk | None: ...

    @abc.abstractmethod
    def _close(self) -> None: ...


def insert_missing(
    data: ArrayLike, at: ArrayLike, n_fill: ArrayLike, fill: float = np.nan
) -> tuple[np.ndarray, np.ndarray]:
    """Insert ``n_fill[i]`` filled samples before sample ``at[i]`` of ``data`` (n_channels, n).

    Returns the longer array (filled with ``fill``, NaN by default) and its ``missing`` mask, so
    that sample index stays true time across lost packets. ``at`` must be non-decreasing and
    within ``[0, n]`` (``n``: a gap after the last sample).
    """
    arr = np.asarray(data)
    pos = np.asarray(at, dtype=np.int64).reshape(-1)
    counts = np.asarray(n_fill, dtype=np.int64).reshape(-1)
    if pos.shape != counts.shape:
        raise ValidationError("insert_missing: 'at' and 'n_fill' must have the same length.")
    n = arr.shape[1]
    keep = counts > 0
    pos, counts = pos[keep], counts[keep]
    if pos.size and (pos[0] < 0 or pos[-1] > n or np.any(np.diff(pos) < 0)):
        raise ValidationError(f"insert_missing: gap positions must be sorted within [0, {n}].")
    if not pos.size:
        return arr, np.zeros(n, dtype=bool)
    shift = np.zeros(n, dtype=np.int64)
    np.add.at(shift, pos[pos < n], counts[pos < n])
    new_pos = np.arange(n) + np.cumsum(shift)
    total = n + int(counts.sum())
    out = np.full((arr.shape[0], total), fill, dtype=np.result_type(arr.dtype, np.float32))
    out[:, new_pos] = arr
    missing = np.ones(total, dtype=bool)
    missing[new_pos] = False
    return out, missing


def stamps_with_gaps(stamps: np.ndarray, missing: np.ndarray, sfreq: float) -> np.ndarray:
    """Time stamps for a chunk that :func:`insert_missing` lengthened: the measured ``stamps`` where
    ``missing`` is False, interpolated across inner gaps and stepped back one sample period at a
    time before the first measured sample (a gap at the chunk's start)."""
    ts = np.empty(missing.size, dtype=np.float64)
    kept = np.flatnonzero(~missing)
    ts[kept] = stamps
    lost = np.flatnonzero(missing)
    ts[lost] = np.interp(lost, kept, stamps)
    lead = int(kept[0])
    ts[:lead] = stamps[0] - (lead - np.arange(lead)) / sfreq
    return ts


def gaps_from_timestamps(
    stamps: np.ndarray,
    sfreq: float,
    previous: float | None = None,
    *,
    tolerance_s: float = 0.025,
    max_gap_s: float = 30.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Where samples are missing between consecutive time stamps of a fixed-rate stream.

    A step between two stamps (``previous`` is the stamp of the sample before ``stamps[0]``) that
    exceeds one sample period by more than ``tolerance_s`` means samples were lost; their number is
    the rounded step times ``sfreq`` minus one. Steps longer than ``max_gap_s`` are not filled (a
    clock reset rather than a loss). Returns ``(at, n_fill)`` for :func:`insert_missing`.
    """
    stamps = np.asarray(stamps, dtype=np.float64).reshape(-1)
    if previous is not None and np.isfinite(previous):
        steps = np.diff(np.concatenate([[previous], stamps]))
        offset = 0
    else:
        steps = np.diff(stamps)
        offset = 1
    period = 1.0 / sfreq
    gap = (steps - period > tolerance_s) & (steps <= max_gap_s) & np.isfinite(steps)
    idx = np.flatnonzero(gap)
    n_fill = np.rint(steps[idx] * sfreq).astype(np.int64) - 1
    ok = n_fill > 0
    return idx[ok] + offset, n_fill[ok]


def check_channels(stream: BaseStream, n_channels: int | None = None, ch_names: Sequence[str] | None = None) -> None:
    """Raise ``StreamError`` when a started stream's channels do not match what a model expects."""
    if n_channels is not None and stream.n_channels != n_channels:
        raise StreamError(
            f"stream {stream.describe()} has {stream.n_channels} channels but the model expects {n_channels}."
        )
    if ch_names is not None:
        missing = [c for c in ch_names if c not in stream.ch_names]
        if missing:
            raise StreamError(
                f"stream {stream.describe()} lacks channels {missing} that the model needs "
                f"(it has {list(stream.ch_names)})."
            )

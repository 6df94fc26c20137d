"""The stream protocol shared by every live source, and the ``Chunk`` it delivers."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from .._checks import did_you_mean
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
    """Counters every stream keeps: samples delivered, lost (filled), non-finite, chunks, reconnects."""

    n_samples: int = 0
    n_lost: int = 0
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
        self.stats = StreamStats()

    # -- protocol -----------------------------------------------------------------
    @property
    def n_channels(self) -> int:
        return len(self.ch_names)

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> "BaseStream":
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
        n_bad = int(chunk.data.size - np.count_nonzero(np.isfinite(chunk.data)))
        if n_bad:
            self.stats.n_nonfinite += n_bad
        if chunk.missing is not None:
            self.stats.n_lost += int(np.count_nonzero(chunk.missing))
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

    def __enter__(self) -> "BaseStream":
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


def check_channels(stream: BaseStream, n_channels: int | None = None,
                   ch_names: Sequence[str] | None = None) -> None:
    """Raise ``StreamError`` when a started stream's channels do not match what a model expects."""
    if n_channels is not None and stream.n_channels != n_channels:
        raise StreamError(f"stream {stream.describe()} has {stream.n_channels} channels but the model "
                          f"expects {n_channels}.")
    if ch_names is not None:
        missing = [c for c in ch_names if c not in stream.ch_names]
        if missing:
            raise StreamError(f"stream {stream.describe()} lacks channels {missing} that the model needs "
                              f"(it has {list(stream.ch_names)}).")


_KINDS = ("replay", "lsl", "brainflow", "biogap")


def open_stream(spec: str, **options: Any) -> BaseStream:
    """Build (not start) a stream from ``kind:target``, e.g. ``replay:rec.bio``, ``lsl:myovox``,
    ``brainflow:synthetic``, ``biogap:tcp://127.0.0.1:5000``, ``biogap:file.bin`` or
    ``biogap:ble://ADDRESS?char=UUID`` (BLE, extra ``myovox[ble]``)."""
    kind, sep, target = str(spec).partition(":")
    if not sep or kind not in _KINDS:
        raise ValidationError(
            f"Invalid stream source {spec!r}: expected KIND:TARGET with KIND one of "
            f"{', '.join(_KINDS)}.{did_you_mean(kind, _KINDS)}")
    if kind == "replay":
        from .replay import ReplayStream

        return ReplayStream(target, **options)
    if kind == "lsl":
        from .lsl import LSLStream

        return LSLStream(name=target or None, **options)
    if kind == "brainflow":
        from .brainflow import BrainFlowStream

        return BrainFlowStream(board=target, **options)
    if target.startswith("ble://"):
        from urllib.parse import parse_qs, urlparse

        from .biogap import BioGAPBLEStream

        url = urlparse(target)
        char = parse_qs(url.query).get("char", [""])[0]
        return BioGAPBLEStream(url.netloc or url.path.lstrip("/"), char, **options)
    from .biogap import BioGAPStream

    return BioGAPStream(target, **options)

"""The live recogniser: chunks in, :class:`CommandEvent` out.

Per chunk: channels are put in the model's order, lost or non-finite samples are filled and
marked, the causal filter (the same design the model was trained with, applied with carried
state) runs, samples enter a ring buffer, and every ``step_s`` a window of ``window_s`` is
classified. Decisions go through :class:`~myovox.realtime.postprocess.PostProcessor`.

Lost samples (``Chunk.missing``, e.g. lost BLE packets, or NaN) are filled *before* the filter,
never with NaN (which would poison the filter state for good). The default fill, ``"repeat"``,
copies the sample one mains period earlier (10 samples at 500 Hz and 50 Hz), so mains
interference, DC offset and baseline continue through the gap and the notch and high-pass
filters see no step; holding the last value (``"hold"``) or interpolating breaks the mains
sinusoid and rings through the filter, which on SilentWear-like data halves event recall at
3 % packet loss. Windows with more than ``max_missing`` filled samples are suppressed (no
decision) and clear the vote history, so that a command never fires on votes across a long gap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_option, check_positive
from .._logging import logger
from ..exceptions import StreamError, ValidationError
from ..streams.base import BaseStream, Chunk
from .buffer import RingBuffer
from .postprocess import CommandEvent, Decision, PostProcessor


class Recognizer:
    """Sliding-window command recogniser.

    Parameters
    ----------
    model : estimator
        Fitted classifier with ``predict_proba(X)`` on ``(n, n_channels, n_times)`` and ``classes_``.
    sfreq, window_s, step_s : float
        Sampling rate, window length and hop in seconds.
    ch_names : sequence of str | None
        Channel order the model expects; streams with names are re-ordered to it.
    filter_design : FilterDesign | dict | None
        Design the model was trained with (applied causally); ``None`` for no filtering.
    label_names : mapping | None
    rest_label, threshold, n_votes, min_votes, refractory_s
        Post-processing (see :class:`PostProcessor`).
    mode : {"utterance", "hold"}
        Post-processing mode: one event per brief command, or one per held gesture plus an end
        message with its duration (:data:`~myovox.realtime.postprocess.POSTPROCESS_MODES`).
    confirm_s : float
        Hold mode: seconds a class must keep the vote before its hold starts.
    adapt : {"none", "standardize", "bn"}
        Label-free adaptation to the stream (a new session), guarded against bursts of one
        class (:class:`~myovox.adaptation.online.OnlineAdapter`; restarts with every stream).
    quiet_level : sequence of float | None
        Each channel's quiet level in the training data (the model card's ``training["quiet_level"]``),
        which ``adapt="standardize"`` matches.
    max_missing : float
        Largest fraction of lost (filled) samples in a window that still gets a decision
        (default 0.25); windows above it are suppressed and clear the vote history.
    gap_fill : {"repeat", "hold"}
        How lost samples are filled before filtering: ``"repeat"`` (default) copies the sample one
        mains period earlier, ``"hold"`` holds each channel's last good value.
    mains_hz : float | None
        Mains frequency whose period ``"repeat"`` uses; ``None``: the notch of ``filter_design``,
        else 50 Hz.
    on_event : callable | None
        Called with each :class:`CommandEvent`.
    keep_decisions : bool
        Keep every window's decision and probabilities in ``decisions``/``probas`` (parity tests).
    clock : callable
        Wall clock for latencies (``time.perf_counter``).
    """

    def __init__(
        self,
        model: Any,
        *,
        sfreq: float,
        window_s: float,
        step_s: float = 0.1,
        ch_names: Sequence[str] | None = None,
        n_channels: int | None = None,
        filter_design: Any = None,
        label_names: Mapping[int, str] | None = None,
        rest_label: int | None = 0,
        threshold: float = 0.6,
        n_votes: int = 3,
        min_votes: int = 2,
        refractory_s: float = 1.0,
        mode: str = "utterance",
        confirm_s: float = 0.3,
        adapt: str = "none",
        quiet_level: Sequence[float] | None = None,
        max_missing: float = 0.25,
        gap_fill: str = "repeat",
        mains_hz: float | None = None,
        on_event: Callable[[CommandEvent], None] | None = None,
        keep_decisions: bool = False,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.model = model
        self.sfreq = check_positive("sfreq", sfreq, "sampling rate in Hz")
        self.window_s = check_positive("window_s", window_s, "duration in seconds")
        self.step_s = check_positive("step_s", step_s, "duration in seconds")
        self.n_window = int(round(self.window_s * self.sfreq))
        self.n_step = max(1, int(round(self.step_s * self.sfreq)))
        self.ch_names = None if ch_names is None else tuple(ch_names)
        n_ch = len(self.ch_names) if self.ch_names is not None else n_channels
        if n_ch is None:
            raise ValidationError("Recognizer needs ch_names or n_channels (the model's input channels).")
        self.n_channels: int = n_ch
        if not 0.0 <= max_missing < 1.0:
            raise ValidationError(
                f"Invalid value for 'max_missing': expected a fraction in [0, 1), got {max_missing!r}."
            )
        self.max_missing = float(max_missing)
        self.gap_fill = check_option("gap_fill", gap_fill, ("repeat", "hold"))
        self.filter_design = filter_design
        if mains_hz is None:
            notch = (
                filter_design.get("notch") if isinstance(filter_design, dict) else getattr(filter_design, "notch", None)
            )
            mains_hz = float(notch) if notch else 50.0
        self.mains_hz = check_positive("mains_hz", mains_hz, "frequency in Hz")
        self.fill_lag = mains_period_samples(self.sfreq, self.mains_hz)
        classes = np.asarray(model.classes_)
        self.post = PostProcessor(
            classes,
            label_names,
            rest_label=rest_label,
            threshold=threshold,
            n_votes=n_votes,
            min_votes=min_votes,
            refractory_s=refractory_s,
            mode=mode,
            confirm_s=confirm_s,
        )
        self.adapter = None
        if adapt != "none":
            from ..adaptation.online import OnlineAdapter

            self.adapter = OnlineAdapter(model, adapt, quiet_level=quiet_level)
        self.on_event = on_event
        self.keep_decisions = keep_decisions
        self.clock = clock
        self.reset()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_saved(cls, model_dir: str | Path, *, trust_pickle: bool = False, **overrides: Any) -> Recognizer:
        """Build from a model folder saved by :func:`myovox.models.io.save_model` (its model card
        gives rate, window, channel order, filter design and label map). ``overrides`` are passed
        to the constructor (e.g. ``step_s``, ``threshold``, ``max_missing``)."""
        from ..models.io import load_model

        model, card = load_model(model_dir, trust_pickle=True) if trust_pickle else load_model(model_dir)
        kw = _card_arguments(card)
        if kw.pop("_zero_phase", False):
            logger.warning(
                "%s was trained on zero-phase filtered data; live filtering is causal, so its "
                "inputs differ from training (retrain with `myovox train --live`).",
                model_dir,
            )
        kw.update(overrides)
        if kw.get("sfreq") is None or kw.get("window_s") is None:
            raise ValidationError(f"{model_dir}: the model card lacks sfreq or window_s; pass them explicitly.")
        return cls(model, **kw)

    def reset(self) -> None:
        """Forget all state (buffer, filter state, votes)."""
        self.buffer = RingBuffer(self.n_channels, self.n_window + self.n_step)
        self._filter = None
        if self.filter_design is not None:
            from ..preprocessing.filters import CausalFilter, FilterDesign

            design = self.filter_design
            if isinstance(design, dict):
                design = FilterDesign.from_dict(design)
            self._filter = CausalFilter(design, self.n_channels)
        self._last_good = np.zeros(self.n_channels)
        self._has_good = False
        self._hist = np.zeros((self.n_channels, self.fill_lag))  # last raw samples (filled ones too)
        self._n_hist = 0
        self._stream_index: list[int] | None = None
        self.post.reset()
        if self.adapter is not None:  # a new stream is a new session
            self.adapter.reset()
        self.decisions: list[Decision] = []
        self.probas: list[np.ndarray] = []
        self.events: list[CommandEvent] = []
        self.stats = {
            "n_samples": 0,
            "n_windows": 0,
            "n_rejected": 0,
            "n_suppressed": 0,
            "n_events": 0,
            "n_missing_samples": 0,
        }

    # ------------------------------------------------------------------ processing
    def bind(self, stream: BaseStream) -> None:
        """Check a started stream against the model (rate, channels) and map its channel order."""
        if abs(stream.sfreq - self.sfreq) > 1e-6 * self.sfreq:
            raise StreamError(
                f"stream {stream.describe()} runs at {stream.sfreq:g} Hz but the model was trained "
                f"at {self.sfreq:g} Hz."
            )
        names = tuple(stream.ch_names)
        if self.ch_names is not None and set(self.ch_names) <= set(names):
            self._stream_index = [names.index(c) for c in self.ch_names]
        elif len(names) == self.n_channels:
            self._stream_index = None
            if self.ch_names is not None and names != self.ch_names:
                logger.warning(
                    "stream channel names %s differ from the model's; using them in stream order", list(names)[:4]
                )
        else:
            raise StreamError(
                f"stream {stream.describe()} has {len(names)} channels but the model expects "
                f"{self.n_channels}" + (f" ({', '.join(self.ch_names)})" if self.ch_names else "") + "."
            )

    def process(self, chunk: Chunk | np.ndarray, arrival: float | None = None) -> list[CommandEvent]:
        """Feed a chunk ``(n_channels, n)`` (or a :class:`Chunk`); returns the events it completed."""
        arrival = self.clock() if arrival is None else arrival
        if isinstance(chunk, Chunk):
            data, missing = chunk.data, chunk.missing
        else:
            data, missing = np.asarray(chunk, dtype=np.float64), None
        if self._stream_index is not None:
            data = data[self._stream_index]
        if data.ndim != 2 or data.shape[0] != self.n_channels:
            raise StreamError(f"chunk has shape {data.shape}; the model expects {self.n_channels} channels.")
        data, missing = self._clean(data, missing)
        if self._filter is not None:
            data = self._filter.process(data)
        pending: list[tuple[np.ndarray, float, float, bool]] = []
        n = data.shape[1]
        pos = 0
        while pos < n:
            # never add more than the distance to the next window end, so the buffer always holds it
            total = self.buffer.n_written
            next_end = (
                self.n_window if total < self.n_window else total + self.n_step - (total - self.n_window) % self.n_step
            )
            take = min(n - pos, next_end - total)
            self.buffer.append(data[:, pos : pos + take], None if missing is None else missing[pos : pos + take])
            pos += take
            if self.buffer.n_written == next_end:
                win, miss = self.buffer.latest(self.n_window)
                frac = float(miss.mean()) if miss.any() else 0.0
                end = self.buffer.n_written
                pending.append(
                    (win.copy(), (end - self.n_window) / self.sfreq, end / self.sfreq, frac > self.max_missing)
                )
        self.stats["n_samples"] += n
        return self._decide(pending, arrival)

    def _clean(self, data: np.ndarray, missing: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Fill lost and non-finite samples (see the module docstring); returns data and the
        per-sample mask of filled samples (None when nothing was filled)."""
        bad = ~np.isfinite(data)
        if missing is not None:
            bad |= np.asarray(missing, dtype=bool)[None, :]
        if not bad.any():
            self._remember(data)
            return data, None
        data = np.array(data, dtype=np.float64)
        if self.gap_fill == "repeat":
            data = self._fill_repeat(data, bad)
        else:
            data = self._fill_hold(data, bad)
        self._remember(data)
        sample_missing = bad.any(axis=0)
        self.stats["n_missing_samples"] += int(sample_missing.sum())
        return data, sample_missing

    def _remember(self, data: np.ndarray) -> None:
        n = data.shape[1]
        if not n:
            return
        self._last_good = data[:, -1].astype(np.float64)  # astype copies
        self._has_good = True
        lag = self.fill_lag
        if n >= lag:
            self._hist = data[:, -lag:].astype(np.float64)
        else:
            self._hist = np.concatenate([self._hist[:, n:], data], axis=1)
        self._n_hist = min(lag, self._n_hist + n)

    def _fill_hold(self, data: np.ndarray, bad: np.ndarray) -> np.ndarray:
        """Hold each channel's last good value (vectorised: no per-sample loop in the read path)."""
        n = data.shape[1]
        # per channel, the index of the last good sample at or before each one (-1: none in this chunk)
        src = np.maximum.accumulate(np.where(bad, -1, np.arange(n)), axis=1)
        held = np.take_along_axis(data, np.maximum(src, 0), axis=1)
        held = np.where(src < 0, self._last_good[:, None], held)
        return np.where(bad, held, data)

    def _fill_repeat(self, data: np.ndarray, bad: np.ndarray) -> np.ndarray:
        lag, n = self.fill_lag, data.shape[1]
        if self._n_hist < lag:
            # not yet a mains period of history: hold until there is (stream start only)
            first = int(np.argmax(bad.any(axis=0)))
            if self._n_hist + first < lag:
                return self._fill_hold(data, bad)
        ext = np.concatenate([self._hist, data], axis=1)  # ext[:, lag + j] is data[:, j]
        cols = np.flatnonzero(bad.any(axis=0))
        # runs of consecutive bad columns, copied a mains period at a time (a copy may read
        # samples that an earlier block of the same run filled)
        breaks = np.flatnonzero(np.diff(cols) > 1) + 1
        for run in np.split(cols, breaks):
            a, b = int(run[0]), int(run[-1]) + 1
            for k in range(a, b, lag):
                e = min(k + lag, b)
                src = ext[:, k:e]  # one period earlier
                m = bad[:, k:e]
                ext[:, lag + k : lag + e] = np.where(m, src, ext[:, lag + k : lag + e])
        return ext[:, lag : lag + n]

    def _decide(self, pending: list[tuple[np.ndarray, float, float, bool]], arrival: float) -> list[CommandEvent]:
        if not pending:
            return []
        ok = [i for i, p in enumerate(pending) if not p[3]]
        probas: dict[int, np.ndarray] = {}
        if ok:
            X = np.stack([pending[i][0] for i in ok]).astype(np.float32)
            if self.adapter is None:
                P = np.asarray(self.model.predict_proba(X))
            else:
                P = np.asarray(self.adapter.model.predict_proba(self.adapter.transform(X)))
                self.adapter.update(X, P)
            probas = {i: P[k] for k, i in enumerate(ok)}
        events = []
        n_classes = len(self.post.classes)
        for i, (_, t0, t1, suppressed) in enumerate(pending):
            proba = probas.get(i, np.full(n_classes, np.nan))
            dec = self.post.decide(np.nan_to_num(proba, nan=0.0), t0, t1, suppressed=suppressed)
            self.stats["n_windows"] += 1
            if suppressed:
                self.stats["n_suppressed"] += 1
            elif dec.label_id is None:
                self.stats["n_rejected"] += 1
            if self.keep_decisions:
                self.decisions.append(dec)
                self.probas.append(proba)
            event = self.post.update(dec, arrival, self.clock())
            if event is not None:
                events.append(event)
                self.events.append(event)
                if event.state != "end":  # a hold's end message is not a command
                    self.stats["n_events"] += 1
                if self.on_event is not None:
                    self.on_event(event)
        return events

    def run(
        self,
        stream: BaseStream,
        *,
        max_duration_s: float | None = None,
        outputs: Iterable[Any] = (),
        reset: bool = True,
    ) -> dict[str, Any]:
        """Read ``stream`` until it ends (or ``max_duration_s`` of stream time), sending events to
        ``outputs`` (objects with ``send(event)``). Returns the statistics. Everything received
        before a stream error is processed; the error is re-raised after the outputs are closed.

        Each run starts from a clean state (:meth:`reset`: buffer, filter, votes, events and
        statistics of an earlier stream are forgotten) unless ``reset=False`` continues one."""
        outputs = list(outputs)
        if reset:
            self.reset()
        started_here = not stream.running
        try:
            if started_here:
                stream.start()
            self.bind(stream)
            while True:
                chunk = stream.read()
                if chunk is None:
                    break
                for ev in self.process(chunk):
                    for out in outputs:
                        out.send(ev)
                if max_duration_s is not None and chunk.t_end >= max_duration_s:
                    break
        finally:
            if started_here:
                stream.stop()
            for out in outputs:
                close = getattr(out, "close", None)
                if close is not None:
                    close()
        stats: dict[str, Any] = dict(self.stats)
        stats["stream"] = stream.stats.as_dict()
        if self.adapter is not None:
            stats["adaptation"] = self.adapter.state()
        return stats


def mains_period_samples(sfreq: float, mains_hz: float, max_periods: int = 12) -> int:
    """Smallest whole number of samples that spans a whole number of mains periods (at most
    ``max_periods``), e.g. 10 at 500 Hz / 50 Hz and 25 (three periods) at 500 Hz / 60 Hz; the
    nearest single period when none fits exactly."""
    period = sfreq / mains_hz
    for k in range(1, max_periods + 1):
        n = k * period
        if abs(n - round(n)) < 1e-6 * max(1.0, n) and round(n) >= 1:
            return int(round(n))
    return max(1, int(round(period)))


def _card_arguments(card: Any) -> dict[str, Any]:
    """Recognizer arguments from a model card (:class:`myovox.models.card.ModelCard`) or from the
    dict sidecar of older myovox versions."""
    if not isinstance(card, dict):  # ModelCard
        label_map = {int(k): str(v) for k, v in (getattr(card, "label_map", None) or {}).items()}
        return dict(
            sfreq=card.sfreq,
            window_s=card.window_s,
            ch_names=tuple(card.ch_names),
            filter_design=card.filter,
            label_names=label_map,
            rest_label=getattr(card, "rest_label", 0),
            quiet_level=(getattr(card, "training", None) or {}).get("quiet_level"),
            _zero_phase=bool(card.filter) and not getattr(card, "causal", False),
        )
    side = card
    pre = side.get("preprocessing", {}) or {}
    return dict(
        sfreq=side.get("sfreq") or pre.get("sfreq"),
        window_s=side.get("window_s") or pre.get("window_s"),
        ch_names=side.get("ch_names") or pre.get("channels"),
        n_channels=side.get("n_channels"),
        filter_design=side.get("filter") or pre.get("filter"),
        label_names={int(k): v for k, v in (pre.get("label_map") or pre.get("label_names") or {}).items()},
        rest_label=pre.get("rest_label", side.get("rest_label", 0)),
        _zero_phase=bool(pre.get("filter")) and not pre.get("causal", False),
    )

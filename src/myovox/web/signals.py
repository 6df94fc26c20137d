"""What the dashboard shows of the signals: decimated traces and per-channel contact quality.

:class:`Decimator` turns a stream into min/max pairs per *bucket* of stream time (default 100 per
second of stream time, i.e. 5 samples at 500 Hz), so that a trace drawn one bucket per pixel
column shows every spike and never aliases, whatever the display's width; lost samples stay gaps.
It filters for display (the model's filter design, causally, else a 20 Hz high-pass and mains
notch) after filling lost samples with the last value, so the filter state is never poisoned.

:class:`ChannelQuality` keeps the last second of raw samples and flags, per channel:

- ``flat``: the signal does not move (sample-to-sample differences with a standard deviation under
  ``flat_std``, in the stream's units): a disconnected input that reads a constant, a dead channel;
- ``saturated``: at least ``saturation_frac`` of the samples sit at the channel's extreme values
  in the window (an amplifier at its rail repeats its limit), or beyond ``full_scale`` when known;
- ``mains``: the mains frequency (and its harmonics) carries more than ``mains_ratio`` of the
  signal's power above 2 Hz *and* the channel's hum amplitude is at least ``mains_relative`` times
  the median channel's: an electrode without skin contact picks up more hum than its neighbours (hum common to
  every channel is a matter of the reference electrode or the room, reported once as
  :attr:`ChannelQuality.common_mains`, and the notch filter removes it);
- ``lost``: the fraction of lost samples (packets that never arrived, NaN values).

Levels: ``bad`` (flat, saturated, or more than ``lost_bad`` lost), ``warn`` (mains, or more than
``lost_warn`` lost), ``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..realtime.buffer import RingBuffer

__all__ = ["ChannelQuality", "Decimator", "QualityThresholds", "fill_hold"]


def fill_hold(data: np.ndarray, bad: np.ndarray, last: np.ndarray) -> np.ndarray:
    """``data`` with every ``bad`` sample replaced by its channel's last good value (``last`` before
    the chunk); vectorised."""
    n = data.shape[1]
    src = np.maximum.accumulate(np.where(bad, -1, np.arange(n)), axis=1)
    held = np.take_along_axis(data, np.maximum(src, 0), axis=1)
    held = np.where(src < 0, last[:, None], held)
    return np.where(bad, held, data)


class Decimator:
    """Min/max per bucket of a multichannel stream, for display.

    Parameters
    ----------
    n_channels : int
    sfreq : float
        Sampling rate in Hz.
    buckets_per_s : float
        Buckets per second of stream time (rounded so that a bucket holds whole samples).
    filter_design : FilterDesign | dict | None
        Display filter, applied causally; ``None`` shows the raw samples.
    """

    def __init__(self, n_channels: int, sfreq: float, *, buckets_per_s: float = 100.0, filter_design: Any = None):
        self.n_channels = int(n_channels)
        self.sfreq = float(sfreq)
        self.bucket = max(1, int(round(self.sfreq / float(buckets_per_s))))
        self.buckets_per_s = self.sfreq / self.bucket
        self._carry = np.zeros((self.n_channels, 0))
        self._lo: list[np.ndarray] = []
        self._hi: list[np.ndarray] = []
        self._first = 0  # index of the first bucket not yet popped
        self._last = np.zeros(self.n_channels)
        self._filter = None
        if filter_design is not None:
            from ..preprocessing.filters import CausalFilter, FilterDesign

            design = FilterDesign.from_dict(filter_design) if isinstance(filter_design, dict) else filter_design
            self._filter = CausalFilter(design, self.n_channels)

    def push(self, data: np.ndarray, missing: np.ndarray | None = None) -> None:
        """Add samples ``(n_channels, n)``; NaN and ``missing`` samples become gaps."""
        data = np.asarray(data, dtype=np.float64)
        bad = ~np.isfinite(data)
        if missing is not None:
            bad |= np.asarray(missing, dtype=bool)[None, :]
        if bad.any():
            data = fill_hold(data, bad, self._last)
        if data.shape[1]:
            self._last = data[:, -1].copy()
        if self._filter is not None:
            data = self._filter.process(data)
        if bad.any():
            data = np.where(bad, np.nan, data)
        buf = np.concatenate([self._carry, data], axis=1) if self._carry.shape[1] else data
        n_full = buf.shape[1] // self.bucket
        if n_full:
            blocks = buf[:, : n_full * self.bucket].reshape(self.n_channels, n_full, self.bucket)
            ok = np.isfinite(blocks)
            any_ok = ok.any(axis=2)
            lo = np.where(ok, blocks, np.inf).min(axis=2)
            hi = np.where(ok, blocks, -np.inf).max(axis=2)
            self._lo.append(np.where(any_ok, lo, np.nan))
            self._hi.append(np.where(any_ok, hi, np.nan))
        self._carry = buf[:, n_full * self.bucket :]

    def pop(self) -> tuple[int, np.ndarray, np.ndarray]:
        """``(first_bucket, lo, hi)`` of the buckets completed since the last call; ``lo``/``hi`` are
        ``(n_channels, n_buckets)`` (NaN where every sample was lost)."""
        first = self._first
        if not self._lo:
            empty = np.zeros((self.n_channels, 0))
            return first, empty, empty
        lo, hi = np.concatenate(self._lo, axis=1), np.concatenate(self._hi, axis=1)
        self._lo, self._hi = [], []
        self._first += lo.shape[1]
        return first, lo, hi


@dataclass(frozen=True)
class QualityThresholds:
    """Limits of :class:`ChannelQuality` (amplitudes in the stream's units, e.g. uV)."""

    flat_std: float = 0.1
    saturation_frac: float = 0.02
    full_scale: float | None = None
    mains_ratio: float = 0.5
    mains_relative: float = 4.0
    lost_warn: float = 0.01
    lost_bad: float = 0.10


class ChannelQuality:
    """Rolling per-channel contact quality over the last ``window_s`` seconds.

    Parameters
    ----------
    ch_names : sequence of str
    sfreq : float
    mains_hz : float
        Mains frequency (50 or 60 Hz).
    window_s : float
        Seconds of signal each report looks at.
    thresholds : QualityThresholds | None
    """

    def __init__(
        self,
        ch_names: Any,
        sfreq: float,
        *,
        mains_hz: float = 50.0,
        window_s: float = 1.0,
        thresholds: QualityThresholds | None = None,
    ) -> None:
        self.ch_names = [str(c) for c in ch_names]
        self.sfreq = float(sfreq)
        self.mains_hz = float(mains_hz)
        self.n = max(8, int(round(window_s * self.sfreq)))
        self.thresholds = thresholds or QualityThresholds()
        self.buffer = RingBuffer(len(self.ch_names), self.n)
        #: median fraction of power at the mains frequency over the channels, at the last report
        self.common_mains: float | None = None

    def update(self, data: np.ndarray, missing: np.ndarray | None = None) -> None:
        """Add raw samples ``(n_channels, n)`` (NaN or ``missing``: lost)."""
        self.buffer.append(np.asarray(data, dtype=np.float64), missing)

    def report(self) -> list[dict[str, Any]]:
        """Per channel: ``name``, ``level`` (ok/warn/bad), ``flags``, ``rms``, ``mains`` (fraction of
        power at the mains frequency and its harmonics) and ``lost`` (fraction of samples)."""
        n = len(self.buffer)
        th = self.thresholds
        if n < 8:
            return [
                {"name": c, "level": "unknown", "flags": [], "rms": None, "mains": None, "lost": None}
                for c in self.ch_names
            ]
        x, missing = self.buffer.latest(n)
        x = np.array(x)
        lost_mask = ~np.isfinite(x) | missing[None, :]
        lost = lost_mask.mean(axis=1)
        ok_all = ~lost_mask
        # statistics on the measured samples (lost ones are held at the last value, not counted)
        x = fill_hold(x, lost_mask, np.nan_to_num(np.nanmean(np.where(ok_all, x, np.nan), axis=1)))
        x = np.nan_to_num(x)
        centred = x - x.mean(axis=1, keepdims=True)
        rms = np.sqrt((centred**2).mean(axis=1))
        diff_std = np.diff(x, axis=1).std(axis=1)
        flat = diff_std < th.flat_std
        hi, lo = x.max(axis=1, keepdims=True), x.min(axis=1, keepdims=True)
        at_rail = ((x >= hi) | (x <= lo)) & ok_all
        sat_frac = at_rail.sum(axis=1) / np.maximum(ok_all.sum(axis=1), 1)
        saturated = (sat_frac >= th.saturation_frac) & ~flat
        if th.full_scale is not None:
            saturated |= ((np.abs(x) >= 0.999 * th.full_scale) & ok_all).mean(axis=1) >= th.saturation_frac
        mains, hum = self._mains(centred)
        self.common_mains = round(float(np.median(mains)), 3)
        if len(hum) >= 3:
            ref = float(np.median(hum))
            loud = hum >= th.mains_relative * ref if ref > 0 else hum > 0
        else:
            loud = np.ones(len(hum), dtype=bool)
        out = []
        for i, name in enumerate(self.ch_names):
            flags = []
            if flat[i]:
                flags.append("flat")
            if saturated[i]:
                flags.append("saturated")
            if mains[i] > th.mains_ratio and loud[i] and not flat[i]:
                flags.append("mains")
            if lost[i] > th.lost_warn:
                flags.append("lost")
            bad = flat[i] or saturated[i] or lost[i] > th.lost_bad
            level = "bad" if bad else ("warn" if flags else "ok")
            out.append(
                {
                    "name": name,
                    "level": level,
                    "flags": flags,
                    "rms": round(float(rms[i]), 2),
                    "mains": round(float(mains[i]), 3),
                    "lost": round(float(lost[i]), 4),
                }
            )
        return out

    def _mains(self, centred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per channel: the fraction of power (above 2 Hz) at mains and its harmonics, and its amplitude."""
        n = centred.shape[1]
        spec = np.abs(np.fft.rfft(centred * np.hanning(n), axis=1)) ** 2
        freqs = np.fft.rfftfreq(n, 1.0 / self.sfreq)
        above = freqs >= 2.0
        harmonics = np.arange(self.mains_hz, self.sfreq / 2.0, self.mains_hz)
        near = np.zeros(freqs.shape, dtype=bool)
        half_width = max(1.5, 2.0 * self.sfreq / n)  # at least two frequency bins each side
        for h in harmonics:
            near |= np.abs(freqs - h) <= half_width
        total = spec[:, above].sum(axis=1)
        at_mains = spec[:, near & above].sum(axis=1)
        return np.where(total > 0, at_mains / np.maximum(total, 1e-30), 0.0), np.sqrt(at_mains)

"""Filters designed once, applied zero-phase (offline, as SilentWear) or causally (live).

SilentWear filters every recording offline with a 4th-order Butterworth high-pass at 20 Hz and then
a 2nd-order Butterworth band-stop 47.5-52.5 Hz (a 4th-order filter), each run forward and backward
(``filtfilt``) over the whole recording. :func:`filter_zero_phase` reproduces that stage by stage
(second-order sections, same padding as ``scipy.signal.filtfilt``). :class:`CausalFilter` applies the
*same* design as one cascade of second-order sections with carried state, for live streams.

NaN/inf policy
--------------
- Offline (:func:`filter_zero_phase`, :func:`filter_causal`): non-finite input raises
  ``ValidationError`` naming the source and the count (one NaN would spread over the whole output).
- Live (:class:`CausalFilter`): each non-finite sample is replaced by the last finite value of its
  channel (a zero-order hold; before any finite value, by the first finite value of the chunk, else
  0), so the filter state never becomes NaN. ``n_replaced`` counts the replaced samples and a
  warning is logged the first time it happens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._checks import check_int, check_positive, did_you_mean
from .._logging import logger
from ..exceptions import ValidationError

__all__ = [
    "SILENTWEAR_FILTER",
    "CausalFilter",
    "FilterDesign",
    "design_filter",
    "filter_causal",
    "filter_silentwear",
    "filter_zero_phase",
]

_PARAMS = ("sfreq", "highpass", "notch", "notch_width", "hp_order", "notch_order", "lowpass", "lp_order")


@dataclass(eq=False)
class FilterDesign:
    """A filter cascade: optional high-pass, band-stop (notch) and low-pass Butterworth stages.

    Build it with :func:`design_filter`; the coefficients are computed from the parameters.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    highpass : float | None
        High-pass cut-off in Hz (``None``: no high-pass).
    notch : float | None
        Centre of the band-stop in Hz (``None``: no band-stop).
    notch_width : float
        Half width of the band-stop in Hz: the stop band is ``notch +- notch_width``.
    hp_order, notch_order, lp_order : int
        Butterworth orders (as passed to ``scipy.signal.butter``; a band-stop of order n has 2n poles).
    lowpass : float | None
        Low-pass cut-off in Hz (``None``: no low-pass).

    Attributes
    ----------
    stages : list of (str, ndarray)
        ``(name, sos)`` of each stage in the order applied (``"highpass"``, ``"notch"``, ``"lowpass"``).
    """

    sfreq: float
    highpass: float | None = 20.0
    notch: float | None = 50.0
    notch_width: float = 2.5
    hp_order: int = 4
    notch_order: int = 2
    lowpass: float | None = None
    lp_order: int = 4
    stages: list = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from scipy import signal

        self.sfreq = check_positive("sfreq", self.sfreq, "sampling rate in Hz")
        nyq = self.sfreq / 2.0
        self.hp_order = check_int("hp_order", self.hp_order, minimum=1)
        self.notch_order = check_int("notch_order", self.notch_order, minimum=1)
        self.lp_order = check_int("lp_order", self.lp_order, minimum=1)
        self.notch_width = check_positive("notch_width", self.notch_width, "half width in Hz")
        stages: list[tuple[str, np.ndarray]] = []
        if self.highpass is not None:
            self.highpass = check_positive("highpass", self.highpass, "cut-off in Hz")
            _below_nyquist("highpass", self.highpass, nyq)
            stages.append(
                ("highpass", signal.butter(self.hp_order, self.highpass, "highpass", fs=self.sfreq, output="sos"))
            )
        if self.notch is not None:
            self.notch = check_positive("notch", self.notch, "frequency in Hz")
            lo, hi = self.notch - self.notch_width, self.notch + self.notch_width
            if lo <= 0:
                raise ValidationError(
                    f"Invalid band-stop: notch - notch_width = {lo:g} Hz must be above 0 Hz "
                    f"(notch={self.notch:g}, notch_width={self.notch_width:g})."
                )
            _below_nyquist("notch + notch_width", hi, nyq)
            stages.append(("notch", signal.butter(self.notch_order, [lo, hi], "bandstop", fs=self.sfreq, output="sos")))
        if self.lowpass is not None:
            self.lowpass = check_positive("lowpass", self.lowpass, "cut-off in Hz")
            _below_nyquist("lowpass", self.lowpass, nyq)
            if self.highpass is not None and self.lowpass <= self.highpass:
                raise ValidationError(
                    f"Invalid value for 'lowpass': {self.lowpass:g} Hz must be above highpass ({self.highpass:g} Hz)."
                )
            stages.append(
                ("lowpass", signal.butter(self.lp_order, self.lowpass, "lowpass", fs=self.sfreq, output="sos"))
            )
        self.stages = stages

    # ------------------------------------------------------------------ derived forms
    @property
    def sos(self) -> np.ndarray:
        """All stages as one cascade of second-order sections, shape (n_sections, 6)."""
        if not self.stages:
            return np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]])
        return np.concatenate([s for _, s in self.stages], axis=0)

    @property
    def ba(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(b, a)`` transfer-function coefficients of each stage, in the order applied."""
        from scipy import signal

        return [signal.sos2tf(s) for _, s in self.stages]

    @property
    def is_identity(self) -> bool:
        """True when every stage is disabled."""
        return not self.stages

    def to_dict(self) -> dict[str, Any]:
        """Parameters (and the SOS coefficients, for C export) as a JSON-friendly dict."""
        out: dict[str, Any] = {k: getattr(self, k) for k in _PARAMS}
        out["sos"] = self.sos.tolist()
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FilterDesign:
        """Rebuild a design written by :meth:`to_dict`; ``sos``, if present, must match the parameters."""
        d = dict(d)
        unknown = [k for k in d if k not in _PARAMS and k != "sos"]
        if unknown:
            raise ValidationError(
                f"Unknown filter design key {unknown[0]!r}; known: {', '.join(_PARAMS)}."
                f"{did_you_mean(unknown[0], _PARAMS)}"
            )
        if "sfreq" not in d:
            raise ValidationError("Filter design dict lacks 'sfreq' (the sampling rate in Hz).")
        sos = d.pop("sos", None)
        design = cls(**d)
        if sos is not None:
            sos = np.asarray(sos, dtype=float)
            if sos.shape != design.sos.shape or not np.allclose(sos, design.sos, rtol=1e-6, atol=1e-12):
                raise ValidationError(
                    "Filter design dict: its 'sos' coefficients do not match its parameters "
                    f"({d}); the file was edited or written by an incompatible version."
                )
        return design

    def __repr__(self) -> str:
        parts = []
        if self.highpass is not None:
            parts.append(f"highpass {self.highpass:g} Hz (order {self.hp_order})")
        if self.notch is not None:
            parts.append(
                f"band-stop {self.notch - self.notch_width:g}-{self.notch + self.notch_width:g} Hz "
                f"(order {self.notch_order})"
            )
        if self.lowpass is not None:
            parts.append(f"lowpass {self.lowpass:g} Hz (order {self.lp_order})")
        return f"<FilterDesign @ {self.sfreq:g} Hz: {', '.join(parts) or 'identity'}>"


def _below_nyquist(name: str, value: float, nyq: float) -> None:
    if value >= nyq:
        raise ValidationError(
            f"Invalid value for {name!r}: {value:g} Hz is not below the Nyquist frequency "
            f"({nyq:g} Hz at {2 * nyq:g} Hz sampling)."
        )


def design_filter(
    sfreq: float,
    highpass: float | None = 20.0,
    notch: float | None = 50.0,
    notch_width: float = 2.5,
    hp_order: int = 4,
    notch_order: int = 2,
    lowpass: float | None = None,
    lp_order: int = 4,
) -> FilterDesign:
    """Design SilentWear's filter (or a variant) for sampling rate ``sfreq``.

    The defaults are SilentWear's: Butterworth high-pass 20 Hz order 4, band-stop 47.5-52.5 Hz order 2.
    ``None`` disables a stage. Cut-offs at or above Nyquist raise ``ValidationError``.
    """
    return FilterDesign(sfreq, highpass, notch, notch_width, hp_order, notch_order, lowpass, lp_order)


def _check_finite(data: np.ndarray, source: str | None) -> None:
    n_bad = int(data.size - np.count_nonzero(np.isfinite(data)))
    if n_bad:
        raise ValidationError(
            f"Cannot filter {source or 'the data'}: it has {n_bad} NaN/inf samples; interpolate or "
            "drop them first (e.g. preprocess(..., nan_policy='interpolate'))."
        )


def filter_zero_phase(
    data: np.ndarray, design: FilterDesign, axis: int = -1, *, source: str | None = None
) -> np.ndarray:
    """Zero-phase (forward-backward) filtering of a whole recording, stage by stage, as SilentWear.

    Each stage is filtered with ``scipy.signal.sosfiltfilt`` using odd padding of the same length as
    ``filtfilt`` on its ``(b, a)`` form, which equals SilentWear's ``filtfilt`` calls.

    Parameters
    ----------
    data : array
        Samples; time along ``axis``. Computed in float64.
    design : FilterDesign
    axis : int
        Time axis.
    source : str | None
        Name of the recording, for error messages.

    Returns
    -------
    array of float64, same shape as ``data``.
    """
    from scipy import signal

    x = np.asarray(data, dtype=np.float64)
    _check_finite(x, source)
    for name, sos in design.stages:
        try:
            x = signal.sosfiltfilt(sos, x, axis=axis)
        except ValueError as err:
            raise ValidationError(
                f"Cannot filter {source or 'the data'} zero-phase ({name} stage): {x.shape[axis]} samples "
                f"is too short ({err})."
            ) from err
    return x if design.stages else x.copy()


#: SilentWear's offline filter settings (the reference's processed release, its ``Ch_i_filt`` columns)
SILENTWEAR_FILTER: dict[str, float] = {"highpass": 20.0, "notch": 50.0}


def filter_silentwear(
    data: np.ndarray,
    sfreq: float,
    highpass: float = SILENTWEAR_FILTER["highpass"],
    notch: float = SILENTWEAR_FILTER["notch"],
    *,
    source: str | None = None,
) -> np.ndarray:
    """SilentWear's offline filter over the whole signal: 4th-order Butterworth high-pass, then
    a 2nd-order Butterworth band-stop ``notch +- 2.5 Hz``, both forward-backward (float64).

    :func:`design_filter` then :func:`filter_zero_phase`; the reference's ``Ch_i_filt`` columns are
    this filter over the whole untrimmed recording.
    """
    design = design_filter(sfreq, highpass=highpass, notch=notch)
    return np.asarray(filter_zero_phase(np.asarray(data, dtype=np.float64), design, source=source), dtype=np.float64)


def filter_causal(data: np.ndarray, design: FilterDesign, axis: int = -1, *, source: str | None = None) -> np.ndarray:
    """Causal filtering of a whole array, started in steady state for its first sample.

    Equals feeding the data through :class:`CausalFilter` in chunks of any size.
    """
    from scipy import signal

    x = np.asarray(data, dtype=np.float64)
    _check_finite(x, source)
    if design.is_identity or x.shape[axis] == 0:
        return x.copy()
    x = np.moveaxis(x, axis, -1)
    sos = design.sos
    zi = signal.sosfilt_zi(sos)  # (n_sections, 2), steady state for a unit step
    zi = zi.reshape((sos.shape[0],) + (1,) * (x.ndim - 1) + (2,)) * x[..., :1][None]
    y, _ = signal.sosfilt(sos, x, axis=-1, zi=zi)
    return np.moveaxis(y, -1, axis)


class CausalFilter:
    """Apply a :class:`FilterDesign` causally to a stream, chunk by chunk, with carried state.

    Parameters
    ----------
    design : FilterDesign
    n_channels : int

    Notes
    -----
    Chunks are shaped ``(n_channels, n_times)`` (any ``n_times``, including 0). The state starts in
    steady state for the first sample's value, so DC offsets do not ring. Non-finite samples are held
    at the channel's last finite value (see the module docstring); ``n_replaced`` counts them.
    """

    def __init__(self, design: FilterDesign, n_channels: int) -> None:
        from scipy import signal

        if not isinstance(design, FilterDesign):
            raise ValidationError(f"CausalFilter needs a FilterDesign, got {type(design).__name__}.")
        self.design = design
        self.n_channels = check_int("n_channels", n_channels, minimum=1)
        self._sos = design.sos
        self._zi_unit = signal.sosfilt_zi(self._sos)  # (n_sections, 2)
        self.reset()

    def reset(self) -> None:
        """Forget the state; the next sample re-initialises it (steady state)."""
        self._zi: np.ndarray | None = None
        self._last = np.full(self.n_channels, np.nan)
        self.n_replaced = 0
        self.n_samples = 0

    def _fill_nonfinite(self, x: np.ndarray) -> np.ndarray:
        bad = ~np.isfinite(x)
        if not bad.any():
            return x
        x = x.copy()
        n_bad = int(bad.sum())
        if self.n_replaced == 0:
            logger.warning(
                "CausalFilter: %d non-finite samples held at the last finite value "
                "(further replacements are counted in n_replaced).",
                n_bad,
            )
        self.n_replaced += n_bad
        # seed for channels with no history: their first finite value in this chunk, else 0
        last = self._last.copy()
        for c in np.flatnonzero(~np.isfinite(last)):
            good = np.flatnonzero(~bad[c])
            last[c] = x[c, good[0]] if good.size else 0.0
        # forward fill along time: index of the last finite sample at or before each position
        idx = np.where(bad, -1, np.arange(x.shape[1])[None, :])
        np.maximum.accumulate(idx, axis=1, out=idx)
        filled = np.take_along_axis(x, np.maximum(idx, 0), axis=1)
        x = np.where(idx >= 0, filled, last[:, None])
        return x

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Filter one chunk, shape (n_channels, n_times); returns float64 of the same shape."""
        from scipy import signal

        x = np.asarray(chunk, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.n_channels:
            raise ValidationError(
                f"CausalFilter.process: chunk must have shape ({self.n_channels}, n_times), got {x.shape}."
            )
        if x.shape[1] == 0:
            return x.copy()
        x = self._fill_nonfinite(x)
        self._last = x[:, -1].copy()
        self.n_samples += x.shape[1]
        if self.design.is_identity:
            return x.copy()
        if self._zi is None:
            self._zi = self._zi_unit[:, None, :] * x[None, :, 0, None]
        y, self._zi = signal.sosfilt(self._sos, x, axis=-1, zi=self._zi)
        return y

    def __repr__(self) -> str:
        return f"<CausalFilter {self.design!r}, {self.n_channels} ch, {self.n_samples} samples seen>"

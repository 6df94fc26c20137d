"""Named feature sets as data, and one vectorised ``compute_features`` for all of them.

Feature sets
------------
``FEATURE_SETS`` maps a set name to its feature names; ``SUBWINDOWS`` gives the number of
sub-windows a set splits each window into (1 when absent). Output columns are ordered
channel-major: for each channel, for each sub-window, each feature (SilentWear's order), and are
named ``<feature>_<k>_<channel>`` (k = 1-based sub-window, SilentWear's naming) or
``<feature>_<channel>`` without sub-windows.

SilentWear's random-forest set ("silentwear_rf")
------------------------------------------------
Each window is cut into 7 sub-windows; on each, per channel, 24 features: rms, max, min, std, var,
q25, q75, mean, zero-crossing count (sign changes); Welch PSD (nperseg 100) mean frequency, peak
frequency, total power, mean power, sum f^2 P, sum f^3 P, low/high band power ratio; db4 level-3
wavelet mean and std of cA3, cD3, cD2, cD1. 7 x 24 x 14 channels = 2352 features.

Sub-windows here are 7 contiguous, equal, non-overlapping blocks of ``L = n_samples // 7`` samples
from the window's start; the ``n_samples % 7`` samples left at the end are not used (0 for 1.4 s at
500 Hz; 1 to 6 samples for the other SilentWear window lengths). Where the reference differs (read
from its public code, re-implemented here, not copied):

- it selects each sub-window with an inclusive pandas ``.loc[start:start + L]``, so every
  sub-window has ``L + 1`` samples, overlaps the next by one sample, and the last one reads one
  sample past the end of the window. We use exactly ``L`` samples. This changes the values slightly
  (e.g. Welch sees 101 samples and uses 100), not their meaning;
- it fixes the band edges at 0-125 / 125-250 Hz and nperseg at 100 whatever the rate; we use
  0-fs/4 / fs/4-fs/2 and ``nperseg = min(100, L)`` (identical at 500 Hz with L >= 100);
- its zero-crossing count is the number of changes of ``np.sign`` (our ``sign_changes``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np

from .._checks import check_int, check_positive, did_you_mean
from ..exceptions import ValidationError
from . import spectral as sp
from . import time_domain as td
from .wavelet import wavedec

__all__ = ["FEATURES", "FEATURE_SETS", "SUBWINDOWS", "compute_features", "feature_names", "split_subwindows"]


class _Ctx:
    """Data of one computation with shared intermediates computed once (sorted values, PSD, DWT)."""

    def __init__(self, X: np.ndarray, sfreq: float, nperseg: int = sp.DEFAULT_NPERSEG) -> None:
        self.X, self.sfreq, self.nperseg = X, sfreq, nperseg

    @cached_property
    def sorted(self) -> np.ndarray:
        return np.sort(self.X, axis=-1)

    @cached_property
    def psd(self) -> tuple[np.ndarray, np.ndarray]:
        return sp.welch_psd(self.X, self.sfreq, self.nperseg)

    @cached_property
    def dwt(self) -> list[np.ndarray]:
        return wavedec(self.X, "db4", 3)


def _wav(i: int, stat: str) -> Callable[[_Ctx], np.ndarray]:
    return lambda c: getattr(c.dwt[i], stat)(axis=-1)


#: Every feature by name: a function of the computation context returning ``X.shape[:-1]``.
FEATURES: dict[str, Callable[[_Ctx], np.ndarray]] = {
    # time domain
    "rms": lambda c: td.rms(c.X),
    "max": lambda c: c.sorted[..., -1],
    "min": lambda c: c.sorted[..., 0],
    "std": lambda c: c.X.std(axis=-1),
    "var": lambda c: c.X.var(axis=-1),
    "q25": lambda c: td._quantile_sorted(c.sorted, 0.25),
    "q75": lambda c: td._quantile_sorted(c.sorted, 0.75),
    "mean": lambda c: c.X.mean(axis=-1),
    "zcr": lambda c: td.sign_changes(c.X),
    "mav": lambda c: td.mav(c.X),
    "wl": lambda c: td.wl(c.X),
    "zc": lambda c: td.zc(c.X),
    "ssc": lambda c: td.ssc(c.X),
    "iemg": lambda c: td.iemg(c.X),
    "aac": lambda c: td.aac(c.X),
    "dasdv": lambda c: td.dasdv(c.X),
    "hjorth_mobility": lambda c: td.hjorth_mobility(c.X),
    "hjorth_complexity": lambda c: td.hjorth_complexity(c.X),
    # frequency domain (Welch)
    "mean_f": lambda c: sp.mean_frequency_psd(*c.psd),
    "peak_f": lambda c: sp.peak_frequency_psd(*c.psd),
    "tot_p": lambda c: sp.total_power_psd(*c.psd),
    "mean_p": lambda c: sp.mean_power_psd(*c.psd),
    "spec2": lambda c: sp.spectral_moment_psd(*c.psd, 2),
    "spec3": lambda c: sp.spectral_moment_psd(*c.psd, 3),
    "ratio_f": lambda c: sp.band_power_ratio_psd(*c.psd, c.sfreq),
    "median_f": lambda c: sp.median_frequency_psd(*c.psd),
    # wavelet (db4, level 3), SilentWear's names
    "c3Am": _wav(0, "mean"),
    "c3As": _wav(0, "std"),
    "cD3m": _wav(1, "mean"),
    "cD3s": _wav(1, "std"),
    "cD2m": _wav(2, "mean"),
    "cD2s": _wav(2, "std"),
    "cD1m": _wav(3, "mean"),
    "cD1s": _wav(3, "std"),
}

#: Named feature sets (lists of names in ``FEATURES``).
FEATURE_SETS: dict[str, list[str]] = {
    "silentwear_rf": [
        "rms",
        "max",
        "min",
        "std",
        "var",
        "q25",
        "q75",
        "mean",
        "zcr",
        "mean_f",
        "peak_f",
        "tot_p",
        "mean_p",
        "spec2",
        "spec3",
        "ratio_f",
        "c3Am",
        "c3As",
        "cD3m",
        "cD3s",
        "cD2m",
        "cD2s",
        "cD1m",
        "cD1s",
    ],
    "classic": ["mav", "rms", "wl", "zc", "ssc", "var"],
    "hudgins": ["mav", "wl", "zc", "ssc"],
    "extended": [
        "mav",
        "rms",
        "wl",
        "zc",
        "ssc",
        "var",
        "iemg",
        "aac",
        "dasdv",
        "hjorth_mobility",
        "hjorth_complexity",
        "mean_f",
        "median_f",
        "peak_f",
    ],
}

#: Sub-windows per window for sets that use them.
SUBWINDOWS: dict[str, int] = {"silentwear_rf": 7}


def _resolve(feature_set: str | Sequence[str], n_subwindows: int | None) -> tuple[list[str], int]:
    if isinstance(feature_set, str):
        if feature_set not in FEATURE_SETS:
            raise ValidationError(
                f"Unknown feature set {feature_set!r}; known: {', '.join(FEATURE_SETS)}."
                f"{did_you_mean(feature_set, FEATURE_SETS)}"
            )
        names = list(FEATURE_SETS[feature_set])
        default_sub = SUBWINDOWS.get(feature_set, 1)
    else:
        names = list(feature_set)
        if not names:
            raise ValidationError("Invalid value for 'feature_set': the list of feature names is empty.")
        for n in names:
            if n not in FEATURES:
                raise ValidationError(
                    f"Unknown feature {n!r}; known: {', '.join(FEATURES)}.{did_you_mean(n, FEATURES)}"
                )
        default_sub = 1
    sub = default_sub if n_subwindows is None else check_int("n_subwindows", n_subwindows, minimum=1)
    return names, sub


def split_subwindows(X: np.ndarray, n_subwindows: int) -> np.ndarray:
    """View ``X`` (..., n_samples) as (..., n_subwindows, L), ``L = n_samples // n_subwindows``.

    The ``n_samples % n_subwindows`` trailing samples are left out.
    """
    n = X.shape[-1]
    L = n // n_subwindows
    if L < 2:
        raise ValidationError(
            f"Windows of {n} samples are too short for {n_subwindows} sub-windows (need >= 2 samples each)."
        )
    return X[..., : n_subwindows * L].reshape(X.shape[:-1] + (n_subwindows, L))


def _check_X(X: np.ndarray) -> np.ndarray:
    X = np.asarray(getattr(X, "X", X), dtype=np.float64)
    if X.ndim != 3:
        raise ValidationError(f"Features need X shaped (n_windows, n_channels, n_samples), got {X.shape}.")
    return X


def compute_features(
    X: np.ndarray, sfreq: float, feature_set: str | Sequence[str] = "classic", *, n_subwindows: int | None = None
) -> np.ndarray:
    """Compute a feature set for every window, vectorised over windows, channels and sub-windows.

    Parameters
    ----------
    X : array (n_windows, n_channels, n_samples) | Windows
    sfreq : float
        Sampling rate in Hz (for spectral features).
    feature_set : str | list of str
        A name of :data:`FEATURE_SETS` or a list of names of :data:`FEATURES`.
    n_subwindows : int | None
        Override the set's number of sub-windows (:data:`SUBWINDOWS`, default 1).

    Returns
    -------
    array (n_windows, n_channels * n_subwindows * n_features), float64, columns as
    :func:`feature_names`.
    """
    X = _check_X(X)
    sfreq = check_positive("sfreq", sfreq, "sampling rate in Hz")
    names, sub = _resolve(feature_set, n_subwindows)
    Xs = split_subwindows(X, sub) if sub > 1 else X[..., None, :]
    if Xs.shape[-1] < 2:
        raise ValidationError(f"Windows of {X.shape[-1]} samples are too short for features.")
    ctx = _Ctx(Xs, sfreq)
    F = np.stack([np.asarray(FEATURES[n](ctx), dtype=np.float64) for n in names], axis=-1)
    return F.reshape(X.shape[0], -1)  # (W, C, S, F) -> channel-major


def feature_names(
    feature_set: str | Sequence[str] = "classic", ch_names: int | Sequence[str] = 14, *, n_subwindows: int | None = None
) -> list[str]:
    """Column names of :func:`compute_features` for ``ch_names`` (names or a channel count)."""
    names, sub = _resolve(feature_set, n_subwindows)
    chs = [f"Ch_{i}" for i in range(ch_names)] if isinstance(ch_names, (int, np.integer)) else list(ch_names)
    if sub == 1:
        return [f"{f}_{ch}" for ch in chs for f in names]
    return [f"{f}_{k}_{ch}" for ch in chs for k in range(1, sub + 1) for f in names]

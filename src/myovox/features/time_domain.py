"""Time-domain EMG features, one pure function each.

Every function takes ``X`` shaped ``(..., n_samples)`` (typically (n_windows, n_channels, n_samples))
and reduces the last axis with numpy, returning an array shaped ``X.shape[:-1]``. Values are in the
units of ``X`` (e.g. 0.1 uV for SilentWear) unless said otherwise. NaN in ``X`` propagates.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "aac",
    "dasdv",
    "hjorth_activity",
    "hjorth_complexity",
    "hjorth_mobility",
    "iemg",
    "log_detector",
    "mav",
    "maximum",
    "mean",
    "minimum",
    "quantile",
    "rms",
    "sign_changes",
    "ssc",
    "std",
    "var",
    "wamp",
    "wl",
    "zc",
]


def _f(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=np.float64)


def mean(X: np.ndarray) -> np.ndarray:
    """Mean value."""
    return _f(X).mean(axis=-1)


def maximum(X: np.ndarray) -> np.ndarray:
    """Maximum value."""
    return _f(X).max(axis=-1)


def minimum(X: np.ndarray) -> np.ndarray:
    """Minimum value."""
    return _f(X).min(axis=-1)


def std(X: np.ndarray) -> np.ndarray:
    """Standard deviation (population, ddof=0, as numpy's default)."""
    return _f(X).std(axis=-1)


def var(X: np.ndarray) -> np.ndarray:
    """Variance (population, ddof=0)."""
    return _f(X).var(axis=-1)


def rms(X: np.ndarray) -> np.ndarray:
    """Root mean square."""
    X = _f(X)
    return np.sqrt(np.mean(X * X, axis=-1))


def mav(X: np.ndarray) -> np.ndarray:
    """Mean absolute value."""
    return np.abs(_f(X)).mean(axis=-1)


def iemg(X: np.ndarray) -> np.ndarray:
    """Integrated EMG: sum of absolute values (per window, not scaled by the sampling period)."""
    return np.abs(_f(X)).sum(axis=-1)


def wl(X: np.ndarray) -> np.ndarray:
    """Waveform length: sum of absolute first differences."""
    return np.abs(np.diff(_f(X), axis=-1)).sum(axis=-1)


def aac(X: np.ndarray) -> np.ndarray:
    """Average amplitude change: waveform length / n_samples."""
    X = _f(X)
    return wl(X) / X.shape[-1]


def dasdv(X: np.ndarray) -> np.ndarray:
    """Difference absolute standard deviation value: RMS of first differences."""
    d = np.diff(_f(X), axis=-1)
    return np.sqrt(np.mean(d * d, axis=-1)) if d.shape[-1] else np.zeros(d.shape[:-1])


def zc(X: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Zero crossings: consecutive samples of strictly opposite sign whose difference is >= ``threshold``."""
    X = _f(X)
    a, b = X[..., :-1], X[..., 1:]
    hit = (a * b < 0) & (np.abs(a - b) >= threshold)
    return np.count_nonzero(hit, axis=-1).astype(np.float64)


def sign_changes(X: np.ndarray) -> np.ndarray:
    """Changes of ``sign(x)`` between consecutive samples (a step to or from exactly 0 counts).

    This is the zero-crossing count of SilentWear's random-forest features; on real-valued
    filtered EMG it equals :func:`zc` with no threshold.
    """
    s = np.sign(_f(X))
    return np.count_nonzero(s[..., 1:] != s[..., :-1], axis=-1).astype(np.float64)


def ssc(X: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Slope sign changes: samples i with ``(x[i]-x[i-1]) * (x[i]-x[i+1]) > threshold``."""
    X = _f(X)
    c = X[..., 1:-1]
    prod = (c - X[..., :-2]) * (c - X[..., 2:])
    return np.count_nonzero(prod > threshold, axis=-1).astype(np.float64)


def wamp(X: np.ndarray, threshold: float) -> np.ndarray:
    """Willison amplitude: number of consecutive-sample differences with ``|diff| >= threshold``."""
    return np.count_nonzero(np.abs(np.diff(_f(X), axis=-1)) >= threshold, axis=-1).astype(np.float64)


def log_detector(X: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """``exp(mean(log(|x| + eps)))``; ``eps`` keeps exact zeros finite."""
    return np.exp(np.mean(np.log(np.abs(_f(X)) + eps), axis=-1))


def quantile(X: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` in [0, 1], linear interpolation (numpy's default method)."""
    return _quantile_sorted(np.sort(_f(X), axis=-1), q)


def _quantile_sorted(S: np.ndarray, q: float) -> np.ndarray:
    """Quantile of already sorted data (last axis), linear interpolation as ``np.quantile``."""
    n = S.shape[-1]
    pos = q * (n - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    a, b = S[..., lo], S[..., hi]
    # numpy's formula for the linear method (exact at frac 0 and 1)
    return np.where(frac >= 0.5, b - (b - a) * (1 - frac), a + (b - a) * frac)


def hjorth_activity(X: np.ndarray) -> np.ndarray:
    """Hjorth activity: the variance."""
    return var(X)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den > 0)
    return out


def hjorth_mobility(X: np.ndarray) -> np.ndarray:
    """Hjorth mobility: sqrt(var(dx) / var(x)); 0 for a constant signal."""
    X = _f(X)
    return np.sqrt(_safe_ratio(np.diff(X, axis=-1).var(axis=-1), X.var(axis=-1)))


def hjorth_complexity(X: np.ndarray) -> np.ndarray:
    """Hjorth complexity: mobility(dx) / mobility(x); 0 for a constant signal."""
    X = _f(X)
    return _safe_ratio(hjorth_mobility(np.diff(X, axis=-1)), hjorth_mobility(X))

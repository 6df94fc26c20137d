"""Straightforward per-window, per-channel, per-sub-window loop implementations (private).

They exist to check the vectorised :func:`myovox.features.compute_features` (tests) and as the
baseline of ``myovox bench --only features``. They call scipy's ``welch``, numpy's ``quantile`` and
``pywt.wavedec`` on one 1-D segment at a time, written independently of the vectorised code.
"""

from __future__ import annotations

import warnings

import numpy as np


def _rf_one(x: np.ndarray, fs: float) -> list[float]:
    import pywt
    from scipy.signal import welch

    sg = np.sign(x)
    n_zc = sum(1 for i in range(len(x) - 1) if sg[i] != sg[i + 1])
    f, P = welch(x, fs, nperseg=min(100, len(x)))
    tot = float(np.sum(P))
    low = float(np.sum(P[(f >= 0) & (f <= fs / 4)]))
    high = float(np.sum(P[(f >= fs / 4) & (f <= fs / 2)]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cA3, cD3, cD2, cD1 = pywt.wavedec(x, "db4", level=3)
    out = [
        float(np.sqrt(np.mean(x**2))),
        float(np.max(x)),
        float(np.min(x)),
        float(np.std(x)),
        float(np.var(x)),
        float(np.quantile(x, 0.25)),
        float(np.quantile(x, 0.75)),
        float(np.mean(x)),
        float(n_zc),
        float(np.sum(f * P) / tot) if tot > 0 else 0.0,
        float(f[np.argmax(P)]),
        tot,
        float(np.mean(P)),
        float(np.sum(f**2 * P)),
        float(np.sum(f**3 * P)),
        low / high if high > 0 else 0.0,
    ]
    for c in (cA3, cD3, cD2, cD1):
        out += [float(np.mean(c)), float(np.std(c))]
    return out


def rf_features_loop(X: np.ndarray, sfreq: float, n_subwindows: int = 7) -> np.ndarray:
    """SilentWear's random-forest features with Python loops: (n_windows, n_ch * n_sub * 24)."""
    X = np.asarray(X, dtype=np.float64)
    n_win, n_ch, n = X.shape
    L = n // n_subwindows
    rows = []
    for w in range(n_win):
        row: list[float] = []
        for c in range(n_ch):
            for k in range(n_subwindows):
                row += _rf_one(X[w, c, k * L : (k + 1) * L], sfreq)
        rows.append(row)
    return np.asarray(rows)


def classic_features_loop(X: np.ndarray) -> np.ndarray:
    """MAV, RMS, WL, ZC, SSC, VAR per channel with Python loops: (n_windows, n_ch * 6)."""
    X = np.asarray(X, dtype=np.float64)
    rows = []
    for w in range(X.shape[0]):
        row: list[float] = []
        for c in range(X.shape[1]):
            x = X[w, c]
            n = len(x)
            mav = sum(abs(v) for v in x) / n
            rms = float(np.sqrt(sum(v * v for v in x) / n))
            wl = sum(abs(x[i + 1] - x[i]) for i in range(n - 1))
            zc = sum(1 for i in range(n - 1) if x[i] * x[i + 1] < 0)
            ssc = sum(1 for i in range(1, n - 1) if (x[i] - x[i - 1]) * (x[i] - x[i + 1]) > 0)
            m = sum(x) / n
            var = sum((v - m) ** 2 for v in x) / n
            row += [mav, rms, wl, float(zc), float(ssc), var]
        rows.append(row)
    return np.asarray(rows)

"""Feature extraction speed: vectorised ``compute_features`` vs the per-window Python-loop reference.

Run ``myovox bench --only features`` (or ``python benchmarks/bench_features.py [--quick] [--json]``), or
call ``run(quick)`` for rows ``{name, unit, baseline, ours, ratio, n_windows, equal}`` measured in
the same run; the values of both implementations are checked to be equal (float tolerance).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import numpy as np

from . import tiny

SFREQ = 500.0


def _rate(fn: Callable[[], np.ndarray], n_windows: int, repeat: int) -> tuple[float, np.ndarray]:
    """Best-of-``repeat`` throughput in windows/s and the last result."""
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    if out is None:
        raise ValueError(f"repeat must be at least 1, got {repeat}.")
    return n_windows / best, out


def run(quick: bool = False) -> list[dict]:
    """Measure the RF (14 ch x 1.4 s, 2352 features) and classic feature sets; return table rows."""
    from ..features import compute_features
    from ..features._reference import classic_features_loop, rf_features_loop

    small = tiny()
    rng = np.random.default_rng(0)
    rows = []
    cases = [
        (
            "rf_features_windows_per_s",
            "silentwear_rf",
            lambda X: rf_features_loop(X, SFREQ),
            4 if quick else 16,
            64 if quick else 512,
        ),
        ("classic_features_windows_per_s", "classic", classic_features_loop, 4 if quick else 16, 64 if quick else 512),
    ]
    for name, fset, loop, n_loop, n_fast in cases:
        if small:
            n_loop, n_fast = 2, 4
        X = rng.standard_normal((n_fast, 14, 700)) * 50.0
        compute_features(X[:2], SFREQ, fset)  # warm up imports and caches
        base, ref = _rate(functools.partial(loop, X[:n_loop]), n_loop, 1 if quick else 2)
        ours, got = _rate(functools.partial(compute_features, X, SFREQ, fset), n_fast, 3 if quick else 5)
        equal = bool(np.allclose(got[:n_loop], ref, rtol=1e-9, atol=1e-9))
        if not equal:
            raise RuntimeError(f"benchmark {name}: vectorised features differ from the loop reference")
        rows.append(
            {
                "name": name,
                "unit": "windows/s",
                "baseline": round(base, 1),
                "ours": round(ours, 1),
                "ratio": round(ours / base, 1),
                "n_windows": n_fast,
                "equal": equal,
            }
        )
    return rows

"""Time-domain features: hand-computed values and shapes."""

from __future__ import annotations

import numpy as np
import pytest

from myovox.features import time_domain as td

X1 = np.array([1.0, -2.0, 3.0, 3.0, -1.0, 0.5])


def test_simple_values():
    assert td.mav(X1) == pytest.approx(10.5 / 6)
    assert td.rms(X1) == pytest.approx(np.sqrt((1 + 4 + 9 + 9 + 1 + 0.25) / 6))
    assert td.wl(X1) == pytest.approx(3 + 5 + 0 + 4 + 1.5)
    assert td.iemg(X1) == pytest.approx(10.5)
    assert td.aac(X1) == pytest.approx(13.5 / 6)
    assert td.maximum(X1) == 3.0 and td.minimum(X1) == -2.0
    assert td.var(X1) == pytest.approx(np.var(X1)) and td.std(X1) == pytest.approx(np.std(X1))


def test_zero_crossings_and_threshold():
    assert td.zc(X1) == 4  # 1|-2, -2|3, 3|-1, -1|0.5
    assert td.zc(X1, threshold=3.0) == 3  # |diff| 3, 5, 4, 1.5 -> the last is below 3
    assert td.sign_changes(np.array([1.0, 0.0, -1.0])) == 2  # a step to/from exact 0 counts
    assert td.zc(np.array([1.0, 0.0, -1.0])) == 0
    assert td.sign_changes(X1) == td.zc(X1)


def test_slope_sign_changes_and_wamp():
    # peaks/troughs at -2 (i=1), 3..3 plateau (no strict change), -1 (i=4)
    assert td.ssc(X1) == 2
    assert td.ssc(X1, threshold=10.0) == 1  # (-2-1)*(-2-3)=15 > 10, (-1-3)*(-1-0.5)=6 is not
    assert td.wamp(X1, 4.0) == 2  # |diffs| = 3, 5, 0, 4, 1.5


def test_hjorth_on_sine():
    fs, f = 1000.0, 10.0
    x = np.sin(2 * np.pi * f * np.arange(2000) / fs)
    assert td.hjorth_mobility(x) == pytest.approx(2 * np.pi * f / fs, rel=1e-3)
    assert td.hjorth_complexity(x) == pytest.approx(1.0, rel=1e-2)
    assert td.hjorth_mobility(np.ones(10)) == 0 and td.hjorth_complexity(np.ones(10)) == 0
    assert td.hjorth_activity(x) == pytest.approx(0.5, rel=1e-3)


def test_vectorised_shapes_and_quantiles():
    X = np.random.default_rng(0).standard_normal((4, 3, 51))
    for fn in (td.mav, td.rms, td.wl, td.zc, td.ssc, td.var, td.dasdv, td.log_detector):
        out = fn(X)
        assert out.shape == (4, 3)
        assert out[2, 1] == pytest.approx(fn(X[2, 1]))
    for q in (0.0, 0.25, 0.5, 0.75, 1.0):
        np.testing.assert_allclose(td.quantile(X, q), np.quantile(X, q, axis=-1), rtol=1e-12, atol=1e-15)

"""Feature sets: vectorised == loop reference, names, sub-windows, errors."""

from __future__ import annotations

import numpy as np
import pytest

from myovox import Windows
from myovox.exceptions import ValidationError
from myovox.features import FEATURE_SETS, compute_features, feature_names, split_subwindows
from myovox.features._reference import classic_features_loop, rf_features_loop


def _X(n_win=3, n_ch=2, n=700, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_win, n_ch, n)) * 50 + rng.standard_normal((n_win, n_ch, 1)) * 5


def test_rf_set_size():
    assert len(FEATURE_SETS["silentwear_rf"]) == 24
    assert len(feature_names("silentwear_rf", 14)) == 2352
    assert compute_features(_X(2, 14, 700), 500.0, "silentwear_rf").shape == (2, 2352)


@pytest.mark.parametrize(("n", "fs"), [(700, 500.0), (400, 500.0), (200, 500.0), (1400, 1000.0)])
def test_rf_vectorised_equals_loop(n, fs):
    X = _X(n=n, seed=n)
    fast = compute_features(X, fs, "silentwear_rf")
    slow = rf_features_loop(X, fs)
    assert fast.shape == slow.shape
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-9)


def test_classic_vectorised_equals_loop():
    X = _X(n=300)
    np.testing.assert_allclose(compute_features(X, 500.0, "classic"), classic_features_loop(X), rtol=1e-10)
    assert compute_features(X, 500.0, "hudgins").shape == (3, 2 * 4)
    assert compute_features(X, 500.0, "extended").shape == (3, 2 * len(FEATURE_SETS["extended"]))


def test_names_order_channel_major():
    names = feature_names("silentwear_rf", ["A", "B"])
    assert names[:2] == ["rms_1_A", "max_1_A"] and names[24] == "rms_2_A" and names[7 * 24] == "rms_1_B"
    assert feature_names("hudgins", ["A", "B"]) == ["mav_A", "wl_A", "zc_A", "ssc_A", "mav_B", "wl_B", "zc_B", "ssc_B"]
    X = _X()
    F = compute_features(X, 500.0, "silentwear_rf")
    # column of "mean" of sub-window 3 of channel B is the mean of samples 200..299 of channel 1
    j = feature_names("silentwear_rf", ["A", "B"]).index("mean_3_B")
    np.testing.assert_allclose(F[:, j], X[:, 1, 200:300].mean(axis=-1))


def test_subwindows_contiguous_equal_no_overlap_remainder_dropped():
    X = np.repeat(np.arange(1.0, 8.0), 10)[None, None, :]  # 7 blocks of 10 constant samples
    X = np.concatenate([X, np.full((1, 1, 3), 99.0)], axis=-1)  # 73 samples: 3 left over
    S = split_subwindows(X, 7)
    assert S.shape == (1, 1, 7, 10)
    F = compute_features(X, 500.0, ["mean", "max", "min"], n_subwindows=7)
    np.testing.assert_array_equal(F[0, 0::3], np.arange(1.0, 8.0))  # each sub-window sees only its block
    np.testing.assert_array_equal(F[0, 1::3], np.arange(1.0, 8.0))
    with pytest.raises(ValidationError, match="too short"):
        split_subwindows(np.zeros((1, 1, 10)), 7)


def test_windows_input_and_errors():
    w = Windows(_X(), np.zeros(3, int), 500.0)
    np.testing.assert_array_equal(compute_features(w, 500.0), compute_features(w.X, 500.0))
    with pytest.raises(ValidationError, match="Did you mean 'classic'"):
        compute_features(w.X, 500.0, "clasic")
    with pytest.raises(ValidationError, match="Did you mean 'rms'"):
        compute_features(w.X, 500.0, ["rmss"])
    with pytest.raises(ValidationError, match="n_windows, n_channels, n_samples"):
        compute_features(w.X[0], 500.0)

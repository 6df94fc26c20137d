"""Welch features (own batched Welch == scipy) and wavelet features (== pywt)."""

from __future__ import annotations

import numpy as np
import pytest
import pywt
from scipy import signal

from myovox.features import spectral as sp
from myovox.features import wavelet as wv


@pytest.mark.parametrize(("n", "nperseg"), [(100, 100), (101, 100), (57, 100), (700, 100), (71, 71), (250, 64)])
def test_welch_equals_scipy(n, nperseg):
    X = np.random.default_rng(n).standard_normal((3, 2, n)) + 5.0
    f, P = sp.welch_psd(X, 500.0, nperseg)
    f2, P2 = signal.welch(X, 500.0, nperseg=min(nperseg, n), axis=-1)
    np.testing.assert_allclose(f, f2)
    np.testing.assert_allclose(P, P2, rtol=1e-10, atol=1e-14)


def test_peak_mean_median_frequency_of_sine():
    fs = 500.0
    t = np.arange(1000) / fs
    x = np.sin(2 * np.pi * 60.0 * t)
    assert sp.peak_frequency(x, fs) == pytest.approx(60.0)
    assert sp.mean_frequency(x, fs) == pytest.approx(60.0, abs=2.0)
    assert sp.median_frequency(x, fs) == pytest.approx(60.0, abs=5.0)
    assert sp.spectral_moment(x, fs, 2) == pytest.approx(sp.total_power(x, fs) * 3600, rel=0.05)
    assert sp.mean_power(x, fs) == pytest.approx(sp.total_power(x, fs) / 51)


def test_band_ratio_scales_with_sampling_rate():
    for fs in (500.0, 1000.0, 2000.0):
        t = np.arange(int(fs)) / fs
        low = np.sin(2 * np.pi * 0.15 * fs * t)  # below fs/4
        high = np.sin(2 * np.pi * 0.40 * fs * t)  # above fs/4
        assert sp.band_power_ratio(low, fs) > 100
        assert sp.band_power_ratio(high, fs) < 0.01
    assert sp.band_power_ratio(np.zeros(200), 500.0) == 0.0
    assert sp.mean_frequency(np.zeros(200), 500.0) == 0.0


def test_wavelet_bands_equal_pywt():
    X = np.random.default_rng(1).standard_normal((2, 3, 100))
    coeffs = pywt.wavedec(X[1, 2], "db4", level=3)
    for i, band in enumerate(wv.BANDS):
        assert wv.wavelet_band_mean(X, band)[1, 2] == pytest.approx(np.mean(coeffs[i]))
        assert wv.wavelet_band_std(X, band)[1, 2] == pytest.approx(np.std(coeffs[i]))
    with pytest.raises(ValueError, match="cD4"):
        wv.wavelet_band_mean(X, "cD4")

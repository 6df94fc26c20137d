"""Discrete-wavelet features (PyWavelets), vectorised over windows and channels.

SilentWear: ``db4``, 3 levels, mean and standard deviation of each coefficient band
(cA3, cD3, cD2, cD1). PyWavelets' default signal extension ("symmetric") is used. When a
sub-window is too short for 3 clean levels (fewer than 56 samples for db4) PyWavelets still
decomposes it but warns of boundary effects; that warning is silenced here (the features are
still defined and deterministic).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["BANDS", "wavedec", "wavelet_band_mean", "wavelet_band_std"]

#: Band names in ``pywt.wavedec`` order for level 3.
BANDS = ("cA3", "cD3", "cD2", "cD1")


def wavedec(X: np.ndarray, wavelet: str = "db4", level: int = 3) -> list[np.ndarray]:
    """``pywt.wavedec`` along the last axis: ``[cA_level, cD_level, ..., cD1]``."""
    import pywt

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*boundary effects.*")
        return pywt.wavedec(np.asarray(X, dtype=np.float64), wavelet, level=level, axis=-1)


def _band(X: np.ndarray, band: str, wavelet: str, level: int) -> np.ndarray:
    names = [f"cA{level}"] + [f"cD{k}" for k in range(level, 0, -1)]
    if band not in names:
        from .._checks import check_option

        check_option("band", band, names)
    return wavedec(X, wavelet, level)[names.index(band)]


def wavelet_band_mean(X: np.ndarray, band: str = "cA3", wavelet: str = "db4", level: int = 3) -> np.ndarray:
    """Mean of one coefficient band (e.g. ``"cD2"``)."""
    return _band(X, band, wavelet, level).mean(axis=-1)


def wavelet_band_std(X: np.ndarray, band: str = "cA3", wavelet: str = "db4", level: int = 3) -> np.ndarray:
    """Standard deviation (ddof=0) of one coefficient band."""
    return _band(X, band, wavelet, level).std(axis=-1)

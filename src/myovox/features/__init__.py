"""EMG features: one pure function per feature, named sets as data, a scikit-learn transformer.

``compute_features(X, sfreq, feature_set)`` is vectorised over windows, channels and sub-windows.
``FeatureExtractor`` (loads scikit-learn) wraps it for pipelines.
"""

from __future__ import annotations

from typing import Any

from . import spectral, time_domain, wavelet
from .sets import FEATURE_SETS, FEATURES, SUBWINDOWS, compute_features, feature_names, split_subwindows
from .spectral import (
    band_power_ratio,
    mean_frequency,
    mean_power,
    median_frequency,
    peak_frequency,
    spectral_moment,
    total_power,
    welch_psd,
)
from .time_domain import (
    aac,
    dasdv,
    hjorth_activity,
    hjorth_complexity,
    hjorth_mobility,
    iemg,
    log_detector,
    mav,
    maximum,
    mean,
    minimum,
    quantile,
    rms,
    sign_changes,
    ssc,
    std,
    var,
    wamp,
    wl,
    zc,
)
from .wavelet import wavedec, wavelet_band_mean, wavelet_band_std

__all__ = [
    "FEATURES",
    "FEATURE_SETS",
    "SUBWINDOWS",
    "FeatureExtractor",
    "aac",
    "band_power_ratio",
    "compute_features",
    "dasdv",
    "feature_names",
    "hjorth_activity",
    "hjorth_complexity",
    "hjorth_mobility",
    "iemg",
    "log_detector",
    "mav",
    "maximum",
    "mean",
    "mean_frequency",
    "mean_power",
    "median_frequency",
    "minimum",
    "peak_frequency",
    "quantile",
    "rms",
    "sign_changes",
    "spectral",
    "spectral_moment",
    "split_subwindows",
    "ssc",
    "std",
    "time_domain",
    "total_power",
    "var",
    "wamp",
    "wavedec",
    "wavelet",
    "wavelet_band_mean",
    "wavelet_band_std",
    "welch_psd",
    "wl",
    "zc",
]


def __getattr__(name: str) -> Any:
    if name == "FeatureExtractor":  # imports scikit-learn
        from .transformer import FeatureExtractor

        return FeatureExtractor
    raise AttributeError(f"module 'myovox.features' has no attribute {name!r}")

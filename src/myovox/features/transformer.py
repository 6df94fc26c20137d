"""``FeatureExtractor``: a scikit-learn transformer from windows (3-D) to feature vectors (2-D).

This module imports scikit-learn; ``myovox.features`` loads it only when ``FeatureExtractor`` is used.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..exceptions import ValidationError
from .sets import _check_X, _resolve, compute_features, feature_names

__all__ = ["FeatureExtractor"]


class FeatureExtractor(TransformerMixin, BaseEstimator):
    """Turn windows ``(n_windows, n_channels, n_samples)`` into features ``(n_windows, n_features)``.

    Parameters
    ----------
    feature_set : str | list of str
        A name of :data:`myovox.features.FEATURE_SETS` (``"classic"``, ``"hudgins"``,
        ``"silentwear_rf"``, ``"extended"``) or a list of feature names.
    sfreq : float
        Sampling rate in Hz.
    n_subwindows : int | None
        Override the set's number of sub-windows.
    ch_names : list of str | None
        Channel names for :meth:`get_feature_names_out` (default ``Ch_0..``).

    Notes
    -----
    Stateless: ``fit`` only checks the input and records its shape (``n_channels_``,
    ``n_samples_``, ``n_features_out_``). ``X`` may also be a :class:`myovox.Windows`.
    """

    def __init__(self, feature_set: str | Sequence[str] = "classic", sfreq: float = 500.0,
                 n_subwindows: int | None = None, ch_names: Sequence[str] | None = None) -> None:
        self.feature_set = feature_set
        self.sfreq = sfreq
        self.n_subwindows = n_subwindows
        self.ch_names = ch_names

    def fit(self, X: Any, y: Any = None) -> "FeatureExtractor":
        """Check the parameters and the input; returns self."""
        X = _check_X(X)
        names, _ = _resolve(self.feature_set, self.n_subwindows)
        if self.ch_names is not None and len(self.ch_names) != X.shape[1]:
            raise ValidationError(
                f"FeatureExtractor: {len(self.ch_names)} ch_names for {X.shape[1]} channels in X.")
        self.n_channels_ = X.shape[1]
        self.n_samples_ = X.shape[2]
        self.n_features_out_ = len(self.get_feature_names_out())
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Features of each window, float64 (n_windows, n_features)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_channels_")
        X = _check_X(X)
        if X.shape[1] != self.n_channels_:
            raise ValidationError(
                f"FeatureExtractor was fitted on {self.n_channels_} channels, got {X.shape[1]}.")
        return compute_features(X, self.sfreq, self.feature_set, n_subwindows=self.n_subwindows)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_channels_")
        chs = list(self.ch_names) if self.ch_names is not None else self.n_channels_
        return np.asarray(feature_names(self.feature_set, chs, n_subwindows=self.n_subwindows), dtype=object)

    def __sklearn_tags__(self):  # 3-D input, stateless
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags

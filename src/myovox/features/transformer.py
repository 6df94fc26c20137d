"""``FeatureExtractor``: a scikit-learn transformer from windows (3-D) to feature vectors (2-D).

This module imports scikit-learn; ``myovox.features`` loads it only when ``FeatureExtractor`` is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .._checks import check_positive
from ..exceptions import ValidationError
from .sets import _resolve, compute_features, feature_names

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

    Attributes
    ----------
    n_channels_, n_samples_ : int
        Window shape seen in ``fit``.
    n_features_in_ : int
        ``X.shape[1]`` seen in ``fit`` (scikit-learn's convention): the channel count of 3-D
        windows, the window length of single-channel 2-D ones.
    n_features_out_ : int
        Number of output columns.

    Notes
    -----
    ``fit`` learns nothing from the data: it checks the parameters and the input and records
    its shape, which ``transform`` then requires (the same channels; for 2-D input, the same
    window length) and :meth:`get_feature_names_out` uses. It must be fitted first, as any
    scikit-learn transformer (``requires_fit``); :func:`myovox.features.compute_features` computes
    features without an estimator. ``X`` is windows ``(n_windows, n_channels, n_samples)``, a
    2-D ``(n_windows, n_samples)`` array (windows of one channel) or a :class:`myovox.Windows`.
    scikit-learn's estimator checks run on this class (``tests/unit/features/test_transformer.py``).
    """

    def __init__(
        self,
        feature_set: str | Sequence[str] = "classic",
        sfreq: float = 500.0,
        n_subwindows: int | None = None,
        ch_names: Sequence[str] | None = None,
    ) -> None:
        self.feature_set = feature_set
        self.sfreq = sfreq
        self.n_subwindows = n_subwindows
        self.ch_names = ch_names

    def _validate(self, X: Any, *, fitted: bool) -> tuple[np.ndarray, int, bool]:
        """``(windows as float64 3-D, X.shape[1] as given, X was 2-D)``; scikit-learn's input checks and messages."""
        from sklearn.utils.validation import check_array

        X = getattr(X, "X", X)  # a myovox Windows
        try:
            X = check_array(X, dtype=np.float64, allow_nd=True, ensure_min_samples=1, ensure_min_features=1)
        except ValueError as err:
            raise ValidationError(f"FeatureExtractor: {err}") from err
        if X.ndim not in (2, 3):
            raise ValidationError(
                f"Features need X shaped (n_windows, n_channels, n_samples) (or (n_windows, "
                f"n_samples) for one channel), got {X.shape}."
            )
        shape1 = X.shape[1]
        if (
            fitted
            and X.ndim == 2
            and self.n_channels_ == 1
            and self.n_features_in_ == self.n_samples_
            and shape1 != self.n_features_in_
        ):
            raise ValidationError(
                f"X has {shape1} features, but FeatureExtractor is expecting "
                f"{self.n_features_in_} features as input (windows of one channel)."
            )
        return (X[:, None, :] if X.ndim == 2 else X), shape1, X.ndim == 2

    def fit(self, X: Any, y: Any = None) -> FeatureExtractor:
        """Check the parameters and the input and record its shape; returns self."""
        X, shape1, two_d = self._validate(X, fitted=False)
        _resolve(self.feature_set, self.n_subwindows)
        sfreq = check_positive("sfreq", self.sfreq, "sampling rate in Hz")
        if self.ch_names is not None and len(self.ch_names) != X.shape[1]:
            raise ValidationError(f"FeatureExtractor: {len(self.ch_names)} ch_names for {X.shape[1]} channels in X.")
        if X.shape[2] < 2:
            got = f"X has {shape1} feature(s): windows of" if two_d else "windows of"
            raise ValidationError(
                f"FeatureExtractor: {got} {X.shape[2]} sample(s) are too short for features (at "
                "least 2 samples needed)."
            )
        compute_features(X[:1], sfreq, self.feature_set, n_subwindows=self.n_subwindows)  # windows long enough
        self.n_channels_ = X.shape[1]
        self.n_samples_ = X.shape[2]
        self.n_features_in_ = shape1
        self.n_features_out_ = len(self.get_feature_names_out())
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Features of each window, float64 (n_windows, n_features)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_channels_")
        X, _, _ = self._validate(X, fitted=True)
        if X.shape[1] != self.n_channels_:
            raise ValidationError(f"FeatureExtractor was fitted on {self.n_channels_} channels, got {X.shape[1]}.")
        return compute_features(X, self.sfreq, self.feature_set, n_subwindows=self.n_subwindows)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_channels_")
        chs = list(self.ch_names) if self.ch_names is not None else self.n_channels_
        return np.asarray(feature_names(self.feature_set, chs, n_subwindows=self.n_subwindows), dtype=object)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]  # sklearn.utils.Tags (scikit-learn >= 1.6)
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # windows (n_windows, n_channels, n_samples)
        tags.input_tags.two_d_array = True  # (n_windows, n_samples): windows of one channel
        return tags

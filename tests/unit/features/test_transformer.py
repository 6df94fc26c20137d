"""FeatureExtractor: a scikit-learn transformer for 3-D windows."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from myovox.exceptions import ValidationError  # noqa: E402
from myovox.features import FeatureExtractor, compute_features  # noqa: E402


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.standard_normal((n, 3, 140)) * (1 + 2 * y)[:, None, None]  # class 1 has more power
    return X, y


def test_params_clone_and_fit_returns_self():
    fe = FeatureExtractor("hudgins", sfreq=1000.0, ch_names=["a", "b", "c"])
    assert fe.get_params() == {"feature_set": "hudgins", "sfreq": 1000.0, "n_subwindows": None,
                               "ch_names": ["a", "b", "c"]}
    c = clone(fe)
    assert c is not fe and c.get_params() == fe.get_params()
    X, y = _data()
    assert fe.fit(X, y) is fe
    assert fe.get_feature_names_out()[:2].tolist() == ["mav_a", "wl_a"]
    np.testing.assert_array_equal(fe.transform(X), compute_features(X, 1000.0, "hudgins"))
    assert fe.n_features_out_ == 12


def test_in_pipeline_cross_validation():
    X, y = _data()
    pipe = make_pipeline(FeatureExtractor("classic", 500.0), StandardScaler(), LogisticRegression())
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.9


def test_errors():
    X, _ = _data()
    with pytest.raises(NotFittedError):
        FeatureExtractor().transform(X)
    fe = FeatureExtractor().fit(X)
    with pytest.raises(ValidationError, match="3 channels"):
        fe.transform(X[:, :2])
    with pytest.raises(ValidationError, match="Unknown feature set"):
        FeatureExtractor("nope").fit(X)

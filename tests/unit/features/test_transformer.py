"""FeatureExtractor: a scikit-learn transformer for 3-D windows."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from myovox.exceptions import ValidationError
from myovox.features import FeatureExtractor, compute_features


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.standard_normal((n, 3, 140)) * (1 + 2 * y)[:, None, None]  # class 1 has more power
    return X, y


def test_params_clone_and_fit_returns_self():
    fe = FeatureExtractor("hudgins", sfreq=1000.0, ch_names=["a", "b", "c"])
    assert fe.get_params() == {
        "feature_set": "hudgins",
        "sfreq": 1000.0,
        "n_subwindows": None,
        "ch_names": ["a", "b", "c"],
    }
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


def test_fit_is_required_and_declared():
    # fit records the window shape that transform and get_feature_names_out use: requires_fit, as
    # any scikit-learn transformer (compute_features needs no estimator)
    from sklearn.utils import get_tags

    X, _ = _data()
    tags = get_tags(FeatureExtractor())
    assert tags.requires_fit and tags.input_tags.three_d_array and tags.input_tags.two_d_array
    with pytest.raises(NotFittedError):
        FeatureExtractor().get_feature_names_out()
    fe = FeatureExtractor("hudgins", 500.0).fit(X)
    assert (fe.n_features_in_, fe.n_channels_, fe.n_samples_) == (3, 3, 140)


def test_two_d_input_is_one_channel():
    X, _ = _data()
    fe = FeatureExtractor("hudgins", 500.0).fit(X[:, 0])
    assert fe.n_features_in_ == 140 and fe.n_channels_ == 1
    np.testing.assert_array_equal(fe.transform(X[:, 0]), compute_features(X[:, :1], 500.0, "hudgins"))
    with pytest.raises(ValidationError, match="X has 139 features, but FeatureExtractor is expecting 140"):
        fe.transform(X[:, 0, :139])


# scikit-learn's estimator checks (2-D check data: windows of one channel of 1-10 samples); none is
# expected to fail
@parametrize_with_checks([FeatureExtractor("classic", sfreq=500.0), FeatureExtractor("hudgins", sfreq=1000.0)])
def test_sklearn_compatible_transformer(estimator, check):
    check(estimator)

"""scikit-learn's estimator checks on myovox's estimators (issue 11, item 3).

Every check scikit-learn yields runs here; the ones that cannot apply are listed with the
reason in ``expected_failed_checks`` (with scikit-learn >= 1.8, a listed check that starts
passing fails the test, so the lists stay true). ``FeatureExtractor``'s checks are in ``tests/unit/features``.

The estimators take windows ``(n_windows, n_channels, n_times)`` and, as windows of one
channel, 2-D ``(n_windows, n_times)`` arrays; scikit-learn's check data are 2-D, with 1 to 10
columns, so they run as windows of one channel of 1 to 10 samples:

* ``SpeechNetClassifier`` is checked with a one-block network (temporal kernel 3, no pooling,
  3 epochs): the default architecture pools time 128-fold and needs windows of >= 128 samples.
  No check is expected to fail.
* the classical pipelines (:func:`myovox.models.make_classical`) are scikit-learn ``Pipeline``
  objects whose first step is ``FeatureExtractor``; ``"rf"`` is checked with one sub-window
  (its SilentWear feature set splits each window into 7 sub-windows of >= 2 samples). The
  checks that fail are scikit-learn's own behaviour (``Pipeline``, LDA's ``lsqr`` solver,
  ``CalibratedClassifierCV``) or the nature of EMG features of a tabular row.
"""

from __future__ import annotations

import warnings

import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.utils.fixes import parse_version  # noqa: E402

if parse_version(sklearn.__version__) < parse_version("1.6"):
    pytest.skip("expected_failed_checks needs scikit-learn >= 1.6", allow_module_level=True)

import contextlib  # noqa: E402
import inspect  # noqa: E402

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from myovox.models.classical import make_classical  # noqa: E402

_PIPELINE = {
    "check_estimators_overwrite_params": "sklearn's Pipeline fits its steps in place (its own Pipeline fails this "
    "check too)",
    "check_dont_overwrite_parameters": "sklearn's Pipeline fits its steps in place (the 'steps' parameter holds "
    "fitted estimators afterwards)",
}
_TABULAR = (
    "EMG features (MAV, WL, ZC, ...) of a tabular row taken as a window do not keep which column is which: "
    "sklearn's blob data are not separable by them (accuracy <= 0.83)"
)
_LDA_TRANSFORM = (
    "LinearDiscriminantAnalysis(solver='lsqr') raises NotImplementedError in transform, which the "
    "pipeline exposes as its last step's"
)


def _classical(name: str):
    pipe = make_classical(name, sfreq=500.0, random_state=0)
    if name == "rf":
        pipe.set_params(features__n_subwindows=1, clf__n_estimators=10)  # fast checks
    return pipe


_EXPECTED = {
    "rf": dict(_PIPELINE),
    "lda": {
        **_PIPELINE,
        "check_classifiers_train": _TABULAR,
        **dict.fromkeys(
            (
                "check_transformer_data_not_an_array",
                "check_transformer_general",
                "check_transformer_preserve_dtypes",
                "check_methods_sample_order_invariance",
                "check_methods_subset_invariance",
                "check_dict_unchanged",
                "check_fit_idempotent",
                "check_fit_score_takes_y",
                "check_estimators_dtypes",
                "check_dtype_object",
                "check_pipeline_consistency",
                "check_estimators_pickle",
                "check_f_contiguous_array_estimator",
            ),
            _LDA_TRANSFORM,
        ),
        "check_classifiers_one_label": "sklearn's LinearDiscriminantAnalysis(solver='lsqr', shrinkage='auto') "
        "raises IndexError on a single class instead of saying so",
    },
    "svm": {
        **_PIPELINE,
        "check_classifiers_train": _TABULAR,
        "check_supervised_y_2d": "sklearn's CalibratedClassifierCV(ensemble=False) fails on a column-vector y "
        "(IndexError in cross_val_predict); a 1-D y works",
    },
}


def _speechnet():
    torch = pytest.importorskip("torch")  # noqa: F841
    from myovox.models.neural import SpeechNetClassifier

    return SpeechNetClassifier(
        n_epochs=3,
        batch_size=16,
        lr=1e-2,
        valid_size=0,
        n_threads=1,
        random_state=0,
        net_params=dict(temporal_filters=(8,), temporal_kernels=(3,), pools=(1,), spatial_filters=(8,), dropout=0.0),
    )


def _expected(est) -> dict[str, str]:
    return _EXPECTED.get(getattr(est, "_myovox_name", ""), {})


# a listed check that passes fails the test (scikit-learn >= 1.8), so the lists stay true
_STRICT = {"xfail_strict": True} if "xfail_strict" in inspect.signature(parametrize_with_checks).parameters else {}
_ESTIMATORS = []
for _name in ("rf", "lda", "svm"):
    _est = _classical(_name)
    _est._myovox_name = _name  # type: ignore[attr-defined]  # picks its list of expected failures
    _ESTIMATORS.append(_est)
with contextlib.suppress(pytest.skip.Exception):  # without torch, the classical pipelines only
    _ESTIMATORS.insert(0, _speechnet())


@parametrize_with_checks(_ESTIMATORS, expected_failed_checks=_expected, **_STRICT)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. "No validation split" on tiny check data
        check(estimator)

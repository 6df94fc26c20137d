"""Classical baselines: scikit-learn pipelines on hand-crafted EMG features of 3-D windows.

Each pipeline starts with :class:`myovox.features.FeatureExtractor`, which turns windows
``(n_windows, n_channels, n_times)`` into feature vectors, so the pipelines take the same ``X``
as :class:`~myovox.models.neural.SpeechNetClassifier`.
"""

from __future__ import annotations

from typing import Any

from .._checks import check_option, check_positive

__all__ = ["CLASSICAL_MODELS", "make_classical"]

#: name -> (feature set, one-line description)
CLASSICAL_MODELS: dict[str, tuple[str, str]] = {
    "rf": ("silentwear_rf", "SilentWear's random-forest features + RandomForestClassifier(100 trees)"),
    "lda": ("classic", "classic EMG features + StandardScaler + LDA (lsqr, automatic shrinkage)"),
    "svm": ("classic", "classic EMG features + StandardScaler + SVC (RBF, balanced classes), calibrated probabilities"),
}


def _feature_extractor(feature_set: str, sfreq: float) -> Any:
    try:
        from ..features import FeatureExtractor
    except ImportError as err:  # the features package is younger than this module
        raise ImportError(f"myovox.features.FeatureExtractor is needed for classical models ({err}).") from err
    return FeatureExtractor(feature_set=feature_set, sfreq=sfreq)


def make_classical(name: str, *, sfreq: float, random_state: Any = None, n_jobs: int = 1, **params: Any) -> Any:
    """Build an unfitted classical pipeline.

    Parameters
    ----------
    name : {"rf", "lda", "svm"}
        Which baseline.
    sfreq : float
        Sampling rate of the windows in Hz (spectral features need it).
    random_state : int | numpy.random.RandomState | None
        Seed of the random forest / the SVC (scikit-learn's convention).
    n_jobs : int
        Parallel jobs of the random forest.
    **params
        Parameters of the final estimator, e.g. ``n_estimators=200`` for ``"rf"`` or ``C=10`` for
        ``"svm"``; unknown names raise ``ValidationError`` (sklearn's ``set_params``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``features`` [``scaler``] ``clf``.
    """
    check_option("name", name, list(CLASSICAL_MODELS))
    sfreq = check_positive("sfreq", sfreq, "sampling rate in Hz")
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps: list[tuple[str, Any]] = [("features", _feature_extractor(CLASSICAL_MODELS[name][0], sfreq))]
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        clf = RandomForestClassifier(n_estimators=100, n_jobs=n_jobs, random_state=random_state)
    elif name == "lda":
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        clf = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")
    else:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        # probabilities by calibrating the decision function (SVC(probability=True) is deprecated)
        svc = SVC(kernel="rbf", class_weight="balanced", random_state=random_state)
        clf = CalibratedClassifierCV(svc, cv=3, ensemble=False)
    if name != "rf":
        steps.append(("scaler", StandardScaler()))
    steps.append(("clf", clf))
    pipe = Pipeline(steps)
    if params:
        from .._checks import did_you_mean
        from ..exceptions import ValidationError

        target = clf.estimator if name == "svm" else clf
        valid = target.get_params(deep=False)
        for key in params:
            if key not in valid:
                raise ValidationError(
                    f"Unknown parameter {key!r} for model {name!r} ({type(target).__name__}).{did_you_mean(key, valid)}"
                )
        target.set_params(**params)
    return pipe

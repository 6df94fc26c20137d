"""Models by name: ``make_model("speechnet" | "rf" | "lda" | "svm", sfreq=..., ...)``."""

from __future__ import annotations

import inspect
from typing import Any

from .._checks import check_option, did_you_mean
from ..exceptions import ValidationError

__all__ = ["MODELS", "make_model"]

#: model name -> one-line description
MODELS: dict[str, str] = {
    "speechnet": "SpeechNet CNN (PyTorch), SilentWear's training recipe",
    "rf": "random forest on SilentWear's features",
    "lda": "shrinkage LDA on classic EMG features",
    "svm": "RBF SVM on classic EMG features",
}


def make_model(
    name: str,
    *,
    sfreq: float,
    n_channels: int | None = None,
    n_times: int | None = None,
    random_state: Any = None,
    **params: Any,
) -> Any:
    """An unfitted estimator by name.

    Parameters
    ----------
    name : str
        One of :data:`MODELS`.
    sfreq : float
        Sampling rate of the windows in Hz.
    n_channels, n_times : int | None
        Window shape, when known (checked against the architecture for ``"speechnet"``; the
        estimators take the shape from the data in ``fit``).
    random_state : int | numpy.random.RandomState | None
        Seed (a ``RandomState`` is drawn from).
    **params
        Estimator parameters: those of :class:`~myovox.models.neural.SpeechNetClassifier` for
        ``"speechnet"`` (plus SpeechNet architecture names, collected into ``net_params``), of the
        final classifier for the classical ones. Unknown names raise ``ValidationError``.
    """
    check_option("name", name, list(MODELS))
    if name != "speechnet":
        from .classical import make_classical

        n_jobs = params.pop("n_jobs", 1)
        return make_classical(name, sfreq=sfreq, random_state=random_state, n_jobs=n_jobs, **params)
    from .neural import SpeechNetClassifier
    from .speechnet import SpeechNet

    est_keys = [
        k for k in inspect.signature(SpeechNetClassifier.__init__).parameters if k not in ("self", "random_state")
    ]
    net_keys = [
        k
        for k in inspect.signature(SpeechNet.__init__).parameters
        if k not in ("self", "n_channels", "n_times", "n_classes")
    ]
    est_params: dict[str, Any] = {}
    net_params: dict[str, Any] = dict(params.pop("net_params", None) or {})
    for key, value in params.items():
        if key in est_keys:
            est_params[key] = value
        elif key in net_keys:
            net_params[key] = value
        else:
            raise ValidationError(
                f"Unknown parameter {key!r} for model 'speechnet'.{did_you_mean(key, est_keys + net_keys)}"
            )
    if n_channels is not None and n_times is not None:
        SpeechNet(int(n_channels), int(n_times), 2, **net_params)  # raises for impossible shapes
    return SpeechNetClassifier(random_state=random_state, net_params=net_params or None, **est_params)

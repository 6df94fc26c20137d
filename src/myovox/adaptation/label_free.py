"""Label-free adaptation to a new session: unlabelled windows of the new day are all it needs.

Two remedies for the band put on again (issue 12), neither uses a label:

* ``"standardize"``: each session's windows are divided, channel by channel, by that session's
  own RMS (:func:`standardize_sessions`). Contact gains change from day to day; dividing them out
  on the training sessions and on the new one alike removes that part of the shift. Any model.
* ``"bn"``: the batch-norm running statistics of a trained network are re-estimated on the new
  session's windows (:func:`adapt`), so that its internal normalisation follows the new signal
  levels. Networks with batch norm only (SpeechNet).

Both are *transductive* when given the whole test session, or "first N minutes, then the rest"
when given only its beginning (the protocols do either; see :func:`myovox.evaluation.inter_session`).
"""

from __future__ import annotations

import copy as _copy
from typing import Any

import numpy as np

from .._checks import check_option
from ..exceptions import ValidationError
from ..windows import Windows

#: Label-free adaptation methods (``"none"``: the model as trained).
ADAPT_METHODS = ("none", "standardize", "bn")


def session_scale(X: np.ndarray) -> np.ndarray:
    """Per-channel RMS over all windows and samples of ``X`` (n_windows, n_channels, n_samples).

    Channels without signal get scale 1 (never a division by zero).
    """
    X = np.asarray(X)
    if X.ndim != 3 or len(X) == 0:
        raise ValidationError(f"Expected windows of shape (n_windows, n_channels, n_samples), got {X.shape}.")
    rms = np.sqrt(np.mean(np.square(X, dtype=np.float64), axis=(0, 2)))
    rms[~np.isfinite(rms) | (rms <= 0)] = 1.0
    return rms


def standardize_sessions(windows: Windows, by: str | None = "session") -> Windows:
    """``windows`` with each session's channels divided by that session's RMS (no labels used).

    Parameters
    ----------
    windows : Windows
    by : str | None
        Metadata column that names the session (None or absent: all windows are one session).

    Returns
    -------
    Windows
        A copy with float32 ``X``; labels and metadata unchanged.
    """
    X = np.array(windows.X, dtype=np.float32)
    groups = windows.meta.get(by) if by else None
    keys = [None] if groups is None else list(dict.fromkeys(np.asarray(groups).tolist()))
    for key in keys:
        idx = np.arange(len(X)) if key is None else np.flatnonzero(np.asarray(groups) == key)
        X[idx] /= session_scale(X[idx]).astype(np.float32)[None, :, None]
    return Windows(X, windows.y, windows.sfreq, windows.ch_names, windows.label_names, windows.groups, windows.meta)


def adapt(model: Any, X: Any, method: str = "bn", *, copy: bool = True) -> Any:
    """Adapt a trained model to a new session from its unlabelled windows ``X``.

    Parameters
    ----------
    model : estimator
        A fitted model; ``"bn"`` needs one with batch norm (SpeechNet).
    X : array, shape (n_windows, n_channels, n_samples)
        Windows of the new session, preprocessed as the model's training windows. No labels.
    method : {"bn", "standardize", "none"}
        ``"bn"``: re-estimate the batch-norm statistics on ``X``. ``"none"``: the model unchanged.
        ``"standardize"`` acts on the data, not the model (train and test with
        :func:`standardize_sessions`); passing it here is an error that says so.
    copy : bool
        Adapt a deep copy (default) and leave ``model`` as it was.

    Returns
    -------
    estimator
        The adapted model.
    """
    check_option("method", method, ADAPT_METHODS)
    if method == "none":
        return model
    if method == "standardize":
        raise ValidationError(
            "adapt(method='standardize') acts on the windows, not the model: standardise the training and "
            "the new session with standardize_sessions() (or pass adapt='standardize' to a protocol)."
        )
    if not hasattr(model, "_adapt_bn"):
        raise ValidationError(
            f"adapt(method='bn') needs a network with batch norm (speechnet); {type(model).__name__} has none. "
            "Use adapt='standardize', which works with any model."
        )
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3 or len(X) == 0:
        raise ValidationError(f"adapt(method='bn') needs windows of shape (n, channels, samples), got {X.shape}.")
    n_ch = getattr(model, "n_channels_in_", None)
    if n_ch is not None and X.shape[1] != n_ch:
        raise ValidationError(
            f"adapt: the new windows have {X.shape[1]} channels, the model was trained on {n_ch} "
            "(another channel layout?)."
        )
    out = _copy.deepcopy(model) if copy else model
    out.fine_tune(X, None, strategy="bn")
    return out


def predict_adapted(model: Any, windows: Windows, method: str, by: str | None = "session") -> np.ndarray:
    """Predictions for ``windows``, the model adapted to each session on that session's windows alone.

    With ``"standardize"`` the windows must already be standardised (the model was trained so);
    with ``"bn"`` a copy of the model is adapted per value of the ``by`` column (None or absent:
    to all windows at once); ``"none"`` predicts directly.
    """
    check_option("method", method, ADAPT_METHODS)
    if method != "bn":
        return np.asarray(model.predict(windows.X))
    groups = windows.meta.get(by) if by else None
    if groups is None:
        return np.asarray(adapt(model, windows.X, "bn").predict(windows.X))
    groups = np.asarray(groups)
    parts = []
    for key in dict.fromkeys(groups.tolist()):
        idx = np.flatnonzero(groups == key)
        parts.append((idx, np.asarray(adapt(model, windows.X[idx], "bn").predict(windows.X[idx]))))
    pred = np.empty(len(windows), dtype=parts[0][1].dtype)
    for idx, p in parts:
        pred[idx] = p
    return pred

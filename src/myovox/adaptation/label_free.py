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

#: Metadata columns that give the recording order within a session, first found wins
#: (:func:`first_part`); without any, the windows' own order.
ORDER_KEYS = ("batch", "trial", "rep")


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


def _session_index(windows: Windows, by: str | None) -> dict[Any, np.ndarray]:
    """Session value -> indices of its windows (one session ``None`` when ``by`` is None or absent)."""
    groups = windows.meta.get(by) if by else None
    if groups is None:
        return {None: np.arange(len(windows))}
    groups = np.asarray(groups)
    return {key: np.flatnonzero(groups == key) for key in dict.fromkeys(groups.tolist())}


def _reference_index(reference: Windows, by: str | None, key: Any, where: str) -> np.ndarray:
    idx = _session_index(reference, by).get(key)
    if idx is None or len(idx) == 0:
        raise ValidationError(f"{where}: no adaptation windows of {by} {key!r} (every test session needs some).")
    return idx


def standardize_sessions(windows: Windows, by: str | None = "session", reference: Windows | None = None) -> Windows:
    """``windows`` with each session's channels divided by that session's RMS (no labels used).

    Parameters
    ----------
    windows : Windows
    by : str | None
        Metadata column that names the session (None or absent: all windows are one session).
    reference : Windows | None
        Where each session's RMS is measured (e.g. the first minutes of it, :func:`first_part`);
        default: ``windows`` themselves (transductive).

    Returns
    -------
    Windows
        A copy with float32 ``X``; labels and metadata unchanged.
    """
    X = np.array(windows.X, dtype=np.float32)
    for key, idx in _session_index(windows, by).items():
        src = X[idx] if reference is None else reference.X[_reference_index(reference, by, key, "standardize")]
        X[idx] /= session_scale(src).astype(np.float32)[None, :, None]
    return Windows(X, windows.y, windows.sfreq, windows.ch_names, windows.label_names, windows.groups, windows.meta)


def first_part(windows: Windows, fraction: float, by: str | None = "session") -> tuple[np.ndarray, np.ndarray]:
    """Split each session into its first ``fraction`` of windows (to adapt on) and the rest (to test on).

    "First" is recording order: the first of :data:`ORDER_KEYS` found in the metadata (SilentWear's
    batches, a trial number), then the windows' own order. Every session keeps at least one window
    on each side.

    Returns
    -------
    first, rest : ndarray of int
        Indices into ``windows``.
    """
    fraction = float(fraction)
    if not 0.0 < fraction < 1.0:
        raise ValidationError(f"Invalid value for 'adapt_first': expected a fraction in (0, 1), got {fraction!r}.")
    key = next((k for k in ORDER_KEYS if k in windows.meta), None)
    first, rest = [], []
    for session, idx in _session_index(windows, by).items():
        if len(idx) < 2:
            raise ValidationError(
                f"adapt_first: {by} {session!r} has {len(idx)} window(s); it needs at least 2 "
                "(some to adapt on, the rest to test on)."
            )
        if key is not None:
            idx = idx[np.argsort(np.asarray(windows.meta[key])[idx], kind="stable")]
        n = min(len(idx) - 1, max(1, int(round(fraction * len(idx)))))
        first.append(idx[:n])
        rest.append(idx[n:])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(rest))


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


def predict_adapted(
    model: Any, windows: Windows, method: str, by: str | None = "session", reference: Windows | None = None
) -> np.ndarray:
    """Predictions for ``windows``, the model adapted to each session on that session's windows alone.

    With ``"standardize"`` the windows must already be standardised (the model was trained so);
    with ``"bn"`` a copy of the model is adapted per value of the ``by`` column (None or absent:
    to all windows at once) on that session's windows of ``reference`` (default: ``windows``
    themselves); ``"none"`` predicts directly.
    """
    check_option("method", method, ADAPT_METHODS)
    if method != "bn":
        return np.asarray(model.predict(windows.X))
    parts = []
    for key, idx in _session_index(windows, by).items():
        src = windows.X[idx] if reference is None else reference.X[_reference_index(reference, by, key, "bn")]
        parts.append((idx, np.asarray(adapt(model, src, "bn").predict(windows.X[idx]))))
    pred = np.empty(len(windows), dtype=parts[0][1].dtype)
    for idx, p in parts:
        pred[idx] = p
    return pred

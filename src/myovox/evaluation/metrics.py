"""Classification metrics of the reference protocols (numpy only), the Wolpaw ITR and summaries.

All metrics take integer labels. ``labels`` fixes the class set (the dataset's classes), so a
fold whose test set lacks a class still yields a confusion matrix of the full size; balanced
accuracy averages the recall over the classes *present in y_true* (as scikit-learn does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..exceptions import ValidationError


def _check_pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(y_true).ravel()
    pred = np.asarray(y_pred).ravel()
    if true.shape != pred.shape:
        raise ValidationError(f"y_true and y_pred must have the same length, got {true.size} and {pred.size}.")
    if true.size == 0:
        raise ValidationError("Cannot score an empty set of predictions (y_true is empty).")
    return true, pred


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[int] | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of windows of class ``labels[i]`` predicted as ``labels[j]``.

    Parameters
    ----------
    y_true, y_pred : array-like of int
    labels : sequence of int | None
        Row/column order; default the sorted union of both. Predictions outside ``labels`` are
        not counted (they still lower accuracy).
    """
    true, pred = _check_pair(y_true, y_pred)
    labs = np.union1d(true, pred) if labels is None else np.asarray(list(labels))
    index = {int(v): i for i, v in enumerate(labs)}
    cm = np.zeros((len(labs), len(labs)), dtype=np.int64)
    for t, p in zip(true.tolist(), pred.tolist(), strict=False):
        i, j = index.get(int(t)), index.get(int(p))
        if i is not None and j is not None:
            cm[i, j] += 1
    return cm


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of correct predictions."""
    true, pred = _check_pair(y_true, y_pred)
    return float(np.mean(true == pred))


def balanced_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean recall over the classes present in ``y_true`` (the reference's headline metric)."""
    true, pred = _check_pair(y_true, y_pred)
    recalls = [np.mean(pred[true == c] == c) for c in np.unique(true)]
    return float(np.mean(recalls))


def macro_f1(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[int] | None = None) -> float:
    """Unweighted mean F1 over ``labels`` (default: classes in y_true or y_pred); 0 where undefined."""
    true, pred = _check_pair(y_true, y_pred)
    labs = np.union1d(true, pred) if labels is None else np.asarray(list(labels))
    f1s = []
    for c in labs:
        tp = np.sum((pred == c) & (true == c))
        fp = np.sum((pred == c) & (true != c))
        fn = np.sum((pred != c) & (true == c))
        denom = 2 * tp + fp + fn
        f1s.append(0.0 if denom == 0 else 2 * tp / denom)
    return float(np.mean(f1s))


def itr_wolpaw(p: float, n_classes: int, window_s: float) -> float:
    """Information transfer rate after Wolpaw et al., in bit/min.

    ``ITR = 60 / T * [log2 M + P log2 P + (1 - P) log2((1 - P) / (M - 1))]`` with ``M`` classes,
    ``T`` seconds per selection (the window length) and accuracy ``P``. ``P`` is clipped to
    ``[0, 1]``; at or below chance (``P <= 1/M``) the rate is 0 (the formula is not meant for
    below-chance accuracy, where it would rise again); ``P = 1`` gives ``60/T log2 M``.
    """
    if not isinstance(n_classes, (int, np.integer)) or isinstance(n_classes, bool) or n_classes < 2:
        raise ValidationError(f"Invalid value for 'n_classes': expected an integer >= 2, got {n_classes!r}.")
    if not (isinstance(window_s, (int, float, np.floating, np.integer)) and window_s > 0):
        raise ValidationError(f"Invalid value for 'window_s': expected a positive number of seconds, got {window_s!r}.")
    p = float(p)
    if not math.isfinite(p):
        raise ValidationError(f"Invalid value for 'p': expected an accuracy in [0, 1], got {p!r}.")
    m = int(n_classes)
    p = min(max(p, 0.0), 1.0)
    if p <= 1.0 / m:
        return 0.0
    bits = math.log2(m) + p * math.log2(p)
    if p < 1.0:
        bits += (1.0 - p) * math.log2((1.0 - p) / (m - 1))
    return float(60.0 / float(window_s) * bits)


def summarize(per_subject_means: Mapping[str, float] | Sequence[float], ddof: int = 0) -> tuple[float, float]:
    """Mean and standard deviation over subjects of their per-subject means.

    The reference reports ``mean ± std`` across its 4 subjects with numpy's default population
    standard deviation, so ``ddof=0`` is the default here (pass ``ddof=1`` for the sample std).
    NaN entries (a subject without a score) are ignored. One subject gives std 0.
    """
    vals = list(per_subject_means.values()) if isinstance(per_subject_means, Mapping) else list(per_subject_means)
    arr = np.asarray(vals, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return float("nan"), float("nan")
    std = float(np.std(arr, ddof=ddof)) if arr.size > ddof else 0.0
    return float(np.mean(arr)), std


def active_error(y_true: ArrayLike, y_pred: ArrayLike, rest_label: Any = 0) -> float:
    """Share of the *active* decisions (not ``rest_label``) that are wrong.

    The myoelectric-control field's active error: a decision of rest does nothing to the device,
    so only the commands issued count (a wrong command is worse than none). ``nan`` when every
    decision is rest.
    """
    true, pred = _check_pair(y_true, y_pred)
    active = pred != rest_label
    return float(np.mean(true[active] != pred[active])) if active.any() else float("nan")


def instability(y_pred: ArrayLike) -> float:
    """Share of consecutive decisions that differ (0: constant output; 1: a change at every step).

    For a stream of decisions in time order (a live recogniser's windows); ``nan`` for fewer than
    two decisions.
    """
    pred = np.asarray(y_pred).ravel()
    return float(np.mean(pred[1:] != pred[:-1])) if pred.size > 1 else float("nan")


def rejection_rate(y_pred: ArrayLike, rejected: Any = -1) -> float:
    """Share of decisions withheld (``rejected``: the label a rejecting classifier outputs)."""
    pred = np.asarray(y_pred).ravel()
    if pred.size == 0:
        raise ValidationError("Cannot score an empty set of predictions (y_pred is empty).")
    return float(np.mean(pred == rejected))


def classification_scores(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[int], window_s: float
) -> dict[str, Any]:
    """All per-fold scores: balanced_accuracy, accuracy, macro_f1, itr_bits_per_min, confusion."""
    bacc = balanced_accuracy(y_true, y_pred)
    n_cls = max(2, len(labels))
    return {
        "balanced_accuracy": bacc,
        "accuracy": accuracy(y_true, y_pred),
        "macro_f1": macro_f1(y_true, y_pred, labels),
        "itr_bits_per_min": itr_wolpaw(bacc, n_cls, window_s),
        "confusion": confusion_matrix(y_true, y_pred, labels).tolist(),
    }


__all__ = [
    "accuracy",
    "active_error",
    "balanced_accuracy",
    "classification_scores",
    "confusion_matrix",
    "instability",
    "itr_wolpaw",
    "macro_f1",
    "rejection_rate",
    "summarize",
]

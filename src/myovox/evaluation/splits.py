"""Honest train/test splits over :class:`~myovox.windows.Windows`.

Every splitter returns a list of :class:`Fold` (a name plus train and test index arrays into
the windows it was given). Rest windows are down-sampled to the per-word count in the *train*
pool only (the model's validation split is drawn from that pool); test sets keep every window.
:func:`check_no_leakage` refuses a fold whose test windows share samples (or a trial) with
train windows; the protocols call it on every fold.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._checks import check_int, did_you_mean
from ..exceptions import ValidationError
from ..windows import Windows, downsample_rest_indices


class LeakageError(ValidationError):
    """A test window overlaps (or shares a trial with) a train window."""


@dataclass
class Fold:
    """One train/test split: indices into the windows the splitter was given."""

    name: str
    train: np.ndarray
    test: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<Fold {self.name!r}: {len(self.train)} train, {len(self.test)} test>"


# ---------------------------------------------------------------------------- helpers
def _meta(windows: Windows, key: str) -> np.ndarray:
    if key not in windows.meta:
        raise ValidationError(
            f"Windows have no metadata column {key!r} (known: {', '.join(sorted(windows.meta)) or 'none'})."
            f"{did_you_mean(key, windows.meta)}"
        )
    return windows.meta[key]


def _sorted_values(col: np.ndarray) -> list:
    vals = list({v.item() if hasattr(v, "item") else v for v in col})
    return sorted(vals, key=lambda v: (str(type(v)), v))


def _finish(
    windows: Windows, folds: list[Fold], rest_label: int | None, balance_rest: bool, random_state: Any
) -> list[Fold]:
    rng = np.random.default_rng(random_state)
    out = []
    for f in folds:
        train = np.sort(np.asarray(f.train, dtype=np.int64))
        if balance_rest:
            train = downsample_rest_indices(windows.y, train, rest_label, rng)
        out.append(Fold(f.name, train, np.sort(np.asarray(f.test, dtype=np.int64)), dict(f.info)))
    return out


# ---------------------------------------------------------------------------- splitters
def leave_one_group_out(
    windows: Windows, by: str, *, rest_label: int | None = 0, balance_rest: bool = True, random_state: Any = None
) -> list[Fold]:
    """One fold per distinct value ``v`` of ``meta[by]``: test = windows with ``by == v``."""
    col = _meta(windows, by)
    values = _sorted_values(col)
    if len(values) < 2:
        raise ValidationError(
            f"Leave-one-{by}-out needs at least 2 distinct values of {by!r}, found {len(values)} ({values})."
        )
    folds = [Fold(f"{by}={v}", np.flatnonzero(col != v), np.flatnonzero(col == v), {by: v}) for v in values]
    return _finish(windows, folds, rest_label, balance_rest, random_state)


def leave_one_batch_out(windows: Windows, **kw: Any) -> list[Fold]:
    """Test = batch ``b`` of every session (the reference's global protocol); one fold per batch."""
    return leave_one_group_out(windows, "batch", **kw)


def leave_one_session_out(windows: Windows, **kw: Any) -> list[Fold]:
    """Test = one whole session; train = the other sessions (inter-session protocol)."""
    return leave_one_group_out(windows, "session", **kw)


def stratified_kfold(
    windows: Windows,
    n_splits: int = 5,
    *,
    random_state: Any = 0,
    rest_label: int | None = 0,
    balance_rest: bool = True,
    group_by: str | None = None,
) -> list[Fold]:
    """Shuffled stratified k-fold (seeded by ``random_state``, an int or None).

    ``group_by`` (a metadata key, e.g. ``"trial"`` or ``"recording"``) keeps all windows of one
    group on one side. Without it, windows that share samples (e.g. an event window that runs into
    the next label run, as with SilentWear's 1.4 s windows and 1 s trim margins) are kept on one side
    together (:func:`overlap_groups`), so no fold leaks.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    n_splits = check_int("n_splits", n_splits, minimum=2)
    n = len(windows)
    if n < n_splits:
        raise ValidationError(f"Too few windows for {n_splits}-fold cross-validation: {n} windows.")
    classes, counts = np.unique(windows.y, return_counts=True)
    if counts.min() < n_splits:
        small = ", ".join(f"{int(c)} ({int(k)} windows)" for c, k in zip(classes, counts, strict=False) if k < n_splits)
        warnings.warn(
            f"Classes with fewer windows than {n_splits} folds: {small}; some test folds will lack them.",
            UserWarning,
            stacklevel=2,
        )
    seed = None if random_state is None else int(random_state)
    groups = _meta(windows, group_by) if group_by is not None else overlap_groups(windows)
    if groups is None:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        it = splitter.split(np.zeros(n), windows.y)
    else:
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        it = splitter.split(np.zeros(n), windows.y, groups)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class")
        try:
            folds = [Fold(f"fold{i + 1}", tr, te, {"fold": i + 1}) for i, (tr, te) in enumerate(it)]
        except ValueError as err:  # e.g. fewer trials (groups) than folds
            raise ValidationError(
                f"Cannot cut {n_splits} folds from {n} windows in {len(np.unique(windows.y))} classes: {err} "
                "Use fewer folds (--folds)."
            ) from None
    return _finish(windows, folds, rest_label, balance_rest, random_state)


def progressive_batches(
    windows: Windows,
    *,
    by: str = "batch",
    rest_label: int | None = 0,
    balance_rest: bool = True,
    random_state: Any = None,
) -> list[Fold]:
    """Progressive folds over the values of ``by`` in order: test on ``b``, train on all ``< b``.

    The first value has no training data and yields no fold.
    """
    col = _meta(windows, by)
    values = _sorted_values(col)
    if len(values) < 2:
        raise ValidationError(
            f"Progressive evaluation needs at least 2 distinct values of {by!r}, found {len(values)}."
        )
    folds = []
    for i, v in enumerate(values[1:], start=1):
        train = np.flatnonzero(np.isin(col, values[:i]))
        folds.append(Fold(f"{by}={v}", train, np.flatnonzero(col == v), {by: v, "n_prior": i}))
    return _finish(windows, folds, rest_label, balance_rest, random_state)


def _mask_for(windows: Windows, criteria: Mapping[str, Any], what: str) -> np.ndarray:
    if not criteria:
        raise ValidationError(f"The {what} selection is empty: give at least one KEY=VALUE.")
    mask = np.ones(len(windows), dtype=bool)
    for key, value in criteria.items():
        col = _meta(windows, key)
        vals = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
        # compare as strings too, so CLI values ("1") match integer metadata
        sel = np.isin(col, vals) | np.isin(col.astype(str), [str(v) for v in vals])
        if not sel.any():
            raise ValidationError(
                f"No window has {key}={value!r} for the {what} set; values present: {_sorted_values(col)}."
            )
        mask &= sel
    return mask


def train_test_by_meta(
    windows: Windows,
    train: Mapping[str, Any],
    test: Mapping[str, Any],
    *,
    rest_label: int | None = 0,
    balance_rest: bool = True,
    random_state: Any = None,
) -> list[Fold]:
    """One explicit transfer fold: train on windows matching ``train``, test on ``test``."""
    tr = _mask_for(windows, train, "train")
    te = _mask_for(windows, test, "test")
    if not tr.any() or not te.any():
        raise ValidationError(
            f"The transfer split is empty: {int(tr.sum())} train and {int(te.sum())} test windows "
            f"for train={dict(train)} and test={dict(test)}."
        )
    name = ",".join(f"{k}={v}" for k, v in train.items()) + " -> " + ",".join(f"{k}={v}" for k, v in test.items())
    folds = [Fold(name, np.flatnonzero(tr & ~te), np.flatnonzero(te), {"train": dict(train), "test": dict(test)})]
    return _finish(windows, folds, rest_label, balance_rest, random_state)


# ---------------------------------------------------------------------------- leakage
def overlap_groups(windows: Windows) -> np.ndarray | None:
    """Group index per window such that windows sharing samples of a recording share a group.

    Returns None when no two windows overlap (or the windows carry no ``recording``/``start``
    metadata), so callers can keep an ungrouped split.
    """
    if "recording" not in windows.meta or "start" not in windows.meta or len(windows) == 0:
        return None
    rec = np.asarray(windows.meta["recording"])
    start = np.asarray(windows.meta["start"], dtype=np.int64)
    stop = np.asarray(windows.meta["stop"], dtype=np.int64) if "stop" in windows.meta else start + windows.n_samples
    order = np.lexsort((start, rec))
    # a new group starts where the recording changes or a window starts after every earlier one ended
    same_rec = rec[order][1:] == rec[order][:-1]
    new = np.ones(len(order), dtype=bool)
    cur = -1
    for k, i in enumerate(order):
        if k and same_rec[k - 1] and start[i] < cur:
            new[k] = False
            cur = max(cur, stop[i])
        else:
            cur = stop[i]
    if new.all():
        return None
    groups = np.empty(len(order), dtype=np.int64)
    groups[order] = np.cumsum(new) - 1
    return groups


def check_no_leakage(train: Windows, test: Windows, *, fold: str | None = None) -> None:
    """Raise :class:`LeakageError` if a test window shares samples or a trial with a train window.

    Windows are compared by ``meta['recording']`` and their sample spans ``[start, stop)``
    (``stop`` defaults to ``start + n_samples``); where ``meta['trial']`` exists, a trial may not
    appear on both sides. Without a ``recording`` column nothing can be checked (a debug log says so).
    """
    where = f" in fold {fold!r}" if fold else ""
    if "trial" in train.meta and "trial" in test.meta:

        def keys(w: Windows) -> set:
            rec = w.meta.get("recording", np.zeros(len(w), dtype=int))
            subj = w.meta.get("subject", np.zeros(len(w), dtype=int))
            return set(zip(map(str, subj), map(str, rec), map(str, w.meta["trial"]), strict=False))

        shared = keys(train) & keys(test)
        if shared:
            s = sorted(shared)[0]
            raise LeakageError(
                f"Train/test leakage{where}: trial {s[2]!r} of recording {s[1]} "
                f"(subject {s[0]}) is in both train and test ({len(shared)} trials shared)."
            )
    if (
        "recording" not in train.meta
        or "recording" not in test.meta
        or "start" not in train.meta
        or "start" not in test.meta
    ):
        from .._logging import logger

        logger.debug("check_no_leakage: no recording/start metadata, overlap not checked%s", where)
        return

    def spans(w: Windows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        start = np.asarray(w.meta["start"], dtype=np.int64)
        stop = np.asarray(w.meta["stop"], dtype=np.int64) if "stop" in w.meta else start + w.n_samples
        return np.asarray(w.meta["recording"]), start, stop

    rec_tr, a_tr, b_tr = spans(train)
    rec_te, a_te, b_te = spans(test)
    for rec in set(rec_tr.tolist()) & set(rec_te.tolist()):
        m_tr, m_te = rec_tr == rec, rec_te == rec
        order = np.argsort(a_tr[m_tr])
        sa, sb = a_tr[m_tr][order], b_tr[m_tr][order]
        # running max of train stops lets one searchsorted answer "any train span overlaps"
        max_stop = np.maximum.accumulate(sb)
        for ta, tb in zip(a_te[m_te], b_te[m_te], strict=False):
            k = np.searchsorted(sa, tb, side="left")  # train spans starting before the test stop
            if k > 0 and max_stop[k - 1] > ta:
                raise LeakageError(
                    f"Train/test leakage{where}: test window [{ta}, {tb}) of recording {rec} overlaps "
                    "a train window; split by recording, batch or trial instead."
                )


__all__ = [
    "Fold",
    "LeakageError",
    "check_no_leakage",
    "downsample_rest_indices",
    "leave_one_batch_out",
    "leave_one_group_out",
    "leave_one_session_out",
    "overlap_groups",
    "progressive_batches",
    "stratified_kfold",
    "train_test_by_meta",
]

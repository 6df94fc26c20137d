"""The few-shot protocol: a new session with k labelled trials per class, then test on the rest.

Per subject (x condition) and held-out session: a base model is trained on the other sessions;
for each repeat, the new session's windows of each class are shuffled, the first ``max(k)`` of
each class are the adaptation pool and all the others are the test set, the same for every k (so
the curve over k compares like with like; test windows that share samples with a pool window are
left out: no leakage between overlapping windows of one recording). For each k the base model is
adapted on the first k windows of each class (neural models fine-tuned; classical models, which
cannot be, retrained on old + new) and scored on the test set beside the base model
(``no_adaptation``) and a model trained on the k new windows alone (``scratch``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_int, check_option
from .._logging import logger, verbose
from ..exceptions import ValidationError
from ..windows import Windows, downsample_rest_indices
from . import splits as _splits
from .engine import (
    ModelSpec,
    RunSettings,
    _check_train,
    _need_values,
    _prepare,
    _result,
    _thread_overrides,
    _units,
    fill_doc,
    run_parallel,
)
from .metrics import balanced_accuracy, classification_scores
from .results import Result


@dataclass
class FewShotUnit:
    """One subject (x condition) and held-out session of the few-shot protocol."""

    spec: ModelSpec
    windows: Windows
    unit: str
    subject: Any
    condition: Any
    session: Any
    by: str
    ks: list[int]
    repeats: int
    labels: list[int]
    rest: Any
    seed: Any
    strategy: str
    ft_epochs: int
    lr: float | None
    scratch: bool
    overrides: dict
    train_sessions: list[str] | None = None


def _check_ks(k: Any) -> list[int]:
    ks = [k] if isinstance(k, (int, np.integer)) else list(k)
    if not ks:
        raise ValidationError("Invalid value for 'k': expected at least one number of trials per class.")
    return sorted({check_int("k", v, minimum=1) for v in ks})


@fill_doc
@verbose
def fewshot(
    dataset: Any,
    *,
    model: Any,
    window_s: float | None = None,
    condition: str | None = None,
    random_state: Any = 0,
    model_params: Mapping | None = None,
    subjects: Sequence | None = None,
    n_jobs: int = 1,
    rest_label: Any = "auto",
    preprocess: bool = True,
    causal: bool = False,
    augment: Any = None,
    augment_copies: int = 1,
    k: int | Sequence[int] = (1, 2, 5),
    by: str = "session",
    test_sessions: Sequence | None = None,
    train_sessions: Sequence | None = None,
    strategy: str = "all",
    ft_epochs: int = 50,
    lr: float | None = None,
    repeats: int = 1,
    scratch: bool = True,
    valid_size: float = 0.2,
    verbose: Any = None,
) -> Result:
    """Few-shot adaptation to a new session: k labelled windows per class, tested on the rest.

    Parameters
    ----------
    %(common)s
    k : int | sequence of int
        Labelled windows (trials, with event windows) per class of the new session (default 1, 2, 5).
    by : str
        Metadata column that names a session (``"day"`` for day-wise datasets).
    test_sessions : sequence | None
        Values of ``by`` held out in turn (default: each).
    train_sessions : sequence | None
        Values of ``by`` the base model is trained on (default: every session but the held-out one),
        e.g. the first days only when the later ones are tested.
    strategy : {"all", "head", "bn"}
        What fine-tuning trains (neural models; see :func:`myovox.adaptation.fine_tune`).
    ft_epochs : int
        Fine-tuning epochs. With few windows there is no validation split (SpeechNet warns).
    lr : float | None
        Fine-tuning learning rate (None: the model's).
    repeats : int
        Random draws of the adaptation windows per session.
    scratch : bool
        Also score a model trained on the k new windows alone.
    %(valid_size)s
        Of the base model.
    %(verbose)s

    %(returns)s
        ``curves`` has one row per k: ``k``, ``adapted``, ``no_adaptation``, ``scratch`` (means
        over subjects, sessions and repeats) and ``n``; the headline is ``adapted`` at the
        smallest k; ``folds`` has one row per subject, session, repeat and k.
    """
    from ..adaptation import FINE_TUNE_STRATEGIES

    check_option("strategy", strategy, FINE_TUNE_STRATEGIES)
    ks = _check_ks(k)
    ft_epochs = check_int("ft_epochs", ft_epochs, minimum=1)
    repeats = check_int("repeats", repeats, minimum=1)
    t0 = time.perf_counter()
    st = RunSettings(
        model, window_s, condition, random_state, model_params, subjects, n_jobs, rest_label, preprocess, causal,
        augment, augment_copies,
    )  # fmt: skip
    _, windows_for, summary, ds_rest = _prepare(dataset, condition, subjects, preprocess, causal)
    rest = ds_rest if rest_label == "auto" else rest_label
    w = windows_for(st.window_s)
    _need_values(w, by, 2, "fewshot")
    train_keys = None if train_sessions is None else [str(v) for v in train_sessions]
    if train_keys is not None:
        missing = sorted(set(train_keys) - {str(v) for v in _splits._sorted_values(w.meta[by])})
        if missing:
            raise ValidationError(
                f"fewshot: train_sessions {missing} are not in the data ({by}: {_splits._sorted_values(w.meta[by])})."
            )
    labels = [int(c) for c in np.unique(w.y)]
    overrides = {**_thread_overrides(None, st.n_jobs), "valid_size": valid_size}
    tasks = []
    for name, subj, cond, mask in _units(w, True, True):
        uw = w.subset(mask)
        for s in _splits._sorted_values(uw.meta[by]):
            if test_sessions is not None and str(s) not in map(str, test_sessions):
                continue
            tasks.append(
                FewShotUnit(
                    st.spec, uw, name, subj, cond, s, by, ks, repeats, labels, rest, random_state, strategy,
                    ft_epochs, lr, scratch, overrides, train_keys,
                )
            )  # fmt: skip
    if not tasks:
        raise ValidationError(
            f"fewshot: none of the test_sessions {list(test_sessions or [])} is in the data "
            f"({by}: {_splits._sorted_values(w.meta[by])})."
        )
    logger.info("fewshot: %d subject x %s runs with %s, k = %s", len(tasks), by, st.spec.name, ks)
    outs = run_parallel(_fewshot_unit, tasks, st.n_jobs, desc="fewshot")
    rows = [r for o in outs for r in o]
    curves = []
    for kk in ks:
        rk = [r for r in rows if r["k"] == kk]
        curves.append(
            {
                "k": kk,
                "adapted": _nanmean([r["balanced_accuracy"] for r in rk]),
                "no_adaptation": _nanmean([r["no_adaptation_balanced_accuracy"] for r in rk]),
                "scratch": _nanmean([r["scratch_balanced_accuracy"] for r in rk]),
                "n": len(rk),
            }
        )
    params = st.params(
        rest,
        k=ks,
        by=by,
        test_sessions=None if test_sessions is None else list(test_sessions),
        train_sessions=train_keys,
        strategy=strategy,
        ft_epochs=ft_epochs,
        lr=lr,
        repeats=repeats,
        valid_size=valid_size,
    )
    head = [r for r in rows if r["k"] == ks[0]]
    res = _result("fewshot", st.spec, head, labels, w.label_names, params, summary, t0, curves=curves)
    res.folds = rows
    res.notes.append(
        f"Headline: balanced accuracy after adapting on k={ks[0]} window(s) per class of the new {by}, "
        "on the rest of it (every k is tested on the same windows; curves hold every k)."
    )
    if any(r["retrained"] for r in rows):
        res.notes.append(f"{st.spec.name} has no fine-tuning: 'adapted' retrains it on old + the k new windows.")
    return res


def _nanmean(values: list[float]) -> float:
    v = np.asarray(values, dtype=float)
    return float(np.nanmean(v)) if np.any(np.isfinite(v)) else float("nan")


def _fewshot_unit(t: FewShotUnit) -> list[dict]:
    """One subject and held-out session: a row per repeat and k."""
    from ..adaptation.finetune import fine_tune as _ft

    uw, s, rest, seed, ov = t.windows, t.session, t.rest, t.seed, t.overrides
    sess = uw.meta[t.by]
    rng = np.random.default_rng(seed)
    pool = sess != s
    if t.train_sessions is not None:
        pool &= np.isin(sess.astype(str), t.train_sessions)
    if not pool.any():
        raise ValidationError(
            f"fewshot {t.unit}: no training windows for {t.by}={s} (train_sessions {t.train_sessions})."
        )
    old = uw.subset(downsample_rest_indices(uw.y, np.flatnonzero(pool), rest, rng))
    new = uw.subset(sess == s)
    fold0 = f"{t.unit}: {t.by}={s}"
    _check_train(old, t.labels, f"{t.by}={s}", t.unit, uw.label_names)
    t0 = time.perf_counter()
    base = t.spec.fit(old, seed, ov)
    base_fit = time.perf_counter() - t0
    can_ft = hasattr(base, "fine_tune")
    kmax = t.ks[-1]
    groups = _splits.overlap_groups(new)
    rows = []
    for rep in range(t.repeats):
        r_rng = np.random.default_rng([0 if seed is None else int(seed), rep])
        order = {c: r_rng.permutation(np.flatnonzero(new.y == c)) for c in np.unique(new.y)}
        test_idx = np.sort(np.concatenate([o[kmax:] for o in order.values()]))
        if groups is not None:  # windows sharing samples with the adaptation pool are not tested
            pool = np.concatenate([o[:kmax] for o in order.values()])
            test_idx = test_idx[~np.isin(groups[test_idx], groups[pool])]
        if test_idx.size == 0:
            raise ValidationError(
                f"fewshot {fold0}: no window left to test after taking k={kmax} per class; use a smaller k."
            )
        test = new.subset(test_idx)
        short = [c for c, o in order.items() if len(o) <= kmax]
        if short:
            logger.warning(
                "fewshot %s: classes %s have <= %d windows; all go to adaptation, none is tested.", fold0, short, kmax
            )
        pred_base = base.predict(test.X)
        no_ad_score = balanced_accuracy(test.y, pred_base)
        for kk in t.ks:
            ad = new.subset(np.sort(np.concatenate([o[:kk] for o in order.values()])))
            _splits.check_no_leakage(ad, test, fold=f"{fold0}, k={kk}")
            t1 = time.perf_counter()
            if can_ft:
                adapted = _ft(base, ad, strategy=t.strategy, n_epochs=t.ft_epochs, lr=t.lr, valid_size=0.0)
            else:
                adapted = _ft(
                    base,
                    ad,
                    strategy=t.strategy,
                    old_windows=old,
                    random_state=seed,
                    builder=lambda w_: t.spec.build(w_, seed, ov),
                )
            adapt_s = time.perf_counter() - t1
            sc = float("nan")
            if t.scratch and len(np.unique(ad.y)) >= 2:
                try:
                    est = t.spec.build(ad, seed, {**ov, "valid_size": 0.0})
                    with warnings.catch_warnings():  # k windows per class: scikit-learn suspects a regression
                        warnings.filterwarnings("ignore", message="The number of unique classes is greater")
                        est.fit(ad.X, ad.y)
                    sc = balanced_accuracy(test.y, est.predict(test.X))
                except ValueError as err:  # e.g. LDA with one window per class
                    logger.info("fewshot %s k=%d: no scratch model (%s)", fold0, kk, err)
            rows.append(
                {
                    "fold": f"{t.by}={s},repeat={rep},k={kk}",
                    "subject": "all" if t.subject is None else str(t.subject),
                    "condition": None if t.condition is None else str(t.condition),
                    "window_s": round(test.window_s, 6),
                    t.by: s,
                    "repeat": rep,
                    "k": kk,
                    "n_train": len(old) + len(ad),
                    "n_adapt": len(ad),
                    "n_test": len(test),
                    **classification_scores(test.y, adapted.predict(test.X), t.labels, test.window_s),
                    "no_adaptation_balanced_accuracy": no_ad_score,
                    "scratch_balanced_accuracy": sc,
                    "retrained": not can_ft,
                    "fit_s": round((base_fit if rep == 0 and kk == t.ks[0] else 0.0) + adapt_s, 3),
                }
            )
    return rows

"""Evaluation protocols of the reference (global, inter-session, train-from-scratch, fine-tune)
and generic ones (k-fold, leave-one-out by any metadata key, explicit transfer).

Every protocol runs per subject (and per condition, separately, where the data have several),
trains a fresh model per fold, scores it with 9-class-style balanced accuracy and returns a
:class:`~.results.Result` with per-fold rows and mean ± std over subjects of per-subject means.
The fold engine they share (model recipes, fold tasks, the parallel runner, aggregation) is
:mod:`myovox.evaluation.engine`; the parameters they share are documented once there
(:data:`~myovox.evaluation.engine.docdict`).

``dataset`` may be a :class:`~myovox.dataset.Dataset` (it is preprocessed with its own filter
and channel order, then cut into windows) or ready-made :class:`~myovox.windows.Windows`.
``model`` may be a registry name (``"speechnet"``, ``"rf"``, ``"lda"``, ``"svm"``), an
unfitted scikit-learn estimator (cloned per fold) or a callable
``f(sfreq=, n_channels=, n_times=, random_state=) -> estimator``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import check_int, check_option
from .._logging import logger, verbose
from ..adaptation.label_free import ADAPT_METHODS
from ..exceptions import ValidationError
from ..windows import Windows, downsample_rest_indices
from . import splits as _splits
from .engine import (
    ModelSpec,
    RunSettings,
    _check_train,
    _minutes,
    _need_values,
    _prepare,
    _result,
    _thread_overrides,
    _units,
    check_window_s,
    check_window_sweep,
    fill_doc,
    run_folds,
    run_parallel,
)
from .fewshot import fewshot
from .metrics import balanced_accuracy, classification_scores
from .results import Result

#: canonical protocol names, in the order the documentation lists them
PROTOCOL_NAMES = (
    "global",
    "inter_session",
    "train_from_scratch",
    "fine_tune",
    "fewshot",
    "kfold",
    "leave_one_out",
    "transfer",
)


# ============================================================================ the protocols
@fill_doc
@verbose
def global_protocol(
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
    valid_size: float = 0.2,
    verbose: Any = None,
) -> Result:
    """Leave-one-batch-out per subject: test = batch b of every session (the reference's global protocol).

    Parameters
    ----------
    %(common)s
    %(valid_size)s
        Default 0.2 (80/20 train/validation, as the reference).
    %(verbose)s

    %(returns)s
    """
    st = RunSettings(
        model, window_s, condition, random_state, model_params, subjects, n_jobs, rest_label, preprocess, causal,
        augment, augment_copies,
    )  # fmt: skip

    def split(uw: Windows, rest: Any) -> list:
        return _splits.leave_one_batch_out(uw, rest_label=rest, random_state=random_state)

    return run_folds(
        "global",
        dataset,
        split,
        st,
        overrides={"valid_size": valid_size},
        params={"valid_size": valid_size},
        needs=(("batch", 2),),
    )


@fill_doc
@verbose
def inter_session(
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
    valid_size: float = 0.2,
    window_sweep: Sequence[float] | None = None,
    adapt: str = "none",
    adapt_first: float | None = None,
    verbose: Any = None,
) -> Result:
    """Leave-one-session-out per subject (train on the other sessions, test on a whole session).

    Parameters
    ----------
    %(common)s
    %(valid_size)s
    %(adapt)s
    %(adapt_first)s
    window_sweep : sequence of float | None
        Run the protocol at each of these window lengths (e.g. 0.4 to 1.4 s; a Dataset is
        needed); ``Result.sweep`` holds one row per length and the headline is the first length.
        Not together with ``window_s``.
    %(verbose)s

    %(returns)s
    """
    sweep = check_window_sweep(window_sweep)
    check_option("adapt", adapt, ADAPT_METHODS)
    if sweep is not None and window_s is not None:
        raise ValidationError("Pass either window_s (one length) or window_sweep (several), not both.")
    st = RunSettings(
        model, window_s, condition, random_state, model_params, subjects, n_jobs, rest_label, preprocess, causal,
        augment, augment_copies,
    )  # fmt: skip

    def split(uw: Windows, rest: Any) -> list:
        return _splits.leave_one_session_out(uw, rest_label=rest, random_state=random_state)

    return run_folds(
        "inter_session",
        dataset,
        split,
        st,
        overrides={"valid_size": valid_size},
        params={"valid_size": valid_size, "adapt": adapt, "adapt_first": adapt_first},
        window_sweep=sweep,
        needs=(("session", 2),),
        adapt=adapt,
        adapt_by="session",
        adapt_first=adapt_first,
    )


@fill_doc
@verbose
def kfold(
    dataset: Any,
    *,
    model: Any,
    n_splits: int = 5,
    group_by: str | None = None,
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
    valid_size: float = 0.2,
    verbose: Any = None,
) -> Result:
    """Shuffled stratified k-fold per subject.

    Parameters
    ----------
    %(dataset)s
    %(model)s
    n_splits : int
        Number of folds.
    group_by : str | None
        Metadata key whose groups (e.g. trials) stay on one side of every split. Windows that
        share samples are always kept together.
    %(window_s)s
    %(condition)s
    %(random_state)s
    %(model_params)s
    %(subjects)s
    %(n_jobs)s
    %(rest_label)s
    %(preprocess)s
    %(causal)s
    %(augment)s
    %(valid_size)s
    %(verbose)s

    %(returns)s
    """
    st = RunSettings(
        model, window_s, condition, random_state, model_params, subjects, n_jobs, rest_label, preprocess, causal,
        augment, augment_copies,
    )  # fmt: skip

    def split(uw: Windows, rest: Any) -> list:
        return _splits.stratified_kfold(uw, n_splits, random_state=random_state, rest_label=rest, group_by=group_by)

    return run_folds(
        "kfold",
        dataset,
        split,
        st,
        overrides={"valid_size": valid_size},
        params={"n_splits": n_splits, "group_by": group_by, "valid_size": valid_size},
    )


@fill_doc
@verbose
def leave_one_out(
    dataset: Any,
    *,
    model: Any,
    by: str,
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
    valid_size: float = 0.2,
    verbose: Any = None,
) -> Result:
    """Leave one value of ``meta[by]`` out, per subject (across subjects when ``by="subject"``).

    The result's protocol is ``"leave_one_{by}_out"``.

    Parameters
    ----------
    %(dataset)s
    %(model)s
    by : str
        Metadata key (``"session"``, ``"batch"``, ``"day"``, ``"phase"``, ``"subject"``, ...).
    %(window_s)s
    %(condition)s
    %(random_state)s
    %(model_params)s
    %(subjects)s
    %(n_jobs)s
    %(rest_label)s
    %(preprocess)s
    %(causal)s
    %(augment)s
    %(valid_size)s
    %(verbose)s

    %(returns)s
    """
    if not isinstance(by, str) or not by:
        raise ValidationError(f"Invalid value for 'by': expected a metadata key such as 'session', got {by!r}.")
    st = RunSettings(
        model, window_s, condition, random_state, model_params, subjects, n_jobs, rest_label, preprocess, causal,
        augment, augment_copies,
    )  # fmt: skip

    def split(uw: Windows, rest: Any) -> list:
        return _splits.leave_one_group_out(uw, by, rest_label=rest, random_state=random_state)

    return run_folds(
        f"leave_one_{by}_out",
        dataset,
        split,
        st,
        split_subjects=by != "subject",
        split_conditions=by != "condition",
        overrides={"valid_size": valid_size},
        params={"by": by, "valid_size": valid_size},
        subject_from="subject" if by == "subject" else None,
    )


@fill_doc
@verbose
def transfer(
    dataset: Any,
    *,
    model: Any,
    train: Mapping[str, Any],
    test: Mapping[str, Any],
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
    valid_size: float = 0.2,
    adapt: str = "none",
    adapt_by: str | None = None,
    adapt_first: float | None = None,
    verbose: Any = None,
) -> Result:
    """Train on the windows matching ``train``, test on those matching ``test``, per subject.

    Parameters
    ----------
    %(dataset)s
    %(model)s
    train, test : dict
        Metadata selections, e.g. ``train={"phase": "Overt"}, test={"phase": "Covert"}``; a value
        may be a list (any of them). Selecting on ``subject`` makes the split cross-subject.
    %(window_s)s
    %(condition)s
    %(random_state)s
    %(model_params)s
    %(subjects)s
    %(n_jobs)s
    %(rest_label)s
    %(preprocess)s
    %(causal)s
    %(augment)s
    %(valid_size)s
    %(adapt)s
    adapt_by : str | None
        Metadata column whose values are adapted to separately (e.g. ``"day"`` when ``test``
        spans several days); None: the test selection as a whole.
    %(adapt_first)s
    %(verbose)s

    %(returns)s
    """
    check_option("adapt", adapt, ADAPT_METHODS)
    if not isinstance(train, Mapping) or not isinstance(test, Mapping) or not train or not test:
        raise ValidationError(
            "transfer needs train= and test= selections, e.g. train={'condition': 'vocalized'}, "
            "test={'condition': 'silent'}."
        )
    st = RunSettings(
        model, window_s, condition, random_state, model_params, subjects, n_jobs, rest_label, preprocess, causal,
        augment, augment_copies,
    )  # fmt: skip
    keys = set(train) | set(test)

    def split(uw: Windows, rest: Any) -> list:
        return _splits.train_test_by_meta(uw, train, test, rest_label=rest, random_state=random_state)

    return run_folds(
        "transfer",
        dataset,
        split,
        st,
        split_subjects="subject" not in keys,
        split_conditions="condition" not in keys,
        overrides={"valid_size": valid_size},
        params={
            "train": dict(train),
            "test": dict(test),
            "valid_size": valid_size,
            "adapt": adapt,
            "adapt_by": adapt_by,
            "adapt_first": adapt_first,
        },
        subject_from="subject" if "subject" in keys else None,
        adapt=adapt,
        adapt_by=adapt_by,
        adapt_first=adapt_first,
    )


@fill_doc
@verbose
def train_from_scratch(
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
    valid_size: float = 0.3,
    verbose: Any = None,
) -> Result:
    """Each session on its own: test on batch b with a model trained on the session's batches < b.

    Parameters
    ----------
    %(common)s
    %(valid_size)s
        Default 0.3 (70/30 train/validation, as the reference).
    %(verbose)s

    %(returns)s
    """
    st = RunSettings(
        model, window_s, condition, random_state, model_params, subjects, n_jobs, rest_label, preprocess, causal,
        augment, augment_copies,
    )  # fmt: skip

    def split(uw: Windows, rest: Any) -> list:
        folds = []
        for s in _splits._sorted_values(uw.meta["session"]):
            idx = np.flatnonzero(uw.meta["session"] == s)
            for f in _splits.progressive_batches(uw.subset(idx), rest_label=rest, random_state=random_state):
                folds.append(_splits.Fold(f"session={s},{f.name}", idx[f.train], idx[f.test], {**f.info, "session": s}))
        return folds

    return run_folds(
        "train_from_scratch",
        dataset,
        split,
        st,
        overrides={"valid_size": valid_size},
        params={"valid_size": valid_size},
        needs=(("session", 1), ("batch", 2)),
    )


# ============================================================================ fine-tuning
@dataclass
class FineTuneUnit:
    """One subject (x condition) and held-out session of the fine-tune protocol, with its settings."""

    spec: ModelSpec
    windows: Windows
    unit: str
    subject: Any
    condition: Any
    session: Any
    labels: list[int]
    rest: Any
    seed: Any
    strategy: str
    ft_epochs: int
    lr: float
    valid_size: float
    base_valid_size: float
    accumulate: bool
    scratch: bool
    overrides: dict


@fill_doc
@verbose
def fine_tune(
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
    strategy: str = "all",
    ft_epochs: int = 50,
    lr: float = 1e-3,
    valid_size: float = 0.3,
    base_valid_size: float = 0.2,
    accumulate: bool = False,
    scratch: bool = True,
    test_sessions: Sequence | None = None,
    verbose: Any = None,
) -> Result:
    """Incremental adaptation to a new session, per subject and held-out session.

    The base model is trained on the other sessions (as in ``inter_session``). For each batch b
    of the new session, in order: score the base model on b (``no_ft``), score the adapted model
    on b (``ft``; before the first batch it is the base model), score a model trained from
    scratch on the new session's batches < b (``scratch``), then adapt on b. Models without
    ``fine_tune`` (rf, lda, svm) are retrained on old + new data instead; the result says so.
    The headline score is the mean ``ft`` over batches after at least one adaptation step.

    Parameters
    ----------
    %(common)s
    strategy : {"all", "head", "bn"}
        What is trained (see :data:`myovox.adaptation.FINE_TUNE_STRATEGIES`): every layer (the
        reference), the linear head only, or BatchNorm layers only.
    ft_epochs : int
        Fine-tuning epochs per batch.
    lr : float
        Fine-tuning learning rate.
    valid_size : float
        Validation fraction while fine-tuning and of the scratch models.
    base_valid_size : float
        Validation fraction of the base model.
    accumulate : bool
        Fine-tune on all new batches <= b instead of batch b only.
    scratch : bool
        Also score models trained from scratch on the new session (the ``scratch`` curve).
    test_sessions : sequence | None
        Sessions held out in turn (default: each).
    %(verbose)s

    %(returns)s
        ``curves`` holds the per-batch ``ft``, ``no_ft`` and ``scratch`` scores.
    """
    from ..adaptation import FINE_TUNE_STRATEGIES

    check_option("strategy", strategy, FINE_TUNE_STRATEGIES)
    ft_epochs = check_int("ft_epochs", ft_epochs, minimum=1)
    t0 = time.perf_counter()
    st = RunSettings(
        model, window_s, condition, random_state, model_params, subjects, n_jobs, rest_label, preprocess, causal,
        augment, augment_copies,
    )  # fmt: skip
    spec = st.spec
    _, windows_for, summary, ds_rest = _prepare(dataset, condition, subjects, preprocess, causal)
    rest = ds_rest if rest_label == "auto" else rest_label
    w = windows_for(st.window_s)
    _need_values(w, "session", 2, "fine_tune")
    _need_values(w, "batch", 2, "fine_tune")
    labels = [int(c) for c in np.unique(w.y)]
    tasks = []
    for unit in _units(w, True, True):
        uw = w.subset(unit[3])
        for s in _splits._sorted_values(uw.meta["session"]):
            if test_sessions is not None and s not in test_sessions and str(s) not in map(str, test_sessions):
                continue
            tasks.append(
                FineTuneUnit(
                    spec,
                    uw,
                    unit[0],
                    unit[1],
                    unit[2],
                    s,
                    labels,
                    rest,
                    random_state,
                    strategy,
                    ft_epochs,
                    lr,
                    valid_size,
                    base_valid_size,
                    accumulate,
                    scratch,
                    _thread_overrides(None, st.n_jobs),
                )
            )
    if not tasks:
        raise ValidationError(
            f"fine_tune: none of the test_sessions {list(test_sessions or [])} is in the data "
            f"(sessions: {_splits._sorted_values(w.meta['session'])})."
        )
    logger.info("fine_tune: %d subject x session runs with %s", len(tasks), spec.name)
    outs = run_parallel(_fine_tune_unit, tasks, st.n_jobs, desc="fine_tune")
    rows = [r for o in outs for r in o[0]]
    curves = [c for o in outs for c in o[1]]
    retrained = any(o[2] for o in outs)
    head = [r for r in rows if r["batch_index"] >= 2]
    params = {
        "window_s": st.window_s,
        "condition": condition,
        "random_state": random_state,
        "strategy": strategy,
        "ft_epochs": ft_epochs,
        "lr": lr,
        "valid_size": valid_size,
        "accumulate": accumulate,
        "model_params": dict(model_params or {}),
        "rest_label": rest,
        "n_jobs": st.n_jobs,
        "subjects": None if subjects is None else list(subjects),
        "test_sessions": None if test_sessions is None else list(test_sessions),
    }
    res = _result("fine_tune", spec, head, labels, w.label_names, params, summary, t0, curves=curves)
    res.folds = rows
    res.notes.append(
        "Headline: mean fine-tuned balanced accuracy over new-session batches after at least one "
        "adaptation step (no_ft and scratch are in the curves and fold rows)."
    )
    if retrained:
        res.notes.append(
            f"{spec.name} has no fine-tuning: 'ft' retrains it on the old sessions plus the new "
            "session's batches seen so far."
        )
    return res


def _fine_tune_unit(t: FineTuneUnit) -> tuple[list[dict], list[dict], bool]:
    """Run the fine-tune protocol on one unit and held-out session: (fold rows, curve rows, retrained?)."""
    from ..adaptation.finetune import fine_tune as _ft

    spec, uw, session, rest, seed, ov = t.spec, t.windows, t.session, t.rest, t.seed, t.overrides
    rng = np.random.default_rng(seed)
    sess = uw.meta["session"]
    old_idx = downsample_rest_indices(uw.y, np.flatnonzero(sess != session), rest, rng)
    old = uw.subset(old_idx)
    new = uw.subset(sess == session)
    fold0 = f"{t.unit}: session={session}"
    _check_train(old, t.labels, f"session={session}", t.unit, uw.label_names)
    t0 = time.perf_counter()
    base = spec.fit(old, seed, {**ov, "valid_size": t.base_valid_size})
    base_fit = time.perf_counter() - t0
    can_ft = hasattr(base, "fine_tune")
    current = base
    batches = _splits._sorted_values(new.meta["batch"])
    rows, curves = [], []
    minutes = 0.0
    seen: list[Windows] = []
    for i, b in enumerate(batches, start=1):
        test = new.subset(new.meta["batch"] == b)
        _splits.check_no_leakage(old, test, fold=f"{fold0}, batch={b}")
        for prev in seen:
            _splits.check_no_leakage(prev, test, fold=f"{fold0}, batch={b}")
        no_ft = balanced_accuracy(test.y, base.predict(test.X))
        scores = classification_scores(test.y, current.predict(test.X), t.labels, test.window_s)
        sc = float("nan")
        if t.scratch and seen:
            pool = Windows.concatenate(seen)
            pool = pool.subset(downsample_rest_indices(pool.y, np.arange(len(pool)), rest, rng))
            if len(np.unique(pool.y)) >= 2:
                est = spec.build(pool, seed, {**ov, "valid_size": t.valid_size})
                est.fit(pool.X, pool.y)
                sc = balanced_accuracy(test.y, est.predict(test.X))
        row = {
            "fold": f"session={session},batch={b}",
            "subject": "all" if t.subject is None else str(t.subject),
            "condition": None if t.condition is None else str(t.condition),
            "window_s": round(test.window_s, 6),
            "session": session,
            "batch": b,
            "batch_index": i,
            "minutes": round(minutes, 4),
            "n_train": len(old) + sum(len(s) for s in seen),
            "n_test": len(test),
            **scores,
            "no_ft_balanced_accuracy": no_ft,
            "scratch_balanced_accuracy": sc,
            "fit_s": round(base_fit if i == 1 else 0.0, 3),
        }
        rows.append(row)
        curves.append(
            {
                "subject": row["subject"],
                "condition": row["condition"],
                "session": session,
                "batch": b,
                "batch_index": i,
                "minutes": round(minutes, 4),
                "ft": scores["balanced_accuracy"],
                "no_ft": no_ft,
                "scratch": sc,
            }
        )
        adapt = test.subset(downsample_rest_indices(test.y, np.arange(len(test)), rest, rng))
        seen.append(adapt)
        minutes += _minutes(test)
        if i == len(batches):
            break
        t1 = time.perf_counter()
        if can_ft:
            data = Windows.concatenate(seen) if t.accumulate else adapt
            current = _ft(current, data, strategy=t.strategy, n_epochs=t.ft_epochs, lr=t.lr, valid_size=t.valid_size)
        else:
            current = _ft(
                base,
                adapt,
                strategy=t.strategy,
                old_windows=Windows.concatenate([old, *seen[:-1]]),
                random_state=seed,
                builder=lambda w: spec.build(w, seed, {**ov, "valid_size": t.base_valid_size}),
            )
        rows[-1]["fit_s"] = round(rows[-1]["fit_s"] + time.perf_counter() - t1, 3)
    return rows, curves, not can_ft


# ============================================================================ dispatch
PROTOCOLS: dict[str, Callable[..., Result]] = {
    "global": global_protocol,
    "inter_session": inter_session,
    "train_from_scratch": train_from_scratch,
    "fine_tune": fine_tune,
    "fewshot": fewshot,
    "kfold": kfold,
    "leave_one_out": leave_one_out,
    "transfer": transfer,
}
_ALIASES = {
    "inter-session": "inter_session",
    "intersession": "inter_session",
    "scratch": "train_from_scratch",
    "train-from-scratch": "train_from_scratch",
    "finetune": "fine_tune",
    "fine-tune": "fine_tune",
    "few-shot": "fewshot",
    "few_shot": "fewshot",
    "k-fold": "kfold",
    "cv": "kfold",
    "loo": "leave_one_out",
    "leave-one-out": "leave_one_out",
}


def resolve_protocol(name: str) -> str:
    """Canonical protocol name for ``name`` or an alias; ``ValidationError`` with did-you-mean otherwise."""
    key = _ALIASES.get(name, name) if isinstance(name, str) else name
    return check_option("protocol", key, PROTOCOL_NAMES)


@fill_doc
def run_protocol(
    name: str,
    dataset: Any,
    *,
    model: Any,
    window_s: float | None = None,
    condition: str | None = None,
    random_state: Any = 0,
    model_params: Mapping | None = None,
    verbose: Any = None,
    **options: Any,
) -> Result:
    """Run the protocol called ``name`` (see :data:`PROTOCOLS`); ``options`` go to that protocol.

    Parameters
    ----------
    name : str
        A protocol name (:data:`PROTOCOL_NAMES`) or an alias (``"inter-session"``, ``"cv"``, ...).
    %(dataset)s
    %(model)s
    %(window_s)s
        A list is deprecated: pass ``window_sweep=[...]`` (inter_session) instead.
    %(condition)s
    %(random_state)s
    %(model_params)s
    %(verbose)s
    **options
        The protocol's own arguments (unknown names raise ``ValidationError``).

    %(returns)s
    """
    key = resolve_protocol(name)
    fn = PROTOCOLS[key]
    import inspect

    if options.get("window_sweep") is not None and key != "inter_session":
        raise ValidationError(f"A window sweep is only run by 'inter_session', not {key!r}.")
    accepted = set(inspect.signature(fn).parameters)
    unknown = [k for k in options if k not in accepted]
    if unknown:
        from .._checks import did_you_mean

        raise ValidationError(
            f"Unknown option {unknown[0]!r} for protocol {key!r}; it takes "
            f"{', '.join(sorted(accepted - {'dataset'}))}.{did_you_mean(unknown[0], accepted)}"
        )
    if isinstance(window_s, (list, tuple, np.ndarray)):  # the 0.x form of the window sweep
        values = list(window_s)
        if len(values) > 1 and key != "inter_session":
            raise ValidationError(f"A window sweep (several window_s) is only run by 'inter_session', not {key!r}.")
        warnings.warn(
            "run_protocol(window_s=[...]) is deprecated: pass window_s=<seconds> for one length or "
            "window_sweep=[...] (inter_session) for a sweep.",
            DeprecationWarning,
            stacklevel=2,
        )
        if len(values) == 1:
            window_s = values[0]
        else:
            if options.get("window_sweep") is not None:
                raise ValidationError("Pass either window_s (one length) or window_sweep (several), not both.")
            options["window_sweep"], window_s = values, None
    window_s = check_window_s(window_s)
    result = fn(
        dataset,
        model=model,
        window_s=window_s,
        condition=condition,
        random_state=random_state,
        model_params=model_params,
        verbose=verbose,
        **options,
    )
    if not result.folds:
        raise ValidationError(
            f"Protocol {key!r} ran no fold: no windows of {window_s if window_s else 'the default'} "
            "s fit in the data, or no subject has the data the protocol needs; choose a shorter "
            "window or another protocol."
        )
    return result


__all__ = [
    "PROTOCOLS",
    "PROTOCOL_NAMES",
    "ModelSpec",
    "fine_tune",
    "global_protocol",
    "inter_session",
    "kfold",
    "leave_one_out",
    "resolve_protocol",
    "run_protocol",
    "train_from_scratch",
    "transfer",
]

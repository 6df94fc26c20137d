"""Evaluation protocols of the reference (global, inter-session, train-from-scratch, fine-tune)
and generic ones (k-fold, leave-one-out by any metadata key, explicit transfer).

Every protocol runs per subject (and per condition, separately, where the data have several),
trains a fresh model per fold, scores it with 9-class-style balanced accuracy and returns a
:class:`~.results.Result` with per-fold rows and mean ± std over subjects of per-subject means.

``dataset`` may be a :class:`~myovox.datasets.Dataset` (it is preprocessed with its own filter
and channel order, then cut into windows) or ready-made :class:`~myovox.windows.Windows`.
``model`` may be a registry name (``"speechnet"``, ``"rf"``, ``"lda"``, ``"svm"``), an
unfitted scikit-learn estimator (cloned per fold) or a callable
``f(sfreq=, n_channels=, n_times=, random_state=) -> estimator``.
"""
from __future__ import annotations

import math
import time
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .._checks import check_int, check_option, check_positive
from .._logging import logger
from ..exceptions import ValidationError
from ..windows import Windows
from . import splits as _splits
from .metrics import balanced_accuracy, classification_scores, summarize
from .results import Result

#: model names that are not neural networks (fine-tuning means retraining on old + new data)
CLASSICAL_MODELS = ("rf", "lda", "svm")


# ============================================================================ model spec
class ModelSpec:
    """Picklable recipe for a fresh, unfitted model per fold (see module docstring)."""

    def __init__(self, model: Any, params: Mapping[str, Any] | None = None) -> None:
        self.model = model
        self.params = dict(params or {})
        if isinstance(model, str):
            self.name = model
        elif hasattr(model, "fit"):
            self.name = type(model).__name__
            if self.params:
                raise ValidationError("model_params apply to a model name only; set them on the estimator instead.")
        elif callable(model):
            self.name = getattr(model, "__name__", type(model).__name__)
        else:
            raise ValidationError(
                f"Invalid value for 'model': expected a model name, an estimator or a factory, got {model!r}.")

    def build(self, windows: Windows, random_state: Any = 0, overrides: Mapping[str, Any] | None = None):
        """A new estimator for windows shaped like ``windows``.

        ``overrides`` (protocol settings such as ``valid_size``) are set where the estimator
        accepts them and ``model_params`` did not set them explicitly.
        """
        kw = dict(sfreq=windows.sfreq, n_channels=windows.n_channels, n_times=windows.n_samples,
                  random_state=random_state)
        if isinstance(self.model, str):
            from ..models.registry import make_model

            est = make_model(self.model, **kw, **self.params)
        elif hasattr(self.model, "fit"):
            from sklearn.base import clone

            est = clone(self.model)
            if "random_state" in est.get_params():
                est.set_params(random_state=random_state)
        else:
            est = self.model(**kw)
        if overrides and hasattr(est, "get_params"):
            accepted = est.get_params()
            ok = {k: v for k, v in overrides.items() if k in accepted and k not in self.params}
            if ok:
                est.set_params(**ok)
        return est

    def is_neural(self) -> bool:
        return not (isinstance(self.model, str) and self.model in CLASSICAL_MODELS)


# ============================================================================ data preparation
def _prepare(dataset: Any, window_s: float | None, condition: str | None, subjects: Sequence | None,
             preprocess: bool, causal: bool) -> tuple[Any, Callable[[float | None], Windows], dict, int | None]:
    """Return (selected data, windows_for(window_s), dataset summary, rest label)."""
    if isinstance(dataset, Windows):
        w = dataset
        if condition is not None:
            w = w.select(condition=condition)
        if subjects is not None:
            if "subject" not in w.meta:
                raise ValidationError("Cannot select subjects: the windows have no 'subject' metadata.")
            wanted = {str(v) for v in subjects}
            w = w.subset(np.isin(w.meta["subject"].astype(str), list(wanted)))
        if len(w) == 0:
            raise ValidationError(f"No windows left after selecting condition={condition!r}, subjects={subjects!r}.")

        def windows_for(ws: float | None) -> Windows:
            if ws is not None and not math.isclose(ws, w.window_s, rel_tol=1e-6, abs_tol=0.5 / w.sfreq):
                raise ValidationError(
                    f"Invalid value for 'window_s': windows given directly are {w.window_s:g} s long, got {ws:g}; "
                    "pass a Dataset to evaluate other window lengths.")
            return w

        summary = {"dataset": "windows", "n_windows": len(w), "n_channels": w.n_channels, "sfreq": w.sfreq,
                   "classes": w.class_counts()}
        return w, windows_for, summary, 0
    # a Dataset
    ds = dataset
    crit: dict[str, Any] = {}
    if condition is not None:
        crit["condition"] = condition
    if subjects is not None:
        wanted = {str(v) for v in subjects}
        crit["subject"] = lambda v: str(v) in wanted  # CLI strings match integer subject ids
    if crit:
        ds = ds.select(**crit)
    if len(ds) == 0:
        raise ValidationError(f"No recordings in dataset {dataset.name!r} for condition={condition!r}, "
                              f"subjects={None if subjects is None else list(subjects)}; "
                              f"subjects: {dataset.meta_values('subject')}, conditions: {dataset.meta_values('condition')}.")
    if preprocess:
        from ..preprocessing.pipeline import preprocess_dataset

        ds = preprocess_dataset(ds, causal=causal)
    from ..windows import make_windows

    cache: dict[Any, Windows] = {}

    def windows_for(ws: float | None) -> Windows:
        if ws not in cache:
            cache[ws] = make_windows(ds, window_s=ws)
        return cache[ws]

    rest = ds.info.get("rest_label", 0) if isinstance(ds.info, dict) else 0
    return ds, windows_for, ds.summary(), rest


def _units(w: Windows, split_subjects: bool, split_conditions: bool) -> list[tuple[str, Any, Any, np.ndarray]]:
    """(unit name, subject, condition, mask) for each subject x condition to run separately."""
    n = len(w)
    subj_col = w.meta.get("subject")
    cond_col = w.meta.get("condition")
    subjects = _splits._sorted_values(subj_col) if (split_subjects and subj_col is not None) else [None]
    conds = _splits._sorted_values(cond_col) if (split_conditions and cond_col is not None) else [None]
    several_conds = len(conds) > 1
    out = []
    for s in subjects:
        for c in conds:
            mask = np.ones(n, dtype=bool)
            if s is not None:
                mask &= subj_col == s
            if c is not None:
                mask &= cond_col == c
            if not mask.any():
                continue
            name = "all" if s is None else str(s)
            if several_conds:
                name = f"{name}/{c}"
            out.append((name, s, c, mask))
    return out


def _check_train(train: Windows, labels: Sequence[int], fold: str, unit: str, label_names: Mapping | None) -> None:
    present = set(np.unique(train.y).tolist())
    if len(present) < 2:
        raise ValidationError(f"Fold {fold!r} of {unit}: the training data hold {len(present)} class(es) "
                              f"({sorted(present)}); at least 2 are needed.")
    missing = [c for c in labels if c not in present]
    if missing:
        names = ", ".join(repr((label_names or {}).get(int(c), str(c))) for c in missing)
        warnings.warn(f"Fold {fold!r} of {unit}: class(es) {names} missing from the training data; "
                      "the model cannot predict them.", UserWarning, stacklevel=3)


def _minutes(w: Windows) -> float:
    """Minutes spanned by the windows (per recording: first window start to last window stop)."""
    if len(w) == 0:
        return 0.0
    if "recording" in w.meta and "start" in w.meta:
        start = np.asarray(w.meta["start"], dtype=float)
        stop = np.asarray(w.meta["stop"], dtype=float) if "stop" in w.meta else start + w.n_samples
        rec = w.meta["recording"]
        tot = sum(stop[rec == r].max() - start[rec == r].min() for r in np.unique(rec))
        return float(tot / w.sfreq / 60.0)
    return float(len(w) * w.window_s / 60.0)


# ============================================================================ fold execution
def _fit_score(spec: ModelSpec, w: Windows, train_idx: np.ndarray, test_idx: np.ndarray, labels: list[int],
               seed: Any, overrides: Mapping[str, Any] | None, row: dict) -> dict:
    """Fit a fresh model on ``w``'s train windows, score on its test windows; returns the fold row.

    Runs in workers: the fold's windows are cut here, so that a worker receives the unit's
    windows once (joblib memory-maps large arrays) and a serial run holds one fold's copy at a time.
    """
    train, test = w.subset(train_idx), w.subset(test_idx)
    t0 = time.perf_counter()
    est = spec.build(train, seed, overrides)
    est.fit(train.X, train.y)
    fit_s = time.perf_counter() - t0
    pred = est.predict(test.X)
    out = dict(row)
    out.update(n_train=len(train), n_test=len(test), **classification_scores(test.y, pred, labels, test.window_s),
               fit_s=round(fit_s, 3))
    return out


def _meta_subset(w: Windows, index: Any) -> Windows:
    """``w.subset(index)`` without copying the signals (a read-only zero view): for checks on labels and metadata."""
    idx = np.asarray(index)
    n = int(idx.sum()) if idx.dtype == bool else len(idx)
    X = np.broadcast_to(np.zeros((), dtype=w.X.dtype), (n,) + w.X.shape[1:])
    return Windows(X, w.y[idx], w.sfreq, w.ch_names, w.label_names, None if w.groups is None else w.groups[idx],
                   {k: v[idx] for k, v in w.meta.items()})


def _parallel(fn: Callable, tasks: list[tuple], n_jobs: int) -> list:
    if n_jobs == 1 or len(tasks) <= 1:
        return [fn(*t) for t in tasks]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(fn)(*t) for t in tasks)


def _fold_tasks(w: Windows, unit: tuple, folds: list, spec: ModelSpec, labels: list[int], seed: Any,
                overrides: Mapping | None, extra: Mapping | None = None, subject_from: str | None = None) -> list[tuple]:
    name, subject, condition, _ = unit
    tasks = []
    for f in folds:
        train, test = _meta_subset(w, f.train), _meta_subset(w, f.test)
        if len(test) == 0 or len(train) == 0:
            raise ValidationError(f"Fold {f.name!r} of {name}: {len(train)} train and {len(test)} test windows; "
                                  "too few windows for this protocol.")
        _splits.check_no_leakage(train, test, fold=f"{name}: {f.name}")
        _check_train(train, labels, f.name, name, w.label_names)
        subj = subject
        if subject_from is not None:  # cross-subject folds: the held-out subject names the row
            vals = _splits._sorted_values(test.meta[subject_from])
            subj = vals[0] if len(vals) == 1 else "+".join(map(str, vals))
        row = {"fold": f.name, "subject": "all" if subj is None else str(subj),
               "condition": None if condition is None else str(condition), "window_s": round(test.window_s, 6)}
        row.update(extra or {})
        tasks.append((spec, w, np.asarray(f.train), np.asarray(f.test), labels, seed, overrides, row))
    return tasks


def _aggregate(rows: list[dict], key: str = "balanced_accuracy", ddof: int = 0) -> tuple[dict, dict, float, float]:
    """per_subject means, per_condition summaries, overall mean/std from fold rows."""
    per_unit: dict[str, list[float]] = {}
    cond_of: dict[str, Any] = {}
    several = len({r.get("condition") for r in rows}) > 1
    for r in rows:
        u = r["subject"] if not several else f"{r['subject']}/{r.get('condition')}"
        v = r.get(key)
        if v is not None and np.isfinite(v):
            per_unit.setdefault(u, []).append(float(v))
        cond_of[u] = r.get("condition")
    per_subject = {u: float(np.mean(v)) for u, v in per_unit.items()}
    per_condition = {}
    if several:
        for c in sorted({str(v) for v in cond_of.values()}):
            vals = {u: m for u, m in per_subject.items() if str(cond_of[u]) == c}
            mean, std = summarize(vals, ddof=ddof)
            per_condition[c] = {"mean": mean, "std": std, "n_subjects": len(vals)}
    mean, std = summarize(per_subject, ddof=ddof)
    return per_subject, per_condition, mean, std


def _result(protocol: str, spec: ModelSpec, rows: list[dict], labels: list[int], label_names: Mapping | None,
            params: dict, summary: dict, t0: float, **extra: Any) -> Result:
    per_subject, per_condition, mean, std = _aggregate(rows)
    res = Result(protocol=protocol, model=spec.name, mean=mean, std=std, folds=rows, per_subject=per_subject,
                 per_condition=per_condition, labels=[int(c) for c in labels],
                 label_names={int(c): (label_names or {}).get(int(c), str(c)) for c in labels},
                 params=params, dataset=summary, **extra)
    vals = [r[res.metric] for r in rows if r.get(res.metric) is not None and np.isfinite(r[res.metric])]
    if vals:
        res.fold_mean, res.fold_std = float(np.mean(vals)), float(np.std(vals))
    res.timing["total_s"] = round(time.perf_counter() - t0, 3)
    res.timing["fit_s"] = round(sum(r.get("fit_s", 0.0) for r in rows), 3)
    return res


def _thread_overrides(overrides: Mapping | None, n_jobs: int) -> dict:
    """With several processes, one torch thread each (measured: threads oversubscribe 2 cores)."""
    out = dict(overrides or {})
    if n_jobs != 1:
        out.setdefault("n_threads", 1)
    return out


def _common(random_state: Any, n_jobs: Any) -> int:
    if random_state is not None:
        check_int("random_state", random_state)
    return check_int("n_jobs", n_jobs, minimum=-1) if n_jobs != -1 else -1


def _labels(w: Windows) -> list[int]:
    return [int(c) for c in np.unique(w.y)]


def _generic(protocol: str, dataset: Any, splitter: Callable[[Windows, Any], list], *, model: Any,
             window_s: float | None, condition: str | None, random_state: Any, model_params: Mapping | None,
             subjects: Sequence | None, n_jobs: int, rest_label: Any, preprocess: bool, causal: bool,
             split_subjects: bool = True, split_conditions: bool = True, overrides: Mapping | None = None,
             params: dict | None = None, sweep_windows: Sequence[float] | None = None,
             subject_from: str | None = None, needs: Sequence[tuple[str, int]] = ()) -> Result:
    """Shared engine: for each window length, each unit, each fold: fit, predict, score."""
    t0 = time.perf_counter()
    n_jobs = _common(random_state, n_jobs)
    spec = ModelSpec(model, model_params)
    _, windows_for, summary, ds_rest = _prepare(dataset, None, condition, subjects, preprocess, causal)
    rest = ds_rest if rest_label == "auto" else rest_label
    overrides = _thread_overrides(overrides, n_jobs)
    wins = list(sweep_windows) if sweep_windows else [window_s]
    rows: list[dict] = []
    sweep: list[dict] = []
    labels: list[int] = []
    label_names = None
    for ws in wins:
        w = windows_for(ws)
        if ws == wins[0]:
            for key, n_min in needs:
                _need_values(w, key, n_min, protocol)
        labels = labels or _labels(w)
        label_names = w.label_names
        tasks = []
        for unit in _units(w, split_subjects, split_conditions):
            uw = w.subset(unit[3])
            folds = splitter(uw, rest)
            tasks += _fold_tasks(uw, unit, folds, spec, labels, random_state, overrides, subject_from=subject_from)
        logger.info("%s: %d folds with %s at %s s windows", protocol, len(tasks), spec.name, f"{w.window_s:g}")
        wrows = _parallel(_fit_score, tasks, n_jobs)
        rows += wrows
        if sweep_windows:
            ps, _, m, s = _aggregate(wrows)
            itr = float(np.mean([r["itr_bits_per_min"] for r in wrows]))
            sweep.append({"window_s": round(w.window_s, 6), "mean": m, "std": s, "itr_mean": itr,
                          "per_subject": ps})
    params = dict(params or {})
    params.update(window_s=wins if sweep_windows else window_s, condition=condition, random_state=random_state,
                  model_params=dict(model_params or {}), subjects=None if subjects is None else list(subjects),
                  rest_label=rest, n_jobs=n_jobs)
    if sweep_windows:
        # headline: the first window length of the sweep
        first = sweep[0]["window_s"]
        head = [r for r in rows if math.isclose(r["window_s"], first)]
        res = _result(protocol, spec, head, labels, label_names, params, summary, t0, sweep=sweep)
        res.folds = rows
        res.notes.append(f"Headline score is for the first window length of the sweep ({first:g} s).")
        return res
    return _result(protocol, spec, rows, labels, label_names, params, summary, t0)


def _need_values(w: Windows, key: str, n: int, protocol: str) -> None:
    if key not in w.meta:
        raise ValidationError(f"The {protocol} protocol needs a {key!r} in the window metadata; this dataset has "
                              f"{', '.join(sorted(w.meta))}.")
    for unit in _units(w, True, True):
        vals = _splits._sorted_values(w.meta[key][unit[3]])
        if len(vals) < n:
            raise ValidationError(f"The {protocol} protocol needs at least {n} {key}{'es' if key.endswith('h') else 's'} per subject; {unit[0]} has "
                                  f"{len(vals)} ({vals}). Try protocol 'kfold' instead.")


# ============================================================================ the protocols
_DOC_COMMON = """
    Parameters
    ----------
    dataset : Dataset | Windows
    model : str | estimator | callable
    window_s : float | None
        Window length in seconds (None: the dataset's default).
    condition : str | None
        Only this condition (e.g. ``"silent"``); None runs each condition separately.
    random_state : int | None
    model_params : dict | None
        Keyword arguments of :func:`myovox.models.registry.make_model` (e.g. ``{"n_epochs": 2}``).
    subjects : sequence | None
        Only these subjects.
    n_jobs : int
        Parallel processes over folds (joblib; 1 = in process).
    rest_label : int | None | "auto"
        Class down-sampled in training pools ("auto": the dataset's, else 0; None: no down-sampling).
    preprocess : bool
        Filter a Dataset with its own filter and channel order first.
"""


def global_protocol(dataset: Any, *, model: Any, window_s: float | None = None, condition: str | None = None,
                    random_state: Any = 0, model_params: Mapping | None = None, subjects: Sequence | None = None,
                    n_jobs: int = 1, rest_label: Any = "auto", preprocess: bool = True, causal: bool = False,
                    valid_size: float = 0.2) -> Result:
    """Leave-one-batch-out per subject (test = batch b of every session); 80/20 train/validation in the model."""
    def split(uw: Windows, rest: Any) -> list:
        return _splits.leave_one_batch_out(uw, rest_label=rest, random_state=random_state)

    return _generic("global", dataset, split, model=model, window_s=window_s, condition=condition,
                    random_state=random_state, model_params=model_params, subjects=subjects, n_jobs=n_jobs,
                    rest_label=rest_label, preprocess=preprocess, causal=causal,
                    overrides={"valid_size": valid_size}, params={"valid_size": valid_size},
                    needs=(("batch", 2),))


def inter_session(dataset: Any, *, model: Any, window_s: float | Sequence[float] | None = None,
                  condition: str | None = None, random_state: Any = 0, model_params: Mapping | None = None,
                  subjects: Sequence | None = None, n_jobs: int = 1, rest_label: Any = "auto",
                  preprocess: bool = True, causal: bool = False, valid_size: float = 0.2) -> Result:
    """Leave-one-session-out per subject; ``window_s`` may be a list (window sweep, e.g. 0.4-1.4 s)."""
    sweep = None
    if isinstance(window_s, (list, tuple, np.ndarray)):
        sweep = [check_positive("window_s", float(v), "number of seconds") for v in window_s]
        if not sweep:
            raise ValidationError("Invalid value for 'window_s': the window sweep list is empty.")

    def split(uw: Windows, rest: Any) -> list:
        return _splits.leave_one_session_out(uw, rest_label=rest, random_state=random_state)

    return _generic("inter_session", dataset, split, model=model, window_s=None if sweep else window_s,
                    condition=condition, random_state=random_state, model_params=model_params, subjects=subjects,
                    n_jobs=n_jobs, rest_label=rest_label, preprocess=preprocess, causal=causal,
                    overrides={"valid_size": valid_size}, params={"valid_size": valid_size}, sweep_windows=sweep,
                    needs=(("session", 2),))


def kfold(dataset: Any, *, model: Any, n_splits: int = 5, group_by: str | None = None, window_s: float | None = None,
          condition: str | None = None, random_state: Any = 0, model_params: Mapping | None = None,
          subjects: Sequence | None = None, n_jobs: int = 1, rest_label: Any = "auto", preprocess: bool = True,
          causal: bool = False, valid_size: float = 0.2) -> Result:
    """Shuffled stratified k-fold per subject (``group_by`` keeps groups such as trials together)."""
    def split(uw: Windows, rest: Any) -> list:
        return _splits.stratified_kfold(uw, n_splits, random_state=random_state, rest_label=rest, group_by=group_by)

    return _generic("kfold", dataset, split, model=model, window_s=window_s, condition=condition,
                    random_state=random_state, model_params=model_params, subjects=subjects, n_jobs=n_jobs,
                    rest_label=rest_label, preprocess=preprocess, causal=causal, overrides={"valid_size": valid_size},
                    params={"n_splits": n_splits, "group_by": group_by, "valid_size": valid_size})


def leave_one_out(dataset: Any, *, model: Any, by: str, window_s: float | None = None, condition: str | None = None,
                  random_state: Any = 0, model_params: Mapping | None = None, subjects: Sequence | None = None,
                  n_jobs: int = 1, rest_label: Any = "auto", preprocess: bool = True, causal: bool = False,
                  valid_size: float = 0.2) -> Result:
    """Leave one value of ``meta[by]`` out (per subject; across subjects when ``by="subject"``)."""
    if not isinstance(by, str) or not by:
        raise ValidationError(f"Invalid value for 'by': expected a metadata key such as 'session', got {by!r}.")

    def split(uw: Windows, rest: Any) -> list:
        return _splits.leave_one_group_out(uw, by, rest_label=rest, random_state=random_state)

    return _generic(f"leave_one_{by}_out", dataset, split, model=model, window_s=window_s, condition=condition,
                    random_state=random_state, model_params=model_params, subjects=subjects, n_jobs=n_jobs,
                    rest_label=rest_label, preprocess=preprocess, causal=causal,
                    split_subjects=by != "subject", split_conditions=by != "condition",
                    overrides={"valid_size": valid_size}, params={"by": by, "valid_size": valid_size},
                    subject_from="subject" if by == "subject" else None)


def transfer(dataset: Any, *, model: Any, train: Mapping[str, Any], test: Mapping[str, Any],
             window_s: float | None = None, condition: str | None = None, random_state: Any = 0,
             model_params: Mapping | None = None, subjects: Sequence | None = None, n_jobs: int = 1,
             rest_label: Any = "auto", preprocess: bool = True, causal: bool = False,
             valid_size: float = 0.2) -> Result:
    """Train on windows matching ``train`` (e.g. ``{"phase": "Overt"}``), test on ``test``, per subject."""
    if not isinstance(train, Mapping) or not isinstance(test, Mapping) or not train or not test:
        raise ValidationError("transfer needs train= and test= selections, e.g. train={'condition': 'vocalized'}, "
                              "test={'condition': 'silent'}.")
    keys = set(train) | set(test)

    def split(uw: Windows, rest: Any) -> list:
        return _splits.train_test_by_meta(uw, train, test, rest_label=rest, random_state=random_state)

    return _generic("transfer", dataset, split, model=model, window_s=window_s, condition=condition,
                    random_state=random_state, model_params=model_params, subjects=subjects, n_jobs=n_jobs,
                    rest_label=rest_label, preprocess=preprocess, causal=causal,
                    split_subjects="subject" not in keys, split_conditions="condition" not in keys,
                    overrides={"valid_size": valid_size},
                    params={"train": dict(train), "test": dict(test), "valid_size": valid_size},
                    subject_from="subject" if "subject" in keys else None)


def train_from_scratch(dataset: Any, *, model: Any, window_s: float | None = None, condition: str | None = None,
                       random_state: Any = 0, model_params: Mapping | None = None, subjects: Sequence | None = None,
                       n_jobs: int = 1, rest_label: Any = "auto", preprocess: bool = True, causal: bool = False,
                       valid_size: float = 0.3) -> Result:
    """Per session on its own: test on batch b with a model trained on batches < b (70/30 train/validation)."""
    def split(uw: Windows, rest: Any) -> list:
        folds = []
        for s in _splits._sorted_values(uw.meta["session"]):
            idx = np.flatnonzero(uw.meta["session"] == s)
            for f in _splits.progressive_batches(uw.subset(idx), rest_label=rest, random_state=random_state):
                folds.append(_splits.Fold(f"session={s},{f.name}", idx[f.train], idx[f.test],
                                          {**f.info, "session": s}))
        return folds

    return _generic("train_from_scratch", dataset, split, model=model, window_s=window_s, condition=condition,
                    random_state=random_state, model_params=model_params, subjects=subjects, n_jobs=n_jobs,
                    rest_label=rest_label, preprocess=preprocess, causal=causal,
                    overrides={"valid_size": valid_size}, params={"valid_size": valid_size},
                    needs=(("session", 1), ("batch", 2)))


def fine_tune(dataset: Any, *, model: Any, window_s: float | None = None, condition: str | None = None,
              random_state: Any = 0, model_params: Mapping | None = None, subjects: Sequence | None = None,
              n_jobs: int = 1, rest_label: Any = "auto", preprocess: bool = True, causal: bool = False,
              strategy: str = "all", ft_epochs: int = 50, lr: float = 1e-3, valid_size: float = 0.3,
              base_valid_size: float = 0.2, accumulate: bool = False, scratch: bool = True,
              test_sessions: Sequence | None = None) -> Result:
    """Incremental adaptation to a new session, per subject and held-out session.

    The base model is trained on the other sessions (as in ``inter_session``). For each batch b
    of the new session, in order: score the base model on b (``no_ft``), score the adapted model
    on b (``ft``; before the first batch it is the base model), score a model trained from
    scratch on the new session's batches < b (``scratch``), then adapt on b: fine-tune
    (``strategy`` ``"all"`` as the reference, ``"head"`` or ``"bn"``; ``ft_epochs`` epochs,
    ``valid_size`` validation split; ``accumulate=True`` fine-tunes on all new batches <= b
    instead of b only). Models without ``fine_tune`` (rf, lda, svm) are retrained on old + new
    data instead; the result says so. The headline score is the mean ``ft`` over batches after
    at least one adaptation step. ``test_sessions`` restricts which sessions are held out
    (default: each in turn).
    """
    check_option("strategy", strategy, ("all", "head", "bn"))
    ft_epochs = check_int("ft_epochs", ft_epochs, minimum=1)
    t0 = time.perf_counter()
    n_jobs = _common(random_state, n_jobs)
    spec = ModelSpec(model, model_params)
    _, windows_for, summary, ds_rest = _prepare(dataset, window_s, condition, subjects, preprocess, causal)
    rest = ds_rest if rest_label == "auto" else rest_label
    w = windows_for(window_s)
    _need_values(w, "session", 2, "fine_tune")
    _need_values(w, "batch", 2, "fine_tune")
    labels = _labels(w)
    tasks = []
    for unit in _units(w, True, True):
        uw = w.subset(unit[3])
        for s in _splits._sorted_values(uw.meta["session"]):
            if test_sessions is not None and s not in test_sessions and str(s) not in map(str, test_sessions):
                continue
            tasks.append((spec, uw, unit[0], unit[1], unit[2], s, labels, rest, random_state, strategy, ft_epochs, lr,
                          valid_size, base_valid_size, accumulate, scratch, _thread_overrides(None, n_jobs)))
    logger.info("fine_tune: %d subject x session runs with %s", len(tasks), spec.name)
    outs = _parallel(_fine_tune_unit, tasks, n_jobs)
    rows = [r for o in outs for r in o[0]]
    curves = [c for o in outs for c in o[1]]
    retrained = any(o[2] for o in outs)
    head = [r for r in rows if r["batch_index"] >= 2]
    params = {"window_s": window_s, "condition": condition, "random_state": random_state, "strategy": strategy,
              "ft_epochs": ft_epochs, "lr": lr, "valid_size": valid_size, "accumulate": accumulate,
              "model_params": dict(model_params or {}), "rest_label": rest, "n_jobs": n_jobs,
              "subjects": None if subjects is None else list(subjects),
              "test_sessions": None if test_sessions is None else list(test_sessions)}
    if not tasks:
        raise ValidationError(f"fine_tune: none of the test_sessions {list(test_sessions or [])} is in the data "
                              f"(sessions: {_splits._sorted_values(w.meta['session'])}).")
    res = _result("fine_tune", spec, head, labels, w.label_names, params, summary, t0, curves=curves)
    res.folds = rows
    res.notes.append("Headline: mean fine-tuned balanced accuracy over new-session batches after at least one "
                     "adaptation step (no_ft and scratch are in the curves and fold rows).")
    if retrained:
        res.notes.append(f"{spec.name} has no fine-tuning: 'ft' retrains it on the old sessions plus the new "
                         "session's batches seen so far.")
    return res


def _fine_tune_unit(spec: ModelSpec, uw: Windows, unit: str, subject: Any, condition: Any, session: Any,
                    labels: list[int], rest: Any, seed: Any, strategy: str, ft_epochs: int, lr: float,
                    valid_size: float, base_valid_size: float, accumulate: bool, scratch: bool,
                    ov: dict) -> tuple[list[dict], list[dict], bool]:
    from ..adaptation.finetune import fine_tune as _ft

    rng = np.random.default_rng(seed)
    sess = uw.meta["session"]
    old_idx = _splits.downsample_rest_indices(uw.y, np.flatnonzero(sess != session), rest, rng)
    old = uw.subset(old_idx)
    new = uw.subset(sess == session)
    fold0 = f"{unit}: session={session}"
    _check_train(old, labels, f"session={session}", unit, uw.label_names)
    t0 = time.perf_counter()
    base = spec.build(old, seed, {**ov, "valid_size": base_valid_size})
    base.fit(old.X, old.y)
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
        scores = classification_scores(test.y, current.predict(test.X), labels, test.window_s)
        sc = float("nan")
        if scratch and seen:
            pool = Windows.concatenate(seen)
            pool = pool.subset(_splits.downsample_rest_indices(pool.y, np.arange(len(pool)), rest, rng))
            if len(np.unique(pool.y)) >= 2:
                est = spec.build(pool, seed, {**ov, "valid_size": valid_size})
                est.fit(pool.X, pool.y)
                sc = balanced_accuracy(test.y, est.predict(test.X))
        row = {"fold": f"session={session},batch={b}", "subject": "all" if subject is None else str(subject),
               "condition": None if condition is None else str(condition), "window_s": round(test.window_s, 6),
               "session": session, "batch": b, "batch_index": i, "minutes": round(minutes, 4),
               "n_train": len(old) + sum(len(s) for s in seen), "n_test": len(test), **scores,
               "no_ft_balanced_accuracy": no_ft, "scratch_balanced_accuracy": sc,
               "fit_s": round(base_fit if i == 1 else 0.0, 3)}
        rows.append(row)
        curves.append({"subject": row["subject"], "condition": row["condition"], "session": session, "batch": b,
                       "batch_index": i, "minutes": round(minutes, 4), "ft": scores["balanced_accuracy"],
                       "no_ft": no_ft, "scratch": sc})
        adapt = test.subset(_splits.downsample_rest_indices(test.y, np.arange(len(test)), rest, rng))
        seen.append(adapt)
        minutes += _minutes(test)
        if i == len(batches):
            break
        t1 = time.perf_counter()
        if can_ft:
            data = Windows.concatenate(seen) if accumulate else adapt
            current = _ft(current, data, strategy=strategy, n_epochs=ft_epochs, lr=lr, valid_size=valid_size)
        else:
            current = _ft(base, adapt, strategy=strategy, old_windows=Windows.concatenate([old, *seen[:-1]]),
                          random_state=seed, builder=lambda w: spec.build(w, seed, {**ov, "valid_size": base_valid_size}))
        rows[-1]["fit_s"] = round(rows[-1]["fit_s"] + time.perf_counter() - t1, 3)
    return rows, curves, not can_ft


# ============================================================================ dispatch
PROTOCOLS: dict[str, Callable[..., Result]] = {
    "global": global_protocol,
    "inter_session": inter_session,
    "train_from_scratch": train_from_scratch,
    "fine_tune": fine_tune,
    "kfold": kfold,
    "leave_one_out": leave_one_out,
    "transfer": transfer,
}
_ALIASES = {"inter-session": "inter_session", "intersession": "inter_session", "scratch": "train_from_scratch",
            "train-from-scratch": "train_from_scratch", "finetune": "fine_tune", "fine-tune": "fine_tune",
            "k-fold": "kfold", "cv": "kfold", "loo": "leave_one_out", "leave-one-out": "leave_one_out"}


def resolve_protocol(name: str) -> str:
    """Canonical protocol name for ``name`` or an alias; ``ValidationError`` with did-you-mean otherwise."""
    key = _ALIASES.get(name, name) if isinstance(name, str) else name
    return check_option("protocol", key, PROTOCOLS)


def run_protocol(name: str, dataset: Any, *, model: Any, window_s: float | Sequence[float] | None = None,
                 condition: str | None = None, random_state: Any = 0, model_params: Mapping | None = None,
                 **options: Any) -> Result:
    """Run the protocol called ``name`` (see :data:`PROTOCOLS`); ``options`` go to that protocol."""
    key = resolve_protocol(name)
    fn = PROTOCOLS[key]
    import inspect

    accepted = set(inspect.signature(fn).parameters)
    unknown = [k for k in options if k not in accepted]
    if unknown:
        from .._checks import did_you_mean

        raise ValidationError(f"Unknown option {unknown[0]!r} for protocol {key!r}; it takes "
                              f"{', '.join(sorted(accepted - {'dataset'}))}.{did_you_mean(unknown[0], accepted)}")
    if isinstance(window_s, (list, tuple)) and key != "inter_session":
        if len(window_s) != 1:
            raise ValidationError(f"A window sweep (several window_s) is only run by 'inter_session', not {key!r}.")
        window_s = window_s[0]
    result = fn(dataset, model=model, window_s=window_s, condition=condition, random_state=random_state,
                model_params=model_params, **options)
    if not result.folds:
        raise ValidationError(f"Protocol {key!r} ran no fold: no windows of {window_s if window_s else 'the default'} "
                              "s fit in the data, or no subject has the data the protocol needs; choose a shorter "
                              "window or another protocol.")
    return result


__all__ = ["CLASSICAL_MODELS", "ModelSpec", "PROTOCOLS", "fine_tune", "global_protocol", "inter_session", "kfold",
           "leave_one_out", "resolve_protocol", "run_protocol", "train_from_scratch", "transfer"]

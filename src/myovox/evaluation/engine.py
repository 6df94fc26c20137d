"""The fold engine behind every evaluation protocol.

What the protocols share lives here: :class:`ModelSpec` (a fresh, unfitted model per fold from a
registry name, an estimator or a factory), the preparation of a dataset into windows (one call of
:func:`myovox.preprocessing.pipeline.dataset_windows` per window length), the units (subject x
condition) run separately, fold tasks and their checks (leakage, classes present), a parallel
runner with a progress bar, and the aggregation of fold rows into a :class:`~.results.Result`.
The shared parameters of the protocols are documented once, in :data:`docdict`, and filled into
their docstrings by :func:`fill_doc`.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._checks import check_int, check_positive
from .._logging import logger, progress
from ..exceptions import ValidationError
from ..windows import Windows
from . import splits as _splits
from .metrics import classification_scores, summarize
from .results import Result

# ============================================================================ shared docstrings
#: the parameters every protocol takes, documented once (filled into ``%(name)s`` by :func:`fill_doc`)
docdict: dict[str, str] = {
    "dataset": """dataset : Dataset | Windows
    A :class:`~myovox.dataset.Dataset` (preprocessed with its own filter and channel order unless
    ``preprocess=False``, then cut into windows) or ready-made :class:`~myovox.windows.Windows`.""",
    "model": """model : str | estimator | callable
    A registry name (``"speechnet"``, ``"rf"``, ``"lda"``, ``"svm"``), an unfitted scikit-learn
    estimator (cloned per fold) or a callable ``f(sfreq=, n_channels=, n_times=, random_state=)``
    returning an estimator.""",
    "window_s": """window_s : float | None
    Window length in seconds (None: the dataset's default). Windows given directly must already
    have this length.""",
    "condition": """condition : str | None
    Only this condition (e.g. ``"silent"``); None runs each condition separately.""",
    "random_state": """random_state : int | None
    Seed of the splits, the rest down-sampling and the models.""",
    "model_params": """model_params : dict | None
    Keyword arguments of :func:`myovox.models.registry.make_model` (e.g. ``{"n_epochs": 2}``);
    for a model name only.""",
    "subjects": """subjects : sequence | None
    Only these subjects (compared as strings).""",
    "n_jobs": """n_jobs : int
    Parallel processes over folds (joblib; 1 = in this process, -1 = every core).""",
    "rest_label": """rest_label : int | None | "auto"
    Class down-sampled in training pools to the mean per-word count ("auto": the dataset's
    ``info["rest_label"]``, else 0; None: no down-sampling).""",
    "preprocess": """preprocess : bool
    Filter a Dataset with its own filter and channel order before cutting windows.""",
    "causal": """causal : bool
    Filter causally (as a live stream is filtered) instead of zero-phase.""",
    "augment": """augment : str | sequence of str | None
    Augmented copies of every training pool (``"shift,gain,time,noise"``, any subset; see
    :func:`myovox.adaptation.augment_windows`); None: none.
augment_copies : int
    Augmented copies per training window (default 1).""",
    "valid_size": """valid_size : float
    Validation fraction of the training pool inside neural models (early stopping).""",
    "adapt": """adapt : {"none", "standardize", "bn"}
    Label-free adaptation to the new (test) session, from its unlabelled windows (transductive):
    ``"standardize"`` divides every session's channels by that session's RMS, in training and
    test alike (any model); ``"bn"`` re-estimates the network's batch-norm statistics on the
    test session (SpeechNet). See :mod:`myovox.adaptation.label_free`.""",
    "adapt_first": """adapt_first : float | None
    Adapt on the first fraction of each test session only (recording order: batch, then trial) and
    score the rest, as a live system that calibrates on the first minutes; every method, ``"none"``
    included, is then scored on the same rest. None: transductive (the whole test session).""",
    "verbose": """verbose : bool | str | int | None
    Log level for this call (None: the level of :func:`myovox.set_log_level`; True: INFO,
    False: WARNING, or a level name). At INFO or below, on a terminal, a progress bar runs over
    the folds.""",
    "returns": """Returns
-------
Result
    Per-fold rows, per-subject means and mean ± std over subjects (see :class:`~.results.Result`).""",
}
_COMMON = (
    "dataset",
    "model",
    "window_s",
    "condition",
    "random_state",
    "model_params",
    "subjects",
    "n_jobs",
    "rest_label",
    "preprocess",
    "causal",
    "augment",
)
docdict["common"] = "\n".join(docdict[k] for k in _COMMON)


def fill_doc(func: Callable) -> Callable:
    """Fill ``%(key)s`` in ``func``'s docstring from :data:`docdict`, indented as the placeholder is.

    As MNE's ``fill_doc``: each entry is written once above; a docstring names the ones it needs.
    """
    doc = func.__doc__
    if not doc:
        return func
    out: list[str] = []
    for line in doc.split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("%(") and stripped.endswith(")s"):
            key = stripped[2:-2]
            if key not in docdict:
                raise KeyError(f"{func.__name__}: no shared docstring entry {key!r}.")
            indent = line[: len(line) - len(stripped)]
            out.extend(indent + part if part else part for part in docdict[key].split("\n"))
        else:
            out.append(line)
    func.__doc__ = "\n".join(out)
    return func


# ============================================================================ model spec
class ModelSpec:
    """Picklable recipe for a fresh, unfitted model per fold (see module docstring)."""

    def __init__(
        self,
        model: Any,
        params: Mapping[str, Any] | None = None,
        augment: Sequence[str] = (),
        augment_copies: int = 1,
    ) -> None:
        self.model = model
        self.params = dict(params or {})
        self.augment = tuple(augment)
        self.augment_copies = int(augment_copies)
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
                f"Invalid value for 'model': expected a model name, an estimator or a factory, got {model!r}."
            )

    def build(self, windows: Windows, random_state: Any = 0, overrides: Mapping[str, Any] | None = None) -> Any:
        """A new estimator for windows shaped like ``windows``.

        ``overrides`` (protocol settings such as ``valid_size``) are set where the estimator
        accepts them and ``model_params`` did not set them explicitly.
        """
        kw = dict(
            sfreq=windows.sfreq, n_channels=windows.n_channels, n_times=windows.n_samples, random_state=random_state
        )
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

    def fit(self, windows: Windows, random_state: Any = 0, overrides: Mapping[str, Any] | None = None) -> Any:
        """A new estimator (:meth:`build`) fitted on ``windows`` and, with ``augment``, their augmented copies."""
        est = self.build(windows, random_state, overrides)
        if self.augment:
            from ..adaptation.augment import augment_windows

            windows = augment_windows(windows, self.augment, n_copies=self.augment_copies, random_state=random_state)
        est.fit(windows.X, windows.y)
        return est

    def is_neural(self) -> bool:
        from ..models.classical import CLASSICAL_MODELS

        return not (isinstance(self.model, str) and self.model in CLASSICAL_MODELS)

    def __repr__(self) -> str:
        return f"<ModelSpec {self.name!r}{' ' + str(self.params) if self.params else ''}>"


# ============================================================================ data preparation
def check_window_s(window_s: Any) -> float | None:
    """``window_s`` as a positive float or None, checked where the API is called.

    A list is refused with a pointer to ``window_sweep`` (the inter-session window sweep).
    """
    if window_s is None:
        return None
    if isinstance(window_s, (list, tuple, np.ndarray)):
        raise ValidationError(
            f"Invalid value for 'window_s': expected one window length in seconds, got {list(window_s)!r}; "
            "for a window sweep pass window_sweep=[...] to the inter_session protocol."
        )
    return check_positive("window_s", window_s, "window length in seconds")


def check_window_sweep(window_sweep: Any) -> list[float] | None:
    """A window sweep as a non-empty list of positive floats (None: no sweep)."""
    if window_sweep is None:
        return None
    if isinstance(window_sweep, (str, bytes)) or not hasattr(window_sweep, "__iter__"):
        raise ValidationError(
            f"Invalid value for 'window_sweep': expected a list of window lengths in seconds, got {window_sweep!r}."
        )
    sweep = [check_positive("window_sweep", v, "window length in seconds") for v in window_sweep]
    if not sweep:
        raise ValidationError("Invalid value for 'window_sweep': the list of window lengths is empty.")
    return sweep


def _prepare(
    dataset: Any, condition: str | None, subjects: Sequence | None, preprocess: bool, causal: bool
) -> tuple[Any, Callable[[float | None], Windows], dict, int | None]:
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

        def given(ws: float | None) -> Windows:
            if ws is not None and not math.isclose(ws, w.window_s, rel_tol=1e-6, abs_tol=0.5 / w.sfreq):
                raise ValidationError(
                    f"Invalid value for 'window_s': windows given directly are {w.window_s:g} s long, got {ws:g}; "
                    "pass a Dataset to evaluate other window lengths."
                )
            return w

        summary = {
            "dataset": "windows",
            "n_windows": len(w),
            "n_channels": w.n_channels,
            "sfreq": w.sfreq,
            "classes": w.class_counts(),
        }
        return w, given, summary, 0
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
        raise ValidationError(
            f"No recordings in dataset {dataset.name!r} for condition={condition!r}, "
            f"subjects={None if subjects is None else list(subjects)}; "
            f"subjects: {dataset.meta_values('subject')}, "
            f"conditions: {dataset.meta_values('condition')}."
        )
    from ..preprocessing.pipeline import dataset_windows

    cache: dict[Any, Windows] = {}

    def windows_for(ws: float | None) -> Windows:
        if ws not in cache:
            cache[ws] = dataset_windows(ds, window_s=ws, causal=causal, preprocess=preprocess)
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
        raise ValidationError(
            f"Fold {fold!r} of {unit}: the training data hold {len(present)} class(es) "
            f"({sorted(present)}); at least 2 are needed."
        )
    missing = [c for c in labels if c not in present]
    if missing:
        names = ", ".join(repr((label_names or {}).get(int(c), str(c))) for c in missing)
        warnings.warn(
            f"Fold {fold!r} of {unit}: class(es) {names} missing from the training data; "
            "the model cannot predict them.",
            UserWarning,
            stacklevel=3,
        )


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
@dataclass
class FoldTask:
    """One fold to fit and score: the unit's windows, train/test indices into them, the fold's row."""

    spec: ModelSpec
    windows: Windows
    train: np.ndarray
    test: np.ndarray
    labels: list[int]
    seed: Any
    overrides: Mapping[str, Any] | None
    row: dict = field(default_factory=dict)
    adapt: str = "none"  # label-free adaptation to each test session (myovox.adaptation.ADAPT_METHODS)
    adapt_by: str | None = "session"  # the metadata column that names a test session (None: the whole test)
    adapt_first: float | None = None  # adapt on this first fraction of each test session, score the rest


def fit_score(task: FoldTask) -> dict:
    """Fit a fresh model on the task's train windows, score on its test windows; returns the fold row.

    Runs in workers: the fold's windows are cut here, so that a worker receives the unit's
    windows once (joblib memory-maps large arrays) and a serial run holds one fold's copy at a time.
    """
    from ..adaptation import first_part, predict_adapted, standardize_sessions

    w = task.windows
    train, test = w.subset(task.train), w.subset(task.test)
    reference = None  # the unlabelled windows adapted on: the whole test session (transductive) or its beginning
    if task.adapt_first is not None:  # every method scores the same rest, "none" included
        first, rest = first_part(test, task.adapt_first, task.adapt_by)
        reference, test = test.subset(first), test.subset(rest)
    if task.adapt == "standardize":  # each session by its own channel RMS, the test session's unlabelled
        train = standardize_sessions(train, task.adapt_by)
        test = standardize_sessions(test, task.adapt_by, reference=reference)
    t0 = time.perf_counter()
    est = task.spec.fit(train, task.seed, task.overrides)
    fit_s = time.perf_counter() - t0
    pred = predict_adapted(est, test, task.adapt, task.adapt_by, reference=reference)
    out = dict(task.row)
    out.update(
        n_train=len(train),
        n_test=len(test),
        **classification_scores(test.y, pred, task.labels, test.window_s),
        fit_s=round(fit_s, 3),
    )
    return out


def _meta_subset(w: Windows, index: Any) -> Windows:
    """``w.subset(index)`` without copying the signals (a read-only zero view): for checks on labels and metadata."""
    idx = np.asarray(index)
    n = int(idx.sum()) if idx.dtype == bool else len(idx)
    X = np.broadcast_to(np.zeros((), dtype=w.X.dtype), (n, *w.X.shape[1:]))
    return Windows(
        X,
        w.y[idx],
        w.sfreq,
        w.ch_names,
        w.label_names,
        None if w.groups is None else w.groups[idx],
        {k: v[idx] for k, v in w.meta.items()},
    )


def run_parallel(fn: Callable[[Any], Any], tasks: Sequence[Any], n_jobs: int, desc: str | None = None) -> list:
    """``[fn(t) for t in tasks]``, over ``n_jobs`` joblib processes when > 1, with a progress bar.

    The bar (:func:`myovox._logging.progress`) shows at log level INFO or below, on a terminal only.
    """
    tasks = list(tasks)
    if n_jobs == 1 or len(tasks) <= 1:
        return [fn(t) for t in progress(tasks, total=len(tasks), desc=desc, unit="fold")]
    from joblib import Parallel, delayed

    gen = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(fn)(t) for t in tasks)
    return list(progress(gen, total=len(tasks), desc=desc, unit="fold"))


def fold_tasks(
    w: Windows,
    unit: tuple,
    folds: list,
    spec: ModelSpec,
    labels: list[int],
    seed: Any,
    overrides: Mapping | None,
    extra: Mapping | None = None,
    subject_from: str | None = None,
    adapt: str = "none",
    adapt_by: str | None = "session",
    adapt_first: float | None = None,
) -> list[FoldTask]:
    """Check each fold (windows on both sides, no leakage, classes present) and make its task."""
    name, subject, condition, _ = unit
    tasks = []
    for f in folds:
        train, test = _meta_subset(w, f.train), _meta_subset(w, f.test)
        if len(test) == 0 or len(train) == 0:
            raise ValidationError(
                f"Fold {f.name!r} of {name}: {len(train)} train and {len(test)} test windows; "
                "too few windows for this protocol."
            )
        _splits.check_no_leakage(train, test, fold=f"{name}: {f.name}")
        _check_train(train, labels, f.name, name, w.label_names)
        subj = subject
        if subject_from is not None:  # cross-subject folds: the held-out subject names the row
            vals = _splits._sorted_values(test.meta[subject_from])
            subj = vals[0] if len(vals) == 1 else "+".join(map(str, vals))
        row = {
            "fold": f.name,
            "subject": "all" if subj is None else str(subj),
            "condition": None if condition is None else str(condition),
            "window_s": round(test.window_s, 6),
        }
        row.update(extra or {})
        tasks.append(
            FoldTask(
                spec, w, np.asarray(f.train), np.asarray(f.test), labels, seed, overrides, row, adapt, adapt_by,
                adapt_first,
            )
        )  # fmt: skip
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


def _result(
    protocol: str,
    spec: ModelSpec,
    rows: list[dict],
    labels: list[int],
    label_names: Mapping | None,
    params: dict,
    summary: dict,
    t0: float,
    **extra: Any,
) -> Result:
    per_subject, per_condition, mean, std = _aggregate(rows)
    res = Result(
        protocol=protocol,
        model=spec.name,
        mean=mean,
        std=std,
        folds=rows,
        per_subject=per_subject,
        per_condition=per_condition,
        labels=[int(c) for c in labels],
        label_names={int(c): (label_names or {}).get(int(c), str(c)) for c in labels},
        params=params,
        dataset=summary,
        **extra,
    )
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


@dataclass
class RunSettings:
    """The arguments every protocol shares (see :data:`docdict`), checked once where the API is called.

    ``window_s`` becomes a float or None (a list is refused: the sweep is ``window_sweep``),
    ``n_jobs`` an int >= 1 or -1, ``random_state`` an int or None.
    """

    model: Any
    window_s: float | None = None
    condition: str | None = None
    random_state: Any = 0
    model_params: Mapping | None = None
    subjects: Sequence | None = None
    n_jobs: int = 1
    rest_label: Any = "auto"
    preprocess: bool = True
    causal: bool = False
    augment: Any = None
    augment_copies: int = 1

    def __post_init__(self) -> None:
        from ..adaptation.augment import parse_augment

        self.window_s = check_window_s(self.window_s)
        if self.random_state is not None:
            check_int("random_state", self.random_state)
        self.n_jobs = check_int("n_jobs", self.n_jobs, minimum=-1) if self.n_jobs != -1 else -1
        if self.n_jobs == 0:
            raise ValidationError("Invalid value for 'n_jobs': expected a positive number of processes or -1, got 0.")
        self.augment = parse_augment(self.augment)
        self.augment_copies = check_int("augment_copies", self.augment_copies, minimum=1)
        self.spec = ModelSpec(self.model, self.model_params, self.augment, self.augment_copies)

    def params(self, rest: Any, **extra: Any) -> dict:
        """The run's arguments as recorded in ``Result.params`` (``extra`` first, then the shared ones)."""
        out = dict(extra)
        out.setdefault("window_s", self.window_s)
        out.update(
            condition=self.condition,
            random_state=self.random_state,
            model_params=dict(self.model_params or {}),
            subjects=None if self.subjects is None else list(self.subjects),
            rest_label=rest,
            n_jobs=self.n_jobs,
        )
        if self.augment:
            out.update(augment=list(self.augment), augment_copies=self.augment_copies)
        return out


def _labels(w: Windows) -> list[int]:
    return [int(c) for c in np.unique(w.y)]


def run_folds(
    protocol: str,
    dataset: Any,
    splitter: Callable[[Windows, Any], list],
    settings: RunSettings,
    *,
    split_subjects: bool = True,
    split_conditions: bool = True,
    overrides: Mapping | None = None,
    params: dict | None = None,
    window_sweep: Sequence[float] | None = None,
    subject_from: str | None = None,
    needs: Sequence[tuple[str, int]] = (),
    adapt: str = "none",
    adapt_by: str | None = "session",
    adapt_first: float | None = None,
) -> Result:
    """The engine: for each window length, each unit (subject x condition), each fold: fit, predict, score.

    ``splitter(unit_windows, rest_label)`` returns the unit's :class:`~.splits.Fold` list;
    ``needs`` are (metadata key, minimum distinct values per subject) the protocol requires;
    ``subject_from`` names the metadata key whose held-out value names a row (cross-subject folds);
    ``adapt`` is the label-free adaptation to each test session (:data:`myovox.adaptation.ADAPT_METHODS`),
    whose windows ``adapt_by`` groups (None: the fold's whole test set); ``adapt_first`` adapts on
    that first fraction of each test session only and scores the rest.
    """
    t0 = time.perf_counter()
    st = settings
    spec = st.spec
    _, windows_for, summary, ds_rest = _prepare(dataset, st.condition, st.subjects, st.preprocess, st.causal)
    rest = ds_rest if st.rest_label == "auto" else st.rest_label
    overrides = _thread_overrides(overrides, st.n_jobs)
    wins = list(window_sweep) if window_sweep else [st.window_s]
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
        tasks: list[FoldTask] = []
        for unit in _units(w, split_subjects, split_conditions):
            uw = w.subset(unit[3])
            folds = splitter(uw, rest)
            tasks += fold_tasks(
                uw,
                unit,
                folds,
                spec,
                labels,
                st.random_state,
                overrides,
                subject_from=subject_from,
                adapt=adapt,
                adapt_by=adapt_by,
                adapt_first=adapt_first,
            )
        logger.info("%s: %d folds with %s at %s s windows", protocol, len(tasks), spec.name, f"{w.window_s:g}")
        wrows = run_parallel(fit_score, tasks, st.n_jobs, desc=f"{protocol} {w.window_s:g} s")
        rows += wrows
        if window_sweep:
            ps, _, m, s = _aggregate(wrows)
            itr = float(np.mean([r["itr_bits_per_min"] for r in wrows]))
            sweep.append({"window_s": round(w.window_s, 6), "mean": m, "std": s, "itr_mean": itr, "per_subject": ps})
    params = dict(params or {})
    if window_sweep:
        params["window_s"] = wins  # results.json keeps the sweep under window_s
    params = st.params(rest, **params)
    if window_sweep:
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
        raise ValidationError(
            f"The {protocol} protocol needs a {key!r} in the window metadata; this dataset has "
            f"{', '.join(sorted(w.meta))}."
        )
    for unit in _units(w, True, True):
        vals = _splits._sorted_values(w.meta[key][unit[3]])
        if len(vals) < n:
            plural = f"{key}es" if key.endswith("h") else f"{key}s"
            raise ValidationError(
                f"The {protocol} protocol needs at least {n} {plural} per subject; {unit[0]} has "
                f"{len(vals)} ({vals}). Try protocol 'kfold' instead."
            )


__all__ = [
    "FoldTask",
    "ModelSpec",
    "RunSettings",
    "check_window_s",
    "check_window_sweep",
    "docdict",
    "fill_doc",
    "fit_score",
    "fold_tasks",
    "run_folds",
    "run_parallel",
]

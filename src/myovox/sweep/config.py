"""A sweep's configuration (YAML at the command line, a dictionary in Python) and its expansion into units.

A configuration is a grid: every combination of its axes is one unit (one training run)::

    name: reference-grid          # optional, for logs
    hash: stat                    # dataset fingerprint: stat (names, sizes, times) | content (bytes)
    retries: 2                    # attempts after the first before a unit is recorded as failed
    datasets:                     # folders or dataset card files myovox can load (relative to this file)
      - path: ../shared/datasets/longterm-armband
        name: longterm            # default: the folder's name
        subjects: [sub1, sub2]    # default: every subject, one unit each
        conditions: all           # null (default): each unit runs every condition, separately;
                                  # all or a list: one unit per condition
        select: {day: [1, 2, 3, 4, 5]}   # optional metadata selection; also kind, resample, short_trials
    protocols:                    # a name, or name + the protocol's own options
      - kfold
      - {name: transfer, options: {train: {session: A}, test: {session: B}}}
    models: [lda, {name: rf, params: {n_estimators: 50}}]
    windows: [null, 0.7]          # window lengths in s (null: the dataset's default)
    adapt: [none, standardize]    # label-free adaptation (protocols that take adapt=; others: none)
    augment: [null, shift,gain]   # training augmentation, or {kinds: shift,gain, copies: 2}
    seeds: [0, 1]

``grids:`` (a list of such mappings) gives several grids in one file (e.g. other protocols per
dataset); a key missing from a grid comes from the top level. Unknown keys, unknown names and
values of the wrong type are refused in one line that names the file and the key.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._checks import did_you_mean
from .._logging import logger
from ..exceptions import ValidationError
from .fingerprint import HASH_MODES, config_hash, dataset_fingerprint
from .unit import DatasetRef, Unit

if TYPE_CHECKING:  # pragma: no cover
    from .store import ResultsStore

__all__ = [
    "DatasetEntry",
    "Grid",
    "ModelEntry",
    "ProtocolEntry",
    "SweepConfig",
    "load_config",
    "plan_units",
]

_GRID_KEYS = ("datasets", "protocols", "models", "windows", "seeds", "adapt", "augment")
_TOP_KEYS = ("name", "store", "hash", "retries", "grids", *_GRID_KEYS)
_DATASET_KEYS = ("path", "name", "kind", "subjects", "conditions", "select", "resample", "short_trials")
#: run_protocol arguments that the grid's axes set, so a protocol's ``options`` may not
_AXIS_OPTIONS = {
    "dataset": "datasets",
    "model": "models",
    "model_params": "models[].params",
    "window_s": "windows",
    "window_sweep": "windows",
    "condition": "datasets[].conditions",
    "subjects": "datasets[].subjects",
    "random_state": "seeds",
    "adapt": "adapt",
    "augment": "augment",
    "augment_copies": "augment",
    "n_jobs": "the sweep's workers",
    "verbose": "the sweep",
}


@dataclass
class DatasetEntry:
    """One dataset of a grid (see the module's docstring for the keys)."""

    path: str
    name: str
    kind: str | None = None
    subjects: list[str] | None = None
    conditions: list[str] | str | None = None
    select: dict[str, Any] | None = None
    resample: float | None = None
    short_trials: str | None = None


@dataclass
class ProtocolEntry:
    """A protocol name and its own options (``k``, ``by``, ``train``/``test``, ``n_splits``...)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelEntry:
    """A registry model name and its parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Grid:
    """Axes whose every combination is a unit."""

    datasets: list[DatasetEntry]
    protocols: list[ProtocolEntry]
    models: list[ModelEntry]
    windows: list[float | None] = field(default_factory=lambda: [None])
    seeds: list[int] = field(default_factory=lambda: [0])
    adapt: list[str | None] = field(default_factory=lambda: [None])
    augment: list[tuple[str, int] | None] = field(default_factory=lambda: [None])


@dataclass
class SweepConfig:
    """A validated sweep configuration: one or more grids and how to run them.

    Build it with :meth:`from_dict` (the same keys as the YAML file) or :func:`load_config`.
    """

    grids: list[Grid]
    name: str = "sweep"
    hash: str = "stat"
    retries: int = 2
    store: str | None = None
    source: str | None = None

    @classmethod
    def from_dict(cls, data: Any, *, source: str | os.PathLike | None = None) -> SweepConfig:
        """Validate a configuration mapping; relative paths are taken from ``source``'s folder (else the cwd)."""
        where = str(source) if source is not None else "sweep configuration"
        base = Path(source).parent if source is not None else Path.cwd()
        v = _Validator(where, base)
        return v.config(data, None if source is None else str(source))


def load_config(path: str | os.PathLike) -> SweepConfig:
    """Read and validate a sweep configuration file (YAML)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"Sweep configuration {p} does not exist (or is not a file).")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ValidationError(
            f"{p}: not valid YAML{at} ({getattr(err, 'problem', None) or type(err).__name__})."
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ValidationError(f"{p}: cannot read the configuration ({type(err).__name__}: {err}).") from None
    return SweepConfig.from_dict(data if data is not None else {}, source=p)


# ============================================================================ validation
class _Validator:
    def __init__(self, where: str, base: Path) -> None:
        self.where = where
        self.base = base

    def fail(self, key: str, message: str) -> ValidationError:
        return ValidationError(f"{self.where}: {key}: {message}")

    def mapping(self, data: Any, key: str, known: Sequence[str]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(key, f"expected a mapping, got {type(data).__name__} {data!r}.")
        for k in data:
            if k not in known:
                head = (
                    f"{self.where}: unknown key {k!r}"
                    if key == "top level"
                    else f"{self.where}: {key}: unknown key {k!r}"
                )
                raise ValidationError(f"{head}; known: {', '.join(known)}.{did_you_mean(str(k), known)}")
        return data

    def as_list(self, value: Any, key: str) -> list[Any]:
        if value is None:
            return [None]
        if isinstance(value, (list, tuple)):
            if not value:
                raise self.fail(key, "expected at least one value, got an empty list.")
            return list(value)
        return [value]

    # ------------------------------------------------------------------ the whole file
    def config(self, data: Any, source: str | None) -> SweepConfig:
        data = self.mapping(data, "top level", _TOP_KEYS)
        name = data.get("name", "sweep")
        if not isinstance(name, str) or not name:
            raise self.fail("name", f"expected a non-empty string, got {name!r}.")
        mode = data.get("hash", "stat")
        if mode not in HASH_MODES:
            raise self.fail(
                "hash", f"expected one of {', '.join(HASH_MODES)}, got {mode!r}.{did_you_mean(mode, HASH_MODES)}"
            )
        retries = data.get("retries", 2)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise self.fail("retries", f"expected an integer >= 0, got {retries!r}.")
        store = data.get("store")
        if store is not None:
            if not isinstance(store, str) or not store:
                raise self.fail("store", f"expected a folder path, got {store!r}.")
            store = str(self.base / Path(store).expanduser())
        defaults = {k: data[k] for k in _GRID_KEYS if k in data}
        if "grids" in data:
            grids_raw = data["grids"]
            if not isinstance(grids_raw, list) or not grids_raw:
                raise self.fail("grids", "expected a non-empty list of grids (mappings of datasets, protocols, ...).")
            grids = [
                self.grid({**defaults, **self.mapping(g, f"grids[{i}]", _GRID_KEYS)}, f"grids[{i}].")
                for i, g in enumerate(grids_raw)
            ]
        else:
            grids = [self.grid(defaults, "")]
        return SweepConfig(grids=grids, name=name, hash=mode, retries=retries, store=store, source=source)

    def grid(self, g: dict[str, Any], at: str) -> Grid:
        for need in ("datasets", "protocols", "models"):
            if g.get(need) is None:
                raise self.fail(f"{at}{need}", "missing: a sweep needs datasets, protocols and models.")
        datasets = [
            self.dataset(d, f"{at}datasets[{i}]") for i, d in enumerate(self.as_list(g["datasets"], f"{at}datasets"))
        ]
        protocols = [
            self.protocol(p, f"{at}protocols[{i}]")
            for i, p in enumerate(self.as_list(g["protocols"], f"{at}protocols"))
        ]
        models = [self.model(m, f"{at}models[{i}]") for i, m in enumerate(self.as_list(g["models"], f"{at}models"))]
        windows = [self.window(w, f"{at}windows") for w in self.as_list(g.get("windows"), f"{at}windows")]
        seeds = [self.seed(s, f"{at}seeds") for s in self.as_list(g.get("seeds", [0]), f"{at}seeds")]
        adapt = [self.adapt(a, f"{at}adapt") for a in self.as_list(g.get("adapt"), f"{at}adapt")]
        augment = [self.augment(a, f"{at}augment") for a in self.as_list(g.get("augment"), f"{at}augment")]
        return Grid(
            datasets=datasets,
            protocols=protocols,
            models=models,
            windows=_unique(windows),
            seeds=_unique(seeds),
            adapt=_unique(adapt),
            augment=_unique(augment),
        )

    # ------------------------------------------------------------------ axes
    def dataset(self, d: Any, key: str) -> DatasetEntry:
        if isinstance(d, str):
            d = {"path": d}
        d = self.mapping(d, key, _DATASET_KEYS)
        raw = d.get("path")
        if not isinstance(raw, str) or not raw:
            raise self.fail(f"{key}.path", f"expected a dataset folder or card file, got {raw!r}.")
        path = (self.base / Path(raw).expanduser()).resolve()
        if not path.exists():
            raise self.fail(f"{key}.path", f"{raw!r} ({path}) does not exist.")
        name = d.get("name") or (path.stem if path.is_file() else path.name)
        if not isinstance(name, str):
            raise self.fail(f"{key}.name", f"expected a string, got {name!r}.")
        kind = d.get("kind")
        if kind is not None:
            from ..datasets import ADAPTERS

            if kind not in ADAPTERS:
                raise self.fail(
                    f"{key}.kind", f"expected one of {', '.join(ADAPTERS)}, got {kind!r}.{did_you_mean(kind, ADAPTERS)}"
                )
        subjects = d.get("subjects")
        if subjects is not None and subjects != "all":
            subjects = [str(s) for s in self.as_list(subjects, f"{key}.subjects")]
        else:
            subjects = None
        conditions = d.get("conditions")
        if conditions is not None and conditions != "all":
            conditions = [str(c) for c in self.as_list(conditions, f"{key}.conditions")]
        select = d.get("select")
        if select is not None and (not isinstance(select, dict) or not select):
            raise self.fail(f"{key}.select", f"expected a mapping of metadata key to value(s), got {select!r}.")
        resample = d.get("resample")
        if resample is not None:
            resample = self.positive(resample, f"{key}.resample", "rate in Hz")
        short = d.get("short_trials")
        if short is not None:
            from ..windows import SHORT_TRIALS

            if short not in SHORT_TRIALS:
                raise self.fail(f"{key}.short_trials", f"expected one of {', '.join(SHORT_TRIALS)}, got {short!r}.")
        return DatasetEntry(str(path), name, kind, subjects, conditions, select, resample, short)

    def protocol(self, p: Any, key: str) -> ProtocolEntry:
        from ..evaluation.protocols import PROTOCOLS, resolve_protocol

        if isinstance(p, str):
            p = {"name": p}
        p = self.mapping(p, key, ("name", "options"))
        try:
            name = resolve_protocol(p.get("name"))
        except ValidationError as err:
            raise self.fail(f"{key}.name", str(err)) from None
        options = p.get("options") or {}
        if not isinstance(options, dict):
            raise self.fail(f"{key}.options", f"expected a mapping of the protocol's options, got {options!r}.")
        params = inspect.signature(PROTOCOLS[name]).parameters
        for opt in options:
            if opt in _AXIS_OPTIONS:
                raise self.fail(
                    f"{key}.options", f"{opt!r} is an axis of the sweep: set it with {_AXIS_OPTIONS[opt]!r}."
                )
            if opt not in params:
                known = sorted(k for k in params if k not in _AXIS_OPTIONS)
                raise self.fail(
                    f"{key}.options",
                    f"unknown option {opt!r} for protocol {name!r}; it takes {', '.join(known)}."
                    f"{did_you_mean(opt, known)}",
                )
        for pname, par in params.items():
            if par.default is inspect.Parameter.empty and pname not in options and pname not in _AXIS_OPTIONS:
                raise self.fail(f"{key}.options", f"protocol {name!r} needs option {pname!r}.")
        return ProtocolEntry(name, dict(options))

    def model(self, m: Any, key: str) -> ModelEntry:
        from ..models.registry import MODELS, make_model

        if isinstance(m, str):
            m = {"name": m}
        m = self.mapping(m, key, ("name", "params"))
        name = m.get("name")
        if name not in MODELS:
            raise self.fail(
                f"{key}.name", f"expected one of {', '.join(MODELS)}, got {name!r}.{did_you_mean(name, MODELS)}"
            )
        params = m.get("params") or {}
        if not isinstance(params, dict):
            raise self.fail(f"{key}.params", f"expected a mapping of model parameters, got {params!r}.")
        try:
            make_model(name, sfreq=250.0, random_state=0, **params)  # unknown names and bad values, before any run
        except ValidationError as err:
            raise self.fail(f"{key}.params", str(err)) from None
        except (TypeError, ValueError) as err:
            raise self.fail(f"{key}.params", f"{type(err).__name__}: {err}") from None
        return ModelEntry(name, dict(params))

    def window(self, w: Any, key: str) -> float | None:
        return None if w is None else self.positive(w, key, "window length in seconds")

    def positive(self, value: Any, key: str, what: str) -> float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            number = float(value)
            if math.isfinite(number) and number > 0:
                return number
        raise self.fail(key, f"expected a positive {what}, got {value!r}.")

    def seed(self, s: Any, key: str) -> int:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise self.fail(key, f"expected non-negative integers, got {s!r}.")
        return int(s)

    def adapt(self, a: Any, key: str) -> str | None:
        from ..adaptation.label_free import ADAPT_METHODS

        if a is None or a == "none":
            return None
        if a not in ADAPT_METHODS:
            raise self.fail(
                key, f"expected any of {', '.join(ADAPT_METHODS)}, got {a!r}.{did_you_mean(a, ADAPT_METHODS)}"
            )
        return str(a)

    def augment(self, a: Any, key: str) -> tuple[str, int] | None:
        from ..adaptation.augment import parse_augment

        if a is None or a == "none":
            return None
        copies = 1
        if isinstance(a, dict):
            a = self.mapping(a, key, ("kinds", "copies"))
            copies = a.get("copies", 1)
            if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
                raise self.fail(f"{key}.copies", f"expected an integer >= 1, got {copies!r}.")
            a = a.get("kinds")
        try:
            kinds = parse_augment(a)
        except ValidationError as err:
            raise self.fail(key, str(err)) from None
        if not kinds:
            return None
        return ",".join(kinds), int(copies)


def _unique(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


# ============================================================================ expansion into units
def _pooled_keys(protocol: ProtocolEntry) -> set[str]:
    """Metadata keys a protocol's folds run across (so units may not be split by them)."""
    if protocol.name == "leave_one_out":
        return {str(protocol.options.get("by"))}
    if protocol.name == "transfer":
        return set(protocol.options.get("train") or {}) | set(protocol.options.get("test") or {})
    return set()


def _takes(protocol: str, name: str) -> bool:
    from ..evaluation.protocols import PROTOCOLS

    return name in inspect.signature(PROTOCOLS[protocol]).parameters


def dataset_info(entry: DatasetEntry, fingerprint: str, store: ResultsStore | None = None) -> dict[str, Any]:
    """Subjects and conditions of a dataset version (after ``select``), cached in ``store`` by fingerprint."""
    key = config_hash({"fingerprint": fingerprint, "kind": entry.kind, "select": entry.select})
    if store is not None:
        info = store.dataset_info(key)
        if info is not None and isinstance(info.get("subjects"), list):
            return info
    from ..datasets import load_dataset

    logger.info("sweep: reading %s to list its subjects and conditions", entry.path)
    ds = load_dataset(entry.path, kind=entry.kind, raw_signal=entry.resample is not None)
    if entry.select:
        ds = ds.select(**entry.select)
    info = {
        "dataset": ds.name,
        "path": entry.path,
        "fingerprint": fingerprint,
        "subjects": [str(s) for s in ds.meta_values("subject")],
        "conditions": [str(c) for c in ds.meta_values("condition")],
        "n_recordings": len(ds),
    }
    if store is not None:
        store.save_dataset_info(key, info)
    return info


def plan_units(
    config: SweepConfig,
    store: ResultsStore | None = None,
    *,
    fingerprint: Callable[[str, str], str] = dataset_fingerprint,
) -> list[Unit]:
    """Every unit of ``config``, in a stable order, without duplicates.

    Each dataset is fingerprinted (``config.hash``); its subjects and conditions are read from the
    data (or from ``store``'s cache for that fingerprint). Subjects and conditions named in the
    configuration must exist in the data.
    """
    units: dict[str, Unit] = {}
    prints: dict[str, str] = {}
    where = config.source or "sweep configuration"
    for gi, grid in enumerate(config.grids):
        at = f"grids[{gi}]." if len(config.grids) > 1 else ""
        for di, entry in enumerate(grid.datasets):
            if entry.path not in prints:
                prints[entry.path] = fingerprint(entry.path, config.hash)
            fp = prints[entry.path]
            info = dataset_info(entry, fp, store)
            subjects = _check_values(entry.subjects, info["subjects"], f"{where}: {at}datasets[{di}].subjects", entry)
            if entry.conditions is None:
                conditions: list[str | None] = [None]
            elif entry.conditions == "all":
                conditions = list(info["conditions"]) or [None]
            else:
                conditions = list(
                    _check_values(
                        list(entry.conditions), info["conditions"], f"{where}: {at}datasets[{di}].conditions", entry
                    )
                )
            ref = DatasetRef(
                path=entry.path,
                name=entry.name,
                fingerprint=fp,
                kind=entry.kind,
                select=entry.select,
                resample=entry.resample,
                short_trials=entry.short_trials,
            )
            for protocol in grid.protocols:
                pooled = _pooled_keys(protocol)
                if "subject" in pooled or not subjects:  # folds across subjects, or no subject metadata
                    per_subject: list[tuple[str | None, tuple[str, ...] | None]] = [
                        (None, None if entry.subjects is None else tuple(subjects))
                    ]
                else:
                    per_subject = [(s, None) for s in subjects]
                conds = [None] if "condition" in pooled else conditions
                adapts = grid.adapt if _takes(protocol.name, "adapt") else [None]
                for model in grid.models:
                    for window in grid.windows:
                        for adapt in _unique(list(adapts)):
                            for augment in grid.augment:
                                for seed in grid.seeds:
                                    for subject, subjects_ in per_subject:
                                        for cond in conds:
                                            u = Unit(
                                                dataset=ref,
                                                protocol=protocol.name,
                                                model=model.name,
                                                seed=seed,
                                                subject=subject,
                                                subjects=subjects_,
                                                condition=cond,
                                                window_s=window,
                                                model_params=dict(model.params),
                                                options=dict(protocol.options),
                                                adapt=adapt,
                                                augment=None if augment is None else augment[0],
                                                augment_copies=1 if augment is None else augment[1],
                                            )
                                            units.setdefault(u.key, u)
                if set(grid.adapt) - {None} and not _takes(protocol.name, "adapt"):
                    logger.info("sweep: protocol %s takes no adapt=; its units run without adaptation", protocol.name)
    return list(units.values())


def _check_values(wanted: list[str] | None, present: list[str], key: str, entry: DatasetEntry) -> list[str]:
    if wanted is None:
        return list(present)
    missing = [w for w in wanted if w not in present]
    if missing:
        raise ValidationError(
            f"{key}: {missing[0]!r} is not in {entry.name} (has {', '.join(present) or 'none'})."
            f"{did_you_mean(missing[0], present)}"
        )
    return list(wanted)

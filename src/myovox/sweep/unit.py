"""One unit of a sweep (one protocol run on one subject with one model, window, adaptation and seed) and
the function that runs it in a worker (:func:`execute_unit`), the same for every backend.

A unit travels to its worker as a plain dictionary (:meth:`Unit.to_dict`) and comes back as a plain
dictionary (the outcome), so that local processes and Ray workers need nothing but ``myovox``
installed and the dataset path readable.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import threading
import time
import traceback
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

from .._logging import use_log_level
from .._version import __version__
from .fingerprint import config_hash, dataset_fingerprint

#: version of the unit configuration as it enters the key; a change of meaning bumps it (recomputes all)
UNIT_SCHEMA = 1

__all__ = ["UNIT_SCHEMA", "DatasetRef", "Unit", "execute_unit", "versions"]


@dataclass(frozen=True)
class DatasetRef:
    """Where a unit's data come from and how they are loaded.

    ``path`` and ``name`` say where and what to call it; they are not part of the unit's key (the
    fingerprint is: the same data moved elsewhere keep their results).
    """

    path: str
    name: str
    fingerprint: str
    kind: str | None = None
    select: dict[str, Any] | None = None
    resample: float | None = None
    short_trials: str | None = None

    def load_options(self) -> dict[str, Any]:
        """What the unit's data depend on besides the files themselves (part of the key)."""
        return {
            "kind": self.kind,
            "select": self.select,
            "resample": self.resample,
            "short_trials": self.short_trials,
        }


@dataclass(frozen=True)
class Unit:
    """One training run of a sweep: a protocol restricted to one subject (and condition).

    ``subject`` None with ``subjects`` set: a protocol whose folds are subjects (leave one subject
    out, transfer across subjects) runs on those subjects together.
    """

    dataset: DatasetRef
    protocol: str
    model: str
    seed: int
    subject: str | None = None
    subjects: tuple[str, ...] | None = None
    condition: str | None = None
    window_s: float | None = None
    model_params: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    adapt: str | None = None
    augment: str | None = None
    augment_copies: int = 1

    # ------------------------------------------------------------------ identity
    def config(self) -> dict[str, Any]:
        """The configuration that, with the data fingerprint, decides the unit's results (hashed into its key)."""
        return {
            "schema": UNIT_SCHEMA,
            "data": {"fingerprint": self.dataset.fingerprint, **self.dataset.load_options()},
            "protocol": self.protocol,
            "options": self.options,
            "subject": self.subject,
            "subjects": None if self.subjects is None else list(self.subjects),
            "condition": self.condition,
            "window_s": self.window_s,
            "model": self.model,
            "model_params": self.model_params,
            "adapt": self.adapt,
            "augment": self.augment,
            "augment_copies": self.augment_copies if self.augment else None,
            "seed": self.seed,
        }

    @property
    def key(self) -> str:
        """The unit's key in a results store: a hash of :meth:`config` (configuration and data)."""
        return config_hash(self.config())

    def label(self) -> str:
        """A short human-readable description (for logs and error messages)."""
        parts = [self.dataset.name, self.protocol]
        parts.append(f"subject={self.subject}" if self.subject is not None else "subjects=" + _subjects(self.subjects))
        if self.condition is not None:
            parts.append(f"condition={self.condition}")
        if self.window_s is not None:
            parts.append(f"window={self.window_s:g}s")
        parts.append(self.model + (f"{self.model_params}" if self.model_params else ""))
        if self.adapt:
            parts.append(f"adapt={self.adapt}")
        if self.augment:
            parts.append(f"augment={self.augment}x{self.augment_copies}")
        parts.append(f"seed={self.seed}")
        return " ".join(parts)

    # ------------------------------------------------------------------ transport
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary (sent to workers and written into the unit's record)."""
        d = asdict(self)
        d["subjects"] = None if self.subjects is None else list(self.subjects)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Unit:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["dataset"] = DatasetRef(**d["dataset"])
        if d.get("subjects") is not None:
            d["subjects"] = tuple(d["subjects"])
        return cls(**d)

    def protocol_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`myovox.evaluation.run_protocol` besides the protocol name and dataset."""
        kw: dict[str, Any] = dict(self.options)
        kw.update(
            model=self.model,
            window_s=self.window_s,
            condition=self.condition,
            random_state=self.seed,
            model_params=dict(self.model_params) or None,
            subjects=[self.subject] if self.subject is not None else (list(self.subjects) if self.subjects else None),
            n_jobs=1,
            verbose=False,
        )
        if self.adapt is not None:
            kw["adapt"] = self.adapt
        if self.augment:
            kw.update(augment=self.augment, augment_copies=self.augment_copies)
        return kw


def _subjects(subjects: tuple[str, ...] | None) -> str:
    return "all" if not subjects else ",".join(subjects)


# ============================================================================ the worker side
_CACHE_SIZE = 4
_cache: OrderedDict[tuple, Any] = OrderedDict()
_cache_lock = threading.Lock()


def _load(ref: DatasetRef) -> tuple[Any, float]:
    """The unit's Dataset (cached per worker process, by fingerprint) and the seconds spent loading it.

    The data are fingerprinted before and after loading; a fingerprint other than the one the unit
    was planned with (the files changed since) is an error, so a record is never stored under the
    key of other data.
    """
    from ..datasets import load_dataset
    from ..exceptions import ValidationError

    cache_key = (ref.path, ref.fingerprint, repr(sorted(ref.load_options().items())))
    with _cache_lock:
        if cache_key in _cache:
            _cache.move_to_end(cache_key)
            return _cache[cache_key], 0.0
    t0 = time.perf_counter()
    mode = ref.fingerprint.split(":", 1)[0]
    before = dataset_fingerprint(ref.path, mode)
    ds = load_dataset(ref.path, kind=ref.kind, raw_signal=ref.resample is not None)
    after = dataset_fingerprint(ref.path, mode)
    if before != ref.fingerprint or after != ref.fingerprint:
        raise ValidationError(
            f"The data of {ref.name} ({ref.path}) changed after the sweep was planned; run the sweep "
            "again to plan it on the new data."
        )
    if ref.resample is not None:
        ds.info["resample"] = float(ref.resample)
    if ref.short_trials is not None:
        ds.info["short_trials"] = ref.short_trials
    if ref.select:
        ds = ds.select(**ref.select)
    with _cache_lock:
        _cache[cache_key] = ds
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return ds, time.perf_counter() - t0


def versions() -> dict[str, str]:
    """Versions of Python, myovox and the libraries that decide the numbers (those already imported)."""
    out = {"python": platform.python_version(), "myovox": __version__}
    for name in ("numpy", "scipy", "sklearn", "pandas", "torch"):
        mod = sys.modules.get(name)
        if mod is not None:
            out[name] = str(getattr(mod, "__version__", "?"))
    return out


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _warning_lines(caught: list[warnings.WarningMessage]) -> list[str]:
    """The distinct warnings a unit raised (data dropped, models that did not converge), at most 20."""
    skip = (DeprecationWarning, PendingDeprecationWarning)
    lines = [f"{w.category.__name__}: {w.message}" for w in caught if not issubclass(w.category, skip)]
    return list(dict.fromkeys(lines))[:20]


def execute_unit(unit: dict[str, Any]) -> dict[str, Any]:
    """Run one unit (a :meth:`Unit.to_dict` dictionary) and return its outcome as a JSON-safe dictionary.

    Never raises for an error of the unit itself: the outcome then has ``ok`` False and the error's
    type, message and traceback. What the outcome holds when ``ok``: ``result``
    (:meth:`myovox.evaluation.Result.to_dict`), ``timing`` (``load_s``, ``run_s``, ``total_s``,
    ``started``, ``finished``), ``worker`` (host, pid) and ``versions``.
    """
    t_wall = time.time()
    t0 = time.perf_counter()
    worker = {"host": socket.gethostname(), "pid": os.getpid()}
    try:
        u = Unit.from_dict(unit)
        from ..evaluation import run_protocol

        with warnings.catch_warnings(record=True) as caught, use_log_level("warning"):
            warnings.simplefilter("always")
            ds, load_s = _load(u.dataset)
            t1 = time.perf_counter()
            result = run_protocol(u.protocol, ds, **u.protocol_kwargs())
            run_s = time.perf_counter() - t1
    except Exception as err:  # noqa: BLE001 - every error of a unit is recorded, and the unit retried or failed
        return {
            "ok": False,
            "error": {
                "type": type(err).__name__,
                "message": str(err),
                "traceback": traceback.format_exc(limit=20)[-4000:],
            },
            "timing": {"started": _utc(t_wall), "total_s": round(time.perf_counter() - t0, 3)},
            "worker": worker,
            "versions": versions(),
        }
    return {
        "ok": True,
        "result": result.to_dict(),
        "timing": {
            "load_s": round(load_s, 3),
            "run_s": round(run_s, 3),
            "total_s": round(time.perf_counter() - t0, 3),
            "started": _utc(t_wall),
            "finished": _utc(time.time()),
        },
        "worker": worker,
        "versions": versions(),
        "warnings": _warning_lines(caught),
    }

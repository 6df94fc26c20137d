"""The results store of a sweep: one JSON record per finished unit, keyed by the unit's hash.

Layout of a store folder (everything in it is written by myovox; a folder holding anything else is
refused, and nothing the store did not write is ever replaced or deleted)::

    STORE/
      myovox-sweep.json      marker: what the folder is, its format version, when it was made
      units/<key>.json       one record per finished unit (metrics, fold rows, timings, versions, configuration)
      failed/<key>.json      one record per unit that failed every attempt (its errors)
      datasets/<key>.json    the subjects and conditions of a dataset version (so a resumed sweep need not load it)
      index.csv              the index as CSV, rebuilt from the records (never read back as the truth)
      progress.json          the live count of the sweep that runs now
      report/                written by ``myovox sweep-report``

Every file is written to a hidden temporary sibling, flushed to disk and renamed into place
(:func:`os.replace`), so a reader sees a whole record or none, and any number of writers (workers of
one sweep, several sweeps on one store, a process killed mid-write) never leave a damaged file; a
left-over temporary file is ignored and removed later. There is no shared index file to corrupt: the
pandas index (:meth:`ResultsStore.index`) is built by reading the records.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._json import to_jsonable
from .._logging import logger
from .._outputs import atomic_file
from .._version import __version__
from ..exceptions import ValidationError
from .fingerprint import config_hash

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: the marker file that makes a folder a results store
STORE_MARKER = "myovox-sweep.json"
STORE_FORMAT = "myovox-sweep-store"
STORE_VERSION = 1
RECORD_FORMAT = "myovox-sweep-unit"
_FILES = (STORE_MARKER, "index.csv", "progress.json")
_DIRS = ("units", "failed", "datasets", "report")
_KEY_FILE = re.compile(r"^[0-9a-f]{32}\.json$")
_TEMP = re.compile(r"^\..+\.myovox-tmp-[0-9a-f]{8}(\.json|\.csv)?$")  # atomic_file's temporary siblings
_REPORT_TEMP = re.compile(r"^\.report\.myovox-(tmp|old)-[0-9a-f]{8}$")  # myovox._outputs' siblings of report/
_STALE_S = 3600.0  # a temporary file older than this was left by a killed writer

#: columns of :meth:`ResultsStore.index`, in this order
INDEX_COLUMNS = (
    "key",
    "status",
    "dataset",
    "protocol",
    "options",
    "subject",
    "condition",
    "window_s",
    "model",
    "model_params",
    "adapt",
    "augment",
    "seed",
    "mean",
    "std",
    "fold_mean",
    "fold_std",
    "n_folds",
    "per_subject",
    "load_s",
    "run_s",
    "total_s",
    "attempts",
    "error",
    "finished",
    "fingerprint",
    "config_id",
    "superseded",
)

#: fields of a record's ``result`` and fold rows that measure time, not the unit's outcome
TIMING_FIELDS = ("timing", "fit_s")

__all__ = [
    "INDEX_COLUMNS",
    "STORE_MARKER",
    "TIMING_FIELDS",
    "ResultsStore",
    "compare_stores",
    "outcome",
    "write_json_atomic",
]


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path``: a hidden temporary sibling, flushed to disk, renamed over ``path``."""
    with atomic_file(path, force=True, what="store record") as tmp:
        tmp.write_text(json.dumps(to_jsonable(obj), indent=1, sort_keys=False) + "\n", encoding="utf-8")


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _listing(names: list[str], n: int = 3) -> str:
    more = f", and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more


class ResultsStore:
    """A results store folder (see the module's docstring).

    Parameters
    ----------
    path : path-like
        The store folder. A missing or empty folder becomes a store (``create=True``); a folder
        holding anything but a store's own files is refused.
    create : bool
        Make the store when it does not exist yet; False: it must exist (``sweep-report``).

    Raises
    ------
    ValidationError
        ``path`` is a file, holds files the store did not write, or (``create=False``) is not a store.
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = True) -> None:
        self.path = Path(path)
        p = self.path
        if p.is_symlink():
            raise ValidationError(f"Store {p} is a symbolic link; give the real folder.")
        if p.exists() and not p.is_dir():
            raise ValidationError(f"Store {p} exists and is a file, not a folder; choose another path.")
        marker = p / STORE_MARKER
        if not marker.exists():
            present = sorted(x.name for x in p.iterdir()) if p.is_dir() else []
            if present:
                raise ValidationError(
                    f"Store {p} is not a myovox sweep store (no {STORE_MARKER}) and is not empty: it holds "
                    f"{_listing(present)}. Choose a new or empty folder."
                )
            if not create:
                raise ValidationError(
                    f"{p} is not a sweep results store (no {STORE_MARKER}); run `myovox sweep` first."
                )
            p.mkdir(parents=True, exist_ok=True)
            write_json_atomic(
                marker,
                {
                    "format": STORE_FORMAT,
                    "version": STORE_VERSION,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "myovox_version": __version__,
                },
            )
        info = _read_json(marker)
        if info is None or info.get("format") != STORE_FORMAT:
            raise ValidationError(f"{marker} is not a myovox sweep store marker; choose another folder.")
        if int(info.get("version", 0)) > STORE_VERSION:
            raise ValidationError(
                f"Store {p} has format version {info.get('version')}; this myovox reads up to {STORE_VERSION}. "
                "Upgrade myovox."
            )
        for d in ("units", "failed", "datasets"):
            (p / d).mkdir(exist_ok=True)
        self._check_contents()

    # ------------------------------------------------------------------ hygiene
    def _check_contents(self) -> None:
        """Refuse a store holding files it did not write; remove its own stale temporary files."""
        foreign: list[str] = []
        now = time.time()
        for entry in self.path.iterdir():
            name = entry.name
            if _TEMP.match(name):
                self._drop_stale(entry, now)
            elif name in _FILES and entry.is_file() and not entry.is_symlink():
                continue
            elif name in _DIRS and entry.is_dir() and not entry.is_symlink():
                if name == "report":
                    continue  # an output folder of its own (manifest checked when it is replaced)
                for sub in entry.iterdir():
                    if _TEMP.match(sub.name):
                        self._drop_stale(sub, now)
                    elif not (_KEY_FILE.match(sub.name) and sub.is_file() and not sub.is_symlink()):
                        foreign.append(f"{name}/{sub.name}")
            elif _REPORT_TEMP.match(name):
                continue
            else:
                foreign.append(name)
        if foreign:
            raise ValidationError(
                f"Store {self.path} holds files that myovox did not write ({_listing(sorted(foreign))}); "
                "move them out or choose another folder."
            )

    @staticmethod
    def _drop_stale(path: Path, now: float) -> None:
        try:
            if now - path.stat().st_mtime > _STALE_S:
                path.unlink()
        except OSError:
            pass

    # ------------------------------------------------------------------ records
    def _file(self, status: str, key: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{32}", key):
            raise ValidationError(f"Invalid unit key {key!r}: expected 32 hex digits.")
        return self.path / ("units" if status == "done" else "failed") / f"{key}.json"

    def read(self, key: str) -> dict[str, Any] | None:
        """The record of unit ``key`` (finished first, else failed), or None."""
        for status in ("done", "failed"):
            rec = _read_json(self._file(status, key))
            if rec is not None and rec.get("format") == RECORD_FORMAT and rec.get("key") == key:
                return rec
        return None

    def done_keys(self) -> set[str]:
        """Keys of the finished units whose record reads back whole."""
        return {r["key"] for r in self.records("done")}

    def failed_keys(self) -> set[str]:
        """Keys of the units recorded as failed (and not finished since)."""
        return {r["key"] for r in self.records("failed")} - self._names("units")

    def _names(self, folder: str) -> set[str]:
        return {f.name[:-5] for f in (self.path / folder).iterdir() if _KEY_FILE.match(f.name)}

    def records(self, status: str | None = None) -> Iterator[dict[str, Any]]:
        """Every record (``status``: ``"done"``, ``"failed"`` or None for both), in key order.

        A record that does not read back (not JSON, another format, a key that does not match its
        name) is skipped with a warning; its unit counts as not finished and is run again.
        """
        folders = {"done": ["units"], "failed": ["failed"], None: ["units", "failed"]}[status]
        for folder in folders:
            for key in sorted(self._names(folder)):
                path = self.path / folder / f"{key}.json"
                rec = _read_json(path)
                if rec is None or rec.get("format") != RECORD_FORMAT or rec.get("key") != key:
                    logger.warning("sweep store: skipping unreadable record %s", path)
                    continue
                yield rec

    def write(self, record: dict[str, Any]) -> Path:
        """Write a record (``status`` ``"done"`` or ``"failed"``) atomically under its key.

        A finished record removes the unit's failed record (the store wrote it); a failed record is
        not written when the unit has finished meanwhile (another sweep on the same store).
        """
        key, status = record["key"], record["status"]
        if status not in ("done", "failed"):
            raise ValidationError(f"Invalid record status {status!r}: expected 'done' or 'failed'.")
        path = self._file(status, key)
        record = {"format": RECORD_FORMAT, **record, "written": time.time()}
        if status == "failed" and self._file("done", key).exists():
            return self._file("done", key)
        write_json_atomic(path, record)
        if status == "done":
            try:
                self._file("failed", key).unlink()
            except FileNotFoundError:
                pass
        return path

    # ------------------------------------------------------------------ small state files
    def dataset_info(self, key: str) -> dict[str, Any] | None:
        """The cached description (subjects, conditions) of a dataset version, or None."""
        return _read_json(self.path / "datasets" / f"{key}.json")

    def save_dataset_info(self, key: str, info: dict[str, Any]) -> None:
        """Cache the description of a dataset version (``key``: 32 hex digits)."""
        if not re.fullmatch(r"[0-9a-f]{32}", key):
            raise ValidationError(f"Invalid dataset key {key!r}: expected 32 hex digits.")
        write_json_atomic(self.path / "datasets" / f"{key}.json", info)

    def write_progress(self, progress: dict[str, Any]) -> None:
        """Replace ``progress.json`` (the live count of the running sweep)."""
        write_json_atomic(self.path / "progress.json", progress)

    # ------------------------------------------------------------------ pandas
    def index(self) -> pd.DataFrame:
        """One row per record (:data:`INDEX_COLUMNS`), built by reading every record.

        ``superseded`` is True for a finished record whose configuration was run again on changed
        data (same dataset path and settings, another fingerprint, an older record): reports use
        the newest. ``options``, ``model_params`` and ``per_subject`` are JSON strings.
        """
        import pandas as pd

        rows = [_index_row(r) for r in self.records()]
        df = pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
        if len(df):
            done = df["status"] == "done"
            newest = df[done].sort_values("finished").groupby("config_id")["key"].last()
            df["superseded"] = done & ~df["key"].isin(set(newest))
        return df

    def folds(self) -> pd.DataFrame:
        """One row per fold of every finished, current unit: the unit's settings, then the fold's row."""
        import pandas as pd

        idx = self.index()
        current = set(idx.loc[(idx["status"] == "done") & ~idx["superseded"].astype(bool), "key"])
        rows = []
        for rec in self.records("done"):
            if rec["key"] not in current:
                continue
            unit = _index_row(rec)
            for f in (rec.get("result") or {}).get("folds") or []:
                row = {k: unit[k] for k in ("key", "dataset", "protocol", "options", "model", "model_params")}
                row.update({k: unit[k] for k in ("adapt", "augment", "seed")})
                row.update({k: v for k, v in f.items() if k != "confusion"})
                rows.append(row)
        return pd.DataFrame(rows)

    def write_index(self) -> Path:
        """Write ``index.csv`` (the index, rebuilt from the records) and return its path."""
        path = self.path / "index.csv"
        with atomic_file(path, force=True, what="store index") as tmp:
            self.index().to_csv(tmp, index=False)
        return path

    def __repr__(self) -> str:
        n_done, n_failed = len(self._names("units")), len(self._names("failed") - self._names("units"))
        return f"<ResultsStore {self.path} | {n_done} finished, {n_failed} failed>"


def outcome(record: dict[str, Any]) -> dict[str, Any]:
    """What a record says about its unit's results, without timings: status, metrics, fold rows, curves.

    Two runs of the same unit on the same data give equal outcomes (the models are seeded); their
    timings, workers and attempts differ.
    """
    res = dict(record.get("result") or {})
    for k in TIMING_FIELDS:
        res.pop(k, None)
    res["folds"] = [{k: v for k, v in f.items() if k not in TIMING_FIELDS} for f in res.get("folds") or []]
    params = dict(res.get("params") or {})
    params.pop("n_jobs", None)
    res["params"] = params
    return {"key": record.get("key"), "status": record.get("status"), "result": res}


def compare_stores(a: ResultsStore | str | os.PathLike, b: ResultsStore | str | os.PathLike) -> list[str]:
    """Differences between two stores' outcomes (:func:`outcome`): units only in one, or with other results.

    Returns
    -------
    list of str
        One line per difference; empty when both stores hold the same units with the same results.
    """
    sa = a if isinstance(a, ResultsStore) else ResultsStore(a, create=False)
    sb = b if isinstance(b, ResultsStore) else ResultsStore(b, create=False)
    ra = {r["key"]: r for r in sa.records()}
    rb = {r["key"]: r for r in sb.records()}
    out = [f"only in {sa.path}: {ra[k].get('label', k)}" for k in sorted(set(ra) - set(rb))]
    out += [f"only in {sb.path}: {rb[k].get('label', k)}" for k in sorted(set(rb) - set(ra))]
    for k in sorted(set(ra) & set(rb)):
        oa, ob = outcome(ra[k]), outcome(rb[k])
        if json.dumps(to_jsonable(oa), sort_keys=True) != json.dumps(to_jsonable(ob), sort_keys=True):
            what = "status" if oa["status"] != ob["status"] else "results"
            out.append(
                f"{what} differ: {ra[k].get('label', k)} ({oa['status']}, mean {oa['result'].get('mean')} vs "
                f"{ob['status']}, mean {ob['result'].get('mean')})"
            )
    return out


def _json_cell(value: Any) -> str:
    return json.dumps(to_jsonable(value), sort_keys=True)


def _index_row(rec: dict[str, Any]) -> dict[str, Any]:
    unit = rec.get("unit") or {}
    ds = unit.get("dataset") or {}
    res = rec.get("result") or {}
    timing = rec.get("timing") or {}
    identity = dict(rec.get("config") or {})
    identity["data"] = {**(identity.get("data") or {}), "fingerprint": None, "path": ds.get("path")}
    subject = unit.get("subject")
    if subject is None:
        subjects = unit.get("subjects")
        subject = "all" if not subjects else ",".join(map(str, subjects))
    augment = unit.get("augment")
    if augment:
        augment = f"{augment}x{unit.get('augment_copies', 1)}"
    error = rec.get("error") or {}

    def num(k: str) -> float:
        v = res.get(k)
        return float("nan") if v is None else float(v)

    return {
        "key": rec.get("key"),
        "status": rec.get("status"),
        "dataset": ds.get("name"),
        "protocol": unit.get("protocol"),
        "options": _json_cell(unit.get("options") or {}),
        "subject": subject,
        "condition": unit.get("condition"),
        "window_s": float("nan") if unit.get("window_s") is None else float(unit["window_s"]),
        "model": unit.get("model"),
        "model_params": _json_cell(unit.get("model_params") or {}),
        "adapt": unit.get("adapt"),
        "augment": augment,
        "seed": unit.get("seed"),
        "mean": num("mean"),
        "std": num("std"),
        "fold_mean": num("fold_mean"),
        "fold_std": num("fold_std"),
        "n_folds": len(res.get("folds") or []),
        "per_subject": _json_cell(res.get("per_subject") or {}),
        "load_s": timing.get("load_s"),
        "run_s": timing.get("run_s"),
        "total_s": timing.get("total_s"),
        "attempts": len(rec.get("attempts") or []),
        "error": f"{error.get('type')}: {error.get('message')}" if error else None,
        "finished": rec.get("written"),
        "fingerprint": ds.get("fingerprint"),
        "config_id": config_hash(identity),
        "superseded": False,
    }

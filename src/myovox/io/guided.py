"""Reader of the guided recordings written by :class:`myovox.acquisition.GuidedRecorder`.

A session is ``<name>.csv`` (``time_s``, one column per channel, ``label``, ``lost``) with a
``<name>.json`` sidecar (format ``myovox-guided-recording``: rate, channel names, label names,
protocol, subject/session/batch/condition, status). Lost samples (``lost == 1``) are NaN in the
returned recording and counted in ``meta["n_lost_samples"]``; they are never read as a channel.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import DataFormatError, DataQualityWarning
from ..recording import Recording

__all__ = ["SESSION_FORMAT", "is_session", "read_session"]

SESSION_FORMAT = "myovox-guided-recording"


def _sidecar(path: Path) -> dict[str, Any]:
    side_path = path.with_suffix(".json")
    try:
        side = json.loads(side_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(f"{path.with_suffix('.csv')}: its sidecar {side_path.name} is missing.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataFormatError(f"{side_path}: not a readable recording sidecar ({err}).") from None
    if not isinstance(side, dict) or side.get("format") != SESSION_FORMAT:
        raise DataFormatError(f"{side_path}: not a myovox guided-recording sidecar.")
    for key in ("sfreq", "ch_names", "label_names"):
        if key not in side:
            raise DataFormatError(f"{side_path}: the sidecar lacks {key!r}.")
    return side


def is_session(path: str | Path) -> bool:
    """Whether ``path`` (a ``.csv`` or ``.json``) is half of a guided recording (cheap check)."""
    side_path = Path(path).with_suffix(".json")
    if not side_path.is_file() or not Path(path).with_suffix(".csv").is_file():
        return False
    try:
        with open(side_path, encoding="utf-8") as fh:
            head = fh.read(4096)
    except (OSError, UnicodeDecodeError):
        return False
    return SESSION_FORMAT in head


def _n_complete_rows(csv_path: Path) -> int:
    """Data rows ended by a newline (the header excluded), counted up to 2."""
    try:
        with open(csv_path, "rb") as fh:
            head = fh.read(1 << 16)
    except FileNotFoundError:
        raise DataFormatError(f"{csv_path} is missing (its sidecar exists).") from None
    return min(max(head.count(b"\n") - 1, 0), 2)


def read_session(path: str | Path) -> Recording:
    """Read a guided recording (``.csv`` + ``.json`` sidecar), also one whose recorder was killed.

    ``meta`` carries the sidecar's subject, session, batch and condition, the recording ``status``
    (``complete``, ``interrupted``, ...), the protocol and ``n_lost_samples``.
    """
    from .csv import read_csv

    path = Path(path)
    csv_path = path.with_suffix(".csv")
    side = _sidecar(path)
    ch_names = [str(c) for c in side["ch_names"]]
    meta = dict(side.get("meta") or {})
    meta.update(
        source=str(csv_path),
        status=side.get("status", "incomplete"),
        protocol=side.get("protocol"),
        device=side.get("source"),
    )
    labels = {int(k): v for k, v in side["label_names"].items()}
    if _n_complete_rows(csv_path) == 0:  # stopped before its first flush: an empty session, not an error
        meta["n_lost_samples"] = 0
        return Recording(
            np.zeros((len(ch_names), 0)), float(side["sfreq"]), ch_names, np.zeros(0, dtype=np.int64), labels, meta
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = read_csv(
            csv_path, sfreq=side["sfreq"], time_column="time_s", label_column="label", channels=[*ch_names, "lost"]
        )
    data = np.asarray(rec.data, dtype=np.float64)
    lost = data[-1] != 0
    data = data[:-1]
    n_bad = int((~np.isfinite(data[:, ~lost])).sum())
    for w in caught:  # NaN where the lost column says so is the recorder's mark of a gap, not a defect
        if not (issubclass(w.category, DataQualityWarning) and "NaN" in str(w.message)) or n_bad:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    meta["n_lost_samples"] = int(lost.sum())
    if lost.any():
        data = data.copy()
        data[:, lost] = np.nan
    return Recording(data, float(side["sfreq"]), ch_names, rec.labels, labels, meta)

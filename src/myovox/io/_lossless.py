"""What each file format can carry, and helpers that carry ``Recording.meta`` without loss.

``meta`` holds JSON-like values (str, numbers, lists, dicts) and NumPy arrays (per-packet
``counter``, ``timestamps``, ``trigger_ids``, ...). Containers that store a JSON header (npz,
the myovox part of an ``.h5``, the CSV sidecar) use :func:`meta_to_json` / :func:`meta_from_json`
so arrays come back as arrays with their dtype, not as their ``str()``.

:func:`dropped_by` names what writing a recording to a format would lose; ``myovox convert``
refuses such a conversion unless the loss is accepted explicitly. :func:`crop` cuts a recording
and keeps its packet metadata consistent (used by ``--trim``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..exceptions import DataLossWarning
from ..recording import SILENTWEAR_LABELS, Recording

#: meta keys that describe the file a recording was read from, not the recording itself
#: (a reader sets them again; losing them is not losing data)
READER_KEYS = frozenset(
    {"source", "layout", "signal", "dtype_code", "n_packets_unchecked", "first_sample", "filtered", "dataset", "format"}
)
_ARRAY_TAG = "__ndarray__"


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON types, or raise TypeError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return {"__float__": repr(v)}
        return v
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufU":
        return {
            _ARRAY_TAG: value.dtype.str,
            "shape": list(value.shape),
            "data": [_jsonable(v) for v in value.reshape(-1).tolist()],
        }
    raise TypeError(type(value).__name__)


def _unjson(value: Any) -> Any:
    if isinstance(value, list):
        return [_unjson(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__float__"}:
            return float(value["__float__"])
        if _ARRAY_TAG in value:
            dt = np.dtype(str(value[_ARRAY_TAG]))
            if dt.kind not in "biufU":
                raise ValueError(f"array dtype {dt} is not allowed")
            data = [_unjson(v) for v in value.get("data", [])]
            return np.asarray(data, dtype=dt).reshape([int(s) for s in value.get("shape", [len(data)])])
        return {k: _unjson(v) for k, v in value.items()}
    return value


def meta_to_json(
    meta: dict[str, Any], *, arrays: bool = True, where: object = None
) -> tuple[dict[str, Any], dict[str, np.ndarray], list[str]]:
    """Split ``meta`` into a JSON-able dict, top-level numeric arrays, and keys that cannot be stored.

    With ``arrays=False`` numeric arrays are kept inside the JSON (tagged with their dtype).
    With ``where`` (the file written), keys that cannot be stored are named in a
    ``DataLossWarning`` pointing at the writer's caller (the one message every writer gives).
    """
    out: dict[str, Any] = {}
    arrs: dict[str, np.ndarray] = {}
    dropped: list[str] = []
    for key, value in meta.items():
        key = str(key)
        if arrays and isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            arrs[key] = value
            continue
        try:
            out[key] = _jsonable(value)
        except TypeError:
            dropped.append(key)
    if dropped and where is not None:
        warnings.warn(
            DataLossWarning(f"{where}: meta value(s) {', '.join(dropped)} cannot be stored; left out."), stacklevel=3
        )
    return out, arrs, dropped


def meta_from_json(meta: Any, arrays: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Inverse of :func:`meta_to_json` (raises ValueError/TypeError on malformed input)."""
    if not isinstance(meta, dict):
        raise TypeError("meta must be a JSON object")
    out = {str(k): _unjson(v) for k, v in meta.items()}
    for k, v in (arrays or {}).items():
        out[str(k)] = np.asarray(v)
    return out


# ---------------------------------------------------------------------------- cropping
def _per_packet_keys(meta: dict[str, Any]) -> list[str]:
    n_pk = len(meta["timestamps"]) if isinstance(meta.get("timestamps"), (np.ndarray, list)) else None
    keys = []
    for k in ("timestamps", "counter", "trigger_ids", "trigger_labels"):
        v = meta.get(k)
        if isinstance(v, (np.ndarray, list)) and (n_pk is None or len(v) == n_pk):
            keys.append(k)
    return keys


def crop(recording: Recording, start: int, stop: int) -> Recording:
    """Samples ``[start, stop)`` with lost-packet records shifted and per-packet arrays sliced.

    Gaps outside the kept part are dropped; per-packet arrays (timestamps, counter, trigger ids
    and labels) are sliced when the samples per packet are known and there were no NaN-filled
    packets, otherwise removed (the caller asked for a crop, so this is not a silent loss).
    """
    out = recording.crop_samples(start, stop)
    meta = dict(out.meta)
    lost = meta.get("lost_packets")
    spp = meta.get("samples_per_packet")
    if isinstance(lost, list):
        kept = []
        for g in lost:
            if not isinstance(g, dict):
                continue
            idx = g.get("emg_sample_index_after_gap")
            if isinstance(idx, int) and start < idx < stop:
                g = dict(g)
                g["emg_sample_index_after_gap"] = idx - start
                if isinstance(g.get("written_packet_index_after_gap"), int) and isinstance(spp, int) and spp:
                    g["written_packet_index_after_gap"] -= start // spp
                kept.append(g)
        meta["lost_packets"] = kept
        meta["n_lost_packets"] = int(sum(int(g.get("n_lost", 0)) for g in kept))
    keys = _per_packet_keys(meta)
    if keys:
        if isinstance(spp, int) and spp > 0 and start % spp == 0 and "inserted_packets" not in meta:
            a, b = start // spp, -(-stop // spp)
            for k in keys:
                meta[k] = meta[k][a:b]
        else:
            for k in keys:
                meta.pop(k, None)
    meta.pop("inserted_packets", None)
    return out.copy(meta=meta)


# ---------------------------------------------------------------------------- what a format holds
_EDF_META = {
    "subject",
    "session",
    "batch",
    "condition",
    "units",
    "start_time",
    "lost_packets",
    "n_lost_packets",
    "samples_per_packet",
    "device",
}


def _default_names(n: int) -> tuple[str, ...]:
    return tuple(f"Ch_{i}" for i in range(n))


def dropped_by(recording: Recording, fmt: str, path: str | None = None) -> list[str]:
    """What writing ``recording`` to format ``fmt`` (``.bio``, ``.h5``, ``.csv``, ``.edf``, ...) would lose.

    Returns short phrases (empty when the format holds everything); numeric precision within
    the format's documented resolution (EDF 16-bit, BDF 24-bit) is not counted as a loss.
    ``path`` (the output file) matters for ``.bio``, whose subject, condition, session, batch and
    start time live only in a SilentWear-style path.
    """
    fmt = fmt.lower().lstrip(".")
    meta = recording.meta
    lost: list[str] = []
    _, _, bad = meta_to_json({k: v for k, v in meta.items() if k not in READER_KEYS})
    if bad:
        lost.append(f"meta value(s) {', '.join(sorted(bad))} (not storable)")
    if fmt in ("npz", "h5", "hdf5", "csv", "csv.gz"):
        return lost
    if fmt in ("edf", "bdf"):
        other = sorted(k for k in meta if k not in _EDF_META and k not in READER_KEYS and k not in bad)
        from .edf import edf_start_time

        if meta.get("start_time") is not None and edf_start_time(meta["start_time"]) is None:
            other.append("start_time")
        import re

        other += [
            k
            for k in ("subject", "session", "batch", "condition")
            if meta.get(k) is not None and not re.fullmatch(r"[\w.-]{1,20}", str(meta[k]))
        ]
        dev = meta.get("device")
        if dev is not None and not (isinstance(dev, str) and 0 < len(dev) <= 20):
            other.append("device")
        if other:
            lost.append(f"meta {', '.join(other)}")
        long = [c for c in recording.ch_names if len(c) > 16]
        if long:
            lost.append(f"channel names longer than 16 characters ({', '.join(long[:3])})")
        n_bad = recording.n_nonfinite()
        if n_bad:
            lost.append(f"{n_bad} NaN/inf sample(s) (EDF has no NaN; they would become 0)")
        if abs(recording.sfreq - round(recording.sfreq)) > 1e-9:
            lost.append(f"the non-integer sampling rate {recording.sfreq:g} Hz")
        if recording.label_names:
            used = set(np.unique(recording.labels).tolist()) if recording.labels is not None else set()
            long_l = [v for k, v in recording.label_names.items() if k in used and len(str(v)) > 24]
            if long_l:
                lost.append(f"label names longer than 24 characters ({', '.join(long_l[:3])})")
        return lost
    if fmt == "bio":
        if tuple(recording.ch_names) != _default_names(recording.n_channels):
            lost.append("channel names (.bio stores none)")
        spp = meta.get("samples_per_packet", 4)
        if recording.labels is not None and isinstance(spp, int) and spp > 0 and recording.n_times % spp == 0:
            lab = np.asarray(recording.labels).reshape(-1, spp)
            if lab.size and np.any(lab != lab[:, :1]):
                lost.append("labels that change inside a packet")
        names = recording.label_names or {}
        if (
            recording.labels is not None
            and any(SILENTWEAR_LABELS.get(k) != v for k, v in names.items())
            and meta.get("layout") != "current"
        ):
            lost.append("label names (the old .bio layout stores only ids)")
        other = sorted(
            k
            for k in meta
            if k not in READER_KEYS
            and k not in bad
            and k
            not in (
                "subject",
                "session",
                "batch",
                "condition",
                "tag",
                "start_time",
                "units",
                "device",
                "samples_per_packet",
                "timestamps",
                "counter",
                "trigger_ids",
                "trigger_labels",
                "lost_packets",
                "n_lost_packets",
                "file_time",
            )
        )
        if meta.get("lost_packets") and "inserted_packets" in meta:
            lost.append("the lost-packet records (its NaN-filled packets would carry a completed counter)")
        from pathlib import Path

        from .bio import _meta_from_path

        told = _meta_from_path(Path(path)) if path is not None else {}
        other += [
            k
            for k in ("subject", "condition", "session", "batch", "tag", "start_time")
            if k in meta and str(told.get(k)) != str(meta[k])
        ]
        if other:
            lost.append(f"meta {', '.join(other)}")
        return lost
    return lost


__all__ = ["READER_KEYS", "crop", "dropped_by", "meta_from_json", "meta_to_json"]

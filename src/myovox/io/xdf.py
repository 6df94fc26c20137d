"""XDF files (Lab Streaming Layer recordings, e.g. from LabRecorder) through pyxdf (``io`` extra).

One numeric stream becomes the Recording; a marker stream (string samples) becomes per-sample
labels: each marker sets the label from its time stamp on until the next marker, so a cue
protocol writes the word at the cue onset and ``rest`` (or ``0``) at its end. Markers that are
SilentWear words map to SilentWear's ids, integers to themselves, other names to new ids.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import did_you_mean, require
from .._logging import logger
from ..exceptions import DataFormatError, DataLossWarning, DataQualityWarning, ValidationError
from ..recording import SILENTWEAR_LABELS, Recording


def _field(info: dict, key: str, default: Any = None) -> Any:
    value = info.get(key, [default])
    return value[0] if isinstance(value, list) and value else default


def _is_numeric(stream: dict) -> bool:
    return str(_field(stream["info"], "channel_format", "")).lower() != "string"


def _describe(streams: list[dict]) -> str:
    return ", ".join(f"{_field(s['info'], 'name')!r} ({_field(s['info'], 'type')})" for s in streams)


def _channel_names(stream: dict, n: int) -> list[str]:
    names: list[str] = []
    units: list[str] = []
    try:
        chans = stream["info"]["desc"][0]["channels"][0]["channel"]
        for ch in chans:
            names.append(str(_field(ch, "label", "")))
            units.append(str(_field(ch, "unit", "") or ""))
    except (KeyError, IndexError, TypeError):
        pass
    if len(names) != n or len(set(names)) != n or not all(names):
        names = [f"Ch_{i}" for i in range(n)]
    stream["_units"] = units[0] if units and len(set(units)) == 1 and units[0] else None
    return names


def _pick(streams: list[dict], which: str | int | None, path: Path) -> dict:
    numeric = [s for s in streams if _is_numeric(s)]
    if which is None:
        emg = [s for s in numeric if str(_field(s["info"], "type", "")).lower() == "emg"]
        regular = [s for s in numeric if float(_field(s["info"], "nominal_srate", 0) or 0) > 0]
        pool = emg or regular or numeric
        if not pool:
            raise DataFormatError(f"{path}: no numeric stream (streams: {_describe(streams) or 'none'}).")
        return max(pool, key=lambda s: int(_field(s["info"], "channel_count", 0) or 0))
    if isinstance(which, int) and not isinstance(which, bool):
        for s in streams:
            if int(_field(s["info"], "stream_id", -1) or -1) == which:
                return s
        if 0 <= which < len(streams):
            return streams[which]
    for key in ("name", "type"):
        for s in streams:
            if str(_field(s["info"], key, "")).lower() == str(which).lower():
                return s
    names = [str(_field(s["info"], "name")) for s in streams]
    raise ValidationError(
        f"Invalid value for 'stream': {path} has no stream named or typed {which!r}; "
        f"streams: {_describe(streams)}.{did_you_mean(str(which), names)}"
    )


def _marker_ids(values: list[str]) -> dict[str, int]:
    by_name = {v: k for k, v in SILENTWEAR_LABELS.items()}
    ids: dict[str, int] = {}
    for v in values:
        key = v.strip()
        if key.lower() in by_name:
            ids[v] = by_name[key.lower()]
        elif key.lstrip("-").isdigit():
            ids[v] = int(key)
    nxt = max([9, *[i + 1 for i in ids.values()]])
    for v in sorted(set(values)):
        if v not in ids:
            ids[v] = nxt
            nxt += 1
    return ids


def read_xdf(
    path: str | Path, *, stream: str | int | None = None, marker_stream: str | int | None = "auto"
) -> Recording:
    """Read one stream of an XDF file, with labels from a marker stream.

    Parameters
    ----------
    path : path-like
    stream : str | int | None
        The signal stream by name, type or stream id; default the stream of type ``EMG``
        (else the regularly sampled numeric stream with the most channels).
    marker_stream : str | int | None
        The marker stream; ``"auto"`` takes the string-valued stream(s) (all are merged),
        None ignores markers.

    Returns
    -------
    Recording
        ``meta["start_time"]`` is the first sample's LSL time stamp (seconds).
    """
    pyxdf = require("pyxdf", "XDF files")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    try:
        streams, _header = pyxdf.load_xdf(str(path), dejitter_timestamps=False)
    except Exception as err:  # noqa: BLE001 - pyxdf raises plain Exception/IOError/EOFError for bad files
        msg = " ".join(str(err).split())[:200]
        raise DataFormatError(f"{path}: not a readable XDF file ({type(err).__name__}: {msg}).") from None
    if not streams:
        raise DataFormatError(f"{path}: no streams in this XDF file.")
    try:
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            return _recording(streams, path, stream, marker_stream)
    except (DataFormatError, ValidationError):
        raise
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OverflowError,
        ZeroDivisionError,
        FloatingPointError,
    ) as err:  # a stream header or time stamps that make no sense
        msg = " ".join(str(err).split())[:160]
        raise DataFormatError(f"{path}: malformed XDF stream ({type(err).__name__}: {msg}).") from None


def _recording(
    streams: list[dict],
    path: Path,
    stream: str | int | None,
    marker_stream: str | int | None,
) -> Recording:
    sig = _pick(streams, stream, path)
    if not _is_numeric(sig):
        raise ValidationError(f"Invalid value for 'stream': {_field(sig['info'], 'name')!r} in {path} holds strings.")
    ts = np.asarray(sig["time_stamps"], dtype=np.float64)
    series = np.asarray(sig["time_series"], dtype=np.float64)
    n_ch = int(_field(sig["info"], "channel_count", series.shape[1] if series.ndim == 2 else 1))
    series = series.reshape(len(ts), n_ch) if series.size else np.zeros((0, n_ch))
    if len(ts) < 2:
        raise DataFormatError(f"{path}: stream {_field(sig['info'], 'name')!r} has {len(ts)} sample(s).")
    if not np.all(np.isfinite(ts)) or np.ptp(ts) > 1e9:
        raise DataFormatError(f"{path}: stream {_field(sig['info'], 'name')!r} has non-finite or absurd time stamps.")
    sfreq = float(_field(sig["info"], "nominal_srate", 0) or 0)
    if not np.isfinite(sfreq) or sfreq > 1e7:
        raise DataFormatError(f"{path}: stream {_field(sig['info'], 'name')!r} has nominal rate {sfreq!r} Hz.")
    if sfreq <= 0:
        sfreq = float(sig["info"].get("effective_srate") or 0) or 1.0 / float(np.median(np.diff(ts)))
        if not (np.isfinite(sfreq) and 0 < sfreq <= 1e7):
            raise DataFormatError(f"{path}: stream {_field(sig['info'], 'name')!r} has no usable sampling rate.")
        logger.info("%s: irregular stream; using its effective rate %.3f Hz", path, sfreq)
    # raw (not dejittered) stamps: the span they cover tells how many samples should be there;
    # comparing counts, not single steps, tolerates the bursty stamps of chunked devices
    expected = int(round((ts[-1] - ts[0]) * sfreq)) + 1
    missing = expected - len(ts)
    if missing > max(2, 0.001 * len(ts)):
        n_gaps = int(np.count_nonzero(np.diff(ts) * sfreq > 1.5))
        warnings.warn(
            DataLossWarning(
                f"{path}: stream {_field(sig['info'], 'name')!r} covers {expected} sample periods but holds "
                f"{len(ts)} samples (about {missing} missing, {n_gaps} gap(s) in its time stamps)."
            ),
            stacklevel=2,
        )
    names = _channel_names(sig, n_ch)
    meta: dict[str, Any] = {
        "source": str(path),
        "start_time": float(ts[0]),
        "stream": str(_field(sig["info"], "name", "")),
        "device": str(_field(sig["info"], "source_id", "") or _field(sig["info"], "name", "")),
    }
    if sig.get("_units"):
        meta["units"] = sig["_units"]

    labels = label_names = None
    if marker_stream is not None:
        if marker_stream == "auto":
            markers = [s for s in streams if not _is_numeric(s) and len(s["time_stamps"])]
        else:
            markers = [_pick(streams, marker_stream, path)]
            if _is_numeric(markers[0]):
                raise ValidationError(
                    f"Invalid value for 'marker_stream': {_field(markers[0]['info'], 'name')!r} in {path} is numeric."
                )
        m_ts = np.concatenate([np.asarray(s["time_stamps"], dtype=float) for s in markers]) if markers else np.empty(0)
        m_val = [str(v[0]) if isinstance(v, (list, tuple)) else str(v) for s in markers for v in s["time_series"]]
        if len(m_val) and not np.all(np.isfinite(m_ts)):
            raise DataFormatError(f"{path}: a marker stream has non-finite time stamps.")
        if len(m_val):
            order = np.argsort(m_ts, kind="stable")
            m_ts = np.asarray(m_ts)[order]
            m_val = [m_val[i] for i in order]
            ids = _marker_ids(m_val)
            labels = np.zeros(len(ts), dtype=np.int64)
            starts = np.searchsorted(ts, m_ts - 0.5 / sfreq)
            outside = int(np.count_nonzero((m_ts < ts[0] - 0.5 / sfreq) | (m_ts > ts[-1] + 0.5 / sfreq)))
            if outside:
                logger.info("%s: %d marker(s) outside the signal's time span", path, outside)
            for k, (a, v) in enumerate(zip(starts, m_val, strict=False)):
                b = starts[k + 1] if k + 1 < len(starts) else len(ts)
                labels[a:b] = ids[v]
            label_names = dict(SILENTWEAR_LABELS)
            label_names.update({i: v.strip() for v, i in ids.items() if i not in SILENTWEAR_LABELS})

    try:
        rec = Recording(series.T.copy(), sfreq, names, labels, label_names, meta)
    except ValidationError as err:
        raise DataFormatError(f"{path}: {err}") from None
    bad = rec.n_nonfinite()
    if bad:
        warnings.warn(DataQualityWarning(f"{path}: {bad} NaN or infinite sample(s)."), stacklevel=2)
    return rec


__all__ = ["read_xdf"]

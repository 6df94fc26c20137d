"""EDF+/BDF+ files through pyedflib (the ``io`` extra).

EDF stores 16-bit integers per sample (BDF 24-bit) scaled by each channel's physical range, so
a write/read round trip is exact up to half a quantisation step,
``(physical_max - physical_min) / (2**16 - 1) / 2`` (2**24 for BDF). Labels are written as
annotations (one per non-rest label run, described by the label's name) or as an extra
``Label`` channel; the reader understands both. A ``myovox:end`` annotation records the true
number of samples, since EDF pads the last data record.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import types
import warnings
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_option, require
from .._logging import logger
from ..exceptions import DataFormatError, DataLossWarning, DataQualityWarning, ValidationError
from ..recording import SILENTWEAR_LABELS, Recording

END_MARK = "myovox:end"
LABEL_MARK = "myovox:label"
LOST_MARK = "myovox:lost"
SPP_MARK = "myovox:spp"
DEVICE_MARK = "myovox:device"
META_MARK = "myovox:meta"
LABEL_CHANNEL = "Label"
_META_RE = re.compile(r"(subject|session|batch|condition)=([^,\s]+)")


def _edf_number(x: float, up: bool) -> float:
    """``x`` rounded outward (``up``: towards +inf) to a number EDF's 8-character field holds exactly.

    The number is a multiple of a power of two, so its short decimal text is its exact binary
    value and pyedflib writes it unchanged (a decimal like -24405.6 is not, and pyedflib would
    write -24405.5, shifting every sample of the channel).
    """
    for j in range(20, -1, -1):
        scale = 2.0**j
        v = (math.ceil(x * scale) if up else math.floor(x * scale)) / scale
        text = f"{v:.{j}f}".rstrip("0").rstrip(".") if j else f"{v:.0f}"
        if text == "-0":
            text = "0"
        if len(text) <= 8:
            return float(text)
    raise ValidationError(f"Value {x:g} is too large for an EDF header (8 characters); rescale the data.")


def _physical_range(row: np.ndarray) -> tuple[float, float]:
    finite = row[np.isfinite(row)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    if hi - lo < 1e-6 * max(1.0, abs(hi)):
        lo, hi = lo - 1.0, hi + 1.0
    return _edf_number(lo, up=False), _edf_number(hi, up=True)


def quantisation_step(recording: Recording, *, bdf: bool = False) -> np.ndarray:
    """Per channel, the physical value of one digital step that :func:`write_edf` uses.

    A write/read round trip changes each sample by at most half of it.
    """
    span = (2**24 - 1) if bdf else (2**16 - 1)
    data = np.asarray(recording.data, dtype=np.float64)
    return np.array([(hi - lo) / span for lo, hi in (_physical_range(row) for row in data)])


def write_edf(recording: Recording, path: str | Path, *, overwrite: bool = False, labels: str = "annotations") -> Path:
    """Write ``recording`` as EDF+ (``.edf``) or BDF+ (``.bdf``, 24-bit).

    Parameters
    ----------
    recording : Recording
    path : path-like
    overwrite : bool
        Replace an existing file.
    labels : {"annotations", "channel"}
        Store per-sample labels as annotations (one per non-zero label run, named by
        ``label_names``) or as an extra ``Label`` channel.
    """
    pyedflib = require("pyedflib", "EDF/BDF files")
    path = Path(path)
    check_option("labels", labels, ["annotations", "channel"])
    if path.exists() and not overwrite:
        raise ValidationError(f"{path} exists; pass overwrite=True to replace it.")
    bdf = path.suffix.lower() == ".bdf"
    dmin, dmax = (-(2**23), 2**23 - 1) if bdf else (-32768, 32767)
    if abs(recording.sfreq - round(recording.sfreq)) > 1e-9:
        raise ValidationError(f"EDF needs an integer sampling rate here, got {recording.sfreq:g} Hz for {path}.")
    data = np.asarray(recording.data, dtype=np.float64)
    n_bad = int(data.size - np.count_nonzero(np.isfinite(data)))
    if n_bad:
        warnings.warn(
            DataLossWarning(f"{path}: EDF cannot store NaN/inf; {n_bad} sample(s) written as 0."), stacklevel=2
        )
        data = np.where(np.isfinite(data), data, 0.0)
    units = str(recording.meta.get("units", ""))[:8]
    rows = list(data)
    names = list(recording.ch_names)
    label_row = recording.labels if labels == "channel" else None
    with_label_channel = label_row is not None
    if label_row is not None:
        rows.append(label_row.astype(np.float64))
        names.append(LABEL_CHANNEL)
    headers: list[dict[str, Any]] = []
    for name, row in zip(names, rows, strict=False):
        lo, hi = _physical_range(row)
        headers.append(
            {
                "label": name[:16],
                "dimension": "" if name == LABEL_CHANNEL and with_label_channel else units,
                "sample_frequency": int(round(recording.sfreq)),
                "physical_min": lo,
                "physical_max": hi,
                "digital_min": dmin,
                "digital_max": dmax,
                "transducer": "",
                "prefilter": "",
            }
        )
    ftype = pyedflib.FILETYPE_BDFPLUS if bdf else pyedflib.FILETYPE_EDFPLUS
    annotations = _annotations(recording, with_label_channel)
    # each data record (1 s) holds one annotation per annotation signal: size them to fit
    n_records = max(1, math.ceil(recording.n_times / recording.sfreq))
    n_ann = max(1, math.ceil(len(annotations) / n_records) + 1)
    if n_ann > 64:
        raise ValidationError(
            f"{path}: {len(annotations)} annotations (label runs, lost-packet gaps) do not fit in "
            f"{n_records} EDF data records; store labels as a channel (labels='channel')."
        )
    tmp = path.with_name(path.name + ".part" + path.suffix)
    writer = pyedflib.EdfWriter(str(tmp), len(rows), file_type=ftype)
    try:
        writer.set_number_of_annotation_signals(n_ann)
        writer.setSignalHeaders(headers)
        if "subject" in recording.meta:
            writer.setPatientCode(str(recording.meta["subject"])[:60])
        extra = ",".join(
            f"{k}={recording.meta[k]}"
            for k in ("session", "batch", "condition")
            if k in recording.meta and re.fullmatch(r"[\w.-]+", str(recording.meta[k]))
        )
        if extra:
            writer.setRecordingAdditional(extra[:60])
        start = edf_start_time(recording.meta.get("start_time"))
        if start is not None:
            writer.setStartdatetime(start)

        # quantise ourselves with rounding (pyedflib truncates): error <= half a step
        digital = []
        for h, row in zip(headers, rows, strict=False):
            scale = (h["digital_max"] - h["digital_min"]) / (h["physical_max"] - h["physical_min"])
            d = np.round((row - h["physical_min"]) * scale + h["digital_min"])
            digital.append(np.ascontiguousarray(np.clip(d, dmin, dmax).astype(np.int32)))
        writer.writeSamples(digital, digital=True)
        for onset, duration, text in annotations:
            writer.writeAnnotation(onset, duration, text)
    finally:
        writer.close()
    tmp.replace(path)
    return path


def edf_start_time(value: Any) -> datetime | None:
    """``meta['start_time']`` as the datetime an EDF header holds exactly (None when it cannot)."""
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is not None or dt.microsecond or not 1985 <= dt.year <= 2084:
        return None
    return dt


def _annotations(recording: Recording, with_label_channel: bool) -> list[tuple[float, float, str]]:
    """Label runs, the label map, lost-packet gaps and the end mark, as EDF+ annotations."""
    sf = recording.sfreq
    out: list[tuple[float, float, str]] = []
    if recording.labels is not None:
        lab_names = recording.label_names or {}
        for lab in sorted(set(np.unique(recording.labels).tolist())):
            out.append((0.0, -1, f"{LABEL_MARK} {int(lab)}={str(lab_names.get(lab, lab))[:24]}"))
        if not with_label_channel:
            for start, stop, lab in recording.label_runs():
                if lab != 0:
                    out.append((start / sf, (stop - start) / sf, str(lab_names.get(lab, lab))[:24]))
    spp = recording.meta.get("samples_per_packet")
    if isinstance(spp, int):
        out.append((0.0, -1, f"{SPP_MARK} {spp}"))
    device = recording.meta.get("device")
    if isinstance(device, str) and 0 < len(device) <= 20:  # the header's 80 recording characters are full
        out.append((0.0, -1, f"{DEVICE_MARK} {device}"))
    for key in ("subject", "session", "batch", "condition"):  # exact, whatever the header fields truncate
        value = recording.meta.get(key)
        if value is not None and re.fullmatch(r"[\w.-]{1,20}", str(value)):
            kind = "i" if isinstance(value, int) and not isinstance(value, bool) else "s"
            out.append((0.0, -1, f"{META_MARK} {key}:{kind}={value}"))
    for g in recording.meta.get("lost_packets") or []:
        try:
            idx, n = int(g["emg_sample_index_after_gap"]), int(g["n_lost"])
            before, after = int(g.get("counter_before_gap", -1)), int(g.get("counter_after_gap", -1))
            pk = int(g.get("written_packet_index_after_gap", -1))
        except (KeyError, TypeError, ValueError):
            continue
        out.append((idx / sf, -1, f"{LOST_MARK} {n} {before} {after} {pk}"))
    out.append((recording.n_times / sf, -1, END_MARK))
    return out


@contextlib.contextmanager
def _c_stdout_silenced() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null while C code runs (Python's sys.stdout is untouched)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _label_ids(descriptions: Sequence[str]) -> dict[str, int]:
    by_name = {v: k for k, v in SILENTWEAR_LABELS.items()}
    ids: dict[str, int] = {}
    nxt = max(by_name.values()) + 1
    for d in sorted(set(descriptions)):
        if d in by_name:
            ids[d] = by_name[d]
        elif d.lstrip("-").isdigit():
            ids[d] = int(d)
    for d in sorted(set(descriptions)):
        if d not in ids:
            while nxt in ids.values():
                nxt += 1
            ids[d] = nxt
            nxt += 1
    return ids


def read_edf(
    path: str | Path, *, label_channel: str | None = "auto", channels: Sequence[str] | None = None
) -> Recording:
    """Read an EDF/EDF+/BDF/BDF+ file.

    Parameters
    ----------
    path : path-like
    label_channel : str | None
        Channel holding per-sample labels: ``"auto"`` uses one named ``Label`` if present,
        None uses none. Otherwise labels come from annotations with a duration (their
        description is the label name; SilentWear's names map to their ids).
    channels : sequence of str | None
        Channels to keep; default all signals at the highest sampling rate.

    Returns
    -------
    Recording
        Physical values in the file's units (``meta["units"]``).
    """
    pyedflib = require("pyedflib", "EDF/BDF files")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = _read_edf(pyedflib, path, label_channel, channels)
        except (DataFormatError, ValidationError):
            raise
        except (ValueError, IndexError, KeyError, OverflowError, ZeroDivisionError, MemoryError) as err:
            msg = " ".join(str(err).split())[:160]
            raise DataFormatError(f"{path}: malformed EDF/BDF content ({type(err).__name__}: {msg}).") from None
    for w in caught:  # pyedflib's own warnings (undecodable header text, ...) as ours, naming the file
        if issubclass(w.category, (DataLossWarning, DataQualityWarning)):
            warnings.warn(w.message, w.category, stacklevel=2)
        else:
            warnings.warn(DataQualityWarning(f"{path}: {' '.join(str(w.message).split())}"), stacklevel=2)
    return out


def _read_edf(
    pyedflib: types.ModuleType, path: Path, label_channel: str | None, channels: Sequence[str] | None
) -> Recording:
    try:
        with _c_stdout_silenced():  # edflib prints its checks ("filesize ... != ...") on the C stdout
            reader = pyedflib.EdfReader(str(path))
    except (OSError, ValueError, UnicodeDecodeError) as err:
        msg = " ".join(str(err).split())
        raise DataFormatError(f"{path}: not a readable EDF/BDF file ({msg}).") from None
    try:
        labels_all = [s.strip() for s in reader.getSignalLabels()]
        rates = np.asarray(reader.getSampleFrequencies(), dtype=float)
        if not len(labels_all):
            raise DataFormatError(f"{path}: no signals.")
        if label_channel == "auto":
            label_channel = next((s for s in labels_all if s.lower() == LABEL_CHANNEL.lower()), None)
        elif label_channel is not None and label_channel not in labels_all:
            raise ValidationError(f"Invalid value for 'label_channel': {path} has no channel {label_channel!r}.")
        if channels is None:
            sfreq = float(rates.max())
            picks = [i for i, s in enumerate(labels_all) if rates[i] == sfreq and s != label_channel]
            skipped = [s for i, s in enumerate(labels_all) if rates[i] != sfreq and s != label_channel]
            if skipped:
                logger.info("%s: skipped channels at other rates: %s", path, ", ".join(skipped))
        else:
            missing = [c for c in channels if c not in labels_all]
            if missing:
                raise ValidationError(f"{path}: no channel(s) {', '.join(missing)}; has {', '.join(labels_all)}.")
            picks = [labels_all.index(c) for c in channels]
            sfreq = float(rates[picks[0]])
            if np.any(rates[picks] != sfreq):
                raise ValidationError(f"{path}: the chosen channels have different rates {rates[picks].tolist()}.")
        data = np.vstack([reader.readSignal(i) for i in picks])
        onsets, durations, descs = reader.readAnnotations()
        lab_row = reader.readSignal(labels_all.index(label_channel)) if label_channel else None
        units = reader.getPhysicalDimension(picks[0]).strip()
        meta: dict[str, Any] = {"source": str(path)}
        code = (reader.getPatientCode() or "").strip()
        if code:
            meta["subject"] = code
        for key, value in _META_RE.findall(reader.getRecordingAdditional() or ""):
            meta[key] = int(value) if value.isdigit() else value
        start = reader.getStartdatetime()
        meta["start_time"] = start.isoformat()
        equipment = (reader.getEquipment() or "").strip()
        if equipment:
            meta["device"] = equipment
    except (DataFormatError, ValidationError):
        raise
    except (OSError, ValueError, IndexError, KeyError, UnicodeDecodeError, OverflowError, ZeroDivisionError) as err:
        msg = " ".join(str(err).split())[:160]
        raise DataFormatError(f"{path}: not a readable EDF/BDF file ({type(err).__name__}: {msg}).") from None
    finally:
        reader.close()
    if units:
        meta["units"] = units
    descs = [str(d) for d in descs]
    n = data.shape[1]
    label_map: dict[str, int] = {}
    lost: list[dict[str, Any]] = []
    for o, d in zip(onsets, descs, strict=False):
        if d == END_MARK:
            n = max(0, min(n, int(round(float(o) * sfreq))))
        elif d.startswith(LABEL_MARK + " "):
            k, _, name = d[len(LABEL_MARK) + 1 :].partition("=")
            if k.strip().lstrip("-").isdigit():
                label_map[name] = int(k)
        elif d.startswith(META_MARK + " "):
            m = re.fullmatch(r"(subject|session|batch|condition):([is])=([\w.-]+)", d[len(META_MARK) + 1 :].strip())
            if m:
                meta[m.group(1)] = (
                    int(m.group(3)) if m.group(2) == "i" and m.group(3).lstrip("-").isdigit() else m.group(3)
                )
        elif d.startswith(DEVICE_MARK + " ") and d[len(DEVICE_MARK) + 1 :].strip():
            meta["device"] = d[len(DEVICE_MARK) + 1 :].strip()
        elif d.startswith(SPP_MARK + " ") and d[len(SPP_MARK) + 1 :].strip().isdigit():
            meta["samples_per_packet"] = int(d[len(SPP_MARK) + 1 :])
        elif d.startswith(LOST_MARK + " "):
            parts = d[len(LOST_MARK) + 1 :].split()
            if len(parts) == 4 and all(p.lstrip("-").isdigit() for p in parts):
                n_lost, before, after, pk = (int(p) for p in parts)
                rec_g: dict[str, Any] = {
                    "written_packet_index_after_gap": pk,
                    "emg_sample_index_after_gap": int(round(float(o) * sfreq)),
                    "counter_before_gap": before,
                    "counter_after_gap": after,
                    "n_lost": n_lost,
                }
                if before >= 0 and 0 <= n_lost <= 1 << 16:
                    rec_g["missing_counter_values"] = [(before + 1 + j) % 256 for j in range(n_lost)]
                lost.append(rec_g)
    if lost:
        meta["lost_packets"] = lost
        meta["n_lost_packets"] = int(sum(g["n_lost"] for g in lost))
    data = data[:, :n]
    labels = label_names = None
    if lab_row is not None:
        labels = np.round(np.nan_to_num(lab_row[:n])).astype(np.int64)
        if label_map:
            label_names = {i: name for name, i in label_map.items()}
    else:
        events = [
            (float(o), float(du), d)
            for o, du, d in zip(onsets, durations, descs, strict=False)
            if not d.startswith("myovox:") and float(du) > 0
        ]
        if events or (label_map and not any(c.lower() == LABEL_CHANNEL.lower() for c in labels_all)):
            ids = _label_ids([d for _, _, d in events])
            ids.update({d: label_map[d] for d in ids if d in label_map})
            labels = np.zeros(n, dtype=np.int64)
            for o, du, d in events:
                a, b = int(round(o * sfreq)), int(round((o + du) * sfreq))
                labels[max(a, 0) : min(b, n)] = ids[d]
            label_names = dict(SILENTWEAR_LABELS)
            label_names.update({i: d for d, i in ids.items()})
            label_names.update({i: d for d, i in label_map.items()})
    try:
        return Recording(data, sfreq, [labels_all[i] for i in picks], labels, label_names, meta)
    except ValidationError as err:
        raise DataFormatError(f"{path}: {err}") from None


__all__ = ["quantisation_step", "read_edf", "write_edf"]

"""SilentWear's processed per-recording HDF5 files (the public ``data_raw_and_filt`` release).

Each file is a pandas HDF store (fixed format) with key ``emg`` and one row per sample:

=============  =======  =====================================================================
column         dtype    content
=============  =======  =====================================================================
``Ch_i``       float32  raw EMG (0.1 uV) of the 14 kept channels (0..10, 13..15), in that order
Label_int      int32    per-sample label (0 rest, 1..8 the commands)
Label_str      object   label name
``Ch_i_filt``  float64  zero-phase filtered EMG (high-pass 20 Hz, band-stop 47.5-52.5 Hz),
                        filtered over the whole recording *before* trimming
session_id     int64    session number
batch_id       int64    batch number
=============  =======  =====================================================================

The rows are trimmed to ``[first cue - 1 s, last cue sample + 1 s)`` and the index keeps the
sample number in the untrimmed recording. pandas is imported only inside the functions.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._logging import logger
from ..exceptions import DataFormatError, DataLossWarning, DataQualityWarning, ValidationError
from ..recording import SILENTWEAR_LABELS, Recording
from ._lossless import crop, meta_from_json, meta_to_json

#: sampling rate of the SilentWear recordings
SFREQ = 500.0
#: the 16 acquired channels and the two that SilentWear drops
N_ACQUIRED = 16
DROPPED_CHANNELS = (11, 12)
#: the 14 kept channels in the file's column order
KEPT_CHANNELS: tuple[str, ...] = tuple(f"Ch_{i}" for i in range(N_ACQUIRED) if i not in DROPPED_CHANNELS)
FILT_CHANNELS: tuple[str, ...] = tuple(f"{c}_filt" for c in KEPT_CHANNELS)
#: every column of the file, in the reference's order
COLUMNS: tuple[str, ...] = KEPT_CHANNELS + ("Label_int", "Label_str") + FILT_CHANNELS + ("session_id", "batch_id")
KEY = "emg"
#: filter settings of the reference's processed release
FILTER = {"highpass": 20.0, "notch": 50.0}
CONDITIONS = ("silent", "vocalized")

_SESS_RE = re.compile(r"sess_(\d+)_batch_(\d+)", re.IGNORECASE)


def parse_silentwear_path(path: str | Path) -> dict[str, Any]:
    """Subject, condition, session and batch told by a SilentWear file path.

    ``.../<subject>/<silent|vocalized>/sess_<s>_batch_<b>[...].h5|.bio`` gives all four; parts
    that the path does not show are left out.
    """
    path = Path(path)
    out: dict[str, Any] = {}
    m = _SESS_RE.search(path.name)
    if m:
        out["session"], out["batch"] = int(m.group(1)), int(m.group(2))
    cond = path.parent.name.lower()
    if cond in CONDITIONS:
        out["condition"] = cond
        subject = path.parent.parent.name
        if subject:
            out["subject"] = subject
    return out


_MYOVOX_GROUP = "myovox"
_HEADER_FORMAT = "myovox-h5"


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return (text[:160] + "...") if len(text) > 160 else text


def _attr_str(node: Any, key: str) -> str | None:
    v = node.attrs.get(key)
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8", "replace")
    return None if v is None else str(v)


def _names(ds: Any, path: Path, what: str) -> list[str]:
    if ds.dtype.kind != "S" or ds.ndim != 1:
        raise DataFormatError(f"{path}: {what} of key {KEY!r} is not a list of names (corrupt file?).")
    return [bytes(v).decode("utf-8", "replace") for v in ds[()]]


def _read_frame(
    path: Path,
) -> tuple[dict[str, np.ndarray], np.ndarray, list[str], dict[str, str], dict[str, Any] | None]:
    """Read a pandas fixed-format frame without pandas (and so without unpickling anything).

    Returns numeric columns by name, the index, every column name, and the columns that hold
    Python objects (text; pickled by pandas, never loaded here) with their block name.
    """
    h5py = __import__("h5py")
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    try:
        fh = h5py.File(path, "r")
    except Exception as err:  # noqa: BLE001 - OSError for a non-HDF5 file; h5py raises several kinds
        raise DataFormatError(f"{path}: not an HDF5 file ({type(err).__name__}: {_one_line(err)}).") from None
    try:
        with fh:
            if KEY not in fh or not isinstance(fh[KEY], h5py.Group):
                keys = [k for k in fh if k != _MYOVOX_GROUP]
                raise DataFormatError(
                    f"{path}: no key {KEY!r} in this HDF5 file (keys: {', '.join(keys) or 'none'}); "
                    "not a SilentWear processed recording."
                )
            g = fh[KEY]
            ptype = _attr_str(g, "pandas_type")
            if ptype != "frame":
                raise DataFormatError(
                    f"{path}: key {KEY!r} holds a pandas {ptype or 'non-pandas'} object, "
                    "not a fixed-format table (frame)."
                )
            for need in ("axis0", "axis1"):
                if need not in g or not isinstance(g[need], h5py.Dataset):
                    raise DataFormatError(f"{path}: key {KEY!r} has no {need} (corrupt file?).")
            columns = _names(g["axis0"], path, "the column list")
            index = g["axis1"][()]
            if index.ndim != 1:
                raise DataFormatError(f"{path}: the row index of key {KEY!r} is not one-dimensional.")
            n_rows = index.shape[0]
            nblocks = g.attrs.get("nblocks", 0)
            if not isinstance(nblocks, (int, np.integer)) or not 0 <= int(nblocks) <= 10000:
                raise DataFormatError(f"{path}: key {KEY!r} has an invalid block count {nblocks!r}.")
            numeric: dict[str, np.ndarray] = {}
            objects: dict[str, str] = {}
            for b in range(int(nblocks)):
                items_key, values_key = f"block{b}_items", f"block{b}_values"
                if items_key not in g or values_key not in g:
                    raise DataFormatError(f"{path}: key {KEY!r} lacks {items_key} or {values_key} (corrupt file?).")
                items = _names(g[items_key], path, items_key)
                ds = g[values_key]
                if not isinstance(ds, h5py.Dataset):
                    raise DataFormatError(f"{path}: {values_key} of key {KEY!r} is not a dataset.")
                if ds.dtype.kind not in "biuf":
                    for it in items:  # pickled Python objects (text): never unpickled
                        objects[it] = values_key
                    continue
                vals = ds[()]
                if vals.ndim == 1:
                    vals = vals[:, None] if len(items) == 1 else vals[None, :]
                if vals.ndim != 2:
                    raise DataFormatError(f"{path}: {values_key} of key {KEY!r} has {vals.ndim} dimensions.")
                if vals.shape != (n_rows, len(items)) and vals.shape == (len(items), n_rows):
                    vals = vals.T
                if vals.shape != (n_rows, len(items)):
                    raise DataFormatError(
                        f"{path}: {values_key} of key {KEY!r} has shape {vals.shape}, expected "
                        f"({n_rows}, {len(items)}) (corrupt file?)."
                    )
                for j, it in enumerate(items):
                    numeric[it] = vals[:, j]
            header = _read_myovox_group(fh, path)
    except DataFormatError:
        raise
    except Exception as err:  # noqa: BLE001 - h5py raises OSError/KeyError/ValueError/RuntimeError for broken files
        raise DataFormatError(f"{path}: cannot read the HDF5 file ({type(err).__name__}: {_one_line(err)}).") from None
    return numeric, index, columns, objects, header


def _read_myovox_group(fh: Any, path: Path) -> dict[str, Any] | None:
    """The JSON header and meta arrays myovox writes under ``/myovox`` (None when absent)."""
    h5py = __import__("h5py")
    if _MYOVOX_GROUP not in fh:
        return None
    g = fh[_MYOVOX_GROUP]
    if (
        not isinstance(g, h5py.Group)
        or "header" not in g
        or not isinstance(g["header"], h5py.Dataset)
        or g["header"].dtype != np.uint8
    ):
        raise DataFormatError(f"{path}: /{_MYOVOX_GROUP} exists but holds no uint8 'header' (corrupt file?).")
    try:
        header = json.loads(bytes(g["header"][()]).decode("utf-8"))
        if not isinstance(header, dict) or header.get("format") != _HEADER_FORMAT:
            raise ValueError(f"format is not {_HEADER_FORMAT!r}")
        arrays: dict[str, np.ndarray] = {}
        if "meta" in g:
            for k, ds in g["meta"].items():
                if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "biuf":
                    raise ValueError(f"meta array {k!r} is not numeric")
                arrays[k] = ds[()]
        header["meta"] = meta_from_json(header.get("meta") or {}, arrays)
        if not isinstance(header.get("ch_names"), list) or not all(isinstance(c, str) for c in header["ch_names"]):
            raise ValueError("ch_names is not a list of names")
        header["sfreq"] = float(header["sfreq"])
        header["label_names"] = {int(k): str(v) for k, v in (header.get("label_names") or {}).items()}
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError) as err:
        raise DataFormatError(
            f"{path}: the myovox header in /{_MYOVOX_GROUP} is malformed ({type(err).__name__}: {_one_line(err)})."
        ) from None
    return header


def read_silentwear_h5(path: str | Path, *, filtered: bool = False) -> Recording:
    """Read one processed SilentWear recording (``data_raw_and_filt/<S>/<cond>/sess_s_batch_b.h5``).

    The file is read with h5py, never through pickle: pandas stores text columns
    (``Label_str``) as pickled objects, which are skipped (label names come from SilentWear's
    map, or from the myovox header). Files written by :func:`write_h5` / myovox carry a
    ``/myovox`` group (JSON header and meta arrays) with every channel, the sampling rate, the
    label map and ``meta`` (lost packets, per-packet counter/timestamps/triggers); it is used
    when present.

    Parameters
    ----------
    path : path-like
        The ``.h5`` file.
    filtered : bool
        Return the ``Ch_i_filt`` columns (filtered by the reference over the whole untrimmed
        recording) instead of the raw ``Ch_i`` ones; ``meta["filtered"]`` says which.

    Returns
    -------
    Recording
        SilentWear's files: 14 channels ``Ch_0 .. Ch_10, Ch_13 .. Ch_15`` at 500 Hz in 0.1 uV,
        per-sample labels from ``Label_int``; ``meta`` has subject and condition (from the path),
        session and batch (from the columns), ``first_sample`` (the first row's sample number in
        the untrimmed recording) and ``source``.
    """
    path = Path(path)
    numeric, index, _columns, objects, header = _read_frame(path)
    if header is not None:
        base = list(header["ch_names"])
        sfreq = header["sfreq"]
    else:
        base = list(KEPT_CHANNELS)
        sfreq = SFREQ
    chans = [f"{c}_filt" for c in base] if filtered else base
    text = [c for c in chans + ["Label_int"] if c in objects]
    if text:
        raise DataFormatError(
            f"{path}: column(s) {', '.join(text)} of key {KEY!r} hold text or mixed values, not numbers."
        )
    missing = [c for c in chans + ["Label_int"] if c not in numeric]
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {', '.join(missing)} in key {KEY!r}.")
    data = np.vstack([numeric[c] for c in chans]) if chans else np.zeros((0, len(index)))
    if data.dtype.kind != "f":
        data = data.astype(np.float64)
    elif header is None:
        data = data.astype(np.float64 if filtered else np.float32)
    data = np.ascontiguousarray(data)
    raw = numeric["Label_int"]
    if raw.dtype.kind == "f" and (not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw))):
        raise DataFormatError(f"{path}: column Label_int holds non-integer values.")
    labels: np.ndarray | None = raw.astype(np.int64)
    label_names: dict[int, str] | None = dict(SILENTWEAR_LABELS)

    meta: dict[str, Any] = {"dataset": "silentwear", "device": "BioGAP-Ultra", "units": "0.1 uV"}
    if header is not None:
        meta = dict(header["meta"])
        if header.get("label_names"):
            label_names = dict(header["label_names"])
        if not header.get("labelled", True):
            labels, label_names = None, None
    meta.update({"source": str(path), "filtered": bool(filtered)})
    for k, v in parse_silentwear_path(path).items():
        meta.setdefault(k, v)
    for col, key in (("session_id", "session"), ("batch_id", "batch")):
        if col in numeric and len(index) and not (header is not None and key not in header["meta"]):
            vals = np.unique(numeric[col])
            if len(vals) > 1:
                logger.warning("%s: column %s has several values %s; using the first", path, col, vals.tolist())
            meta[key] = int(numeric[col][0])
    if filtered:
        meta["filter"] = dict(FILTER)
    if len(index) and np.issubdtype(index.dtype, np.integer):
        meta["first_sample"] = int(index[0])
        steps = np.diff(index)
        if np.any(steps != 1):
            warnings.warn(
                DataLossWarning(
                    f"{path}: the sample index is not contiguous ({int(np.count_nonzero(steps != 1))} jumps); "
                    "rows are kept in file order."
                ),
                stacklevel=2,
            )
    try:
        rec = Recording(data, sfreq, base, labels, label_names, meta)
    except ValidationError as err:
        raise DataFormatError(f"{path}: {err}") from None
    bad = rec.n_nonfinite()
    if bad:
        warnings.warn(DataQualityWarning(f"{path}: {bad} NaN or infinite sample(s) in the EMG columns."), stacklevel=2)
    return rec


def _int_meta(recording: Recording, key: str) -> int:
    value = recording.meta.get(key)
    if value is None:
        value = parse_silentwear_path(recording.source).get(key)
    if value is not None:
        try:
            return int(value)
        except (TypeError, ValueError):
            pass
    logger.warning("%s: no integer meta[%r]; writing %s_id 0", recording.source, key, key)
    return 0


def trim_bounds(labels: np.ndarray, sfreq: float, margin_s: float = 1.0) -> tuple[int, int]:
    """SilentWear's trim: ``[first non-zero label - margin, last non-zero label + margin)``.

    The bounds are clipped to the recording; with no non-zero label the whole recording is kept.
    """
    nz = np.flatnonzero(np.asarray(labels) != 0)
    n = len(labels)
    if not len(nz):
        return 0, n
    margin = int(round(margin_s * sfreq))
    return max(0, int(nz[0]) - margin), min(n, int(nz[-1]) + margin)


def write_silentwear_h5(
    recording: Recording,
    path: str | Path,
    *,
    overwrite: bool = False,
    trim: bool = True,
    channels: str | Sequence[str] = "silentwear",
) -> Path:
    """Write ``recording`` in SilentWear's processed layout (same columns, dtypes and order).

    Parameters
    ----------
    recording : Recording
        Raw (unfiltered) labelled EMG with channels ``Ch_0 .. Ch_15`` (16 acquired channels;
        11 and 12 are dropped) or already the 14 kept ones with those names.
    path : path-like
        Output ``.h5`` file.
    overwrite : bool
        Replace an existing file.
    trim : bool
        Keep only ``[first cue - 1 s, last cue + 1 s)`` as the reference does. The ``Ch_i_filt``
        columns are always filtered over the whole untrimmed recording first. The index keeps
        each row's sample number (offset by ``meta["first_sample"]`` when the input was already
        cut).
    channels : "silentwear" | "all" | sequence of str
        ``"silentwear"``: the reference's 14 channels (``Ch_11``/``Ch_12`` dropped);
        ``"all"``: every channel under its own name (a column per channel, then ``Label_int``,
        ``Label_str``, the ``<name>_filt`` columns, ``session_id``, ``batch_id``); or the
        channels to write, in that order.

    Every file also gets a ``/myovox`` group (ignored by pandas and SilentWear's code) with a
    JSON header (sampling rate, written channels, label map, whether the recording is labelled,
    ``meta``) and the numeric arrays of ``meta`` (per-packet counter, timestamps, trigger ids),
    so :func:`read_silentwear_h5` gives back what was written. With ``trim`` the lost-packet
    records are shifted to the kept part and per-packet arrays sliced.

    Returns
    -------
    Path
        The written file.
    """
    pd = __import__("pandas")
    path = Path(path)
    if path.exists() and not overwrite:
        raise ValidationError(f"{path} exists; pass overwrite=True to replace it.")
    reference = isinstance(channels, str) and channels == "silentwear"
    if recording.labels is None and (trim or reference):
        raise ValidationError(
            f"{recording.source} has no labels; the SilentWear h5 layout needs per-sample labels "
            "(write it with channels='all', trim=False to store an unlabelled recording)."
        )
    if recording.meta.get("filtered"):
        raise ValidationError(
            f"{recording.source} is already filtered; write_silentwear_h5 needs the raw signal "
            "(read it with filtered=False) because it writes raw and filtered columns."
        )
    if reference:
        names = list(KEPT_CHANNELS)
    elif isinstance(channels, str) and channels == "all":
        names = list(recording.ch_names)
    elif isinstance(channels, str):
        raise ValidationError(
            f"Invalid value for 'channels': expected 'silentwear', 'all' or a list of channel names, got {channels!r}."
        )
    else:
        names = [recording.ch_names[c] if isinstance(c, (int, np.integer)) else str(c) for c in channels]
    missing = [c for c in names if c not in recording.ch_names]
    if missing:
        raise ValidationError(
            f"{recording.source}: channel(s) {', '.join(missing)} missing; the SilentWear layout needs "
            f"{', '.join(names)} (have {', '.join(recording.ch_names)})."
        )
    reserved = {"Label_int", "Label_str", "session_id", "batch_id"} | {f"{c}_filt" for c in names}
    clash = [c for c in names if c in reserved]
    if clash:
        raise ValidationError(
            f"{recording.source}: channel name(s) {', '.join(clash)} clash with the SilentWear "
            "layout's other columns; rename them first."
        )
    if not np.isclose(recording.sfreq, SFREQ):
        logger.warning(
            "%s: sampling rate %g Hz, not SilentWear's %g Hz; the 1 s trim margin follows %g Hz",
            recording.source,
            recording.sfreq,
            SFREQ,
            recording.sfreq,
        )
    kept = recording.pick(names)
    bad = kept.n_nonfinite()
    if bad and reference:
        raise ValidationError(
            f"{recording.source}: {bad} NaN or infinite sample(s); the filtered columns cannot be "
            "computed over them, fill or interpolate them first (read .bio files with fill_lost='none')."
        )
    if reference or kept.data.dtype == np.float32:
        raw = kept.data.astype(np.float32)
    else:
        raw = kept.data.astype(np.float64)
    filt = None
    if not bad:
        # the layout stores the reference's filtered columns; the filter itself is preprocessing's
        from ..preprocessing.filters import filter_silentwear

        try:
            filt = filter_silentwear(raw, recording.sfreq, **FILTER, source=recording.source)
        except (ValidationError, ValueError) as err:  # e.g. a rate too low for the 50 Hz notch
            if reference:
                raise
            logger.info("%s: no filtered columns (%s)", recording.source, err)
    labelled = recording.labels is not None
    labels = (recording.labels if recording.labels is not None else np.zeros(recording.n_times, np.int64)).astype(
        np.int32
    )
    if labelled and np.any(labels != recording.labels):
        raise ValidationError(f"{recording.source}: labels do not fit the layout's int32 Label_int column.")
    start, stop = trim_bounds(labels, recording.sfreq) if trim else (0, recording.n_times)
    label_map = recording.label_names or SILENTWEAR_LABELS
    sl = slice(start, stop)
    offset = int(recording.meta.get("first_sample", 0) or 0)
    index = pd.Index(np.arange(start, stop, dtype=np.int64) + offset)

    cols: dict[str, Any] = {}
    for i, ch in enumerate(names):
        cols[ch] = raw[i, sl]
    cols["Label_int"] = labels[sl]
    cols["Label_str"] = np.array([label_map.get(int(v), str(int(v))) for v in labels[sl]], dtype=object)
    filt_names: list[str] = []
    if filt is not None:
        filt_names = [f"{c}_filt" for c in names]
        for i, ch in enumerate(filt_names):
            cols[ch] = filt[i, sl]
    n = stop - start
    cols["session_id"] = np.full(n, _int_meta(recording, "session"), dtype=np.int64)
    cols["batch_id"] = np.full(n, _int_meta(recording, "batch"), dtype=np.int64)
    order = names + ["Label_int", "Label_str"] + filt_names + ["session_id", "batch_id"]
    df = pd.DataFrame(cols, index=index, columns=order)
    # plain object strings, as the reference (pandas >= 3 would otherwise store its "str" dtype)
    df["Label_str"] = df["Label_str"].astype(object)

    cut = crop(recording, start, stop) if (start, stop) != (0, recording.n_times) else recording
    meta_json, meta_arrays, _ = meta_to_json(
        {k: v for k, v in cut.meta.items() if k not in ("source", "first_sample", "filtered")}, where=path
    )
    header = {
        "format": _HEADER_FORMAT,
        "version": 1,
        "sfreq": float(recording.sfreq),
        "ch_names": names,
        "labelled": labelled,
        "label_names": {str(k): str(v) for k, v in (recording.label_names or {}).items()},
        "filtered_columns": filt is not None,
        "meta": meta_json,
    }
    tmp = path.with_name(path.name + ".part")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
            df.to_hdf(tmp, key=KEY, mode="w")
        h5py = __import__("h5py")
        with h5py.File(tmp, "a") as fh:
            g = fh.create_group(_MYOVOX_GROUP)
            g.create_dataset("header", data=np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8))
            if meta_arrays:
                m = g.create_group("meta")
                for k, v in meta_arrays.items():
                    m.create_dataset(k, data=np.asarray(v))
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    logger.debug("wrote %s: %d rows (samples %d..%d)", path, n, start + offset, stop + offset - 1)
    return path


def write_h5(
    recording: Recording,
    path: str | Path,
    *,
    overwrite: bool = False,
    trim: bool = False,
    channels: str | Sequence[str] = "all",
) -> Path:
    """Write ``recording`` to an ``.h5`` file without loss (the default of ``write_recording``).

    The SilentWear column layout with every channel, every sample (no trim) and ``meta``
    (lost packets, per-packet counter, timestamps and triggers) in the ``/myovox`` group; see
    :func:`write_silentwear_h5`, whose defaults give the reference's 14-channel trimmed files.
    """
    return write_silentwear_h5(recording, path, overwrite=overwrite, trim=trim, channels=channels)


__all__ = [
    "COLUMNS",
    "FILT_CHANNELS",
    "KEPT_CHANNELS",
    "parse_silentwear_path",
    "read_silentwear_h5",
    "trim_bounds",
    "write_h5",
    "write_silentwear_h5",
]

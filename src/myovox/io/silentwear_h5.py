"""SilentWear's processed per-recording HDF5 files (the public ``data_raw_and_filt`` release).

Each file is a pandas HDF store (fixed format) with key ``emg`` and one row per sample:

============  =======  =====================================================================
column        dtype    content
============  =======  =====================================================================
``Ch_i``      float32  raw EMG (0.1 uV) of the 14 kept channels (0..10, 13..15), in that order
Label_int     int32    per-sample label (0 rest, 1..8 the commands)
Label_str     object   label name
``Ch_i_filt`` float64  zero-phase filtered EMG (high-pass 20 Hz, band-stop 47.5-52.5 Hz),
                       filtered over the whole recording *before* trimming
session_id    int64    session number
batch_id      int64    batch number
============  =======  =====================================================================

The rows are trimmed to ``[first cue - 1 s, last cue sample + 1 s)`` and the index keeps the
sample number in the untrimmed recording. pandas is imported only inside the functions.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._logging import logger
from ..exceptions import DataFormatError, DataLossWarning, DataQualityWarning, ValidationError
from ..recording import SILENTWEAR_LABELS, Recording

#: sampling rate of the SilentWear recordings
SFREQ = 500.0
#: the 16 acquired channels and the two that SilentWear drops
N_ACQUIRED = 16
DROPPED_CHANNELS = (11, 12)
#: the 14 kept channels in the file's column order
KEPT_CHANNELS: tuple[str, ...] = tuple(f"Ch_{i}" for i in range(N_ACQUIRED) if i not in DROPPED_CHANNELS)
FILT_CHANNELS: tuple[str, ...] = tuple(f"{c}_filt" for c in KEPT_CHANNELS)
#: every column of the file, in the reference's order
COLUMNS: tuple[str, ...] = (KEPT_CHANNELS + ("Label_int", "Label_str") + FILT_CHANNELS
                            + ("session_id", "batch_id"))
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


def zero_phase_filter(data: np.ndarray, sfreq: float, highpass: float = FILTER["highpass"],
                      notch: float = FILTER["notch"], *, source: str | None = None) -> np.ndarray:
    """SilentWear's offline filter over the whole signal: 4th-order Butterworth high-pass, then
    a 2nd-order Butterworth band-stop ``notch +- 2.5 Hz``, both forward-backward (float64).

    The design comes from :mod:`myovox.preprocessing.filters`, the one place filters are designed.
    """
    from ..preprocessing.filters import design_filter, filter_zero_phase

    design = design_filter(sfreq, highpass=highpass, notch=notch)
    return np.asarray(filter_zero_phase(np.asarray(data, dtype=np.float64), design, source=source),
                      dtype=np.float64)


def _read_frame(path: Path):
    pd = __import__("pandas")
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = [k.lstrip("/") for k in store.keys()]
            if KEY not in keys:
                raise DataFormatError(
                    f"{path}: no key {KEY!r} in this HDF5 file (keys: {', '.join(keys) or 'none'}); "
                    "not a SilentWear processed recording.")
            return store[KEY]
    except DataFormatError:
        raise
    except Exception as err:  # tables/pandas raise many kinds for non-HDF5 or broken files
        raise DataFormatError(f"{path}: cannot read as a pandas HDF5 store ({type(err).__name__}: {err}).") from err


def read_silentwear_h5(path: str | Path, *, filtered: bool = False) -> Recording:
    """Read one processed SilentWear recording (``data_raw_and_filt/<S>/<cond>/sess_s_batch_b.h5``).

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
        14 channels ``Ch_0 .. Ch_10, Ch_13 .. Ch_15`` at 500 Hz in 0.1 uV, per-sample labels from
        ``Label_int``, label names from ``Label_str``; ``meta`` has subject and condition (from
        the path), session and batch (from the columns), ``first_sample`` (the first row's sample
        number in the untrimmed recording) and ``source``.
    """
    path = Path(path)
    df = _read_frame(path)
    if not hasattr(df, "columns"):
        raise DataFormatError(f"{path}: key {KEY!r} holds a {type(df).__name__}, not a table.")
    chans = list(FILT_CHANNELS if filtered else KEPT_CHANNELS)
    missing = [c for c in chans + ["Label_int"] if c not in df.columns]
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {', '.join(missing)} in key {KEY!r}.")
    data = df[chans].to_numpy().T
    data = np.ascontiguousarray(data, dtype=np.float64 if filtered else np.float32)
    try:
        labels = df["Label_int"].to_numpy().astype(np.int64, casting="safe")
    except TypeError:
        raw = df["Label_int"].to_numpy()
        if not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)):
            raise DataFormatError(f"{path}: column Label_int holds non-integer values.") from None
        labels = raw.astype(np.int64)

    label_names = dict(SILENTWEAR_LABELS)
    if "Label_str" in df.columns:
        pairs = df[["Label_int", "Label_str"]].drop_duplicates()
        for k, v in zip(pairs["Label_int"].to_numpy(), pairs["Label_str"].to_numpy()):
            if isinstance(v, str):
                label_names[int(k)] = v

    meta: dict[str, Any] = {"dataset": "silentwear", "device": "BioGAP-Ultra", "units": "0.1 uV",
                            "source": str(path), "filtered": bool(filtered)}
    meta.update(parse_silentwear_path(path))
    for col, key in (("session_id", "session"), ("batch_id", "batch")):
        if col in df.columns and len(df):
            vals = np.unique(df[col].to_numpy())
            if len(vals) > 1:
                logger.warning("%s: column %s has several values %s; using the first", path, col, vals.tolist())
            meta[key] = int(df[col].to_numpy()[0])
    if filtered:
        meta["filter"] = dict(FILTER)
    index = np.asarray(df.index)
    if len(index) and np.issubdtype(index.dtype, np.integer):
        meta["first_sample"] = int(index[0])
        steps = np.diff(index)
        if np.any(steps != 1):
            warnings.warn(DataLossWarning(
                f"{path}: the sample index is not contiguous ({int(np.count_nonzero(steps != 1))} jumps); "
                "rows are kept in file order."), stacklevel=2)

    rec = Recording(data, SFREQ, KEPT_CHANNELS, labels, label_names, meta)
    bad = rec.n_nonfinite()
    if bad:
        warnings.warn(DataQualityWarning(f"{path}: {bad} NaN or infinite sample(s) in the EMG columns."),
                      stacklevel=2)
    return rec


def _int_meta(recording: Recording, key: str) -> int:
    value = recording.meta.get(key)
    if value is None:
        value = parse_silentwear_path(recording.source).get(key)
    try:
        return int(value)
    except (TypeError, ValueError):
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


def write_silentwear_h5(recording: Recording, path: str | Path, *, overwrite: bool = False,
                        trim: bool = True) -> Path:
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

    Returns
    -------
    Path
        The written file.
    """
    pd = __import__("pandas")
    path = Path(path)
    if path.exists() and not overwrite:
        raise ValidationError(f"{path} exists; pass overwrite=True to replace it.")
    if recording.labels is None:
        raise ValidationError(f"{recording.source} has no labels; the SilentWear h5 layout needs per-sample labels.")
    if recording.meta.get("filtered"):
        raise ValidationError(
            f"{recording.source} is already filtered; write_silentwear_h5 needs the raw signal "
            "(read it with filtered=False) because it writes raw and filtered columns.")
    missing = [c for c in KEPT_CHANNELS if c not in recording.ch_names]
    if missing:
        raise ValidationError(
            f"{recording.source}: channel(s) {', '.join(missing)} missing; the SilentWear layout needs "
            f"{', '.join(KEPT_CHANNELS)} (have {', '.join(recording.ch_names)}).")
    if not np.isclose(recording.sfreq, SFREQ):
        logger.warning("%s: sampling rate %g Hz, not SilentWear's %g Hz; the 1 s trim margin follows %g Hz",
                       recording.source, recording.sfreq, SFREQ, recording.sfreq)
    kept = recording.pick(list(KEPT_CHANNELS))
    bad = kept.n_nonfinite()
    if bad:
        raise ValidationError(
            f"{recording.source}: {bad} NaN or infinite sample(s); the filtered columns cannot be "
            "computed over them, fill or interpolate them first (read .bio files with fill_lost='none').")
    raw = kept.data.astype(np.float32)
    filt = zero_phase_filter(raw, recording.sfreq, source=recording.source)
    labels = recording.labels.astype(np.int32)
    start, stop = trim_bounds(labels, recording.sfreq) if trim else (0, recording.n_times)
    names = recording.label_names or SILENTWEAR_LABELS
    sl = slice(start, stop)
    offset = int(recording.meta.get("first_sample", 0))
    index = pd.Index(np.arange(start, stop, dtype=np.int64) + offset)

    cols: dict[str, Any] = {}
    for i, ch in enumerate(KEPT_CHANNELS):
        cols[ch] = raw[i, sl]
    cols["Label_int"] = labels[sl]
    cols["Label_str"] = np.array([names.get(int(v), str(int(v))) for v in labels[sl]], dtype=object)
    for i, ch in enumerate(FILT_CHANNELS):
        cols[ch] = filt[i, sl]
    n = stop - start
    cols["session_id"] = np.full(n, _int_meta(recording, "session"), dtype=np.int64)
    cols["batch_id"] = np.full(n, _int_meta(recording, "batch"), dtype=np.int64)
    df = pd.DataFrame(cols, index=index, columns=list(COLUMNS))
    # plain object strings, as the reference (pandas >= 3 would otherwise store its "str" dtype)
    df["Label_str"] = df["Label_str"].astype(object)
    if path.exists():
        path.unlink()
    df.to_hdf(path, key=KEY, mode="w")
    logger.debug("wrote %s: %d rows (samples %d..%d)", path, n, start + offset, stop + offset - 1)
    return path


__all__ = ["COLUMNS", "KEPT_CHANNELS", "FILT_CHANNELS", "read_silentwear_h5", "write_silentwear_h5",
           "parse_silentwear_path", "zero_phase_filter", "trim_bounds"]

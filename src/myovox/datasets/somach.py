"""Adapter for *somach-silent-speech* (Kho, 2026; data CC BY 4.0): one CSV per silent-speech trial.

Layout (any of these folders can be loaded on its own)::

    somach-silent-speech/
        studyA_3phase/Phase_{1_Overt,3_Mouthing,5_Exaggerated}/<LABEL>_<nnn>_<date>_<time>.csv
        studyB_5phase/Phase_{1_Overt,2_Whispered,3_Mouthing,5_Exaggerated,6_Covert}/...
        covert_sessions/session_{A,B,C}/...
        pilot_mouthing/...            (3 channels, classes ONE/TWO/THREE/SILENCE/NOISE)

Each CSV holds ``Timestamp`` (ms), ``CH1``, ``CH2`` (``CH3`` in the pilot), ``Label``, ``Phase``
at 250 Hz from two AD8232 front ends (analog band about 0.5-40 Hz) on an ESP32 12-bit ADC.

Metadata of each Recording: ``dataset`` ("somach"), ``subject`` ("S01", the only one), ``study``
("A", "B", "covert", "pilot"), ``phase`` (e.g. "1_Overt"), ``session``, ``trial`` (number in the
file name), ``recorded_at`` (date_time in the file name), ``units`` and ``source``.
``session`` is one electrode placement / sitting: "studyA" and "studyB" (each study was recorded
in one sitting, its phases one after the other), "A", "B", "C" for the covert sessions and
"pilot" for the pilot.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_positive
from .._logging import logger, progress
from ..dataset import Dataset
from ..exceptions import DataFormatError, DataQualityWarning, ValidationError
from ..io.csv import factorize, read_bytes, read_table
from ..recording import Recording
from .base import choose_values

SFREQ = 250.0
#: One label map for the whole dataset, so a label means the same class in every study.
LABELS: dict[int, str] = {
    0: "UP",
    1: "DOWN",
    2: "LEFT",
    3: "RIGHT",
    4: "SILENCE",
    5: "NOISE",
    6: "ONE",
    7: "TWO",
    8: "THREE",
}
_CODE = {v: k for k, v in LABELS.items()}
STUDY_CLASSES = ("UP", "DOWN", "LEFT", "RIGHT", "SILENCE", "NOISE")
PILOT_CLASSES = ("ONE", "TWO", "THREE", "SILENCE", "NOISE")
#: folder name -> study
_STUDY_DIRS = {"studyA_3phase": "A", "studyB_5phase": "B", "covert_sessions": "covert", "pilot_mouthing": "pilot"}
_N_CHANNELS = {"A": 2, "B": 2, "covert": 2, "pilot": 3}
PHASES = ("1_Overt", "2_Whispered", "3_Mouthing", "5_Exaggerated", "6_Covert")
_PHASE_RE = re.compile(r"Phase_(\d+_\w+)$")
_SESSION_RE = re.compile(r"session_([A-Za-z0-9]+)$")
_FILE_RE = re.compile(r"([A-Za-z]+)_(\d+)_(\d{8}_\d{6})\.csv$")
WINDOW_S = 0.7
ROOT_NAME = "somach-silent-speech"

INFO: dict[str, Any] = {
    "hardware": "2 x AD8232 analog front end (band about 0.5-40 Hz) + ESP32, 12-bit ADC, 250 Hz",
    "electrodes": (
        "CH1 chin (mentalis); CH2 under the chin (study A) or left throat/thyrohyoid "
        "(study B, covert sessions); reference on the mastoid; pilot: 3 channels"
    ),
    "units": "ADC counts 0-4095 (pilot: values scaled to 0-1 as distributed)",
    "n_subjects": 1,
    "rest_label": None,
    "rest_note": "SILENCE is a class of its own in the authors' baseline, not a rest state.",
    "label_map": LABELS,
    "filter": {"highpass": 0.5, "notch": None},
    "filter_note": (
        "The analog band is already 0.5-40 Hz at 250 Hz sampling: only remove the DC "
        "offset (0.5 Hz high-pass); SilentWear's 20 Hz high-pass would cut half of it. "
        "No notch: mains lies above the 40 Hz analog low-pass."
    ),
    "published_baseline": {
        "model": "authors' 1D CNN on MFCC features",
        "protocol": "stratified 5-fold CV, shuffled, seed 42, 6 classes (chance 0.167)",
        "studyB_all_phases_accuracy": 0.489,
        "studyB_all_phases_std": 0.031,
        "studyA_accuracy": 0.518,
        "studyA_std": 0.028,
        "cross_study_transfer_accuracy": (0.25, 0.31),
    },
    "licence": "CC BY 4.0 (LICENSE-DATA beside the data)",
    "citation": "CarlKho-Minerva/Somach_sEMG-Silent-Speech",
    "window_note": (
        "window_mode 'trial': one window from each trial's first sample; trials shorter "
        "than window_s cannot give a window (see n_trials_shorter_than_window)."
    ),
}


# ----------------------------------------------------------------------------- layout
def _study_of_dir(path: Path) -> tuple[str, str | None] | None:
    """(study, phase-or-session) for a known folder, else None."""
    name = path.name
    if name in _STUDY_DIRS:
        return _STUDY_DIRS[name], None
    parent = path.parent.name
    if parent in ("studyA_3phase", "studyB_5phase") and _PHASE_RE.match(name):
        return _STUDY_DIRS[parent], name
    if parent == "covert_sessions" and _SESSION_RE.match(name):
        return "covert", name
    return None


def detect(path: str | Path) -> bool:
    """True for the dataset root or one of its study/phase/session folders (names only)."""
    path = Path(path)
    if not path.is_dir():
        return False
    if _study_of_dir(path) is not None:
        return True
    return path.name == ROOT_NAME or any(
        (path / d).is_dir() for d in ("studyA_3phase", "studyB_5phase", "covert_sessions")
    )


def _describe(file: Path) -> dict[str, Any] | None:
    """Metadata derived from a trial file's path, or None if it is not a trial of this layout."""
    m = _FILE_RE.match(file.name)
    if m is None:
        return None
    parent, grand = file.parent, file.parent.parent.name
    if parent.name == "pilot_mouthing":
        study, phase, session = "pilot", "3_Mouthing", "pilot"
    elif grand in ("studyA_3phase", "studyB_5phase") and (pm := _PHASE_RE.match(parent.name)):
        study = _STUDY_DIRS[grand]
        phase, session = pm.group(1), f"study{study}"
    elif grand == "covert_sessions" and (sm := _SESSION_RE.match(parent.name)):
        study, phase, session = "covert", "6_Covert", sm.group(1)
    else:
        return None
    return {
        "dataset": "somach",
        "subject": "S01",
        "study": study,
        "phase": phase,
        "session": session,
        "trial": int(m.group(2)),
        "recorded_at": m.group(3),
        "file_label": m.group(1).upper(),
    }


def _norm_phase(value: Any) -> Any:
    """Accept 1, "1", "Overt", "overt", "1_Overt" or "Phase_1_Overt"."""
    s = str(value).strip()
    s = s[len("Phase_") :] if s.startswith("Phase_") else s
    for p in PHASES:
        num, word = p.split("_", 1)
        if s.lower() in (p.lower(), num, word.lower()):
            return p
    return s


def _norm_study(value: Any) -> Any:
    s = str(value).strip()
    low = s.lower()
    for key in ("A", "B"):
        if low in (key.lower(), f"study{key.lower()}", f"study_{key.lower()}"):
            return key
    return low


# ----------------------------------------------------------------------------- reading
def read_trial(file: str | Path, meta: dict[str, Any] | None = None) -> Recording:
    """Read one trial CSV as a Recording with constant per-sample labels.

    Raises ``DataFormatError`` naming the file for a missing column, a channel count that does
    not match its study (2, pilot 3) or an unknown label.
    """
    file = Path(file)
    meta = dict(meta if meta is not None else (_describe(file) or {"dataset": "somach"}))
    raw = read_bytes(file)
    head = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    cols = [c.strip() for c in head.lstrip("\ufeff").strip().split(",")]
    missing = [c for c in ("Timestamp", "Label") if c not in cols]
    if missing:
        raise DataFormatError(
            f"{file}: not a somach trial CSV, missing column(s) {', '.join(missing)} (header {head.strip()!r})."
        )
    ch_idx = [i for i, c in enumerate(cols) if re.fullmatch(r"CH\d+", c)]
    expected = _N_CHANNELS.get(meta.get("study", ""), len(ch_idx))
    if len(ch_idx) != expected or not ch_idx:
        raise DataFormatError(
            f"{file}: {len(ch_idx)} EMG channel column(s) (CHn), expected {expected} for study {meta.get('study')!r}."
        )
    text = [cols.index("Label")] + ([cols.index("Phase")] if "Phase" in cols else [])
    table = read_table(file, header=True, numeric=[cols.index("Timestamp")] + ch_idx, text=text, raw=raw)
    raw_uniq, inv = factorize(table.text[:, 0])
    uniq = [u.upper() for u in raw_uniq]
    unknown = [u for u in uniq if u not in _CODE]
    if unknown:
        raise DataFormatError(f"{file}: unknown label(s) {', '.join(map(repr, unknown))}; known: {', '.join(_CODE)}.")
    labels = np.array([_CODE[u] for u in uniq], dtype=np.int64)[inv]
    file_label = meta.pop("file_label", None)
    if len(set(uniq)) > 1 or (file_label and file_label in _CODE and uniq[0] != file_label):
        msg = (
            f"{file}: labels {sorted(uniq)} in the Label column, file name says {file_label}; "
            "kept the Label column per sample."
        )
        logger.warning(msg)
        warnings.warn(msg, DataQualityWarning, stacklevel=2)
    if "Phase" in cols and "phase" not in meta and len(table.text):
        meta["phase"] = str(table.text[0, 1]).strip().removeprefix("Phase_")
    ts = table.numbers[:, 0]
    dt = np.diff(ts)
    meta["timestamp_step_ms"] = float(np.median(dt)) if dt.size else float("nan")
    meta["timestamp_irregular"] = bool(dt.size and (np.any(dt <= 0) or np.any(dt > 1.5 * np.median(dt))))
    meta["units"] = "scaled 0-1" if meta.get("study") == "pilot" else "ADC counts (0-4095)"
    meta["device"] = "AD8232+ESP32"
    meta["source"] = str(file)
    meta["n_rows_skipped"] = table.n_rows_skipped
    return Recording(
        np.ascontiguousarray(table.numbers[:, 1:].T),
        SFREQ,
        ch_names=[cols[i] for i in ch_idx],
        labels=labels,
        label_names=LABELS,
        meta=meta,
    )


def load(
    path: str | Path,
    *,
    studies: str | Iterable[str] | None = None,
    phases: str | int | Iterable[str | int] | None = None,
    sessions: str | Iterable[str] | None = None,
    classes: str | Iterable[str] | None = None,
    window_s: float = WINDOW_S,
    verbose: bool | None = None,
) -> Dataset:
    """Load somach-silent-speech (root or any study/phase/session folder) as a Dataset.

    Parameters
    ----------
    path : path-like
        Dataset root, a study folder (``studyB_5phase``), a phase folder
        (``studyB_5phase/Phase_6_Covert``), ``covert_sessions``, ``covert_sessions/session_A`` or
        ``pilot_mouthing``.
    studies : str | iterable of str | None
        Any of ``"A"``, ``"B"``, ``"covert"``, ``"pilot"``. Default at the root: A, B and covert
        (the pilot has 3 channels and other classes; ask for it explicitly). Inside a sub-folder
        everything under it is loaded.
    phases : str | int | iterable | None
        E.g. ``"1_Overt"``, ``"Overt"``, ``1`` or ``"Phase_1_Overt"``.
    sessions : str | iterable of str | None
        ``"studyA"``, ``"studyB"``, ``"A"``, ``"B"``, ``"C"`` (covert) or ``"pilot"``.
    classes : str | iterable of str | None
        Class names to keep (``"UP"``, ``"SILENCE"``, ...), decided from the file names.
    window_s : float
        Window length stored on the Dataset (0.7 s: nearly every trial is at least that long).
    verbose : bool | None
        Progress bar (default: only on a terminal).

    Returns
    -------
    Dataset
        One Recording per trial; ``info`` holds hardware, units, the label map, the filter
        recommendation, the published baseline and the trial-length statistics.
    """
    t0 = time.perf_counter()
    window_s = check_positive("window_s", window_s, "window length in seconds")
    root = Path(path)
    if not root.is_dir():
        raise ValidationError(f"Invalid value for 'path': {root} is not a folder.")
    at_root = _study_of_dir(root) is None
    want_studies = choose_values("studies", studies, ("A", "B", "covert", "pilot"), _norm_study)
    if want_studies is None and at_root:
        want_studies = {"A", "B", "covert"}
    want_phases = choose_values("phases", phases, PHASES, _norm_phase)
    want_sessions = choose_values(
        "sessions", sessions, ("studyA", "studyB", "A", "B", "C", "pilot"), lambda v: str(v).removeprefix("session_")
    )
    want_classes = choose_values("classes", classes, list(LABELS.values()), lambda v: str(v).upper())

    chosen: list[tuple[Path, dict[str, Any]]] = []
    for file in sorted(root.rglob("*.csv")):
        meta = _describe(file)
        if meta is None:
            continue
        if (
            (want_studies and meta["study"] not in want_studies)
            or (want_phases and meta["phase"] not in want_phases)
            or (want_sessions and meta["session"] not in want_sessions)
            or (want_classes and meta["file_label"] not in want_classes)
        ):
            continue
        chosen.append((file, meta))
    if not chosen:
        raise ValidationError(
            f"No somach trial CSV under {root} matches the selection "
            f"(studies={studies!r}, phases={phases!r}, sessions={sessions!r}, "
            f"classes={classes!r})."
        )
    bar = progress(chosen, desc="somach", disable=None if verbose is None else not verbose)
    recs = [read_trial(f, m) for f, m in bar]

    info = dict(INFO)
    n = np.array([r.n_times for r in recs])
    need = int(round(window_s * SFREQ))
    steps = np.array([r.meta["timestamp_step_ms"] for r in recs], dtype=float)
    est = 1000.0 / float(np.nanmedian(steps)) if np.any(np.isfinite(steps)) else float("nan")
    info.update(
        {
            "sfreq_from_timestamps": est,
            "sfreq_matches_timestamps": bool(abs(est - SFREQ) <= 0.02 * SFREQ),
            "n_trials_irregular_timestamps": int(sum(r.meta["timestamp_irregular"] for r in recs)),
            "shortest_trial_s": float(n.min() / SFREQ),
            "median_trial_s": float(np.median(n) / SFREQ),
            "longest_trial_s": float(n.max() / SFREQ),
            "n_trials_shorter_than_window": int(np.count_nonzero(n < need)),
            "n_rows_skipped": int(sum(r.meta["n_rows_skipped"] for r in recs)),
            "studies": sorted({r.meta["study"] for r in recs}),
        }
    )
    if not info["sfreq_matches_timestamps"]:
        info["sfreq_note"] = f"timestamps give {est:.1f} Hz, not the nominal {SFREQ:g} Hz; the nominal rate is used"
        logger.warning(f"{root}: {info['sfreq_note']}.")
    if len({r.n_channels for r in recs}) > 1:
        info["mixed_channels_note"] = "the selection mixes the 3-channel pilot with 2-channel trials"
    info["load_s"] = round(time.perf_counter() - t0, 3)
    logger.info(f"somach: {len(recs)} trials from {root} in {info['load_s']:.2f} s")
    return Dataset(recs, "somach", str(root), window_s=window_s, window_mode="trial", info=info)

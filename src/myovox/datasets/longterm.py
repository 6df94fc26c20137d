"""Adapter for *longterm-armband* (Suguru55, Apache-2.0): an 8-channel armband re-donned every day.

Layout (the root, ``data``, ``data/sub2`` or ``data/sub2/day3`` can be loaded)::

    longterm-armband/data/sub{s}/day{d}/D{d}M{m}T{t}.csv

Each file is one 1.5 s active segment of motion ``m`` (300 rows x 8 channels, floats, no header,
200 Hz); 22 motions (M1 = rest), 4 trials per motion per day. The band was put on at a rotated
position each day (days 1-10: N, I, O, N, I, I, O, O, N, N), which makes this an inter-day /
electrode-shift test.

One Recording per file with constant labels ``m - 1`` (0 = "M1 (rest)", 1 = "M2", ...,
21 = "M22"); metadata ``dataset``, ``subject`` ("sub2"), ``day``, ``session`` (= day),
``position`` (N/I/O, None past day 10), ``motion``, ``trial`` and ``source``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_positive, did_you_mean
from .._logging import logger, progress
from ..dataset import Dataset
from ..exceptions import ValidationError
from ..io.csv import read_table
from ..recording import Recording

SFREQ = 200.0
N_CHANNELS = 8
N_MOTIONS = 22
LABELS: dict[int, str] = {0: "M1 (rest)", **{m - 1: f"M{m}" for m in range(2, N_MOTIONS + 1)}}
REST_LABEL = 0
#: band position per day (N neutral, I inward, O outward rotation); known for days 1-10
POSITIONS: dict[int, str] = dict(enumerate("NIONIIOONN", start=1))
WINDOW_S = 1.5
_SUB_RE = re.compile(r"sub(\d+)$")
_DAY_RE = re.compile(r"day(\d+)$")
_FILE_RE = re.compile(r"D(\d+)M(\d+)T(\d+)\.csv$")

INFO: dict[str, Any] = {
    "hardware": "Myo-type armband, 8 channels, 200 Hz, forearm",
    "units": "as distributed (floats within about +-1.5; scale not documented)",
    "rest_label": REST_LABEL,
    "label_map": LABELS,
    "positions": POSITIONS,
    "position_note": (
        "band re-donned daily at a rotated position: N neutral, I inward, O outward; known for days 1-10 only"
    ),
    "filter": {"highpass": 20.0, "notch": None},
    "filter_note": (
        "Each file is only 1.5 s: a 20 Hz high-pass removes offset and motion drift; "
        "filter per file with care for edge effects, or not at all (the armband "
        "already band-limits its output)."
    ),
    "licence": "Apache-2.0 (LICENSE beside the data)",
    "citation": "Suguru55/Wearable_Sensor_Long-term_sEMG_Dataset (subset: days 1-10)",
    "published_baseline": None,
}


def detect(path: str | Path) -> bool:
    """True for the root, ``data``, ``data/sub{s}`` or ``data/sub{s}/day{d}`` (names only)."""
    path = Path(path)
    if not path.is_dir():
        return False
    if _DAY_RE.match(path.name) and _SUB_RE.match(path.parent.name):
        return True
    if _SUB_RE.match(path.name):
        return any(_DAY_RE.match(p.name) and p.is_dir() for p in path.iterdir())
    data = path if path.name == "data" else path / "data"
    if not data.is_dir():
        return False
    for sub in data.iterdir():
        if _SUB_RE.match(sub.name) and sub.is_dir():
            return any(_DAY_RE.match(p.name) and p.is_dir() for p in sub.iterdir())
    return False


def _describe(file: Path) -> dict[str, Any] | None:
    m = _FILE_RE.match(file.name)
    sub = _SUB_RE.match(file.parent.parent.name)
    if m is None or sub is None or not _DAY_RE.match(file.parent.name):
        return None
    day, motion, trial = (int(g) for g in m.groups())
    if not 1 <= motion <= N_MOTIONS:
        return None
    return {
        "dataset": "longterm",
        "subject": f"sub{int(sub.group(1))}",
        "day": day,
        "session": day,
        "position": POSITIONS.get(day),
        "motion": motion,
        "trial": trial,
    }


def read_file(file: str | Path, meta: dict[str, Any] | None = None) -> Recording:
    """Read one ``D{d}M{m}T{t}.csv`` file (rows of 8 floats) as a Recording with constant labels.

    Raises ``DataFormatError`` naming the file when its rows do not have 8 columns.
    """
    file = Path(file)
    meta = dict(meta if meta is not None else (_describe(file) or {"dataset": "longterm"}))
    table = read_table(file, header=False, n_fields=N_CHANNELS)
    n = len(table.numbers)
    labels = None
    if "motion" in meta:
        labels = np.full(n, meta["motion"] - 1, dtype=np.int64)
    meta.update(units="a.u.", device="Myo-type armband", source=str(file), n_rows_skipped=table.n_rows_skipped)
    return Recording(
        np.ascontiguousarray(table.numbers.T),
        SFREQ,
        ch_names=[f"Ch{i}" for i in range(1, N_CHANNELS + 1)],
        labels=labels,
        label_names=LABELS,
        meta=meta,
    )


def _ints(name: str, value: Any, allowed: Iterable[int], prefix: str = "") -> set[int] | None:
    """Accept 3, "3", "sub3"-style values or lists of them."""
    if value is None:
        return None
    values = [value] if isinstance(value, (str, int, np.integer)) else list(value)
    allowed = sorted(allowed)
    out = set()
    for v in values:
        s = str(v).strip()
        s = s[len(prefix) :] if prefix and s.lower().startswith(prefix) else s
        if not s.isdigit() or int(s) not in allowed:
            shown = [f"{prefix}{a}" for a in allowed] if prefix else [str(a) for a in allowed]
            raise ValidationError(
                f"Invalid value for {name!r}: expected any of {', '.join(shown)}, "
                f"got {v!r}.{did_you_mean(str(v), shown)}"
            )
        out.add(int(s))
    return out


def load(
    path: str | Path,
    *,
    subjects: Any = None,
    days: Any = None,
    sessions: Any = None,
    positions: Any = None,
    motions: Any = None,
    trials: Any = None,
    window_s: float = WINDOW_S,
    verbose: bool | None = None,
) -> Dataset:
    """Load longterm-armband (root, ``data``, ``data/sub2`` or ``data/sub2/day3``) as a Dataset.

    Parameters
    ----------
    path : path-like
        Dataset root or a folder below it.
    subjects : int | str | iterable | None
        ``2`` or ``"sub2"``.
    days, sessions : int | iterable | None
        Day numbers (a session is a day; both filter the same thing).
    positions : str | iterable | None
        Band positions ``"N"``, ``"I"``, ``"O"``.
    motions : int | str | iterable | None
        Motion numbers 1-22 (``"M5"`` accepted).
    trials : int | iterable | None
        Trial numbers 1-4.
    window_s : float
        Window length stored on the Dataset (1.5 s: the whole segment).
    verbose : bool | None
        Progress bar (default: only on a terminal).
    """
    t0 = time.perf_counter()
    window_s = check_positive("window_s", window_s, "window length in seconds")
    root = Path(path)
    if not root.is_dir():
        raise ValidationError(f"Invalid value for 'path': {root} is not a folder.")
    found = [(f, m) for f in root.rglob("D*M*T*.csv") if (m := _describe(f)) is not None]
    found.sort(key=lambda fm: (int(fm[1]["subject"][3:]), fm[1]["day"], fm[1]["motion"], fm[1]["trial"]))
    if not found:
        raise ValidationError(f"No longterm-armband file D{{d}}M{{m}}T{{t}}.csv under {root}.")
    want_sub = _ints("subjects", subjects, {int(m["subject"][3:]) for _, m in found}, "sub")
    want_day = _ints("days", days, {m["day"] for _, m in found})
    want_ses = _ints("sessions", sessions, {m["session"] for _, m in found})
    want_mot = _ints("motions", motions, range(1, N_MOTIONS + 1), "m")
    want_tri = _ints("trials", trials, {m["trial"] for _, m in found})
    want_pos = None
    if positions is not None:
        vals = [positions] if isinstance(positions, str) else list(positions)
        want_pos = {str(v).upper() for v in vals}
        bad = want_pos - {"N", "I", "O"}
        if bad:
            raise ValidationError(f"Invalid value for 'positions': expected any of 'N', 'I', 'O', got {sorted(bad)!r}.")

    def keep(m: dict[str, Any]) -> bool:
        return not (
            (want_sub and int(m["subject"][3:]) not in want_sub)
            or (want_day and m["day"] not in want_day)
            or (want_ses and m["session"] not in want_ses)
            or (want_pos and m["position"] not in want_pos)
            or (want_mot and m["motion"] not in want_mot)
            or (want_tri and m["trial"] not in want_tri)
        )

    chosen = [(f, m) for f, m in found if keep(m)]
    if not chosen:
        raise ValidationError(f"No longterm-armband file under {root} matches the selection.")
    bar = progress(chosen, desc="longterm", disable=None if verbose is None else not verbose)
    recs = [read_file(f, m) for f, m in bar]
    n = np.array([r.n_times for r in recs])
    info = dict(INFO)
    info.update(
        {
            "shortest_trial_s": float(n.min() / SFREQ),
            "n_trials_shorter_than_window": int(np.count_nonzero(n < int(round(window_s * SFREQ)))),
            "n_rows_skipped": int(sum(r.meta["n_rows_skipped"] for r in recs)),
        }
    )
    info["load_s"] = round(time.perf_counter() - t0, 3)
    logger.info(f"longterm: {len(recs)} files from {root} in {info['load_s']:.2f} s")
    return Dataset(recs, "longterm", str(root), window_s=window_s, window_mode="trial", info=info)

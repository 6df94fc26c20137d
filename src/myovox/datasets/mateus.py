"""Adapter for *mateus-subvocal* (Aquino Batista, 2023; BSD-3-Clause): Portuguese words, 10 subjects.

Layout (the root, ``saves``, a subject folder ``saves/P003`` or a condition folder
``saves/P003/F`` can be loaded)::

    mateus-subvocal/saves/P001..P010/{F,A,S}/{Sim,Nao,Talvez}.csv.gz

F = vocalized (all subjects), A = mouthed (P001-P005), S = subvocal (P006-P010). Each file is
an OpenBCI Cyton export at 250 Hz: a label column (``WORD``: the word, or ``$SILENCE``) then
``Channel_1..8`` in microvolts with a large DC offset and no filtering. Channels 5-8 are not
connected (railed near -187500 uV), so channels 1-4 are kept by default.

Each file is one Recording with per-sample labels ``0`` silence, ``1`` sim, ``2`` nao,
``3`` talvez; metadata ``dataset``, ``subject`` ("P001"), ``condition`` ("vocalized", "mouthed",
"subvocal"), ``condition_code`` (F/A/S), ``word``, ``session`` (1: one session per subject),
``railed_channels`` and ``source``.
"""

from __future__ import annotations

import re
import time
import unicodedata
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_positive, did_you_mean
from .._logging import logger, progress
from ..dataset import Dataset
from ..exceptions import DataFormatError, DataQualityWarning, ValidationError
from ..io.csv import factorize, read_bytes, read_table
from ..recording import Recording
from .base import choose_values

SFREQ = 250.0
LABELS: dict[int, str] = {0: "silence", 1: "sim", 2: "nao", 3: "talvez"}
_CODE = {v: k for k, v in LABELS.items()}
CONDITIONS = {"F": "vocalized", "A": "mouthed", "S": "subvocal"}
WORDS = {"sim": "sim", "nao": "nao", "talvez": "talvez"}  # file stem (lower, no accent) -> word
N_CHANNELS = 8
DEFAULT_CHANNELS = (1, 2, 3, 4)
RAIL_UV = 187500.0
WINDOW_S = 0.7
_SUBJ_RE = re.compile(r"P\d{3}$")
_FILE_RE = re.compile(r"([A-Za-z\u00c0-\u017f]+)\.csv(\.gz)?$")

INFO: dict[str, Any] = {
    "hardware": "OpenBCI Cyton (ADS1299), 250 Hz, electrodes on chin, larynx, hyoid and cheek",
    "units": "uV (large DC offset, unfiltered)",
    "rest_label": 0,
    "label_map": LABELS,
    "filter": {"highpass": 20.0, "notch": 60.0},
    "filter_note": (
        "Raw OpenBCI data: a large DC offset and no filtering; high-pass to remove "
        "the offset and drift, notch at 60 Hz (recorded in Brazil, 60 Hz mains)."
    ),
    "confound": (
        "Each file holds one word alternating with silence, recorded as one block: word "
        "identity is confounded with the recording block. Honest tasks: word-vs-silence "
        "per file, or 4-class with folds that never split a file and report the confound."
    ),
    "licence": "BSD-3-Clause (LICENSE beside the data)",
    "citation": "MateusAquino/subvocalization-emg",
    "published_baseline": None,
}


def _norm_word(token: Any) -> str:
    """'Não' -> 'nao', '$SILENCE' -> 'silence'."""
    s = unicodedata.normalize("NFKD", str(token).strip()).encode("ascii", "ignore").decode()
    return s.lower().lstrip("$")


def _is_subject_dir(p: Path) -> bool:
    return bool(_SUBJ_RE.match(p.name)) and (p.parent.name == "saves" or any((p / c).is_dir() for c in CONDITIONS))


def detect(path: str | Path) -> bool:
    """True for the root, ``saves``, ``saves/P0xx`` or ``saves/P0xx/{F,A,S}`` (names only)."""
    path = Path(path)
    if not path.is_dir():
        return False
    if path.name in CONDITIONS and _is_subject_dir(path.parent):
        return True
    if _is_subject_dir(path):
        return True
    saves = path if path.name == "saves" else path / "saves"
    if saves.is_dir():
        return any(_SUBJ_RE.match(p.name) and p.is_dir() for p in saves.iterdir())
    return False


def _describe(file: Path) -> dict[str, Any] | None:
    m = _FILE_RE.match(file.name)
    cond, subj = file.parent.name, file.parent.parent.name
    if m is None or cond not in CONDITIONS or not _SUBJ_RE.match(subj):
        return None
    word = WORDS.get(_norm_word(m.group(1)))
    if word is None:
        return None
    return {
        "dataset": "mateus",
        "subject": subj,
        "condition": CONDITIONS[cond],
        "condition_code": cond,
        "word": word,
        "session": 1,
    }


def _channel_index(channels: Sequence[int | str]) -> list[int]:
    """1-based channel numbers or names ``Channel_n`` -> 0-based indices."""
    out = []
    names = [f"Channel_{i}" for i in range(1, N_CHANNELS + 1)]
    for ch in channels:
        if isinstance(ch, str):
            if ch not in names:
                raise ValidationError(
                    f"Invalid value for 'channels': unknown channel {ch!r}; "
                    f"known: {', '.join(names)}.{did_you_mean(ch, names)}"
                )
            out.append(names.index(ch))
        elif isinstance(ch, (int, np.integer)) and not isinstance(ch, bool) and 1 <= ch <= N_CHANNELS:
            out.append(int(ch) - 1)
        else:
            raise ValidationError(
                f"Invalid value for 'channels': expected channel numbers 1-{N_CHANNELS} or names Channel_n, got {ch!r}."
            )
    if not out or len(set(out)) != len(out):
        raise ValidationError(f"Invalid value for 'channels': expected distinct channels, got {list(channels)!r}.")
    return out


def railed(data: np.ndarray, *, fraction: float = 0.5) -> np.ndarray:
    """Boolean per channel: more than ``fraction`` of the samples sit at the +-187500 uV rail."""
    at_rail = np.abs(np.abs(data) - RAIL_UV) < 1.0
    return at_rail.mean(axis=1) > fraction


def read_file(
    file: str | Path, meta: dict[str, Any] | None = None, channels: Sequence[int | str] = DEFAULT_CHANNELS
) -> Recording:
    """Read one ``{Sim,Nao,Talvez}.csv(.gz)`` file as a Recording with per-sample labels.

    Raises ``DataFormatError`` naming the file when the header does not have the label column
    and 8 ``Channel_n`` columns, or a label is neither a known word nor ``$SILENCE``.
    """
    file = Path(file)
    meta = dict(meta if meta is not None else (_describe(file) or {"dataset": "mateus"}))
    idx = _channel_index(channels)
    raw = read_bytes(file)
    head = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    cols = [c.strip() for c in head.split(",")]
    ch_cols = [c for c in cols[1:] if re.fullmatch(r"Channel_\d+", c)]
    if len(ch_cols) != N_CHANNELS or len(cols) != N_CHANNELS + 1:
        raise DataFormatError(
            f"{file}: {len(ch_cols)} Channel_n column(s) after the label column, "
            f"expected {N_CHANNELS} (header {head!r})."
        )
    table = read_table(file, header=True, numeric=list(range(1, N_CHANNELS + 1)), text=[0], raw=raw)
    raw_uniq, inv = factorize(table.text[:, 0])
    uniq = [_norm_word(u) for u in raw_uniq]
    unknown = [str(r) for r, u in zip(raw_uniq, uniq, strict=False) if u not in _CODE]
    if unknown:
        raise DataFormatError(
            f"{file}: unknown label(s) {', '.join(map(repr, unknown))}; expected $SILENCE, sim, não or talvez."
        )
    labels = np.array([_CODE[u] for u in uniq], dtype=np.int64)[inv]
    words = sorted({u for u in uniq if u != "silence"})
    if meta.get("word") and words and words != [meta["word"]]:
        msg = f"{file}: the label column holds {words}, the file name says {meta['word']!r}."
        logger.warning(msg)
        warnings.warn(msg, DataQualityWarning, stacklevel=2)
    data = table.numbers.T
    is_railed = railed(data)
    meta["railed_channels"] = [f"Channel_{i + 1}" for i in np.flatnonzero(is_railed)]
    kept_railed = [f"Channel_{i + 1}" for i in idx if is_railed[i]]
    if kept_railed:
        msg = f"{file}: kept channel(s) {', '.join(kept_railed)} are railed (about -{RAIL_UV:.0f} uV)."
        logger.warning(msg)
        warnings.warn(msg, DataQualityWarning, stacklevel=2)
    meta.update(units="uV", device="OpenBCI Cyton", source=str(file), n_rows_skipped=table.n_rows_skipped)
    return Recording(
        np.ascontiguousarray(data[idx]),
        SFREQ,
        ch_names=[f"Channel_{i + 1}" for i in idx],
        labels=labels,
        label_names=LABELS,
        meta=meta,
    )


def _norm_subject(v: Any) -> str:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return f"P{int(v):03d}"
    return str(v).strip().upper()


def load(
    path: str | Path,
    *,
    subjects: Any = None,
    conditions: Any = None,
    words: Any = None,
    channels: Sequence[int | str] = DEFAULT_CHANNELS,
    window_s: float = WINDOW_S,
    verbose: bool | None = None,
) -> Dataset:
    """Load mateus-subvocal (root, ``saves``, a subject or a condition folder) as a Dataset.

    Parameters
    ----------
    path : path-like
        Dataset root or a folder below it.
    subjects : str | int | iterable | None
        ``"P003"`` or ``3``.
    conditions : str | iterable | None
        ``"vocalized"``, ``"mouthed"``, ``"subvocal"`` (or the folder letters F, A, S).
    words : str | iterable | None
        ``"sim"``, ``"nao"``, ``"talvez"`` (which files to read).
    channels : sequence of int | str
        Channels to keep, 1-based numbers or ``Channel_n`` (default 1-4, the connected ones).
    window_s : float
        Window length stored on the Dataset (segments are about 200 samples = 0.8 s).
    verbose : bool | None
        Progress bar (default: only on a terminal).
    """
    t0 = time.perf_counter()
    window_s = check_positive("window_s", window_s, "window length in seconds")
    _channel_index(channels)
    root = Path(path)
    if not root.is_dir():
        raise ValidationError(f"Invalid value for 'path': {root} is not a folder.")
    found = [(f, m) for f in sorted(root.rglob("*.csv*")) if (m := _describe(f)) is not None]
    want_subj = choose_values("subjects", subjects, sorted({m["subject"] for _, m in found}), _norm_subject)
    want_cond = choose_values(
        "conditions", conditions, list(CONDITIONS.values()), lambda v: CONDITIONS.get(str(v).upper(), str(v).lower())
    )
    want_words = choose_values("words", words, list(WORDS), _norm_word)
    chosen = []
    for file, meta in found:
        if (
            (want_subj and meta["subject"] not in want_subj)
            or (want_cond and meta["condition"] not in want_cond)
            or (want_words and meta["word"] not in want_words)
        ):
            continue
        chosen.append((file, meta))
    if not chosen:
        raise ValidationError(
            f"No mateus-subvocal file under {root} matches the selection "
            f"(subjects={subjects!r}, conditions={conditions!r}, words={words!r})."
        )
    bar = progress(chosen, desc="mateus", disable=None if verbose is None else not verbose)
    recs = [read_file(f, m, channels) for f, m in bar]

    info = dict(INFO)
    railed_count: dict[str, int] = {}
    for r in recs:
        for ch in r.meta["railed_channels"]:
            railed_count[ch] = railed_count.get(ch, 0) + 1
    seg = np.array([b - a for r in recs for a, b, _ in r.label_runs()])
    info.update(
        {
            "channels_kept": list(recs[0].ch_names),
            "railed_channels_files": dict(sorted(railed_count.items())),
            "railed_note": (
                f"railed channels (at about -{RAIL_UV:.0f} uV) per number of files; channels 5-8 are unconnected"
            ),
            "median_segment_s": float(np.median(seg) / SFREQ),
            "n_segments_shorter_than_window": int(np.count_nonzero(seg < int(round(window_s * SFREQ)))),
            "n_rows_skipped": int(sum(r.meta["n_rows_skipped"] for r in recs)),
        }
    )
    info["load_s"] = round(time.perf_counter() - t0, 3)
    logger.info(f"mateus: {len(recs)} files from {root} in {info['load_s']:.2f} s")
    return Dataset(recs, "mateus", str(root), window_s=window_s, window_mode="event", info=info)

"""Adapter for SilentWear recordings: raw ``.bio`` trees and the processed ``.h5`` release.

Layouts understood (any level can be loaded on its own)::

    <root>/<subject>/<silent|vocalized>/sess_<s>_batch_<b>_<YYYY-MM-DD_HH-MM-SS>.bio   (raw)
    data_raw_and_filt/<subject>/<silent|vocalized>/sess_<s>_batch_<b>.h5               (processed)
    <subject>/ or <subject>/<condition>/                                                 (parts)

A folder holding both (e.g. ``raw/`` beside ``data_raw_and_filt/``) is read as processed unless
``source="raw"``. Raw recordings are filtered here over the whole recording (when
``filtered=True``), as the reference does before trimming; processed ones use the reference's
own ``Ch_i_filt`` columns. Either way the 14 kept channels come in SilentWear's model order and
``meta["filtered"]`` tells whether the signal is filtered (so it is not filtered twice).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .._checks import check_option, did_you_mean
from .._logging import logger, progress
from ..dataset import Dataset
from ..exceptions import ValidationError
from ..preprocessing.channels import SILENTWEAR_CHANNEL_ORDER
from ..preprocessing.filters import SILENTWEAR_FILTER
from ..recording import SILENTWEAR_LABELS, Recording

NAME = "silentwear"
CONDITIONS = ("silent", "vocalized")
SFREQ = 500.0
WINDOW_S = 1.4
#: SilentWear's model channel order (14 of the 16 acquired; 11 and 12 dropped)
CHANNEL_ORDER: tuple[str, ...] = SILENTWEAR_CHANNEL_ORDER
FILTER = dict(SILENTWEAR_FILTER)
PROCESSED_DIR = "data_raw_and_filt"
_FILE_RE = re.compile(r"^sess_(\d+)_batch_(\d+)(?:_.*)?\.(bio|h5)$", re.IGNORECASE)
_EXT = {"raw": ".bio", "processed": ".h5"}

INFO: dict[str, Any] = {
    "hardware": "BioGAP-Ultra (2 x ADS1298, GAP9, BLE), textile neck band, 14 differential dry EMG channels",
    "units": "0.1 uV",
    "protocol": "per batch: 5 s start, 160 trials of 1.5 s rest + 2.0 s word cue (8 words x 20)",
    "published": {
        "global_balanced_accuracy": {"vocalized": 0.848, "silent": 0.775},
        "inter_session_balanced_accuracy": {"vocalized": 0.711, "silent": 0.593},
    },
}


def _sess_files(folder: Path, pattern: str) -> list[Path]:
    """``sess_*_batch_*`` files matching ``pattern`` (a glob relative to ``folder``) in condition folders."""
    out = []
    for p in folder.glob(pattern):
        if _FILE_RE.match(p.name) and p.parent.name.lower() in CONDITIONS and p.is_file():
            out.append(p)
    return out


def _candidates(path: Path, exts: Iterable[str]) -> list[Path]:
    """All SilentWear recording files under ``path`` down to ``root/<x>/<subject>/<cond>/file``."""
    files: list[Path] = []
    for ext in exts:
        for depth in range(4):
            files += _sess_files(path, "*/" * depth + f"sess_*_batch_*{ext}")
    return sorted(set(files))


def detect(path: str | Path) -> bool:
    """True for a SilentWear tree or a subject/condition folder of one (looks at names only)."""
    path = Path(path)
    if not path.is_dir():
        return False
    if path.name == PROCESSED_DIR or (path / PROCESSED_DIR).is_dir():
        return True
    # condition folder; subject folder; root of subjects; root of roots (raw/ beside data_raw_and_filt/)
    patterns = ["sess_*_batch_*"] if path.name.lower() in CONDITIONS else []
    for cond in CONDITIONS:
        patterns += [f"{cond}/sess_*_batch_*", f"*/{cond}/sess_*_batch_*", f"*/*/{cond}/sess_*_batch_*"]
    return any(_FILE_RE.match(p.name) for pat in patterns for p in path.glob(pat))


def _as_set(name: str, value: Any, cast: Callable[[Any], Any] = str) -> set[Any] | None:
    if value is None:
        return None
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    try:
        return {cast(v) for v in value}
    except (TypeError, ValueError):
        raise ValidationError(f"Invalid value for {name!r}: expected one value or a list, got {value!r}.") from None


def _key(path: Path) -> tuple[str, str, int, int, str]:
    m = _FILE_RE.match(path.name)
    if m is None:  # the candidates were chosen by this pattern
        raise ValueError(f"{path.name} is not a SilentWear file name (sess_<s>_batch_<b>.bio/.h5).")
    return (path.parent.parent.name, path.parent.name.lower(), int(m.group(1)), int(m.group(2)), path.name)


def _check_known(name: str, wanted: set | None, have: set) -> None:
    if wanted is None:
        return
    unknown = sorted(wanted - have, key=str)
    if unknown:
        hint = did_you_mean(str(unknown[0]), [str(h) for h in have])
        raise ValidationError(
            f"Invalid value for {name!r}: {', '.join(map(repr, unknown))} not in this dataset "
            f"(has {', '.join(map(str, sorted(have, key=str)))}).{hint}"
        )


def _read_raw(path: Path, filtered: bool) -> Recording:
    from ..io.bio import read_bio
    from ..preprocessing.filters import filter_silentwear

    rec = read_bio(path)
    rec = rec.pick(list(CHANNEL_ORDER))
    meta = dict(rec.meta)
    meta["dataset"] = NAME
    if filtered:
        rec = rec.copy(data=filter_silentwear(rec.data, rec.sfreq, **FILTER, source=str(path)), meta=meta)
        rec.meta["filtered"] = True
        rec.meta["filter"] = dict(FILTER)
    else:
        meta["filtered"] = False
        rec = rec.copy(meta=meta)
    return rec


def _read_processed(path: Path, filtered: bool) -> Recording:
    from ..io.silentwear_h5 import read_silentwear_h5

    rec = read_silentwear_h5(path, filtered=filtered)
    return rec.pick(list(CHANNEL_ORDER))


def load(
    path: str | Path,
    *,
    subjects: Any = None,
    conditions: Any = None,
    sessions: Any = None,
    batches: Any = None,
    source: str = "auto",
    filtered: bool = True,
) -> Dataset:
    """Load a SilentWear tree (raw ``.bio`` or processed ``.h5``) as a :class:`Dataset`.

    Parameters
    ----------
    path : path-like
        Dataset root, ``data_raw_and_filt``, a subject folder or a subject/condition folder.
    subjects, conditions, sessions, batches : value or list | None
        Keep only these (e.g. ``subjects="S01"``, ``conditions=["silent"]``, ``sessions=[1, 2]``).
    source : {"auto", "raw", "processed"}
        Read ``.bio`` (raw) or ``.h5`` (processed) files; ``"auto"`` prefers processed files
        when the folder has any.
    filtered : bool
        Return SilentWear's zero-phase filtered signal (over the whole recording: the reference's
        ``Ch_i_filt`` columns for processed files, computed here for raw ones) or the raw one.

    Returns
    -------
    Dataset
        Named ``"silentwear"``, recordings sorted by subject, condition, session, batch; 14
        channels in SilentWear's model order; ``window_s`` 1.4 s, ``window_mode`` "event";
        ``info`` with ``filter``, ``channels``, ``rest_label`` and ``labels``.
    """
    path = Path(path)
    check_option("source", source, ["auto", "raw", "processed"])
    if not path.exists():
        raise ValidationError(f"Dataset path {path} does not exist.")
    if not path.is_dir():
        raise ValidationError(f"{path} is a file; load_dataset reads single files, silentwear.load folders.")
    if source == "auto":
        files = _candidates(path, [".h5"])
        source = "processed" if files else "raw"
        if not files:
            files = _candidates(path, [".bio"])
    else:
        files = _candidates(path, [_EXT[source]])
    if not files:
        raise ValidationError(
            f"{path}: no SilentWear {'recordings' if source == 'auto' else source + ' files'} found "
            f"(expected <subject>/<silent|vocalized>/sess_<s>_batch_<b>{_EXT.get(source, '.bio/.h5')})."
        )
    keys = {f: _key(f) for f in files}
    subj, conds = _as_set("subjects", subjects), _as_set("conditions", conditions, lambda c: str(c).lower())
    sess, bats = _as_set("sessions", sessions, int), _as_set("batches", batches, int)
    for c in conds or ():
        check_option("conditions", c, CONDITIONS)
    _check_known("subjects", subj, {k[0] for k in keys.values()})
    _check_known("sessions", sess, {k[2] for k in keys.values()})
    _check_known("batches", bats, {k[3] for k in keys.values()})
    chosen = [
        f
        for f in files
        if (subj is None or keys[f][0] in subj)
        and (conds is None or keys[f][1] in conds)
        and (sess is None or keys[f][2] in sess)
        and (bats is None or keys[f][3] in bats)
    ]
    if not chosen:
        raise ValidationError(
            f"{path}: no recording matches subjects={subjects!r}, conditions={conditions!r}, "
            f"sessions={sessions!r}, batches={batches!r}."
        )
    chosen.sort(key=lambda f: keys[f])
    seen: dict[tuple, Path] = {}
    for f in chosen:
        k = keys[f][:4]
        if k in seen:
            logger.warning("%s and %s are both subject %s, %s, session %d, batch %d; keeping both", seen[k], f, *k)
        seen.setdefault(k, f)

    reader = _read_processed if source == "processed" else _read_raw
    recs = []
    for f in progress(chosen, desc=f"silentwear ({source})"):
        rec = reader(f, filtered)
        subject, cond, s, b, _ = keys[f]
        rec.meta.setdefault("subject", subject)
        rec.meta.setdefault("condition", cond)
        rec.meta.setdefault("session", s)
        rec.meta.setdefault("batch", b)
        rec.meta["dataset"] = NAME
        recs.append(rec)
    info = dict(INFO)
    info.update(
        {
            "filter": dict(FILTER),
            "channels": list(CHANNEL_ORDER),
            "rest_label": 0,
            "labels": dict(SILENTWEAR_LABELS),
            "sfreq": SFREQ,
            "source": source,
            "filtered": filtered,
        }
    )
    return Dataset(recs, NAME, str(path), window_s=WINDOW_S, window_mode="event", info=info)


__all__ = ["CHANNEL_ORDER", "CONDITIONS", "FILTER", "detect", "load"]

"""Adapter for folders of guided recordings written by ``myovox record`` (:mod:`myovox.acquisition`).

Any folder (searched recursively) holding ``<name>.csv`` + ``<name>.json`` session pairs is a
dataset: one Recording per session, labelled by the cue protocol, with the sidecar's ``subject``,
``session``, ``batch`` and ``condition`` as metadata. Lost samples are NaN (interpolated before
filtering by :func:`myovox.preprocessing.pipeline.preprocess_dataset`). Sessions whose recorder was
stopped early are kept with a warning; empty ones are skipped with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._logging import logger
from ..dataset import Dataset
from ..exceptions import DataLossWarning, ValidationError
from ..io.guided import is_session, read_session
from .base import choose_values

#: sessions are searched this deep below the folder given
_MAX_DEPTH = 4


def _sessions(path: Path) -> Iterator[Path]:
    """The sessions' ``.csv`` files, shallowest first (lazily: detect() stops at the first)."""
    for depth in range(_MAX_DEPTH + 1):
        pattern = "/".join(["*"] * depth + ["*.json"])
        yield from (p.with_suffix(".csv") for p in sorted(path.glob(pattern)) if is_session(p))


def detect(path: str | Path) -> bool:
    """True for a folder holding at least one guided-recording session."""
    path = Path(path)
    return path.is_dir() and any(_sessions(path))


def load(path: str | Path, *, subjects: Any = None, sessions: Any = None, condition: Any = None) -> Dataset:
    """Load every session below ``path``; options restrict subjects, sessions and condition."""
    path = Path(path)
    files = list(_sessions(path))
    if not files:
        raise ValidationError(f"{path} holds no guided recordings (<name>.csv + <name>.json from `myovox record`).")
    recs = []
    for f in files:
        rec = read_session(f)
        status = rec.meta.get("status")
        if rec.n_times == 0 or rec.labels is None:
            warnings.warn(f"{f}: no samples recorded; skipped.", DataLossWarning, stacklevel=2)
            continue
        if status != "complete":
            warnings.warn(
                f"{f}: recording {status!r}; its {rec.n_times} samples are used.", DataLossWarning, stacklevel=2
            )
        recs.append(rec)
    if not recs:
        raise ValidationError(f"{path}: every guided recording is empty.")
    for key, value in (("subject", subjects), ("session", sessions), ("condition", condition)):
        wanted = choose_values(key, value, sorted({str(r.meta.get(key)) for r in recs}), str)
        if wanted is not None:
            recs = [r for r in recs if str(r.meta.get(key)) in wanted]
    rates = {r.sfreq for r in recs}
    if len(rates) > 1:
        raise ValidationError(f"{path}: sessions recorded at different rates ({sorted(rates)} Hz); load them apart.")
    names = {tuple(r.ch_names) for r in recs}
    if len(names) > 1:
        raise ValidationError(f"{path}: sessions with different channels; load them apart.")
    n_lost = sum(r.meta.get("n_lost_samples", 0) for r in recs)
    logger.info("recorded: %d sessions from %s (%d lost samples, filled as gaps)", len(recs), path, n_lost)
    label_map: dict[int, str] = {}
    for r in recs:
        label_map.update(r.label_names or {})
    info = {
        "hardware": sorted({str(r.meta.get("device")) for r in recs}),
        "rest_label": 0,
        "label_map": label_map,
        "nan_policy": "interpolate",
        "n_lost_samples": n_lost,
    }
    return Dataset(recs, "recorded", str(path), window_s=1.4, window_mode="event", info=info)

"""Cue protocols: which word is cued when (SilentWear's timing by default)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_int, check_positive, did_you_mean
from ..exceptions import ValidationError
from ..recording import SILENTWEAR_LABELS

_WORDS = [SILENTWEAR_LABELS[i] for i in range(1, 9)]


@dataclass
class CueProtocol:
    """A cue schedule: a start screen, then trials of rest ("Next is: <word>") and word cue.

    Parameters
    ----------
    words : list of str
        Vocabulary; label ids are 1..len(words) in this order, 0 is rest.
    repetitions : int
        Repetitions of each word (reference: 20, i.e. 160 trials).
    start_s, rest_s, cue_s, tail_s : float
        Start screen, rest before each cue, cue and tail after the last cue (seconds).
    shuffle : bool
        Shuffle the trial order (seeded by ``seed``).
    seed : int
    """

    words: list[str] = field(default_factory=lambda: list(_WORDS))
    repetitions: int = 20
    start_s: float = 5.0
    rest_s: float = 1.5
    cue_s: float = 2.0
    tail_s: float = 3.5
    shuffle: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.words or len(set(self.words)) != len(self.words):
            raise ValidationError(f"Invalid value for 'words': expected distinct names, got {self.words!r}.")
        if "rest" in self.words:
            raise ValidationError("'rest' is label 0 and cannot be a cued word.")
        self.words = [str(w) for w in self.words]
        check_int("repetitions", self.repetitions, minimum=1)
        for name in ("start_s", "rest_s", "tail_s"):
            check_positive(name, getattr(self, name), "duration in seconds", allow_zero=True)
        check_positive("cue_s", self.cue_s, "duration in seconds")

    @classmethod
    def from_file(cls, path: str | Path) -> CueProtocol:
        """Read a protocol from JSON or YAML; unknown keys are rejected with a suggestion."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            cfg = yaml.safe_load(text) or {}
        else:
            try:
                cfg = json.loads(text)
            except json.JSONDecodeError as err:
                raise ValidationError(f"{path}: not valid JSON ({err}).") from err
        if not isinstance(cfg, dict):
            raise ValidationError(f"{path}: expected a mapping of protocol settings.")
        known = [f.name for f in fields(cls)]
        for key in cfg:
            if key not in known:
                raise ValidationError(
                    f"{path}: unknown protocol key {key!r}; known: {', '.join(known)}.{did_you_mean(key, known)}"
                )
        return cls(**cfg)

    @property
    def label_names(self) -> dict[int, str]:
        return {0: "rest", **{i + 1: w for i, w in enumerate(self.words)}}

    def trials(self) -> list[int]:
        """Label id of each trial in order."""
        ids = np.repeat(np.arange(1, len(self.words) + 1), self.repetitions)
        if self.shuffle:
            np.random.default_rng(self.seed).shuffle(ids)
        return [int(i) for i in ids]

    def schedule(self) -> list[tuple[float, float, int]]:
        """``(onset_s, offset_s, label)`` of every cue."""
        out, t = [], self.start_s
        for lab in self.trials():
            t += self.rest_s
            out.append((t, t + self.cue_s, lab))
            t += self.cue_s
        return out

    @property
    def duration_s(self) -> float:
        sched = self.schedule()
        return (sched[-1][1] if sched else self.start_s) + self.tail_s

    def labels_at(self, times: np.ndarray) -> np.ndarray:
        """Label of each time (seconds): the cued word during a cue, else 0."""
        times = np.asarray(times, dtype=np.float64)
        sched = self.schedule()
        on = np.array([s[0] for s in sched])
        off = np.array([s[1] for s in sched])
        lab = np.array([s[2] for s in sched])
        k = np.searchsorted(on, times, side="right") - 1
        out = np.zeros(times.shape, dtype=np.int64)
        ok = (k >= 0) & (times < off[np.clip(k, 0, None)])
        out[ok] = lab[k[ok]]
        return out

    def cue_text(self, t: float) -> str:
        """What the participant sees at time ``t``."""
        sched = self.schedule()
        if t < self.start_s:
            return "Get ready..."
        for on, off, lab in sched:
            if t < on:
                return f"Next is: {self.words[lab - 1]}"
            if t < off:
                return self.words[lab - 1].upper()
        return "Finished - thank you"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

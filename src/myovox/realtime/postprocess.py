"""Turn per-window class probabilities into command events: reject, vote, debounce.

Rules (each configurable):

1. **Rejection**: a window whose top probability is below ``threshold`` counts as "uncertain".
2. **Vote**: a command is accepted when at least ``min_votes`` of the last ``n_votes`` decisions
   name the same non-rest class.
3. **Rest suppression**: the rest class (and uncertain windows) never fire.
4. **Debounce**: after an event nothing fires for ``refractory_s`` seconds of stream time, and the
   same command fires again only after a confident window of rest or of another command
   (re-arm), so one utterance gives one event even when its end is uncertain.
5. **Gaps**: a suppressed window (too many lost samples, see
   :class:`~myovox.realtime.recognizer.Recognizer`) clears the vote history, so the votes that
   fire a command all come from windows after the gap.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._checks import check_int, check_positive
from ..exceptions import ValidationError


@dataclass
class CommandEvent:
    """One recognised command.

    JSON message (one object per line on the CLI)::

        {
            "type": "command",
            "label": "up",
            "label_id": 1,
            "confidence": 0.93,
            "t_start": 12.3,
            "t_end": 13.7,
            "latency_ms": 4.1,
            "n_votes": 3,
        }

    ``t_start``/``t_end`` are stream seconds of the window that completed the vote;
    ``latency_ms`` is the wall time from the arrival of that window's last sample to the event.
    """

    label: str
    label_id: int
    confidence: float
    t_start: float
    t_end: float
    latency_ms: float
    n_votes: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        out = {"type": "command", **d, **extra}
        for k in ("confidence", "t_start", "t_end", "latency_ms"):
            out[k] = round(float(out[k]), 6)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


@dataclass
class Decision:
    """The post-processed decision of one window (kept for parity checks and metrics)."""

    t_start: float
    t_end: float
    label_id: int | None  # None: rejected (uncertain) or suppressed (too many lost samples)
    confidence: float
    raw_label_id: int  # argmax before rejection
    suppressed: bool = False


class PostProcessor:
    """Stateful rejection + majority vote + debounce over a stream of window probabilities.

    Parameters
    ----------
    classes : sequence of int
        Label id of each probability column.
    label_names : mapping int -> str
    rest_label : int | None
        Label that never fires (SilentWear: 0).
    threshold : float
        Minimum top probability to accept a window.
    n_votes, min_votes : int
        Majority vote over the last ``n_votes`` decisions, needing ``min_votes`` agreeing ones.
    refractory_s : float
        Seconds after an event during which nothing fires.
    """

    def __init__(
        self,
        classes: ArrayLike,
        label_names: Mapping[int, str] | None = None,
        *,
        rest_label: int | None = 0,
        threshold: float = 0.6,
        n_votes: int = 3,
        min_votes: int = 2,
        refractory_s: float = 1.0,
    ) -> None:
        self.classes = np.asarray(classes)
        self.label_names = dict(label_names or {})
        self.rest_label = rest_label
        if not 0.0 <= threshold <= 1.0:
            raise ValidationError(
                f"Invalid value for 'threshold': expected a probability in [0, 1], got {threshold!r}."
            )
        self.threshold = float(threshold)
        self.n_votes = check_int("n_votes", n_votes, minimum=1)
        self.min_votes = check_int("min_votes", min_votes, minimum=1)
        if self.min_votes > self.n_votes:
            raise ValidationError(f"min_votes ({min_votes}) cannot exceed n_votes ({n_votes}).")
        self.refractory_s = check_positive("refractory_s", refractory_s, "duration in seconds", allow_zero=True)
        self.reset()

    def reset(self) -> None:
        self._votes: deque[int | None] = deque(maxlen=self.n_votes)
        self._last_event_t = -math.inf
        self._last_event_label: int | None = None
        self._armed = True

    def decide(self, proba: np.ndarray, t_start: float, t_end: float, *, suppressed: bool = False) -> Decision:
        """Decision for one window (rejection only, no state change)."""
        k = int(np.argmax(proba))
        conf = float(proba[k])
        raw = int(self.classes[k])
        label = None if suppressed or conf < self.threshold else raw
        return Decision(t_start, t_end, label, conf, raw, suppressed)

    def update(self, decision: Decision, arrival: float | None = None, now: float | None = None) -> CommandEvent | None:
        """Feed one decision; returns an event when a command fires."""
        if decision.suppressed:
            self._votes.clear()
            return None
        lab = decision.label_id
        self._votes.append(lab)
        if lab is not None and lab != self._last_event_label:
            self._armed = True  # rest or another command re-arms; an uncertain window does not
        if lab is None or lab == self.rest_label:
            return None
        if decision.t_end - self._last_event_t < self.refractory_s:
            return None
        if lab == self._last_event_label and not self._armed:
            return None
        n_agree = sum(1 for v in self._votes if v == lab)
        if n_agree < self.min_votes:
            return None
        latency = 0.0 if arrival is None or now is None else (now - arrival) * 1e3
        event = CommandEvent(
            self.label_names.get(lab, str(lab)),
            lab,
            decision.confidence,
            decision.t_start,
            decision.t_end,
            latency,
            n_agree,
        )
        self._last_event_t = decision.t_end
        self._last_event_label = lab
        self._armed = False
        self._votes.clear()
        return event

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

Two modes (:data:`POSTPROCESS_MODES`). ``"utterance"`` (the default) is the above: one event per
brief command. ``"hold"`` is for sustained gestures, held for seconds:

6. **Hold confirmation**: a class that keeps the vote (``min_votes`` of the last ``n_votes``) for
   ``confirm_s`` seconds of stream time, ending on a window of that class, starts a *hold*: one
   event with ``state="start"``, whose ``t_start`` is the end of the first window of the class
   in that run. A wrong class at the onset that keeps the vote for less than ``confirm_s``
   (the onset transient of a gesture) never fires.
7. **No re-firing**: while the hold lasts nothing fires, however long it is held.
8. **Release**: the hold ends when ``min_votes`` of the last ``n_votes`` decisions are confident
   and not the held class (rest or another class), so neither one stray window nor a stretch of
   uncertain ones (below ``threshold``, e.g. while the hold's amplitude fluctuates) ends it. An
   event with ``state="end"`` (JSON ``"type": "hold_end"``, not a command) reports ``duration_s``:
   from the end of the first window of the held class to the end of its last one. Both ends are
   seen through windows: if a window is recognised once the gesture fills a share ``f`` of it, the
   first lags the onset by ``f`` windows and the last the release by ``1 - f``, so durations come
   out about ``(1 - 2 f) * window_s`` long (0 for ``f = 0.5``). ``refractory_s`` counts from the
   release; :meth:`PostProcessor.current_hold` gives the state in between.
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

from .._checks import check_int, check_option, check_positive
from ..exceptions import ValidationError

#: Post-processing modes (``myovox stream --mode``): ``"utterance"``, one event per brief command;
#: ``"hold"``, one event per held gesture when it is confirmed and an end message with its duration.
POSTPROCESS_MODES = ("utterance", "hold")


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

    Hold mode (:class:`PostProcessor` ``mode="hold"``) sets ``state``: ``"start"`` when a hold is
    confirmed (``t_start``: end of the hold's first window; ``t_end``: the confirming window) and
    ``"end"`` when it is released, with ``duration_s`` (``t_start``: the hold's start, ``t_end``:
    end of its last window of the held class; ``n_votes``: windows of the held class). The JSON of an
    end message has ``"type": "hold_end"``, so that consumers of ``"command"`` see one command per
    hold; ``state`` and ``duration_s`` appear in the JSON only when set (utterance events are
    unchanged). :meth:`PostProcessor.current_hold` returns ``state="holding"``.
    """

    label: str
    label_id: int
    confidence: float
    t_start: float
    t_end: float
    latency_ms: float
    n_votes: int = 1
    extra: dict[str, Any] = field(default_factory=dict)
    state: str | None = None
    duration_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        for k in ("state", "duration_s"):
            if d[k] is None:
                del d[k]
        out = {"type": "hold_end" if self.state == "end" else "command", **d, **extra}
        for k in ("confidence", "t_start", "t_end", "latency_ms", "duration_s"):
            if k in out:
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
    """Stateful rejection + majority vote + debounce (or hold tracking) over window probabilities.

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
        Seconds after an event during which nothing fires (hold mode: after a hold's release).
    mode : {"utterance", "hold"}
        One event per brief command, or one per held gesture plus an end message with its
        duration (see the module docstring and :data:`POSTPROCESS_MODES`).
    confirm_s : float
        Hold mode: seconds of stream time a class must keep the vote before its hold starts
        (0: at once, as an utterance fires). Not used in utterance mode.
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
        mode: str = "utterance",
        confirm_s: float = 0.3,
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
        self.mode = check_option("mode", mode, POSTPROCESS_MODES)
        self.confirm_s = check_positive("confirm_s", confirm_s, "duration in seconds", allow_zero=True)
        self.reset()

    def reset(self) -> None:
        self._votes: deque[tuple[int | None, float]] = deque(maxlen=self.n_votes)  # (label, t_end)
        self._last_event_t = -math.inf
        self._last_event_label: int | None = None
        self._armed = True
        # hold mode
        self._held: int | None = None
        self._held_t0 = 0.0
        self._held_conf = 0.0
        self._held_n = 0
        self._held_last = 0.0
        self._cand: int | None = None
        self._cand_since = 0.0
        self._cand_first = 0.0
        self._cand_n = 0
        self._release_t = -math.inf
        self._last_t = 0.0

    def decide(self, proba: np.ndarray, t_start: float, t_end: float, *, suppressed: bool = False) -> Decision:
        """Decision for one window (rejection only, no state change)."""
        k = int(np.argmax(proba))
        conf = float(proba[k])
        raw = int(self.classes[k])
        label = None if suppressed or conf < self.threshold else raw
        return Decision(t_start, t_end, label, conf, raw, suppressed)

    def update(self, decision: Decision, arrival: float | None = None, now: float | None = None) -> CommandEvent | None:
        """Feed one decision; returns an event when a command fires (or, in hold mode, a hold ends)."""
        latency = 0.0 if arrival is None or now is None else (now - arrival) * 1e3
        if self.mode == "hold":
            return self._update_hold(decision, latency)
        if decision.suppressed:
            self._votes.clear()
            return None
        lab = decision.label_id
        self._votes.append((lab, decision.t_end))
        if lab is not None and lab != self._last_event_label:
            self._armed = True  # rest or another command re-arms; an uncertain window does not
        if lab is None or lab == self.rest_label:
            return None
        if decision.t_end - self._last_event_t < self.refractory_s:
            return None
        if lab == self._last_event_label and not self._armed:
            return None
        n_agree = sum(1 for v, _ in self._votes if v == lab)
        if n_agree < self.min_votes:
            return None
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

    # ------------------------------------------------------------------ hold mode
    def _name(self, label: int) -> str:
        return self.label_names.get(label, str(label))

    def _update_hold(self, decision: Decision, latency: float) -> CommandEvent | None:
        if decision.suppressed:  # a gap: votes restart after it; a hold in progress goes on
            self._votes.clear()
            self._cand = None
            return None
        lab, t = decision.label_id, decision.t_end
        self._last_t = t
        self._votes.append((lab, t))
        if self._held is not None:
            if lab == self._held:
                self._held_n += 1
                self._held_last = t
            # confident windows of rest or another class release the hold; uncertain ones do not
            released = [tv for v, tv in self._votes if v is not None and v != self._held]
            if len(released) < self.min_votes:
                return None
            t_off = self._held_last
            event = CommandEvent(
                self._name(self._held),
                self._held,
                self._held_conf,
                self._held_t0,
                t_off,
                latency,
                self._held_n,
                state="end",
                duration_s=t_off - self._held_t0,
            )
            self._held, self._cand, self._release_t = None, None, t
            return event
        counts: dict[int, int] = {}
        for v, _ in self._votes:
            if v is not None and v != self.rest_label:
                counts[v] = counts.get(v, 0) + 1
        voted = [v for v, c in counts.items() if c >= self.min_votes]
        if not voted:
            self._cand = None
            return None
        winner = lab if lab in voted else max(voted, key=lambda v: counts[v])
        if winner != self._cand:
            self._cand, self._cand_since, self._cand_n = winner, t, counts[winner]
            self._cand_first = next(tv for v, tv in self._votes if v == winner)
        elif lab == winner:
            self._cand_n += 1
        if lab != winner or t - self._cand_since < self.confirm_s - 1e-9 or t - self._release_t < self.refractory_s:
            return None
        self._held, self._held_t0, self._held_conf, self._held_n = (
            winner,
            self._cand_first,
            decision.confidence,
            self._cand_n,
        )
        self._held_last = t
        self._last_event_t, self._last_event_label = t, winner
        return CommandEvent(
            self._name(winner),
            winner,
            decision.confidence,
            self._cand_first,
            t,
            latency,
            counts[winner],
            state="start",
        )

    def current_hold(self, t: float | None = None) -> CommandEvent | None:
        """The hold in progress (hold mode), or None.

        An event with ``state="holding"``: label, confidence of its start, ``t_start`` (the hold's
        start), ``t_end`` = ``t`` (default: the end of the last window decided) and ``duration_s``
        so far.
        """
        if self._held is None:
            return None
        t_now = self._last_t if t is None else float(t)
        return CommandEvent(
            self._name(self._held),
            self._held,
            self._held_conf,
            self._held_t0,
            t_now,
            0.0,
            self._held_n,
            state="holding",
            duration_s=t_now - self._held_t0,
        )

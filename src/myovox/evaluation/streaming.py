"""Event-level metrics of a live recogniser against cue labels.

A cue is a run of non-rest labels ``[onset, offset)``. An event *matches* a cue when its
``t_end`` falls in ``[onset, offset + tolerance_s)`` and the cue has no match yet; it is
*correct* when the labels agree. Events outside every cue's tolerance interval are false
activations; divided by the rest-only duration they give false activations per hour.

With ``transient_s > 0``, a wrong event within ``transient_s`` of a cue's onset that is followed
by a correct event for the same cue is an *onset transient* (the brief wrong window a recogniser
may emit while a command starts): it is counted in ``n_transients`` and neither as a match, an
error nor an event of the precision. With ``transient_s = 0`` (default) it is an error.

Held gestures (:class:`~myovox.realtime.postprocess.PostProcessor` ``mode="hold"``): only the
commands count (``state`` None or ``"start"``); the end message of a hold (``state="end"``,
JSON ``"type": "hold_end"``) and hold states are not events here. :func:`hold_durations` compares
the reported durations with the cues'.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..recording import Recording


def cue_intervals(labels: np.ndarray, sfreq: float, rest_label: int = 0) -> list[tuple[float, float, int]]:
    """Non-rest label runs as ``(onset_s, offset_s, label)``."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return []
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [labels.size]])
    runs = zip(starts, stops, strict=True)
    return [(a / sfreq, b / sfreq, int(labels[a])) for a, b in runs if labels[a] != rest_label]


def event_metrics(
    events: Iterable[Any],
    recording: Recording | None = None,
    *,
    labels: np.ndarray | None = None,
    sfreq: float | None = None,
    rest_label: int = 0,
    tolerance_s: float = 1.0,
    transient_s: float = 0.0,
) -> dict[str, Any]:
    """Precision, recall, false activations per hour and detection latency of command events.

    Parameters
    ----------
    events : iterable of CommandEvent (or dicts with ``label_id`` and ``t_end``)
    recording : Recording | None
        Gives ``labels`` and ``sfreq`` (or pass them explicitly).
    tolerance_s : float
        How long after a cue's end an event still counts for it.
    transient_s : float
        Onset-transient tolerance in seconds (see the module docstring); 0 counts every wrong
        event as an error.

    Returns
    -------
    dict
        Counts (``n_cues``, ``n_events``, ``n_correct``, ``n_wrong_or_repeated``,
        ``n_false_activations``, ``n_transients``), ``precision``, ``recall``,
        ``false_activations_per_hour``, ``rest_hours``, latencies from cue onset and ``per_class``:
        label -> ``n_cues``, ``n_events``, ``n_correct``, ``precision``, ``recall``.
    """
    if recording is not None:
        labels, sfreq = recording.labels, recording.sfreq
    if labels is None or sfreq is None:
        raise ValueError("event_metrics needs a labelled recording or labels and sfreq.")
    cues = cue_intervals(labels, sfreq, rest_label)
    evs = [
        (
            float(e["t_end"] if isinstance(e, dict) else e.t_end),
            int(e["label_id"] if isinstance(e, dict) else e.label_id),
        )
        for e in events
        if _is_command(e)
    ]
    evs.sort()
    matched = [False] * len(cues)
    n_correct = n_wrong = n_false = n_transient = 0
    latencies: list[float] = []
    correct_by: dict[int, int] = {}
    events_by: dict[int, int] = {}
    for k, (t, lab) in enumerate(evs):
        hit = None
        for i, (on, off, _) in enumerate(cues):
            if on <= t < off + tolerance_s and not matched[i]:
                hit = i
                break
        if hit is not None and cues[hit][2] != lab and t - cues[hit][0] < transient_s:
            on, off, want = cues[hit]
            if any(lab2 == want and t2 < off + tolerance_s for t2, lab2 in evs[k + 1 :]):
                n_transient += 1  # a brief wrong event at the onset, the right command follows
                continue
        events_by[lab] = events_by.get(lab, 0) + 1
        if hit is None:
            inside_any = any(on <= t < off + tolerance_s for on, off, _ in cues)
            if inside_any:
                n_wrong += 1  # a second event for an already matched cue: a repeated trigger
            else:
                n_false += 1
            continue
        matched[hit] = True
        if cues[hit][2] == lab:
            n_correct += 1
            correct_by[lab] = correct_by.get(lab, 0) + 1
            latencies.append(t - cues[hit][0])
        else:
            n_wrong += 1
    duration = len(labels) / sfreq
    cue_time = sum(min(off + tolerance_s, duration) - on for on, off, _ in cues)
    rest_h = max(duration - cue_time, 0.0) / 3600.0
    n_events = len(evs) - n_transient
    cues_by: dict[int, int] = {}
    for _, _, lab in cues:
        cues_by[lab] = cues_by.get(lab, 0) + 1
    per_class = {
        lab: {
            "n_cues": cues_by.get(lab, 0),
            "n_events": events_by.get(lab, 0),
            "n_correct": correct_by.get(lab, 0),
            "precision": correct_by.get(lab, 0) / events_by[lab] if events_by.get(lab) else float("nan"),
            "recall": correct_by.get(lab, 0) / cues_by[lab] if cues_by.get(lab) else float("nan"),
        }
        for lab in sorted(set(cues_by) | set(events_by))
    }
    return {
        "n_cues": len(cues),
        "n_events": n_events,
        "n_correct": n_correct,
        "n_wrong_or_repeated": n_wrong,
        "n_false_activations": n_false,
        "n_transients": n_transient,
        "transient_s": float(transient_s),
        "per_class": per_class,
        "precision": n_correct / n_events if n_events else float("nan"),
        "recall": n_correct / len(cues) if cues else float("nan"),
        "false_activations_per_hour": n_false / rest_h if rest_h > 0 else float("nan"),
        "rest_hours": rest_h,
        "latency_s_median": float(np.median(latencies)) if latencies else float("nan"),
        "latency_s_mean": float(np.mean(latencies)) if latencies else float("nan"),
    }


def _field(e: Any, key: str) -> Any:
    return e.get(key) if isinstance(e, dict) else getattr(e, key, None)


def _is_command(e: Any) -> bool:
    """A command event: not a hold's end message nor a hold state (``state`` None or "start")."""
    return _field(e, "state") in (None, "start") and _field(e, "type") in (None, "command")


def hold_durations(
    events: Iterable[Any],
    recording: Recording | None = None,
    *,
    labels: np.ndarray | None = None,
    sfreq: float | None = None,
    rest_label: int = 0,
    tolerance_s: float = 1.0,
) -> dict[str, Any]:
    """Reported hold durations against the cues' (events of a hold-mode recogniser).

    Each cue is paired with the first hold start (``state="start"``) of its label whose ``t_end``
    falls in ``[onset, offset + tolerance_s)`` (as :func:`event_metrics` matches), and that start
    with the end message of the same hold (``state="end"``, same label and ``t_start``).

    Returns
    -------
    dict
        ``n_holds`` (cues with a correct start), ``n_ended`` (of them, with an end message),
        ``true_s`` and ``measured_s`` (per ended hold), ``error_s_median`` (measured - true) and
        ``abs_error_s_median``.
    """
    if recording is not None:
        labels, sfreq = recording.labels, recording.sfreq
    if labels is None or sfreq is None:
        raise ValueError("hold_durations needs a labelled recording or labels and sfreq.")
    evs = list(events)
    starts = sorted(
        (float(_field(e, "t_end")), int(_field(e, "label_id")), float(_field(e, "t_start")))
        for e in evs
        if _field(e, "state") == "start"
    )
    ends = [
        (int(_field(e, "label_id")), float(_field(e, "t_start")), float(_field(e, "duration_s")))
        for e in evs
        if _field(e, "state") == "end"
    ]
    used = [False] * len(starts)
    true_s: list[float] = []
    measured: list[float] = []
    n_holds = 0
    for on, off, lab in cue_intervals(labels, sfreq, rest_label):
        k = next(
            (i for i, (t, lab2, _) in enumerate(starts) if not used[i] and lab2 == lab and on <= t < off + tolerance_s),
            None,
        )
        if k is None:
            continue
        used[k] = True
        n_holds += 1
        t0 = starts[k][2]
        dur = next((d for lab2, s0, d in ends if lab2 == lab and abs(s0 - t0) < 1e-5), None)
        if dur is not None:
            true_s.append(off - on)
            measured.append(dur)
    err = np.asarray(measured) - np.asarray(true_s)
    return {
        "n_holds": n_holds,
        "n_ended": len(measured),
        "true_s": true_s,
        "measured_s": measured,
        "error_s_median": float(np.median(err)) if err.size else float("nan"),
        "abs_error_s_median": float(np.median(np.abs(err))) if err.size else float("nan"),
    }


def summarize_events(per_recording: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pool :func:`event_metrics` results of several recordings (counts summed, rates recomputed)."""
    tot = {
        k: sum(r[k] for r in per_recording)
        for k in ("n_cues", "n_events", "n_correct", "n_wrong_or_repeated", "n_false_activations", "rest_hours")
    }
    tot["n_transients"] = sum(r.get("n_transients", 0) for r in per_recording)
    tot["precision"] = tot["n_correct"] / tot["n_events"] if tot["n_events"] else float("nan")
    tot["recall"] = tot["n_correct"] / tot["n_cues"] if tot["n_cues"] else float("nan")
    tot["false_activations_per_hour"] = (
        tot["n_false_activations"] / tot["rest_hours"] if tot["rest_hours"] > 0 else float("nan")
    )
    lat = [r["latency_s_median"] for r in per_recording if r["latency_s_median"] == r["latency_s_median"]]
    tot["latency_s_median"] = float(np.median(lat)) if lat else float("nan")
    return tot

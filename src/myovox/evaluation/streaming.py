"""Event-level metrics of a live recogniser against cue labels.

A cue is a run of non-rest labels ``[onset, offset)``. An event *matches* a cue when its
``t_end`` falls in ``[onset, offset + tolerance_s)`` and the cue has no match yet; it is
*correct* when the labels agree. Events outside every cue's tolerance interval are false
activations; divided by the rest-only duration they give false activations per hour.
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
) -> dict[str, Any]:
    """Precision, recall, false activations per hour and detection latency of command events.

    Parameters
    ----------
    events : iterable of CommandEvent (or dicts with ``label_id`` and ``t_end``)
    recording : Recording | None
        Gives ``labels`` and ``sfreq`` (or pass them explicitly).
    tolerance_s : float
        How long after a cue's end an event still counts for it.
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
    ]
    matched = [False] * len(cues)
    n_correct = n_wrong = n_false = 0
    latencies: list[float] = []
    for t, lab in sorted(evs):
        hit = None
        for i, (on, off, _) in enumerate(cues):
            if on <= t < off + tolerance_s and not matched[i]:
                hit = i
                break
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
            latencies.append(t - cues[hit][0])
        else:
            n_wrong += 1
    duration = len(labels) / sfreq
    cue_time = sum(min(off + tolerance_s, duration) - on for on, off, _ in cues)
    rest_h = max(duration - cue_time, 0.0) / 3600.0
    n_events = len(evs)
    return {
        "n_cues": len(cues),
        "n_events": n_events,
        "n_correct": n_correct,
        "n_wrong_or_repeated": n_wrong,
        "n_false_activations": n_false,
        "precision": n_correct / n_events if n_events else float("nan"),
        "recall": n_correct / len(cues) if cues else float("nan"),
        "false_activations_per_hour": n_false / rest_h if rest_h > 0 else float("nan"),
        "rest_hours": rest_h,
        "latency_s_median": float(np.median(latencies)) if latencies else float("nan"),
        "latency_s_mean": float(np.mean(latencies)) if latencies else float("nan"),
    }


def summarize_events(per_recording: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pool :func:`event_metrics` results of several recordings (counts summed, rates recomputed)."""
    tot = {
        k: sum(r[k] for r in per_recording)
        for k in ("n_cues", "n_events", "n_correct", "n_wrong_or_repeated", "n_false_activations", "rest_hours")
    }
    tot["precision"] = tot["n_correct"] / tot["n_events"] if tot["n_events"] else float("nan")
    tot["recall"] = tot["n_correct"] / tot["n_cues"] if tot["n_cues"] else float("nan")
    tot["false_activations_per_hour"] = (
        tot["n_false_activations"] / tot["rest_hours"] if tot["rest_hours"] > 0 else float("nan")
    )
    lat = [r["latency_s_median"] for r in per_recording if r["latency_s_median"] == r["latency_s_median"]]
    tot["latency_s_median"] = float(np.median(lat)) if lat else float("nan")
    return tot

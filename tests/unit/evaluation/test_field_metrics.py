"""The myoelectric-control field's metrics (issue 12), against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from myovox.evaluation import active_error, instability, rejection_rate
from myovox.evaluation.streaming import event_metrics, summarize_events
from myovox.exceptions import ValidationError


def test_active_error_ignores_rest_decisions():
    y_true = [0, 1, 2, 2, 0, 1]
    y_pred = [0, 1, 1, 0, 2, 1]
    # active decisions: 1 (ok), 1 (wrong), 2 (wrong, true rest), 1 (ok) -> 2 / 4
    assert active_error(y_true, y_pred) == 0.5
    assert active_error([1, 2], [1, 2]) == 0.0
    assert math.isnan(active_error([1, 2], [0, 0]))  # every decision rest: nothing issued
    assert active_error(["a", "b"], ["rest", "a"], rest_label="rest") == 1.0
    with pytest.raises(ValidationError, match="same length"):
        active_error([0, 1], [0])


def test_instability_is_the_share_of_changes():
    assert instability([1, 1, 2, 2, 1]) == 0.5  # 2 changes in 4 steps
    assert instability([3, 3, 3]) == 0.0
    assert instability([1, 2, 1, 2]) == 1.0
    assert math.isnan(instability([1]))


def test_rejection_rate():
    assert rejection_rate([-1, 2, -1, 0]) == 0.5
    assert rejection_rate(["x", "y"], rejected="none") == 0.0
    with pytest.raises(ValidationError, match="empty"):
        rejection_rate([])


def _ev(t, lab):
    return {"t_end": t, "label_id": lab}


# 10 s at 10 Hz: cue "1" over [1, 3) s, cue "2" over [5, 7) s
LABELS = np.zeros(100, dtype=int)
LABELS[10:30] = 1
LABELS[50:70] = 2


def test_event_metrics_per_class_counts():
    events = [_ev(1.5, 1), _ev(5.5, 1), _ev(9.5, 2)]  # right, wrong (for cue 2), false activation
    m = event_metrics(events, labels=LABELS, sfreq=10.0, tolerance_s=1.0)
    assert (m["n_cues"], m["n_events"], m["n_correct"], m["n_wrong_or_repeated"], m["n_false_activations"]) == (
        2,
        3,
        1,
        1,
        1,
    )
    assert m["precision"] == pytest.approx(1 / 3) and m["recall"] == 0.5
    pc = m["per_class"]
    assert pc[1] == {"n_cues": 1, "n_events": 2, "n_correct": 1, "precision": 0.5, "recall": 1.0}
    assert pc[2]["n_cues"] == 1 and pc[2]["n_events"] == 1 and pc[2]["recall"] == 0.0 and pc[2]["precision"] == 0.0
    # rest: 10 s minus the two cues and their 1 s tolerances (3 s each) = 4 s
    assert m["rest_hours"] == pytest.approx(4 / 3600)
    assert m["false_activations_per_hour"] == pytest.approx(900.0)


def test_onset_transients_are_counted_separately_when_allowed():
    # cue 2 at 5 s: a wrong "1" at 5.2 s (onset transient), then the right "2" at 5.6 s
    events = [_ev(1.5, 1), _ev(5.2, 1), _ev(5.6, 2)]
    strict = event_metrics(events, labels=LABELS, sfreq=10.0)
    assert strict["n_transients"] == 0 and strict["n_correct"] == 1 and strict["n_wrong_or_repeated"] == 2
    assert strict["recall"] == 0.5  # the wrong event took the cue
    lenient = event_metrics(events, labels=LABELS, sfreq=10.0, transient_s=0.5)
    assert lenient["n_transients"] == 1 and lenient["n_events"] == 2 and lenient["n_correct"] == 2
    assert lenient["precision"] == 1.0 and lenient["recall"] == 1.0 and lenient["transient_s"] == 0.5
    assert lenient["per_class"][1]["n_events"] == 1  # the transient is no event of class 1
    # too late for a transient (0.7 s after onset), or no right command after it: an error
    assert event_metrics([_ev(5.7, 1), _ev(6.0, 2)], labels=LABELS, sfreq=10.0, transient_s=0.5)["n_transients"] == 0
    assert event_metrics([_ev(5.2, 1)], labels=LABELS, sfreq=10.0, transient_s=0.5)["n_transients"] == 0
    pooled = summarize_events([lenient, strict])
    assert pooled["n_transients"] == 1 and pooled["n_correct"] == 3

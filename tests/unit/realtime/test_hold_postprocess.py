"""Hold mode of the post-processing (sustained gestures), on hand-built probability sequences."""

import json

import numpy as np
import pytest

from myovox import ValidationError
from myovox.evaluation.streaming import event_metrics, hold_durations
from myovox.realtime import CommandEvent, PostProcessor
from myovox.realtime.postprocess import POSTPROCESS_MODES

STEP, WIN = 0.1, 1.0
NAMES = {0: "rest", 1: "fist", 2: "pinch"}
REST, FIST, PINCH, UNSURE = [0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.4, 0.3, 0.3]


def _run(pp, probs, suppressed=()):
    """Feed one window per step (window k ends at (k + 1) * STEP + WIN); returns the events."""
    events = []
    for k, p in enumerate(probs):
        t_end = round((k + 1) * STEP + WIN, 6)
        ev = pp.update(pp.decide(np.array(p), t_end - WIN, t_end, suppressed=k in suppressed))
        if ev is not None:
            events.append(ev)
    return events


def _t_end(k):
    return round((k + 1) * STEP + WIN, 6)


def _hold(**kw):
    kw = {"threshold": 0.6, "n_votes": 3, "min_votes": 2, "refractory_s": 0.5, "confirm_s": 0.3, **kw}
    return PostProcessor([0, 1, 2], NAMES, mode="hold", **kw)


def test_one_event_per_hold_with_its_duration_and_no_refire():
    probs = [REST] * 10 + [FIST] * 30 + [REST] * 10  # a 3 s hold of "fist" (windows 10..39)
    events = _run(_hold(), probs)
    assert [(e.label, e.state) for e in events] == [("fist", "start"), ("fist", "end")]
    start, end = events
    # confirmed after the class kept the vote for confirm_s: majority from window 11, fires at window 14
    assert start.t_start == pytest.approx(_t_end(10)) and start.t_end == pytest.approx(_t_end(14))
    assert start.duration_s is None and start.n_votes == 3
    # released at the second rest window; it lasted from the end of the first "fist" window to the end of the last
    assert end.t_start == pytest.approx(_t_end(10)) and end.t_end == pytest.approx(_t_end(39))
    assert end.duration_s == pytest.approx(29 * STEP)
    assert end.n_votes == 30


def test_utterance_mode_refires_during_a_long_hold_where_hold_mode_does_not():
    # a long hold whose windows flicker to another class now and then (as real holds do)
    probs = [REST] * 5 + ([FIST] * 12 + [PINCH]) * 4 + [FIST] * 5 + [REST] * 5
    utter = PostProcessor([0, 1, 2], NAMES, refractory_s=0.5)
    assert sum(e.label == "fist" for e in _run(utter, probs)) > 1
    events = _run(_hold(), probs)
    assert [(e.label, e.state) for e in events] == [("fist", "start"), ("fist", "end")]


def test_brief_wrong_class_at_the_onset_is_tolerated():
    # the onset transient: two windows of "pinch" before the "fist" hold settles
    probs = [REST] * 10 + [PINCH] * 2 + [FIST] * 20 + [REST] * 5
    events = _run(_hold(), probs)
    assert [(e.label, e.state) for e in events] == [("fist", "start"), ("fist", "end")]
    # the utterance mode fires the transient
    utter = PostProcessor([0, 1, 2], NAMES, refractory_s=0.5)
    assert _run(utter, probs)[0].label == "pinch"
    # a wrong class that keeps the vote for confirm_s is a hold of its own
    long_wrong = [REST] * 10 + [PINCH] * 6 + [FIST] * 20 + [REST] * 5
    labels = [(e.label, e.state) for e in _run(_hold(refractory_s=0.0), long_wrong)]
    assert labels[0] == ("pinch", "start") and ("fist", "start") in labels


def test_stray_and_uncertain_windows_do_not_end_a_hold_but_rest_does():
    probs = [REST] * 5 + [FIST] * 10 + [PINCH] + [FIST] * 5 + [UNSURE] * 4 + [FIST] * 5 + [REST] * 3
    events = _run(_hold(), probs)
    assert [(e.label, e.state) for e in events] == [("fist", "start"), ("fist", "end")]
    assert events[1].duration_s == pytest.approx((10 + 1 + 5 + 4 + 5 - 1) * STEP)


def test_rest_ends_the_hold_and_the_same_class_can_start_again():
    probs = [REST] * 5 + [FIST] * 20 + [REST] * 15 + [FIST] * 15 + [REST] * 5
    pp = _hold(refractory_s=1.0)
    events = _run(pp, probs)
    assert [(e.label, e.state) for e in events] == [("fist", "start"), ("fist", "end")] * 2
    assert [e.duration_s for e in events if e.state == "end"] == pytest.approx([1.9, 1.4])
    # a new hold within refractory_s of the release waits for it, keeping its true start
    quick = [REST] * 5 + [FIST] * 20 + [REST] * 3 + [FIST] * 20 + [REST] * 3
    ev2 = _run(_hold(refractory_s=1.0), quick)
    assert [(e.label, e.state) for e in ev2] == [("fist", "start"), ("fist", "end")] * 2
    second = ev2[2]
    assert second.t_start == pytest.approx(_t_end(28))
    assert second.t_end - ev2[1].t_end >= 1.0 - 1e-9


def test_current_hold_reports_the_duration_so_far():
    pp = _hold()
    _run(pp, [REST] * 5 + [FIST] * 12)
    state = pp.current_hold()
    assert state is not None and state.state == "holding" and state.label == "fist"
    assert state.duration_s == pytest.approx(11 * STEP)
    assert pp.current_hold(t=10.0).duration_s == pytest.approx(10.0 - _t_end(5))
    pp.reset()
    assert pp.current_hold() is None


def test_gap_clears_the_votes_but_not_the_hold():
    probs = [REST] * 5 + [FIST] * 30 + [REST] * 5
    events = _run(_hold(), probs, suppressed=set(range(20, 25)))
    assert [(e.label, e.state) for e in events] == [("fist", "start"), ("fist", "end")]
    assert events[1].duration_s == pytest.approx(2.9)


def test_json_is_backwards_compatible_and_marks_hold_ends():
    utter = CommandEvent("up", 1, 0.9, 1.0, 2.0, 3.0, 2)
    d = utter.to_dict()
    assert d["type"] == "command" and "state" not in d and "duration_s" not in d
    assert set(d) == {"type", "label", "label_id", "confidence", "t_start", "t_end", "latency_ms", "n_votes"}
    events = _run(_hold(), [REST] * 5 + [FIST] * 20 + [REST] * 5)
    start, end = (json.loads(e.to_json()) for e in events)
    assert start["type"] == "command" and start["state"] == "start" and "duration_s" not in start
    assert end["type"] == "hold_end" and end["state"] == "end" and end["duration_s"] == pytest.approx(1.9)


def test_event_metrics_count_commands_only_and_hold_durations_pair_them():
    sfreq = 10.0
    labels = np.zeros(300, int)
    labels[50:80] = 1  # 3 s hold at 5-8 s
    labels[150:170] = 2  # 2 s hold at 15-17 s
    events = [
        CommandEvent("fist", 1, 0.9, 5.5, 5.9, 0.0, 3, state="start"),
        CommandEvent("fist", 1, 0.9, 5.5, 8.7, 0.0, 30, state="end", duration_s=3.2),
        CommandEvent("pinch", 2, 0.9, 15.6, 16.0, 0.0, 3, state="start"),
    ]
    m = event_metrics(events, labels=labels, sfreq=sfreq)
    assert m["n_events"] == 2 and m["n_correct"] == 2 and m["n_wrong_or_repeated"] == 0
    # dicts as read back from JSON lines count the same way
    m2 = event_metrics([json.loads(e.to_json()) for e in events], labels=labels, sfreq=sfreq)
    assert m2["n_events"] == 2 and m2["precision"] == 1.0
    h = hold_durations(events, labels=labels, sfreq=sfreq)
    assert h["n_holds"] == 2 and h["n_ended"] == 1
    assert h["true_s"] == pytest.approx([3.0]) and h["measured_s"] == pytest.approx([3.2])
    assert h["error_s_median"] == pytest.approx(0.2)


def test_mode_is_validated():
    assert POSTPROCESS_MODES == ("utterance", "hold")
    with pytest.raises(ValidationError, match="mode"):
        PostProcessor([0, 1], mode="held")
    with pytest.raises(ValidationError, match="confirm_s"):
        PostProcessor([0, 1], mode="hold", confirm_s=-1)

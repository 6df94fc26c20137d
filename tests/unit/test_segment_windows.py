"""Whole-segment training windows (live models of sustained gestures): counts and positions."""

import numpy as np
import pytest

from myovox import Recording, ValidationError
from myovox.dataset import Dataset
from myovox.windows import LIVE_OFFSETS_S, SEGMENT_RECIPES, event_windows, make_windows, segment_windows

SFREQ = 10.0  # one sample = 0.1 s: windows of 1 s are 10 samples, a 0.2 s step is 2 samples


def _tiny():
    labels = np.zeros(100, int)
    labels[20:60] = 1  # a 4 s hold
    labels[80:85] = 2  # a 0.5 s gesture, shorter than the window
    data = np.arange(2 * 100, dtype=float).reshape(2, 100)
    return Recording(data, SFREQ, labels=labels, label_names={0: "rest", 1: "fist", 2: "pinch"})


def test_windows_cover_each_segment_with_a_stride():
    rec = _tiny()
    w = segment_windows(rec, 1.0, step_s=0.2, lead_s=0.2)
    starts = w.meta["start"].tolist()
    expected = (
        list(range(0, 11, 2))  # rest [0, 20): windows inside it
        + list(range(18, 51, 2))  # hold [20, 60): from 0.2 s before the onset to the last window inside
        + list(range(60, 71, 2))  # rest [60, 80)
        + [78]  # the short gesture: its first window only (extends past it, as an event window)
        + [85, 87, 89]  # rest [85, 100)
    )
    assert starts == expected
    assert w.y.tolist() == [0] * 6 + [1] * 17 + [0] * 6 + [2] + [0] * 3
    assert (w.meta["stop"] - w.meta["start"] == 10).all()
    # every hold window but the lead one lies wholly inside the hold
    hold = w.meta["start"][w.y == 1]
    assert hold.min() == 18 and (hold[1:] >= 20).all() and (hold + 10 <= 60).all()
    np.testing.assert_array_equal(w.X[7], rec.data[:, 20:30])


def test_rest_can_be_left_out_and_edges_are_dropped():
    rec = _tiny()
    w = segment_windows(rec, 1.0, step_s=0.5, include_rest=False)
    assert w.meta["start"].tolist() == [20, 25, 30, 35, 40, 45, 50, 80]
    early = Recording(np.zeros((1, 30)), SFREQ, labels=np.r_[np.zeros(1, int), np.ones(29, int)])
    w2 = segment_windows(early, 1.0, step_s=1.0, lead_s=0.3, include_rest=False)
    assert w2.meta["start"].tolist() == [8, 18]  # -2 (0.3 s before the onset at 1) would start before it
    with pytest.raises(ValidationError, match="step_s"):
        segment_windows(rec, 1.0, step_s=0.0)


def test_make_windows_recipes():
    ds = Dataset([_tiny()], "tiny", window_s=1.0)
    assert SEGMENT_RECIPES == ("onset", "whole")
    onset = make_windows(ds, offsets_s=LIVE_OFFSETS_S)
    ref = event_windows(ds, 1.0, offsets_s=LIVE_OFFSETS_S)
    assert onset.meta["start"].tolist() == ref.meta["start"].tolist()
    whole = make_windows(ds, offsets_s=LIVE_OFFSETS_S, segment="whole", step_s=0.2)
    assert whole.meta["start"].tolist() == segment_windows(ds, 1.0, step_s=0.2, lead_s=0.2).meta["start"].tolist()
    # without a negative onset offset, an active segment's windows start at its onset
    assert make_windows(ds, segment="whole").meta["start"][make_windows(ds, segment="whole").y == 1][0] == 20
    with pytest.raises(ValidationError, match="segment"):
        make_windows(ds, segment="holds")
    trials = Dataset([_tiny()], "tiny", window_s=1.0, window_mode="trial")
    with pytest.raises(ValidationError, match="event windows only"):
        make_windows(trials, segment="whole")

"""Window cutting: event (SilentWear rule), trial, sliding, dispatch and rest down-sampling."""

from __future__ import annotations

import numpy as np
import pytest

from myovox import Recording, Windows
from myovox.dataset import Dataset
from myovox.exceptions import DataLossWarning, ValidationError
from myovox.windows import downsample_rest, event_windows, make_windows, sliding_windows, trial_windows

# label runs of SilentWear's fixture h5 (expected.json "label_int_runs_by_index"), index from 2752
FIXTURE_RUNS = [(2752, 0), (3252, 8), (4248, 0), (5000, 3), (5996, 0), (6740, 5), (7740, 0)]
FIXTURE_STOP = 8239


def _fixture_like(meta=None):
    labels = np.zeros(FIXTURE_STOP - 2752, dtype=int)
    for (a, lab), (b, _) in zip(FIXTURE_RUNS, FIXTURE_RUNS[1:] + [(FIXTURE_STOP, 0)], strict=False):
        labels[a - 2752 : b - 2752] = lab
    data = np.arange(2 * labels.size, dtype=float).reshape(2, -1)
    return Recording(
        data,
        500.0,
        labels=labels,
        meta=meta or {"subject": "S01", "session": 1, "batch": 1, "condition": "vocalized", "source": "x.h5"},
    )


def test_event_windows_reference_rule():
    rec = _fixture_like()
    w = event_windows(rec, 1.4)
    starts = [a - 2752 for a, _ in FIXTURE_RUNS]
    # the last rest run starts 499 samples before the end: its 700-sample window is dropped
    assert w.meta["start"].tolist() == starts[:-1]
    assert w.y.tolist() == [0, 8, 0, 3, 0, 5]
    assert w.X.shape == (6, 2, 700)
    np.testing.assert_array_equal(w.X[1], rec.data[:, 500:1200])
    assert (w.meta["stop"] - w.meta["start"] == 700).all()
    assert w.meta["subject"].tolist() == ["S01"] * 6 and w.meta["session"].dtype.kind == "i"
    assert (w.groups == 0).all() and (w.meta["recording"] == 0).all()
    w2 = event_windows(rec, 1.4, include_rest=False)
    assert w2.y.tolist() == [8, 3, 5]


def test_event_windows_window_may_end_at_last_sample():
    labels = np.array([0] * 10 + [1] * 10)
    rec = Recording(np.zeros((1, 20)), 10.0, labels=labels)
    w = event_windows(rec, 1.0)  # 10 samples; the run starting at 10 ends exactly at the end: kept
    assert w.meta["start"].tolist() == [0, 10]
    assert event_windows(rec, 1.1).meta["start"].tolist() == [0]  # 11 samples: second one dropped


def test_event_windows_list_and_dataset_groups_and_meta():
    r1 = _fixture_like({"subject": "S01", "session": 1, "batch": 1})
    r2 = _fixture_like({"subject": "S02", "session": 2, "day": 3})
    w = event_windows([r1, r2], 0.4)
    assert set(w.groups.tolist()) == {0, 1}
    assert w.meta["recording"].tolist() == w.groups.tolist()
    # day only in r2: object column with None for r1
    assert w.meta["day"].dtype == object and w.meta["day"][0] is None and w.meta["day"][-1] == 3
    ds = Dataset([r1, r2], "test")
    w_ds = event_windows(ds, 0.4)
    np.testing.assert_array_equal(w_ds.X, w.X)
    assert len(w.select(subject="S02")) == len(w) // 2


def test_event_windows_errors():
    r = Recording(np.zeros((2, 100)), 500.0)
    with pytest.raises(ValidationError, match="no labels"):
        event_windows(r, 0.1)
    with pytest.raises(ValidationError, match="window_s"):
        event_windows(_fixture_like(), -1)
    other = Recording(np.zeros((3, 100)), 500.0, labels=np.zeros(100, int))
    with pytest.raises(ValidationError, match="differ"):
        event_windows([_fixture_like(), other], 0.1)


def test_trial_windows_labels_and_drop_warning():
    recs = [
        Recording(
            np.ones((2, 600)) * i, 500.0, labels=np.r_[np.zeros(100, int), np.full(500, i + 1)], meta={"trial": i}
        )
        for i in range(3)
    ]
    recs.append(Recording(np.ones((2, 300)), 500.0, labels=np.full(300, 2), meta={"trial": 9}))
    recs.append(Recording(np.ones((2, 600)), 500.0, meta={"label": 7, "trial": 10}))
    with pytest.warns(DataLossWarning, match="1 of 5 trials"):
        w = trial_windows(recs, 1.0)
    assert w.y.tolist() == [1, 2, 3, 7]
    assert w.meta["trial"].tolist() == [0, 1, 2, 10] and (w.meta["start"] == 0).all()
    np.testing.assert_array_equal(w.X[2], recs[2].data[:, :500])


def test_sliding_windows_labels():
    labels = np.array([0] * 5 + [1] * 3 + [2] * 4)
    rec = Recording(np.arange(24.0).reshape(2, 12), 1.0, labels=labels)
    w = sliding_windows(rec, 4.0, 2.0)
    assert w.meta["start"].tolist() == [0, 2, 4, 6, 8]
    np.testing.assert_array_equal(w.X[1], rec.data[:, 2:6])
    assert np.shares_memory(w.X, rec.data)  # one recording: a view, no copy
    assert w.y.tolist() == [0, 1, 1, 2, 2]  # label of the last sample
    assert sliding_windows(rec, 4.0, 2.0, label="center").y.tolist() == [0, 0, 1, 2, 2]
    # windows [0:4]=0000, [2:6]=0001, [4:8]=0111,, [6:10]=1122 (tie -> smaller), [8:12]=2222
    assert sliding_windows(rec, 4.0, 2.0, label="majority").y.tolist() == [0, 0, 1, 1, 2]
    nolab = sliding_windows(Recording(np.zeros((1, 10)), 1.0), 5.0, 5.0)
    assert nolab.y.tolist() == [-1, -1]
    with pytest.raises(ValidationError, match="majority"):
        sliding_windows(rec, 4.0, 2.0, label="majorty")


def test_make_windows_dispatch():
    ds = Dataset([_fixture_like()], "sw", window_s=1.4, window_mode="event")
    assert len(make_windows(ds)) == 6 and make_windows(ds, 0.4).n_samples == 200
    trials = Dataset(
        [Recording(np.zeros((2, 300)), 100.0, labels=np.full(300, 4))], "t", window_s=2.0, window_mode="trial"
    )
    w = make_windows(trials)
    assert w.y.tolist() == [4] and w.n_samples == 200
    bad = Dataset([_fixture_like()], "x", window_mode="events")
    with pytest.raises(ValidationError, match="window_mode"):
        make_windows(bad)


def test_downsample_rest_to_mean_word_count():
    y = np.array([0] * 50 + [1] * 10 + [2] * 20 + [3] * 15)
    w = Windows(np.zeros((y.size, 1, 4)), y, 100.0, meta={"i": np.arange(y.size)})
    d = downsample_rest(w, random_state=0)
    assert (d.y == 0).sum() == 15 and (d.y != 0).sum() == 45
    assert np.all(np.diff(d.meta["i"]) > 0)  # order kept
    d2 = downsample_rest(w, random_state=0)
    np.testing.assert_array_equal(d.meta["i"], d2.meta["i"])
    assert not np.array_equal(downsample_rest(w, random_state=1).meta["i"], d.meta["i"])
    # few rest windows: unchanged
    w3 = w.subset(np.flatnonzero((y != 0) | (np.arange(y.size) < 3)))
    assert len(downsample_rest(w3)) == len(w3)


def test_event_windows_offsets_augment_and_respect_bounds():
    import numpy as np

    from myovox import Recording
    from myovox.windows import event_windows

    labels = np.zeros(1000, int)
    labels[100:300] = 1
    labels[600:800] = 2
    rec = Recording(np.arange(2000.0).reshape(2, 1000), 100.0, labels=labels)
    w = event_windows(rec, 1.0, offsets_s=(-0.5, 0.0, 0.5))
    # the first rest run loses its -0.5 s window (it would start before the recording)
    assert sorted(w.meta["start"].tolist()) == [0, 50, 50, 100, 150, 250, 300, 350, 550, 600, 650, 750, 800, 850]
    assert sorted(w.y[w.meta["start"] == 50].tolist()) == [0, 1]  # rest from 0 + 0.5 s, word from 100 - 0.5 s
    assert dict(zip(w.meta["start"].tolist(), w.y.tolist(), strict=False))[150] == 1
    np.testing.assert_array_equal(w.X[w.meta["start"] == 650][0, 0], np.arange(650.0, 750.0))


def test_downsample_rest_is_the_index_function():
    # one implementation: the Windows form draws exactly what the index form draws
    from myovox.windows import downsample_rest_indices

    y = np.array([0] * 50 + [1] * 10 + [2] * 20 + [3] * 15)
    w = Windows(np.zeros((y.size, 1, 4)), y, 100.0, meta={"i": np.arange(y.size)})
    for seed in (0, 1, 7):
        idx = downsample_rest_indices(y, np.arange(y.size), 0, seed)
        np.testing.assert_array_equal(downsample_rest(w, random_state=seed).meta["i"], idx)
    assert len(downsample_rest(w, rest_label=None)) == len(w)


def test_dataset_windows_is_the_preprocess_then_window_chain():
    from myovox.preprocessing.pipeline import dataset_windows, preprocess_dataset

    ds = Dataset([_fixture_like()], "x", window_s=1.0, window_mode="event", info={"filter": None})
    w = dataset_windows(ds)
    ref = make_windows(preprocess_dataset(ds))
    np.testing.assert_array_equal(w.X, ref.X)
    assert w.window_s == 1.0
    w2, pre = dataset_windows(ds, window_s=0.5, offsets_s=(0.0, 0.2), return_dataset=True)
    assert "preprocessing" in pre.info and w2.n_samples == 250 and len(w2) > len(w)
    raw = dataset_windows(ds, preprocess=False)
    np.testing.assert_array_equal(raw.X, make_windows(ds).X)

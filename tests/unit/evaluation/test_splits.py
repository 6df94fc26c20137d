import numpy as np
import pytest

from myovox.evaluation.splits import (
    LeakageError,
    check_no_leakage,
    downsample_rest_indices,
    leave_one_batch_out,
    leave_one_group_out,
    leave_one_session_out,
    progressive_batches,
    stratified_kfold,
    train_test_by_meta,
)
from myovox.exceptions import ValidationError
from myovox.windows import Windows


def _check_partition(w, folds, rest_label=0):
    for f in folds:
        assert len(np.intersect1d(f.train, f.test)) == 0
        check_no_leakage(w.subset(f.train), w.subset(f.test), fold=f.name)


def test_leave_one_batch_out_tests_batch_b_of_every_session(windows):
    folds = leave_one_batch_out(windows, random_state=0)
    assert [f.name for f in folds] == ["batch=1", "batch=2", "batch=3"]
    for b, f in enumerate(folds, start=1):
        assert set(windows.meta["batch"][f.test]) == {b}
        assert set(windows.meta["session"][f.test]) == {1, 2}
        assert b not in set(windows.meta["batch"][f.train])
        # test keeps every window of batch b (rest included)
        assert len(f.test) == int(np.sum(windows.meta["batch"] == b))
    _check_partition(windows, folds)


def test_rest_downsampled_in_train_only(windows):
    f = leave_one_session_out(windows, random_state=0)[0]
    ytr, yte = windows.y[f.train], windows.y[f.test]
    counts = np.bincount(ytr)
    assert counts[0] == pytest.approx(np.mean(counts[1:]), abs=1)  # rest cut to the per-word count
    assert np.sum(yte == 0) == 2 * np.sum(yte == 1)  # test keeps the 2x rest of the fixture
    f2 = leave_one_session_out(windows, balance_rest=False)[0]
    assert np.sum(windows.y[f2.train] == 0) == 2 * np.sum(windows.y[f2.train] == 1)


def test_downsample_rest_indices_keeps_order_and_words():
    y = np.array([0, 0, 0, 0, 1, 2, 0, 0])
    idx = downsample_rest_indices(y, np.arange(8), 0, 0)
    assert list(idx) == sorted(idx) and {4, 5} <= set(idx)
    assert np.sum(y[idx] == 0) == 1
    assert list(downsample_rest_indices(y, np.arange(8), None)) == list(range(8))


def test_leave_one_group_out_needs_two_values(windows):
    one = windows.select(session=1)
    with pytest.raises(ValidationError, match="at least 2 distinct values of 'session'"):
        leave_one_session_out(one)
    with pytest.raises(ValidationError, match="Did you mean 'session'"):
        leave_one_group_out(windows, "sesion")


def test_stratified_kfold_seeded_and_stratified(windows):
    a = stratified_kfold(windows, 4, random_state=1, balance_rest=False)
    b = stratified_kfold(windows, 4, random_state=1, balance_rest=False)
    c = stratified_kfold(windows, 4, random_state=2, balance_rest=False)
    assert all(np.array_equal(x.test, y.test) for x, y in zip(a, b, strict=False))
    assert any(not np.array_equal(x.test, y.test) for x, y in zip(a, c, strict=False))
    all_test = np.sort(np.concatenate([f.test for f in a]))
    np.testing.assert_array_equal(all_test, np.arange(len(windows)))
    for f in a:
        assert set(np.unique(windows.y[f.test])) == {0, 1, 2}
    with pytest.raises(ValidationError, match="Too few windows"):
        stratified_kfold(windows.subset(np.arange(3)), 5)


def test_stratified_kfold_group_by_keeps_groups_together(windows):
    folds = stratified_kfold(windows, 3, random_state=0, group_by="recording", balance_rest=False)
    for f in folds:
        assert not set(windows.meta["recording"][f.train]) & set(windows.meta["recording"][f.test])


def test_progressive_batches(windows):
    w = windows.select(subject="S01", session=1)
    folds = progressive_batches(w, balance_rest=False)
    assert [f.name for f in folds] == ["batch=2", "batch=3"]
    assert set(w.meta["batch"][folds[0].train]) == {1}
    assert set(w.meta["batch"][folds[1].train]) == {1, 2}
    assert set(w.meta["batch"][folds[1].test]) == {3}


def test_train_test_by_meta_string_values_match(windows):
    (f,) = train_test_by_meta(windows, {"session": "1"}, {"session": 2})
    assert set(windows.meta["session"][f.train]) == {1} and set(windows.meta["session"][f.test]) == {2}
    with pytest.raises(ValidationError, match="No window has session=7"):
        train_test_by_meta(windows, {"session": 7}, {"session": 2})
    with pytest.raises(ValidationError, match="empty"):
        train_test_by_meta(windows, {}, {"session": 2})


def test_check_no_leakage_detects_overlap(make_windows_):
    base = make_windows_(n_subjects=1, n_sessions=1, n_batches=1)
    # a window overlapping the first one of recording 0
    first = base.subset(np.array([0]))
    shifted = Windows(
        first.X,
        first.y,
        first.sfreq,
        meta={**first.meta, "start": first.meta["start"] + 5, "stop": first.meta["stop"] + 5},
    )
    with pytest.raises(LeakageError, match="overlaps"):
        check_no_leakage(first, shifted, fold="f1")
    # adjacent (touching) windows do not overlap
    touching = Windows(
        first.X, first.y, first.sfreq, meta={**first.meta, "start": first.meta["stop"], "stop": first.meta["stop"] + 20}
    )
    check_no_leakage(first, touching)
    # other recording: fine
    other = Windows(first.X, first.y, first.sfreq, meta={**first.meta, "recording": first.meta["recording"] + 99})
    check_no_leakage(first, other)


def test_check_no_leakage_detects_shared_trial(make_windows_):
    w = make_windows_(n_subjects=1, n_sessions=1, n_batches=1)
    w.meta["trial"] = np.arange(len(w)) // 2
    w.meta.pop("start")
    with pytest.raises(LeakageError, match="trial"):
        check_no_leakage(w.subset(np.array([0])), w.subset(np.array([1])))
    check_no_leakage(w.subset(np.array([0])), w.subset(np.array([2])))


def test_stratified_kfold_with_too_few_trials_is_a_one_line_error():
    from myovox.evaluation.splits import stratified_kfold

    w = Windows(np.zeros((6, 1, 10)), np.array([0, 0, 0, 1, 1, 1]), 100.0, meta={"trial": np.array([1, 1, 2, 2, 3, 3])})
    with pytest.warns(UserWarning, match="fewer windows than 5 folds"), pytest.raises(ValidationError, match="--folds"):
        stratified_kfold(w, 5, group_by="trial")

import json
import math

import numpy as np
import pytest

from myovox.evaluation import Result, run_protocol
from myovox.evaluation.protocols import ModelSpec, fine_tune, global_protocol, inter_session, kfold
from myovox.exceptions import ValidationError


def test_global_protocol_per_subject_folds(windows, lda):
    res = global_protocol(windows, model=lda, random_state=0)
    assert isinstance(res, Result) and res.protocol == "global"
    assert len(res.folds) == 2 * 3  # 2 subjects x 3 batches
    assert set(res.per_subject) == {"S01", "S02"}
    assert res.mean > 0.8  # the fixture's classes are easy
    for row in res.folds:
        assert {
            "fold",
            "subject",
            "n_train",
            "n_test",
            "balanced_accuracy",
            "accuracy",
            "macro_f1",
            "itr_bits_per_min",
            "window_s",
            "confusion",
        } <= set(row)
        assert np.asarray(row["confusion"]).shape == (3, 3)
        assert np.asarray(row["confusion"]).sum() == row["n_test"]
    s01 = [r["balanced_accuracy"] for r in res.folds if r["subject"] == "S01"]
    assert res.per_subject["S01"] == pytest.approx(np.mean(s01))
    assert res.mean == pytest.approx(np.mean(list(res.per_subject.values())))
    assert res.std == pytest.approx(np.std(list(res.per_subject.values())))


def test_same_seed_same_result(windows, lda):
    a = run_protocol("kfold", windows, model=lda, random_state=3, n_splits=3)
    b = run_protocol("kfold", windows, model=lda, random_state=3, n_splits=3)
    assert [r["balanced_accuracy"] for r in a.folds] == [r["balanced_accuracy"] for r in b.folds]


def test_conditions_run_separately(make_windows_, lda):
    w = make_windows_(conditions=("vocalized", "silent"), n_subjects=2)
    res = inter_session(w, model=lda)
    assert set(res.per_subject) == {"S01/silent", "S01/vocalized", "S02/silent", "S02/vocalized"}
    assert set(res.per_condition) == {"silent", "vocalized"}
    assert res.per_condition["silent"]["n_subjects"] == 2
    only = inter_session(w, model=lda, condition="silent")
    assert set(only.per_subject) == {"S01", "S02"} and not only.per_condition


def test_inter_session_needs_two_sessions(make_windows_, lda):
    w = make_windows_(n_sessions=1)
    with pytest.raises(ValidationError, match="at least 2 sessions per subject"):
        inter_session(w, model=lda)


def test_window_sweep_requires_dataset(windows, lda):
    with pytest.raises(ValidationError, match="pass a Dataset"):
        inter_session(windows, model=lda, window_sweep=[0.4, 0.6])
    with pytest.raises(ValidationError, match="window_sweep"):  # one length per window_s now
        inter_session(windows, model=lda, window_s=[0.4, 0.6])


def test_missing_class_in_training_fold_warns(make_windows_, lda):
    w = make_windows_()
    drop = (w.meta["session"] == 1) & (w.y == 2)
    w = w.subset(~drop)
    with pytest.warns(UserWarning, match=r"Fold 'session=2' of S01: class\(es\) 'w2' missing"):
        inter_session(w, model=lda)


def test_too_few_windows(make_windows_, lda):
    w = make_windows_(n_subjects=1, n_sessions=1, n_batches=1, n_per_class=1, rest_extra=1)
    with pytest.raises(ValidationError, match="Too few windows"):
        kfold(w, model=lda, n_splits=5)


def test_leave_one_out_by_subject_is_cross_subject(windows, lda):
    res = run_protocol("leave_one_out", windows, model=lda, by="subject")
    assert res.protocol == "leave_one_subject_out"
    assert [r["fold"] for r in res.folds] == ["subject=S01", "subject=S02"]
    assert set(res.per_subject) == {"S01", "S02"}


def test_transfer_between_sessions(windows, lda):
    res = run_protocol("transfer", windows, model=lda, train={"session": 1}, test={"session": "2"})
    assert len(res.folds) == 2 and all(r["fold"] == "session=1 -> session=2" for r in res.folds)
    assert res.params["train"] == {"session": 1}


def test_train_from_scratch_progressive(windows, lda):
    res = run_protocol("train_from_scratch", windows, model=lda)
    # per subject, per session: folds for batches 2 and 3
    assert len(res.folds) == 2 * 2 * 2
    assert {r["fold"] for r in res.folds} == {
        "session=1,batch=2",
        "session=1,batch=3",
        "session=2,batch=2",
        "session=2,batch=3",
    }
    assert res.params["valid_size"] == 0.3


def test_run_protocol_did_you_mean_and_unknown_option(windows, lda):
    with pytest.raises(ValidationError, match="Did you mean 'inter_session'"):
        run_protocol("inter_sesion", windows, model=lda)
    with pytest.raises(ValidationError, match=r"Unknown option 'n_split'.*Did you mean 'n_splits'"):
        run_protocol("kfold", windows, model=lda, n_split=3)
    # aliases
    assert run_protocol("inter-session", windows, model=lda).protocol == "inter_session"


def test_model_spec_overrides_where_accepted(windows, centroids):
    spec = ModelSpec(centroids)
    est = spec.build(windows, 5, {"valid_size": 0.3, "nonexistent": 1})
    assert est.valid_size == 0.3 and est.random_state == 5
    with pytest.raises(ValidationError, match="model_params apply to a model name"):
        ModelSpec(centroids, {"a": 1})
    with pytest.raises(ValidationError, match="Invalid value for 'model'"):
        ModelSpec(3)


def test_fine_tune_protocol_curves_recover(make_windows_, centroids):
    w = make_windows_(n_subjects=1, n_sessions=2, n_batches=3, session_shift=3.0, n_per_class=6)
    res = fine_tune(w, model=centroids, ft_epochs=3, strategy="head")
    # one curve point per batch of each held-out session
    assert len(res.curves) == 2 * 3
    first = [c for c in res.curves if c["batch_index"] == 1]
    assert all(c["ft"] == c["no_ft"] and math.isnan(c["scratch"]) and c["minutes"] == 0 for c in first)
    later = [c for c in res.curves if c["batch_index"] >= 2]
    assert all(c["minutes"] > 0 for c in later)
    # the session shift hurts the base model; fine-tuning recovers
    assert np.mean([c["ft"] for c in later]) > np.mean([c["no_ft"] for c in later]) + 0.1
    assert all(not math.isnan(c["scratch"]) for c in later)
    assert res.mean == pytest.approx(np.mean([c["ft"] for c in later]))
    assert not any("retrain" in n for n in res.notes)


def test_fine_tune_protocol_retrains_classical_models(make_windows_, lda):
    w = make_windows_(n_subjects=1, n_sessions=2, n_batches=2)
    res = fine_tune(w, model=lda, scratch=False)
    assert any("retrains it on the old sessions" in n for n in res.notes)
    assert all(math.isnan(c["scratch"]) for c in res.curves)


def test_result_save_writes_files(make_windows_, centroids, tmp_path):
    w = make_windows_(n_subjects=2, n_sessions=2, n_batches=2, session_shift=2.0)
    res = fine_tune(w, model=centroids, ft_epochs=1)
    paths = res.save(tmp_path / "out")
    for name in ("results.json", "folds.csv", "curves.csv", "report.md", "confusion.png", "finetune_curves.png"):
        assert (tmp_path / "out" / name).is_file(), name
    d = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {"protocol", "model", "metric", "mean", "std", "folds", "per_subject", "curves"} <= set(d)
    assert d["metric"] == "balanced_accuracy" and len(d["curves"]) == len(res.curves)
    lines = (tmp_path / "out" / "folds.csv").read_text().splitlines()
    assert lines[0].startswith("fold,subject,condition") and len(lines) == 1 + len(res.folds)
    md = (tmp_path / "out" / "report.md").read_text()
    assert "Adapting to a new session" in md and "finetune_curves.png" in md
    back = Result.load(tmp_path / "out")
    assert back.mean == pytest.approx(res.mean) and back.label_names == res.label_names
    assert set(paths) >= {"results.json", "folds.csv", "report.md"}
    assert "fine_tune" in res.summary()


def test_n_jobs_gives_same_result(windows, lda):
    a = global_protocol(windows, model=lda, n_jobs=1)
    b = global_protocol(windows, model=lda, n_jobs=2)
    assert [r["balanced_accuracy"] for r in a.folds] == [r["balanced_accuracy"] for r in b.folds]


def test_dataset_input_window_sweep(dataset, lda):
    res = run_protocol("inter_session", dataset, model=lda, window_sweep=[0.4, 0.8])
    assert [r["window_s"] for r in res.sweep] == [0.4, 0.8]
    assert len(res.folds) == 2 * 2 * 2  # windows x subjects x sessions
    assert res.mean == pytest.approx(res.sweep[0]["mean"])
    for row in res.sweep:
        assert row["itr_mean"] >= 0 and set(row["per_subject"]) == {"S01", "S02"}
    assert res.dataset["dataset"] == "tiny"
    # test sets keep all rest windows: 6 words + 7 rests per recording, 2 batches per test session
    assert all(r["n_test"] == 2 * 13 for r in res.folds)


def test_dataset_input_global_and_subject_selection(dataset, lda, tmp_path):
    res = run_protocol("global", dataset, model=lda, subjects=["S02"])
    assert set(res.per_subject) == {"S02"} and len(res.folds) == 2
    assert res.mean > 0.7
    with pytest.raises(ValidationError, match="No recordings"):
        run_protocol("global", dataset, model=lda, subjects=["S09"])
    with pytest.warns(DeprecationWarning, match="window_sweep"):  # the 0.x spelling still runs
        res2 = run_protocol("inter_session", dataset, model=lda, window_s=[0.4, 0.8])
    res2.save(tmp_path)
    assert (tmp_path / "window_sweep.png").is_file()
    assert "Window length" in (tmp_path / "report.md").read_text()


def test_speechnet_fine_tune_protocol_end_to_end(make_windows_):
    w = make_windows_(n_subjects=1, n_sessions=2, n_batches=2, n_times=130, session_shift=1.0)
    res = fine_tune(w, model="speechnet", model_params={"n_epochs": 2}, ft_epochs=1, strategy="all")
    assert res.model == "speechnet" and len(res.curves) == 4
    assert not any("retrain" in n for n in res.notes)
    assert all(0 <= c["ft"] <= 1 and 0 <= c["no_ft"] <= 1 for c in res.curves)


def test_fold_spread_reported(windows, lda):
    res = run_protocol("kfold", windows, model=lda, n_splits=3, subjects=["S01"])
    vals = [r["balanced_accuracy"] for r in res.folds]
    assert res.std == 0.0  # one subject
    assert res.fold_mean == pytest.approx(np.mean(vals)) and res.fold_std == pytest.approx(np.std(vals))
    assert "fold spread" in res.summary()


def test_fold_checks_use_views_without_copying_signals(windows):
    # folds are cut where they are fitted; the checks before see labels and metadata only
    from myovox.evaluation.engine import _meta_subset

    mask = np.arange(len(windows)) % 3 == 0
    view, full = _meta_subset(windows, mask), windows.subset(mask)
    assert view.X.shape == full.X.shape and view.X.strides == (0, 0, 0) and not view.X.flags.writeable
    np.testing.assert_array_equal(view.y, full.y)
    assert view.meta.keys() == full.meta.keys()
    for key in full.meta:
        np.testing.assert_array_equal(view.meta[key], full.meta[key])
    idx = np.flatnonzero(mask)[::-1]
    np.testing.assert_array_equal(_meta_subset(windows, idx).y, windows.subset(idx).y)


def test_short_reprs(windows, lda):
    res = run_protocol("kfold", windows, model=lda, n_splits=3)
    text = repr(res)
    assert text.startswith("<Result | kfold, ") and "folds" in text and "±" in text
    assert "confusion" not in text and len(text) < 200
    assert repr(windows).endswith("3 classes>") and len(repr(windows)) < 120


def test_protocol_names_defined_once():
    from myovox.cli import evaluate as cli_evaluate
    from myovox.evaluation import PROTOCOL_NAMES, PROTOCOLS

    assert tuple(PROTOCOLS) == PROTOCOL_NAMES
    assert cli_evaluate.PROTOCOL_NAMES is PROTOCOL_NAMES


def test_window_s_checked_where_called(windows, lda):
    with pytest.raises(ValidationError, match="window_s"):
        global_protocol(windows, model=lda, window_s=-1)
    with pytest.raises(ValidationError, match="only run by 'inter_session'"):
        run_protocol("global", windows, model=lda, window_s=[0.4, 0.6])
    with pytest.raises(ValidationError, match="only run by 'inter_session'"):
        run_protocol("kfold", windows, model=lda, window_sweep=[0.4, 0.6])
    with pytest.raises(ValidationError, match="not both"):
        inter_session(windows, model=lda, window_s=0.5, window_sweep=[0.4])


def test_verbose_sets_the_level_for_one_call(windows, lda, caplog):
    import logging

    from myovox._logging import logger

    before = logger.level
    with caplog.at_level(logging.DEBUG, logger="myovox"):
        caplog.clear()
        global_protocol(windows, model=lda, verbose="warning")
        assert not [r for r in caplog.records if r.levelno == logging.INFO]
        global_protocol(windows, model=lda, verbose=True)
        assert any("folds with" in r.getMessage() for r in caplog.records)
    assert logger.level == before


def test_protocol_docstrings_complete():
    import inspect
    import re

    from myovox.evaluation import PROTOCOLS, run_protocol

    for name, fn in {**PROTOCOLS, "run_protocol": run_protocol}.items():
        doc = fn.__doc__
        assert "%(" not in doc and "Returns\n    -------" in doc, name
        for param in inspect.signature(fn).parameters:
            param = "\\*\\*options" if param == "options" else param
            assert re.search(rf"\n    (?:\w+, )*{param}(?:, \w+)* :|\n    {param}\n", doc), (name, param)

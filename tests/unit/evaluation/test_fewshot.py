"""The few-shot protocol (issue 12): k labelled windows per class of a new session, tested on the rest."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from myovox.evaluation import fewshot, run_protocol
from myovox.exceptions import ValidationError


def test_fewshot_curve_recovers_a_session_shift(make_windows_, centroids, tmp_path):
    w = make_windows_(n_subjects=2, n_sessions=2, n_batches=3, session_shift=3.0, n_per_class=6)
    res = fewshot(w, model=centroids, k=[1, 2, 5], repeats=2)
    assert [c["k"] for c in res.curves] == [1, 2, 5]
    assert set(res.curves[0]) >= {"k", "adapted", "no_adaptation", "scratch", "n"}
    # 2 subjects x 2 held-out sessions x 2 repeats per k
    assert all(c["n"] == 8 for c in res.curves) and len(res.folds) == 24
    # every k is tested on the same windows: the base model's score does not depend on k
    by_run = {}
    for r in res.folds:
        by_run.setdefault((r["subject"], r["session"], r["repeat"]), set()).add(
            (r["no_adaptation_balanced_accuracy"], r["n_test"])
        )
    assert all(len(v) == 1 for v in by_run.values())
    assert all(r["n_adapt"] == 3 * r["k"] for r in res.folds)  # 3 classes x k
    # the shift hurts the base model; one window per class already recovers most of it
    assert res.curves[0]["adapted"] > res.curves[0]["no_adaptation"] + 0.2
    assert res.mean == pytest.approx(np.mean([r["balanced_accuracy"] for r in res.folds if r["k"] == 1]))
    paths = res.save(tmp_path / "out")
    d = json.loads(paths["results.json"].read_text())
    assert [set(c) >= {"k", "adapted", "no_adaptation"} for c in d["curves"]] == [True] * 3
    md = (tmp_path / "out" / "report.md").read_text()
    assert "Few-shot adaptation" in md and (tmp_path / "out" / "fewshot_curve.png").is_file()
    assert "k=1 per class" in res.summary()


def test_fewshot_retrains_classical_models_and_handles_k1(make_windows_, lda):
    w = make_windows_(n_subjects=1, n_sessions=2, n_batches=2, session_shift=3.0, n_per_class=4)
    res = run_protocol("few-shot", w, model=lda, k=1, test_sessions=[2])
    assert [c["k"] for c in res.curves] == [1] and all(r["retrained"] for r in res.folds)
    assert any("retrains it on old + the k new windows" in n for n in res.notes)
    assert all(r["session"] == 2 for r in res.folds)


def test_fewshot_speechnet_k1_with_defaults():
    pytest.importorskip("torch")
    from myovox.windows import Windows

    rng = np.random.default_rng(0)
    n, c, t = 60, 8, 128
    y = np.tile(np.arange(3), n // 3)
    X = rng.normal(size=(n, c, t)).astype(np.float32)
    sess = np.repeat([1, 2], n // 2)
    for k in range(3):
        X[y == k, k] *= 3.0
    w = Windows(X, y, 100.0, meta={"session": sess, "subject": np.full(n, "S01")})
    res = fewshot(
        w, model="speechnet", k=1, ft_epochs=2, model_params={"n_epochs": 2, "n_threads": 1}, test_sessions=[2]
    )
    assert res.curves[0]["k"] == 1 and not math.isnan(res.curves[0]["adapted"])


def test_fewshot_bad_arguments(make_windows_, lda):
    w = make_windows_(n_subjects=1, n_sessions=2, n_batches=1, n_per_class=2)
    with pytest.raises(ValidationError, match="'k'"):
        fewshot(w, model=lda, k=[0])
    with pytest.raises(ValidationError, match="no window left to test"):
        fewshot(w, model=lda, k=[10])
    with pytest.raises(ValidationError, match="none of the test_sessions"):
        fewshot(w, model=lda, k=1, test_sessions=[9])
    with pytest.raises(ValidationError, match="strategy"):
        fewshot(w, model=lda, strategy="layers")
    with pytest.raises(ValidationError, match="at least 2"):
        fewshot(w.select(session=1), model=lda)


def test_cli_fewshot_options(tmp_path, capsys):
    from myovox.cli.main import main

    assert main(["evaluate", str(tmp_path), "--protocol", "kfold", "--model", "rf", "--k", "1"]) == 2
    assert "--k/--repeats/--train-sessions apply to protocol 'fewshot' only" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path), "--protocol", "fewshot", "--model", "rf", "--k", "0"]) == 2


def test_cli_fewshot_end_to_end(tmp_path, capsys):
    from myovox.cli.main import main

    data, out = tmp_path / "data", tmp_path / "res"
    synth = ["synth", str(data), "--subjects", "1", "--sessions", "2", "--batches", "1", "--repetitions", "3"]
    assert main([*synth, "--conditions", "vocalized", "--no-raw"]) == 0
    args = ["evaluate", str(data), "--protocol", "fewshot", "--model", "lda", "--k", "1", "2", "--out", str(out)]
    assert main([*args, "--test-sessions", "2", "--no-report"]) == 0
    d = json.loads((out / "results.json").read_text())
    assert d["protocol"] == "fewshot" and [c["k"] for c in d["curves"]] == [1, 2]
    assert all({"k", "adapted", "no_adaptation"} <= set(c) for c in d["curves"])
    assert "k=2 per class" in capsys.readouterr().out


def test_fewshot_train_sessions_limits_the_base_model(make_windows_, lda):
    w = make_windows_(n_subjects=1, n_sessions=3, n_batches=1, n_per_class=4)
    every = fewshot(w, model=lda, k=1, test_sessions=[3])
    first = fewshot(w, model=lda, k=1, test_sessions=[3], train_sessions=[1])
    assert first.params["train_sessions"] == ["1"]
    assert first.folds[0]["n_train"] < every.folds[0]["n_train"]
    with pytest.raises(ValidationError, match="train_sessions"):
        fewshot(w, model=lda, k=1, train_sessions=[7])

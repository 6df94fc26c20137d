"""In-process tests of `myovox evaluate`, `train` and `finetune` on a tiny longterm-format folder."""
from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from myovox.cli.main import main


def _write_longterm(root, n_subjects=2, n_days=2, n_motions=3, n_trials=4, seed=0):
    rng = np.random.default_rng(seed)
    for s in range(1, n_subjects + 1):
        for d in range(1, n_days + 1):
            folder = root / "data" / f"sub{s}" / f"day{d}"
            folder.mkdir(parents=True)
            for m in range(1, n_motions + 1):
                for t in range(1, n_trials + 1):
                    x = 0.05 * rng.normal(size=(300, 8))
                    x[:, m - 1] += 0.3 * np.sin(np.linspace(0, 60 * np.pi, 300))  # motion m drives channel m
                    np.savetxt(folder / f"D{d}M{m}T{t}.csv", x, delimiter=",", fmt="%.5f")
    return root


@pytest.fixture
def tiny(tmp_path):
    return _write_longterm(tmp_path / "longterm")


@pytest.fixture
def models_available(monkeypatch):
    """Use the real model registry; a stand-in (LDA on flattened windows) until it exists."""
    try:
        import myovox.models.registry  # noqa: F401
        return "real"
    except ImportError:
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer

        def make_model(name, *, sfreq, n_channels, n_times, random_state=None, **params):
            from myovox.exceptions import ValidationError

            if name not in ("lda", "rf", "svm", "speechnet"):
                raise ValidationError(f"Unknown model {name!r}.")
            return make_pipeline(FunctionTransformer(lambda X: X.reshape(len(X), -1)), LinearDiscriminantAnalysis())

        fake = types.ModuleType("myovox.models.registry")
        fake.make_model = make_model
        fake.MODELS = {"speechnet": None, "rf": None, "lda": None, "svm": None}
        monkeypatch.setitem(sys.modules, "myovox.models.registry", fake)
        return "stand-in"


def test_evaluate_inter_session_writes_results(tiny, tmp_path, capsys, models_available):
    out = tmp_path / "res"
    rc = main(["-q", "evaluate", str(tiny), "--protocol", "inter_session", "--model", "lda", "--out", str(out)])
    assert rc == 0
    d = json.loads((out / "results.json").read_text())
    assert d["protocol"] == "inter_session" and d["metric"] == "balanced_accuracy"
    assert set(d["per_subject"]) == {"sub1", "sub2"} and len(d["folds"]) == 4
    assert d["mean"] > 0.6  # the motions are easy to tell apart
    assert (out / "folds.csv").is_file() and (out / "report.md").is_file() and (out / "confusion.png").is_file()
    printed = capsys.readouterr().out
    assert "inter_session" in printed and str(out) in printed


def test_evaluate_transfer_and_leave_one_out(tiny, tmp_path, models_available):
    out = tmp_path / "t"
    assert main(["-q", "evaluate", str(tiny), "--protocol", "transfer", "--model", "lda", "--train", "day=1",
                 "--test", "day=2", "--out", str(out), "--no-report"]) == 0
    d = json.loads((out / "results.json").read_text())
    assert d["params"]["train"] == {"day": 1} and not (out / "report.md").exists()
    out2 = tmp_path / "l"
    assert main(["-q", "evaluate", str(tiny), "--protocol", "leave_one_out", "--by", "subject", "--model", "lda",
                 "--out", str(out2), "--no-report"]) == 0
    assert json.loads((out2 / "results.json").read_text())["protocol"] == "leave_one_subject_out"


@pytest.mark.parametrize("argv, message", [
    (["--protocol", "inter_sesion", "--model", "lda"], "Did you mean 'inter_session'"),
    (["--protocol", "transfer", "--model", "lda", "--train", "day1", "--test", "day=2"], "expected KEY=VALUE"),
    (["--protocol", "leave_one_out", "--model", "lda"], "needs --by KEY"),
    (["--protocol", "kfold", "--model", "lda", "--by", "day"], "--by applies"),
    (["--protocol", "global", "--model", "lda"], "needs a 'batch'"),
    (["--protocol", "kfold", "--model", "lda", "--epochs", "3"], "--epochs does not apply"),
])
def test_evaluate_user_errors_one_line_exit_2(tiny, tmp_path, capsys, argv, message, models_available):
    rc = main(["-q", "evaluate", str(tiny), *argv, "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_evaluate_unknown_model_did_you_mean(tiny, tmp_path, capsys, models_available):
    rc = main(["-q", "evaluate", str(tiny), "--protocol", "kfold", "--model", "ldaa", "--out", str(tmp_path / "x")])
    assert rc == 2 and "Did you mean 'lda'" in capsys.readouterr().err


def test_evaluate_missing_dataset(tmp_path, capsys):
    rc = main(["-q", "evaluate", str(tmp_path / "nope"), "--protocol", "kfold", "--model", "lda"])
    assert rc == 2 and "does not exist" in capsys.readouterr().err

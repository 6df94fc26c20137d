"""In-process tests of `myovox evaluate`, `train` and `finetune` on a tiny longterm-format folder."""

from __future__ import annotations

import json

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


def test_evaluate_inter_session_writes_results(tiny, tmp_path, capsys):
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


def test_evaluate_window_sweep(tiny, tmp_path):
    out = tmp_path / "sweep"
    assert (
        main(
            [
                "-q",
                "evaluate",
                str(tiny),
                "--protocol",
                "inter_session",
                "--model",
                "lda",
                "--window",
                "0.4",
                "0.8",
                "--out",
                str(out),
                "--no-report",
            ]
        )
        == 0
    )
    d = json.loads((out / "results.json").read_text())
    assert [r["window_s"] for r in d["sweep"]] == [0.4, 0.8] and d["params"]["window_s"] == [0.4, 0.8]
    assert len(d["folds"]) == 2 * 4


def test_evaluate_transfer_and_leave_one_out(tiny, tmp_path):
    out = tmp_path / "t"
    assert (
        main(
            [
                "-q",
                "evaluate",
                str(tiny),
                "--protocol",
                "transfer",
                "--model",
                "lda",
                "--train",
                "day=1",
                "--test",
                "day=2",
                "--out",
                str(out),
                "--no-report",
            ]
        )
        == 0
    )
    d = json.loads((out / "results.json").read_text())
    assert d["params"]["train"] == {"day": 1} and not (out / "report.md").exists()
    out2 = tmp_path / "l"
    assert (
        main(
            [
                "-q",
                "evaluate",
                str(tiny),
                "--protocol",
                "leave_one_out",
                "--by",
                "subject",
                "--model",
                "lda",
                "--out",
                str(out2),
                "--no-report",
            ]
        )
        == 0
    )
    assert json.loads((out2 / "results.json").read_text())["protocol"] == "leave_one_subject_out"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--protocol", "inter_sesion", "--model", "lda"], "Did you mean 'inter_session'"),
        (["--protocol", "transfer", "--model", "lda", "--train", "day1", "--test", "day=2"], "expected KEY=VALUE"),
        (["--protocol", "leave_one_out", "--model", "lda"], "needs --by KEY"),
        (["--protocol", "kfold", "--model", "lda", "--by", "day"], "--by applies"),
        (["--protocol", "global", "--model", "lda"], "needs a 'batch'"),
        (["--protocol", "kfold", "--model", "lda", "--epochs", "3"], "--epochs does not apply"),
        (["--protocol", "kfold", "--model", "lda", "--window", "0.4", "0.8"], "'inter_session' only"),
    ],
)
def test_evaluate_user_errors_one_line_exit_2(tiny, tmp_path, capsys, argv, message):
    rc = main(["-q", "evaluate", str(tiny), *argv, "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_evaluate_unknown_model_did_you_mean(tiny, tmp_path, capsys):
    rc = main(["-q", "evaluate", str(tiny), "--protocol", "kfold", "--model", "ldaa", "--out", str(tmp_path / "x")])
    assert rc == 2 and "Did you mean 'lda'" in capsys.readouterr().err


def test_evaluate_missing_dataset(tmp_path, capsys):
    rc = main(["-q", "evaluate", str(tmp_path / "nope"), "--protocol", "kfold", "--model", "lda"])
    assert rc == 2 and "does not exist" in capsys.readouterr().err


def test_train_then_finetune_speechnet(tmp_path, capsys):
    root = _write_longterm(tmp_path / "lt", n_subjects=1, n_days=2)
    model_dir = tmp_path / "model"
    rc = main(
        ["-q", "train", str(root), "--model", "speechnet", "--out", str(model_dir), "--sessions", "1", "--epochs", "1"]
    )
    assert rc == 0, capsys.readouterr().err
    card = json.loads((model_dir / "model.json").read_text())
    assert card["window_s"] == 1.5 and card["sfreq"] == 200.0 and len(card["ch_names"]) == 8
    assert card["filter"]["highpass"] == 20.0 and card["filter"]["sfreq"] == 200.0
    assert card["training"]["sessions"] == [1] and card["label_map"]["0"] == "M1 (rest)"
    assert "Saved the model" in capsys.readouterr().out
    # the folder exists now: a one-line error, then --force works
    assert main(["-q", "train", str(root), "--model", "lda", "--out", str(model_dir)]) == 2
    assert "--force" in capsys.readouterr().err
    out = tmp_path / "tuned"
    rc = main(
        [
            "-q",
            "finetune",
            str(model_dir),
            str(root),
            "--out",
            str(out),
            "--sessions",
            "2",
            "--epochs",
            "1",
            "--strategy",
            "head",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "before fine-tuning" in printed and str(out) in printed
    tuned = json.loads((out / "model.json").read_text())["training"]
    assert tuned["fine_tuned"][-1]["strategy"] == "head" and tuned["fine_tuned"][-1]["sessions"] == [2]
    from myovox.models.io import load_model

    model, _ = load_model(out)
    assert hasattr(model, "fine_tune")


def test_finetune_user_errors(tmp_path, capsys):
    root = _write_longterm(tmp_path / "lt", n_subjects=1, n_days=1, n_motions=2, n_trials=2)
    assert main(["-q", "finetune", str(tmp_path / "nomodel"), str(root), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["-q", "finetune", str(tmp_path), str(root), "--out", str(tmp_path / "o"), "--strategy", "hed"]) == 2
    assert "Did you mean 'head'" in capsys.readouterr().err
    model_dir = tmp_path / "lda"
    assert main(["-q", "train", str(root), "--model", "lda", "--out", str(model_dir)]) == 0
    assert main(["-q", "finetune", str(model_dir), str(root), "--out", str(tmp_path / "o")]) == 2
    assert "cannot be fine-tuned" in capsys.readouterr().err


def test_key_value_lists_and_model_params():
    from myovox.cli.evaluate import parse_key_values

    assert parse_key_values(["day=1,2,3", "position=N", "day=5"], "--train") == {"day": [1, 2, 3, 5], "position": "N"}
    assert parse_key_values(["standardize=true", "lr=0.01", "n_threads=1"], "--param", lists=False) == {
        "standardize": True,
        "lr": 0.01,
        "n_threads": 1,
    }

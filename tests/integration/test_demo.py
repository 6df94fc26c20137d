"""`myovox demo` end to end with tiny settings (the full run is `make demo`)."""

import json

import pytest

from myovox.cli.main import main


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert (
        main(
            [
                "-q",
                "demo",
                "--out",
                str(out),
                "--batches",
                "2",
                "--repetitions",
                "4",
                "--epochs",
                "2",
                "--ft-epochs",
                "1",
                "--window",
                "0.8",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    for step in ("[1/6]", "[2a/6]", "[2b/6]", "[2c/6]", "[3/6]", "[4/6]", "[5/6]", "[6/6]"):
        assert step in text
    summary = json.loads((out / "summary.json").read_text())
    assert 0.0 <= summary["global"] <= 1.0 and 0.0 <= summary["inter_session"] <= 1.0
    assert [c["batch"] for c in summary["fine_tune_curve"]] == [1, 2]
    for name in ("global", "inter_session", "fine_tune"):
        res = json.loads((out / name / "results.json").read_text())
        assert res["protocol"] == name and res["metric"] == "balanced_accuracy" and res["folds"]
    assert (out / "export" / "myovox_model.c").exists() and (out / "model" / "model.json").exists()
    live = json.loads((out / "live_metrics.json").read_text())
    assert live["n_cues"] == 32 and live["stats"]["n_windows"] > 100
    # a second run replaces the demo folder; a foreign folder is refused
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    assert main(["demo", "--out", str(foreign)]) == 2
    assert (foreign / "keep.txt").exists()

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
                "--rest-minutes",
                "1.5",
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
    rest = json.loads((out / "rest_metrics.json").read_text())
    assert rest["n_cues"] == 0 and rest["stats"]["n_windows"] > 800  # 1.5 min at 0.1 s steps
    assert rest["n_events"] == len(rest["events"]) == rest["n_false_activations"]
    assert rest["false_activations_per_hour"] == pytest.approx(rest["n_events"] / 0.025)
    assert sum(rest["non_speech_events"].values()) > 0
    assert "continuous rest (1.5 min" in (out / "summary.md").read_text()
    # a second run replaces the demo folder; a foreign folder is refused
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    assert main(["demo", "--out", str(foreign)]) == 2
    assert (foreign / "keep.txt").exists()

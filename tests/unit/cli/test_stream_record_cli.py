"""`myovox stream` (JSON lines only on stdout) and `myovox record`, in-process, on synthetic data."""

import json

import pytest

from myovox.cli.main import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from myovox.testing.synth import generate_dataset

    root = tmp_path_factory.mktemp("live")
    data = generate_dataset(
        root / "data", n_subjects=1, n_sessions=1, n_batches=1, conditions=("vocalized",), n_repetitions=4, seed=3
    )
    assert (
        main(["-q", "train", str(data), "--model", "lda", "--causal", "--window", "0.8", "--out", str(root / "model")])
        == 0
    )
    bio = next((data / "raw").rglob("*.bio"))
    return root / "model", bio


def test_stream_cli_prints_only_json_events(trained, capsys):
    model, bio = trained
    capsys.readouterr()
    assert main(["-q", "stream", "--source", f"replay:{bio}", "--model", str(model), "--threshold", "0.5"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out, "the recogniser fired no command on its own training batch"
    for line in out:
        ev = json.loads(line)
        assert ev["type"] == "command" and {"label", "confidence", "t_start", "t_end", "latency_ms"} <= set(ev)
        assert ev["t_end"] - ev["t_start"] == pytest.approx(0.8)


def test_stream_cli_user_errors(trained, capsys):
    model, _ = trained
    assert main(["stream", "--source", "replai:x.bio", "--model", str(model)]) == 2
    assert "Did you mean 'replay'" in capsys.readouterr().err
    assert main(["stream", "--source", "replay:x.bio", "--model", str(model.parent / "nope")]) == 2


def test_record_cli_writes_a_labelled_session(trained, tmp_path, capsys, record_session):
    from myovox.acquisition import read_session

    _, bio = trained
    extra = ["--subject", "S07", "--session", "4"]
    assert record_session(bio, tmp_path / "rec", "s1", repetitions=2, timing_s=0.5, quiet=False, extra=extra) == 0
    shown = capsys.readouterr().out
    assert ">>> UP" in shown and ">>> Finished - thank you" in shown
    rec = read_session(tmp_path / "rec" / "s1.csv")
    assert rec.n_channels == 16 and rec.meta["session"] == 4 and rec.meta["status"] == "complete"
    assert rec.class_counts() == {"rest": 5, "up": 2, "down": 2}


def test_export_causal_model_calibrated_on_a_dataset_folder(tmp_path, capsys):
    """The calibration windows of a causally trained model come from the raw signal, filtered causally."""
    pytest.importorskip("torch")
    from myovox.testing.synth import generate_dataset

    data = generate_dataset(
        tmp_path / "data", n_subjects=1, n_sessions=1, n_batches=1, conditions=("silent",), n_repetitions=6, seed=5
    )
    assert (
        main(
            [
                "-q",
                "train",
                str(data),
                "--model",
                "speechnet",
                "--causal",
                "--epochs",
                "1",
                "--window",
                "0.4",
                "--out",
                str(tmp_path / "model"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "-q",
                "export",
                str(tmp_path / "model"),
                "--format",
                "c",
                "--int8",
                "--out",
                str(tmp_path / "c"),
                "--calibration",
                str(data),
            ]
        )
        == 0
    )
    assert (tmp_path / "c" / "myovox_model.c").exists()
    side = json.loads((tmp_path / "c" / "model.json").read_text())
    assert side["causal"] is True or side.get("preprocessing", {}).get("causal") is True


def test_stream_cli_adapts_label_free_from_the_card(trained, capsys, caplog):
    """`myovox train` writes the quiet level; `myovox stream --adapt` uses them (or says why it cannot)."""
    from myovox.models.card import ModelCard

    model, bio = trained
    card = ModelCard.read(model)
    level = card.training["quiet_level"]
    assert len(level) == card.n_channels and all(v > 0 for v in level)
    capsys.readouterr()
    args = ["stream", "--source", f"replay:{bio}", "--model", str(model), "--threshold", "0.5"]
    with caplog.at_level("INFO", logger="myovox"):
        assert main([*args, "--adapt", "standardize"]) == 0
    assert '"adaptation"' in caplog.text and '"n_adapted"' in caplog.text
    assert main([*args, "--adapt", "bn"]) == 2
    assert "needs a network with batch norm" in capsys.readouterr().err

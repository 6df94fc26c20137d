"""Finding 2 of issue 10: the toolkit trains on its own recordings (record -> info -> train -> finetune)."""

import json

import numpy as np
import pytest

from myovox.cli.main import main


@pytest.fixture(scope="module")
def sessions(tmp_path_factory, record_session):
    """Two guided sessions recorded from a replayed synthetic .bio (16 channels, with a lost column)."""
    from myovox.testing.synth import generate_dataset

    root = tmp_path_factory.mktemp("loop")
    data = generate_dataset(
        root / "data", n_subjects=1, n_sessions=1, n_batches=1, conditions=("vocalized",), n_repetitions=6, seed=4
    )
    bio = next((data / "raw").rglob("*.bio"))
    for s in (1, 2):
        extra = ["--subject", "S07", "--session", str(s)]
        assert record_session(bio, root / "rec", f"s{s}", repetitions=3, extra=extra) == 0
    proto = root / "s1-protocol.json"
    return root, bio, proto


def test_record_folder_is_a_dataset_with_its_metadata(sessions, capsys):
    from myovox.datasets import load_dataset

    root, _, _ = sessions
    ds = load_dataset(root / "rec")
    assert ds.name == "recorded" and len(ds) == 2
    assert {r.n_channels for r in ds} == {16}, "the lost column was read as an EMG channel"
    assert ds.meta_values("subject") == ["S07"] and ds.meta_values("session") == [1, 2]
    capsys.readouterr()
    assert main(["info", str(root / "rec"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["subjects"] == ["S07"] and info["sessions"] == [1, 2]


def test_train_on_recordings_then_finetune(sessions, capsys):
    from myovox.models.io import read_card

    root, _, _ = sessions
    assert (
        main(
            [
                "-q",
                "train",
                str(root / "rec"),
                "--model",
                "lda",
                "--causal",
                "--window",
                "0.8",
                "--out",
                str(root / "model"),
            ]
        )
        == 0
    )
    card = read_card(root / "model")
    assert card.n_channels == 16 and card.causal and card.training["subjects"] == ["S07"]
    assert card.label_map[card.classes[1]] in ("up", "down")
    pytest.importorskip("torch")
    assert (
        main(
            [
                "-q",
                "train",
                str(root / "rec"),
                "--model",
                "speechnet",
                "--causal",
                "--window",
                "0.8",
                "--epochs",
                "2",
                "--sessions",
                "1",
                "--out",
                str(root / "net"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "-q",
                "finetune",
                str(root / "net"),
                str(root / "rec"),
                "--sessions",
                "2",
                "--epochs",
                "2",
                "--out",
                str(root / "net_ft"),
            ]
        )
        == 0
    )
    ft = read_card(root / "net_ft")
    assert ft.training["fine_tuned"][0]["sessions"] == [2] and ft.n_channels == 16


def test_recording_with_lost_samples_reads_back_as_gaps(sessions, tmp_path):
    from myovox.io.guided import read_session

    root, _, _ = sessions
    src = root / "rec" / "s1.csv"
    lines = src.read_text().splitlines()
    header = lines[0].split(",")
    i_lost = header.index("lost")
    for k in range(200, 230):  # mark 30 samples lost, as the recorder does for a lost packet
        cells = lines[k].split(",")
        cells[i_lost] = "1"
        lines[k] = ",".join(cells)
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "s.json").write_text((root / "rec" / "s1.json").read_text())
    rec = read_session(tmp_path / "s.csv")
    assert rec.n_channels == 16 and rec.meta["n_lost_samples"] == 30
    assert np.isnan(rec.data[:, 199:229]).all() and np.isfinite(rec.data[:, :199]).all()


def test_record_force_never_replaces_a_foreign_file(sessions, tmp_path, capsys):
    _root, bio, proto = sessions
    (tmp_path / "mine.csv").write_text("my own notes\n")
    assert (
        main(
            [
                "record",
                "--source",
                f"replay:{bio}",
                "--protocol",
                str(proto),
                "--out",
                str(tmp_path),
                "--name",
                "mine",
                "--force",
            ]
        )
        == 2
    )
    assert "not written by myovox" in capsys.readouterr().err
    assert (tmp_path / "mine.csv").read_text() == "my own notes\n"

"""Issue 10, findings 9 and 10: user errors give one line on stderr and exit 2, never a traceback."""

import subprocess
import sys

import numpy as np
import pytest

from myovox.cli.main import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from myovox.testing.synth import generate_dataset

    root = tmp_path_factory.mktemp("tb")
    return generate_dataset(
        root / "sw", n_subjects=1, n_sessions=2, n_batches=1, conditions=("vocalized",), n_repetitions=2, seed=2
    )


@pytest.fixture(scope="module")
def model(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("tbm") / "m"
    assert main(["-q", "train", str(data), "--model", "lda", "--out", str(out)]) == 0
    return out


def _one_line_error(capsys, args, code=2):
    rc = main(args)
    err = capsys.readouterr().err.strip()
    assert rc == code, (args, err)
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if not ln.startswith(("INFO", "WARNING"))]
    assert len(lines) == 1, err
    return err


@pytest.mark.parametrize(
    "args",
    [
        ["evaluate", "{data}", "--protocol", "kfold", "--model", "lda", "--jobs", "0"],
        ["evaluate", "{data}", "--protocol", "kfold", "--model", "lda", "--window", "-1"],
        ["evaluate", "{data}", "--protocol", "kfold", "--model", "lda", "--window", "1000", "--out", "{tmp}/r"],
        ["train", "{data}", "--model", "lda", "--window", "1000", "--out", "{tmp}/m"],
        ["train", "{data}", "--model", "speechnet", "--epochs", "0", "--out", "{tmp}/m"],
        ["train", "{data}", "--model", "lad", "--out", "{tmp}/m"],
        ["synth", "{tmp}/s", "--sessions", "-1"],
        ["synth", "{tmp}/s", "--packet-loss", "1.5"],
        ["record", "--source", "replay:x.bio", "--out", "{tmp}/r", "--flush", "-1"],
        ["record", "--source", "replay:x.bio", "--out", "{tmp}/r", "--session", "-2"],
        ["finetune", "{model}", "{data}", "--out", "{tmp}/f", "--epochs", "0"],
    ],
)
def test_bad_values_are_one_line(args, data, model, tmp_path, capsys):
    args = [a.format(data=data, model=model, tmp=tmp_path) for a in args]
    _one_line_error(capsys, args)


def test_out_that_is_a_symlink_or_file(data, tmp_path, capsys):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    err = _one_line_error(capsys, ["train", str(data), "--model", "lda", "--out", str(tmp_path / "link")])
    assert "symbolic link" in err
    (tmp_path / "file").write_text("mine")
    _one_line_error(capsys, ["train", str(data), "--model", "lda", "--out", str(tmp_path / "file")])
    assert (tmp_path / "file").read_text() == "mine"


def test_evaluate_out_is_never_overwritten_silently(data, tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    err = _one_line_error(capsys, ["evaluate", str(data), "--protocol", "kfold", "--model", "lda", "--out", str(out)])
    assert "--force" in err
    _one_line_error(
        capsys, ["evaluate", str(data), "--protocol", "kfold", "--model", "lda", "--out", str(out), "--force"]
    )
    assert (out / "notes.txt").read_text() == "mine"


def test_tampered_model_folder(model, tmp_path, capsys):
    import shutil

    bad = tmp_path / "m"
    shutil.copytree(model, bad)
    card = (bad / "model.json").read_text()
    (bad / "model.json").write_text(card.replace('"sfreq": 500.0', '"sfreq": "fast"'))
    _one_line_error(capsys, ["finetune", str(bad), str(model), "--out", str(tmp_path / "f")])
    (bad / "model.json").write_text(card)
    (bad / "model.skops").write_bytes(b"PK\x03\x04garbage")
    _one_line_error(capsys, ["finetune", str(bad), str(model), "--out", str(tmp_path / "f")])


def test_one_repetition_recorded_session_trains(tmp_path, capsys, record_session):
    """A session with one repetition per word trains (without a validation split) instead of failing."""
    pytest.importorskip("torch")
    from myovox.testing.synth import generate_dataset

    data = generate_dataset(
        tmp_path / "d", n_subjects=1, n_sessions=1, n_batches=1, conditions=("vocalized",), n_repetitions=2, seed=0
    )
    bio = next((data / "raw").rglob("*.bio"))
    assert record_session(bio, tmp_path / "rec", "one", repetitions=1) == 0
    rc = main(
        [
            "-q",
            "train",
            str(tmp_path / "rec"),
            "--model",
            "speechnet",
            "--epochs",
            "1",
            "--window",
            "0.8",
            "--out",
            str(tmp_path / "m"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 0 and "Traceback" not in err


def test_broken_pipe_is_not_an_error(data):
    """`myovox info DATA --json | head -c 300` printed a BrokenPipeError traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "myovox.cli.main", "info", str(data), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.read(10)
    proc.stdout.close()  # the reader goes away, as `head -c` does
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    out = capsys.readouterr().out
    assert "(default: 5)" in out and "(default: 1)" in out


def test_tampered_calibration_file(tmp_path, capsys):
    """A model folder's calibration.npz that is not what it claims: one line, no traceback."""
    pytest.importorskip("torch")
    data = tmp_path / "d"
    from myovox.testing.synth import generate_dataset

    generate_dataset(data, n_subjects=1, n_sessions=1, n_batches=1, conditions=("vocalized",), n_repetitions=2)
    assert (
        main(
            [
                "-q",
                "train",
                str(data),
                "--model",
                "speechnet",
                "--epochs",
                "1",
                "--window",
                "0.4",
                "--out",
                str(tmp_path / "m"),
            ]
        )
        == 0
    )
    for payload in (b"PK\x03\x04 not a zip", None):
        cal = tmp_path / "m" / "calibration.npz"
        if payload is None:
            np.savez(cal, X=np.full((2, 14, 200), np.nan, dtype=np.float32))
        else:
            cal.write_bytes(payload)
        err = _one_line_error(capsys, ["export", str(tmp_path / "m"), "--format", "c", "--out", str(tmp_path / "e")])
        assert "calibration" in err
    assert not (tmp_path / "e").exists()

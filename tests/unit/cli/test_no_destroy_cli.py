"""`export --force` and `demo --force` never delete what the user put there (outputs are transactions)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from myovox.cli.main import main

pytest.importorskip("torch")

DEMO_ARGS = ["--batches", "2", "--repetitions", "4", "--epochs", "2", "--ft-epochs", "1", "--window", "0.8"]


def _write_longterm(root: Path) -> Path:
    """1 subject, 1 day, 3 motions x 4 trials of 8-channel CSV (motion m drives channel m)."""
    rng = np.random.default_rng(0)
    folder = root / "data" / "sub1" / "day1"
    folder.mkdir(parents=True)
    for m in range(1, 4):
        for t in range(1, 5):
            x = 0.05 * rng.normal(size=(300, 8))
            x[:, m - 1] += 0.3 * np.sin(np.linspace(0, 60 * np.pi, 300))
            np.savetxt(folder / f"D1M{m}T{t}.csv", x, delimiter=",", fmt="%.5f")
    return root


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A SpeechNet model folder made with `myovox train`, good and bad calibration windows."""
    base = tmp_path_factory.mktemp("no_destroy")
    data = _write_longterm(base / "lt")
    model = base / "model"
    assert main(["-q", "train", str(data), "--model", "speechnet", "--out", str(model), "--epochs", "1"]) == 0
    good, bad = base / "cal.npy", base / "bad.npy"
    np.save(good, np.random.default_rng(1).normal(size=(20, 8, 300)).astype(np.float32))
    np.save(bad, np.zeros((5, 8, 50), np.float32))  # wrong window length: the export fails
    return model, good, bad


def _export(model: Path, out: str | Path, cal: Path, *extra: str) -> int:
    return main(["-q", "export", str(model), "--format", "c", "--out", str(out), "--calibration", str(cal), *extra])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _no_temp_siblings(parent: Path) -> None:
    assert [p.name for p in parent.iterdir() if ".myovox-" in p.name] == []


def test_export_force_into_current_folder_is_refused(saved, tmp_path, monkeypatch, capsys):
    model, good, _ = saved
    work = tmp_path / "work"
    work.mkdir()
    (work / "thesis.tex").write_text("months of work")
    monkeypatch.chdir(work)
    capsys.readouterr()
    assert _export(model, ".", good, "--force") == 2
    line = _one_line_error(capsys.readouterr().err)
    assert line.startswith("myovox export: error:") and "current working directory" in line
    assert (work / "thesis.tex").read_text() == "months of work"
    assert sorted(p.name for p in work.iterdir()) == ["thesis.tex"]


def test_export_force_never_deletes_a_user_file(saved, tmp_path, capsys):
    model, good, _ = saved
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert _export(model, out, good, "--force") == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "notes.txt" in line and "--force replaces only what myovox wrote" in line
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    _no_temp_siblings(tmp_path)


def test_failed_export_with_force_keeps_the_old_export(saved, tmp_path, capsys):
    model, good, bad = saved
    out = tmp_path / "out"
    assert _export(model, out, good) == 0
    before = _snapshot(out)
    assert "myovox_model.c" in before
    capsys.readouterr()
    assert _export(model, out, bad, "--force") == 2
    _one_line_error(capsys.readouterr().err)
    assert _snapshot(out) == before
    _no_temp_siblings(tmp_path)


def test_export_force_replaces_a_previous_export(saved, tmp_path, capsys):
    model, good, _ = saved
    out = tmp_path / "out"
    assert _export(model, out, good) == 0
    capsys.readouterr()
    assert _export(model, out, good) == 2  # without --force: refused, one line
    line = _one_line_error(capsys.readouterr().err)
    assert "already exists" in line and "--force" in line
    (out / "myovox_harness").write_text("what compile_harness(out) builds")
    assert _export(model, out, good, "--force") == 0
    files = json.loads((out / ".myovox-manifest.json").read_text())["files"]
    assert sorted(files) == sorted(p.name for p in out.iterdir() if p.name != ".myovox-manifest.json")
    assert "myovox_model.c" in files and not (out / "myovox_harness").exists()
    _no_temp_siblings(tmp_path)


@pytest.mark.parametrize("force", [True, False])
def test_demo_refuses_a_folder_with_a_user_file(tmp_path, capsys, force):
    out = tmp_path / "D"
    out.mkdir()
    (out / "recording.bio").write_bytes(b"irreplaceable")
    capsys.readouterr()
    assert main(["-q", "demo", "--out", str(out), *(["--force"] if force else []), *DEMO_ARGS]) == 2
    captured = capsys.readouterr()
    line = _one_line_error(captured.err)
    assert "recording.bio" in line if force else "--force" in line
    assert "[1/6]" not in captured.out  # refused before any work
    assert sorted(p.name for p in out.iterdir()) == ["recording.bio"]
    assert (out / "recording.bio").read_bytes() == b"irreplaceable"
    _no_temp_siblings(tmp_path)


def test_demo_force_refuses_a_previous_demo_holding_a_user_file(tmp_path, capsys):
    from myovox._outputs import output_folder

    out = tmp_path / "D"
    with output_folder(out, what="demo folder") as work:  # what a previous demo left, in short
        (work / "export").mkdir()
        (work / "export" / "myovox_model.c").write_text("int x;")
        (work / "summary.md").write_text("# myovox demo summary")
    (out / "export" / "my_board.c").write_text("user code")
    for extra in ([], ["--force"]):
        capsys.readouterr()
        assert main(["-q", "demo", "--out", str(out), *extra, *DEMO_ARGS]) == 2
        assert "export/my_board.c" in _one_line_error(capsys.readouterr().err)
    assert (out / "export" / "my_board.c").read_text() == "user code"
    assert (out / "summary.md").exists()


@pytest.mark.slow
def test_demo_twice_replaces_its_own_folder(tmp_path, capsys):
    out = tmp_path / "D"
    assert main(["-q", "demo", "--out", str(out), *DEMO_ARGS]) == 0
    assert json.loads((out / ".myovox-manifest.json").read_text())["what"] == "demo folder"
    assert str(tmp_path / ".D.") not in (out / "summary.json").read_text()  # no temporary paths recorded
    (out / "summary.md").write_text("stale")
    assert main(["-q", "demo", "--out", str(out), "--force", *DEMO_ARGS]) == 0
    assert (out / "summary.md").read_text().startswith("# myovox demo summary")
    assert (out / "export" / "myovox_model.c").exists() and (out / "model" / "model.json").exists()
    _no_temp_siblings(tmp_path)

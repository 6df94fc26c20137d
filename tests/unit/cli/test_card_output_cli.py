"""`myovox card init DIR --output FILE` (a card beside its folder), `--template`, and commands reading a card file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from myovox.cli.main import main
from myovox.datasets.card import CARD_FILE, DatasetCard

LAYOUT = "S{subject}/day{session}/R_{rep}_C_{label}_EMG.csv"


def _study(root: Path, *, subjects=(1, 2), words=("rest", "up", "down"), reps=5, n=100) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(n) / 200
    for s in subjects:
        d = root / f"S{s}" / "day1"
        d.mkdir(parents=True)
        for k, w in enumerate(words):
            for r in range(reps):
                x = 0.05 * rng.normal(size=(n, len(words)))
                x[:, k] += np.sin(2 * np.pi * 60 * t)
                np.savetxt(d / f"R_{r}_C_{w}_EMG.csv", x, delimiter=",", fmt="%.5f")
    return root


def _files(root: Path) -> list[Path]:
    return sorted(root.rglob("*"))


def _stderr_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_output_writes_the_card_beside_the_folder(tmp_path, capsys):
    data = _study(tmp_path / "shared" / "study")
    before = _files(data)
    out = tmp_path / "cards" / "study.yaml"
    out.parent.mkdir()
    args = ["card", "init", str(data), "--layout", LAYOUT, "--sfreq", "200", "--labels", "rest,up,down"]
    assert main(["-q", *args, "--output", str(out)]) == 0
    assert f"Wrote {out}. study: 30 files" in capsys.readouterr().out
    assert _files(data) == before and _files(out.parent) == [out]  # the card file and nothing else
    card = yaml.safe_load(out.read_text())
    assert card["root"] == "../shared/study" and card["layout"] == LAYOUT

    # every command reads the card file
    assert main(["-q", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dataset"] == "study" and info["n_recordings"] == 30 and info["window_mode"] == "trial"
    assert main(["-q", "card", "check", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"OK {out}: study: 30 files")
    assert main(["-q", "card", "show", str(out)]) == 0
    assert "root: ../shared/study" in capsys.readouterr().out
    res = tmp_path / "res"
    assert (
        main(["-q", "evaluate", str(out), "--protocol", "kfold", "--model", "lda", "--out", str(res), "--no-report"])
        == 0
    )
    assert json.loads((res / "results.json").read_text())["mean"] > 0.8
    assert main(["-q", "train", str(out), "--model", "lda", "--out", str(tmp_path / "model")]) == 0
    assert _files(data) == before

    # the same card from elsewhere: the root stays relative to the card file, not to the working directory
    moved = tmp_path / "cards" / "sub"
    moved.mkdir()
    rc = main(["-q", *args, "--output", str(moved / "study.yml")])
    assert rc == 0 and yaml.safe_load((moved / "study.yml").read_text())["root"] == "../../shared/study"


def test_output_never_overwrites_without_force(tmp_path, capsys):
    data = _study(tmp_path / "study", subjects=(1,), reps=1)
    out = tmp_path / "x.yaml"
    out.write_text("mine\n")
    base = ["card", "init", str(data), "--layout", LAYOUT, "--sfreq", "200", "--output", str(out)]
    assert main(["-q", *base]) == 2
    assert "x.yaml already exists; pass --force to replace it" in _stderr_line(capsys)
    assert out.read_text() == "mine\n"
    assert main(["-q", *base, "--force"]) == 0
    assert DatasetCard.read(out).data_root().resolve() == data.resolve()
    assert not (data / CARD_FILE).exists()


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("card.txt", "must end in .yaml or .yml"),
        ("nowhere/card.yaml", "the folder"),
        ("adir.yaml", "is a folder; give a file name"),
    ],
)
def test_output_errors_are_one_line(tmp_path, capsys, output, expected):
    data = _study(tmp_path / "study", subjects=(1,), reps=1)
    (tmp_path / "adir.yaml").mkdir()
    before = _files(tmp_path)
    argv = ["card", "init", str(data), "--layout", LAYOUT, "--sfreq", "200", "--output", str(tmp_path / output)]
    assert main(["-q", *argv]) == 2
    assert expected in _stderr_line(capsys)
    assert _files(tmp_path) == before


def test_read_only_folder_suggests_output(tmp_path, capsys, monkeypatch):
    data = _study(tmp_path / "study", subjects=(1,), reps=1)
    real_write = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name == CARD_FILE:
            raise PermissionError(13, "Permission denied")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)  # a read-only folder, even for root
    assert main(["-q", "card", "init", str(data), "--layout", LAYOUT, "--sfreq", "200"]) == 2
    err = _stderr_line(capsys)
    assert "(Permission denied). Write the card beside the folder with --output CARD.yaml" in err


def _fake_longterm(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for day in (1, 2):
        d = root / "data" / "sub1" / f"day{day}"
        d.mkdir(parents=True)
        for m in (1, 2, 3):
            for t in (1, 2):
                np.savetxt(d / f"D{day}M{m}T{t}.csv", rng.normal(size=(300, 8)), delimiter=",", fmt="%.6g")
    return root


def test_template_with_overrides(tmp_path, capsys):
    data = _fake_longterm(tmp_path / "longterm-armband")
    out = tmp_path / "lt.yaml"
    assert main(["-q", "card", "init", str(data), "--template", "longterm-armband", "--output", str(out)]) == 0
    assert "longterm: 12 files, 1 subjects (sub1), 2 sessions (1, 2)" in capsys.readouterr().out
    written = DatasetCard.read(out)
    assert written.to_dict() == {**DatasetCard.template("longterm-armband").to_dict(), "root": "longterm-armband"}
    # options given replace the template's keys; --highpass and --meta are merged into filter and meta
    argv = ["card", "init", str(data), "--template", "longterm-armband", "--output", str(out), "--force"]
    extra = ["--window", "1.0", "--name", "lt", "--highpass", "10", "--meta", "site=lab", "--no-rest-label"]
    assert main(["-q", *argv, *extra]) == 0
    d = yaml.safe_load(out.read_text())
    assert d["window_s"] == 1.0 and d["name"] == "lt" and d["filter"] == {"highpass": 10.0, "notch": None}
    assert d["meta"]["site"] == "lab" and d["meta"]["motion"] == "{label}" and d["rest_label"] is False
    assert d["sfreq"] == 200.0 and d["label_codes"] == "order"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--template", "nope"], "argument --template: invalid choice: 'nope'"),
        (["--sfreq", "200"], "one of the arguments --layout --index is required (or --template NAME)"),
        (["--layout", "*.csv"], "the argument --sfreq is required (or --template NAME)"),
        (["--layout", "*.csv", "--sfreq", "1", "--meta", "novalue"], "expected KEY=VALUE"),
        (["--layout", "*.csv", "--sfreq", "1", "--meta", "source=x"], "key 'source' is reserved"),
        (["--layout", "*.csv", "--sfreq", "1", "--rest-label", "0", "--no-rest-label"], "not allowed with argument"),
    ],
)
def test_init_usage_errors_are_one_line(tmp_path, capsys, argv, expected):
    root = tmp_path / "empty"
    root.mkdir()
    assert main(["-q", "card", "init", str(root), *argv]) == 2
    assert expected in _stderr_line(capsys)
    assert list(root.iterdir()) == []


def test_card_file_with_a_missing_root(tmp_path, capsys):
    card = tmp_path / "x.yaml"
    card.write_text("sfreq: 200\nroot: ../gone\nlayout: '*.csv'\n")
    for argv in (
        ["info", str(card)],
        ["card", "check", str(card)],
        ["evaluate", str(card), "--protocol", "kfold", "--model", "lda", "--out", str(tmp_path / "r")],
    ):
        assert main(["-q", *argv]) == 2
        err = _stderr_line(capsys)
        assert f"{card}: invalid value for 'root': '../gone'" in err and "does not exist" in err

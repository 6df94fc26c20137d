"""`myovox card init|show|check` and the commands that then read the folder through its card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from myovox.cli.main import main
from myovox.datasets.card import CARD_FILE

LAYOUT = "S{subject}/day{session}/R_{rep}_C_{label}_EMG.csv"


def _study(root: Path, *, subjects=(1, 2), words=("rest", "up", "down"), reps=5, n=100, seed=0) -> Path:
    """One trial per file, the label in the name; each word drives its own channel (easy to classify)."""
    rng = np.random.default_rng(seed)
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
    return sorted(p for p in root.rglob("*"))


def _stderr_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_init_info_train_evaluate(tmp_path, capsys):
    root = _study(tmp_path / "study")
    before = _files(root)
    rc = main(["-q", "card", "init", str(root), "--layout", LAYOUT, "--sfreq", "200", "--labels", "rest,up,down"])
    assert rc == 0
    out = capsys.readouterr().out
    assert f"Wrote {root / CARD_FILE}" in out
    assert "30 files" in out and "2 subjects (1, 2)" in out and "3 classes" in out and "200 Hz" in out
    assert _files(root) == sorted([*before, root / CARD_FILE])  # the card and nothing else
    card = yaml.safe_load((root / CARD_FILE).read_text())
    assert (
        card["layout"] == LAYOUT and card["sfreq"] == 200.0 and card["labels"] == {w: w for w in ("rest", "up", "down")}
    )

    assert main(["-q", "info", str(root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dataset"] == "study" and info["n_recordings"] == 30 and info["n_channels"] == [3]
    assert info["window_mode"] == "trial" and info["window_s"] == 0.5 and set(info["classes"]) == {"rest", "up", "down"}

    assert main(["-q", "train", str(root), "--model", "lda", "--out", str(tmp_path / "model")]) == 0
    assert (tmp_path / "model").is_dir()
    res = tmp_path / "res"
    rc = main(["-q", "evaluate", str(root), "--protocol", "kfold", "--model", "lda", "--out", str(res), "--no-report"])
    assert rc == 0
    d = json.loads((res / "results.json").read_text())
    assert d["protocol"] == "kfold" and d["mean"] > 0.8
    assert _files(root) == sorted([*before, root / CARD_FILE])


def test_show_and_check(tmp_path, capsys):
    root = _study(tmp_path / "study", subjects=(1,), reps=2)
    args = [
        "card",
        "init",
        str(root),
        "--layout",
        LAYOUT,
        "--sfreq",
        "200",
        "--labels",
        "rest=rest",
        "up=up",
        "down=down",
    ]
    assert main(["-q", *args, "--mains", "60", "--units", "uV", "--channels", "a,b,c"]) == 0
    capsys.readouterr()
    assert main(["-q", "card", "show", str(root)]) == 0
    out = capsys.readouterr().out
    assert "mains: 60" in out and "units: uV" in out and "3 channels (a, b, c)" in out and "rest label 0" in out
    assert main(["-q", "card", "check", str(root / CARD_FILE)]) == 0
    assert capsys.readouterr().out.startswith(f"OK {root / CARD_FILE}: study: 6 files")


def test_init_writes_nothing_when_the_card_does_not_fit(tmp_path, capsys):
    root = _study(tmp_path / "study", subjects=(1,), reps=1)
    before = _files(root)
    rc = main(["-q", "card", "init", str(root), "--layout", "S{subject}/nope_{label}.csv", "--sfreq", "200"])
    assert rc == 2
    err = _stderr_line(capsys)
    assert "myovox card: error: The layout pattern 'S{subject}/nope_{label}.csv' matches no file in" in err
    rc = main(["-q", "card", "init", str(root), "--layout", LAYOUT, "--sfreq", "200", "--labels", "0=rest"])
    assert rc == 2 and "label 'down' is not in the card's labels (0)" in _stderr_line(capsys)
    rc = main(["-q", "card", "init", str(root), "--layout", LAYOUT, "--sfreq", "200", "--channels", "a", "b"])
    assert rc == 2 and "3 channels, but the card names 2 (a, b)" in _stderr_line(capsys)
    assert _files(root) == before


def test_init_never_overwrites_without_force(tmp_path, capsys):
    root = _study(tmp_path / "study", subjects=(1,), reps=1)
    assert main(["-q", "card", "init", str(root), "--layout", LAYOUT, "--sfreq", "200"]) == 0
    text = (root / CARD_FILE).read_text()
    rc = main(["-q", "card", "init", str(root), "--layout", LAYOUT, "--sfreq", "500"])
    assert rc == 2 and "already exists; pass --force to replace it" in _stderr_line(capsys)
    assert (root / CARD_FILE).read_text() == text
    assert main(["-q", "card", "init", str(root), "--layout", LAYOUT, "--sfreq", "500", "--force"]) == 0
    assert "sfreq: 500.0" in (root / CARD_FILE).read_text()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["card", "show", "{root}"], "No dataset card myovox-dataset.yaml in"),
        (["card", "init", "{root}", "--sfreq", "200"], "one of the arguments --layout --index is required"),
        (["card", "init", "{root}", "--layout", "*.csv", "--sfreq", "0"], "expected a positive number"),
        (["card", "init", "{root}/missing", "--layout", "*.csv", "--sfreq", "1"], "is not a folder"),
        (["card", "init", "{root}", "--layout", "*.csv", "--sfreq", "1", "--labels", "=x"], "expected VALUE=NAME"),
        (["card"], "Missing action: use `myovox card init|show|check DIR`"),
    ],
)
def test_usage_errors_are_one_line(tmp_path, capsys, argv, expected):
    root = tmp_path / "empty"
    root.mkdir()
    assert main(["-q", *(a.replace("{root}", str(root)) for a in argv)]) == 2
    assert expected in _stderr_line(capsys)
    assert list(root.iterdir()) == []


def test_card_resample_and_short_trials_reach_the_windows(tmp_path):
    import warnings

    import numpy as np

    from myovox.datasets import load_dataset
    from myovox.datasets.card import DatasetCard
    from myovox.exceptions import ValidationError
    from myovox.preprocessing.pipeline import dataset_windows

    folder = tmp_path / "d"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, n in enumerate([400, 400, 300, 400]):  # 0.4 s trials at 1 kHz, one short
        np.savetxt(folder / f"t{i}_{i % 2}.csv", rng.normal(size=(n, 2)), delimiter=",")
    DatasetCard(
        sfreq=1000, layout="t{rep}_{label}.csv", resample=500, short_trials="pad", window_s=0.4,
        filter={"highpass": 20.0, "notch": None},
    ).write(folder)  # fmt: skip
    ds = load_dataset(folder)
    assert ds.info["resample"] == 500.0 and ds.info["short_trials"] == "pad"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = dataset_windows(ds)
    assert w.sfreq == 500.0 and w.n_samples == 200 and len(w) == 4 and w.meta["padded"].tolist() == [0, 0, 50, 0]
    with pytest.raises(ValidationError, match="short_trials"):
        DatasetCard(sfreq=1000, layout="t{rep}_{label}.csv", short_trials="crop")

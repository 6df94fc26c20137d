"""The three shared datasets through dataset cards give what their dedicated adapters give.

For each dataset a card is written with the CLI (`myovox card init DIR --template NAME --output
tmp/x.yaml`, the card beside the read-only data) and loaded; the windows the evaluation engine sees
(X, y, label names, channel names, metadata, rest label, filter) must equal the adapter's, and one
protocol through `myovox evaluate CARD.yaml` must give the adapter's results.json headline.

To stay fast, each test reads a subset (one or two subjects, sessions or phases): a folder in
tmp_path that mirrors the dataset's layout with symbolic links to the shared files (nothing is
copied, nothing is written in ../shared). The adapter and the card read the same subset folder.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from myovox.cli.main import main
from myovox.datasets import load_dataset
from myovox.datasets.card import DatasetCard
from myovox.preprocessing.pipeline import dataset_windows

pytestmark = pytest.mark.realdata

#: per-recording metadata the dedicated adapters add that a card does not: data-quality counters of
#: their own parsers (malformed rows skipped, timestamp regularity) and mateus's list of railed channels
ADAPTER_ONLY = {"n_rows_skipped", "timestamp_step_ms", "timestamp_irregular", "railed_channels", "source"}
#: what the card's reader adds: the label value as written in the layout, and its class and name
CARD_ONLY = {"label", "label_value", "label_name", "source"}
#: the engine's view of Dataset.info (preprocessing_dataset, make_windows, the protocols' rest label)
ENGINE_INFO = ("filter", "channels", "resample", "nan_policy")


def _subset(dest: Path, real: Path, dirs: list[str]) -> Path:
    """``dest`` with the folders ``dirs`` of ``real`` (relative paths), each file a symbolic link."""
    for rel in dirs:
        for file in sorted((real / rel).iterdir()):
            if file.is_file():
                link = dest / rel / file.name
                link.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.symlink(file, link)
                except OSError as err:  # a file system without symbolic links
                    pytest.skip(f"cannot make symbolic links in {dest} ({err})")
    return dest


def _card(tmp_path: Path, root: Path, template: str, capsys) -> Path:
    out = tmp_path / "cards" / f"{template}.yaml"
    out.parent.mkdir(exist_ok=True)
    rc = main(["-q", "card", "init", str(root), "--template", template, "--output", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert f"Wrote {out}" in capsys.readouterr().out
    card = DatasetCard.read(out)
    assert card.data_root().resolve() == root.resolve()
    assert card.to_dict() == {**DatasetCard.template(template).to_dict(), "root": card.root}
    return out


def _windows(ds):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the adapters' and the windows' data-quality warnings: same on both sides
        return dataset_windows(ds)


def _same_windows(adapter, card) -> None:
    """The windows and Dataset settings the evaluation engine sees are identical."""
    assert (adapter.name, adapter.window_s, adapter.window_mode) == (card.name, card.window_s, card.window_mode)
    for key in ENGINE_INFO:
        assert adapter.info.get(key) == card.info.get(key), key
    assert adapter.info.get("rest_label", 0) == card.info.get("rest_label", 0)
    assert adapter.info.get("short_trials", "drop") == card.info.get("short_trials", "drop")
    assert len(adapter) == len(card)
    for ra, rc in zip(adapter.recordings, card.recordings, strict=True):
        assert Path(ra.source).name == Path(rc.source).name
        a = {k: v for k, v in ra.meta.items() if k not in ADAPTER_ONLY}
        c = {k: v for k, v in rc.meta.items() if k not in CARD_ONLY}
        assert a == c, (ra.source, a, c)
        assert {k: type(v) for k, v in a.items()} == {k: type(v) for k, v in c.items()}
    wa, wc = _windows(adapter), _windows(card)
    assert len(wa) > 0 and wa.X.shape == wc.X.shape
    np.testing.assert_allclose(wc.X, wa.X, rtol=1e-12, atol=1e-9)
    assert np.array_equal(wa.y, wc.y)
    assert wa.label_names == wc.label_names and wa.ch_names == wc.ch_names and wa.sfreq == wc.sfreq
    assert np.array_equal(wa.groups, wc.groups)
    for key, col in wa.meta.items():
        if key not in ADAPTER_ONLY:
            assert np.array_equal(col, wc.meta[key]), key


def _headline(out: Path) -> dict:
    d = json.loads((out / "results.json").read_text())
    folds = [{k: v for k, v in f.items() if k not in ("fit_s", "predict_s")} for f in d["folds"]]
    keys = ("protocol", "model", "metric", "mean", "std", "fold_mean", "fold_std", "per_subject", "per_condition")
    return {**{k: d[k] for k in keys}, "labels": d["labels"], "label_names": d["label_names"], "folds": folds}


def _same_evaluation(tmp_path: Path, adapter_path: Path, card: Path, args: list[str], capsys) -> dict:
    out = {}
    for name, data in (("adapter", adapter_path), ("card", card)):
        out[name] = tmp_path / f"res-{name}"
        rc = main(["-q", "evaluate", str(data), *args, "--jobs", "1", "--no-report", "--out", str(out[name])])
        assert rc == 0, capsys.readouterr().err
    a, c = _headline(out["adapter"]), _headline(out["card"])
    assert a == c
    return a


# ---------------------------------------------------------------------------- longterm-armband
def test_longterm_through_a_card(tmp_path, longterm_dir, capsys):
    root = _subset(tmp_path / "longterm-armband", longterm_dir, [f"data/sub1/day{d}" for d in range(1, 11)])
    card = _card(tmp_path, root, "longterm-armband", capsys)
    adapter, through_card = load_dataset(root, kind="longterm"), load_dataset(card)
    assert len(adapter) == 10 * 22 * 4
    assert through_card.info["label_map"][0] == "M1 (rest)" and through_card.info["rest_label"] == 0
    assert through_card.info["filter"] == {"highpass": 20.0, "notch": None}
    assert {r.meta["position"] for r in through_card} == {"N", "I", "O"}
    _same_windows(adapter, through_card)
    args = ["--protocol", "transfer", "--train", "day=1,2,3,4,5", "--test", "day=6,7,8,9,10", "--model", "lda"]
    head = _same_evaluation(tmp_path, root, card, args, capsys)
    assert list(head["per_subject"]) == ["sub1"] and head["mean"] > 0.3  # 22 classes: chance 4.5 %


# ---------------------------------------------------------------------------- somach-silent-speech
def test_somach_covert_sessions_through_a_card(tmp_path, somach_dir, capsys):
    root = _subset(
        tmp_path / "somach-silent-speech", somach_dir, ["covert_sessions/session_B", "covert_sessions/session_C"]
    )
    card = _card(tmp_path, root, "somach-covert-sessions", capsys)
    adapter, through_card = load_dataset(root / "covert_sessions", kind="somach"), load_dataset(card)
    assert len(adapter) == 600 and through_card.info["rest_label"] is None  # SILENCE is a class, not rest
    assert through_card.summary()["sessions"] == ["B", "C"]
    _same_windows(adapter, through_card)
    args = ["--protocol", "leave_one_out", "--by", "session", "--model", "lda"]
    head = _same_evaluation(tmp_path, root / "covert_sessions", card, args, capsys)
    assert len(head["folds"]) == 2


@pytest.mark.parametrize(
    ("template", "phase_dir"),
    [("somach-studyB", "studyB_5phase/Phase_6_Covert"), ("somach-studyA", "studyA_3phase/Phase_1_Overt")],
)
def test_somach_study_phase_through_a_card(tmp_path, somach_dir, capsys, template, phase_dir):
    root = _subset(tmp_path / "somach-silent-speech", somach_dir, [phase_dir])
    card = _card(tmp_path, root, template, capsys)
    adapter, through_card = load_dataset(root / phase_dir.split("/")[0], kind="somach"), load_dataset(card)
    assert len(adapter) == 300 and adapter.info["filter"] == through_card.info["filter"] == {
        "highpass": 0.5,
        "notch": None,
    }
    _same_windows(adapter, through_card)


# ---------------------------------------------------------------------------- mateus-subvocal
def test_mateus_through_a_card(tmp_path, mateus_dir, capsys):
    root = _subset(tmp_path / "mateus-subvocal", mateus_dir, ["saves/P006/F", "saves/P006/S", "saves/P001/A"])
    card = _card(tmp_path, root, "mateus-subvocal", capsys)
    adapter, through_card = load_dataset(root, kind="mateus"), load_dataset(card)
    assert len(adapter) == 9 and adapter.window_mode == through_card.window_mode == "event"
    assert through_card.info["label_map"] == {0: "silence", 1: "sim", 2: "nao", 3: "talvez"}
    assert through_card.summary()["conditions"] == ["mouthed", "subvocal", "vocalized"]
    assert through_card[0].ch_names == ("Channel_1", "Channel_2", "Channel_3", "Channel_4")
    _same_windows(adapter, through_card)
    args = ["--protocol", "transfer", "--train", "condition=vocalized", "--test", "condition=subvocal"]
    head = _same_evaluation(tmp_path, root, card, [*args, "--subjects", "P006", "--model", "lda"], capsys)
    assert list(head["per_subject"]) == ["P006"]

"""Fast end-to-end smoke tests of the evaluation path on each real dataset (docs/results.md).

Each test runs ``myovox evaluate`` in-process on a small subset with a classical model and checks
that the written results.json is complete and clearly above chance. The full-size numbers and their
commands are in docs/results.md; the bounds here are deliberately loose (well under what the
subset gives, well over chance) so that they catch a broken pipeline, not noise.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from myovox.cli.main import main

pytestmark = pytest.mark.realdata


def _evaluate(tmp_path: Path, dataset: Path, *argv: str) -> dict:
    out = tmp_path / "res"
    rc = main(["-q", "evaluate", str(dataset), *argv, "--no-report", "--out", str(out)])
    assert rc == 0
    assert (out / "folds.csv").is_file()
    return json.loads((out / "results.json").read_text())


def test_somach_kfold_one_phase_above_chance(tmp_path: Path, somach_dir: Path) -> None:
    # one phase of Study B (300 trials, 6 classes, chance 1/6), 2 shuffled stratified folds
    res = _evaluate(
        tmp_path,
        somach_dir / "studyB_5phase" / "Phase_1_Overt",
        "--protocol",
        "kfold",
        "--model",
        "rf",
        "--folds",
        "2",
        "--seed",
        "42",
    )
    assert res["protocol"] == "kfold" and len(res["folds"]) == 2
    assert sum(f["n_test"] for f in res["folds"]) >= 290  # a few trials shorter than 0.7 s are dropped
    assert res["mean"] > 0.45, res["mean"]  # chance 0.167; the subset gives 0.68


def test_longterm_inter_day_transfer_above_chance(tmp_path: Path, longterm_dir: Path) -> None:
    # one subject, train on day 1, test on day 4 (same band position, re-donned): 22 classes
    res = _evaluate(
        tmp_path,
        longterm_dir / "data" / "sub2",
        "--protocol",
        "transfer",
        "--model",
        "lda",
        "--train",
        "day=1",
        "--test",
        "day=4",
    )
    (fold,) = res["folds"]
    assert fold["n_train"] == 88 and fold["n_test"] == 88
    assert res["mean"] > 0.7, res["mean"]  # chance 0.045; gives 0.94


def test_mateus_kfold_one_subject_above_chance(tmp_path: Path, mateus_dir: Path) -> None:
    # one subject, vocalized, 4 classes (silence + 3 words; word identity is confounded with
    # its recording block, see the dataset's README), 2 folds
    res = _evaluate(
        tmp_path, mateus_dir / "saves" / "P006" / "F", "--protocol", "kfold", "--model", "lda", "--folds", "2"
    )
    assert len(res["folds"]) == 2 and set(res["per_subject"]) == {"P006"}
    assert res["mean"] > 0.5, res["mean"]  # chance 0.25; gives 0.75

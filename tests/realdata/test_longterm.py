"""longterm-armband facts, read once per session."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from myovox.datasets import Dataset, detect_dataset, load_dataset, longterm

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def longterm_all(longterm_dir: Path) -> Dataset:
    t0 = time.perf_counter()
    ds = load_dataset(longterm_dir)
    print(f"\nlongterm: {len(ds)} files loaded in {time.perf_counter() - t0:.2f} s")
    return ds


def test_4400_files_22_motions_10_days_5_subjects(longterm_all: Dataset) -> None:
    assert len(longterm_all) == 4400
    assert longterm_all.meta_values("subject") == [f"sub{i}" for i in range(1, 6)]
    assert longterm_all.meta_values("day") == list(range(1, 11))
    assert longterm_all.meta_values("motion") == list(range(1, 23))
    per_cell = Counter((r.meta["subject"], r.meta["day"], r.meta["motion"]) for r in longterm_all)
    assert set(per_cell.values()) == {4} and len(per_cell) == 5 * 10 * 22


def test_signals_labels_positions(longterm_all: Dataset) -> None:
    assert {r.data.shape for r in longterm_all} == {(8, 300)}
    assert {r.sfreq for r in longterm_all} == {200.0}
    for r in longterm_all.recordings[::50]:
        assert np.all(r.labels == r.meta["motion"] - 1)
        assert r.meta["position"] == "NIONIIOONN"[r.meta["day"] - 1]
        assert r.meta["session"] == r.meta["day"]
    assert longterm_all.info["rest_label"] == 0 and longterm_all[0].label_names[0] == "M1 (rest)"
    assert longterm_all.info["n_trials_shorter_than_window"] == 0 and longterm_all.window_s == 1.5
    assert longterm_all.info["n_rows_skipped"] == 0
    assert all(r.n_nonfinite() == 0 for r in longterm_all)


def test_detection_and_subfolder(longterm_dir: Path, longterm_all: Dataset) -> None:
    for sub in ("", "data", "data/sub2", "data/sub2/day7"):
        assert detect_dataset(longterm_dir / sub) == "longterm", sub
    assert not longterm.detect(longterm_dir.parent)
    day = load_dataset(longterm_dir / "data" / "sub2" / "day7")  # 88 small files, read again
    assert len(day) == 88 and day.meta_values("position") == ["O"]
    same = longterm_all.select(subject="sub2", day=7)
    assert [r.source for r in day] == [r.source for r in same]

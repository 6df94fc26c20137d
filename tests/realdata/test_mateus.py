"""mateus-subvocal facts, read once per session."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from myovox.datasets import Dataset, detect_dataset, load_dataset, mateus

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def mateus_all(mateus_dir: Path) -> Dataset:
    t0 = time.perf_counter()
    ds = load_dataset(mateus_dir)
    print(f"\nmateus: {len(ds)} files loaded in {time.perf_counter() - t0:.2f} s")
    return ds


def test_sixty_files_in_the_documented_conditions(mateus_all: Dataset) -> None:
    assert len(mateus_all) == 60
    subjects = [f"P{i:03d}" for i in range(1, 11)]
    assert mateus_all.meta_values("subject") == subjects
    conds = Counter((r.meta["subject"], r.meta["condition"]) for r in mateus_all)
    for i, s in enumerate(subjects):
        assert conds[(s, "vocalized")] == 3
        assert conds[(s, "mouthed")] == (3 if i < 5 else 0)
        assert conds[(s, "subvocal")] == (0 if i < 5 else 3)
    assert Counter(r.meta["word"] for r in mateus_all) == {"sim": 20, "nao": 20, "talvez": 20}


def test_channels_rate_labels_and_railing(mateus_all: Dataset) -> None:
    assert {r.n_channels for r in mateus_all} == {4} and {r.sfreq for r in mateus_all} == {250.0}
    info = mateus_all.info
    assert info["railed_channels_files"]["Channel_5"] >= 59
    assert all(f"Channel_{i}" not in info["railed_channels_files"] for i in range(1, 5))
    total_h = sum(r.duration for r in mateus_all) / 3600
    assert total_h == pytest.approx(1.62, abs=0.01)
    for r in mateus_all:
        word_code = {"sim": 1, "nao": 2, "talvez": 3}[r.meta["word"]]
        assert set(np.unique(r.labels)) == {0, word_code}
    seg_s = info["median_segment_s"]
    assert 0.75 <= seg_s <= 0.85 and mateus_all.window_s < seg_s
    assert info["n_segments_shorter_than_window"] < 0.01 * sum(len(r.label_runs()) for r in mateus_all)
    assert info["rest_label"] == 0 and info["filter"]["notch"] == 60.0
    assert mateus_all.window_mode == "event"


def test_detection_and_subfolder(mateus_dir: Path, mateus_all: Dataset) -> None:
    for sub in ("", "saves", "saves/P003", "saves/P003/A", "saves/P008/S"):
        assert detect_dataset(mateus_dir / sub) == "mateus", sub
    assert not mateus.detect(mateus_dir.parent)
    sub = load_dataset(mateus_dir / "saves" / "P003" / "A")  # 3 small files, read again
    assert len(sub) == 3 and sub.meta_values("condition") == ["mouthed"]
    same = mateus_all.select(subject="P003", condition="mouthed")
    assert [r.source for r in sub] == [r.source for r in same]
    np.testing.assert_array_equal(sub[0].data, same[0].data)

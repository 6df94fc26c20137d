"""somach-silent-speech facts, read once per session (every trial file is parsed exactly once)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from myovox.datasets import Dataset, detect_dataset, load_dataset, somach

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def somach_all(somach_dir: Path) -> Dataset:
    """Studies A, B and the covert sessions (the root's default selection)."""
    t0 = time.perf_counter()
    ds = load_dataset(somach_dir)
    print(f"\nsomach: {len(ds)} trials loaded in {time.perf_counter() - t0:.2f} s")
    return ds


@pytest.fixture(scope="module")
def somach_pilot(somach_dir: Path) -> Dataset:
    return load_dataset(somach_dir / "pilot_mouthing")


def test_study_b_has_1500_trials_in_6_balanced_classes(somach_all: Dataset) -> None:
    b = somach_all.select(study="B")
    assert len(b) == 1500
    assert b.summary()["classes"] == dict.fromkeys(somach.STUDY_CLASSES, 250)
    per_phase = Counter(r.meta["phase"] for r in b)
    assert per_phase == dict.fromkeys(somach.PHASES, 300)
    assert b.meta_values("session") == ["studyB"]


def test_study_a_and_covert_sessions(somach_all: Dataset) -> None:
    a = somach_all.select(study="A")
    assert len(a) == 900 and a.meta_values("phase") == ["1_Overt", "3_Mouthing", "5_Exaggerated"]
    covert = somach_all.select(study="covert")
    assert Counter(r.meta["session"] for r in covert) == {"A": 934, "B": 300, "C": 300}
    assert covert.meta_values("phase") == ["6_Covert"]


def test_signals_labels_and_info(somach_all: Dataset) -> None:
    assert len(somach_all) == 3934
    assert {r.n_channels for r in somach_all} == {2} and {r.sfreq for r in somach_all} == {250.0}
    for r in somach_all.recordings[::97]:
        assert r.ch_names == ("CH1", "CH2")
        assert len(r.label_runs()) == 1  # constant label per trial
        assert r.label_names[int(r.labels[0])] == Path(r.source).name.split("_")[0]
        assert r.data.min() >= 0 and r.data.max() <= 4095
    info = somach_all.info
    assert info["sfreq_from_timestamps"] == pytest.approx(250.0) and info["sfreq_matches_timestamps"]
    assert info["n_trials_irregular_timestamps"] == 0 and info["n_rows_skipped"] == 0
    # 0.7 s windows: all but 18 trials (0.5 %) are long enough; the shortest is 25 samples
    assert info["n_trials_shorter_than_window"] == 18
    assert info["shortest_trial_s"] == pytest.approx(25 / 250)
    assert info["rest_label"] is None and info["filter"] == {"highpass": 0.5, "notch": None}
    assert somach_all.window_mode == "trial"


def test_pilot_has_99_trials_with_3_channels(somach_pilot: Dataset) -> None:
    assert len(somach_pilot) == 99
    assert {r.n_channels for r in somach_pilot} == {3}
    assert set(somach_pilot.summary()["classes"]) == set(somach.PILOT_CLASSES)
    assert somach_pilot.meta_values("study") == ["pilot"]
    assert somach_pilot.info["n_trials_shorter_than_window"] == 0


def test_detection_of_root_and_subfolders(somach_dir: Path) -> None:
    for sub in (
        "",
        "studyB_5phase",
        "studyA_3phase",
        "studyB_5phase/Phase_6_Covert",
        "covert_sessions",
        "covert_sessions/session_A",
        "pilot_mouthing",
    ):
        assert detect_dataset(somach_dir / sub) == "somach", sub
    assert not somach.detect(somach_dir.parent)
    assert not somach.detect(somach_dir.parent / "mateus-subvocal")

"""SilentWear adapter: detection at every level, raw and processed trees, selection, order."""

from __future__ import annotations

import numpy as np
import pytest

from myovox import DataLossWarning, Recording, ValidationError
from myovox.datasets import detect_dataset, load_dataset
from myovox.datasets.silentwear import CHANNEL_ORDER, detect, load
from myovox.io.silentwear_h5 import write_silentwear_h5
from myovox.preprocessing.filters import filter_silentwear as zero_phase_filter

pytest.importorskip("pandas")


def _rec(subject: str, cond: str, session: int, batch: int, n: int = 2500) -> Recording:
    rng = np.random.default_rng(hash((subject, cond, session, batch)) % 2**32)
    data = (rng.normal(0, 30, (16, n)) + 500 * np.arange(1, 17)[:, None]).astype(np.float32)
    labels = np.zeros(n, dtype=np.int64)
    labels[800:1000] = 1 + (session + batch) % 8
    labels[1400:1600] = 1 + (session * batch) % 8
    return Recording(
        data,
        500.0,
        [f"Ch_{i}" for i in range(16)],
        labels,
        meta={"subject": subject, "condition": cond, "session": session, "batch": batch, "units": "0.1 uV"},
    )


PLAN = [
    ("S02", "silent", 1, 2),
    ("S01", "vocalized", 2, 1),
    ("S01", "silent", 1, 1),
    ("S01", "vocalized", 1, 2),
    ("S01", "vocalized", 1, 1),
    ("S02", "silent", 1, 1),
]


@pytest.fixture
def processed_tree(tmp_path):
    root = tmp_path / "data_raw_and_filt"
    for subj, cond, s, b in PLAN:
        (root / subj / cond).mkdir(parents=True, exist_ok=True)
        write_silentwear_h5(_rec(subj, cond, s, b), root / subj / cond / f"sess_{s}_batch_{b}.h5")
    (root / "S01" / "summary_file.csv").write_text("subject\n")  # ignored
    return root


@pytest.fixture
def raw_tree(tmp_path):
    from myovox.io import bio

    root = tmp_path / "raw"
    for subj, cond, s, b in PLAN[:3]:
        (root / subj / cond).mkdir(parents=True, exist_ok=True)
        bio.write_bio(_rec(subj, cond, s, b), root / subj / cond / f"sess_{s}_batch_{b}_2026-01-0{s}_10-00-00.bio")
    return root


def test_detect_levels(processed_tree, tmp_path):
    assert detect(processed_tree) and detect(tmp_path)  # the release folder and its parent
    assert detect(processed_tree / "S01") and detect(processed_tree / "S01" / "silent")
    assert not detect(processed_tree / "S01" / "silent" / "sess_1_batch_1.h5")  # a file
    other = tmp_path / "other"
    (other / "x" / "y").mkdir(parents=True)
    (other / "x" / "y" / "sess_1_batch_1.h5").write_text("")  # not in a condition folder
    assert not detect(other)
    (other / "S09" / "silent").mkdir(parents=True)
    (other / "S09" / "silent" / "notes.txt").write_text("")
    assert not detect(other)
    assert detect_dataset(processed_tree / "S02") == "silentwear"


def test_load_processed_sorted_and_ordered(processed_tree):
    ds = load_dataset(processed_tree)
    assert ds.name == "silentwear" and ds.window_s == 1.4 and ds.window_mode == "event"
    keys = [(r.meta["subject"], r.meta["condition"], r.meta["session"], r.meta["batch"]) for r in ds]
    assert keys == sorted(PLAN)
    assert all(r.ch_names == CHANNEL_ORDER for r in ds)
    assert ds.info["filter"] == {"highpass": 20.0, "notch": 50.0}
    assert ds.info["channels"] == list(CHANNEL_ORDER) and ds.info["rest_label"] == 0
    assert ds.info["labels"][8] == "stop" and ds.info["source"] == "processed"
    r0 = ds[0]
    assert r0.meta["filtered"] is True and r0.meta["dataset"] == "silentwear"
    # the filtered signal is the one filtered over the whole recording, then trimmed
    orig = _rec(*keys[0])
    whole = zero_phase_filter(orig.pick(list(CHANNEL_ORDER)).data, 500.0)
    first = r0.meta["first_sample"]
    np.testing.assert_allclose(r0.data, whole[:, first : first + r0.n_times], rtol=1e-9, atol=1e-9)
    raw = load(processed_tree, filtered=False)
    assert raw[0].meta["filtered"] is False
    np.testing.assert_array_equal(raw[0].data, orig.pick(list(CHANNEL_ORDER)).data[:, first : first + r0.n_times])


def test_selection(processed_tree):
    ds = load(processed_tree, subjects="S01", conditions=["vocalized"], sessions=1)
    assert [(r.meta["session"], r.meta["batch"]) for r in ds] == [(1, 1), (1, 2)]
    assert len(load(processed_tree / "S02" / "silent", batches=[2])) == 1
    assert load(processed_tree).summary()["subjects"] == ["S01", "S02"]
    with pytest.raises(ValidationError, match=r"'S03' not in this dataset \(has S01, S02\)"):
        load(processed_tree, subjects=["S03"])
    with pytest.raises(ValidationError, match=r"conditions.*Did you mean 'silent'"):
        load(processed_tree, conditions="silnet")
    with pytest.raises(ValidationError, match=r"sessions.*7"):
        load(processed_tree, sessions=7)
    with pytest.raises(ValidationError, match="no recording matches"):
        load(processed_tree, subjects="S02", conditions="vocalized")
    with pytest.raises(ValidationError, match="no SilentWear raw files"):
        load(processed_tree, source="raw")
    with pytest.raises(ValidationError, match="source"):
        load(processed_tree, source="both")


def test_raw_tree_filters_whole_recording(raw_tree, tmp_path):
    assert detect(raw_tree) and detect(raw_tree / "S01")
    ds = load(raw_tree)
    assert ds.info["source"] == "raw" and len(ds) == 3
    assert [r.meta["subject"] for r in ds] == ["S01", "S01", "S02"]
    r = ds[0]
    orig = _rec("S01", "silent", 1, 1).pick(list(CHANNEL_ORDER))
    assert r.ch_names == CHANNEL_ORDER and r.n_times == orig.n_times and r.meta["filtered"] is True
    np.testing.assert_allclose(r.data, zero_phase_filter(orig.data, 500.0), rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(r.labels, orig.labels)
    unf = load(raw_tree, filtered=False, subjects="S01")
    np.testing.assert_array_equal(unf[0].data, orig.data)
    # a folder with both kinds: processed by default, raw on request
    proc = tmp_path / "data_raw_and_filt" / "S01" / "silent"
    proc.mkdir(parents=True)
    write_silentwear_h5(_rec("S01", "silent", 1, 1), proc / "sess_1_batch_1.h5")
    assert load(tmp_path).info["source"] == "processed" and len(load(tmp_path)) == 1
    assert len(load(tmp_path, source="raw")) == 3


@pytest.mark.realdata
def test_fixture_raw_and_processed_agree(silentwear_fixtures):
    proc = load(silentwear_fixtures)
    with pytest.warns(DataLossWarning):
        raw = load(silentwear_fixtures, source="raw")
    assert len(proc) == len(raw) == 1  # bad/ and raw_current_layout/ are not SilentWear tree parts
    p, r = proc[0], raw[0]
    assert (p.meta["subject"], p.meta["condition"], p.meta["session"], p.meta["batch"]) == ("S01", "vocalized", 1, 1)
    first = p.meta["first_sample"]
    seg = r.data[:, first : first + p.n_times]
    assert np.max(np.abs(seg - p.data)) <= 1e-6 * np.max(np.abs(p.data))
    np.testing.assert_array_equal(r.labels[first : first + p.n_times], p.labels)
    s = proc.summary()
    assert s["classes"] == {"forward": 1, "left": 1, "rest": 4, "stop": 1}

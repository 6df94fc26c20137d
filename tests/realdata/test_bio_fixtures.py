"""The biogui/SilentWear .bio fixtures (written by the upstream software) against expected.json."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from myovox.exceptions import DataFormatError, DataLossWarning
from myovox.io import read_recording
from myovox.io.bio import TRIGGER_NONE, read_bio, read_bio_signals, write_bio
from myovox.io.biogap import counter_wraps, decode_packets, encode_packets

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def fx(silentwear_fixtures: Path) -> dict:
    exp = json.loads((silentwear_fixtures / "expected.json").read_text())
    return {
        "root": silentwear_fixtures,
        "exp": exp,
        "old": silentwear_fixtures / exp["old_layout_file"]["path"],
        "cur": silentwear_fixtures / exp["current_layout_file"]["path"],
        "trunc": silentwear_fixtures / exp["bad_inputs"]["truncated"]["path"],
        "badhdr": silentwear_fixtures / exp["bad_inputs"]["bad_header"]["path"],
    }


def _read(path: Path, **kw):
    with pytest.warns(DataLossWarning, match=r"2 packet\(s\) lost"):
        return read_bio(path, **kw)


def _sha_f32(data: np.ndarray) -> str:
    rows = np.ascontiguousarray(data.T.astype("<f4"))
    return hashlib.sha256(rows.tobytes()).hexdigest()


def _runs(x: np.ndarray) -> list[list[int]]:
    starts = np.concatenate([[0], np.flatnonzero(np.diff(x)) + 1])
    return [[int(s), int(x[s])] for s in starts]


def _sha_file(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_fixture_files_are_the_expected_ones(fx):
    assert _sha_file(fx["old"]) == fx["exp"]["old_layout_file"]["sha256"]
    assert _sha_file(fx["cur"]) == fx["exp"]["current_layout_file"]["sha256"]


@pytest.mark.parametrize("which", ["old", "cur"])
def test_emg_matrix_matches_ground_truth(fx, which):
    rec = _read(fx[which])
    e = fx["exp"]["recording"]
    chk = e["emg_checks"]
    assert rec.data.shape == (e["n_channels"], e["n_emg_samples"])
    assert rec.sfreq == e["fs_emg_hz"]
    assert rec.ch_names == tuple(f"Ch_{i}" for i in range(16))
    assert _sha_f32(rec.data) == chk["sha256_float32_le_c_order"]
    np.testing.assert_array_equal(rec.data[:, 0], chk["row0"])
    np.testing.assert_array_equal(rec.data[:, -1], chk["row_last"])
    assert float(rec.data.astype(np.float64).sum()) == pytest.approx(chk["sum_float64"], rel=1e-12)
    assert rec.data.min() == chk["min"] and rec.data.max() == chk["max"]
    assert rec.meta["units"] == "0.1 uV" and rec.meta["device"] == "BioGAP-Ultra"
    assert rec.meta["layout"] == ("old" if which == "old" else "current")
    assert rec.meta["samples_per_packet"] == e["samples_per_packet"]
    assert rec.meta["session"] == e["session_id"] and rec.meta["batch"] == e["batch_id"]
    assert rec.meta["start_time"] == "2026-01-27T10:00:00"


def test_path_metadata_old_layout(fx):
    rec = _read(fx["old"])
    e = fx["exp"]["recording"]
    assert (rec.meta["subject"], rec.meta["condition"]) == (e["subject"], e["condition"])
    assert rec.meta["source"] == str(fx["old"])
    assert "subject" not in _read(fx["cur"]).meta  # raw_current_layout/ is not a condition folder


@pytest.mark.parametrize("which", ["old", "cur"])
def test_labels_timestamps_counter_and_lost_packets(fx, which):
    rec = _read(fx[which])
    e = fx["exp"]["recording"]
    assert _runs(rec.labels) == e["trigger_runs_old_by_emg_sample"]
    assert _runs(rec.labels[::4]) == e["trigger_runs_old_by_packet"]
    ts = rec.meta["timestamps"]
    assert ts.dtype == np.float64 and ts.shape == (e["n_timestamps"],)
    assert ts[0] == e["timestamps_epoch_s"]["first"] and ts[-1] == e["timestamps_epoch_s"]["last"]
    cnt = rec.meta["counter"]
    assert cnt.size == e["n_counter_samples"]
    assert cnt[0] == e["counter"]["first"] and cnt[-1] == e["counter"]["last"]
    assert cnt[:5].tolist() == e["counter"]["first5"]
    assert counter_wraps(cnt).tolist() == e["counter"]["wrap_written_packet_indices"]
    got = rec.meta["lost_packets"]
    assert len(got) == len(e["lost_packets"]) == rec.meta["n_lost_packets"]
    for g, x in zip(got, e["lost_packets"], strict=False):
        for key in (
            "written_packet_index_after_gap",
            "emg_sample_index_after_gap",
            "counter_before_gap",
            "counter_after_gap",
        ):
            assert g[key] == x[key], key
        assert g["missing_counter_values"] == [x["missing_counter_value"]] and g["n_lost"] == 1
        assert ts[g["written_packet_index_after_gap"]] - ts[g["written_packet_index_after_gap"] - 1] == pytest.approx(
            x["timestamp_step_s"], abs=1e-9
        )
        assert rec.labels[g["emg_sample_index_after_gap"]] == x["trigger_at_gap_old"]


def test_current_layout_trigger_strings(fx):
    rec = _read(fx["cur"])
    cur = fx["exp"]["current_layout_file"]
    ids, labs = rec.meta["trigger_ids"], rec.meta["trigger_labels"]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(ids)) + 1])
    assert [[int(s), int(ids[s]), labs[s]] for s in starts] == cur["trigger_runs_by_packet"]
    assert rec.label_names == {0: "rest", 8: "stop", 3: "left", 5: "forward"}
    assert TRIGGER_NONE in ids.tolist() and rec.labels.min() == 0  # init/finished -> rest


def test_old_layout_label_names_are_silentwear_map(fx):
    rec = _read(fx["old"])
    assert rec.label_names == {int(k): v for k, v in fx["exp"]["recording"]["label_map"].items()}


def test_headers_match(fx):
    old = read_bio_signals(fx["old"])
    h = fx["exp"]["old_layout_file"]["header"]
    assert old.layout == "old" and old.fs_base == h["fs_base"] and old.n_base == h["n_samp_base"]
    assert old.has_trigger is h["has_trigger"] and not old.truncated
    assert old.expected_size == old.size == fx["exp"]["old_layout_file"]["size_bytes"]
    for sig, got in zip(h["signals"], old.headers.values(), strict=False):
        assert (got.name, got.fs, got.n_samples, got.n_channels, got.dtype_code) == (
            sig["name"],
            sig["fs"],
            sig["n_samp"],
            sig["n_ch"],
            sig["dtype_code"],
        )
    cur = read_bio_signals(fx["cur"])
    hc = fx["exp"]["current_layout_file"]["header"]
    assert cur.layout == "current" and cur.expected_size == fx["exp"]["current_layout_file"]["size_bytes"]
    for sig, got in zip(hc["signals"], cur.headers.values(), strict=False):
        assert (got.name, got.fs, got.n_samples, got.n_channels, got.dtype_code, got.n_timestamps, got.n_triggers) == (
            sig["name"],
            sig["fs"],
            sig["n_samp_data"],
            sig["n_ch"],
            sig["dtype_code"],
            sig["n_samp_ts"],
            sig["n_samp_trigger"],
        )
    assert old.signals["counter"].dtype == np.int32 and old.signals["biogap"].dtype == np.float32


def test_both_layouts_decode_to_the_same(fx):
    a, b = read_bio_signals(fx["old"]), read_bio_signals(fx["cur"])
    for name in ("biogap", "counter"):
        np.testing.assert_array_equal(a.signals[name], b.signals[name])
        np.testing.assert_array_equal(b.signal_timestamps[name], a.timestamps)
    ra, rb = _read(fx["old"]), _read(fx["cur"])
    np.testing.assert_array_equal(ra.data, rb.data)
    np.testing.assert_array_equal(ra.labels, rb.labels)
    assert ra.meta["lost_packets"] == rb.meta["lost_packets"]


@pytest.mark.parametrize("src", ["old", "cur"])
@pytest.mark.parametrize("layout", ["old", "current"])
def test_rewriting_gives_the_same_bytes(fx, tmp_path, src, layout):
    """BioFile and Recording written back in either layout reproduce the upstream writer's bytes."""
    want = fx["exp"]["old_layout_file" if layout == "old" else "current_layout_file"]["sha256"]
    bf = read_bio_signals(fx[src])
    rec = _read(fx[src])
    if src == "old" and layout == "current":
        # the old layout has no trigger strings nor init/finished: bytes differ, content must not
        out = write_bio(rec, tmp_path / "x.bio", layout=layout)
        with pytest.warns(DataLossWarning):
            back = read_bio(out)
        np.testing.assert_array_equal(back.data, rec.data)
        np.testing.assert_array_equal(back.labels, rec.labels)
        return
    assert _sha_file(write_bio(bf, tmp_path / "a.bio", layout=layout)) == want
    assert _sha_file(write_bio(rec, tmp_path / "b.bio", layout=layout)) == want


def test_fill_lost_nan_restores_true_time(fx):
    rec = _read(fx["old"], fill_lost="nan")
    e = fx["exp"]["recording"]
    assert rec.n_times == e["n_packets_ideal"] * 4
    idx = [x["ideal_packet_index"] for x in e["lost_packets"]]
    assert rec.meta["inserted_packets"].tolist() == idx
    assert np.isnan(rec.data).sum() == 2 * 4 * 16
    for i in idx:
        assert np.isnan(rec.data[:, 4 * i : 4 * i + 4]).all()
    cnt = rec.meta["counter"]
    assert np.all(np.diff(cnt) % 256 == 1)  # complete counter
    assert np.all(np.diff(rec.meta["timestamps"]) > 0)
    assert rec.labels[4 * idx[0]] == 3 and rec.labels[4 * idx[1]] == 0  # carried labels


def test_truncated_recovers_complete_rows(fx):
    exp = fx["exp"]["bad_inputs"]["truncated"]
    with pytest.warns(DataLossWarning) as rec_w:
        rec = read_bio(fx["trunc"])
    msgs = " | ".join(str(w.message) for w in rec_w)
    assert str(fx["trunc"]) in msgs and "4746 of 9492" in msgs and "labels are not given" in msgs
    assert rec.n_times == exp["complete_biogap_rows_before_cut"]
    full = read_bio_signals(fx["old"]).signals["biogap"]
    np.testing.assert_array_equal(rec.data, full[: rec.n_times].T)
    assert rec.labels is None
    assert rec.meta["timestamps"].size == fx["exp"]["recording"]["n_timestamps"]  # timestamps kept
    with pytest.raises(DataFormatError, match=r"truncated.*promises more samples"):
        read_bio_signals(fx["trunc"], on_truncated="raise")


def test_bad_header_is_a_one_line_format_error(fx):
    with pytest.raises(DataFormatError) as err:
        read_bio(fx["badhdr"])
    msg = str(err.value)
    assert "bad_header.bio" in msg and "4294967295 signals" in msg and "\n" not in msg


def test_read_recording_dispatches_bio(fx):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataLossWarning)
        rec = read_recording(fx["old"])
    assert rec.n_times == fx["exp"]["recording"]["n_emg_samples"]


def test_packets_roundtrip_fixture_samples(fx):
    """The fixture's float32 samples are exactly BioGAP codes: encode -> decode is lossless."""
    bf = read_bio_signals(fx["old"])
    emg = bf.signals["biogap"]
    cnt = bf.signals["counter"][:, 0]
    samples, counters = decode_packets(encode_packets(emg, counters=cnt))
    np.testing.assert_array_equal(samples, emg)
    np.testing.assert_array_equal(counters, cnt)

"""SilentWear processed h5: reader on the reference's file, writer against it, edge cases."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from myovox import DataFormatError, DataLossWarning, DataQualityWarning, Recording, ValidationError
from myovox.io import read_recording, write_recording
from myovox.io.silentwear_h5 import (
    COLUMNS,
    KEPT_CHANNELS,
    parse_silentwear_path,
    read_silentwear_h5,
    trim_bounds,
    write_silentwear_h5,
)
from myovox.preprocessing.filters import filter_silentwear as zero_phase_filter

pd = pytest.importorskip("pandas")

H5 = "data_raw_and_filt/S01/vocalized/sess_1_batch_1.h5"
BIO = "raw/S01/vocalized/sess_1_batch_1_2026-01-27_10-00-00.bio"


def _expected(fix):
    return json.loads((fix / "expected.json").read_text())["processed_h5"]


def _synthetic(n=3000, seed=0, n_ch=16) -> Recording:
    rng = np.random.default_rng(seed)
    data = (rng.normal(0, 50, (n_ch, n)) + 1000 * np.arange(1, n_ch + 1)[:, None]).astype(np.float32)
    labels = np.zeros(n, dtype=np.int64)
    labels[1000:1500] = 3
    labels[2000:2200] = 8
    return Recording(
        data,
        500.0,
        [f"Ch_{i}" for i in range(n_ch)],
        labels,
        meta={"session": 2, "batch": 4, "subject": "S07", "condition": "silent"},
    )


def test_read_fixture_matches_expected(silentwear_fixtures):
    exp = _expected(silentwear_fixtures)
    rec = read_silentwear_h5(silentwear_fixtures / H5)
    assert rec.ch_names == KEPT_CHANNELS and rec.n_channels == 14
    assert rec.n_times == exp["shape"][0] and rec.sfreq == 500.0
    assert rec.data.dtype == np.float32
    assert rec.meta["first_sample"] == exp["index"]["first"]
    assert (rec.meta["subject"], rec.meta["condition"]) == ("S01", "vocalized")
    assert (rec.meta["session"], rec.meta["batch"]) == (exp["session_id"], exp["batch_id"])
    assert rec.meta["units"] == "0.1 uV" and rec.meta["filtered"] is False
    assert rec.data[0, 0] == pytest.approx(exp["checks"]["Ch_0_first"], abs=0)
    assert rec.data[-1, -1] == pytest.approx(exp["checks"]["Ch_15_last"], abs=0)
    runs = [[a + exp["index"]["first"], lab] for a, _, lab in rec.label_runs()]
    assert runs == exp["label_int_runs_by_index"]
    counts = {str(k): int(v) for k, v in zip(*np.unique(rec.labels, return_counts=True), strict=False)}
    assert counts == exp["label_counts"]
    assert rec.label_names[8] == "stop" and rec.label_names[0] == "rest"

    filt = read_silentwear_h5(silentwear_fixtures / H5, filtered=True)
    assert filt.meta["filtered"] is True and filt.data.dtype == np.float64
    assert filt.data[0, 0] == pytest.approx(exp["checks"]["Ch_0_filt_first"], rel=1e-12)
    assert filt.data[-1, -1] == pytest.approx(exp["checks"]["Ch_15_filt_last"], rel=1e-12)
    # dispatch by ending
    assert read_recording(silentwear_fixtures / H5).n_times == rec.n_times


def test_write_from_bio_reproduces_reference(silentwear_fixtures, tmp_path):
    from myovox.io import bio

    with pytest.warns(DataLossWarning, match="2 packet"):  # the fixture lost two packets
        raw = bio.read_bio(silentwear_fixtures / BIO)
    out = write_silentwear_h5(raw, tmp_path / "sess_1_batch_1.h5")
    ours = pd.read_hdf(out, "emg")
    ref = pd.read_hdf(silentwear_fixtures / H5, "emg")
    assert list(ours.columns) == list(ref.columns) == list(COLUMNS)
    assert [str(t) for t in ours.dtypes] == [str(t) for t in ref.dtypes]
    assert ours.index.equals(ref.index)
    for col in ("Label_int", "Label_str", "session_id", "batch_id"):
        assert (ours[col] == ref[col]).all(), col
    raw_cols = list(KEPT_CHANNELS)
    np.testing.assert_array_equal(ours[raw_cols].to_numpy(), ref[raw_cols].to_numpy())
    filt_cols = [c + "_filt" for c in raw_cols]
    a, b = ours[filt_cols].to_numpy(), ref[filt_cols].to_numpy()
    assert np.max(np.abs(a - b)) <= 1e-6 * np.max(np.abs(b))


def test_filter_of_whole_recording_matches_reference(silentwear_fixtures):
    """Our filter over the whole recording (as the reference) reproduces the Ch_i_filt columns.

    The raw samples outside the trimmed part are not in the h5, so this compares the interior,
    away from the edges, where the unknown head and tail no longer matter (checks the design).
    """
    rec = read_silentwear_h5(silentwear_fixtures / H5)
    ref = read_silentwear_h5(silentwear_fixtures / H5, filtered=True)
    ours = zero_phase_filter(rec.data, rec.sfreq)
    mid = slice(1500, rec.n_times - 1500)
    err = np.max(np.abs(ours[:, mid] - ref.data[:, mid])) / np.max(np.abs(ref.data[:, mid]))
    assert err < 1e-3


def test_write_read_roundtrip_synthetic(tmp_path):
    rec = _synthetic()
    (tmp_path / "S07" / "silent").mkdir(parents=True)
    path = write_silentwear_h5(rec, tmp_path / "S07" / "silent" / "sess_2_batch_4.h5")
    df = pd.read_hdf(path, "emg")
    assert list(df.columns) == list(COLUMNS)
    assert df.index[0] == 500 and df.index[-1] == 2199 + 500 - 1
    back = read_silentwear_h5(path)
    np.testing.assert_array_equal(back.data, rec.data[[int(c[3:]) for c in KEPT_CHANNELS], 500:2699])
    np.testing.assert_array_equal(back.labels, rec.labels[500:2699])
    assert back.meta["first_sample"] == 500
    assert (back.meta["session"], back.meta["batch"], back.meta["subject"], back.meta["condition"]) == (
        2,
        4,
        "S07",
        "silent",
    )
    assert back.label_names[3] == "left"
    # re-writing what was read keeps the index (no second trim, offset kept)
    again = write_silentwear_h5(back, tmp_path / "again.h5")
    assert pd.read_hdf(again, "emg").index.equals(df.index)
    # filtered columns are filtered over the whole recording, not the trimmed part
    whole = zero_phase_filter(rec.data[[int(c[3:]) for c in KEPT_CHANNELS]].astype(np.float32), 500.0)
    np.testing.assert_allclose(df["Ch_0_filt"].to_numpy(), whole[0, 500:2699], rtol=1e-10, atol=1e-9)


def test_write_untrimmed_and_14_channels(tmp_path):
    rec = _synthetic().pick(list(KEPT_CHANNELS))
    path = write_recording(rec, tmp_path / "x.h5", trim=False)
    df = pd.read_hdf(path, "emg")
    assert len(df) == rec.n_times and df.index[0] == 0
    assert (df["session_id"] == 2).all() and df["session_id"].dtype == np.int64


def test_write_refuses_bad_input(tmp_path):
    rec = _synthetic()
    write_silentwear_h5(rec, tmp_path / "a.h5")
    with pytest.raises(ValidationError, match="exists"):
        write_silentwear_h5(rec, tmp_path / "a.h5")
    write_silentwear_h5(rec, tmp_path / "a.h5", overwrite=True)
    with pytest.raises(ValidationError, match="no labels"):
        write_silentwear_h5(rec.copy(labels=None), tmp_path / "b.h5")
    with pytest.raises(ValidationError, match="Ch_13"):
        write_silentwear_h5(_synthetic(n_ch=8), tmp_path / "c.h5")
    filt = rec.copy(meta={**rec.meta, "filtered": True})
    with pytest.raises(ValidationError, match="already filtered"):
        write_silentwear_h5(filt, tmp_path / "d.h5")


def test_missing_columns_and_bad_files(tmp_path):
    df = pd.DataFrame({"Ch_0": np.zeros(10, np.float32), "Label_int": np.zeros(10, np.int32)})
    df.to_hdf(tmp_path / "m.h5", key="emg", mode="w")
    with pytest.raises(DataFormatError, match=r"m\.h5.*Ch_1.*Ch_15"):
        read_silentwear_h5(tmp_path / "m.h5")
    df.to_hdf(tmp_path / "k.h5", key="other", mode="w")
    with pytest.raises(DataFormatError, match="no key 'emg'"):
        read_silentwear_h5(tmp_path / "k.h5")
    (tmp_path / "junk.h5").write_bytes(b"not an hdf5 file at all")
    with pytest.raises(DataFormatError, match=r"junk.h5"):
        read_silentwear_h5(tmp_path / "junk.h5")
    with pytest.raises(FileNotFoundError):
        read_silentwear_h5(tmp_path / "absent.h5")


def test_nan_warns_with_count(tmp_path):
    rec = _synthetic()
    data = rec.data.copy()
    data[0, 1200:1203] = np.nan
    data[5, 1300] = np.inf
    with pytest.raises(ValidationError, match="4 NaN"):
        write_silentwear_h5(rec.copy(data=data), tmp_path / "n.h5")
    path = write_silentwear_h5(rec, tmp_path / "n.h5", trim=False)
    df = pd.read_hdf(path, "emg")
    df.loc[1200:1202, "Ch_0"] = np.nan
    df.loc[1300, "Ch_5"] = np.inf
    df.to_hdf(path, key="emg", mode="w")
    with pytest.warns(DataQualityWarning, match=r"4 NaN"):
        read_silentwear_h5(path)


def test_noncontiguous_index_warns(tmp_path):
    rec = _synthetic()
    path = write_silentwear_h5(rec, tmp_path / "g.h5")
    df = pd.read_hdf(path, "emg").drop(index=[900, 901])
    df.to_hdf(tmp_path / "g2.h5", key="emg", mode="w")
    with pytest.warns(DataLossWarning, match="not contiguous"):
        read_silentwear_h5(tmp_path / "g2.h5")


def test_helpers():
    assert parse_silentwear_path("/d/S03/silent/sess_2_batch_5.h5") == {
        "session": 2,
        "batch": 5,
        "condition": "silent",
        "subject": "S03",
    }
    assert parse_silentwear_path("x/sess_1_batch_3_2026-01-01_10-00-00.bio") == {"session": 1, "batch": 3}
    assert parse_silentwear_path("x/other.h5") == {}
    lab = np.zeros(5000, int)
    lab[1000:1100] = 2
    lab[3000:3100] = 1
    assert trim_bounds(lab, 500.0) == (500, 3599)
    assert trim_bounds(np.zeros(10, int), 500.0) == (0, 10)
    lab2 = np.zeros(100, int)
    lab2[10] = 1
    assert trim_bounds(lab2, 500.0) == (0, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = zero_phase_filter(np.ones((2, 600)), 500.0)
    assert y.shape == (2, 600) and np.max(np.abs(y)) < 1e-6  # DC removed

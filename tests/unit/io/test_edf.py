"""EDF+/BDF+ round trips within the format's quantisation; labels as annotations or a channel."""

from __future__ import annotations

import numpy as np
import pytest

from myovox import DataFormatError, DataLossWarning, Recording, ValidationError
from myovox.io import read_recording, write_recording
from myovox.io.edf import read_edf, write_edf

pytest.importorskip("pyedflib")


def _rec(n=1234, seed=3) -> Recording:
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 200, (4, n)) + np.array([[0], [1000], [-5000], [12345.678]])
    labels = np.zeros(n, dtype=np.int64)
    labels[100:300] = 4
    labels[600:850] = 8
    return Recording(
        data,
        500.0,
        ["Ch_0", "Ch_1", "Ch_2", "Ch_3"],
        labels,
        meta={"units": "0.1 uV", "subject": "S02", "session": 3, "batch": 1, "condition": "silent"},
    )


def _step(rec: Recording, bits: int) -> np.ndarray:
    lo, hi = rec.data.min(axis=1), rec.data.max(axis=1)
    return (hi - lo) / (2**bits - 1)


@pytest.mark.parametrize(("suffix", "bits"), [(".edf", 16), (".bdf", 24)])
def test_roundtrip_within_quantisation(tmp_path, suffix, bits):
    rec = _rec()
    path = write_recording(rec, tmp_path / f"r{suffix}")
    back = read_recording(path)
    assert back.n_times == rec.n_times  # padding of the last data record removed
    assert back.sfreq == 500.0 and back.ch_names == rec.ch_names
    err = np.abs(back.data - rec.data).max(axis=1)
    # half a step of the (slightly widened) physical range, plus a little slack for the rounding
    assert np.all(err <= 0.51 * _step(rec, bits) * 1.001 + 1e-9), (err, _step(rec, bits))
    if bits == 16:
        assert np.all(err > 0.2 * _step(rec, bits))  # it really is quantised
    np.testing.assert_array_equal(back.labels, rec.labels)
    assert back.label_names[4] == "right" and back.label_names[8] == "stop"
    assert back.meta["units"] == "0.1 uV"
    assert (back.meta["subject"], back.meta["session"], back.meta["batch"], back.meta["condition"]) == (
        "S02",
        3,
        1,
        "silent",
    )


def test_bdf_is_finer_than_edf(tmp_path):
    rec = _rec()
    e = read_edf(write_edf(rec, tmp_path / "a.edf"))
    b = read_edf(write_edf(rec, tmp_path / "a.bdf"))
    assert np.abs(b.data - rec.data).max() < np.abs(e.data - rec.data).max() / 100


def test_label_channel(tmp_path):
    rec = _rec()
    path = write_edf(rec, tmp_path / "c.edf", labels="channel")
    back = read_edf(path)
    assert back.ch_names == rec.ch_names  # the Label channel is not a data channel
    np.testing.assert_array_equal(back.labels, rec.labels)
    raw = read_edf(path, label_channel=None)
    assert "Label" in raw.ch_names and raw.labels is None
    with pytest.raises(ValidationError, match="no channel 'Lab'"):
        read_edf(path, label_channel="Lab")


def test_custom_label_names_and_channels(tmp_path):
    rec = _rec()
    rec = rec.copy(label_names={0: "rest", 4: "swallow", 8: "stop"})
    back = read_edf(write_edf(rec, tmp_path / "n.edf"), channels=["Ch_2", "Ch_0"])
    assert back.ch_names == ("Ch_2", "Ch_0")
    names = back.label_names
    assert names[back.labels[150]] == "swallow" and back.labels[700] == 8
    assert back.labels[150] == 4  # label ids are kept (a myovox:label annotation maps names to ids)


def test_errors_and_nan(tmp_path):
    rec = _rec()
    path = write_edf(rec, tmp_path / "x.edf")
    with pytest.raises(ValidationError, match="exists"):
        write_edf(rec, path)
    with pytest.raises(ValidationError, match="labels"):
        write_edf(rec, tmp_path / "y.edf", labels="both")
    data = rec.data.copy()
    data[1, 5:8] = np.nan
    with pytest.warns(DataLossWarning, match="3 sample"):
        write_edf(rec.copy(data=data), tmp_path / "nan.edf")
    bad = tmp_path / "bad.edf"
    bad.write_bytes(b"0" * 300)
    with pytest.raises(DataFormatError, match=r"bad.edf"):
        read_edf(bad)
    with pytest.raises(ValidationError, match="integer sampling rate"):
        write_edf(rec.copy(sfreq=250.5), tmp_path / "r.edf")

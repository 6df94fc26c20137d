"""MNE bridge: units to volts and back, labels as annotations."""

from __future__ import annotations

import numpy as np
import pytest

from myovox import Recording, ValidationError
from myovox.io.mne import from_mne, to_mne, unit_scale

mne = pytest.importorskip("mne")


def _rec(units="0.1 uV") -> Recording:
    rng = np.random.default_rng(2)
    labels = np.zeros(1000, dtype=np.int64)
    labels[200:400] = 5
    labels[600:700] = 1
    return Recording(
        rng.normal(0, 100, (3, 1000)),
        500.0,
        ["a", "b", "c"],
        labels,
        meta={"units": units, "subject": "S01", "session": 2},
    )


def test_roundtrip_units_labels_meta():
    rec = _rec()
    raw = to_mne(rec)
    assert isinstance(raw, mne.io.RawArray)
    assert raw.get_channel_types() == ["emg"] * 3
    np.testing.assert_allclose(raw.get_data(), rec.data * 1e-7)  # 0.1 uV -> V
    assert list(raw.annotations.description) == ["forward", "up"]
    np.testing.assert_allclose(raw.annotations.onset, [0.4, 1.2])
    np.testing.assert_allclose(raw.annotations.duration, [0.4, 0.2])
    back = from_mne(raw)
    np.testing.assert_allclose(back.data, rec.data, rtol=1e-12)
    np.testing.assert_array_equal(back.labels, rec.labels)
    assert back.meta["units"] == "0.1 uV" and back.meta["subject"] == "S01" and back.meta["session"] == 2
    assert back.ch_names == rec.ch_names and back.sfreq == 500.0
    sub = from_mne(raw, picks=["c", "a"])
    assert sub.ch_names == ("c", "a")
    np.testing.assert_allclose(sub.data[0], rec.data[2], rtol=1e-12)


def test_foreign_raw_in_requested_units():
    info = mne.create_info(["x", "y"], 1000.0, ch_types="emg")
    data = np.full((2, 500), 2e-6)
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_annotations(mne.Annotations([0.1, 0.3], [0.05, 0.0], ["clench", "blink"]))
    rec = from_mne(raw)  # default microvolts
    np.testing.assert_allclose(rec.data, 2.0)
    assert rec.meta["units"] == "uV"
    # zero-duration events are not label runs; a new name gets a new id
    lab = rec.labels
    assert set(np.unique(lab)) == {0, 9} and rec.label_names[9] == "clench"
    assert np.count_nonzero(lab) == 50
    assert from_mne(raw, units="mV").data[0, 0] == pytest.approx(2e-3)
    with pytest.raises(ValidationError, match="units"):
        from_mne(raw, units="furlongs")


def test_unknown_units_passed_unscaled():
    rec = _rec(units="counts").copy(labels=None)
    raw = to_mne(rec)
    np.testing.assert_allclose(raw.get_data(), rec.data)
    assert len(raw.annotations) == 0
    back = from_mne(raw)
    np.testing.assert_allclose(back.data, rec.data)
    assert back.meta["units"] == "counts" and back.labels is None
    assert unit_scale("uV") == 1e-6 and unit_scale("0.1 uV") == 1e-7 and unit_scale(None) is None

"""biogui .bio reader/writer: layouts, bad input, truncation, lost packets, property tests."""

from __future__ import annotations

import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myovox.exceptions import DataFormatError, DataLossWarning, DataQualityWarning, ValidationError
from myovox.io.bio import TRIGGER_NONE, read_bio, read_bio_signals, write_bio
from myovox.recording import Recording


def _rec(n_packets: int = 12, n_ch: int = 3, spp: int = 4, seed: int = 0, labels: bool = True, **meta) -> Recording:
    rng = np.random.default_rng(seed)
    data = rng.normal(0, 100, size=(n_ch, n_packets * spp)).astype(np.float32)
    lab = np.repeat(rng.integers(0, 9, n_packets), spp) if labels else None
    return Recording(data, 500.0, labels=lab, meta=dict(meta))


def _quiet_read(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_bio(path, **kw)


@pytest.mark.parametrize("layout", ["old", "current"])
def test_roundtrip_synthesises_counter_and_timestamps(tmp_path, layout):
    rec = _rec(n_packets=300, start_time="2026-01-27T10:00:00")
    p = write_bio(rec, tmp_path / "r.bio", layout=layout)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean synthetic file warns about nothing
        back = read_bio(p)
    assert back.meta["layout"] == layout
    np.testing.assert_array_equal(back.data, rec.data)
    np.testing.assert_array_equal(back.labels, rec.labels)
    assert back.sfreq == 500.0 and back.meta["samples_per_packet"] == 4
    assert back.meta["counter"].tolist() == [i % 256 for i in range(300)]
    ts = back.meta["timestamps"]
    assert ts.size == 300 and np.allclose(np.diff(ts), 1 / 125, atol=1e-6)
    assert back.meta["lost_packets"] == []
    bf = read_bio_signals(p)
    assert bf.signals["emg"].dtype == np.float32 and bf.headers["counter"].fs == 125.0


def test_layout_detection_and_fields(tmp_path):
    rec = _rec()
    old = read_bio_signals(write_bio(rec, tmp_path / "o.bio", layout="old"))
    cur = read_bio_signals(write_bio(rec, tmp_path / "c.bio", layout="current"))
    assert old.layout == "old" and old.fs_base == 125.0 and old.n_base == 12
    assert cur.layout == "current" and cur.headers["emg"].n_triggers == 12
    assert cur.trigger_labels[0] == rec.label_names[int(rec.labels[0])]
    np.testing.assert_array_equal(old.triggers, cur.triggers)


def test_float64_data_written_exactly(tmp_path):
    data = np.array([[0.1, 1e-300, 3.0, -2.5]])
    rec = Recording(data, 100.0)
    back = _quiet_read(write_bio(rec, tmp_path / "d.bio", samples_per_packet=1))
    assert read_bio_signals(tmp_path / "d.bio").headers["emg"].dtype_code == "d"
    np.testing.assert_array_equal(back.data, data)
    assert back.labels is None


def test_current_layout_init_finished_become_rest(tmp_path):
    rec = _rec(n_packets=6, labels=False)
    ids = [TRIGGER_NONE, 0, 8, 8, 0, TRIGGER_NONE]
    meta = dict(
        rec.meta, trigger_ids=np.array(ids), trigger_labels=["init", "rest", "stop", "stop", "rest", "finished"]
    )
    back = _quiet_read(write_bio(rec.copy(meta=meta), tmp_path / "c.bio", layout="current"))
    assert back.labels[::4].tolist() == [0, 0, 8, 8, 0, 0]
    assert back.label_names == {0: "rest", 8: "stop"}
    assert back.meta["trigger_labels"][0] == "init" and back.meta["trigger_ids"][-1] == TRIGGER_NONE
    old = _quiet_read(write_bio(back, tmp_path / "o.bio", layout="old"))
    assert old.labels[::4].tolist() == [0, 0, 8, 8, 0, 0]  # no -1 in the old layout


def test_lost_packets_warned_and_filled(tmp_path):
    rec = _rec(n_packets=10)
    counter = np.array([250, 251, 252, 255, 0, 1, 5, 6, 7, 8])  # 2 lost, then 3 lost
    p = write_bio(rec.copy(meta={"counter": counter}), tmp_path / "l.bio")
    with pytest.warns(DataLossWarning, match=r"l\.bio: 5 packet\(s\) lost \(20 samples\) in 2 gap"):
        back = read_bio(p)
    lp = back.meta["lost_packets"]
    assert [
        (d["written_packet_index_after_gap"], d["emg_sample_index_after_gap"], d["n_lost"], d["missing_counter_values"])
        for d in lp
    ] == [(3, 12, 2, [253, 254]), (6, 24, 3, [2, 3, 4])]
    np.testing.assert_array_equal(back.data, rec.data)  # nothing inserted by default
    with pytest.warns(DataLossWarning, match="NaN samples inserted"):
        filled = read_bio(p, fill_lost="nan")
    assert filled.n_times == 15 * 4
    assert filled.meta["inserted_packets"].tolist() == [3, 4, 8, 9, 10]
    assert filled.meta["counter"].tolist() == [(250 + i) % 256 for i in range(15)]
    assert np.isnan(filled.data[:, 12:20]).all() and np.isfinite(filled.data[:, :12]).all()
    np.testing.assert_array_equal(filled.data[:, 20:32], rec.data[:, 12:24])
    assert filled.labels[12] == rec.labels[11]  # carried forward
    assert np.all(np.diff(filled.meta["timestamps"]) > 0)
    assert filled.meta["lost_packets"][1]["filled_sample_index_after_gap"] == 44


def test_other_counter_modulo(tmp_path):
    rec = _rec(n_packets=6)
    p = write_bio(rec.copy(meta={"counter": np.array([13, 14, 15, 0, 2, 3])}), tmp_path / "m.bio")
    with pytest.warns(DataLossWarning, match="1 packet"):
        back = read_bio(p, counter_modulo=16)
    assert back.meta["lost_packets"][0]["missing_counter_values"] == [1]


def test_nan_samples_warn(tmp_path):
    rec = _rec(n_packets=3)
    data = rec.data.copy()
    data[0, :3] = np.nan
    p = write_bio(rec.copy(data=data), tmp_path / "n.bio")
    with pytest.warns(DataQualityWarning, match=r"n\.bio: 3 NaN or infinite"):
        back = read_bio(p)
    assert np.isnan(back.data[0, :3]).all()
    data[1, 0] = np.inf  # never in EMG: a corrupt file
    p = write_bio(rec.copy(data=data), tmp_path / "n.bio", overwrite=True)
    with pytest.raises(DataFormatError, match=r"n\.bio: signal 'emg' holds 1 infinite value"):
        read_bio(p)


def test_signal_override_and_unknown_signal(tmp_path):
    p = write_bio(_rec(), tmp_path / "s.bio")
    cnt = read_bio(p, signal="counter", counter_signal=None)
    assert cnt.n_channels == 1 and cnt.sfreq == 125.0 and "device" not in cnt.meta
    with pytest.raises(ValidationError, match="Did you mean 'counter'"):
        read_bio(p, signal="countr")


def test_path_metadata(tmp_path):
    d = tmp_path / "S07" / "silent"
    d.mkdir(parents=True)
    p = write_bio(_rec(), d / "sess_2_batch_3_pilot_2025-12-01_08-15-30.bio")
    meta = read_bio(p).meta
    assert (meta["subject"], meta["condition"], meta["session"], meta["batch"], meta["tag"], meta["start_time"]) == (
        "S07",
        "silent",
        2,
        3,
        "pilot",
        "2025-12-01T08:15:30",
    )


def test_writer_checks(tmp_path):
    rec = _rec()
    p = write_bio(rec, tmp_path / "w.bio")
    with pytest.raises(ValidationError, match="exists"):
        write_bio(rec, p)
    write_bio(rec, p, overwrite=True)
    with pytest.raises(ValidationError, match="layout"):
        write_bio(rec, tmp_path / "x.bio", layout="new")
    with pytest.raises(ValidationError, match="whole number of packets"):
        write_bio(rec.crop_samples(0, 5), tmp_path / "y.bio")
    lab = rec.labels.copy()
    lab[1] = lab[0] + 1
    with pytest.raises(ValidationError, match="labels change inside a packet"):
        write_bio(rec.copy(labels=lab), tmp_path / "z.bio")


# ------------------------------------------------------------------ bad input
def _old_bytes(tmp_path: Path) -> bytes:
    return write_bio(_rec(), tmp_path / "ok.bio").read_bytes()


def _expect_error(tmp_path: Path, buf: bytes, match: str) -> str:
    p = tmp_path / "bad.bio"
    p.write_bytes(buf)
    with pytest.raises(DataFormatError, match=match) as err:
        read_bio(p)
    assert "bad.bio" in str(err.value) and "\n" not in str(err.value)
    return str(err.value)


def test_unknown_dtype_code(tmp_path):
    buf = bytearray(_old_bytes(tmp_path))
    i = buf.index(b"emg") + 3 + 12  # name, rate, n_samples, n_channels, then the code
    assert buf[i : i + 1] == b"f"
    buf[i : i + 1] = b"x"
    _expect_error(tmp_path, bytes(buf), "unknown dtype code 'x'")


def test_garbage_and_short_headers(tmp_path):
    _expect_error(tmp_path, b"\x01\x02", "too short")
    _expect_error(tmp_path, struct.pack("<IfI", 0xFFFFFFFF, 125.0, 10) + bytes(50), "4294967295 signals")
    _expect_error(tmp_path, struct.pack("<IfI", 1, 125.0, 10) + b"\x03\x00", "ends inside the header")
    _expect_error(tmp_path, struct.pack("<IfI", 1, float("nan"), 10) + bytes(40), "sampling rate")


def test_header_promising_more_samples_than_packets(tmp_path):
    buf = bytearray(_old_bytes(tmp_path))
    i = buf.index(b"emg") + 3 + 4  # n_samples of the EMG signal
    struct.pack_into("<I", buf, i, 10_000)
    _expect_error(tmp_path, bytes(buf), "header is inconsistent")


def test_trailing_bytes(tmp_path):
    _expect_error(tmp_path, _old_bytes(tmp_path) + bytes(8), "more than the")
    cur = write_bio(_rec(), tmp_path / "c.bio", layout="current").read_bytes()
    _expect_error(tmp_path, cur + b"\x00", "unexpected bytes")


def test_truncated_before_any_emg_row(tmp_path):
    buf = _old_bytes(tmp_path)
    _expect_error(tmp_path, buf[:70], "holds none")


@pytest.mark.parametrize("layout", ["old", "current"])
def test_truncation_recovers_rows(tmp_path, layout):
    rec = _rec(n_packets=20, n_ch=2)
    buf = write_bio(rec, tmp_path / "f.bio", layout=layout).read_bytes()
    hdr = buf.index(b"counter") + 7 + 13 + (8 if layout == "current" else 1 + 20 * 8)
    cut = hdr + 2 * 4 * 33 + 5  # 33 full rows and part of the 34th
    p = tmp_path / "t.bio"
    p.write_bytes(buf[:cut])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        back = read_bio(p)
    msgs = [str(w.message) for w in caught if issubclass(w.category, DataLossWarning)]
    assert any(re.search(r"t\.bio: file is truncated.*emg 33 of 80", m) for m in msgs)
    assert any("labels are not given" in m for m in msgs)
    np.testing.assert_array_equal(back.data, rec.data[:, :33])
    assert back.labels is None  # the EMG's triggers come after its data: none survive
    assert back.meta["timestamps"].size == (20 if layout == "old" else 0)
    with pytest.raises(DataFormatError, match="promises more samples"):
        read_bio(p, on_truncated="raise")


def test_truncated_current_keeps_labels_when_triggers_survive(tmp_path):
    rec = _rec(n_packets=20, n_ch=2)
    buf = write_bio(rec, tmp_path / "f.bio", layout="current").read_bytes()
    p = tmp_path / "t.bio"
    p.write_bytes(buf[:-30])  # cut inside the counter's trigger records
    with pytest.warns(DataLossWarning, match="counter.triggers"):
        back = read_bio(p)
    np.testing.assert_array_equal(back.data, rec.data)
    np.testing.assert_array_equal(back.labels, rec.labels)


# ------------------------------------------------------------------ properties
@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bio_props")


@pytest.fixture(scope="module")
def valid_files(scratch) -> dict[str, bytes]:
    rec = _rec(n_packets=6, n_ch=2, seed=3)
    rec = rec.copy(meta={"counter": np.array([254, 255, 0, 2, 3, 4])})
    return {lay: write_bio(rec, scratch / f"valid_{lay}.bio", layout=lay).read_bytes() for lay in ("old", "current")}


def _read_only_format_errors(path: Path, buf: bytes) -> None:
    path.write_bytes(buf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            rec = read_bio(path)
        except DataFormatError as err:
            assert "\n" not in str(err)
            return
        filled = read_bio(path, fill_lost="nan")
    assert isinstance(rec, Recording)
    assert filled.n_times >= rec.n_times and filled.n_channels == rec.n_channels  # NaN samples only added


_PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPS
@given(st.binary(max_size=400))
def test_random_bytes_only_raise_format_errors(scratch, buf):
    _read_only_format_errors(scratch / "random.bio", buf)


@_PROPS
@given(layout=st.sampled_from(["old", "current"]), data=st.data())
def test_mutated_files_only_raise_format_errors(scratch, valid_files, layout, data):
    buf = bytearray(valid_files[layout])
    kind = data.draw(st.sampled_from(["truncate", "flip", "u32", "append", "splice"]))
    if kind == "truncate":
        buf = buf[: data.draw(st.integers(0, len(buf)))]
    elif kind == "flip":
        for _ in range(data.draw(st.integers(1, 6))):
            i = data.draw(st.integers(0, len(buf) - 1))
            buf[i] = data.draw(st.integers(0, 255))
    elif kind == "u32":
        i = data.draw(st.integers(0, 80))
        struct.pack_into("<I", buf, i, data.draw(st.integers(0, 2**32 - 1)))
    elif kind == "append":
        buf += data.draw(st.binary(min_size=1, max_size=20))
    else:  # a valid header start followed by garbage
        buf = buf[: data.draw(st.integers(4, 90))] + data.draw(st.binary(max_size=300))
    _read_only_format_errors(scratch / "mutated.bio", bytes(buf))


_F32_RATES = [1.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 512.5]


@_PROPS
@given(
    layout=st.sampled_from(["old", "current"]),
    n_ch=st.integers(1, 5),
    n_pk=st.integers(1, 12),
    spp=st.sampled_from([1, 2, 4]),
    rate=st.sampled_from(_F32_RATES),
    with_labels=st.booleans(),
    c0=st.integers(0, 255),
    seed=st.integers(0, 2**16),
)
def test_write_read_roundtrip_property(scratch, layout, n_ch, n_pk, spp, rate, with_labels, c0, seed):
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2**32, size=(n_ch, n_pk * spp), dtype=np.uint64).astype(np.uint32)
    data = bits.view(np.float32)
    data = np.where(np.isfinite(data), data, np.float32(1.5))  # any finite float32, subnormals included
    labels = np.repeat(rng.integers(0, 2**31 - 1, n_pk), spp) if with_labels else None
    rec = Recording(
        data, rate, labels=labels, label_names={int(v): f"w{v}" for v in np.unique(labels)} if with_labels else None
    )
    p = write_bio(rec, scratch / "rt.bio", layout=layout, samples_per_packet=spp, counter_start=c0, overwrite=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = read_bio(p)
    np.testing.assert_array_equal(back.data, data)
    assert back.data.dtype == np.float32
    assert back.sfreq == rate and back.n_channels == n_ch
    assert back.meta["counter"].tolist() == [(c0 + i) % 256 for i in range(n_pk)]
    np.testing.assert_allclose(back.meta["timestamps"], np.arange(n_pk) / (rate / spp))
    if with_labels:
        np.testing.assert_array_equal(back.labels, labels)
        if layout == "current":
            assert {k: v for k, v in back.label_names.items() if k in rec.label_names} == rec.label_names
    else:
        assert back.labels is None
    # and the re-read Recording writes the same bytes again
    again = write_bio(back, scratch / "rt2.bio", layout=layout, overwrite=True)
    assert again.read_bytes() == p.read_bytes()


def test_writer_keeps_data_exact_when_meta_dtype_would_lose_it(tmp_path):
    rec = Recording(np.array([[0.5, 1.25, 2.0, 3.0]]), 500.0, meta={"dtype_code": "i"})
    back = _quiet_read(write_bio(rec, tmp_path / "i.bio"))
    np.testing.assert_array_equal(back.data, rec.data)
    ints = Recording(np.array([[1.0, 2.0, -3.0, 4.0]]), 500.0, meta={"dtype_code": "i"})
    write_bio(ints, tmp_path / "j.bio")
    assert read_bio_signals(tmp_path / "j.bio").signals["emg"].dtype == np.int32


def test_truncated_biofile_cannot_be_written_as_old(tmp_path):
    buf = write_bio(_rec(n_packets=20), tmp_path / "f.bio").read_bytes()
    (tmp_path / "t.bio").write_bytes(buf[:-200])
    with pytest.warns(DataLossWarning):
        bf = read_bio_signals(tmp_path / "t.bio")
    with pytest.raises(ValidationError, match="cannot write the old layout"):
        write_bio(bf, tmp_path / "w.bio")

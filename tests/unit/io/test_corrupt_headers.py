"""Corrupt ``.bio`` headers (issue 10, finding 8): a one-line error naming the file and the field,
or an exact recovery named in a DataLossWarning; never garbage with only a truncation warning."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from myovox.exceptions import DataFormatError, DataLossWarning
from myovox.io.bio import read_bio, write_bio
from myovox.recording import Recording

FIXTURE_OLD = "raw/S01/vocalized/sess_1_batch_1_2026-01-27_10-00-00.bio"
FIXTURE_CURRENT = "raw_current_layout/sess_1_batch_1_2026-01-27_10-00-00.bio"
N_PK = 50
LOST_AT = 20


def _recording() -> Recording:
    rng = np.random.default_rng(0)
    labels = np.repeat(rng.integers(0, 9, N_PK), 4)
    counter = np.arange(N_PK)
    counter[LOST_AT:] += 2  # two packets lost
    return Recording(
        rng.normal(0, 100, (16, N_PK * 4)).astype(np.float32),
        500.0,
        labels=labels,
        meta={"device": "BioGAP-Ultra", "counter": counter % 256},
    )


def _source(kind: str, layout: str, tmp_path: Path, fixtures: Path) -> tuple[bytes, Recording]:
    """Bytes of a valid file (the project's writer, or the upstream fixture) and what it holds."""
    if kind == "writer":
        path = write_bio(_recording(), tmp_path / f"valid_{layout}.bio", layout=layout)
    else:
        path = fixtures / (FIXTURE_OLD if layout == "old" else FIXTURE_CURRENT)
        if not path.exists():
            pytest.skip(f"fixture {path} is absent")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return path.read_bytes(), read_bio(path)


def _field(buf: bytes, name: bytes, k: int) -> int:
    """Byte offset of a signal's header field after its name: 0 rate, 1 sample count, 2 channels, 3 dtype."""
    return buf.index(name) + len(name) + 4 * k


def _read(path: Path, buf: bytes):
    path.write_bytes(buf)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = read_bio(path)
    return rec, [str(w.message) for w in caught if issubclass(w.category, DataLossWarning)]


def _error(path: Path, buf: bytes) -> str:
    path.write_bytes(buf)
    with pytest.raises(DataFormatError) as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read_bio(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    return msg


@pytest.fixture(params=["writer", "fixture"])
def kind(request):
    return request.param


@pytest.mark.parametrize("layout", ["old", "current"])
def test_sample_count_2_to_the_31(tmp_path, silentwear_fixtures, kind, layout):
    buf, _ = _source(kind, layout, tmp_path, silentwear_fixtures)
    bad = bytearray(buf)
    struct.pack_into("<I", bad, _field(buf, b"biogap", 1), 2**31)
    msg = _error(tmp_path / "c.bio", bytes(bad))
    assert "2147483648" in msg and ("sample count" in msg or "inconsistent" in msg)


@pytest.mark.parametrize("layout", ["old", "current"])
def test_dtype_float32_changed_to_float64(tmp_path, silentwear_fixtures, kind, layout):
    buf, _ = _source(kind, layout, tmp_path, silentwear_fixtures)
    bad = bytearray(buf)
    i = _field(buf, b"biogap", 3)
    assert bad[i : i + 1] == b"f"
    bad[i : i + 1] = b"d"
    msg = _error(tmp_path / "c.bio", bytes(bad))
    assert "dtype code of signal 'biogap' ('d')" in msg and "'f'" in msg


@pytest.mark.parametrize("layout", ["old", "current"])
def test_16_channels_changed_to_18(tmp_path, silentwear_fixtures, kind, layout):
    buf, _ = _source(kind, layout, tmp_path, silentwear_fixtures)
    bad = bytearray(buf)
    i = _field(buf, b"biogap", 2)
    assert struct.unpack_from("<I", bad, i)[0] == 16
    struct.pack_into("<I", bad, i, 18)
    msg = _error(tmp_path / "c.bio", bytes(bad))
    assert "channel count of signal 'biogap' (18)" in msg and "with 16" in msg


@pytest.mark.parametrize("layout", ["old", "current"])
@pytest.mark.parametrize("bit", [0, 3, 6])
def test_one_bit_flipped_in_counter_name_keeps_loss_checking(tmp_path, silentwear_fixtures, kind, layout, bit):
    buf, ref = _source(kind, layout, tmp_path, silentwear_fixtures)
    bad = bytearray(buf)
    i = buf.index(b"counter") + 2
    bad[i] ^= 1 << bit
    rec, msgs = _read(tmp_path / "c.bio", bytes(bad))
    assert any("one bit away from 'counter'" in m and "packet counter" in m for m in msgs)
    assert rec.meta["n_lost_packets"] == ref.meta["n_lost_packets"] > 0
    assert rec.meta["lost_packets"] == ref.meta["lost_packets"]
    np.testing.assert_array_equal(rec.data, ref.data)


@pytest.mark.parametrize("layout", ["old", "current"])
def test_trigger_block_one_byte_short_recovers_labels(tmp_path, silentwear_fixtures, kind, layout):
    buf, ref = _source(kind, layout, tmp_path, silentwear_fixtures)
    rec, msgs = _read(tmp_path / "c.bio", buf[:-1])
    assert any("recovered the last trigger" in m and "c.bio" in m for m in msgs)
    assert rec.labels is not None
    np.testing.assert_array_equal(rec.labels, ref.labels)
    np.testing.assert_array_equal(rec.data, ref.data)
    assert rec.meta["lost_packets"] == ref.meta["lost_packets"]


def test_no_counter_signal_is_not_silent(tmp_path):
    from myovox.io.bio import BioFile, BioSignalHeader

    rows = np.zeros((8, 2), np.float32)
    bf = BioFile("old", {"emg": BioSignalHeader("emg", 500.0, 8, 2, "f")}, {"emg": rows}, fs_base=125.0, n_base=2)
    bf.signal_timestamps = {"emg": np.arange(2.0)}
    p = write_bio(bf, tmp_path / "n.bio")
    with pytest.warns(UserWarning, match="no 'counter' signal.*lost packets cannot be detected"):
        read_bio(p)


def test_garbage_blocks_with_a_plausible_header_size(tmp_path):
    """A header whose counts all agree but whose EMG holds infinity is refused."""
    rec = _recording()
    data = rec.data.copy()
    data[3, 7] = np.inf
    p = write_bio(rec.copy(data=data), tmp_path / "inf.bio")
    with pytest.raises(DataFormatError, match=r"inf\.bio: signal 'biogap' holds 1 infinite value"):
        read_bio(p)


@pytest.mark.parametrize("layout", ["old", "current"])
def test_real_truncation_still_recovers_rows(tmp_path, layout):
    rec = _recording()
    buf = write_bio(rec, tmp_path / "v.bio", layout=layout).read_bytes()
    start = buf.index(b"counter") + 7 + 13 + (8 if layout == "current" else 1 + N_PK * 8)
    cut = start + 16 * 4 * 77 + 9  # 77 complete EMG rows and part of the next
    back, msgs = _read(tmp_path / "t.bio", buf[:cut])
    assert any("file is truncated" in m for m in msgs)
    np.testing.assert_array_equal(back.data, rec.data[:, :77])


def test_old_layout_cut_where_the_triggers_start_reads_as_truncated(tmp_path):
    """A crash between blocks is a truncation (data kept, no labels invented), not a corrupt flag."""
    rec = _recording()
    buf = write_bio(rec, tmp_path / "v.bio", layout="old").read_bytes()
    back, msgs = _read(tmp_path / "t.bio", buf[: -4 * N_PK])
    assert any("file is truncated" in m and "triggers 0 of 50" in m for m in msgs)
    assert any("labels are not given" in m for m in msgs)
    np.testing.assert_array_equal(back.data, rec.data)
    assert back.labels is None

"""XDF reader on small files written here byte by byte (the format is simple and documented)."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from myovox import DataFormatError, DataLossWarning, ValidationError
from myovox.io import read_recording
from myovox.io.xdf import read_xdf

pytest.importorskip("pyxdf")


def _chunk(tag: int, content: bytes) -> bytes:
    body = struct.pack("<H", tag) + content
    return struct.pack("<BI", 4, len(body)) + body


def _varlen(n: int) -> bytes:
    return struct.pack("<BB", 1, n) if n < 256 else struct.pack("<BI", 4, n)


def _header(sid: int, name: str, typ: str, n_ch: int, srate: float, fmt: str, labels=None) -> bytes:
    chans = ""
    if labels:
        chans = (
            "<desc><channels>"
            + "".join(
                f"<channel><label>{lab}</label><unit>microvolts</unit><type>EMG</type></channel>" for lab in labels
            )
            + "</channels></desc>"
        )
    xml = (
        f'<?xml version="1.0"?><info><name>{name}</name><type>{typ}</type>'
        f"<channel_count>{n_ch}</channel_count><nominal_srate>{srate}</nominal_srate>"
        f"<channel_format>{fmt}</channel_format><source_id>{name}-1</source_id>"
        f"<created_at>0</created_at>{chans}</info>"
    )
    return _chunk(2, struct.pack("<I", sid) + xml.encode())


def _numeric_samples(sid: int, ts: np.ndarray, x: np.ndarray) -> bytes:
    out = struct.pack("<I", sid) + _varlen(len(ts))
    for t, row in zip(ts, x, strict=False):
        out += struct.pack("<Bd", 8, t) + row.astype("<f4").tobytes()
    return _chunk(3, out)


def _string_samples(sid: int, ts, values) -> bytes:
    out = struct.pack("<I", sid) + _varlen(len(ts))
    for t, v in zip(ts, values, strict=False):
        b = v.encode()
        out += struct.pack("<Bd", 8, t) + _varlen(len(b)) + b
    return _chunk(3, out)


def _footer(sid: int, ts) -> bytes:
    xml = (
        f'<?xml version="1.0"?><info><first_timestamp>{ts[0]}</first_timestamp>'
        f"<last_timestamp>{ts[-1]}</last_timestamp><sample_count>{len(ts)}</sample_count></info>"
    )
    return _chunk(6, struct.pack("<I", sid) + xml.encode())


def write_xdf(path, x, sfreq, t0, markers, *, labels=None, extra_numeric=False, drop=None) -> None:
    n = x.shape[0]
    ts = t0 + np.arange(n) / sfreq
    if drop is not None:
        keep = np.ones(n, bool)
        keep[drop] = False
        ts, x = ts[keep], x[keep]
    blob = b"XDF:" + _chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
    blob += _header(1, "BioGAP", "EMG", x.shape[1], sfreq, "float32", labels)
    blob += _header(2, "Cues", "Markers", 1, 0, "string")
    if extra_numeric:
        blob += _header(3, "Accel", "ACC", 1, 50, "float32")
        blob += _numeric_samples(3, t0 + np.arange(10) / 50, np.zeros((10, 1)))
    half = len(ts) // 2  # two sample chunks, as a recorder writes them
    blob += _numeric_samples(1, ts[:half], x[:half])
    blob += _string_samples(2, [m[0] for m in markers], [m[1] for m in markers])
    blob += _numeric_samples(1, ts[half:], x[half:])
    blob += _footer(1, ts) + _footer(2, [m[0] for m in markers])
    path.write_bytes(blob)


def test_read_stream_and_markers(tmp_path):
    sfreq, t0 = 250.0, 1000.0
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 3)).astype(np.float32)
    markers = [(t0 + 1.0, "up"), (t0 + 2.0, "rest"), (t0 + 2.5, "stop"), (t0 + 3.0, "0")]
    p = tmp_path / "rec.xdf"
    write_xdf(p, x, sfreq, t0, markers, labels=["A", "B", "C"], extra_numeric=True)
    rec = read_recording(p)
    assert rec.sfreq == 250.0 and rec.ch_names == ("A", "B", "C") and rec.n_times == 1000
    np.testing.assert_allclose(rec.data, x.T.astype(np.float64), rtol=0, atol=0)
    assert rec.meta["units"] == "microvolts" and rec.meta["stream"] == "BioGAP"
    assert rec.meta["start_time"] == pytest.approx(t0)
    runs = rec.label_runs()
    assert runs == [(0, 250, 0), (250, 500, 1), (500, 625, 0), (625, 750, 8), (750, 1000, 0)]
    assert rec.label_names[8] == "stop"
    # another stream by name / type; markers ignored on request
    acc = read_xdf(p, stream="acc", marker_stream=None)
    assert acc.n_channels == 1 and acc.sfreq == 50.0 and acc.labels is None
    assert acc.ch_names == ("Ch_0",)
    with pytest.raises(ValidationError, match=r"no stream named or typed 'BioGop'.*Did you mean 'BioGAP'"):
        read_xdf(p, stream="BioGop")
    with pytest.raises(ValidationError, match="holds strings"):
        read_xdf(p, stream="Cues")


def test_unknown_marker_names_get_new_ids(tmp_path):
    x = np.zeros((500, 2), np.float32)
    p = tmp_path / "m.xdf"
    write_xdf(p, x, 500.0, 5.0, [(5.2, "swallow"), (5.4, "rest"), (5.6, "left")])
    rec = read_xdf(p)
    assert rec.labels[150] == 9 and rec.label_names[9] == "swallow"
    assert rec.labels[250] == 0 and rec.labels[350] == 3


def test_gaps_warn(tmp_path):
    x = np.ones((400, 2), np.float32)
    p = tmp_path / "gap.xdf"
    write_xdf(p, x, 200.0, 0.0, [(0.5, "up")], drop=slice(100, 120))
    with pytest.warns(DataLossWarning, match=r"about 20 missing, 1 gap"):
        rec = read_xdf(p)
    assert rec.n_times == 380


def test_bad_files(tmp_path):
    p = tmp_path / "junk.xdf"
    p.write_bytes(b"not xdf at all")
    with pytest.raises(DataFormatError, match=r"junk.xdf"):
        read_xdf(p)
    with pytest.raises(FileNotFoundError):
        read_xdf(tmp_path / "absent.xdf")

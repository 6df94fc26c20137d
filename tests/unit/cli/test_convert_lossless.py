"""`myovox convert` is lossless by default (issue 10, finding 5).

A synthetic SilentWear ``.bio`` with 3 % packet loss is converted to every writable format and read
back: same channels, samples (EDF/BDF within half a quantisation step of the channel's physical
range: (max - min) / (2**16 - 1) / 2 for EDF, 2**24 for BDF), labels and lost packets; the summary
printed is what was written. Where a format cannot hold something the conversion is refused with
a one-line message naming it, unless --allow-lossy; trimming and channel selection only on request.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from myovox.cli.main import main
from myovox.io import read_recording, write_recording
from myovox.recording import Recording

LOSSLESS = [".h5", ".npz", ".csv", ".csv.gz", ".bio"]
PER_PACKET = ("counter", "timestamps", "trigger_ids")


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


@pytest.fixture(scope="module", autouse=True)
def _own_log_handler():
    """The CLI's log handler keeps the stderr it was made with; leave none bound to this module's."""
    from myovox._logging import logger

    def drop():
        for h in [h for h in logger.handlers if getattr(h, "_myovox", False)]:
            logger.removeHandler(h)

    drop()
    yield
    drop()


@pytest.fixture(scope="module")
def bio(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    assert (
        main(
            [
                "-q",
                "synth",
                str(root / "ds"),
                "--subjects",
                "1",
                "--sessions",
                "1",
                "--batches",
                "1",
                "--repetitions",
                "2",
                "--packet-loss",
                "0.03",
                "--conditions",
                "silent",
                "--no-processed",
            ]
        )
        == 0
    )
    (path,) = sorted((root / "ds").rglob("*.bio"))
    return path


@pytest.fixture(scope="module")
def source(bio) -> Recording:
    rec = _quiet(read_recording, bio)
    assert rec.n_channels == 16 and rec.meta["n_lost_packets"] > 0 and rec.labels is not None
    return rec


def _lost(rec: Recording) -> list[tuple]:
    return [
        (g["emg_sample_index_after_gap"], g["n_lost"], g["counter_before_gap"], g["counter_after_gap"])
        for g in rec.meta.get("lost_packets") or []
    ]


def _summary(out: str) -> tuple[int, int]:
    m = re.search(r"\((\d+) channels x (\d+) samples", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def _meta_equal(a: dict, b: dict, keys) -> None:
    for k in keys:
        assert k in b, k
        if isinstance(a[k], np.ndarray):
            np.testing.assert_array_equal(b[k], a[k])
        else:
            assert b[k] == a[k], k


@pytest.mark.parametrize("ending", LOSSLESS)
def test_bio_converts_without_loss(tmp_path, capsys, bio, source, ending):
    from myovox.io._lossless import READER_KEYS

    if ending == ".bio":  # a .bio keeps subject, condition, session, batch and time only in its path
        dst = tmp_path / "S01" / "silent" / bio.name
        assert main(["convert", str(bio), str(tmp_path / "out.bio")]) == 2
        err = capsys.readouterr().err
        assert "cannot hold meta" in err and "subject" in err and "--allow-lossy" in err
        dst.parent.mkdir(parents=True)
    else:
        dst = tmp_path / f"out{ending}"
    assert main(["-q", "convert", str(bio), str(dst)]) == 0
    out = capsys.readouterr().out
    back = _quiet(read_recording, dst)
    assert _summary(out) == (back.n_channels, back.n_times) == (16, source.n_times)
    assert f"{source.meta['n_lost_packets']} lost packet(s)" in out
    assert back.ch_names == source.ch_names and back.sfreq == source.sfreq
    np.testing.assert_array_equal(back.data, source.data)
    assert back.data.dtype == np.float32
    np.testing.assert_array_equal(back.labels, source.labels)
    assert _lost(back) == _lost(source) and back.meta["n_lost_packets"] == source.meta["n_lost_packets"]
    _meta_equal(source.meta, back.meta, [k for k in source.meta if k not in READER_KEYS])
    assert {k: v for k, v in back.label_names.items() if k in set(source.labels.tolist())} == {
        k: v for k, v in source.label_names.items() if k in set(source.labels.tolist())
    }


@pytest.mark.parametrize(("ending", "bits"), [(".edf", 16), (".bdf", 24)])
def test_edf_refuses_then_converts_with_allow_lossy(tmp_path, capsys, caplog, bio, source, ending, bits):
    dst = tmp_path / f"out{ending}"
    assert main(["convert", str(bio), str(dst)]) == 2
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if not ln.startswith(("INFO:", "WARNING:"))]
    assert len(err) == 1
    assert "counter, timestamps, trigger_ids" in err[-1] and "--allow-lossy" in err[-1] and not dst.exists()

    assert main(["-q", "convert", "--allow-lossy", str(bio), str(dst)]) == 0
    out = capsys.readouterr().out
    assert "dropped meta counter, timestamps, trigger_ids (--allow-lossy)" in caplog.text
    back = _quiet(read_recording, dst)
    assert _summary(out) == (back.n_channels, back.n_times) == (16, source.n_times)
    assert back.ch_names == source.ch_names
    # stated tolerance: half a quantisation step of each channel's physical range (EDF 16-bit, BDF 24-bit)
    lo, hi = source.data.min(axis=1).astype(float), source.data.max(axis=1).astype(float)
    step = (hi - lo) / (2**bits - 1)
    err_max = np.abs(back.data - source.data).max(axis=1)
    assert np.all(err_max <= 0.5 * step * 1.001 + 1e-9 * np.abs(hi)), (err_max / step).max()
    np.testing.assert_array_equal(back.labels, source.labels)
    assert _lost(back) == _lost(source)
    _meta_equal(
        source.meta,
        back.meta,
        [
            "subject",
            "session",
            "batch",
            "condition",
            "start_time",
            "device",
            "units",
            "samples_per_packet",
            "n_lost_packets",
        ],
    )


def test_trim_and_channels_only_on_request(tmp_path, capsys, bio, source):
    from myovox.io.silentwear_h5 import KEPT_CHANNELS, trim_bounds, write_silentwear_h5

    dst = tmp_path / "sw.h5"
    assert main(["-q", "convert", "--channels", "silentwear", "--trim", str(bio), str(dst)]) == 0
    out = capsys.readouterr().out
    back = _quiet(read_recording, dst)
    start, stop = trim_bounds(source.labels, source.sfreq)
    assert _summary(out) == (14, stop - start) and back.ch_names == KEPT_CHANNELS
    ref = _quiet(read_recording, _quiet(write_silentwear_h5, source, tmp_path / "ref.h5"))  # the reference layout
    np.testing.assert_array_equal(back.data, ref.data)
    np.testing.assert_array_equal(back.labels, ref.labels)
    assert back.meta["first_sample"] == start
    assert all(start < i + start < stop for i, *_ in _lost(back)) and 0 < len(_lost(back)) <= len(_lost(source))
    filt = _quiet(read_recording, dst, filtered=True)
    np.testing.assert_allclose(filt.data, _quiet(read_recording, tmp_path / "ref.h5", filtered=True).data)

    dst = tmp_path / "two.csv"
    assert main(["-q", "convert", "--channels", "0,Ch_5", str(bio), str(dst)]) == 0
    back = _quiet(read_recording, dst)
    assert back.ch_names == ("Ch_0", "Ch_5") and back.n_times == source.n_times
    np.testing.assert_array_equal(back.data, source.data[[0, 5]])
    assert main(["convert", "--channels", "Ch_99", str(bio), str(tmp_path / "x.csv")]) == 2
    assert "Ch_99" in capsys.readouterr().err


def test_chain_bio_h5_csv_npz_keeps_everything(tmp_path, capsys, bio, source):
    a, b, c = tmp_path / "a.h5", tmp_path / "b.csv", tmp_path / "c.npz"
    for src, dst in ((bio, a), (a, b), (b, c)):
        assert main(["-q", "convert", str(src), str(dst)]) == 0
    back = _quiet(read_recording, c)
    np.testing.assert_array_equal(back.data, source.data)
    np.testing.assert_array_equal(back.labels, source.labels)
    assert _lost(back) == _lost(source)
    for key in PER_PACKET:
        np.testing.assert_array_equal(back.meta[key], source.meta[key])


def test_unlabelled_and_nan_filled_recordings(tmp_path, capsys, bio):
    rec = _quiet(read_recording, bio, fill_lost="nan")
    assert rec.n_nonfinite() > 0
    src = write_recording(rec, tmp_path / "nan.npz")
    for ending in (".h5", ".csv"):
        dst = tmp_path / f"nan{ending}"
        assert main(["-q", "convert", str(src), str(dst)]) == 0
        back = _quiet(read_recording, dst)
        np.testing.assert_array_equal(back.data, rec.data)  # NaN where packets were lost
        np.testing.assert_array_equal(back.meta["inserted_packets"], rec.meta["inserted_packets"])
    assert main(["convert", str(src), str(tmp_path / "nan.edf")]) == 2
    assert "NaN/inf sample(s)" in capsys.readouterr().err
    assert main(["convert", str(src), str(tmp_path / "S01" / "silent" / bio.name)]) == 2
    assert "the lost-packet records" in capsys.readouterr().err
    plain = Recording(np.arange(12.0).reshape(2, 6), 250.0)
    src = write_recording(plain, tmp_path / "plain.npz")
    assert main(["-q", "convert", str(src), str(tmp_path / "plain.h5")]) == 0
    back = read_recording(tmp_path / "plain.h5")
    assert back.labels is None and back.sfreq == 250.0 and back.data.dtype == np.float64
    np.testing.assert_array_equal(back.data, plain.data)


def test_csv_reader_never_reads_lost_counter_or_trigger_as_emg(tmp_path):
    from myovox.exceptions import DataLossWarning

    lines = ["time_s,Ch_0,Ch_1,label,lost,counter,trigger"]
    for i in range(8):
        lines.append(f"{i / 500},{i}.5,{-i}.25,{1 if i > 3 else 0},{1 if i == 5 else 0},{i % 4},{i // 4}")
    p = tmp_path / "rec.csv"
    p.write_text("\n".join(lines) + "\n")
    with pytest.warns(DataLossWarning, match="1 sample\\(s\\) flagged lost in column 'lost'"):
        rec = read_recording(p)
    assert rec.ch_names == ("Ch_0", "Ch_1") and rec.n_channels == 2
    assert np.isnan(rec.data[:, 5]).all() and rec.data[0, 4] == 4.5
    assert rec.meta["n_lost_samples"] == 1 and rec.meta["lost_samples"].tolist() == [i == 5 for i in range(8)]
    assert rec.meta["column_counter"].tolist() == [0, 1, 2, 3, 0, 1, 2, 3]
    assert rec.labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]


def test_csv_sidecar_of_someone_else_is_never_replaced(tmp_path, source):
    (tmp_path / "x.json").write_text('{"not": "ours"}')
    from myovox.exceptions import ValidationError

    with pytest.raises(ValidationError, match="not written by myovox"):
        write_recording(source, tmp_path / "x.csv")
    assert (tmp_path / "x.json").read_text() == '{"not": "ours"}' and not (tmp_path / "x.csv").exists()


def test_garbage_h5_and_text_cell_are_one_line_errors(tmp_path, capsys):
    import pandas as pd

    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.h5" in err[0]
    df = pd.DataFrame({f"Ch_{i}": np.zeros(5, np.float32) for i in range(16)})
    df["Label_int"] = np.zeros(5, np.int32)
    df["Ch_3"] = df["Ch_3"].astype(object)
    df.loc[2, "Ch_3"] = "oops"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df.to_hdf(tmp_path / "text.h5", key="emg", mode="w")
    assert main(["convert", str(tmp_path / "text.h5"), str(tmp_path / "t.npz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "text.h5: column(s) Ch_3" in err[0] and "text" in err[0]


def test_corrupt_bio_is_a_one_line_error(tmp_path, capsys, bio):
    buf = bytearray(bio.read_bytes())
    i = buf.index(b"biogap") + 6 + 8  # channel count
    buf[i] = 18
    bad = tmp_path / "bad.bio"
    bad.write_bytes(bytes(buf))
    assert main(["convert", str(bad), str(tmp_path / "o.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "channel count of signal 'biogap' (18)" in err[0]
    assert not (tmp_path / "o.h5").exists()


def test_info_json_into_a_closed_pipe_is_not_a_traceback(tmp_path, capsys, monkeypatch, bio):
    import sys

    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self):
            raise ValueError("no file descriptor")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["-q", "info", "--json", str(bio)]) == 0
    assert "Traceback" not in capsys.readouterr().err

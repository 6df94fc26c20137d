"""Generic CSV reader/writer: headers, time units, labels, broken rows, round trip."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pytest

from myovox import DataFormatError, DataLossWarning, DataQualityWarning, Recording, ValidationError
from myovox.io import read_recording, write_recording
from myovox.io.csv import read_csv, write_csv


def _rec(n=400, n_ch=3, seed=1) -> Recording:
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=np.int64)
    labels[100:200] = 2
    labels[300:350] = 7
    return Recording(rng.normal(size=(n_ch, n)).astype(np.float32), 250.0, [f"EMG{i}" for i in range(n_ch)], labels)


@pytest.mark.parametrize("name", ["r.csv", "r.csv.gz"])
def test_roundtrip_exact(tmp_path, name):
    rec = _rec()
    path = write_recording(rec, tmp_path / name)
    if name.endswith(".gz"):
        with gzip.open(path, "rt") as fh:
            assert fh.readline().strip() == "time_s,EMG0,EMG1,EMG2,label,label_name"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = read_recording(path)
    assert back.sfreq == 250.0
    assert back.ch_names == rec.ch_names
    np.testing.assert_array_equal(back.data, rec.data.astype(np.float64))
    np.testing.assert_array_equal(back.labels, rec.labels)
    assert back.label_names[7] == "start" and back.label_names[2] == "down"
    with pytest.raises(ValidationError, match="exists"):
        write_csv(rec, path)


def test_no_header_needs_sfreq(tmp_path):
    p = tmp_path / "plain.csv"
    p.write_text("1,2,3\n4,5,6\n7,8,9\n")
    with pytest.raises(ValidationError, match="pass sfreq"):
        read_csv(p)
    rec = read_csv(p, sfreq=100)
    assert rec.ch_names == ("col_0", "col_1", "col_2")
    np.testing.assert_array_equal(rec.data, [[1, 4, 7], [2, 5, 8], [3, 6, 9]])
    assert rec.labels is None
    rec = read_csv(p, sfreq=100, time_column=0)  # explicit time column by index
    assert rec.n_channels == 2


def test_time_in_ms_and_seconds(tmp_path):
    t = np.arange(50) * 2.0  # 2 ms steps -> 500 Hz
    p = tmp_path / "ms.csv"
    p.write_text("Timestamp;a;b\n" + "".join(f"{x};{x + 1};{x + 2}\n" for x in t))
    rec = read_csv(p)  # step 2 > 0.05 -> milliseconds
    assert rec.sfreq == 500.0 and rec.ch_names == ("a", "b")
    p2 = tmp_path / "sec.tsv"
    p2.write_text("time_ms\tx\n" + "".join(f"{x * 0.001}\t{x}\n" for x in range(20)))
    assert read_csv(p2).sfreq == pytest.approx(1e6)  # the name says ms, believed over the step size
    p3 = tmp_path / "s.csv"
    p3.write_text("t,x\n" + "".join(f"{i / 1000},{i}\n" for i in range(20)))
    assert read_csv(p3).sfreq == 1000.0


def test_string_labels_and_comments(tmp_path):
    p = tmp_path / "lab.csv"
    rows = ["% OpenBCI style comment", "# another", "time,c1,c2,word"]
    words = ["rest"] * 3 + ["up"] * 3 + ["rest"] * 2 + ["stop"] * 2
    rows += [f"{i * 0.002},{i},{-i},{w}" for i, w in enumerate(words)]
    p.write_text("\n".join(rows) + "\n")
    rec = read_csv(p, label_column="word")
    assert rec.sfreq == 500.0
    assert rec.labels.tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 8, 8]  # SilentWear ids for SilentWear words
    other = tmp_path / "other.csv"
    other.write_text("x,label\n1,jump\n2,rest\n3,clap\n4,jump\n")
    rec = read_csv(other, sfreq=10)
    assert rec.labels.tolist() == [2, 0, 1, 2]
    assert rec.label_names == {0: "rest", 1: "clap", 2: "jump"}


def test_headerless_with_text_label_column(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("1.5,2.5,up\n3.5,4.5,down\n")
    rec = read_csv(p, sfreq=10, label_column=2)
    assert rec.n_times == 2 and rec.labels.tolist() == [1, 2]


def test_malformed_rows_are_counted_with_line_numbers(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("time,a,b\n0,1,2\n0.01,3\n0.02,5,6\n\n0.03,7,8,9,10\n0.04,9,10\n")
    with pytest.warns(DataLossWarning, match=r"bad\.csv: skipped 2 malformed row\(s\).*line\(s\) 3, 6"):
        rec = read_csv(p)
    assert rec.n_times == 3
    np.testing.assert_array_equal(rec.data[0], [1, 5, 9])


def test_non_numeric_cells_become_nan_with_warning(tmp_path):
    p = tmp_path / "txt.csv"
    p.write_text("a,b\n1,2\nx,4\n5,inf\n")
    with pytest.warns(DataQualityWarning, match=r"2 NaN or infinite.*1 of them non-numeric"):
        rec = read_csv(p, sfreq=1.0)
    assert np.isnan(rec.data[0, 1]) and np.isinf(rec.data[1, 2])


def test_time_gaps_warn(tmp_path):
    p = tmp_path / "gap.csv"
    t = [0, 1, 2, 3, 10, 11, 12]
    p.write_text("time_ms,x\n" + "".join(f"{v},{v}\n" for v in t))
    with pytest.warns(DataLossWarning, match="jumps"):
        rec = read_csv(p)
    assert rec.sfreq == 1000.0


def test_channels_selection_and_errors(tmp_path):
    rec = _rec()
    path = write_csv(rec, tmp_path / "r.csv")
    sub = read_csv(path, channels=["EMG2", "emg0"])
    assert sub.ch_names == ("EMG2", "EMG0")
    np.testing.assert_array_equal(sub.data[0], rec.data[2])
    with pytest.raises(ValidationError, match="Did you mean 'EMG1'"):
        read_csv(path, channels=["EMG_1"])
    with pytest.raises(ValidationError, match="column 99"):
        read_csv(path, label_column=99)
    empty = tmp_path / "empty.csv"
    empty.write_text("# nothing\n\n")
    with pytest.raises(DataFormatError, match="no data rows"):
        read_csv(empty)
    with pytest.raises(FileNotFoundError):
        read_csv(tmp_path / "absent.csv")
    with pytest.raises(ValidationError, match="sfreq"):
        read_csv(path, sfreq=-5)


def test_unlabelled_write_without_time(tmp_path):
    rec = _rec().copy(labels=None)
    path = write_csv(rec, tmp_path / "u.csv", time_column=None, delimiter=";")
    assert path.read_text().splitlines()[0] == "EMG0;EMG1;EMG2"
    back = read_csv(path, sfreq=250.0)
    assert back.labels is None
    np.testing.assert_array_equal(back.data, rec.data.astype(np.float64))


def test_one_bad_row_policy_for_both_readers(tmp_path):
    # the table parser of the adapters and read_csv skip and report rows the same way
    from myovox.io.csv import read_table

    p = tmp_path / "t.csv"
    p.write_text("a,b,c\n1,2,3\n4,5\n6,7,8\n9,x,10\n11,12,13\n")
    with pytest.warns(
        DataLossWarning,
        match=r"t\.csv: skipped 2 malformed row\(s\) of 5 \(expected 3 fields\) "
        r"at line\(s\) 3, 5\.",
    ) as rec:
        t = read_table(p, header=True)
    assert t.n_rows_skipped == 2 and t.numbers.tolist() == [[1, 2, 3], [6, 7, 8], [11, 12, 13]]
    assert len(rec) == 1
    p.write_text("a,b,c\n1,2,3\n4,5\n6,7,8\n")
    with pytest.warns(
        DataLossWarning,
        match=r"t\.csv: skipped 1 malformed row\(s\) of 3 \(expected 3 fields\) "
        r"at line\(s\) 3\.",
    ):
        read_csv(p, sfreq=10)

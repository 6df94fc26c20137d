"""The somach, mateus and longterm adapters on tiny fake trees (so they are tested without the data)."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest

from myovox.datasets import detect_dataset, load_dataset, longterm, mateus, somach
from myovox.exceptions import DataFormatError, DataLossWarning, DataQualityWarning, ValidationError
from myovox.io.csv import factorize, read_table


# ----------------------------------------------------------------------------- fake trees
def _somach_csv(
    path: Path, label: str, phase: str, n: int = 200, n_ch: int = 2, step_ms: int = 4, seed: int = 0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 4096, size=(n, n_ch))
    path.parent.mkdir(parents=True, exist_ok=True)
    head = "Timestamp," + ",".join(f"CH{i + 1}" for i in range(n_ch)) + ",Label,Phase\n"
    rows = [f"{1000 + step_ms * i}," + ",".join(map(str, data[i])) + f",{label},Phase_{phase}" for i in range(n)]
    path.write_text(head + "\n".join(rows) + "\n")
    return data


@pytest.fixture
def somach_tree(tmp_path: Path) -> Path:
    root = tmp_path / "somach-silent-speech"
    for k, label in enumerate(("UP", "DOWN", "SILENCE")):
        _somach_csv(
            root / "studyB_5phase" / "Phase_1_Overt" / f"{label}_001_20260211_221241.csv", label, "1_Overt", seed=k
        )
        _somach_csv(
            root / "studyB_5phase" / "Phase_6_Covert" / f"{label}_001_20260211_231241.csv",
            label,
            "6_Covert",
            n=150 if label == "UP" else 200,
            seed=k + 10,
        )
        _somach_csv(
            root / "studyA_3phase" / "Phase_3_Mouthing" / f"{label}_002_20260211_161241.csv",
            label,
            "3_Mouthing",
            seed=k + 20,
        )
        _somach_csv(
            root / "covert_sessions" / "session_B" / f"{label}_003_20260225_101010.csv", label, "6_Covert", seed=k + 30
        )
    _somach_csv(root / "pilot_mouthing" / "ONE_001_20260209_225133.csv", "ONE", "3_Mouthing", n_ch=3)
    (root / "README.md").write_text("not a trial\n")
    return root


def _mateus_csv(
    path: Path, word: str, n_seg: int = 4, seg: int = 200, railed_from: int = 5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = n_seg * seg
    data = rng.normal(30000, 300, size=(n, 8))
    data[:, railed_from - 1 :] = -187500.02235174447
    tokens = np.where((np.arange(n) // seg) % 2 == 0, word, "$SILENCE")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "WORD," + ",".join(f"Channel_{i}" for i in range(1, 9)) + "\n"
    text += "\n".join(t + "," + ",".join(repr(float(v)) for v in row) for t, row in zip(tokens, data, strict=False))
    raw = (text + "\n").encode("utf-8")
    if path.name.endswith(".gz"):
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return data, tokens


@pytest.fixture
def mateus_tree(tmp_path: Path) -> Path:
    root = tmp_path / "mateus-subvocal"
    for s, subj in enumerate(("P001", "P006")):
        cond = "A" if subj == "P001" else "S"
        for c in ("F", cond):
            for w, (fname, word) in enumerate((("Sim", "sim"), ("Nao", "não"), ("Talvez", "talvez"))):
                _mateus_csv(root / "saves" / subj / c / f"{fname}.csv.gz", word, seed=s * 10 + w)
    return root


def _longterm_csv(path: Path, n: int = 300, n_ch: int = 8, seed: int = 0) -> np.ndarray:
    data = np.random.default_rng(seed).normal(0, 0.1, size=(n, n_ch))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, data, delimiter=",", fmt="%.8g")
    return data


@pytest.fixture
def longterm_tree(tmp_path: Path) -> Path:
    root = tmp_path / "longterm-armband"
    for sub in (1, 2):
        for day in (1, 2, 3):
            for m in (1, 2, 22):
                for t in (1, 2):
                    _longterm_csv(
                        root / "data" / f"sub{sub}" / f"day{day}" / f"D{day}M{m}T{t}.csv",
                        seed=sub * 1000 + day * 100 + m * 10 + t,
                    )
    return root


# ----------------------------------------------------------------------------- somach
def test_somach_root_loads_studies_with_labels_and_meta(somach_tree: Path) -> None:
    ds = load_dataset(somach_tree)
    assert ds.name == "somach" and ds.window_mode == "trial"
    assert len(ds) == 12  # pilot left out by default
    assert ds.meta_values("study") == ["A", "B", "covert"]
    assert ds.meta_values("session") == ["B", "studyA", "studyB"]
    rec = ds.select(study="B", phase="1_Overt", trial=1)[0]
    assert rec.sfreq == 250.0 and rec.ch_names == ("CH1", "CH2") and rec.n_times == 200
    assert rec.meta["subject"] == "S01" and rec.meta["recorded_at"].startswith("20260211")
    assert Path(rec.meta["source"]).exists()
    name = Path(rec.meta["source"]).name.split("_")[0]
    code = {v: k for k, v in somach.LABELS.items()}[name]
    assert rec.labels.shape == (200,) and np.all(rec.labels == code)
    assert rec.label_names[4] == "SILENCE"
    info = ds.info
    assert info["rest_label"] is None and info["sfreq_matches_timestamps"]
    assert set(info["filter"]) == {"highpass", "notch"}
    assert info["filter"]["highpass"] < 20 and info["filter"]["notch"] is None
    assert info["shortest_trial_s"] == pytest.approx(150 / 250)
    assert info["n_trials_shorter_than_window"] == 1  # the 150-sample trial < 0.7 s
    assert info["published_baseline"]["studyB_all_phases_accuracy"] == pytest.approx(0.489)


def test_somach_values_match_the_file(somach_tree: Path) -> None:
    f = somach_tree / "studyB_5phase" / "Phase_1_Overt" / "DOWN_001_20260211_221241.csv"
    data = _somach_csv(f, "DOWN", "1_Overt", seed=99)
    rec = somach.read_trial(f)
    np.testing.assert_array_equal(rec.data, data.T)
    assert rec.meta["study"] == "B" and rec.meta["phase"] == "1_Overt"


def test_somach_subfolders_and_filters(somach_tree: Path) -> None:
    assert len(load_dataset(somach_tree / "studyB_5phase")) == 6
    assert len(load_dataset(somach_tree / "studyB_5phase" / "Phase_6_Covert")) == 3
    assert load_dataset(somach_tree / "covert_sessions" / "session_B").meta_values("session") == ["B"]
    pilot = load_dataset(somach_tree / "pilot_mouthing")
    assert len(pilot) == 1 and pilot[0].n_channels == 3 and pilot.meta_values("study") == ["pilot"]
    assert pilot[0].label_names[int(pilot[0].labels[0])] == "ONE"
    assert len(somach.load(somach_tree, phases=["overt", 6])) == 9  # covert sessions are phase 6 too
    assert len(somach.load(somach_tree, studies="studyA")) == 3
    assert len(somach.load(somach_tree, classes="up", sessions=["studyB", "B"])) == 3
    assert len(somach.load(somach_tree, studies=["A", "pilot"])) == 4
    with pytest.raises(ValidationError, match="Did you mean 'covert'"):
        somach.load(somach_tree, studies="covrt")
    with pytest.raises(ValidationError, match="phases"):
        somach.load(somach_tree, phases="shouted")
    with pytest.raises(ValidationError, match="window_s"):
        somach.load(somach_tree, window_s=-1)


def test_somach_wrong_channel_count_names_the_file(somach_tree: Path) -> None:
    bad = somach_tree / "studyB_5phase" / "Phase_1_Overt" / "LEFT_009_20260211_221241.csv"
    _somach_csv(bad, "LEFT", "1_Overt", n_ch=3)
    with pytest.raises(DataFormatError, match=r"LEFT_009.*expected 2"):
        load_dataset(somach_tree / "studyB_5phase")


def test_somach_malformed_rows_skipped_and_nan_warned(somach_tree: Path) -> None:
    f = somach_tree / "studyB_5phase" / "Phase_1_Overt" / "UP_001_20260211_221241.csv"
    lines = f.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 2)[0]  # short row
    lines[6] = lines[6].replace(",UP,", ",x,UP,")  # one field too many
    parts = lines[7].split(",")
    lines[7] = ",".join([parts[0], "abc"] + parts[2:])  # not a number
    parts = lines[8].split(",")
    lines[8] = ",".join([parts[0], "nan"] + parts[2:])  # explicit NaN: kept
    f.write_text("\n".join(lines) + "\n")
    with pytest.warns(DataLossWarning, match=r"UP_001_20260211_221241\.csv: skipped 3 malformed row"):
        with pytest.warns(DataQualityWarning, match="1 NaN"):
            rec = somach.read_trial(f)
    assert rec.n_times == 197 and rec.n_nonfinite() == 1


def test_somach_unknown_label_and_missing_column(tmp_path: Path) -> None:
    f = tmp_path / "somach-silent-speech" / "studyB_5phase" / "Phase_1_Overt" / "UP_001_20260211_221241.csv"
    _somach_csv(f, "JUMP", "1_Overt")
    with pytest.raises(DataFormatError, match="JUMP"):
        somach.read_trial(f)
    f.write_text("Time,CH1,CH2,Label\n0,1,2,UP\n")
    with pytest.raises(DataFormatError, match=r"missing column.*Timestamp"):
        somach.read_trial(f)


def test_somach_sampling_rate_checked_against_timestamps(somach_tree: Path) -> None:
    for f in (somach_tree / "covert_sessions" / "session_B").glob("*.csv"):
        _somach_csv(f, f.name.split("_")[0], "6_Covert", step_ms=2)
    ds = somach.load(somach_tree / "covert_sessions")
    assert not ds.info["sfreq_matches_timestamps"]
    assert ds.info["sfreq_from_timestamps"] == pytest.approx(500.0)
    assert "500" in ds.info["sfreq_note"]


# ----------------------------------------------------------------------------- mateus
def test_mateus_loads_labels_channels_and_meta(mateus_tree: Path) -> None:
    ds = load_dataset(mateus_tree)
    assert ds.name == "mateus" and ds.window_mode == "event" and 0.5 <= ds.window_s <= 0.8
    assert len(ds) == 12
    assert ds.meta_values("condition") == ["mouthed", "subvocal", "vocalized"]
    assert ds.info["rest_label"] == 0 and ds.info["filter"]["notch"] == 60.0
    assert "confound" in ds.info
    assert ds.info["railed_channels_files"] == {f"Channel_{i}": 12 for i in range(5, 9)}
    rec = ds.select(subject="P001", condition="mouthed", word="nao")[0]
    assert rec.ch_names == ("Channel_1", "Channel_2", "Channel_3", "Channel_4")
    assert rec.label_names == {0: "silence", 1: "sim", 2: "nao", 3: "talvez"}
    runs = rec.label_runs()
    assert [lab for _, _, lab in runs] == [2, 0, 2, 0] and all(b - a == 200 for a, b, _ in runs)
    assert rec.meta["railed_channels"] == ["Channel_5", "Channel_6", "Channel_7", "Channel_8"]


def test_mateus_values_subfolders_and_filters(mateus_tree: Path) -> None:
    f = mateus_tree / "saves" / "P006" / "S" / "Talvez.csv.gz"
    data, tokens = _mateus_csv(f, "talvez", seed=5)
    rec = mateus.read_file(f, channels=[2, "Channel_1"])
    np.testing.assert_allclose(rec.data, data[:, [1, 0]].T)
    np.testing.assert_array_equal(rec.labels, np.where(tokens == "talvez", 3, 0))
    assert rec.meta["condition"] == "subvocal" and rec.meta["word"] == "talvez"
    assert len(load_dataset(mateus_tree / "saves" / "P001")) == 6
    assert len(load_dataset(mateus_tree / "saves" / "P006" / "S")) == 3
    assert len(load_dataset(mateus_tree / "saves")) == 12
    assert len(mateus.load(mateus_tree, subjects=6, conditions="S", words=["não", "sim"])) == 2
    assert len(mateus.load(mateus_tree, conditions=["F"])) == 6
    with pytest.raises(ValidationError, match="Did you mean 'P006'"):
        mateus.load(mateus_tree, subjects="P0006")
    with pytest.raises(ValidationError, match="channels"):
        mateus.load(mateus_tree, channels=[9])


def test_mateus_railed_kept_channel_warns(mateus_tree: Path) -> None:
    f = mateus_tree / "saves" / "P001" / "F" / "Sim.csv.gz"
    _mateus_csv(f, "sim", railed_from=4)
    with pytest.warns(DataQualityWarning, match=r"Sim\.csv\.gz: kept channel\(s\) Channel_4 are railed"):
        rec = mateus.read_file(f)
    assert rec.meta["railed_channels"][0] == "Channel_4"
    assert mateus.read_file(f, channels=[1, 2, 3]).n_channels == 3  # no railed channel kept: quiet


def test_mateus_bad_files(tmp_path: Path) -> None:
    f = tmp_path / "saves" / "P001" / "F" / "Sim.csv"
    f.parent.mkdir(parents=True)
    f.write_text("WORD,Channel_1,Channel_2,Channel_3,Channel_4\nsim,1,2,3,4\n")
    with pytest.raises(DataFormatError, match=r"Sim\.csv: 4 Channel_n column"):
        mateus.read_file(f)
    _mateus_csv(f, "maybe", n_seg=2, seg=3)
    with pytest.raises(DataFormatError, match="maybe"):
        mateus.read_file(f)
    _mateus_csv(f, "sim", n_seg=2, seg=5)
    lines = f.read_text().splitlines()
    lines[3] = lines[3][:20]
    f.write_text("\n".join(lines) + "\n")
    with pytest.warns(DataLossWarning, match=r"Sim\.csv: skipped 1 malformed row"):
        assert mateus.read_file(f).n_times == 9
    f.write_bytes(b"not gzip")
    g = f.with_name("Sim.csv.gz")
    g.write_bytes(b"not gzip at all")
    with pytest.raises(DataFormatError, match=r"Sim\.csv\.gz"):
        mateus.read_file(g)


# ----------------------------------------------------------------------------- longterm
def test_longterm_loads_labels_meta_and_filters(longterm_tree: Path) -> None:
    ds = load_dataset(longterm_tree)
    assert ds.name == "longterm" and ds.window_mode == "trial" and ds.window_s == 1.5
    assert len(ds) == 2 * 3 * 3 * 2
    assert ds.info["rest_label"] == 0 and ds.info["shortest_trial_s"] == 1.5
    rec = ds.select(subject="sub2", day=3, motion=22, trial=2)[0]
    assert rec.sfreq == 200.0 and rec.data.shape == (8, 300)
    assert np.all(rec.labels == 21) and rec.label_names[21] == "M22" and rec.label_names[0] == "M1 (rest)"
    assert rec.meta["session"] == 3 and rec.meta["position"] == "O"
    assert ds.select(day=2)[0].meta["position"] == "I"
    # files come ordered by subject, day (numerically), motion, trial
    keys = [(r.meta["subject"], r.meta["day"], r.meta["motion"], r.meta["trial"]) for r in ds]
    assert keys == sorted(keys)
    assert len(load_dataset(longterm_tree / "data" / "sub1")) == 18
    assert len(load_dataset(longterm_tree / "data" / "sub1" / "day2")) == 6
    assert len(longterm.load(longterm_tree, subjects="sub2", days=[1, 3], motions=["M1"])) == 4
    assert len(longterm.load(longterm_tree, positions="N")) == 12
    assert len(longterm.load(longterm_tree, sessions=2, trials=1)) == 6
    with pytest.raises(ValidationError, match="subjects"):
        longterm.load(longterm_tree, subjects=7)
    with pytest.raises(ValidationError, match="positions"):
        longterm.load(longterm_tree, positions="X")


def test_longterm_values_and_bad_files(longterm_tree: Path) -> None:
    f = longterm_tree / "data" / "sub1" / "day1" / "D1M2T1.csv"
    data = _longterm_csv(f, seed=3)
    rec = longterm.read_file(f)
    np.testing.assert_allclose(rec.data, data.T, rtol=1e-7)
    _longterm_csv(f, n_ch=6)
    with pytest.raises(DataFormatError, match=r"D1M2T1\.csv: rows have 6 columns, expected 8"):
        longterm.read_file(f)
    _longterm_csv(f, n=10)
    lines = f.read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0]
    lines[4] = lines[4].replace(",", ",nan,", 1).rsplit(",", 1)[0]
    f.write_text("\n".join(lines) + "\n")
    with pytest.warns(DataLossWarning, match=r"D1M2T1\.csv: skipped 1 malformed row"):
        with pytest.warns(DataQualityWarning, match="NaN"):
            rec = longterm.read_file(f)
    assert rec.n_times == 9 and rec.n_nonfinite() == 1


# ----------------------------------------------------------------------------- detection
def test_detection_picks_each_adapter_for_roots_and_subfolders(
    somach_tree: Path, mateus_tree: Path, longterm_tree: Path
) -> None:
    cases = {
        "somach": [
            somach_tree,
            somach_tree / "studyB_5phase",
            somach_tree / "studyA_3phase",
            somach_tree / "studyB_5phase" / "Phase_6_Covert",
            somach_tree / "covert_sessions",
            somach_tree / "covert_sessions" / "session_B",
            somach_tree / "pilot_mouthing",
        ],
        "mateus": [
            mateus_tree,
            mateus_tree / "saves",
            mateus_tree / "saves" / "P001",
            mateus_tree / "saves" / "P006" / "S",
        ],
        "longterm": [
            longterm_tree,
            longterm_tree / "data",
            longterm_tree / "data" / "sub2",
            longterm_tree / "data" / "sub2" / "day3",
        ],
    }
    modules = {"somach": somach, "mateus": mateus, "longterm": longterm}
    for kind, paths in cases.items():
        for p in paths:
            assert detect_dataset(p) == kind, p
            for other, mod in modules.items():
                assert mod.detect(p) == (other == kind), (other, p)


def test_detection_rejects_other_folders(tmp_path: Path, somach_tree: Path) -> None:
    (tmp_path / "misc" / "data" / "stuff").mkdir(parents=True)
    (tmp_path / "misc" / "saves").mkdir()
    (tmp_path / "misc" / "Phase_1_Overt").mkdir()
    (tmp_path / "misc" / "P001" / "X").mkdir(parents=True)
    (tmp_path / "misc" / "sub1" / "notaday").mkdir(parents=True)
    others = [
        tmp_path / "misc",
        tmp_path / "misc" / "data",
        tmp_path / "misc" / "saves",
        tmp_path / "misc" / "Phase_1_Overt",
        tmp_path / "misc" / "P001",
        tmp_path / "misc" / "sub1",
    ]
    for p in others:
        for mod in (somach, mateus, longterm):
            assert not mod.detect(p), (mod.__name__, p)
    some_file = somach_tree / "README.md"
    assert not somach.detect(some_file) and not mateus.detect(some_file) and not longterm.detect(some_file)
    with pytest.raises(ValidationError):
        detect_dataset(tmp_path / "misc" / "saves")


# ----------------------------------------------------------------------------- table reader
def test_table_reader_crlf_bom_blank_lines_and_empty(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_bytes(b"\xef\xbb\xbfa,b,lab\r\n1,2,x\r\n\r\n3,4,y\r\n5,6,y")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = read_table(f, header=True, text=[2])
    assert t.header == ["a", "b", "lab"] and t.n_rows_skipped == 0
    np.testing.assert_array_equal(t.numbers, [[1, 2], [3, 4], [5, 6]])
    assert [s.strip() for s in t.text[:, 0]] == ["x", "y", "y"]
    f.write_bytes(b"")
    with pytest.raises(DataFormatError, match=r"t.csv"):
        read_table(f, header=True)
    f.write_bytes(b"a,b\n1\n2\n")
    with pytest.raises(DataFormatError, match="no data rows"):
        read_table(f, header=True)


def test_table_reader_large_body_uses_the_same_rules(tmp_path: Path) -> None:
    n = 60000  # > 1 MiB: the pandas path
    rng = np.random.default_rng(0)
    data = rng.normal(size=(n, 3))
    lines = [f"{a!r},{b!r},{c!r},w" for a, b, c in data.tolist()]
    lines[10] = "1,2"  # short
    lines[11] = "1,2,zz,w"  # not a number
    f = tmp_path / "big.csv"
    f.write_text("\n".join(lines) + "\n")
    with pytest.warns(DataLossWarning, match="skipped 2 malformed"):
        t = read_table(f, header=False, text=[3])
    assert t.numbers.shape == (n - 2, 3)
    np.testing.assert_array_equal(t.numbers[:10], data[:10])


def test_factorize_runs() -> None:
    uniq, inv = factorize(np.array(["b", "b", "a", " a", "b"], dtype=object))
    assert uniq == ["a", "b"] and inv.tolist() == [1, 1, 0, 0, 1]

"""The dataset card (myovox-dataset.yaml) and the `folder` adapter on tiny generated folders."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from myovox.datasets import ADAPTERS, detect_dataset, folder, load_dataset
from myovox.datasets.card import CARD_FILE, DatasetCard
from myovox.exceptions import ValidationError

LAYOUT = "S{subject}/day{session}/R_{rep}_C_{label}_EMG.csv"


def _raises(match: str, fn, *args, **kwargs) -> str:
    """Call ``fn``; it must raise a one-line ValidationError matching ``match``; returns the message."""
    with pytest.raises(ValidationError, match=match) as err:
        fn(*args, **kwargs)
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def _trials(root: Path, *, subjects=(1, 2), words=("rest", "up", "down"), reps=2, n=60, n_ch=3, seed=0) -> Path:
    """One trial per file, the label in the file name: S{s}/day1/R_{r}_C_{word}_EMG.csv (with a header)."""
    rng = np.random.default_rng(seed)
    for s in subjects:
        d = root / f"S{s}" / "day1"
        d.mkdir(parents=True, exist_ok=True)
        for w in words:
            for r in range(reps):
                x = rng.normal(size=(n, n_ch))
                header = ",".join(f"emg{i}" for i in range(n_ch))
                np.savetxt(d / f"R_{r}_C_{w}_EMG.csv", x, delimiter=",", fmt="%.4f", header=header, comments="")
    return root


def _continuous(root: Path, *, n_files=2, n=120, header=True, labels=("rest", "up", "rest", "down")) -> Path:
    """Continuous files with a time column, 2 channels and a per-sample label column (text labels)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    per = n // len(labels)
    for f in range(n_files):
        lines = ["time,c1,c2,label"] if header else []
        for i in range(n):
            a, b = rng.normal(size=2)
            lines.append(f"{i / 100:.3f},{a:.4f},{b:.4f},{labels[min(i // per, len(labels) - 1)]}")
        (root / f"rec{f}.csv").write_text("\n".join(lines) + "\n")
    return root


# ---------------------------------------------------------------------------- (a) label in the file name
def test_trial_per_file_layout(tmp_path):
    root = _trials(tmp_path / "study")
    card = DatasetCard(sfreq=200, layout=LAYOUT)
    ds = folder.load(root, card=card)
    assert len(ds) == 2 * 3 * 2 and ds.window_mode == "trial" and ds.name == "study"
    assert ds.window_s == pytest.approx(0.3)  # median trial length
    r = ds[0]
    assert r.n_channels == 3 and r.sfreq == 200.0 and r.ch_names == ("emg0", "emg1", "emg2")
    assert isinstance(r.meta["subject"], int) and isinstance(r.meta["rep"], int) and r.meta["session"] == 1
    # text labels: sorted, the rest label (named rest) first
    assert ds.info["label_map"] == {0: "rest", 1: "down", 2: "up"} and ds.info["rest_label"] == 0
    for rec in ds:
        assert rec.meta["label"] == {"rest": 0, "down": 1, "up": 2}[rec.meta["label_value"]]
        assert set(np.unique(rec.labels)) == {rec.meta["label"]}
    assert ds.info["filter"] == {"highpass": 20.0, "notch": 50.0}
    assert ds.info["mains"] == 50 and ds.info["units"] == "unknown" and ds.info["card"] is None
    assert ds.summary()["subjects"] == [1, 2]
    from myovox.windows import make_windows

    w = make_windows(ds)
    assert len(w) == 12 and w.X.shape == (12, 3, 60)


def test_card_in_folder_is_detected_first(tmp_path):
    root = _trials(tmp_path / "study")
    assert next(iter(ADAPTERS)) == "folder"
    assert not folder.detect(root)
    card = DatasetCard(sfreq=100, layout=LAYOUT, labels={"rest": "rest", "up": "Up", "down": "Down"}, name="mine")
    before = sorted(p for p in root.rglob("*"))
    written = card.write(root)
    assert written == root / CARD_FILE and sorted(root.rglob("*")) == sorted([*before, written])
    assert folder.detect(root) and detect_dataset(root) == "folder"
    ds = load_dataset(root)
    assert ds.name == "mine" and ds.info["card"] == str(written)
    # text label values are numbered in the card's order, rest first
    assert ds.info["label_map"] == {0: "rest", 1: "Up", 2: "Down"}


def test_card_roundtrip_and_write_never_overwrites(tmp_path):
    card = DatasetCard(
        sfreq=250,
        layout="x/{subject}_*.csv",
        labels={0: "rest", 1: "up"},
        rest_label=0,
        mains=60,
        filter={"highpass": 10, "lowpass": 100},
        channels=["a", "b"],
        window_s=0.5,
        units="uV",
    )
    d = card.to_dict()
    assert d["labels"] == {0: "rest", 1: "up"} and d["rest_label"] == 0 and "format" not in d and "source" not in d
    card.write(tmp_path)
    back = DatasetCard.read(tmp_path)
    assert back.to_dict() == d and back.source == tmp_path / CARD_FILE
    assert back.filter_settings() == {"highpass": 10.0, "notch": 60.0, "lowpass": 100.0}
    text = (tmp_path / CARD_FILE).read_text()
    _raises("already exists; pass force=True", DatasetCard(sfreq=1, layout="*.csv").write, tmp_path)
    assert (tmp_path / CARD_FILE).read_text() == text
    DatasetCard(sfreq=1, layout="*.csv").write(tmp_path, force=True)
    assert DatasetCard.read(tmp_path / CARD_FILE).sfreq == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == [CARD_FILE]


# ---------------------------------------------------------------------------- (b) an index CSV
def test_index_csv(tmp_path):
    root = tmp_path / "idx"
    (root / "files").mkdir(parents=True)
    rng = np.random.default_rng(2)
    rows = ["file,subject,condition,label"]
    for i in range(6):
        np.savetxt(root / "files" / f"t{i}.csv", rng.normal(size=(40, 2)), delimiter=",", fmt="%.4f")
        rows.append(f"files/t{i}.csv,{'P1' if i < 3 else 'P2'},silent,{i % 2 + 1}")
    (root / "index.csv").write_text("\n".join(rows) + "\n")
    ds = folder.load(root, card=DatasetCard(sfreq=50, index="index.csv", labels={1: "yes", 2: "no"}))
    assert len(ds) == 6 and ds.meta_values("subject") == ["P1", "P2"] and ds.meta_values("condition") == ["silent"]
    assert [r.meta["label"] for r in ds] == [1, 2, 1, 2, 1, 2]  # integer values are kept
    assert ds.info["label_map"] == {1: "yes", 2: "no"} and ds.info["rest_label"] is None  # nothing is called rest
    assert ds.window_mode == "trial" and ds[0].ch_names == ("ch_0", "ch_1")

    (root / "index.csv").write_text("path,label\nfiles/t0.csv,1\n")
    _raises(r"index.csv: the index needs a 'file' column; columns are path, label", folder.load, root, card=_idx())
    (root / "index.csv").write_text("file,label\nfiles/nope.csv,1\n")
    _raises(r"index.csv: line 2 lists 'files/nope.csv', which does not exist", folder.load, root, card=_idx())
    _raises(r"The index file 'other.csv' does not exist in", folder.load, root, card=_idx("other.csv"))


def _idx(name: str = "index.csv") -> DatasetCard:
    return DatasetCard(sfreq=50, index=name)


# ---------------------------------------------------------------------------- (c) per-sample label column
def test_continuous_label_column(tmp_path):
    root = _continuous(tmp_path / "cont")
    card = DatasetCard(sfreq=100, layout="rec{session}.csv", label_column="label", time_column="time")
    ds = folder.load(root, card=card)
    assert ds.window_mode == "event" and ds.window_s == 1.0 and len(ds) == 2
    r = ds[0]
    assert r.ch_names == ("c1", "c2") and r.n_times == 120 and r.meta["session"] == 0
    assert ds.info["label_map"] == {0: "rest", 1: "down", 2: "up"} and ds.info["rest_label"] == 0
    assert [lab for _, _, lab in r.label_runs()] == [0, 2, 0, 1]
    # integer label values with names from the card; rest only because the card says so
    for f in root.glob("*.csv"):
        f.write_text(f.read_text().replace(",rest", ",0").replace(",up", ",1").replace(",down", ",2"))
    ds = folder.load(root, card=DatasetCard(sfreq=100, layout="rec*.csv", label_column=3, time_column=0))
    assert ds.info["rest_label"] is None and ds.info["label_map"] == {0: "0", 1: "1", 2: "2"}
    card = DatasetCard(sfreq=100, layout="rec*.csv", label_column="label", labels={0: "idle", 1: "a", 2: "b"})
    assert folder.load(root, card=card).info["rest_label"] is None
    card = DatasetCard(
        sfreq=100, layout="rec*.csv", label_column="label", labels={0: "idle", 1: "a", 2: "b"}, rest_label=0
    )
    ds = folder.load(root, card=card)
    assert ds.info["rest_label"] == 0 and [lab for _, _, lab in ds[0].label_runs()] == [0, 1, 0, 2]


# ---------------------------------------------------------------------------- (d) .txt, .gz, .npy
def test_txt_whitespace_and_gz(tmp_path):
    root = tmp_path / "mixed"
    root.mkdir()
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 4))
    np.savetxt(root / "a_up.txt", x, fmt="%.5f")  # space-delimited, no header
    with gzip.open(root / "b_down.csv.gz", "wt") as fh:
        np.savetxt(fh, x + 1, delimiter=";", fmt="%.5f")
    with gzip.open(root / "c_up.txt.gz", "wt") as fh:
        np.savetxt(fh, x + 2, delimiter="\t", fmt="%.5f")
    ds = folder.load(root, card=DatasetCard(sfreq=100, layout="{trial}_{label}.*"))
    assert len(ds) == 3 and all(r.n_channels == 4 and r.n_times == 50 for r in ds)
    np.testing.assert_allclose(ds[0].data, x.T, atol=1e-5)
    np.testing.assert_allclose(ds[1].data, x.T + 1, atol=1e-5)
    np.testing.assert_allclose(ds[2].data, x.T + 2, atol=1e-5)
    assert [r.meta["trial"] for r in ds] == ["a", "b", "c"]


def test_npy_both_orientations(tmp_path):
    root = tmp_path / "npy"
    root.mkdir()
    x = np.arange(30.0).reshape(10, 3)  # (n_times, n_channels)
    np.save(root / "s1_0.npy", x)
    np.save(root / "s1_1.npy", x * 2)
    ds = folder.load(root, card=DatasetCard(sfreq=10, format="npy", layout="s{subject}_{label}.npy"))
    assert ds[0].data.shape == (3, 10) and np.array_equal(ds[0].data, x.T)
    assert [r.meta["label"] for r in ds] == [0, 1]
    card = DatasetCard(sfreq=10, format="npy", layout="s{subject}_{label}.npy", orientation="channels_by_samples")
    ds = folder.load(root, card=card)
    assert ds[0].data.shape == (10, 3)
    (root / "s1_2.npy").write_bytes(b"not an array")
    _raises(r"s1_2.npy: not a readable .npy array", folder.load, root, card=card)


# ---------------------------------------------------------------------------- (e) headerless CSV
def test_headerless_csv_and_channel_names(tmp_path):
    root = tmp_path / "nohead"
    root.mkdir()
    x = np.random.default_rng(4).normal(size=(30, 3))
    for m in (1, 2):
        np.savetxt(root / f"D1M{m}T1.csv", x, delimiter=",", fmt="%.4f")
    card = DatasetCard(sfreq=200, layout="D{day}M{label}T{trial}.csv", header=False, channels=["x", "y", "z"])
    ds = folder.load(root, card=card)
    assert [r.ch_names for r in ds] == [("x", "y", "z")] * 2 and ds[0].n_times == 30  # first row is data
    assert ds.info["label_map"] == {1: "1", 2: "2"} and ds.info["rest_label"] is None
    card = DatasetCard(sfreq=200, layout="D{day}M{label}T{trial}.csv", columns=[0, 2], rest_label=1)
    ds = folder.load(root, card=card)
    assert ds[0].n_channels == 2 and ds.info["rest_label"] == 1
    np.testing.assert_allclose(ds[0].data, x[:, [0, 2]].T, atol=1e-4)


# ---------------------------------------------------------------------------- bad input: one line each
def test_pattern_matching_nothing(tmp_path):
    root = _trials(tmp_path / "study", subjects=(1,))
    msg = _raises(
        r"The layout pattern 'S\{subject\}/X_\{label\}.csv' matches no file in",
        folder.load,
        root,
        card=DatasetCard(sfreq=100, layout="S{subject}/X_{label}.csv"),
    )
    assert str(root) in msg


def test_inconsistent_channel_counts(tmp_path):
    root = tmp_path / "ch"
    root.mkdir()
    np.savetxt(root / "t_a.csv", np.zeros((20, 3)), delimiter=",")
    np.savetxt(root / "t_b.csv", np.zeros((20, 4)), delimiter=",")
    msg = _raises(
        "Files have different channel counts", folder.load, root, card=DatasetCard(sfreq=10, layout="t_{label}.csv")
    )
    assert "t_a.csv has 3" in msg and "t_b.csv has 4" in msg
    _raises(
        r"t_a.csv: 3 channels, but the card names 2 \(a, b\)",
        folder.load,
        root,
        card=DatasetCard(sfreq=10, layout="t_a.csv", channels=["a", "b"]),
    )


def test_unreadable_and_non_numeric_files(tmp_path):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "t1.csv").write_text("1,2\n3,4\n5,x\n")
    _raises(
        r"t1.csv: line 3, column '1': 'x' is not a number",
        folder.load,
        root,
        card=DatasetCard(sfreq=10, layout="t{n}.csv"),
    )
    (root / "t1.csv").write_text("1,2\n3,4,5\n")
    _raises(
        r"t1.csv: line 2 has 3 fields, expected 2", folder.load, root, card=DatasetCard(sfreq=10, layout="t{n}.csv")
    )
    (root / "t1.csv").write_text("a,b\nx,y\n")
    _raises(r"t1.csv: no numeric column", folder.load, root, card=DatasetCard(sfreq=10, layout="t{n}.csv"))
    (root / "t1.csv").write_bytes(b"\x00\x01\xff\xfe")
    _raises(r"t1.csv: not a text file", folder.load, root, card=DatasetCard(sfreq=10, layout="t{n}.csv"))
    (root / "t1.csv").write_text("")
    _raises(r"t1.csv: no data rows", folder.load, root, card=DatasetCard(sfreq=10, layout="t{n}.csv"))
    (root / "t1.csv").write_text("1,2\n")
    (root / "t2.csv.gz").write_bytes(b"broken gzip")
    _raises(r"t2.csv.gz: cannot read the file", folder.load, root, card=DatasetCard(sfreq=10, layout="t{n}.csv*"))
    _raises(
        r"no column 'lable'.*Did you mean 'label'",
        folder.load,
        _continuous(tmp_path / "c"),
        card=DatasetCard(sfreq=100, layout="rec*.csv", label_column="lable"),
    )


def test_labels_absent_from_the_card(tmp_path):
    root = _trials(tmp_path / "study", subjects=(1,))
    card = DatasetCard(sfreq=100, layout=LAYOUT, labels={"rest": "rest", "up": "up"})
    _raises(r"R_0_C_down_EMG.csv: label 'down' is not in the card's labels \(rest, up\)", folder.load, root, card=card)
    root = _continuous(tmp_path / "cont", n_files=1)
    card = DatasetCard(sfreq=100, layout="rec0.csv", label_column="label", labels={"rest": "rest", "up": "up"})
    _raises(r"rec0.csv: label 'down' is not in the card's labels", folder.load, root, card=card)


def test_card_validation_messages(tmp_path):
    f = tmp_path / CARD_FILE
    f.write_text("layout: '*.csv'\nsfreq: 100\nlabells: {0: rest}\n")
    msg = _raises(r"unknown key 'labells'.*Did you mean 'labels'\?", DatasetCard.read, tmp_path)
    assert str(f) in msg
    f.write_text("layout: '*.csv'\n")
    _raises(rf"{CARD_FILE}: 'sfreq' \(the sampling rate in Hz\) is missing", DatasetCard.read, tmp_path)
    f.write_text("layout: '*.csv'\nsfreq: [1\n")
    _raises(rf"{CARD_FILE}: not valid YAML at line", DatasetCard.read, f)
    f.write_text("- 1\n- 2\n")
    _raises("expected a mapping of card fields", DatasetCard.read, tmp_path)
    f.write_text("layout: '*.csv'\nsfreq: 100\nmains: 55\n")
    _raises(rf"{CARD_FILE}: invalid value for 'mains': expected 50 or 60", DatasetCard.read, tmp_path)
    _raises(r"No dataset card myovox-dataset.yaml in", DatasetCard.read, tmp_path / "elsewhere")
    _raises("give exactly one of 'layout'", DatasetCard, sfreq=10)
    _raises("give exactly one of 'layout'", DatasetCard, sfreq=10, layout="*.csv", index="i.csv")
    _raises("invalid value for 'sfreq'", DatasetCard, sfreq=-1, layout="*.csv")
    _raises("invalid value for 'format'.*Did you mean 'npy'", DatasetCard, sfreq=1, layout="*", format="npz")
    _raises("inside the dataset folder", DatasetCard, sfreq=1, layout="../x/*.csv")
    _raises(r"placeholder \{sub ject\} is not a name", DatasetCard, sfreq=1, layout="{sub ject}.csv")
    _raises("unknown key 'bandpass' in 'filter'", DatasetCard, sfreq=100, layout="*", filter={"bandpass": 3})
    _raises("not below Nyquist", DatasetCard, sfreq=100, layout="*", filter={"lowpass": 60})
    _raises(
        "'rest_label': 'x' is not one of the labels", DatasetCard, sfreq=1, layout="*", labels={0: "a"}, rest_label="x"
    )
    # no notch where mains is too close to Nyquist
    assert DatasetCard(sfreq=100, layout="*").filter_settings() == {"highpass": 20.0, "notch": None}


# ---------------------------------------------------------------------------- the real longterm-armband data
def test_card_reads_longterm_like_its_adapter(longterm_dir):
    """A card passed in (nothing written into ../shared) reads one subject as the longterm adapter does."""
    labels = {m: ("rest" if m == 1 else f"M{m}") for m in range(1, 23)}
    card = DatasetCard(
        sfreq=200, layout="data/sub1/day{session}/D{day}M{label}T{trial}.csv", labels=labels, rest_label=1
    )
    before = sorted(p.name for p in longterm_dir.iterdir())
    ds = folder.load(longterm_dir, card=card)
    ref = load_dataset(longterm_dir, kind="longterm", subjects=1)
    assert sorted(p.name for p in longterm_dir.iterdir()) == before
    assert len(ds) == len(ref)
    assert {r.n_channels for r in ds} == {r.n_channels for r in ref} == {8}
    assert len(ds.info["label_map"]) == len(ref.info["label_map"]) == 22
    assert ds.info["rest_label"] == 1 and ref.info["rest_label"] == 0
    assert ds.window_mode == ref.window_mode == "trial" and ds.window_s == pytest.approx(ref.window_s)
    ours = {(r.meta["day"], r.meta["label"], r.meta["trial"]): r for r in ds}
    for r in ref.recordings[::97]:
        mine = ours[(r.meta["day"], r.meta["motion"], r.meta["trial"])]
        np.testing.assert_array_equal(mine.data, r.data)
        assert mine.meta["label"] - 1 == int(r.labels[0])

"""Dataset cards kept beside their folder (``root``), ``meta``, ``label_codes``, ``rest_label: false`` and the
shipped templates, on tiny generated folders (the shipped templates against their adapters on fake trees)."""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from myovox.datasets import detect_dataset, folder, load_dataset
from myovox.datasets.card import CARD_FILE, DatasetCard, root_for, template_names
from myovox.exceptions import ValidationError
from myovox.preprocessing.pipeline import dataset_windows

LAYOUT = "S{subject}/day{session}/R_{rep}_C_{label}_EMG.csv"


def _raises(match: str, fn, *args, **kwargs) -> str:
    with pytest.raises(ValidationError, match=match) as err:
        fn(*args, **kwargs)
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def _trials(root: Path, *, subjects=(1, 2), words=("rest", "up", "down"), reps=2, n=60, n_ch=3) -> Path:
    rng = np.random.default_rng(0)
    for s in subjects:
        d = root / f"S{s}" / "day1"
        d.mkdir(parents=True, exist_ok=True)
        for w in words:
            for r in range(reps):
                np.savetxt(d / f"R_{r}_C_{w}_EMG.csv", rng.normal(size=(n, n_ch)), delimiter=",", fmt="%.4f")
    return root


def _write(file: Path, **card) -> Path:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(yaml.safe_dump(card, sort_keys=False))
    return file


# ---------------------------------------------------------------------------- root
def test_relative_root(tmp_path):
    data = _trials(tmp_path / "data" / "study")
    before = sorted(data.rglob("*"))
    card = _write(tmp_path / "cards" / "study.yaml", sfreq=200, root="../data/study", layout=LAYOUT)
    assert folder.detect(card) and detect_dataset(card) == "folder"
    for ds in (load_dataset(card), folder.load(card), load_dataset(card, kind="folder")):
        assert len(ds) == 12 and ds.name == "study" and ds.window_mode == "trial"
        assert ds.info["card"] == str(card) and Path(ds.root) == tmp_path / "cards" / ".." / "data" / "study"
        assert ds.summary()["subjects"] == [1, 2]
    assert sorted(data.rglob("*")) == before  # nothing written in the data folder


def test_absolute_root_and_root_for(tmp_path):
    data = _trials(tmp_path / "study")
    card = _write(tmp_path / "elsewhere" / "x.yml", sfreq=200, root=str(data.resolve()), layout=LAYOUT)
    assert len(load_dataset(card)) == 12
    assert DatasetCard.read(card).data_root() == data.resolve()
    # root_for: relative when the card and the data share a folder below the file system's root
    assert root_for(data, tmp_path / "elsewhere" / "x.yaml") == "../study"
    assert root_for(data, tmp_path / "x.yaml") == "study"
    assert root_for(Path("/"), tmp_path / "x.yaml") == "/"


def test_missing_root_is_one_line_naming_the_card_and_key(tmp_path):
    card = _write(tmp_path / "x.yaml", sfreq=200, root="../nowhere", layout=LAYOUT)
    for fn in (load_dataset, folder.load):
        msg = _raises("invalid value for 'root'", fn, card)
        assert str(card) in msg and "nowhere" in msg and "does not exist" in msg
    (tmp_path / "a-file").write_text("x")
    card = _write(tmp_path / "y.yaml", sfreq=200, root="a-file", layout=LAYOUT)
    assert "is not a folder" in _raises("invalid value for 'root'", load_dataset, card)
    card = _write(tmp_path / "z.yaml", sfreq=200, root="", layout=LAYOUT)
    _raises("invalid value for 'root'", load_dataset, card)
    _raises("the card file .*missing.yaml does not exist", folder.load, tmp_path / "missing.yaml")


def test_card_without_root_reads_its_own_folder(tmp_path):
    _trials(tmp_path / "study")
    # beside the folder, without root: the card's own folder is the data folder
    card = _write(tmp_path / "study.yaml", sfreq=200, layout=LAYOUT)
    msg = _raises("matches no file in", load_dataset, card)
    assert "has no 'root', so its own folder is the data folder; add 'root: DATA_FOLDER'" in msg
    # ... which works when the layout starts from there
    card = _write(tmp_path / "study2.yaml", sfreq=200, layout="study/" + LAYOUT)
    ds = load_dataset(card)
    assert len(ds) == 12 and ds.name == tmp_path.name
    # the card inside its folder, read as a file or through the folder (as before)
    _write(tmp_path / "study" / CARD_FILE, sfreq=200, layout=LAYOUT)
    assert len(load_dataset(tmp_path / "study" / CARD_FILE)) == len(load_dataset(tmp_path / "study")) == 12


def test_unknown_keys_still_rejected(tmp_path):
    card = _write(tmp_path / "x.yaml", sfreq=200, roots="data", layout=LAYOUT)
    msg = _raises("unknown key 'roots'", load_dataset, card)
    assert str(card) in msg and "Did you mean 'root'" in msg


def test_a_given_card_reads_the_given_folder(tmp_path):
    data = _trials(tmp_path / "study")
    card = DatasetCard(sfreq=200, layout=LAYOUT, root="/somewhere/else")  # root is not used with a folder
    assert len(folder.load(data, card=card)) == 12
    _raises("the data folder is unknown", DatasetCard(sfreq=200, layout=LAYOUT).data_root)


def test_save_writes_only_the_card_file(tmp_path):
    card = DatasetCard(sfreq=200, layout=LAYOUT, root="data")
    file = card.save(tmp_path / "x.yaml")
    assert file.read_text().startswith("# myovox dataset card") and card.source == file
    assert sorted(tmp_path.iterdir()) == [file]
    _raises("already exists; pass force=True", card.save, file)
    card.save(file, force=True)
    _raises("must end in .yaml or .yml", card.save, tmp_path / "x.txt")
    _raises("is not a folder", card.save, tmp_path / "no" / "x.yaml")
    assert DatasetCard.read(file).root == "data"


# ---------------------------------------------------------------------------- meta, label_codes, rest_label: false
def test_meta_constants_templates_and_lookups(tmp_path):
    data = _trials(tmp_path / "study")
    meta = {
        "site": "lab",
        "gain": 0.5,
        "day": "{session}",
        "run": "s{subject}-r{rep}",
        "hand": {"from": "subject", "values": {1: "left", 2: "right"}},
        "group": {"from": "rep", "values": {0: 10}, "default": None},
    }
    ds = folder.load(data, card=DatasetCard(sfreq=200, layout=LAYOUT, meta=meta))
    r = next(r for r in ds if r.meta["subject"] == 2 and r.meta["rep"] == 1)
    assert r.meta["site"] == "lab" and r.meta["gain"] == 0.5 and r.meta["day"] == 1 and isinstance(r.meta["day"], int)
    assert r.meta["run"] == "s2-r1" and r.meta["hand"] == "right" and r.meta["group"] is None
    assert {x.meta["group"] for x in ds if x.meta["rep"] == 0} == {10}
    # a value the lookup does not list (no default)
    bad = DatasetCard(sfreq=200, layout=LAYOUT, meta={"hand": {"from": "subject", "values": {1: "left"}}})
    msg = _raises("subject = '2' is not listed in 'meta: hand: values'", folder.load, data, card=bad)
    assert "R_0_C_" in msg


@pytest.mark.parametrize(
    ("meta", "match"),
    [
        ({"source": "x"}, "key 'source' is reserved"),
        ({"2x": "x"}, "is not a name"),
        ({"a": "{nope}"}, r"\{nope\} is not a field of the layout"),
        ({"a": "{rep"}, "unbalanced braces"),
        ({"a": {"from": "nope", "values": {1: 2}}}, "'from: nope' is not a field of the layout"),
        ({"a": {"from": "rep", "values": {}}}, "a lookup needs 'values'"),
        ({"a": {"from": "rep", "values": {1: 2}, "else": 3}}, "unknown key 'else' in a lookup"),
        ({"a": {"from": "rep", "values": {1: [2]}}}, "must be a number or a text"),
        ({"a": [1, 2]}, "expected a number, a text or a lookup"),
        ([1], "expected a mapping"),
    ],
)
def test_meta_is_validated(meta, match):
    msg = _raises(match, DatasetCard, sfreq=200, layout=LAYOUT, meta=meta)
    assert msg.startswith("dataset card: invalid value for 'meta'")


def test_meta_with_an_index_is_checked_at_load(tmp_path):
    data = _trials(tmp_path / "study", subjects=(1,))
    files = sorted(p.relative_to(data).as_posix() for p in data.rglob("*.csv"))
    (data / "index.csv").write_text("file,label\n" + "\n".join(f"{f},{f.split('_C_')[1][:-8]}" for f in files))
    card = DatasetCard(sfreq=200, index="index.csv", meta={"subject": "S{who}"})
    _raises(r"\{who\} is not a field of", folder.load, data, card=card)
    ds = folder.load(data, card=DatasetCard(sfreq=200, index="index.csv", meta={"subject": "S01"}))
    assert {r.meta["subject"] for r in ds} == {"S01"}


def test_label_codes_order_and_no_rest(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    rng = np.random.default_rng(0)
    for m in (1, 2, 3):
        np.savetxt(root / f"M{m}_t0.csv", rng.normal(size=(50, 2)), delimiter=",")
    labels = {1: "rest", 2: "fist", 3: "open"}
    ds = folder.load(root, card=DatasetCard(sfreq=100, layout="M{label}_t{rep}.csv", labels=labels))
    assert ds.info["label_map"] == {1: "rest", 2: "fist", 3: "open"} and ds.info["rest_label"] == 1
    card = DatasetCard(sfreq=100, layout="M{label}_t{rep}.csv", labels=labels, label_codes="order")
    ds = folder.load(root, card=card)
    assert ds.info["label_map"] == {0: "rest", 1: "fist", 2: "open"} and ds.info["rest_label"] == 0
    assert sorted(r.meta["label"] for r in ds) == [0, 1, 2]
    # text labels with a name that means rest: numbered in the card's order, no rest label
    for f in root.iterdir():
        f.rename(f.with_name(f.name.replace("M1", "Msilence").replace("M2", "Mup").replace("M3", "Mdown")))
    names = {"up": "UP", "silence": "SILENCE", "down": "DOWN"}
    ds = folder.load(root, card=DatasetCard(sfreq=100, layout="M{label}_t{rep}.csv", labels=names))
    assert ds.info["rest_label"] == 0 and ds.info["label_map"][0] == "SILENCE"
    card = DatasetCard(sfreq=100, layout="M{label}_t{rep}.csv", labels=names, rest_label=False)
    ds = folder.load(root, card=card)
    assert ds.info["rest_label"] is None and ds.info["label_map"] == {0: "UP", 1: "SILENCE", 2: "DOWN"}
    assert "rest_label: false" in card.dumps() and DatasetCard.loads(card.dumps()).rest_label is False
    _raises("label_codes", DatasetCard, sfreq=100, layout="x", label_codes="sorted")
    _raises("or false for no rest label, got true", DatasetCard, sfreq=100, layout="x", rest_label=True)


# ---------------------------------------------------------------------------- the shipped templates on fake trees
def _longterm_tree(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for sub in (1, 2):
        for day in (1, 3, 11):
            d = root / "data" / f"sub{sub}" / f"day{day}"
            d.mkdir(parents=True)
            for m in (1, 2, 10):
                for t in (1, 2):
                    np.savetxt(d / f"D{day}M{m}T{t}.csv", rng.normal(size=(300, 8)), delimiter=",", fmt="%.6g")
    return root


def _somach_tree(root: Path) -> Path:
    rng = np.random.default_rng(1)
    files = {
        "covert_sessions/session_A": "6_Covert",
        "covert_sessions/session_B": "6_Covert",
        "studyA_3phase/Phase_1_Overt": "1_Overt",
        "studyB_5phase/Phase_2_Whispered": "2_Whispered",
        "studyB_5phase/Phase_6_Covert": "6_Covert",
    }
    for k, (rel, phase) in enumerate(files.items()):
        d = root / rel
        d.mkdir(parents=True)
        for label in ("UP", "SILENCE", "NOISE"):
            for trial in (1, 2, 10):
                n = 150 if trial == 10 and label == "UP" else 200  # a short trial: dropped alike
                x = rng.integers(0, 4096, size=(n, 2))
                rows = [f"{4 * i},{a},{b},{label},Phase_{phase}" for i, (a, b) in enumerate(x)]
                name = f"{label}_{trial:03d}_2026022{k}_10101{trial % 10}.csv"
                (d / name).write_text("Timestamp,CH1,CH2,Label,Phase\n" + "\n".join(rows) + "\n")
    return root


def _mateus_tree(root: Path) -> Path:
    rng = np.random.default_rng(2)
    for subj, conds in (("P001", "FA"), ("P006", "FS")):
        for cond in conds:
            for word, token in (("Sim", "sim"), ("Nao", "não"), ("Talvez", "talvez")):
                n, seg = 800, 200
                data = rng.normal(30000, 300, size=(n, 8))
                data[:, 4:] = -187500.02235174447
                tokens = np.where((np.arange(n) // seg) % 2 == 0, "$SILENCE", token)
                text = "WORD," + ",".join(f"Channel_{i}" for i in range(1, 9)) + "\n"
                text += "\n".join(
                    t + "," + ",".join(repr(float(v)) for v in r) for t, r in zip(tokens, data, strict=True)
                )
                path = root / "saves" / subj / cond / f"{word}.csv.gz"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(gzip.compress((text + "\n").encode()))
    return root


def _same(adapter, card) -> None:
    quality = {"n_rows_skipped", "timestamp_step_ms", "timestamp_irregular", "railed_channels", "source"}
    reader = {"label", "label_value", "label_name", "source"}
    assert (adapter.name, adapter.window_s, adapter.window_mode) == (card.name, card.window_s, card.window_mode)
    assert adapter.info["filter"] == card.info["filter"]
    assert adapter.info["rest_label"] == card.info["rest_label"]
    for ra, rc in zip(adapter, card, strict=True):
        assert {k: v for k, v in ra.meta.items() if k not in quality} == {
            k: v for k, v in rc.meta.items() if k not in reader
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wa, wc = dataset_windows(adapter), dataset_windows(card)
    assert len(wa) and np.array_equal(wa.X, wc.X) and np.array_equal(wa.y, wc.y)
    assert wa.label_names == wc.label_names and wa.ch_names == wc.ch_names


@pytest.mark.parametrize(
    ("template", "tree", "kind", "sub"),
    [
        ("longterm-armband", _longterm_tree, "longterm", ""),
        ("mateus-subvocal", _mateus_tree, "mateus", ""),
        ("somach-covert-sessions", _somach_tree, "somach", "covert_sessions"),
        ("somach-studyA", _somach_tree, "somach", "studyA_3phase"),
        ("somach-studyB", _somach_tree, "somach", "studyB_5phase"),
    ],
)
def test_templates_match_their_adapters_on_fake_trees(tmp_path, template, tree, kind, sub):
    root = tree(tmp_path / "data")
    card = DatasetCard.template(template)
    assert card.root is None and card.source is None
    card.root = root_for(root, tmp_path / "x.yaml")
    file = card.save(tmp_path / "x.yaml")
    _same(load_dataset(root / sub, kind=kind), load_dataset(file))


def test_template_names_and_errors():
    assert template_names() == [
        "longterm-armband",
        "mateus-subvocal",
        "somach-covert-sessions",
        "somach-studyA",
        "somach-studyB",
    ]
    _raises("no card template 'longterm'; known: longterm-armband", DatasetCard.template, "longterm")

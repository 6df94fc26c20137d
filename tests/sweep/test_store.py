"""The results store: data fingerprints, atomic records, foreign files refused, concurrent writers."""

from __future__ import annotations

import json
import multiprocessing
import os
import time

import pytest

from myovox.exceptions import ValidationError
from myovox.sweep import ResultsStore, config_hash, dataset_fingerprint

# ---------------------------------------------------------------------------- fingerprints


def _tree(tmp_path):
    root = tmp_path / "data"
    (root / "S01").mkdir(parents=True)
    (root / "S01" / "a.csv").write_text("1,2,3\n")
    (root / "S01" / "b.csv").write_text("4,5,6\n")
    return root


def test_stat_fingerprint_sees_every_kind_of_change(tmp_path):
    root = _tree(tmp_path)
    fp = dataset_fingerprint(root)
    assert fp.startswith("stat:") and fp == dataset_fingerprint(root)
    a = root / "S01" / "a.csv"
    st = a.stat()
    a.write_text("1,2,4\n")  # same size, new bytes and time
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    changed = dataset_fingerprint(root)
    assert changed != fp
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))  # size and time restored: the stat mode cannot tell
    assert dataset_fingerprint(root) == fp
    (root / "S01" / "c.csv").write_text("x")
    assert dataset_fingerprint(root) != fp
    (root / "S01" / "c.csv").unlink()
    (root / "S01" / "b.csv").rename(root / "S01" / "d.csv")
    assert dataset_fingerprint(root) != fp


def test_content_fingerprint_follows_the_bytes_only(tmp_path):
    root = _tree(tmp_path)
    fp = dataset_fingerprint(root, "content")
    assert fp.startswith("content:")
    a = root / "S01" / "a.csv"
    os.utime(a, (1, 1))  # a new time, the same bytes
    assert dataset_fingerprint(root, "content") == fp
    a.write_text("1,2,4\n")
    assert dataset_fingerprint(root, "content") != fp
    with pytest.raises(ValidationError, match="hash"):
        dataset_fingerprint(root, "md5")


def test_card_file_is_part_of_the_fingerprint(tmp_path):
    from myovox.datasets.card import DatasetCard

    root = _tree(tmp_path)
    card = DatasetCard.from_dict({"layout": "S{subject}/{label}.csv", "sfreq": 100, "root": str(root)})
    path = tmp_path / "cards" / "mine.yaml"
    path.parent.mkdir()
    card.save(path)
    fp = dataset_fingerprint(path)
    text = path.read_text()
    path.write_text(text.replace("sfreq: 100", "sfreq: 200"))
    assert dataset_fingerprint(path) != fp
    path.write_text(text)
    (root / "S01" / "a.csv").write_text("9,9,9,9\n")
    assert dataset_fingerprint(path) != fp


def test_config_hash_is_canonical():
    assert config_hash({"a": 1, "b": [1.5, None]}) == config_hash({"b": [1.5, None], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
    assert len(config_hash({})) == 32


# ---------------------------------------------------------------------------- the store folder


def _record(key: str, status: str = "done", mean: float = 0.5, **extra) -> dict:
    unit = {
        "dataset": {"path": "/d", "name": "d", "fingerprint": "stat:x"},
        "protocol": "kfold",
        "model": "lda",
        "seed": 0,
        "subject": "S01",
    }
    rec = {"key": key, "status": status, "label": f"unit {key[:6]}", "unit": unit, "config": {"k": key}}
    if status == "done":
        rec["result"] = {"mean": mean, "std": 0.0, "folds": [{"fold": "0", "balanced_accuracy": mean, "fit_s": 1.0}]}
        rec["timing"] = {"total_s": 1.0}
    else:
        rec["error"] = {"type": "ValueError", "message": "boom"}
        rec["attempts"] = [{"ok": False}, {"ok": False}]
    rec.update(extra)
    return rec


def test_store_refuses_foreign_folders_and_files(tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ValidationError, match=r"not a myovox sweep store .*notes\.txt"):
        ResultsStore(other)
    assert (other / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValidationError, match="not a sweep results store"):
        ResultsStore(tmp_path / "missing", create=False)
    store = ResultsStore(tmp_path / "store")
    (store.path / "units" / "README").write_text("mine")
    with pytest.raises(ValidationError, match=r"files that myovox did not write \(units/README\)"):
        ResultsStore(store.path)
    (store.path / "units" / "README").unlink()
    (store.path / "plot.png").write_bytes(b"x")
    with pytest.raises(ValidationError, match=r"plot\.png"):
        ResultsStore(store.path)
    (store.path / "plot.png").unlink()
    ResultsStore(store.path)  # clean again
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ValidationError, match="is a file"):
        ResultsStore(file)


def test_records_index_and_failed_then_done(tmp_path):
    store = ResultsStore(tmp_path / "store")
    k1, k2 = "a" * 32, "b" * 32
    store.write(_record(k1, mean=0.7))
    store.write(_record(k2, status="failed"))
    assert store.done_keys() == {k1} and store.failed_keys() == {k2}
    idx = store.index()
    assert list(idx["key"]) == [k1, k2]
    assert idx.set_index("key").loc[k1, "mean"] == pytest.approx(0.7)
    assert idx.set_index("key").loc[k2, "error"] == "ValueError: boom"
    assert idx.set_index("key").loc[k2, "attempts"] == 2
    store.write(_record(k2, mean=0.6))  # it succeeds later: the failed record goes
    assert store.failed_keys() == set() and not (store.path / "failed" / f"{k2}.json").exists()
    store.write(_record(k2, status="failed"))  # a failure after a success is not recorded over it
    assert store.failed_keys() == set()
    folds = store.folds()
    assert len(folds) == 2 and "fit_s" in folds.columns
    assert store.write_index().is_file()
    with pytest.raises(ValidationError, match="32 hex"):
        store.write(_record("../../etc"))


def test_unreadable_record_is_skipped_and_stale_temp_files_removed(tmp_path, caplog):
    store = ResultsStore(tmp_path / "store")
    bad = store.path / "units" / ("c" * 32 + ".json")
    bad.write_text("{not json")
    with caplog.at_level("WARNING", logger="myovox"):
        assert store.done_keys() == set()  # its unit counts as not finished: it runs again
    assert "unreadable record" in caplog.text
    tmp = store.path / "units" / f".{'d' * 32}.myovox-tmp-01234567.json"
    tmp.write_text("partial")
    old = time.time() - 7200
    os.utime(tmp, (old, old))
    fresh = store.path / "units" / f".{'e' * 32}.myovox-tmp-01234568.json"
    fresh.write_text("being written")
    ResultsStore(store.path)
    assert not tmp.exists() and fresh.exists()  # only the left-over of a killed writer goes


def _writer(path: str, worker: int, n: int) -> None:
    store = ResultsStore(path)
    for i in range(n):
        store.write(_record(f"{i:032x}", mean=0.5))  # every writer writes the same keys ...
        store.write(_record(f"{worker:08x}{i:024x}", mean=worker / 10))  # ... and keys of its own


def test_concurrent_writers_never_corrupt_the_store(tmp_path):
    path = tmp_path / "store"
    ResultsStore(path)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w + 1, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = ResultsStore(path)
    keys = store.done_keys()
    assert len(keys) == 40 + 4 * 40
    for f in (path / "units").iterdir():
        assert not f.name.startswith(".")  # no temporary file left behind
        json.loads(f.read_text())  # every record whole
    assert len(store.index()) == len(keys)

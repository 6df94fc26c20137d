"""Outputs are transactions (myovox._outputs): temporary sibling, manifest, rename; never delete a user's file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from myovox._outputs import MANIFEST, atomic_file, check_output_folder, output_folder, read_manifest
from myovox.exceptions import ValidationError


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def _siblings(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if "myovox-" in p.name)


def test_new_folder_gets_manifest_and_no_temp_left(tmp_path):
    out = tmp_path / "deep" / "out"
    with output_folder(out, what="test folder") as work:
        assert work.parent == out.parent and work.name.startswith(".out.myovox-tmp-")
        assert not out.exists()  # nothing appears before the block ends
        _write(work, {"a.txt": "a", "sub/b.txt": "b"})
    assert (out / "a.txt").read_text() == "a" and (out / "sub" / "b.txt").read_text() == "b"
    m = read_manifest(out)
    assert m["files"] == ["a.txt", "sub/b.txt"] and m["what"] == "test folder"
    assert m["myovox_version"] and m["created"].endswith("Z")
    assert json.loads((out / MANIFEST).read_text()) == m
    assert _siblings(out.parent) == []


def test_missing_or_empty_folder_is_fine_without_force(tmp_path):
    (tmp_path / "empty").mkdir()
    for name in ("empty", "missing"):
        with output_folder(tmp_path / name) as work:
            (work / "x").write_text("1")
        assert (tmp_path / name / "x").read_text() == "1"


def test_non_empty_folder_needs_force(tmp_path):
    out = tmp_path / "out"
    with output_folder(out) as work:
        (work / "x").write_text("old")
    with pytest.raises(ValidationError) as err:
        with output_folder(out) as work:
            pytest.fail("must not be reached")
    msg = str(err.value)
    assert "exists and is not empty" in msg and "--force" in msg and "\n" not in msg
    assert (out / "x").read_text() == "old" and _siblings(tmp_path) == []


def test_force_replaces_a_folder_myovox_wrote(tmp_path):
    out = tmp_path / "out"
    with output_folder(out) as work:
        _write(work, {"x": "old", "sub/y": "old"})
    with output_folder(out, force=True) as work:
        (work / "z").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "z"]
    assert read_manifest(out)["files"] == ["z"] and _siblings(tmp_path) == []


@pytest.mark.parametrize("user_file", ["notes.txt", "sub/notes.txt"])
def test_force_never_deletes_a_foreign_file(tmp_path, user_file):
    out = tmp_path / "out"
    with output_folder(out) as work:
        _write(work, {"x": "old", "sub/y": "old"})
    _write(out, {user_file: "mine"})
    with pytest.raises(ValidationError, match=f"did not write \\({user_file}\\)"):
        with output_folder(out, force=True):
            pass
    assert (out / user_file).read_text() == "mine" and (out / "x").read_text() == "old"
    assert _siblings(tmp_path) == []


def test_force_refuses_a_folder_without_manifest_naming_three_files(tmp_path):
    out = tmp_path / "out"
    _write(out, {f"f{i}.txt": "u" for i in range(5)})
    with pytest.raises(ValidationError) as err:
        check_output_folder(out, force=True)
    msg = str(err.value)
    assert MANIFEST in msg and "f0.txt, f1.txt, f2.txt, and 2 more" in msg and "f3.txt" not in msg
    assert len(list(out.iterdir())) == 5


def test_failure_inside_leaves_old_folder_intact(tmp_path):
    out = tmp_path / "out"
    with output_folder(out) as work:
        (work / "x").write_text("old")
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(RuntimeError, match="boom"):
        with output_folder(out, force=True) as work:
            (work / "x").write_text("half")
            raise RuntimeError("boom")
    assert sorted(p.name for p in out.iterdir()) == before and (out / "x").read_text() == "old"
    assert _siblings(tmp_path) == []
    with pytest.raises(KeyboardInterrupt):
        with output_folder(tmp_path / "new") as work:
            raise KeyboardInterrupt
    assert not (tmp_path / "new").exists() and _siblings(tmp_path) == []


def test_folder_changed_while_writing_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValidationError, match="not empty"):
        with output_folder(out) as work:
            (work / "x").write_text("new")
            _write(out, {"user.txt": "appeared meanwhile"})
    assert sorted(p.name for p in out.iterdir()) == ["user.txt"] and _siblings(tmp_path) == []


def test_current_home_and_root_are_refused(tmp_path, monkeypatch):
    cwd = tmp_path / "work"
    cwd.mkdir()
    (cwd / "mine.txt").write_text("keep")
    monkeypatch.chdir(cwd)
    for path, why in (
        (".", "current working directory"),
        (str(cwd), "current working directory"),
        ("..", "holds the current working directory"),
        ("/", "filesystem root"),
    ):
        for force in (False, True):
            with pytest.raises(ValidationError, match=why):
                with output_folder(path, force=force):
                    pytest.fail("must not be reached")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(ValidationError, match="home folder"):
        check_output_folder(home, force=True)
    assert (cwd / "mine.txt").read_text() == "keep" and _siblings(tmp_path) == []


def test_symlink_and_file_are_refused(tmp_path):
    real = tmp_path / "real"
    with output_folder(real) as work:
        (work / "x").write_text("1")
    link = tmp_path / "link"
    os.symlink(real, link)
    with pytest.raises(ValidationError, match="symbolic link"):
        check_output_folder(link, force=True)
    f = tmp_path / "file.txt"
    f.write_text("keep")
    with pytest.raises(ValidationError, match="is a file"):
        check_output_folder(f, force=True)
    assert link.is_symlink() and (real / "x").exists() and f.read_text() == "keep"


def test_manifest_folders_nest(tmp_path):
    out = tmp_path / "out"
    for _ in range(2):  # the second run replaces the first, sub-folder manifests included
        with output_folder(out, force=True) as work:
            with output_folder(work / "inner") as inner:
                (inner / "r.json").write_text("{}")
            (work / "top.txt").write_text("t")
    assert read_manifest(out)["files"] == ["inner/.myovox-manifest.json", "inner/r.json", "top.txt"]
    (out / "inner" / "user.txt").write_text("mine")
    with pytest.raises(ValidationError, match=r"inner/user.txt"):
        check_output_folder(out, force=True)


def test_later_files_are_replaceable(tmp_path):
    out = tmp_path / "out"
    with output_folder(out, later=("harness",)) as work:
        (work / "lib.c").write_text("c")
    (out / "harness").write_text("built later")
    check_output_folder(out, force=True)
    (out / "other").write_text("user")
    with pytest.raises(ValidationError, match="other"):
        check_output_folder(out, force=True)


def test_atomic_file(tmp_path):
    target = tmp_path / "sub" / "rec.h5"
    with atomic_file(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".h5" and not tmp.exists()
        tmp.write_bytes(b"one")
    assert target.read_bytes() == b"one"
    with pytest.raises(ValidationError, match="already exists"):
        with atomic_file(target):
            pass
    with pytest.raises(RuntimeError):
        with atomic_file(target, force=True) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError
    assert target.read_bytes() == b"one" and sorted(p.name for p in target.parent.iterdir()) == ["rec.h5"]
    with atomic_file(target, force=True) as tmp:
        tmp.write_bytes(b"two")
    assert target.read_bytes() == b"two"
    with pytest.raises(ValidationError, match="is a folder"):
        with atomic_file(tmp_path):
            pass


@pytest.mark.parametrize("text", ["not json", "[]", '{"files": "x"}', '{"files": [1]}', '{"files": [], "later": 3}'])
def test_damaged_manifest_vouches_for_nothing(tmp_path, text):
    out = tmp_path / "out"
    _write(out, {"x": "1", MANIFEST: text})
    assert read_manifest(out) is None
    with pytest.raises(ValidationError, match="was not written by myovox"):
        check_output_folder(out, force=True)

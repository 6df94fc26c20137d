"""Outputs are transactions: folders and files are written beside their target and renamed on success.

:func:`output_folder` yields a hidden temporary sibling of the output folder; when the block ends
normally it records what was written in a manifest (:data:`MANIFEST`) and moves the folder into
place, replacing an existing one only when ``force`` is given *and* every file in it is listed in
its manifest (myovox wrote it). A failure leaves the existing folder untouched. The current
directory, the home folder, the filesystem root (and any folder holding one of them), a symbolic
link and an existing file are never replaced. :func:`atomic_file` does the same for one file.

Bottom layer: imports only the standard library and :mod:`myovox.exceptions` / ``_logging``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._logging import logger
from .exceptions import MyovoxError, ValidationError

#: name of the manifest file that :func:`output_folder` writes into every folder it makes
MANIFEST = ".myovox-manifest.json"
_TMP, _OLD = "myovox-tmp", "myovox-old"

__all__ = ["MANIFEST", "atomic_file", "check_output_folder", "output_folder", "read_manifest"]


def _abs(path: str | os.PathLike) -> Path:
    """Absolute path without resolving symbolic links (so that a link can be detected)."""
    return Path(os.path.abspath(os.fspath(path)))


def _protected(path: Path) -> str | None:
    """Why ``path`` must never be replaced, or None."""
    real = path.resolve()
    if real == Path(real.anchor):
        return "the filesystem root"
    for where, name in ((Path.cwd, "the current working directory"), (Path.home, "your home folder")):
        try:
            place = where().resolve()
        except (OSError, RuntimeError):  # pragma: no cover - deleted cwd, no home
            continue
        if real == place:
            return name
        if real in place.parents:
            return f"a folder that holds {name} ({place})"
    return None


def _files(folder: Path) -> list[str]:
    """Every file and symbolic link under ``folder`` (relative POSIX paths, links not followed)."""
    found: list[str] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        rel = Path(root).relative_to(folder)
        found.extend((rel / name).as_posix() for name in files)
        found.extend((rel / name).as_posix() for name in dirs if os.path.islink(os.path.join(root, name)))
    return sorted(found)


def read_manifest(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest of a folder written by :func:`output_folder`, or None (missing or unreadable).

    Parameters
    ----------
    folder : path-like
        The folder.

    Returns
    -------
    dict | None
        ``files`` (relative POSIX paths), ``what``, ``myovox_version``, ``created`` (UTC, ISO 8601)
        and, when given, ``later`` (files myovox may add afterwards).
    """
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    for key in ("files", "later"):
        value = data.get(key, [] if key == "later" else None)
        if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
            return None  # a damaged manifest vouches for nothing
    return data


def _listing(names: list[str], n: int = 3) -> str:
    more = f", and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def check_output_folder(path: str | os.PathLike, *, force: bool = False, what: str = "output folder") -> None:
    """Raise :class:`~myovox.exceptions.ValidationError` unless :func:`output_folder` may write ``path``.

    Parameters
    ----------
    path : path-like
        The output folder.
    force : bool
        Allow replacing a non-empty folder whose every file is listed in its manifest.
    what : str
        What the folder is, for messages (``"export folder"``).

    Raises
    ------
    ValidationError
        ``path`` is protected (current directory, home, root, or a folder holding one of them), a
        symbolic link or a file; or it is not empty and ``force`` is False; or, with ``force``, it
        holds files that myovox did not write (the first three are named).
    """
    p = _abs(path)
    label = f"{what[:1].upper()}{what[1:]} {os.fspath(path)}"
    if p.is_symlink():
        raise ValidationError(f"{label} is a symbolic link; refusing to write through it (give the real folder).")
    why = _protected(p)
    if why is not None:
        raise ValidationError(f"{label} is {why}; refusing to write or replace it; choose a new sub-folder.")
    if not p.exists():
        return
    if not p.is_dir():
        raise ValidationError(f"{label} exists and is a file, not a folder; choose another path.")
    if not any(p.iterdir()):
        return
    if not force:
        raise ValidationError(
            f"{label} already exists and is not empty; pass --force to replace what myovox wrote there."
        )
    manifest = read_manifest(p)
    present = [f for f in _files(p) if f != MANIFEST]
    if manifest is None:
        raise ValidationError(
            f"{label} was not written by myovox (no {MANIFEST}); --force replaces only what "
            f"myovox wrote, and it holds {_listing(present)}. Choose another folder."
        )
    listed = set(manifest["files"]) | set(manifest.get("later") or ())
    foreign = [f for f in present if f not in listed]
    if foreign:
        raise ValidationError(
            f"{label} holds files that myovox did not write ({_listing(foreign)}); --force "
            "replaces only what myovox wrote. Move them or choose another folder."
        )


def _sibling(path: Path, kind: str, suffix: str = "") -> Path:
    stem = path.name[: -len(suffix)] if suffix and path.name.endswith(suffix) else path.name
    return path.with_name(f".{stem}.{kind}-{secrets.token_hex(4)}{suffix}")


def _write_manifest(folder: Path, what: str, later: Sequence[str]) -> None:
    from ._version import __version__

    manifest: dict[str, Any] = {
        "what": what,
        "myovox_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": [f for f in _files(folder) if f != MANIFEST],
    }
    if later:
        manifest["later"] = sorted(later)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


def _move_into_place(new: Path, final: Path) -> None:
    """Rename ``new`` to ``final``; an existing ``final`` goes to a hidden sibling first, and back on failure."""
    old = None
    if os.path.lexists(final):
        old = _sibling(final, _OLD)
        os.rename(final, old)
    try:
        os.rename(new, final)
    except BaseException:
        if old is not None:
            os.rename(old, final)
        raise
    if old is not None:
        try:
            shutil.rmtree(old)
        except OSError as err:  # the new folder is in place; only the clean-up failed
            logger.warning("Could not remove the replaced folder %s: %s", old, err)


@contextmanager
def output_folder(
    path: str | os.PathLike, *, force: bool = False, what: str = "output folder", later: Sequence[str] = ()
) -> Iterator[Path]:
    """Write an output folder as a transaction.

    Yields a new hidden sibling folder (``.NAME.myovox-tmp-XXXXXXXX``) to write into. When the
    block ends normally, a manifest listing every file written is added and the folder is
    renamed to ``path`` (an existing ``path`` is moved aside first and deleted once the new folder
    is in place; if the rename fails it is restored). When the block raises, the temporary
    folder is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : path-like
        The output folder; missing or empty, or (with ``force``) written before by myovox.
        Missing parent folders are created.
    force : bool
        Replace a non-empty folder whose files are all listed in its manifest.
    what : str
        What the folder is, for messages and the manifest (``"export folder"``).
    later : sequence of str
        Relative paths of files that myovox itself may add to the folder afterwards (the harness
        that :func:`~myovox.export.c_codegen.compile_harness` builds by default); recorded in
        the manifest and replaced with ``force`` like the files written now.

    Yields
    ------
    Path
        The temporary folder; write everything there.

    Raises
    ------
    ValidationError
        See :func:`check_output_folder` (checked on entry and again before the rename).
    MyovoxError
        The finished folder could not be moved into place (the old one is kept).
    """
    final = _abs(path)
    check_output_folder(path, force=force, what=what)
    final.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = _sibling(final, _TMP)
        try:
            tmp.mkdir()
            break
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
    try:
        yield tmp
        _write_manifest(tmp, what, later)
        check_output_folder(path, force=force, what=what)  # it may have changed while we worked
        try:
            _move_into_place(tmp, final)
        except OSError as err:
            raise MyovoxError(f"Could not move the new {what} into place at {os.fspath(path)}: {err}") from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def atomic_file(path: str | os.PathLike, *, force: bool = False, what: str = "output file") -> Iterator[Path]:
    """Write one file as a transaction.

    Yields a path beside ``path`` (hidden, same suffix, not yet created) to write to. When the
    block ends normally the file is flushed to disk and renamed over ``path`` (:func:`os.replace`);
    when it raises, the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path : path-like
        The output file; missing parent folders are created.
    force : bool
        Replace an existing file.
    what : str
        What the file is, for messages.

    Yields
    ------
    Path
        The temporary file path.

    Raises
    ------
    ValidationError
        ``path`` is a symbolic link or a folder, or exists and ``force`` is False.
    """
    final = _abs(path)
    label = f"{what[:1].upper()}{what[1:]} {os.fspath(path)}"
    if final.is_symlink():
        raise ValidationError(f"{label} is a symbolic link; refusing to write through it (give the real file).")
    if final.is_dir():
        raise ValidationError(f"{label} is a folder, not a file.")
    if final.exists() and not force:
        raise ValidationError(f"{label} already exists; pass --force to replace it.")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(final, _TMP, final.suffix)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise

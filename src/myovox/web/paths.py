"""The dashboard's data folder: every path a client names is resolved here, and only inside it.

A client (a browser page, or anything that speaks to the server) names files and folders by a
path *relative to the data folder*, e.g. ``sessions/sess_1_batch_1_2026-01-27_10-00-00.csv`` or
``models/demo``. :meth:`DataFolder.resolve` refuses, with :class:`PathRefused`:

- anything that is not a short plain string (NUL or control characters, backslashes, too long);
- absolute paths (``/etc/passwd``) and ``~`` expansion (never done: ``~`` is an ordinary name);
- ``..`` components, even where they would stay inside, and hidden names (``.myovox-manifest.json``,
  the temporary folders of :mod:`myovox._outputs`);
- any path whose real location (symbolic links followed) leaves the data folder.

URL-encoded traversal (``..%2F``) arrives here decoded by the web framework and is refused like any
other ``..``; a path that is still percent-encoded names a file with a ``%`` in its name, which is
looked up literally inside the folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from ..exceptions import ValidationError

__all__ = ["DataFolder", "PathRefused"]

#: longest relative path a client may send
MAX_PATH_CHARS = 512


class PathRefused(ValidationError):
    """A client-supplied path is malformed or leads outside the data folder."""


class DataFolder:
    """The one folder the dashboard reads and writes.

    Parameters
    ----------
    root : path-like
        The folder; created when missing. Its real location (links resolved) is the boundary.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        path = Path(root)
        path.mkdir(parents=True, exist_ok=True)
        self.root = path.resolve()
        if not self.root.is_dir():
            raise ValidationError(f"Data folder {root} is not a folder.")

    def __repr__(self) -> str:
        return f"DataFolder({str(self.root)!r})"

    # ------------------------------------------------------------------ checks
    def contains(self, path: str | os.PathLike[str]) -> bool:
        """Whether the real location of ``path`` (links followed) is the data folder or inside it."""
        try:
            real = Path(path).resolve()
        except (OSError, RuntimeError):  # a link loop
            return False
        return real == self.root or self.root in real.parents

    def resolve(self, rel: object, *, must_exist: bool = True, kind: str | None = None) -> Path:
        """The real path of a client-supplied path relative to the data folder.

        Parameters
        ----------
        rel : str
            A relative POSIX path as the client sent it.
        must_exist : bool
            Refuse a path that does not exist.
        kind : {"file", "dir"} | None
            Refuse anything else (checked when the path exists).

        Raises
        ------
        PathRefused
            Malformed, absolute, ``..`` or hidden components, outside the folder (links followed),
            missing (with ``must_exist``) or of the wrong kind.
        """
        parts = self._parts(rel)
        candidate = self.root.joinpath(*parts)
        if not self.contains(candidate):
            raise PathRefused(f"{rel!r} leads outside the data folder.")
        real = candidate.resolve()
        if must_exist and not real.exists():
            raise PathRefused(f"{rel!r} does not exist in the data folder.")
        if real.exists() and kind == "file" and not real.is_file():
            raise PathRefused(f"{rel!r} is not a file.")
        if real.exists() and kind == "dir" and not real.is_dir():
            raise PathRefused(f"{rel!r} is not a folder.")
        return real

    def relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` (inside the folder) as the relative POSIX path a client uses."""
        real = Path(path).resolve()
        return real.relative_to(self.root).as_posix()

    def subfolder(self, name: str, *, create: bool = True) -> Path:
        """A folder of the data folder that the dashboard writes into (``sessions``, ``models``).

        Refused when it is a link (or inside one) that leads outside the data folder."""
        parts = self._parts(name)
        path = self.root.joinpath(*parts)
        if create and not path.exists() and not path.is_symlink():
            path.mkdir(parents=True)
        if not self.contains(path):
            raise PathRefused(f"{name!r} leads outside the data folder.")
        real = path.resolve()
        if real.exists() and not real.is_dir():
            raise PathRefused(f"{name!r} is not a folder.")
        return real

    # ------------------------------------------------------------------ listing
    def walk(self, sub: str = "", *, suffixes: Iterable[str] = (), max_depth: int = 5) -> Iterator[Path]:
        """Files below ``sub`` whose names end with one of ``suffixes`` (any when empty), sorted,
        at most ``max_depth`` folders deep; hidden names and links that leave the folder are skipped,
        and links to folders are not followed."""
        start = self.resolve(sub, kind="dir") if sub else self.root
        ends = tuple(s.lower() for s in suffixes)
        base_depth = len(start.parts)
        for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            if len(here.parts) - base_depth >= max_depth:
                dirnames[:] = []
            for name in sorted(filenames):
                if name.startswith(".") or (ends and not name.lower().endswith(ends)):
                    continue
                path = here / name
                if path.is_symlink() and not self.contains(path):
                    continue
                yield path

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _parts(rel: object) -> list[str]:
        if not isinstance(rel, str):
            raise PathRefused(f"A path must be a string, got {type(rel).__name__}.")
        if not rel or len(rel) > MAX_PATH_CHARS:
            raise PathRefused(f"A path must have 1 to {MAX_PATH_CHARS} characters.")
        if any(ord(c) < 32 or ord(c) == 127 for c in rel) or "\\" in rel:
            raise PathRefused(f"{rel!r} holds control characters or backslashes.")
        pure = PurePosixPath(rel)
        if pure.is_absolute() or rel.startswith("/"):
            raise PathRefused(f"{rel!r} is absolute; paths are relative to the data folder.")
        parts = [p for p in pure.parts if p not in ("", ".")]
        if not parts:
            raise PathRefused(f"{rel!r} names no file.")
        for p in parts:
            if p == "..":
                raise PathRefused(f"{rel!r} climbs out with '..'.")
            if p.startswith("."):
                raise PathRefused(f"{rel!r} names a hidden file or folder.")
        return parts

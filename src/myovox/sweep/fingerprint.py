"""What a sweep unit's key is made of: a fingerprint of its input data and a hash of its configuration.

Two ways of fingerprinting a dataset (the ``hash`` key of a sweep configuration):

* ``"stat"`` (default, fast): every file's relative path, size and modification time (ns). A file
  that is edited, replaced, added, removed or renamed changes the fingerprint; rewriting a file
  with the same bytes changes it too (a unit is then recomputed, never wrongly reused). A change
  that keeps the size and restores the modification time (``touch -d``) is not seen.
* ``"content"`` (robust, slower: reads every byte): relative path and SHA-256 of every file. Only a
  change of the bytes, or of the set of files, changes it; copying the data elsewhere keeps it.

A dataset card file (``*.yaml`` with a ``root``) is fingerprinted together with its data folder,
so an edited card is a changed input too.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .._checks import check_option
from .._json import to_jsonable
from ..exceptions import ValidationError

#: dataset fingerprint modes
HASH_MODES = ("stat", "content")

__all__ = ["HASH_MODES", "config_hash", "data_files", "dataset_fingerprint"]


def _card_root(path: Path) -> Path | None:
    """The data folder named by a dataset card file, or None when ``path`` is not a card file."""
    if not path.is_file() or path.suffix.lower() not in (".yaml", ".yml"):
        return None
    from ..datasets.card import DatasetCard

    return DatasetCard.read(path).data_root()


def data_files(path: str | os.PathLike) -> list[tuple[str, Path]]:
    """The files that make up the dataset at ``path``, as (name in the fingerprint, path) pairs, sorted.

    A folder: every file under it (links to files followed, links to folders not). A card file:
    the card itself (``card:<name>``) and every file of its data folder. Any other file: itself.
    """
    p = Path(path)
    if not p.exists():
        raise ValidationError(f"Dataset path {p} does not exist.")
    out: list[tuple[str, Path]] = []
    root = _card_root(p)
    if root is not None:
        out.append((f"card:{p.name}", p))
        p = root
    if p.is_file():
        out.append((p.name, p))
        return out
    for folder, dirs, files in os.walk(p):
        dirs.sort()
        rel = Path(folder).relative_to(p)
        for name in sorted(files):
            out.append(((rel / name).as_posix(), Path(folder) / name))
    return sorted(out)


def dataset_fingerprint(path: str | os.PathLike, mode: str = "stat") -> str:
    """A hex digest that changes when the dataset at ``path`` changes (see the module's docstring).

    Parameters
    ----------
    path : path-like
        A dataset folder, a dataset card file or one recording file.
    mode : {"stat", "content"}
        File names, sizes and modification times (fast) or file contents (reads every byte).

    Returns
    -------
    str
        ``"<mode>:<sha256 hex>"``.
    """
    check_option("hash", mode, HASH_MODES)
    h = hashlib.sha256()
    for name, file in data_files(path):
        h.update(name.encode("utf-8", "surrogateescape") + b"\0")
        try:
            if mode == "stat":
                st = file.stat()
                h.update(f"{st.st_size}:{st.st_mtime_ns}\n".encode())
            else:
                digest = hashlib.sha256()
                with open(file, "rb") as fh:
                    while block := fh.read(1 << 20):
                        digest.update(block)
                h.update(digest.hexdigest().encode() + b"\n")
        except OSError as err:  # vanished or unreadable while we looked
            raise ValidationError(f"Cannot fingerprint dataset file {file}: {err}.") from None
    return f"{mode}:{h.hexdigest()}"


def config_hash(config: Any, n: int = 32) -> str:
    """The first ``n`` hex digits of the SHA-256 of ``config`` as canonical JSON (sorted keys)."""
    text = json.dumps(to_jsonable(config, strict=True, what="a sweep configuration"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]

"""Readers and writers, one module per format; ``read_recording`` picks one by file name.

Every reader has the signature ``read_<fmt>(path, **options) -> Recording`` and every writer
``write_<fmt>(recording, path, *, overwrite=False) -> Path``. Errors are ``DataFormatError``
with a one-line message naming the file and the problem. :func:`format_of` tells which module
handles a file; :func:`dropped_by` what a format cannot hold; :func:`crop` cuts a recording with
its packet metadata.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from .._checks import did_you_mean
from ..exceptions import ValidationError
from ..recording import Recording
from ._lossless import crop, dropped_by

# suffix -> (module, reader, writer); writers may be None
FORMATS: dict[str, tuple[str, str, str | None]] = {
    ".bio": ("bio", "read_bio", "write_bio"),
    ".h5": ("silentwear_h5", "read_silentwear_h5", "write_h5"),
    ".hdf5": ("silentwear_h5", "read_silentwear_h5", "write_h5"),
    ".csv": ("csv", "read_csv", "write_csv"),
    ".csv.gz": ("csv", "read_csv", "write_csv"),
    ".edf": ("edf", "read_edf", "write_edf"),
    ".bdf": ("edf", "read_edf", "write_edf"),
    ".xdf": ("xdf", "read_xdf", None),
    ".npz": ("npz", "read_npz", "write_npz"),
}


def format_of(path: str | Path, fmt: str | None = None) -> tuple[str, str, str | None]:
    """``(module, reader, writer)`` names for ``path``, from its ending or from ``fmt`` (e.g. ``"h5"``).

    The writer is ``None`` for read-only formats. An unknown format or ending raises
    ``ValidationError`` naming the known ones.
    """
    path = Path(path)
    if fmt is not None:
        key = fmt if fmt.startswith(".") else "." + fmt
        if key not in FORMATS:
            raise ValidationError(
                f"Unknown format {fmt!r}; known: {', '.join(sorted(FORMATS))}.{did_you_mean(key, FORMATS)}"
            )
        return FORMATS[key]
    name = path.name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FORMATS[suffix]
    raise ValidationError(f"Cannot tell the format of {path}: known file endings are {', '.join(sorted(FORMATS))}.")


def read_recording(path: str | Path, *, format: str | None = None, **options: Any) -> Recording:
    """Read one recording from a file, choosing the reader by its ending (or ``format``)."""
    path = Path(path)
    module, reader, _ = format_of(path, format)
    mod = importlib.import_module(f"{__name__}.{module}")
    return getattr(mod, reader)(path, **options)


def write_recording(
    recording: Recording, path: str | Path, *, format: str | None = None, overwrite: bool = False, **options: Any
) -> Path:
    """Write a recording, choosing the writer by the file ending (or ``format``)."""
    path = Path(path)
    module, _, writer = format_of(path, format)
    if writer is None:
        raise ValidationError(f"Writing {path.suffix} files is not supported; write .bio, .h5, .csv, .edf or .npz.")
    mod = importlib.import_module(f"{__name__}.{module}")
    return getattr(mod, writer)(recording, path, overwrite=overwrite, **options)


__all__ = ["FORMATS", "crop", "dropped_by", "format_of", "read_recording", "write_recording"]

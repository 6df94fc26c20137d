"""myovox's own lossless container: a NumPy ``.npz`` with the data, labels and a JSON header.

``meta`` values that are numeric arrays (per-packet counter, timestamps, trigger ids, ...) are
stored as their own members ``meta:<key>`` with their dtype; everything else is in the JSON
header. Files are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..exceptions import DataFormatError, ValidationError
from ..recording import Recording
from ._lossless import meta_from_json, meta_to_json

_META_PREFIX = "meta:"


def write_npz(recording: Recording, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``recording`` to ``path`` (``.npz``) without loss; metadata go in a JSON header."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ValidationError(f"{path} exists; pass overwrite=True to replace it.")
    meta, arrs, _ = meta_to_json(recording.meta, where=path)
    header = {
        "format": "myovox-npz",
        "version": 2,
        "sfreq": recording.sfreq,
        "ch_names": list(recording.ch_names),
        "label_names": {str(k): v for k, v in (recording.label_names or {}).items()},
        "meta": meta,
    }
    arrays = {"data": recording.data, "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    if recording.labels is not None:
        arrays["labels"] = recording.labels
    for k, v in arrs.items():
        arrays[_META_PREFIX + k] = v
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        # numpy's default, named: mypy would otherwise match **arrays against the bool parameter
        np.savez(fh, allow_pickle=True, **arrays)
    tmp.replace(path)
    return path


def read_npz(path: str | Path) -> Recording:
    """Read a recording written by :func:`write_npz`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise DataFormatError(f"{path}: not a myovox .npz recording (a single array, not an archive).")
            header = json.loads(bytes(np.asarray(z["header"], dtype=np.uint8)).decode("utf-8"))
            data = np.asarray(z["data"])
            labels = np.asarray(z["labels"]) if "labels" in z.files else None
            arrs = {k[len(_META_PREFIX) :]: np.asarray(z[k]) for k in z.files if k.startswith(_META_PREFIX)}
        if not isinstance(header, dict):
            raise TypeError("header is not a JSON object")
        meta = meta_from_json(header.get("meta") or {}, arrs)
        label_names = {int(k): str(v) for k, v in (header.get("label_names") or {}).items()} or None
        sfreq, ch_names = header["sfreq"], header["ch_names"]
        if not isinstance(ch_names, list):
            raise TypeError("ch_names is not a list")
    except DataFormatError:
        raise
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        EOFError,
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        RuntimeError,
        zlib.error,
        struct.error,
        OverflowError,
        MemoryError,
        UnicodeDecodeError,
        RecursionError,
    ) as err:  # a damaged zip fails in many ways
        msg = " ".join(str(err).split())[:200]
        raise DataFormatError(f"{path}: not a myovox .npz recording ({type(err).__name__}: {msg}).") from err
    if data.dtype.kind not in "biuf":
        raise DataFormatError(f"{path}: member 'data' holds {data.dtype} values, not numbers.")
    meta["source"] = str(path)
    try:
        return Recording(data, sfreq, ch_names, labels, label_names, meta)
    except ValidationError as err:
        raise DataFormatError(f"{path}: {err}") from err

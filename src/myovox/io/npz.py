"""myovox's own lossless container: a NumPy ``.npz`` with the data, labels and a JSON header."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from ..exceptions import DataFormatError, ValidationError
from ..recording import Recording


def write_npz(recording: Recording, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``recording`` to ``path`` (``.npz``) without loss; metadata go in a JSON header."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ValidationError(f"{path} exists; pass overwrite=True to replace it.")
    header = {
        "sfreq": recording.sfreq, "ch_names": list(recording.ch_names),
        "label_names": {str(k): v for k, v in (recording.label_names or {}).items()},
        "meta": recording.meta,
    }
    arrays = {"data": recording.data, "header": np.frombuffer(
        json.dumps(header, default=str).encode(), dtype=np.uint8)}
    if recording.labels is not None:
        arrays["labels"] = recording.labels
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def read_npz(path: str | Path) -> Recording:
    """Read a recording written by :func:`write_npz`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(bytes(z["header"]).decode())
            data = z["data"]
            labels = z["labels"] if "labels" in z.files else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as err:
        raise DataFormatError(f"{path}: not a myovox .npz recording ({err}).") from err
    meta = dict(header.get("meta") or {})
    meta["source"] = str(path)
    return Recording(data, header["sfreq"], header["ch_names"], labels,
                     {int(k): v for k, v in header.get("label_names", {}).items()} or None, meta)

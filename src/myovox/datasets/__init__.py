"""Dataset adapters: turn a dataset folder into a :class:`Dataset` of labelled Recordings.

Each adapter module defines ``detect(path) -> bool`` (cheap, looks at names only) and
``load(path, **options) -> Dataset``. :func:`load_dataset` auto-detects the kind.
"""

from __future__ import annotations

import importlib
import types
from pathlib import Path
from typing import Any

from .._checks import did_you_mean
from ..dataset import Dataset
from ..exceptions import ValidationError

#: adapter name -> module; tried in this order by auto-detection
ADAPTERS: dict[str, str] = {
    "folder": "folder",  # a folder with a dataset card (myovox-dataset.yaml), or a card file: tried first
    "recorded": "recorded",  # guided recordings of `myovox record` (<name>.csv + .json)
    "silentwear": "silentwear",  # raw .bio tree or processed data_raw_and_filt .h5 tree
    "somach": "somach",  # somach-silent-speech CSV trials
    "mateus": "mateus",  # mateus-subvocal OpenBCI CSV(.gz)
    "longterm": "longterm",  # longterm-armband D{d}M{m}T{t}.csv
}


def _module(kind: str) -> types.ModuleType:
    return importlib.import_module(f"{__name__}.{ADAPTERS[kind]}")


def detect_dataset(path: str | Path) -> str:
    """Name of the adapter that understands ``path``; raises ``ValidationError`` if none does."""
    path = Path(path)
    if not path.exists():
        raise ValidationError(f"Dataset path {path} does not exist.")
    for kind in ADAPTERS:
        try:
            mod = _module(kind)
        except ImportError:  # adapter not available
            continue
        if mod.detect(path):
            return kind
    raise ValidationError(
        f"{path} is not a dataset folder myovox knows (tried {', '.join(ADAPTERS)}); "
        "pass kind= (--kind on the command line) or point at the dataset root."
    )


def load_dataset(path: str | Path, kind: str | None = None, *, raw_signal: bool = False, **options: Any) -> Dataset:
    """Load a dataset folder, a dataset card file or a single recording file as a :class:`Dataset`.

    Parameters
    ----------
    path : path-like
        Dataset root or a sub-folder the adapter understands (e.g. ``studyB_5phase``); a dataset
        card file (``*.yaml``/``*.yml``, read by the ``folder`` adapter: its ``root`` names the data
        folder); or one recording file (``.bio``, ``.h5``, ``.csv``, ...).
    kind : str | None
        Adapter name (``folder``, ``silentwear``, ``somach``, ``mateus``, ``longterm``); auto-detected if None.
    raw_signal : bool
        Unfiltered signals even where the dataset also stores filtered ones (SilentWear's processed
        ``.h5``): needed for causal filtering, as a live stream is filtered.
    **options
        Passed to the adapter's ``load`` (e.g. ``subjects=``, ``condition=``).
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() in (".yaml", ".yml") and kind in (None, "folder"):
        return _module("folder").load(path, **options)  # a dataset card kept beside its folder
    if path.is_file():
        from ..io import read_recording

        rec = read_recording(path)
        return Dataset([rec], "file", str(path), window_mode="event")
    if kind is None:
        kind = detect_dataset(path)
    elif kind not in ADAPTERS:
        raise ValidationError(
            f"Unknown dataset kind {kind!r}; known: {', '.join(ADAPTERS)}.{did_you_mean(kind, ADAPTERS)}"
        )
    if raw_signal and kind == "silentwear":
        options.setdefault("filtered", False)
    return _module(kind).load(path, **options)


__all__ = ["ADAPTERS", "Dataset", "detect_dataset", "load_dataset"]

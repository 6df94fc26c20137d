"""myovox: wearable EMG silent-speech interfaces, from electrode stream to MCU.

``import myovox`` stays light: it imports numpy only. Heavy parts (torch, pandas, plotting,
streaming) load when used.
"""

from __future__ import annotations

from typing import Any

from ._logging import logger, set_log_level
from ._version import __version__
from .dataset import Dataset
from .exceptions import (
    DataFormatError,
    DataLossWarning,
    DataQualityWarning,
    MissingDependencyError,
    MyovoxError,
    StreamError,
    ValidationError,
)
from .recording import SILENTWEAR_LABELS, Recording
from .windows import Windows

__all__ = [
    "SILENTWEAR_LABELS",
    "DataFormatError",
    "DataLossWarning",
    "DataQualityWarning",
    "Dataset",
    "MissingDependencyError",
    "MyovoxError",
    "Recording",
    "StreamError",
    "ValidationError",
    "Windows",
    "__version__",
    "load_dataset",
    "logger",
    "read_recording",
    "set_log_level",
    "write_recording",
]


def __getattr__(name: str) -> Any:
    # lazy entry points, so that `import myovox` does not import the readers' dependencies
    if name in ("read_recording", "write_recording"):
        from . import io

        return getattr(io, name)
    if name == "load_dataset":
        from .datasets import load_dataset

        return load_dataset
    raise AttributeError(f"module 'myovox' has no attribute {name!r}")

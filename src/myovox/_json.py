"""JSON-safe conversion shared by results files, model sidecars and the demo summary."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import ValidationError


def to_jsonable(obj: Any, *, strict: bool = False, what: str = "JSON") -> Any:
    """Numpy scalars/arrays, tuples and paths to plain JSON values; non-finite floats to None.

    With ``strict``, objects of other types raise ``ValidationError`` (naming ``what``) instead
    of becoming their ``str()``.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, strict=strict, what=what) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, strict=strict, what=what) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), strict=strict, what=what)
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item(), strict=strict, what=what)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    if strict:
        raise ValidationError(
            f"Cannot store {type(obj).__name__} in {what}; pass JSON-like values "
            "(numbers, strings, lists, dicts, arrays)."
        )
    return str(obj)

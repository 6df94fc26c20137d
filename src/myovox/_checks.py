"""Small validation helpers that give one-line, actionable messages."""

from __future__ import annotations

import difflib
import importlib
import numbers
import types
from collections.abc import Iterable
from typing import Any

from .exceptions import MissingDependencyError, ValidationError

# extra that provides each optional module
_EXTRAS = {
    "torch": "torch",
    "pylsl": "stream",
    "brainflow": "stream",
    "bleak": "ble",
    "onnx": "export",
    "onnxruntime": "export",
    "emlearn": "export",
    "matplotlib": "report",
    "pyedflib": "io",
    "pyxdf": "io",
    "mne": "io",
    "fastapi": "web",
    "uvicorn": "web",
    "websockets": "web",
    "ray": "ray",
}


def did_you_mean(value: object, options: Iterable[str]) -> str:
    """Return " Did you mean 'x'?" when ``value`` is close to one of ``options``, else ""."""
    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_option(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Raise ``ValidationError`` unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise ValidationError(
            f"Invalid value for {name!r}: expected one of {', '.join(map(repr, allowed))}, "
            f"got {value!r}.{did_you_mean(value, map(str, allowed))}"
        )
    return value


def check_positive(name: str, value: Any, what: str = "number", *, allow_zero: bool = False) -> float:
    """Return ``value`` as float, raising ``ValidationError`` unless it is a positive real number."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value
    if ok and (value > 0 or (allow_zero and value == 0)):
        return float(value)
    kind = "non-negative" if allow_zero else "positive"
    raise ValidationError(f"Invalid value for {name!r}: expected a {kind} {what}, got {value!r}.")


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` as int, raising ``ValidationError`` unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(f"Invalid value for {name!r}: expected an integer, got {value!r}.")
    if minimum is not None and value < minimum:
        raise ValidationError(f"Invalid value for {name!r}: expected an integer >= {minimum}, got {value!r}.")
    return int(value)


def require(module: str, purpose: str | None = None) -> types.ModuleType:
    """Import an optional dependency or raise ``MissingDependencyError`` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        extra = _EXTRAS.get(top, top)
        why = f" for {purpose}" if purpose else ""
        raise MissingDependencyError(
            f"{top} is needed{why}: install it with `pip install 'myovox[{extra}]'` ({err})."
        ) from err

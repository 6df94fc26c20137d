"""The messages a page may send over the WebSocket, and their validation.

Every message is one JSON object of at most :data:`MAX_MESSAGE_CHARS` characters with a ``type``
from :data:`COMMANDS` and only that command's fields, each of its declared type (no nesting: every
value is a string, number, boolean or null); an optional ``id`` (a short string or an integer) is
echoed in the reply. Anything else is refused with a :class:`~myovox.exceptions.ValidationError`
whose message the server sends back as ``{"type": "error", ...}``; the connection and the server
carry on.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .._checks import did_you_mean
from ..exceptions import ValidationError

__all__ = ["COMMANDS", "MAX_MESSAGE_CHARS", "parse_command"]

#: longest message accepted (characters); longer ones are refused unread
MAX_MESSAGE_CHARS = 4096
_MAX_STRING = 512

# field kinds: "str", "int", "num", "bool"; a trailing "?" makes the field optional
COMMANDS: dict[str, dict[str, str]] = {
    "ping": {},
    "start": {"source": "str", "path": "str?"},
    "stop": {},
    "record_start": {
        "protocol": "str?",
        "path": "str?",
        "repetitions": "int?",
        "subject": "str?",
        "session": "int?",
        "batch": "int?",
        "condition": "str?",
    },
    "record_pause": {},
    "record_resume": {},
    "record_stop": {},
    "finetune": {"recording": "str?", "epochs": "int?", "strategy": "str?"},
    "select_model": {"model": "str"},
    "drawn": {"seq": "int", "t": "num", "fps": "num?"},
}


def _check_value(name: str, kind: str, value: Any) -> Any:
    if kind == "str":
        if not isinstance(value, str) or len(value) > _MAX_STRING:
            raise ValidationError(f"Field {name!r} must be a string of at most {_MAX_STRING} characters.")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**53:
            raise ValidationError(f"Field {name!r} must be an integer, got {value!r}.")
        return value
    if kind == "num":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValidationError(f"Field {name!r} must be a finite number, got {value!r}.")
        return float(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValidationError(f"Field {name!r} must be true or false, got {value!r}.")
        return value
    raise AssertionError(kind)  # pragma: no cover - COMMANDS uses the kinds above


def parse_command(text: object, *, max_chars: int = MAX_MESSAGE_CHARS) -> dict[str, Any]:
    """Validate one client message; returns the command as a dict (absent optional fields: None).

    Raises
    ------
    ValidationError
        Not text, too long, not a JSON object, an unknown ``type``, unknown or missing fields, a
        field of the wrong type.
    """
    if not isinstance(text, str):
        raise ValidationError("Messages must be JSON text (binary frames are not accepted).")
    if len(text) > max_chars:
        raise ValidationError(f"Message of {len(text)} characters refused (at most {max_chars}).")
    try:
        msg = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, RecursionError, ValueError) as err:
        raise ValidationError(f"Message is not valid JSON ({err}).") from None
    if not isinstance(msg, dict):
        raise ValidationError("A message must be a JSON object with a 'type'.")
    kind = msg.get("type")
    if not isinstance(kind, str) or kind not in COMMANDS:
        raise ValidationError(
            f"Unknown message type {kind!r}; known: {', '.join(COMMANDS)}.{did_you_mean(kind, COMMANDS)}"
        )
    spec = COMMANDS[kind]
    out: dict[str, Any] = {"type": kind, "id": None}
    rid = msg.get("id")
    if rid is not None:
        if isinstance(rid, bool) or not isinstance(rid, (str, int)) or (isinstance(rid, str) and len(rid) > 64):
            raise ValidationError("Field 'id' must be a short string or an integer.")
        out["id"] = rid
    for key in msg:
        if key in ("type", "id"):
            continue
        if key not in spec:
            known = ", ".join(spec) or "none"
            raise ValidationError(f"Unknown field {key!r} for {kind!r} (its fields: {known}).{did_you_mean(key, spec)}")
    for key, decl in spec.items():
        optional = decl.endswith("?")
        value = msg.get(key)
        if value is None:
            if not optional:
                raise ValidationError(f"{kind!r} needs the field {key!r}.")
            out[key] = None
            continue
        out[key] = _check_value(key, decl.rstrip("?"), value)
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")

"""Helpers shared by the dataset adapters (:class:`~myovox.dataset.Dataset` itself is a core object)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._checks import did_you_mean
from ..exceptions import ValidationError


def choose_values(
    name: str, value: Any, allowed: Iterable[Any], normalise: Callable[[Any], Any] = lambda v: v
) -> set | None:
    """Adapter option (one value or several) as a set of allowed values; ``None`` means all.

    Each value is passed through ``normalise`` first (e.g. ``3`` -> ``"P003"``); an unknown one
    raises ``ValidationError`` with the allowed values and a did-you-mean suggestion.
    """
    if value is None:
        return None
    values = [value] if isinstance(value, (str, int)) else list(value)
    allowed = list(allowed)
    out = set()
    for v in values:
        n = normalise(v)
        if n not in allowed:
            raise ValidationError(
                f"Invalid value for {name!r}: expected any of {', '.join(map(repr, allowed))}, "
                f"got {v!r}.{did_you_mean(str(v), map(str, allowed))}"
            )
        out.add(n)
    return out

"""argparse value types that refuse impossible values with one line (``--epochs 0``, ``--window -1``)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _number(cast: Callable[[str], float], ok: Callable[[float], bool], expected: str) -> Callable[[str], float]:
    """An argparse type: ``cast(text)`` that must satisfy ``ok`` (NaN and infinities never do)."""

    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not math.isfinite(value) or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = parse.__qualname__ = expected.replace(" ", "_")
    parse.__doc__ = f"A value that is {expected}."
    return parse


positive_int = _number(int, lambda v: v >= 1, "a whole number >= 1")
nonneg_int = _number(int, lambda v: v >= 0, "a whole number >= 0")
positive_float = _number(float, lambda v: v > 0, "a positive number")
nonneg_float = _number(float, lambda v: v >= 0, "a number >= 0")
probability = _number(float, lambda v: 0 <= v <= 1, "a number between 0 and 1")
fraction_below_one = _number(float, lambda v: 0 <= v < 1, "a fraction in [0, 1)")
open_fraction = _number(float, lambda v: 0 < v < 1, "a fraction in (0, 1)")


def add_force_argument(p: argparse.ArgumentParser, what: str) -> None:
    """``--force`` with one meaning in every subcommand (``--overwrite``: an old spelling)."""
    p.add_argument(
        "--force",
        action="store_true",
        help=f"replace {what} that myovox wrote before (never a folder holding other files)",
    )
    p.add_argument("--overwrite", dest="force", action="store_true", help=argparse.SUPPRESS)

"""argparse value types that refuse impossible values with one line (``--epochs 0``, ``--window -1``)."""
from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def nonneg_int(text: str) -> int:
    """An integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_force_argument(p: argparse.ArgumentParser, what: str) -> None:
    """``--force`` with one meaning in every subcommand (``--overwrite``: an old spelling)."""
    p.add_argument("--force", action="store_true",
                   help=f"replace {what} that myovox wrote before (never a folder holding other files)")
    p.add_argument("--overwrite", dest="force", action="store_true", help=argparse.SUPPRESS)

"""The ``-march`` of every C build myovox makes on the host (training kernels, exported int8 library).

One environment variable, ``MYOVOX_C_MARCH``, chooses it for all of them: ``native`` (default) tunes for this
CPU; ``x86-64-v2`` / ``x86-64-v3`` build the portable SSE / AVX2 variants (CI builds and tests those on an
AVX-512 machine); ``none`` passes no ``-march`` (the compiler's baseline).
"""

from __future__ import annotations

import os

from ..exceptions import ValidationError

#: The environment variable that chooses ``-march``.
MARCH_ENV = "MYOVOX_C_MARCH"


def march_flags() -> list[str]:
    """``-march`` flags from ``MYOVOX_C_MARCH`` (default ``native``; ``none``: no ``-march``)."""
    value = os.environ.get(MARCH_ENV, "").strip() or "native"
    if value.lower() in {"none", "default", "portable"}:
        return []
    if not all(ch.isalnum() or ch in "-_.+" for ch in value):
        raise ValidationError(
            f"Invalid value for {MARCH_ENV!r}: expected an -march value such as 'native' or 'x86-64-v2', "
            f"or 'none', got {value!r}."
        )
    return [f"-march={value}"]


__all__ = ["MARCH_ENV", "march_flags"]

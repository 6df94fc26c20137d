"""Build, cache and load the C kernels of ``kernels.c`` (fused steps of SpeechNet's temporal blocks).

Private package: ``kernels.c`` (the source), this module (build and load) and
:mod:`~myovox.models._c.bindings` (each kernel's prototype declared once, by name and C type,
and called by keyword; ``tests/unit/models/test_c_prototypes.py`` checks the declarations
against the C source).

The kernels are compiled on first use with the system C compiler (``$CC``, else ``cc``) into a
per-user cache (``$MYOVOX_CACHE_DIR``, else ``$XDG_CACHE_HOME/myovox`` or ``~/.cache/myovox``),
keyed by the source, the flags and the CPU, and loaded with :mod:`ctypes`. Where no compiler is
available, or ``MYOVOX_C_KERNELS=0``, :func:`kernels` returns ``None`` and
:mod:`myovox.models.fast` uses its PyTorch formulation of the same steps (logged once).

The kernels parallelise over rows with OpenMP. They are linked against ``libgomp.so.1``, the
name of the OpenMP runtime that PyTorch's Linux builds load, so both share one thread pool (and
``torch.set_num_threads``); without OpenMP support they are built single-threaded.

Target: ``-march=native`` by default. ``MYOVOX_C_MARCH`` chooses another one: an ``-march``
value such as ``x86-64-v2`` (SSE4.2, the portable baseline CI also tests) or ``x86-64-v3``
(AVX2 + FMA, e.g. to mimic an AVX2-only CPU on an AVX-512 one), or ``none`` for the compiler's
default target. The flags are part of the cache key, so each target is built once and kept.
When the requested target cannot be built, the build without ``-march`` is tried, then the
PyTorch formulation is used (:func:`build_info` says which flags were used).

Builds for different targets agree within float rounding, not bit for bit: the vector width
(16 lanes with AVX-512, 8 otherwise) sets the order of the float partial sums, and multiply-adds
are fused (``-ffp-contract=fast``) only where the target has FMA. One build gives the same bits
for any thread count (sums over rows in row order).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..._logging import logger
from ..march import march_flags

__all__ = ["build_info", "kernels", "march_flags"]

_SOURCE = Path(__file__).with_name("kernels.c")
# -Wno-psabi: GCC notes that vectors wider than the target's registers are passed differently
# from older GCCs; it concerns static functions only (nothing is exported with vector arguments)
_FLAGS = ["-O3", "-std=c99", "-fPIC", "-shared", "-fno-math-errno", "-ffp-contract=fast", "-Wno-psabi"]
_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}


def _cache_dir() -> Path:
    if os.environ.get("MYOVOX_CACHE_DIR"):
        return Path(os.environ["MYOVOX_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "myovox"


def _cpu_key() -> str:
    # -march=native code must not be loaded on another CPU sharing the cache (a cluster's home)
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            lines = [ln for ln in fh if ln.startswith(("model name", "flags"))][:2]
        return "".join(lines)
    except OSError:
        return platform.processor() or platform.machine()


def _build(compiler: str, flags: list[str]) -> Path:
    source = _SOURCE.read_bytes()
    key = hashlib.sha256(
        b"\0".join(
            [source, " ".join(flags).encode(), compiler.encode(), _cpu_key().encode(), platform.machine().encode()]
        )
    ).hexdigest()[:20]
    target = _cache_dir() / f"kernels-{key}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        proc = subprocess.run(
            [*shlex.split(compiler), *flags, str(_SOURCE), "-o", tmp], capture_output=True, text=True, timeout=120
        )
        if proc.returncode != 0:
            raise OSError(f"{compiler} failed on {_SOURCE.name}: {proc.stderr.strip()[:500]}")
        os.replace(tmp, target)  # atomic: concurrent builders never load a half-written file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _load() -> Any:
    if os.environ.get("MYOVOX_C_KERNELS", "1").strip().lower() in {"0", "false", "no", "off"}:
        logger.info("C kernels disabled by MYOVOX_C_KERNELS; using the PyTorch formulation.")
        return None
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not compiler:
        logger.warning(
            "No C compiler found: SpeechNet training uses the slower PyTorch formulation "
            "(install gcc or clang, or set CC, for the fused kernels)."
        )
        return None
    import torch  # noqa: F401  (its OpenMP runtime must be loaded first, so that ours resolves to it)

    errors = []
    march = march_flags()
    # without OpenMP, then without -march (compilers or CPUs that lack the requested target)
    attempts = [_FLAGS + march + ["-fopenmp"], _FLAGS + march]
    if march:
        attempts.append(list(_FLAGS))
    for flags in attempts:
        try:
            path = _build(compiler, flags)
            lib = ctypes.CDLL(str(path))
        except (OSError, subprocess.SubprocessError) as err:
            errors.append(str(err))
            continue
        if march and not any(f.startswith("-march=") for f in flags):
            logger.warning(
                "myovox's C kernels could not be built with %s; built for the compiler's default target instead.",
                " ".join(march),
            )
        _STATE["flags"] = list(flags)
        _STATE["path"] = str(path)
        _STATE["compiler"] = compiler
        from .bindings import declare

        declare(lib)  # restype and argtypes of every kernel, from its one declaration
        _STATE["openmp"] = "-fopenmp" in flags
        if "-fopenmp" not in flags:
            logger.info("myovox's C kernels were built without OpenMP: they run on one thread.")
        else:
            _STATE["own_runtime"] = not _shares_torch_runtime(lib)
            if _STATE["own_runtime"]:
                logger.info(
                    "myovox's C kernels use an OpenMP runtime other than torch's; their thread count "
                    "follows torch.set_num_threads at each call."
                )
        return lib
    logger.warning("Could not build myovox's C kernels (%s); using the PyTorch formulation.", "; ".join(errors))
    return None


def _shares_torch_runtime(lib: Any) -> bool:
    """True when torch.set_num_threads also sets the kernels' OpenMP thread count (one runtime)."""
    import torch

    old = torch.get_num_threads()
    try:
        for n in (old + 1, old):
            torch.set_num_threads(n)
            if lib.myovox_max_threads() != n:
                return False
        return True
    finally:
        torch.set_num_threads(old)


def sync_threads(n: int) -> None:
    """Give the kernels ``n`` threads where their OpenMP runtime is not torch's (a no-op otherwise)."""
    if _STATE.get("own_runtime") and _STATE.get("threads") != n:
        _STATE["lib"].myovox_set_threads(int(n))
        _STATE["threads"] = n


def build_info() -> dict[str, Any] | None:
    """``flags``, ``path`` and ``compiler`` of the loaded kernel library, ``None`` when none is loaded."""
    if kernels() is None:
        return None
    return {
        "flags": list(_STATE["flags"]),
        "path": _STATE["path"],
        "compiler": _STATE["compiler"],
        "openmp": bool(_STATE.get("openmp")),
    }


def kernels() -> Any:
    """The loaded kernel library, or ``None`` where it cannot be built (see module docstring)."""
    if "lib" not in _STATE:
        with _LOCK:
            if "lib" not in _STATE:
                _STATE["lib"] = _load()
    return _STATE["lib"]

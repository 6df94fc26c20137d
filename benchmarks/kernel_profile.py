"""Where a training step's time goes: each C kernel timed inside the whole-network calls.

``fit``'s step runs the blocks as two C calls (``myovox_net_fwd`` / ``myovox_net_bwd``), so a Python profiler
sees two numbers. This script builds an instrumented copy of ``kernels.c`` (every kernel call inside those
functions wrapped in ``omp_get_wtime``; the kernels themselves unchanged) into a temporary cache, runs
``fit``'s step (its ``Stepper`` and Adam step over the flat parameters) on random windows, and prints per shape:
milliseconds per step of each kernel (summed over its calls), the two C calls as seen from Python, and the whole
step. Same build flags as the library's own build
(``MYOVOX_C_MARCH`` applies).

    python benchmarks/kernel_profile.py [--shapes 14x700 8x280 2x200] [--steps 200] [--threads 2] [--source FILE]

``--source`` profiles another copy of ``kernels.c`` (a variant under test) with the library's bindings.

Timing inside the calls, on whatever else the machine runs: read the shares, not single microseconds.
"""

# ruff: noqa: T201 (a script: it prints its table)
import argparse
import ctypes
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

_SLOTS = 64  # timers in the instrumented copy


def _instrumented(source: str) -> tuple[str, list[str]]:
    """``source`` with every exported kernel's calls, from the whole-network functions on, timed; and the names."""
    names = [n for n in re.findall(r"^(?:int|void) (myovox_\w+)\(", source, re.M) if not n.startswith("myovox_net")]
    names = [n for n in dict.fromkeys(names) if "threads" not in n][:_SLOTS]
    voids = set(re.findall(r"^void (myovox_\w+)\(", source, re.M))
    lines = [
        "#include <omp.h>",
        f"static double prof_s[{_SLOTS}], prof_t0;",
        "static int prof_r;",
        f"void myovox_profile_read(double *s) {{ for (int i = 0; i < {_SLOTS}; ++i) {{ s[i] = prof_s[i]; "
        "prof_s[i] = 0.0; } }",
    ]
    for i, name in enumerate(names):  # a function-like macro is not expanded inside itself: (name)(...) is the call
        call = f"({name})(__VA_ARGS__)" if name in voids else f"prof_r = ({name})(__VA_ARGS__)"
        tail = "" if name in voids else ", prof_r"
        lines.append(
            f"#define {name}(...) (prof_t0 = omp_get_wtime(), {call}, prof_s[{i}] += omp_get_wtime() - prof_t0{tail})"
        )
    anchor = source.index("#define TAB_HEAD")  # the whole-network functions follow
    return source[:anchor] + "\n".join(lines) + "\n" + source[anchor:], names


def _profile(shape: str, steps: int, names: list[str], lib: ctypes.CDLL) -> None:
    import torch

    from myovox.models._c import bindings
    from myovox.models._network_c import Stepper
    from myovox.models.neural import _adam, _adam_step, _flat_parameters
    from myovox.models.speechnet import SpeechNet

    c, t = (int(v) for v in shape.split("x"))
    torch.manual_seed(0)
    net = SpeechNet(c, t, 9).train()
    x, y = torch.randn(32, c, t), torch.arange(32) % 9
    calls = {"myovox_net_fwd": 0.0, "myovox_net_bwd": 0.0}
    kernel_type = bindings.Kernel
    plain = kernel_type.__call__

    def timed(self: Any, **args: Any) -> Any:
        t0 = time.perf_counter()
        out = plain(self, **args)
        if self.proto.name in calls:
            calls[self.proto.name] += time.perf_counter() - t0
        return out

    seconds = (ctypes.c_double * _SLOTS)()
    kernel_type.__call__ = timed  # type: ignore[method-assign]
    try:
        with _flat_parameters(torch, list(net.parameters())) as (params, _):  # as fit trains
            opt = _adam(torch, params, 1e-3, 1e-4, fused=True)
            adam_step, step = _adam_step(torch, opt), Stepper(net)
            for _ in range(10):  # warm-up: plans, allocator, Adam's state
                step(x, y)
                adam_step()
            lib.myovox_profile_read(seconds)
            calls.update(dict.fromkeys(calls, 0.0))
            t0 = time.perf_counter()
            for _ in range(steps):
                if step(x, y) is None:
                    raise SystemExit(f"{shape}: the step does not fit the C kernels")
                adam_step()
            total = time.perf_counter() - t0
    finally:
        kernel_type.__call__ = plain  # type: ignore[method-assign]
    lib.myovox_profile_read(seconds)
    rows = sorted(((seconds[i] / steps * 1e3, n.removeprefix("myovox_")) for i, n in enumerate(names)), reverse=True)
    inside = sum(ms for ms, _ in rows)
    print(f"\n**{c} x {t}, batch 32** ({steps} steps, {torch.get_num_threads()} threads)\n")
    print("| kernel | ms per step | share of the C calls |")
    print("|---|---:|---:|")
    for ms, name in rows:
        if ms >= 0.0005:
            print(f"| `{name}` | {ms:.3f} | {100 * ms / inside:.0f} % |")
    c_calls = sum(calls.values()) / steps * 1e3
    print(f"| kernels, in all | {inside:.3f} | |")
    print(f"| the two C calls (`net_fwd` + `net_bwd`, from Python) | {c_calls:.3f} | |")
    print(f"| the whole step (`fit`'s: `Stepper` + Adam) | {total / steps * 1e3:.3f} | |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", nargs="+", default=["14x700", "8x280", "2x200"])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--source", type=Path, help="a kernels.c to profile instead of the library's")
    args = p.parse_args()
    from myovox.models import _c

    with tempfile.TemporaryDirectory() as tmp:
        source, names = _instrumented((args.source or _c._SOURCE).read_text())
        copy = Path(tmp) / "kernels.c"
        copy.write_text(source)
        os.environ["MYOVOX_CACHE_DIR"] = tmp
        _c._SOURCE = copy  # the build reads this file; the cache key follows its content
        import torch

        torch.set_num_threads(args.threads)
        lib = _c.kernels()
        if lib is None:
            raise SystemExit("no C kernels (no compiler, or MYOVOX_C_KERNELS=0)")
        lib.myovox_profile_read.argtypes = [ctypes.c_void_p]
        lib.myovox_profile_read.restype = None
        info = _c.build_info() or {"flags": []}
        flags = " ".join(f for f in info["flags"] if f.startswith("-march")) or "no -march"
        print(f"C kernels: {flags}; load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
        for shape in args.shapes:
            _profile(shape, args.steps, names, lib)


if __name__ == "__main__":
    main()

"""SpeechNet training speed over the shape grid: channels x window length, 1 and 2 threads, native and AVX2.

Each cell is a same-run ratio of ``SpeechNetClassifier.fit`` (fast path, C kernels) against the straightforward
PyTorch loop (``myovox.bench.training.grid``: batch 32, both sides pinned to the same thread count, alternating).
Every configuration runs in its own process, one after the other:

* ``native``: the C kernels built with ``-march=native``, oneDNN's own choice of kernels;
* ``avx2``: ``MYOVOX_C_MARCH=x86-64-v3`` (AVX2 + FMA) and ``ONEDNN_MAX_CPU_ISA=AVX2`` for both sides, what a
  CPU without AVX-512 (e.g. AMD Zen 3) runs.

``--allocator default`` leaves glibc's allocator as a user's process has it (``myovox bench`` and the default
here pin its mmap threshold, which steadies the baseline's run-to-run spread but hides what fresh, page-faulting
memory costs either side).

Prints one markdown table per configuration (rows: channels, columns: window lengths; each cell the ratio,
and the windows/s of ours / baseline), with the load average before and after; ``--json`` prints the rows.

    python benchmarks/train_grid.py [--quick] [--threads 1 2] [--builds native avx2] [--allocator default] [--json]

Full grid: 25 cells x 2 thread counts x 2 builds, about 15 minutes on an idle 2-core machine; ``--quick``
(3 cells, shorter runs) about a minute.
"""

# ruff: noqa: T201 (a script: it prints its table)
import argparse
import json
import os
import subprocess
import sys

BUILDS = {
    "native": {},
    "avx2": {"MYOVOX_C_MARCH": "x86-64-v3", "ONEDNN_MAX_CPU_ISA": "AVX2", "DNNL_MAX_CPU_ISA": "AVX2"},
}


def _worker(threads: int, quick: bool, allocator: str) -> None:
    from myovox.bench.training import _pin_allocator, grid, grid_cells
    from myovox.models import _c

    if allocator == "pinned":
        _pin_allocator(256 * 1024 * 1024)
    info = _c.build_info()
    flags = "none (PyTorch formulation)" if info is None else " ".join(f for f in info["flags"] if "march" in f)
    rows = grid(
        grid_cells(quick), threads, n=240 if quick else 480, n_epochs=1 if quick else 2, repeat=3 if quick else 5
    )
    for r in rows:
        r["c_build"] = flags or "no -march"
    print(json.dumps(rows))


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            return next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        import platform

        return platform.processor() or platform.machine()


def _load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    p.add_argument("--builds", nargs="+", default=list(BUILDS), choices=list(BUILDS))
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--allocator",
        choices=["pinned", "default"],
        default="pinned",
        help="glibc's mmap threshold pinned as in `myovox bench` (default), or as a user's process has it",
    )
    p.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker is not None:
        _worker(args.worker, args.quick, args.allocator)
        return
    all_rows = []
    if not args.json:
        print(f"{_cpu()}, {os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    for build in args.builds:
        for threads in args.threads:
            load_before = _load()
            cmd = [sys.executable, __file__, "--worker", str(threads), "--allocator", args.allocator]
            cmd += ["--quick"] if args.quick else []
            out = subprocess.run(cmd, env={**os.environ, **BUILDS[build]}, check=True, capture_output=True, text=True)
            rows = json.loads(out.stdout.strip().splitlines()[-1])
            for r in rows:
                r["build"], r["load_before"], r["load_after"] = build, load_before, _load()
                r["allocator"] = args.allocator
            all_rows += rows
            if not args.json:
                _table(rows, f"{build} build ({args.allocator} allocator)", threads, load_before)
    if args.json:
        print(json.dumps(all_rows, indent=2))


def _table(rows: list[dict], build: str, threads: int, load_before: str) -> None:
    times = sorted({r["n_times"] for r in rows})
    chans = sorted({r["n_channels"] for r in rows})
    cell = {(r["n_channels"], r["n_times"]): r for r in rows}
    print(f"\n{build}, {threads} thread(s); load average before: {load_before}, after: {_load()}")
    print(f"C kernels: {rows[0].get('c_build')}\n")
    print("| channels | " + " | ".join(f"{t} samples" for t in times) + " |")
    print("|---|" + "---:|" * len(times))
    for c in chans:
        vals = []
        for t in times:
            r = cell.get((c, t))
            vals.append("-" if r is None else f"**{r['ratio']:.2f}** ({r['ours']:,.0f} / {r['baseline']:,.0f})")
        print(f"| {c} | " + " | ".join(vals) + " |")
    ratios = [r["ratio"] for r in rows]
    print(f"\nmin {min(ratios):.2f}, max {max(ratios):.2f} (cells: ratio (ours / baseline windows/s))")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

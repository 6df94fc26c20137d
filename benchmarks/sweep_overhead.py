"""Sweeps (issue 14): what local processes and Ray cost per unit, and the "done when" run on the shared datasets.

    python benchmarks/sweep_overhead.py overhead [--units 24] [--workers 2] [--json FILE]
    python benchmarks/sweep_overhead.py shared [--out DIR] [--workers 2] [--json FILE]
    python benchmarks/sweep_overhead.py paper --store DIR [--nodes 100] [--cpus-per-node 32]

``overhead``: one grid of small synthetic units (lda, 2-fold k-fold on a tiny SilentWear-format dataset) run
with the local backend and with Ray (a private local instance), each on ``--workers`` CPUs, in fresh stores:
units per minute (with and without Ray's start), and the overhead per unit as the records measure it (the
driver's submit-to-result time minus the unit's own time in its worker); then the round trip of a trivial
unit (one that fails at once, through the same backend path) against a plain function call.

``shared``: the grid of the issue's "done when": the three shared datasets x lda, rf, svm x seeds 0, 1 (66
units; see ``SHARED_GRID``): with Ray uninterrupted into ``DIR/full``; with local processes into
``DIR/local``; with Ray into ``DIR/resumed``, the driver and its Ray instance SIGKILLed once half the units
are stored, then run again to the end. The stores are compared unit by unit (same units, same results;
timings differ), and ``myovox sweep-report`` renders ``DIR/full``.

``paper``: what the full reference grid would take on a cluster, from the unit times a store measured.
"""

# ruff: noqa: T201 - a benchmark script reports on stdout
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from myovox.sweep import ResultsStore, compare_stores, load_config, run_sweep

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MYOVOX_SHARED", ROOT.parent / "shared")) / "datasets"

#: the "done when" grid: one protocol per dataset, chosen to be fast and meaningful on 2 cores
SHARED_GRID = {
    "name": "shared-datasets",
    "models": ["lda", "rf", "svm"],
    "seeds": [0, 1],
    "grids": [
        {  # the inter-day test of the armband: train on days 1-5, test on days 6-10, every subject
            "datasets": [{"path": str(SHARED / "longterm-armband"), "name": "longterm"}],
            "protocols": [
                {"name": "transfer", "options": {"train": {"day": [1, 2, 3, 4, 5]}, "test": {"day": [6, 7, 8, 9, 10]}}}
            ],
        },
        {  # the covert sessions of somach (1 subject): 5-fold within the pooled sessions
            "datasets": [{"path": str(SHARED / "somach-silent-speech" / "covert_sessions"), "name": "somach-covert"}],
            "protocols": [{"name": "kfold", "options": {"n_splits": 5}}],
        },
        {  # mateus: vocalized -> subvocal, the subjects who recorded both (P006-P010)
            "datasets": [
                {
                    "path": str(SHARED / "mateus-subvocal"),
                    "name": "mateus",
                    "subjects": ["P006", "P007", "P008", "P009", "P010"],
                }
            ],
            "protocols": [
                {
                    "name": "transfer",
                    "options": {"train": {"condition": "vocalized"}, "test": {"condition": "subvocal"}},
                }
            ],
        },
    ],
}


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_1min_before": round(os.getloadavg()[0], 2),
    }


def _ray_version() -> str | None:
    try:
        import ray

        return ray.__version__
    except ImportError:
        return None


# ============================================================================ overhead
def _per_unit_overhead(store: Path) -> dict:
    """From a store's records: units per minute while units ran (first submit to last result, so without the
    backend's start), the mean unit time in its worker, and the driver's time per unit beyond it (overhead)."""
    recs = list(ResultsStore(store).records("done"))
    rows = [r["timing"] for r in recs]
    over = [t["wall_s"] - t["total_s"] for t in rows]
    first = min(r["written"] - r["timing"]["wall_s"] for r in recs)
    span = max(r["written"] for r in recs) - first
    return {
        "units": len(rows),
        "running_span_s": round(span, 2),
        "units_per_min_running": round(60 * len(rows) / span, 1),
        "unit_s_mean": round(statistics.mean(t["total_s"] for t in rows), 3),
        "overhead_ms_median": round(1000 * statistics.median(over), 1),
        "overhead_ms_mean": round(1000 * statistics.mean(over), 1),
    }


def _trivial_round_trips(backend: str, workers: int, n: int) -> dict:
    """Round trip of ``n`` trivial units (an empty payload fails at once in execute_unit) through a backend."""
    from myovox.sweep.backends import make_backend

    t0 = time.perf_counter()
    be = make_backend(backend, n_workers=workers)
    try:
        be.submit(0, {})  # warm-up: the start of the backend and its first worker, imports included
        while not be.wait(1.0):
            pass
        start_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(n):  # one at a time: latency
            be.submit(i + 1, {})
            while not be.wait(1.0):
                pass
        sequential = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        sent, got = 0, 0
        while got < n:  # as many as the workers take: throughput
            while sent < n and sent - got < be.capacity:
                be.submit(10_000 + sent, {})
                sent += 1
            got += len(be.wait(1.0))
        throughput = n / (time.perf_counter() - t0)
    finally:
        be.close()
    return {
        "start_s": round(start_s, 2),
        "round_trip_ms": round(1000 * sequential, 3),
        "trivial_units_per_s": round(throughput, 1),
    }


def overhead(args: argparse.Namespace) -> dict:
    from myovox.sweep.unit import execute_unit
    from myovox.testing.synth import generate_dataset

    out: dict = {"machine": machine(), "ray_version": _ray_version(), "workers": args.workers}
    with tempfile.TemporaryDirectory() as tmp:
        data = generate_dataset(
            Path(tmp) / "synth", n_subjects=2, n_sessions=2, n_batches=2, conditions=("silent",), n_repetitions=2,
            raw=False,
        )  # fmt: skip
        n_seeds = max(args.units // 2, 1)
        cfg = {
            "name": "overhead",
            "datasets": [{"path": str(data), "name": "synth"}],
            "protocols": [{"name": "kfold", "options": {"n_splits": 2}}],
            "models": ["lda"],
            "seeds": list(range(n_seeds)),
        }
        path = Path(tmp) / "grid.yaml"
        path.write_text(yaml.safe_dump(cfg))
        for backend in ("local", "ray"):
            store = Path(tmp) / f"store-{backend}"
            t0 = time.perf_counter()
            s = run_sweep(load_config(path), store, backend=backend, n_workers=args.workers)
            wall = time.perf_counter() - t0
            per = _per_unit_overhead(store)
            out[backend] = {
                "units": s.done,
                "wall_s": round(wall, 2),
                "units_per_min_with_start": round(60 * s.done / wall, 1),
                **per,
            }
            print(backend, out[backend], flush=True)
        out["same_results"] = compare_stores(Path(tmp) / "store-local", Path(tmp) / "store-ray") == []
        # a trivial unit: plain call, then through each backend
        t0 = time.perf_counter()
        for _ in range(2000):
            execute_unit({})
        out["plain_call_ms"] = round(1000 * (time.perf_counter() - t0) / 2000, 4)
        for backend in ("local", "ray"):
            out[f"trivial_{backend}"] = _trivial_round_trips(backend, args.workers, args.trivial)
            print(f"trivial {backend}", out[f"trivial_{backend}"], flush=True)
    print(f"plain call of a trivial unit: {out['plain_call_ms']} ms")
    return out


# ============================================================================ shared datasets
def _sweep_cmd(cfg: Path, store: Path, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "myovox.cli.main", "sweep", str(cfg), "--store", str(store),
        "--backend", "ray", "--workers", str(workers),
    ]  # fmt: skip


def _n_done(store: Path) -> int:
    d = store / "units"
    return sum(1 for f in d.iterdir() if f.suffix == ".json") if d.is_dir() else 0


def shared(args: argparse.Namespace) -> dict:
    if not SHARED.is_dir():
        sys.exit(f"the shared datasets are not at {SHARED} (set MYOVOX_SHARED)")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = out_dir / "shared-grid.yaml"
    cfg.write_text(yaml.safe_dump(SHARED_GRID, sort_keys=False))
    from myovox.sweep import plan_units

    n_units = len(plan_units(load_config(cfg)))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    res: dict = {"machine": machine(), "ray_version": _ray_version(), "units": n_units, "workers": args.workers}
    print(f"{n_units} units; uninterrupted run into {out_dir / 'full'}", flush=True)
    t0 = time.perf_counter()
    subprocess.run(_sweep_cmd(cfg, out_dir / "full", args.workers), check=True, env=env)
    res["full_wall_s"] = round(time.perf_counter() - t0, 1)
    res["full"] = _per_unit_overhead(out_dir / "full")
    print(f"the same grid on local processes into {out_dir / 'local'}", flush=True)
    t0 = time.perf_counter()
    local_cmd = _sweep_cmd(cfg, out_dir / "local", args.workers)
    subprocess.run(local_cmd[: local_cmd.index("--backend")] + ["--workers", str(args.workers)], check=True, env=env)
    res["local_wall_s"] = round(time.perf_counter() - t0, 1)
    res["local"] = _per_unit_overhead(out_dir / "local")
    res["local_same_as_ray"] = compare_stores(out_dir / "full", out_dir / "local") == []
    print(f"killed run into {out_dir / 'resumed'}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(_sweep_cmd(cfg, out_dir / "resumed", args.workers), env=env, start_new_session=True)
    while proc.poll() is None and _n_done(out_dir / "resumed") < n_units // 2:
        time.sleep(0.2)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    res["killed_after_s"] = round(time.perf_counter() - t0, 1)
    res["units_when_killed"] = _n_done(out_dir / "resumed")
    print(f"killed with {res['units_when_killed']} of {n_units} units stored; resuming", flush=True)
    t0 = time.perf_counter()
    subprocess.run(_sweep_cmd(cfg, out_dir / "resumed", args.workers), check=True, env=env)
    res["resume_wall_s"] = round(time.perf_counter() - t0, 1)
    diff = compare_stores(out_dir / "full", out_dir / "resumed")
    res["differences"] = diff
    res["same_store"] = not diff
    print("stores identical (outcomes):", not diff, *diff[:10], sep="\n  ", flush=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "myovox.cli.main", "sweep-report", str(out_dir / "full")], check=True)
    res["report_s"] = round(time.perf_counter() - t0, 1)
    idx = ResultsStore(out_dir / "full").index()
    res["unit_s_by_dataset_model"] = {
        f"{d}/{m}": round(float(g["total_s"].mean()), 2) for (d, m), g in idx.groupby(["dataset", "model"])
    }
    return res


# ============================================================================ on paper
#: the reference's own grid per dataset: subjects x conditions x (global 5 folds + inter-session 3 sessions x
#: 6 window lengths + fine-tuning 3 sessions), one unit per subject, condition, protocol and window
REFERENCE_TRAININGS = 4 * 2 * (5 + 3 * 6 + 3)


def paper(args: argparse.Namespace) -> dict:
    """Units of the full reference-style grid on the shared datasets and their time on a cluster."""
    idx = ResultsStore(args.store, create=False).index()
    idx = idx[idx["status"] == "done"]
    unit_s = {(d, m): float(g["total_s"].mean()) for (d, m), g in idx.groupby(["dataset", "model"])}
    # the full grid: every subject x protocols (3) x window lengths (6) x models (4; speechnet costs --speechnet-s)
    # x label-free adaptation (3) x seeds (5), per dataset
    subjects = {"longterm": 5, "somach-covert": 1, "mateus": 10}
    axes = {"protocols": 3, "windows": 6, "adapt": 3, "seeds": 5}
    per_subject = axes["protocols"] * axes["windows"] * axes["adapt"] * axes["seeds"]
    total_units, cpu_s = 0, 0.0
    rows = {}
    speechnet = {k: float(v) for k, v in (item.split("=", 1) for item in args.speechnet_s)}
    for ds, n_sub in subjects.items():
        classical = [unit_s.get((ds, m)) for m in ("lda", "rf", "svm")]
        classical = [t for t in classical if t is not None]
        if not classical or ds not in speechnet:
            continue
        mean_classical = statistics.mean(classical)
        units = n_sub * per_subject * 4
        cpu = n_sub * per_subject * (3 * mean_classical + speechnet[ds])
        rows[ds] = {
            "units": units,
            "cpu_h": round(cpu / 3600, 1),
            "classical_unit_s": round(mean_classical, 2),
            "speechnet_unit_s": speechnet[ds],
        }
        total_units += units
        cpu_s += cpu
    cores = args.nodes * args.cpus_per_node
    waves = -(-total_units // cores)
    longest = max([*speechnet.values(), *unit_s.values()])
    res = {
        "grid": {**axes, "models": 4, "subjects": subjects},
        "laptop_2_cores_h": round(cpu_s / 2 / 3600, 1),
        "per_dataset": rows,
        "units": total_units,
        "cpu_hours": round(cpu_s / 3600, 1),
        "cluster": {"nodes": args.nodes, "cpus_per_node": args.cpus_per_node},
        "ideal_wall_min": round(cpu_s / cores / 60, 1),
        "bound_wall_min": round(max(cpu_s / cores, longest) / 60 + waves * args.overhead_s / 60, 1),
        "reference_trainings_per_dataset": REFERENCE_TRAININGS,
    }
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    o = sub.add_parser("overhead")
    o.add_argument("--units", type=int, default=24)
    o.add_argument("--workers", type=int, default=2)
    o.add_argument("--trivial", type=int, default=200)
    s = sub.add_parser("shared")
    s.add_argument("--out", default="/tmp/myovox-sweep-shared")
    s.add_argument("--workers", type=int, default=2)
    q = sub.add_parser("paper")
    q.add_argument("--store", required=True)
    q.add_argument("--nodes", type=int, default=100)
    q.add_argument("--cpus-per-node", type=int, default=32)
    q.add_argument(
        "--speechnet-s",
        nargs="+",
        default=["longterm=78", "somach-covert=49", "mateus=22"],
        metavar="DATASET=S",
        help="seconds of one SpeechNet unit per dataset (default: 5-fold k-fold units measured on the 2-core VM)",
    )
    q.add_argument("--overhead-s", type=float, default=0.05, help="scheduling overhead per wave of units")
    for x in (o, s, q):
        x.add_argument("--json", default=None, help="also write the numbers to this file")
    args = p.parse_args()
    res = {"overhead": overhead, "shared": shared, "paper": paper}[args.what](args)
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()

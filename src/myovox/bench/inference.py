"""Single-window SpeechNet inference latency: torch eager, onnxruntime and the compiled int8 C library.

All at batch 1 on one thread, for the reference input 14 x 700 (1.4 s at 500 Hz, 3.71 M MACs).
Each engine is also compared with a MAC-bound time on this CPU: MACs / peak MAC rate, where the
peak is estimated in the same run from a large float32 NumPy matmul on one thread (so it is an
estimate of float32 SIMD throughput, not a hardware specification).

Rows ``{name, unit, baseline, ours, ratio}``: for ``*_vs_mac_bound`` rows, baseline is the
MAC-bound time and ratio = baseline / ours (the fraction of the estimated peak achieved); for
``int8_c_vs_*`` rows baseline is the other engine's latency and ratio = baseline / ours (speed-up).
Run ``myovox bench --only inference`` (or ``python benchmarks/bench_inference.py [--quick] [--json]``).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

N_CHANNELS, N_TIMES, N_CLASSES = 14, 700, 9


def _peak_macs_per_s(quick: bool) -> float:
    """float32 multiply-accumulates per second of a one-thread NumPy matmul (best of a few)."""
    n = 512 if quick else 1024
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = a.T.copy()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        threadpool_limits = None
    best = np.inf
    ctx = threadpool_limits(1) if threadpool_limits else None
    try:
        if ctx is not None:
            ctx.__enter__()
        a @ b
        for _ in range(3 if quick else 5):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    finally:
        if ctx is not None:
            ctx.__exit__(None, None, None)
    return n**3 / best


def _median_time(fn, reps: int) -> float:
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def run(quick: bool = False) -> list[dict]:
    """Measure the three engines and the MAC-bound reference; return table rows."""
    import torch

    from ..export.c_codegen import compile_harness, generate_c, time_harness
    from ..export.onnx import export_onnx_float, run_onnx  # noqa: F401  (checks onnx is there)
    from ..export.quantize import quantize_model
    from ..models.speechnet import SpeechNet

    reps = 30 if quick else 200
    old_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        net = SpeechNet(N_CHANNELS, N_TIMES, N_CLASSES).eval()
        macs = net.count_macs()
        rng = np.random.default_rng(0)
        X = rng.standard_normal((32, N_CHANNELS, N_TIMES)).astype(np.float32)
        x1 = torch.from_numpy(X[:1])
        with torch.inference_mode():
            t_torch = _median_time(lambda: net(x1), reps)

        import onnxruntime as ort

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.onnx"
            export_onnx_float(net, path, check_inputs=X[:4])
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            feed = {sess.get_inputs()[0].name: X[:1]}
            t_ort = _median_time(lambda: sess.run(None, feed), reps)

            q = quantize_model(net, X)
            generate_c(q, Path(tmp) / "c")
            exe = compile_harness(Path(tmp) / "c", extra_flags=("-O3",))  # -O3: GCC vectorises the MAC rows
            t_c = time_harness(exe, q.quantize_input(X[:1]), reps=reps)["median_s"]
    finally:
        torch.set_num_threads(old_threads)
    peak = _peak_macs_per_s(quick)
    bound = macs / peak
    rows = []
    for name, t in (("torch_eager", t_torch), ("onnxruntime_float", t_ort), ("int8_c_gcc_O3", t_c)):
        rows.append(
            {
                "name": f"{name}_vs_mac_bound",
                "unit": "ms",
                "baseline": round(bound * 1e3, 4),
                "ours": round(t * 1e3, 4),
                "ratio": round(bound / t, 3),
            }
        )
    for name, t in (("torch_eager", t_torch), ("onnxruntime_float", t_ort)):
        rows.append(
            {
                "name": f"int8_c_vs_{name}",
                "unit": "ms",
                "baseline": round(t * 1e3, 4),
                "ours": round(t_c * 1e3, 4),
                "ratio": round(t / t_c, 2),
            }
        )
    for r in rows:
        r.update(macs=macs, peak_macs_per_s_estimate=round(peak), cpu_count=os.cpu_count())
    return rows

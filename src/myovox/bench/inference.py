"""Single-window SpeechNet inference latency: torch eager, onnxruntime and the compiled int8 C library.

All at batch 1 on one thread, for the reference input 14 x 700 (1.4 s at 500 Hz, 3.71 M MACs).
Each engine is also compared with a MAC-bound time on this CPU: MACs / peak MAC rate, where the
peak is estimated in the same run from a large float32 NumPy matmul on one thread (so it is an
estimate of float32 SIMD throughput, not a hardware specification).

Rows ``{name, unit, baseline, ours, ratio}``: for ``*_vs_mac_bound`` rows, baseline is the
MAC-bound time and ratio = baseline / ours (the fraction of the estimated peak achieved); for
``int8_c_vs_*`` rows baseline is the other engine's latency and ratio = baseline / ours (speed-up).
``int8_c_vs_onnxruntime_ms`` (14 x 700) and ``int8_c_vs_onnxruntime_ms_<shape>`` (8 x 280, 16 x 1000): the
int8 C library built with ``-O3`` and ``MYOVOX_C_MARCH`` (default ``-march=native``) against onnxruntime's
float model, the two alternating in rounds (same-run ratio = baseline / ours), with the fraction of the int8
MAC bound (the measured rate of the kernels' own multiply-accumulate instruction on one core) in
``int8_c_vs_int8_mac_bound_<shape>``. The ``int8_c_gcc_O3`` rows build without ``-march`` (x86-64: SSE2).
Run ``myovox bench --only inference`` (or ``python benchmarks/bench_inference.py [--quick] [--json]``);
``python benchmarks/int8_c_x86.py`` compares every kernel path (:func:`paths_table`).
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


#: the shapes of the int8-C-against-onnxruntime rows (channels x samples); the first is the reference
SHAPES = ((14, 700), (8, 280), (16, 1000))

#: a register-only loop of the multiply-accumulate the fast int8 kernels use (int16 pairs into int32:
#: vpdpwssd with AVX512-VNNI / AVX-VNNI, else vpmaddwd + vpaddd), at the widest vectors the target has
_PEAK_C = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__) && defined(__SSE2__)
#include <immintrin.h>
#if defined(__AVX512BW__)
typedef __m512i V;
#define L 16
#if defined(__AVX512VNNI__)
#define MADD(s, x) _mm512_dpwssd_epi32(s, x, x)
#else
#define MADD(s, x) _mm512_add_epi32(s, _mm512_madd_epi16(x, x))
#endif
#define SET(v) _mm512_set1_epi32(v)
#define RED(v) _mm512_reduce_add_epi32(v)
#elif defined(__AVX2__)
typedef __m256i V;
#define L 8
#if defined(__AVXVNNI__) || (defined(__AVX512VNNI__) && defined(__AVX512VL__))
#define MADD(s, x) _mm256_dpwssd_epi32(s, x, x)
#else
#define MADD(s, x) _mm256_add_epi32(s, _mm256_madd_epi16(x, x))
#endif
#define SET(v) _mm256_set1_epi32(v)
#define RED(v) _mm256_extract_epi32(v, 0)
#else
typedef __m128i V;
#define L 4
#define MADD(s, x) _mm_add_epi32(s, _mm_madd_epi16(x, x))
#define SET(v) _mm_set1_epi32(v)
#define RED(v) _mm_cvtsi128_si32(v)
#endif
#define ACC 12
/* x is "changed" after every step, so that a multiply-add of loop-invariant operands is never hoisted */
#define STEP(i) s##i = MADD(s##i, x); __asm__ volatile("" : "+v"(x))
int main(int argc, char **argv)
{
    long it, n = argc > 1 ? atol(argv[1]) : 1000000, k;
    double best = 1e30;
    int rep;
    int sum = 0;
    V x = SET(argc);
    for (rep = 0; rep < 5; ++rep) {
        struct timespec t0, t1;
        double dt;
        V s0 = SET(0), s1 = SET(1), s2 = SET(2), s3 = SET(3), s4 = SET(4), s5 = SET(5);
        V s6 = SET(6), s7 = SET(7), s8 = SET(8), s9 = SET(9), s10 = SET(10), s11 = SET(11);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (it = 0; it < n; ++it) {
            STEP(0); STEP(1); STEP(2); STEP(3); STEP(4); STEP(5);
            STEP(6); STEP(7); STEP(8); STEP(9); STEP(10); STEP(11);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        dt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (dt < best) best = dt;
        sum += RED(s0) + RED(s1) + RED(s2) + RED(s3) + RED(s4) + RED(s5);
        sum += RED(s6) + RED(s7) + RED(s8) + RED(s9) + RED(s10) + RED(s11);
    }
    k = (long)ACC * L * 2;
    printf("%.6e %d\n", (double)n * (double)k / best, sum & 1);
    return 0;
}
#else
int main(void) { printf("0 0\n"); return 0; }
#endif
"""


def _int8_peak_macs_per_s(march: list[str]) -> float:
    """Measured int8 MACs/s of the kernels' multiply-accumulate instruction on one core (0.0 when unknown)."""
    import subprocess

    from ..export.c_codegen import find_compiler

    with tempfile.TemporaryDirectory() as tmp:
        src, exe = Path(tmp) / "peak.c", Path(tmp) / "peak"
        src.write_text(_PEAK_C, encoding="utf-8")
        res = subprocess.run([find_compiler(), "-O2", *march, "-o", str(exe), str(src)], capture_output=True)
        if res.returncode != 0:
            return 0.0
        out = subprocess.run([str(exe), "20000000"], capture_output=True, text=True)
        try:
            return float(out.stdout.split()[0])
        except (IndexError, ValueError):
            return 0.0


def _c_build(q, tmp: Path, tag: str, march: list[str]):
    """Generate and compile the int8 C library at -O3 for ``march`` (no -march when the compiler refuses it)."""
    from ..exceptions import ExportError
    from ..export.c_codegen import compile_harness, generate_c

    d = tmp / f"c_{tag}"
    generate_c(q, d)
    try:
        return compile_harness(d, extra_flags=("-O3", *march)), march
    except ExportError:
        if not march:
            raise
        return compile_harness(d, extra_flags=("-O3",)), []


def _int8_vs_ort(quick: bool, peak8: float, march: list[str], tmp: Path) -> list[dict]:
    """int8 C against onnxruntime float, per shape, interleaved rounds; one row per shape."""
    import onnxruntime as ort
    import torch

    from ..export.c_codegen import time_harness
    from ..export.onnx import export_onnx_float
    from ..export.quantize import quantize_model
    from ..models.speechnet import SpeechNet

    rounds, reps = (5, 100) if quick else (15, 300)
    rows = []
    for ch, nt in SHAPES:
        torch.manual_seed(0)
        net = SpeechNet(ch, nt, N_CLASSES).eval()
        macs = net.count_macs()
        X = np.random.default_rng(0).standard_normal((32, ch, nt)).astype(np.float32)
        path = tmp / f"m_{ch}x{nt}.onnx"
        export_onnx_float(net, path, check_inputs=X[:4])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        feed = {sess.get_inputs()[0].name: X[:1]}
        q = quantize_model(net, X)
        exe, used = _c_build(q, tmp, f"{ch}x{nt}", march)
        xq = q.quantize_input(X[:1])
        t_ort, t_c, ratios, mins_c, mins_o = [], [], [], [], []
        for _ in range(rounds):  # side by side: one chunk of each per round
            to = []
            sess.run(None, feed)
            for _ in range(reps):
                t0 = time.perf_counter()
                sess.run(None, feed)
                to.append(time.perf_counter() - t0)
            tc = time_harness(exe, xq, reps=reps)
            t_ort.append(float(np.median(to)))
            mins_o.append(min(to))
            t_c.append(tc["median_s"])
            mins_c.append(tc["min_s"])
            ratios.append(t_ort[-1] / t_c[-1])
        med_o, med_c = float(np.median(t_ort)), float(np.median(t_c))
        shape = f"{ch}x{nt}"
        rows.append(
            {
                "name": "int8_c_vs_onnxruntime_ms" if (ch, nt) == SHAPES[0] else f"int8_c_vs_onnxruntime_ms_{shape}",
                "unit": "ms",
                "baseline": round(med_o * 1e3, 4),
                "ours": round(med_c * 1e3, 4),
                "ratio": round(float(np.median(ratios)), 3),
                "shape": shape,
                "macs": macs,
                "min_ms": {"onnxruntime": round(min(mins_o) * 1e3, 4), "int8_c": round(min(mins_c) * 1e3, 4)},
                "int8_peak_macs_per_s": round(peak8),
                "int8_mac_bound_ms": round(macs / peak8 * 1e3, 4) if peak8 else None,
                "int8_mac_bound_fraction": round(macs / (med_c * peak8), 3) if peak8 else None,
                "c_flags": ["-std=c99", "-O3", *used],
                "rounds": rounds,
                "reps_per_round": reps,
            }
        )
    return rows


def run(quick: bool = False) -> list[dict]:
    """Measure the three engines and the MAC-bound reference; return table rows."""
    import torch

    from ..export.c_codegen import compile_harness, generate_c, time_harness
    from ..export.onnx import export_onnx_float, run_onnx  # noqa: F401  (checks onnx is there)
    from ..export.quantize import quantize_model
    from ..models.march import march_flags
    from ..models.speechnet import SpeechNet

    reps = 30 if quick else 200
    march = march_flags()
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
            exe = compile_harness(Path(tmp) / "c", extra_flags=("-O3",))  # no -march: the x86-64 baseline (SSE2)
            t_c = time_harness(exe, q.quantize_input(X[:1]), reps=reps)["median_s"]
            peak8 = _int8_peak_macs_per_s(march)
            side = _int8_vs_ort(quick, peak8, march, Path(tmp))
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
    for r in side:
        r.update(cpu_count=os.cpu_count(), load_average=_load())
        rows.append(r)
        if r["int8_mac_bound_fraction"] is not None:
            rows.append(
                {
                    "name": f"int8_c_vs_int8_mac_bound_{r['shape']}",
                    "unit": "ms",
                    "baseline": r["int8_mac_bound_ms"],
                    "ours": r["ours"],
                    "ratio": r["int8_mac_bound_fraction"],
                    "int8_peak_macs_per_s": r["int8_peak_macs_per_s"],
                    "macs": r["macs"],
                }
            )
    return rows


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux/macOS
        return None


#: kernel paths of ``paths_table``: name -> extra compiler flags (after -O3)
PATHS = {
    "native": ("-march=native",),
    "AVX2 (x86-64-v3)": ("-march=x86-64-v3",),
    "SSE4 (x86-64-v2)": ("-march=x86-64-v2",),
    "SSE2 (no -march)": (),
    "plain C (-DMYOVOX_PORTABLE, native)": ("-march=native", "-DMYOVOX_PORTABLE"),
    "compact (-DMYOVOX_COMPACT, native; the old kernels)": ("-march=native", "-DMYOVOX_COMPACT"),
}


def paths_table(quick: bool = False, paths: dict[str, tuple[str, ...]] | None = None) -> list[dict]:
    """Every kernel path of the int8 C library against onnxruntime float, per shape, interleaved rounds.

    One row per (shape, path): onnxruntime's and the C library's median latency (ms) over the rounds,
    the ratio (median of the per-round ratios, > 1: the C library is faster) and the fraction of the
    int8 MAC bound of that path's instruction set (:func:`_int8_peak_macs_per_s`).
    """
    import onnxruntime as ort
    import torch

    from ..export.c_codegen import compile_harness, generate_c, time_harness
    from ..export.onnx import export_onnx_float
    from ..export.quantize import quantize_model
    from ..models.speechnet import SpeechNet

    paths = PATHS if paths is None else paths
    rounds, reps = (3, 100) if quick else (9, 300)
    peaks = {name: _int8_peak_macs_per_s([f for f in flags if f.startswith("-march")]) for name, flags in paths.items()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        for ch, nt in SHAPES:
            torch.manual_seed(0)
            net = SpeechNet(ch, nt, N_CLASSES).eval()
            macs = net.count_macs()
            X = np.random.default_rng(0).standard_normal((32, ch, nt)).astype(np.float32)
            export_onnx_float(net, tmp / "m.onnx", check_inputs=X[:4])
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(str(tmp / "m.onnx"), opts, providers=["CPUExecutionProvider"])
            feed = {sess.get_inputs()[0].name: X[:1]}
            q = quantize_model(net, X)
            xq = q.quantize_input(X[:1])
            exes = {}
            for i, (name, flags) in enumerate(paths.items()):
                d = tmp / f"c_{ch}x{nt}_{i}"
                generate_c(q, d)
                exes[name] = compile_harness(d, extra_flags=("-O3", *flags))
            t_o: list[float] = []
            t_c: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(rounds):
                to = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    sess.run(None, feed)
                    to.append(time.perf_counter() - t0)
                t_o.append(float(np.median(to)))
                for name, exe in exes.items():
                    t_c[name].append(time_harness(exe, xq, reps=reps)["median_s"])
            for name in paths:
                med = float(np.median(t_c[name]))
                ratio = float(np.median([a / b for a, b in zip(t_o, t_c[name], strict=True)]))
                peak = peaks[name]
                rows.append(
                    {
                        "shape": f"{ch}x{nt}",
                        "path": name,
                        "macs": macs,
                        "onnxruntime_ms": round(float(np.median(t_o)) * 1e3, 4),
                        "int8_c_ms": round(med * 1e3, 4),
                        "ratio": round(ratio, 3),
                        "int8_peak_gmacs": round(peak / 1e9, 1),
                        "int8_mac_bound_fraction": round(macs / (med * peak), 3) if peak else None,
                    }
                )
    return rows

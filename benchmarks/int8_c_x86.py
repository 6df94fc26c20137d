"""The int8 C library's kernel paths (AVX-512, AVX2, SSE4, SSE2, plain C, compact) against onnxruntime float.

One thread, batch 1, SpeechNet at 14 x 700, 8 x 280 and 16 x 1000; the engines alternate in rounds and each
latency is the median of the rounds' medians. Prints a markdown table (``--json``: the rows).

    python benchmarks/int8_c_x86.py [--quick] [--json]
"""

# ruff: noqa: T201 (a script: it prints its table)
import json
import os
import sys

from myovox.bench.inference import paths_table

if __name__ == "__main__":
    rows = paths_table(quick="--quick" in sys.argv)
    if "--json" in sys.argv:
        print(json.dumps(rows, indent=2))
        sys.exit(0)
    print(f"load average: {', '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    print("| input | kernels | onnxruntime float, ms | int8 C, ms | speed-up | int8 MAC bound of the path | fraction |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        frac = "-" if r["int8_mac_bound_fraction"] is None else f"{r['int8_mac_bound_fraction']:.2f}"
        bound = f"{r['int8_peak_gmacs']:.0f} GMAC/s" if r["int8_peak_gmacs"] else "-"
        print(
            f"| {r['shape'].replace('x', ' x ')} | {r['path']} | {r['onnxruntime_ms']:.4f} | {r['int8_c_ms']:.4f} | "
            f"{r['ratio']:.2f} | {bound} | {frac} |"
        )

"""The int8 C library on Arm Cortex-M4F and Cortex-M7: bit-exact under QEMU, and what it costs there.

For each input shape a small SpeechNet is trained for a few epochs on synthetic windows (class-specific
bursts on class-specific electrodes), quantised to int8 with calibration windows from its training data
(:func:`myovox.export.quantize_model`) and exported to C (:func:`myovox.export.c_codegen.generate_c`).
The library is then cross-compiled with Debian's ``arm-none-eabi-gcc`` (Thumb-2, hard float, strict C99,
``-O2`` and ``-Os``; the shipped build with its Arm DSP path and the portable C with ``-DMYOVOX_PORTABLE``)
for a Cortex-M4F (QEMU ``mps2-an386``) and a Cortex-M7 (``mps2-an500``) and run under ``qemu-system-arm``
with semihosting on held-out, saturated and alternating windows (:mod:`myovox.export.cortex_m`).

Measured, per build: bit-exactness of the int8 logits, class and input quantisation against the NumPy
reference; flash and static RAM of the library (linker map); stack of ``myovox_infer`` (painted stack);
executed instructions per inference (QEMU ``-icount shift=0`` read through the board's timer) and per MAC.
The comparison with CMSIS-NN's published 1.7 cycles per int8 MAC (Cortex-M7) and the reference's GAP9
figures (2.47 ms, 63.9 uJ for the 14 x 400 network) uses instructions as a stand-in for cycles.

Usage::

    .venv/bin/python benchmarks/cortex_m.py                      # ~1-2 min on 2 CPU cores
    .venv/bin/python benchmarks/cortex_m.py --shapes 14x700 --opts=-O2 --out table.md --json rows.json

Needs ``apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm``.
"""

# ruff: noqa: T201 (a script: it prints its table)
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

N_CLASSES = 9  # 8 words + rest, as SilentWear


def make_task(n: int, n_channels: int, n_times: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise windows with a class-specific burst (frequency, electrode, envelope) at a random onset."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n)
    X = rng.normal(0, 1, (n, n_channels, n_times)).astype(np.float32)
    t = np.arange(n_times)
    for i in range(n):
        if y[i] == 0:  # rest
            continue
        width = n_times // 3
        start = rng.integers(0, n_times - width)
        env = np.zeros(n_times)
        env[start : start + width] = np.hanning(width)
        f = 0.02 + 0.03 * y[i]
        ch = (y[i] * 3) % n_channels
        X[i, ch] += 3.0 * env * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28))
        X[i, (ch + 1) % n_channels] += 1.5 * env * np.sin(2 * np.pi * f * t)
    return X, y


def train(n_channels: int, n_times: int, *, n_train: int, epochs: int, seed: int) -> tuple[Any, dict]:
    """A SpeechNet trained for a few epochs; returns the quantised model and the data it saw."""
    from myovox.export.quantize import quantize_model
    from myovox.models.neural import SpeechNetClassifier

    Xtr, ytr = make_task(n_train, n_channels, n_times, seed)
    Xte, yte = make_task(64, n_channels, n_times, seed + 1)
    t0 = time.perf_counter()
    clf = SpeechNetClassifier(n_epochs=epochs, patience=None, valid_size=0.0, random_state=seed, n_threads=2)
    clf.fit(Xtr, ytr)
    q = quantize_model(clf, Xtr[:256])
    info = {
        "train_s": time.perf_counter() - t0,
        "float_accuracy": float(np.mean(clf.predict(Xte) == yte)),
        "int8_accuracy": float(np.mean(q.predict(Xte) == yte)),
        "Xte": Xte,
    }
    return q, info


def adversarial(shape: tuple[int, int]) -> np.ndarray:
    """Saturated (127, -128) and alternating int8 windows."""
    Xq = np.zeros((3, *shape), np.int8)
    Xq[0], Xq[1] = 127, -128
    Xq[2, :, ::2], Xq[2, :, 1::2] = 127, -128
    return Xq


def comparison(rows: list[dict]) -> str:
    """Instructions per MAC beside CMSIS-NN's published rate and the reference's GAP9 figures."""
    from myovox.export.budget import CMSIS_NN_CYCLES_PER_MAC, CORTEX_M, GAP9_REF

    g_ns_per_mac = GAP9_REF["latency_ms"] * 1e6 / GAP9_REF["macs"]
    g_pj_per_mac = GAP9_REF["energy_uj"] * 1e6 / GAP9_REF["macs"]
    lines = [
        "| input | target | MACs | instructions / MAC (measured) | vs CMSIS-NN 1.7 cycles/MAC | "
        "latency at CPI 1 (estimate) | GAP9 reference, scaled by MACs |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if r["opt"] != "-O2" or r["kernels"] != "arm-dsp":
            continue
        a = CORTEX_M[r["target"]]
        lat = r["instructions_per_inference"] / (a["clock_mhz"] * 1e3)
        g_ms = g_ns_per_mac * r["macs"] * 1e-6
        lines.append(
            f"| {' x '.join(map(str, r['input_shape']))} | {a['label']} | {r['macs'] / 1e6:.2f} M | "
            f"{r['instructions_per_mac']:.2f} | {r['instructions_per_mac'] / CMSIS_NN_CYCLES_PER_MAC:.2f}x | "
            f"{lat:.1f} ms | {g_ms:.2f} ms, {g_pj_per_mac * r['macs'] * 1e-6:.0f} uJ |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from myovox.export.c_codegen import generate_c
    from myovox.export.cortex_m import arm_toolchain_missing, cortex_m_markdown, find_arm_toolchain, measure_cortex_m

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", default="14x700,14x400", help="comma-separated CHANNELSxTIMES (default: %(default)s)")
    ap.add_argument("--targets", default="cortex-m4,cortex-m7")
    ap.add_argument("--opts", default="-O2,-Os")
    ap.add_argument("--kernels", default="arm-dsp,portable")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--n-train", type=int, default=384)
    ap.add_argument("--windows", type=int, default=8, help="held-out test windows per shape (plus 3 adversarial)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    ap.add_argument("--json", type=Path, default=None, help="all rows as JSON")
    ap.add_argument("--work", type=Path, default=None, help="keep the projects and builds here")
    args = ap.parse_args(argv)
    why = arm_toolchain_missing()
    if why is not None:
        print(f"cortex_m.py: {why}", file=sys.stderr)
        return 2
    tc = find_arm_toolchain()
    rows: list[dict] = []
    trained: list[str] = []
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        for shape in args.shapes.split(","):
            c, t = (int(v) for v in shape.lower().split("x"))
            q, info = train(c, t, n_train=args.n_train, epochs=args.epochs, seed=args.seed)
            trained.append(
                f"{c} x {t}: {q.n_parameters():,} parameters, trained {info['train_s']:.0f} s, held-out accuracy "
                f"float {info['float_accuracy']:.2f} / int8 {info['int8_accuracy']:.2f}"
            )
            Xte = info["Xte"]
            Xq = np.concatenate([q.quantize_input(Xte[: args.windows]), adversarial(q.input_shape)])
            d = work / f"{c}x{t}"
            generate_c(q, d / "c", force=True, harness=False)
            rows += measure_cortex_m(
                q,
                Xq,
                X_float=Xte[args.windows : args.windows + 2],
                targets=args.targets.split(","),
                opts=args.opts.split(","),
                kernels=args.kernels.split(","),
                c_dir=d / "c",
                work_dir=d,
                toolchain=tc,
            )
            print(f"  {shape}: {len(rows)} builds so far ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr)
    v = tc.versions()
    md = [
        f"Measured {datetime.date.today().isoformat()} on a {platform.machine()} host (the counts do not depend "
        f"on it), {v['gcc']}, {v['qemu']}; {time.perf_counter() - t_start:.0f} s in all.",
        "",
        *[f"- {s}" for s in trained],
        "",
        cortex_m_markdown(rows, shape_column=True),
        comparison(rows),
    ]
    text = "\n".join(md)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps({"versions": v, "rows": rows}, indent=2, default=str), encoding="utf-8")
    return 0 if all(r["bit_exact"] and r["quantize_bit_exact"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Export a saved model to an int8 C99 library or ONNX, with an optional MCU budget report.

Examples: ``myovox export models/s01 --format c --out build/s01_c --report`` (with measurements on Arm
Cortex-M4/M7 under QEMU when ``arm-none-eabi-gcc`` and ``qemu-system-arm`` are installed; ``--target``);
``myovox export models/s01 --format onnx --int8 --calibration data/ --out build/s01_onnx``.
Calibration windows come from --calibration (a dataset folder, windowed with the model's own
preprocessing, or a .npy/.npz file) or from calibration.npz saved in the model folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._types import add_force_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="saved model folder (myovox train --out)")
    p.add_argument("--format", choices=("c", "onnx"), default="c", help="c: int8 C99 library; onnx: ONNX graph")
    p.add_argument("--int8", action="store_true", help="quantise to int8 (always on for --format c)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--report", action="store_true", help="also write budget.json/budget.md (MCU budget)")
    p.add_argument(
        "--target",
        nargs="+",
        default=None,
        choices=("auto", "none", "cortex-m4", "cortex-m7"),
        metavar="TARGET",
        help="with --report: Arm Cortex-M targets to cross-compile for and run under QEMU (bit-exact check, measured "
        "flash/RAM/stack/instructions): cortex-m4, cortex-m7, none, or auto (default: both when arm-none-eabi-gcc "
        "and qemu-system-arm are installed)",
    )
    add_force_argument(p, "an --out folder")
    p.add_argument(
        "--calibration",
        default=None,
        metavar="DATASET",
        help="dataset folder or .npy/.npz windows for int8 calibration",
    )
    p.add_argument("--kind", default=None, help="dataset adapter of --calibration (auto-detected)")
    p.add_argument("--max-windows", type=int, default=512, help="calibration windows used at most")


def calibration_windows(path: str, card: Any, kind: str | None = None, max_windows: int = 512) -> Any:
    """Windows for calibration: a .npy/.npz file, or a dataset folder cut into the model's own windows."""
    import numpy as np

    from ..exceptions import ValidationError
    from ..export import read_calibration
    from ..models.card import model_windows
    from .evaluate import load_for_model

    p = Path(path)
    if not p.exists():
        raise ValidationError(f"Calibration path {p} does not exist.")
    X = read_calibration(p, missing_ok=True)  # a file, or a folder holding calibration.npz/.npy
    if X is None:
        X = model_windows(load_for_model(str(p), kind, card), card, source=str(p)).X
    X = np.asarray(X)
    if len(X) > max_windows:
        X = X[np.random.default_rng(0).choice(len(X), max_windows, replace=False)]
    return X


def run(args: argparse.Namespace) -> int:
    from .._outputs import check_output_folder
    from ..exceptions import ValidationError
    from ..export import export_model, load_for_export

    out = Path(args.out)
    targets = args.target or ["auto"]
    if args.target is not None and not args.report:
        raise ValidationError("--target needs --report (the Cortex-M measurements go into the budget report).")
    if len(targets) > 1 and {"auto", "none"} & set(targets):
        raise ValidationError("--target auto and --target none stand alone; give them without target names.")
    cortex_m = targets[0] if targets[0] in ("auto", "none") else targets
    check_output_folder(out, force=args.force, what="export folder")  # before loading anything
    model, side, X = load_for_export(args.model)
    if args.calibration is not None:
        X = calibration_windows(args.calibration, side, args.kind, args.max_windows)
    int8 = True if args.format == "c" else bool(args.int8)
    res = export_model(
        model,
        out,
        format=args.format,
        int8=int8,
        calibration=X,
        force=args.force,
        report=args.report,
        sidecar=side,
        cortex_m=cortex_m,
    )
    print(f"Exported {args.model} ({args.format}{', int8' if int8 else ''}) to {out}:")
    for name, path in res["files"].items():
        print(f"  {name}: {path}")
    for key in ("onnx_float_check", "onnx_int8_check"):
        if key in res:
            print(f"  {key}: " + ", ".join(f"{k}={v:.4g}" for k, v in res[key].items() if isinstance(v, float)))
    if "budget" in res:
        b = res["budget"]
        print(
            f"  budget: {b['parameters']:,} parameters, flash {b['flash_bytes']['total']:,} B, "
            f"RAM {b['ram_bytes']['activation_buffers']:,} B, {b['macs'] / 1e6:.2f} M MACs, "
            f"GAP9 ~{b['estimates']['gap9']['latency_ms']:.2f} ms (estimate)"
        )
        cm = b.get("cortex_m") or {}
        for r in cm.get("rows", []):
            print(
                f"  {r['board']} {r['opt']} (measured): bit-exact {'yes' if r['bit_exact'] else 'NO'}, flash "
                f"{r['flash_bytes']['total']:,} B, RAM {r['ram_bytes']['static']:,} B + stack {r['stack_bytes']:,} B, "
                f"{r['instructions_per_inference']:,.0f} instructions ({r['instructions_per_mac']:.2f} per MAC)"
            )
        if not cm.get("rows"):
            print(f"  Cortex-M: not measured ({cm.get('reason')})")
    return 0

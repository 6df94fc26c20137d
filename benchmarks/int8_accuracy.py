"""Does the int8 export keep accuracy? Float vs int8 SpeechNet on synthetic and real data.

For each experiment a SpeechNet is trained (float), quantised to int8 with calibration windows from
its *training* data only (:func:`myovox.export.quantize_model`), and both are scored on held-out
windows (:func:`myovox.export.compare_accuracy`): balanced accuracy of each, the drop in points and
the fraction of windows where they predict the same class. The int8 QDQ ONNX graph is run with
onnxruntime on the same windows and compared with the integer reference (argmax agreement), and
the generated C library is checked bit-exact against the reference on a sample of them.

Experiments
-----------
``synth-<condition>``
    One full synthetic SilentWear-format session (5 batches x 20 repetitions of 8 words, written
    as the public release's ``.h5`` files and read back; 14 channels, 500 Hz, SilentWear filter,
    1.4 s event windows): train on batches 1-3 (rest down-sampled), test on batches 4-5.
``longterm-pooled``
    longterm-armband, all 5 subjects, one model: train days 1-3, test days 4-10 (inter-day).
``longterm-sub<k>``
    The same split with one model per subject.
``somach-B``
    somach-silent-speech Study B (5 phases pooled, 6 classes): stratified 80/20 split (seed 42).

Usage::

    .venv/bin/python benchmarks/int8_accuracy.py                 # everything (~3-5 min on 2 CPU cores)
    .venv/bin/python benchmarks/int8_accuracy.py --only synth --epochs 10 --json out.json
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared"


def _fit(X: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> Any:
    from myovox.models.neural import SpeechNetClassifier

    return SpeechNetClassifier(n_epochs=epochs, patience=None, valid_size=0.0, random_state=seed,
                               n_threads=1).fit(X.astype(np.float32), y)


def evaluate(name: str, Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, yte: np.ndarray, *,
             epochs: int, seed: int, meta: dict, work: Path, c_check: int = 256) -> dict:
    """Train, quantise on the training windows, score float/int8/ONNX QDQ/C on the test windows."""
    from myovox.export import compare_accuracy, quantize_model
    from myovox.export.onnx import export_onnx_qdq

    t0 = time.perf_counter()
    model = _fit(Xtr, ytr, epochs, seed)
    t_fit = time.perf_counter() - t0
    qmodel = quantize_model(model, Xtr.astype(np.float32), meta=meta)
    row: dict[str, Any] = {"experiment": name, "n_train": len(ytr), "n_test": len(yte),
                           "n_classes": len(np.unique(ytr)), "input_shape": list(Xtr.shape[1:]),
                           "fit_s": round(t_fit, 1)}
    row.update(compare_accuracy(model, qmodel, Xte, yte))
    qdq = export_onnx_qdq(qmodel, work / f"{name}_qdq.onnx", check_inputs=Xte)
    row["onnx_qdq_agreement"] = qdq["argmax_agreement"]
    row["onnx_qdq_max_logit_error_steps"] = qdq["max_logit_error"] / qdq["logit_scale"]
    row["c_bit_exact"] = _c_check(qmodel, Xte[:: max(1, len(Xte) // c_check)], work / f"{name}_c")
    row["time_s"] = round(time.perf_counter() - t0, 1)
    return row


def _c_check(qmodel: Any, X: np.ndarray, out: Path) -> bool | None:
    """Generated C library vs the NumPy reference on ``X`` (None without a C compiler)."""
    from myovox.export.c_codegen import compile_harness, generate_c, run_harness, run_harness_quantize

    if not (shutil.which("gcc") or shutil.which("cc")):
        return None
    generate_c(qmodel, out, force=True)
    exe = compile_harness(out)
    Xq = run_harness_quantize(exe, X.astype(np.float32))
    logits, _ = run_harness(exe, Xq, qmodel.n_classes)
    return bool(np.array_equal(Xq, qmodel.quantize_input(X)) and np.array_equal(logits, qmodel.forward_int8(Xq)))


def synth_rows(work: Path, epochs: int, seed: int, conditions: tuple[str, ...]) -> list[dict]:
    from myovox.datasets import load_dataset
    from myovox.preprocessing.pipeline import preprocess_dataset
    from myovox.testing.synth import generate_dataset
    from myovox.windows import downsample_rest, make_windows

    root = generate_dataset(work / "synth", n_subjects=1, n_sessions=1, n_batches=5, conditions=conditions,
                            n_repetitions=20, raw=False, processed=True, seed=seed,
                            difficulty="easy")  # the data of the table in docs/results.md
    rows = []
    for cond in conditions:
        ds = load_dataset(root, conditions=cond)
        w = make_windows(preprocess_dataset(ds))  # the dataset's 1.4 s event windows
        train_mask = w.meta["batch"] <= 3
        train = downsample_rest(w.subset(train_mask), random_state=seed)
        test = w.subset(~train_mask)
        meta = {"sfreq": w.sfreq, "window_s": w.window_s, "ch_names": list(w.ch_names),
                "filter": ds.info.get("filter"), "dataset": f"synthetic silentwear ({cond})"}
        rows.append(evaluate(f"synth-{cond}", train.X, train.y, test.X, test.y, epochs=epochs, seed=seed,
                             meta=meta, work=work))
        _show(rows[-1])
    return rows


def longterm_rows(shared: Path, work: Path, epochs: int, seed: int) -> list[dict]:
    from myovox.datasets import load_dataset
    from myovox.preprocessing.pipeline import preprocess_dataset
    from myovox.windows import make_windows

    w = make_windows(preprocess_dataset(load_dataset(shared / "datasets" / "longterm-armband")))
    meta = {"sfreq": w.sfreq, "window_s": w.window_s, "dataset": "longterm-armband"}
    train_mask = w.meta["day"] <= 3
    rows = [evaluate("longterm-pooled", w.X[train_mask], w.y[train_mask], w.X[~train_mask], w.y[~train_mask],
                     epochs=epochs, seed=seed, meta=meta, work=work)]
    _show(rows[-1])
    for sub in np.unique(w.meta["subject"]):
        s = w.meta["subject"] == sub
        rows.append(evaluate(f"longterm-{sub}", w.X[s & train_mask], w.y[s & train_mask], w.X[s & ~train_mask],
                             w.y[s & ~train_mask], epochs=epochs, seed=seed, meta=meta, work=work))
        _show(rows[-1])
    return rows


def somach_rows(shared: Path, work: Path, epochs: int, seed: int) -> list[dict]:
    from sklearn.model_selection import train_test_split

    from myovox.datasets import load_dataset
    from myovox.preprocessing.pipeline import preprocess_dataset
    from myovox.windows import make_windows

    ds = load_dataset(shared / "datasets" / "somach-silent-speech", studies="B")
    w = make_windows(preprocess_dataset(ds))
    idx = np.arange(len(w))
    tr, te = train_test_split(idx, test_size=0.2, stratify=w.y, random_state=42)
    meta = {"sfreq": w.sfreq, "window_s": w.window_s, "dataset": "somach-silent-speech studyB"}
    rows = [evaluate("somach-B", w.X[tr], w.y[tr], w.X[te], w.y[te], epochs=epochs, seed=seed, meta=meta,
                     work=work)]
    _show(rows[-1])
    return rows


def _show(r: dict) -> None:
    print(f"{r['experiment']:<18} n_test={r['n_test']:>5}  float={100 * r['float_balanced_accuracy']:6.2f}  "
          f"int8={100 * r['int8_balanced_accuracy']:6.2f}  drop={r['drop_points']:+5.2f} pt  "
          f"agree={100 * r['agreement']:6.2f} %  onnx_qdq={100 * r['onnx_qdq_agreement']:6.2f} %  "
          f"c_exact={r['c_bit_exact']}  ({r['time_s']} s)", flush=True)


def markdown_table(rows: list[dict]) -> str:
    """The results as a Markdown table (balanced accuracies in %)."""
    lines = [("| experiment | train / test windows | classes | float BA (%) | int8 BA (%) | drop (points) | "
              "float/int8 agreement (%) | ONNX QDQ vs int8 ref. (%) | C bit-exact |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['experiment']} | {r['n_train']} / {r['n_test']} | {r['n_classes']} | "
                     f"{100 * r['float_balanced_accuracy']:.2f} | {100 * r['int8_balanced_accuracy']:.2f} | "
                     f"{r['drop_points']:+.2f} | {100 * r['agreement']:.2f} | {100 * r['onnx_qdq_agreement']:.2f} | "
                     f"{'yes' if r['c_bit_exact'] else ('n/a' if r['c_bit_exact'] is None else 'NO')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="+", choices=["synth", "longterm", "somach"],
                   default=["synth", "longterm", "somach"], help="experiments to run")
    p.add_argument("--epochs", type=int, default=30, help="training epochs (no early stopping)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--conditions", nargs="+", default=["vocalized", "silent"], choices=["vocalized", "silent"])
    p.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared folder (datasets/)")
    p.add_argument("--json", type=Path, help="also write the rows as JSON here")
    p.add_argument("--markdown", action="store_true", help="print a Markdown table at the end")
    args = p.parse_args(argv)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "synth" in args.only:
            rows += synth_rows(work, args.epochs, args.seed, tuple(args.conditions))
        for name, fn in (("longterm", longterm_rows), ("somach", somach_rows)):
            if name not in args.only:
                continue
            if not (args.shared / "datasets").is_dir():
                print(f"skipping {name}: no datasets under {args.shared}", file=sys.stderr)
                continue
            rows += fn(args.shared, work, args.epochs, args.seed)
    subs = [r for r in rows if r["experiment"].startswith("longterm-sub")]
    if subs:
        print(f"longterm per-subject mean: float={100 * np.mean([r['float_balanced_accuracy'] for r in subs]):.2f} "
              f"int8={100 * np.mean([r['int8_balanced_accuracy'] for r in subs]):.2f} "
              f"drop={np.mean([r['drop_points'] for r in subs]):+.2f} pt "
              f"(largest |drop| {max(abs(r['drop_points']) for r in subs):.2f})")
    if args.markdown:
        print(markdown_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=float), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

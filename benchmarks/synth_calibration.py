"""Calibration report of the synthetic generator against the reference's published numbers (issue 16).

Generates a SilentWear-format dataset at one difficulty (:meth:`myovox.testing.synth.SynthConfig.preset`),
runs the reference's protocols on it with :func:`myovox.evaluation.run_protocol` (1.4 s windows,
9-class balanced accuracy, per condition) and prints a Markdown table beside the reference's
numbers:

* ``global``: leave-one-batch-out cross-validation;
* ``inter_session``: leave-one-session-out (no fine-tuning);
* ``fine_tune``: per held-out session and batch: the inter-session model (``no_ft``), the model
  fine-tuned on the new batches so far (``ft``; RF is retrained on old + new data) and a model
  trained from scratch on the new batches so far (``scratch``). "recovery" is ft - no_ft on the
  second new batch, after one batch of adaptation (reference: > 10 points).

Full run: the reference's sizes (4 subjects x 3 sessions x 5 batches x 20 repetitions), SpeechNet
with the reference recipe (up to 100 epochs, early stopping, 50 fine-tuning epochs), fine-tuning
on the last session (3, after training on days 1-2; ``--test-sessions 1 2 3`` holds out each
in turn, 3x the fine-tuning cost), ``--jobs 2`` worker processes (one thread each).
``--quick``: 1 subject, 3 batches of 10 repetitions, SpeechNet capped at 15 epochs (5 for
fine-tuning); its numbers are only indicative (one subject: no spread over subjects, the ± is
over folds).

    python benchmarks/synth_calibration.py --difficulty reference [--quick] [--models rf speechnet]
        [--subjects N] [--batches N] [--repetitions N] [--epochs N] [--ft-epochs N] [--jobs N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time

import numpy as np

from myovox.datasets import load_dataset
from myovox.evaluation import run_protocol
from myovox.testing.synth import DIFFICULTIES, generate_dataset

#: The reference's numbers (SilentWear, 4 subjects; mean ± std over subjects, %).
REFERENCE = {
    ("global", "vocalized"): "84.8 ± 4.6",
    ("global", "silent"): "77.5 ± 6.6",
    ("inter_session", "vocalized"): "71.1 ± 8.3",
    ("inter_session", "silent"): "59.3 ± 2.2",
    ("recovery", "vocalized"): "> 10 points",
    ("recovery", "silent"): "> 10 points",
}
#: Bands of issue 16 (%, inclusive) that ``--difficulty reference`` must meet at full size.
BANDS = {
    ("global", "vocalized"): (80, 90),
    ("global", "silent"): (70, 85),
    ("inter_session", "vocalized"): (62, 80),
    ("inter_session", "silent"): (52, 66),
}
WINDOW_S = 1.4


def _pct(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{100 * x:.1f}"


def _spread(res) -> tuple[float, float, str]:
    """Mean and std over subjects, or over folds when there is one subject."""
    if len(res.per_subject) > 1:
        return float(res.mean), float(res.std), "subjects"
    return float(res.fold_mean), float(res.fold_std), "folds"


def _nanmean(values: list[float]) -> float:
    v = np.asarray(values, dtype=float)
    return float(v[~np.isnan(v)].mean()) if np.any(~np.isnan(v)) else float("nan")


def _curve_means(curves: list[dict]) -> dict[int, dict[str, float]]:
    """Mean ft / no_ft / scratch per batch index of the new session (over subjects and sessions)."""
    out: dict[int, dict[str, float]] = {}
    for i in sorted({c["batch_index"] for c in curves}):
        rows = [c for c in curves if c["batch_index"] == i]
        out[i] = {k: _nanmean([r[k] for r in rows]) if rows else float("nan") for k in ("ft", "no_ft", "scratch")}
    return out


def run(args: argparse.Namespace) -> list[dict]:
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        data = generate_dataset(
            os.path.join(tmp, "data"),
            n_subjects=args.subjects,
            n_sessions=3,
            n_batches=args.batches,
            n_repetitions=args.repetitions,
            seed=args.seed,
            raw=False,
            difficulty=args.difficulty,
        )
        ds = load_dataset(data, source="processed")
        print(f"# generated {args.difficulty} data in {time.perf_counter() - t0:.0f} s", flush=True)  # noqa: T201
        for model in args.models:
            params = {"n_epochs": args.epochs} if model == "speechnet" and args.epochs else {}
            for cond in args.conditions:
                row: dict = {"model": model, "condition": cond}
                t1 = time.perf_counter()
                for proto in ("global", "inter_session"):
                    res = run_protocol(
                        proto,
                        ds,
                        model=model,
                        window_s=WINDOW_S,
                        condition=cond,
                        model_params=params,
                        random_state=args.seed,
                        n_jobs=args.jobs,
                    )
                    row[proto], row[f"{proto}_std"], row["spread_over"] = _spread(res)
                ft_kw: dict = {"ft_epochs": args.ft_epochs, "scratch": True}
                if args.test_sessions:
                    ft_kw["test_sessions"] = args.test_sessions
                res = run_protocol(
                    "fine_tune",
                    ds,
                    model=model,
                    window_s=WINDOW_S,
                    condition=cond,
                    model_params=params,
                    random_state=args.seed,
                    n_jobs=args.jobs,
                    **ft_kw,
                )
                curve = _curve_means(res.curves)
                row["curve"] = curve
                b2, b3 = curve.get(2, {}), curve.get(3, {})
                row["recovery"] = b2.get("ft", float("nan")) - b2.get("no_ft", float("nan"))
                row["ft_b2"], row["scratch_b2"] = b2.get("ft", float("nan")), b2.get("scratch", float("nan"))
                row["ft_b3"], row["scratch_b3"] = b3.get("ft", float("nan")), b3.get("scratch", float("nan"))
                row["wall_s"] = round(time.perf_counter() - t1, 1)
                rows.append(row)
                print(f"# {model} {cond}: {row['wall_s']} s", flush=True)  # noqa: T201
    return rows


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"difficulty `{args.difficulty}`, {args.subjects} subject(s) x 3 sessions x {args.batches} batches x "
        f"{args.repetitions} repetitions, {WINDOW_S} s windows, seed {args.seed}"
        + (f", SpeechNet {args.epochs} epochs" if args.epochs else ", SpeechNet reference recipe")
        + f", fine-tuning {args.ft_epochs} epochs"
        + f", fine-tuning on held-out session(s) {args.test_sessions or 'each'}",
        "",
        "| model | condition | cross-validated (global) | inter-session | FT recovery after batch 1 (points) "
        "| FT / scratch, new batch 2 | FT / scratch, new batch 3 | reference CV | reference inter-session "
        "| in band (CV, inter) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        c = r["condition"]
        band = []
        for proto in ("global", "inter_session"):
            lo, hi = BANDS[(proto, c)]
            band.append("yes" if lo <= 100 * r[proto] <= hi else "no")
        lines.append(
            f"| {r['model']} | {c} | {_pct(r['global'])} ± {_pct(r['global_std'])} "
            f"| {_pct(r['inter_session'])} ± {_pct(r['inter_session_std'])} "
            f"| {100 * r['recovery']:+.1f} | {_pct(r['ft_b2'])} / {_pct(r['scratch_b2'])} "
            f"| {_pct(r['ft_b3'])} / {_pct(r['scratch_b3'])} "
            f"| {REFERENCE[('global', c)]} | {REFERENCE[('inter_session', c)]} | {band[0]}, {band[1]} |"
        )
    over = {r["spread_over"] for r in rows}
    lines += [
        "",
        f"± : std over {'/'.join(sorted(over))}; reference: std over 4 subjects. "
        "Reference fine-tuning: > 10 points recovered with < 10 min of new data; from scratch "
        "below fine-tuning for the first new batches.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--difficulty", choices=DIFFICULTIES, default="reference")
    parser.add_argument("--quick", action="store_true", help="1 subject, 3 batches x 10 reps, capped epochs")
    parser.add_argument("--models", nargs="+", default=["rf", "speechnet"], choices=["rf", "speechnet"])
    parser.add_argument("--conditions", nargs="+", default=["vocalized", "silent"], choices=["vocalized", "silent"])
    parser.add_argument("--subjects", type=int)
    parser.add_argument("--batches", type=int)
    parser.add_argument("--repetitions", type=int)
    parser.add_argument("--epochs", type=int, help="SpeechNet epoch cap (default: the recipe's 100; quick 15)")
    parser.add_argument("--ft-epochs", type=int, help="fine-tuning epochs (default 50; quick 5)")
    parser.add_argument("--test-sessions", type=int, nargs="+", help="held-out sessions of fine_tune (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2, one thread each)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    quick = {"subjects": 1, "batches": 3, "repetitions": 10, "epochs": 15, "ft_epochs": 5, "test_sessions": [3]}
    full = {"subjects": 4, "batches": 5, "repetitions": 20, "epochs": None, "ft_epochs": 50, "test_sessions": [3]}
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    t0 = time.perf_counter()
    rows = run(args)
    print(markdown(rows, args))  # noqa: T201
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")  # noqa: T201
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=1, default=str)


if __name__ == "__main__":
    main()

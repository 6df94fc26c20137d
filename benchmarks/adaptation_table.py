"""Adaptation to a new session, method x dataset x k (issue 12): the table of docs/results.md.

For each dataset a model is trained on the first sessions (days) and tested on later ones, with:

* ``none``: the model as trained;
* ``standardize`` / ``bn``: label-free, transductive (each new session's own unlabelled windows;
  ``bn`` re-estimates SpeechNet's batch-norm statistics);
* ``standardize@25%`` / ``bn@25%``: label-free, adapted on the first quarter of each new session
  (recording order) and scored on the rest, beside ``none@25%`` on the same rest;
* ``augment`` / ``augment+standardize``: training with electrode-shift, gain, time and noise
  augmentation (one copy), without / with label-free standardisation;
* ``k=1`` / ``k=2`` / ``k=3`` / ``k=5``: the ``fewshot`` protocol, k labelled windows per class of the new
  session (SpeechNet fine-tuned, all layers; rf retrained on old + new), tested on the rest of it.

Datasets: the shared longterm armband (train days 1-5, test each of days 6-10), the somach covert
sessions (train session A, test B and C) and synthetic silent speech at the calibrated
``reference`` difficulty (2 subjects, train sessions 1-2, test session 3). Every cell is the mean
± std over subjects of the per-subject balanced accuracy (%); each cell is cached as JSON in
``--out`` so an interrupted run resumes.

    python benchmarks/adaptation_table.py [--datasets longterm somach synthetic] [--models rf speechnet]
        [--out DIR] [--jobs 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from myovox.datasets import load_dataset
from myovox.evaluation import run_protocol
from myovox.testing.synth import generate_dataset

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
DAYS_OLD, DAYS_NEW = [1, 2, 3, 4, 5], [6, 7, 8, 9, 10]
#: dataset -> training selection, test selection, the session key and the few-shot k
#: (longterm has 4 trials per motion and day: k = 5 would leave none to test)
SPLITS = {
    "longterm": ({"day": DAYS_OLD}, {"day": DAYS_NEW}, "day", [1, 2, 3]),
    "somach": ({"session": "A"}, {"session": ["B", "C"]}, "session", [1, 2, 5]),
    "synthetic": ({"session": [1, 2]}, {"session": 3}, "session", [1, 2, 5]),
}
METHODS = (
    "none",
    "standardize",
    "bn",
    "none@25%",
    "standardize@25%",
    "bn@25%",
    "augment",
    "augment+standardize",
    "k=1",
    "k=2",
    "k=3",
    "k=5",
)
AUGMENT = "shift,gain,time,noise"


def load(name: str, tmp: Path, quick: bool):
    """The dataset called ``name`` (the synthetic one is generated into ``tmp``)."""
    if name == "longterm":
        return load_dataset(SHARED / "longterm-armband", subjects=[1, 2] if quick else None)
    if name == "somach":
        return load_dataset(SHARED / "somach-silent-speech" / "covert_sessions")
    root = generate_dataset(
        tmp / "synthetic",
        n_subjects=1 if quick else 2,
        n_sessions=3,
        n_batches=3 if quick else 5,
        conditions=("silent",),
        n_repetitions=5 if quick else 10,
        raw=False,
        difficulty="reference",
    )
    return load_dataset(root)


def run_cell(ds, name: str, model: str, method: str, jobs: int, epochs: int | None) -> dict:
    """One cell: a protocol run, summarised as mean/std over subjects."""
    train, test, by, ks = SPLITS[name]
    params = {} if epochs is None or model == "rf" else {"n_epochs": epochs}
    common = {"model": model, "model_params": params, "n_jobs": jobs, "random_state": 0}
    if method.startswith("k="):
        res = run_protocol(
            "fewshot",
            ds,
            k=ks,
            by=by,
            train_sessions=[str(v) for v in np.atleast_1d(train[by])],
            test_sessions=[str(v) for v in np.atleast_1d(test[by])],
            **common,
        )
        out = {}
        for c in res.curves:
            per_subject = {}
            for r in res.folds:
                if r["k"] == c["k"]:
                    per_subject.setdefault(r["subject"], []).append(r["balanced_accuracy"])
            means = [float(np.mean(v)) for v in per_subject.values()]
            out[f"k={c['k']}"] = {"mean": float(np.mean(means)), "std": float(np.std(means)), "n": c["n"]}
        return out
    adapt = method.split("@")[0].removeprefix("augment+").removeprefix("augment")
    kw = {"adapt": adapt or "none", "adapt_by": by}
    if method.endswith("@25%"):
        kw["adapt_first"] = 0.25
    if method.startswith("augment"):
        kw["augment"] = AUGMENT
    res = run_protocol("transfer", ds, train=train, test=test, **kw, **common)
    return {method: {"mean": res.mean, "std": res.std, "n": len(res.folds)}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=list(SPLITS), choices=list(SPLITS))
    p.add_argument("--models", nargs="+", default=["rf", "speechnet"])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--out", default="adaptation-table", help="folder of cached cells (JSON)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=None, help="SpeechNet training epochs (default: the model's)")
    p.add_argument("--quick", action="store_true", help="fewer subjects, smaller synthetic data, 10 epochs")
    args = p.parse_args(argv)
    epochs = 10 if args.quick and args.epochs is None else args.epochs
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cells: dict[tuple[str, str, str], dict] = {}
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            ds = None
            for model in args.models:
                todo = [m for m in args.methods if not (model == "rf" and m.startswith("bn"))]
                if any(m.startswith("k=") for m in todo):  # one fewshot run gives every k
                    todo = [m for m in todo if not m.startswith("k=")] + ["k=1"]
                for method in todo:
                    cache = out / f"{name}-{model}-{method.replace('%', 'pc').replace('+', '_')}.json"
                    if cache.is_file():
                        got = json.loads(cache.read_text())
                    else:
                        ds = ds if ds is not None else load(name, Path(tmp), args.quick)
                        t0 = time.perf_counter()
                        got = run_cell(ds, name, model, method, args.jobs, epochs)
                        for v in got.values():
                            v["seconds"] = round(time.perf_counter() - t0, 1)
                        cache.write_text(json.dumps(got, indent=1))
                    for m, v in got.items():
                        cells[(name, model, m)] = v
                        print(f"{name:10s} {model:10s} {m:22s} {100 * v['mean']:5.1f} ± {100 * v['std']:4.1f} %", flush=True)
    print(f"\n{time.perf_counter() - t_all:.0f} s\n")
    methods = [m for m in args.methods if any(k[2] == m for k in cells)]
    print("| dataset | model | " + " | ".join(methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for name in args.datasets:
        for model in args.models:
            row = []
            for m in methods:
                v = cells.get((name, model, m))
                row.append("-" if v is None or math.isnan(v["mean"]) else f"{100 * v['mean']:.1f} ± {100 * v['std']:.1f}")
            print(f"| {name} | {model} | " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

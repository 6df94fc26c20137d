"""Reproduce the numbers of docs/results.md that ``myovox evaluate`` cannot express yet.

Two experiments, both through the public Python API (datasets -> preprocessing -> windows ->
registry models -> metrics):

``fewshot``
    Per subject: train on the windows matching ``--train`` (e.g. ``day=1,2,3,4,5``), then for each
    value of ``--by`` in ``--test`` (e.g. ``day=6,7,8,9,10``): score the model on that new
    session (``no_ft``), adapt it with ``--per-class`` trials of each class of the new session and
    score on the *remaining* trials of that session (``ft``; the same remaining trials for every
    score in the row). Neural models are fine-tuned (``adaptation.fine_tune``, strategy all);
    classical ones are retrained on old + new trials (they cannot be fine-tuned). ``scratch`` is a
    model trained on the few new trials alone. The adaptation trials are drawn at random per class
    with ``--seed`` and repeated ``--repeats`` times.

``detect``
    Word-vs-silence detection: labels become 0 (the dataset's rest label) / 1 (any word);
    per subject and condition, shuffled stratified k-fold grouped by recording file.

Examples (see docs/results.md for the exact commands and numbers)::

    python scripts/reproduce_results.py fewshot ../shared/datasets/somach-silent-speech/covert_sessions \
        --train session=A --test session=B,C --by session --per-class 10 --model rf
    python scripts/reproduce_results.py fewshot ../shared/datasets/longterm-armband \
        --train day=1,2,3,4,5 --test day=6,7,8,9,10 --by day --per-class 1 --model lda
    python scripts/reproduce_results.py detect ../shared/datasets/mateus-subvocal --condition subvocal \
        --model rf
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np


def _values(text: str) -> list[Any]:
    out: list[Any] = []
    for v in text.split(","):
        v = v.strip()
        try:
            out.append(int(v))
        except ValueError:
            out.append(v)
    return out


def _selection(item: str, flag: str) -> tuple[str, list[Any]]:
    key, sep, value = item.partition("=")
    if not sep or not key or not value:
        raise SystemExit(f"{flag}: expected KEY=VALUE[,VALUE...], got {item!r}")
    return key.strip(), _values(value)


def _mask(w, key: str, values: list[Any]) -> np.ndarray:
    col = w.meta[key]
    return np.isin(col.astype(str), [str(v) for v in values])


def load_windows(path: str, *, window_s: float | None = None, **select: Any):
    """Load, preprocess with the dataset's own filter, and cut into windows."""
    from myovox.datasets import load_dataset
    from myovox.preprocessing.pipeline import preprocess_dataset
    from myovox.windows import make_windows

    ds = load_dataset(path)
    if select:
        ds = ds.select(**select)
    ds = preprocess_dataset(ds)
    return make_windows(ds, window_s=window_s), ds.info


def build(model: str, w, seed: int, params: dict | None = None):
    from myovox.models.registry import make_model

    return make_model(model, sfreq=w.sfreq, n_channels=w.n_channels, n_times=w.n_samples, random_state=seed,
                      **(params or {}))


def pick_per_class(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``k`` random windows of each class (all of a class when it has fewer)."""
    idx = []
    for c in np.unique(y):
        where = np.flatnonzero(y == c)
        idx.append(rng.choice(where, size=min(k, where.size), replace=False))
    return np.sort(np.concatenate(idx))


def fewshot(args: argparse.Namespace) -> dict:
    from myovox.adaptation import fine_tune
    from myovox.evaluation.metrics import accuracy, balanced_accuracy
    from myovox.windows import Windows

    tkey, tvals = _selection(args.train, "--train")
    skey, svals = _selection(args.test, "--test")
    sel = {"subject": args.subjects} if args.subjects else {}
    w, _ = load_windows(args.dataset, window_s=args.window, **sel)
    params = {"n_epochs": args.epochs} if args.epochs and args.model == "speechnet" else None
    rows = []
    for subj in sorted(set(w.meta["subject"].tolist())):
        sw = w.subset(w.meta["subject"] == subj)
        old = sw.subset(_mask(sw, tkey, tvals))
        t0 = time.perf_counter()
        base = build(args.model, old, args.seed, params).fit(old.X, old.y)
        base_s = time.perf_counter() - t0
        for v in svals:
            new = sw.subset(_mask(sw, skey, [v]))
            if len(new) == 0:
                continue
            full_no_ft = balanced_accuracy(new.y, base.predict(new.X))
            for rep in range(args.repeats):
                rng = np.random.default_rng([args.seed, rep])
                ad = pick_per_class(new.y, args.per_class, rng)
                rest = np.setdiff1d(np.arange(len(new)), ad)
                adapt, test = new.subset(ad), new.subset(rest)
                t1 = time.perf_counter()
                if hasattr(base, "fine_tune"):
                    tuned = fine_tune(base, adapt, strategy="all", n_epochs=args.ft_epochs,
                                      valid_size=0.0 if len(adapt) < 40 else 0.3)
                else:
                    both = Windows.concatenate([old, adapt])
                    tuned = build(args.model, both, args.seed, params).fit(both.X, both.y)
                ft_s = time.perf_counter() - t1
                scratch = build(args.model, adapt, args.seed, params)
                if hasattr(scratch, "valid_size"):
                    scratch.set_params(valid_size=0.0)
                try:
                    sc = balanced_accuracy(test.y, scratch.fit(adapt.X, adapt.y).predict(test.X))
                except ValueError:  # e.g. LDA with one trial per class
                    sc = float("nan")
                pred_base, pred_ft = base.predict(test.X), tuned.predict(test.X)
                rows.append({"subject": str(subj), skey: v, "repeat": rep, "n_old": len(old),
                             "n_adapt": len(adapt), "n_test": len(test),
                             "no_ft_full": full_no_ft,
                             "no_ft": balanced_accuracy(test.y, pred_base),
                             "ft": balanced_accuracy(test.y, pred_ft),
                             "ft_acc": accuracy(test.y, pred_ft),
                             "scratch": sc,
                             "base_fit_s": round(base_s, 2), "adapt_s": round(ft_s, 2)})
                print(f"{subj} {skey}={v} rep={rep}: no_ft {rows[-1]['no_ft']:.3f} ft {rows[-1]['ft']:.3f} "
                      f"scratch {rows[-1]['scratch']:.3f}", flush=True)
    return {"experiment": "fewshot", "args": vars(args), "rows": rows, "summary": _summary(rows, skey)}


def _summary(rows: list[dict], key: str) -> dict:
    """Mean over repeats per (subject, key); then per key: mean and std over subjects."""
    out: dict[str, Any] = {}
    vals = sorted({r[key] for r in rows}, key=lambda v: (str(type(v)), v))
    for v in vals:
        per_subj: dict[str, dict[str, float]] = {}
        for s in sorted({r["subject"] for r in rows}):
            rs = [r for r in rows if r[key] == v and r["subject"] == s]
            if rs:
                per_subj[s] = {m: float(np.mean([r[m] for r in rs])) for m in ("no_ft", "ft", "scratch")}
        out[str(v)] = {m: (float(np.mean([p[m] for p in per_subj.values()])),
                           float(np.std([p[m] for p in per_subj.values()]))) for m in ("no_ft", "ft", "scratch")}
        out[str(v)]["per_subject"] = per_subj
    return out


def detect(args: argparse.Namespace) -> dict:
    from sklearn.model_selection import StratifiedGroupKFold

    from myovox.evaluation.metrics import balanced_accuracy

    sel: dict[str, Any] = {}
    if args.subjects:
        sel["subject"] = args.subjects
    if args.condition:
        sel["condition"] = args.condition
    w, info = load_windows(args.dataset, window_s=args.window, **sel)
    rest = info.get("rest_label", 0)
    rows = []
    for subj in sorted(set(w.meta["subject"].tolist())):
        for cond in sorted(set(w.meta["condition"].tolist())):
            uw = w.subset((w.meta["subject"] == subj) & (w.meta["condition"] == cond))
            if len(uw) == 0:
                continue
            yb = (uw.y != rest).astype(np.int64)
            # groups: one recording file = one word block; never split a segment across folds
            groups = uw.meta["recording"].astype(str) + ":" + uw.meta["start"].astype(str)
            cv = StratifiedGroupKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
            scores = []
            for tr, te in cv.split(uw.X, yb, groups):
                est = build(args.model, uw, args.seed).fit(uw.X[tr], yb[tr])
                scores.append(balanced_accuracy(yb[te], est.predict(uw.X[te])))
            rows.append({"subject": str(subj), "condition": str(cond), "n_windows": len(uw),
                         "n_word": int(yb.sum()), "balanced_accuracy": float(np.mean(scores)),
                         "fold_std": float(np.std(scores))})
            print(f"{subj} {cond}: {rows[-1]['balanced_accuracy']:.3f} ({len(uw)} windows)", flush=True)
    bas = [r["balanced_accuracy"] for r in rows]
    return {"experiment": "detect", "args": vars(args), "rows": rows,
            "summary": {"mean": float(np.mean(bas)), "std": float(np.std(bas)), "n_units": len(rows)}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("fewshot", "detect"):
        q = sub.add_parser(name)
        q.add_argument("dataset")
        q.add_argument("--model", default="rf")
        q.add_argument("--subjects", nargs="+", default=None)
        q.add_argument("--window", type=float, default=None)
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--out", default=None, help="write the JSON result here")
    f = sub.choices["fewshot"]
    f.add_argument("--train", required=True, help="KEY=V[,V...] training selection")
    f.add_argument("--test", required=True, help="KEY=V[,V...] new sessions, one at a time")
    f.add_argument("--by", default=None, help="(documentation only: the key of --test)")
    f.add_argument("--per-class", type=int, default=10)
    f.add_argument("--repeats", type=int, default=3)
    f.add_argument("--epochs", type=int, default=None)
    f.add_argument("--ft-epochs", type=int, default=50)
    d = sub.choices["detect"]
    d.add_argument("--condition", default=None)
    d.add_argument("--folds", type=int, default=5)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    res = fewshot(args) if args.cmd == "fewshot" else detect(args)
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(res["summary"], indent=1, default=str)
    print(text)
    print(f"wall {res['wall_s']} s")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(res, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Wall time of the protocols with the reference recipe, uncapped (issue 6, item 3).

``myovox bench --only protocol`` caps training at 8 epochs and fine-tuning at 5 so that the
benchmark, baseline included, runs in minutes. This script runs the same three protocols
(global, inter-session, one fine-tuning curve on session 3) on the same synthetic dataset
(1 subject, vocalized, 3 sessions x 5 batches x 20 repetitions, 1.4 s windows) with the
reference recipe: up to 100 epochs with early stopping (patience 10) and 50 fine-tuning epochs.
It prints the wall time of each protocol, the total and the peak resident memory, for myovox's
defaults and, with ``--baseline``, for the straightforward trainer (``fast=False``, torch's
default threads) in the same run.

    python benchmarks/protocol_reference_recipe.py [--baseline] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile

from myovox.bench.protocol import _PeakRSS, _protocols
from myovox.datasets import load_dataset
from myovox.testing.synth import generate_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", action="store_true", help="also time the straightforward trainer")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    runs = {"ours": {}}
    if args.baseline:
        runs["baseline"] = {"fast": False, "n_threads": None}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = generate_dataset(os.path.join(tmp, "data"), n_subjects=1, n_sessions=3, n_batches=5,
                                conditions=("vocalized",), n_repetitions=20, seed=0, raw=False,
                                difficulty="easy")  # the data of its rows in docs/results.md
        ds = load_dataset(data, source="processed")
        for name, params in runs.items():
            with _PeakRSS() as mem:
                out = _protocols(ds, dict(params), ft_epochs=50)  # n_epochs: the default, 100
            total = sum(out[k] for k in ("global", "inter_session", "fine_tune"))
            rows.append(dict(run=name, **{k: round(v, 3) for k, v in out.items()}, total_s=round(total, 1),
                             peak_rss_mb=round(mem.peak)))
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    keys = list(rows[0])
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))


if __name__ == "__main__":
    main()

"""Live label-free adaptation on a new session (issue 12): event precision/recall with and without it.

Generates synthetic SilentWear-format data at the calibrated ``reference`` difficulty (the band is put on
again every session: shifted electrodes, new contact gains, drift within a session), trains a live model
(``myovox train --live``) on sessions 1-2 of each subject and replays every batch of session 3 through
``myovox.realtime.Recognizer`` with ``adapt="none"``, ``"standardize"`` and (SpeechNet) ``"bn"``. Each
batch is a new stream, so the adapter starts from the model as trained every time (its first seconds
are unadapted). Prints event precision, recall and false activations per hour (``event_metrics``,
1 s tolerance), mean over batches and subjects.

    python benchmarks/live_adaptation.py [--models lda speechnet] [--subjects 2] [--epochs 30] [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from myovox.cli.main import main as cli
from myovox.evaluation.streaming import event_metrics
from myovox.io.bio import read_bio
from myovox.realtime.recognizer import Recognizer
from myovox.streams.replay import ReplayStream
from myovox.testing.synth import generate_dataset


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["lda", "speechnet"])
    p.add_argument("--subjects", type=int, default=2)
    p.add_argument("--epochs", type=int, default=30, help="SpeechNet training epochs")
    p.add_argument("--quick", action="store_true", help="1 subject, 2 batches, 10 epochs")
    args = p.parse_args(argv)
    n_subj, n_batches, epochs = (1, 2, 10) if args.quick else (args.subjects, 5, args.epochs)
    t_all = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = generate_dataset(
            Path(tmp) / "data",
            n_subjects=n_subj,
            n_sessions=3,
            n_batches=n_batches,
            conditions=("vocalized",),
            n_repetitions=10,
            processed=False,
            difficulty="reference",
        )
        for model in args.models:
            scores: dict[str, list[dict]] = {}
            for s in range(1, n_subj + 1):
                subj = f"S{s:02d}"
                out = Path(tmp) / f"{model}-{subj}"
                extra = ["--epochs", str(epochs)] if model == "speechnet" else []
                cmd = ["-q", "train", str(data), "--model", model, "--live", "--subjects", subj, "--sessions", "1", "2"]
                if cli([*cmd, *extra, "--out", str(out)]) != 0:
                    raise SystemExit(f"training {model} for {subj} failed")
                methods = ["none", "standardize"] + (["bn"] if model == "speechnet" else [])
                for bio in sorted((data / "raw" / subj / "vocalized").glob("sess_3_batch_*.bio")):
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        rec = read_bio(bio, fill_lost="nan")
                    for method in methods:
                        recog = Recognizer.from_saved(out, step_s=0.1, adapt=method)
                        recog.run(ReplayStream(rec, chunk_s=0.04))
                        scores.setdefault(method, []).append(event_metrics(recog.events, rec, rest_label=0))
            for method, ms in scores.items():
                row = {
                    "model": model,
                    "adapt": method,
                    "precision": float(np.nanmean([m["precision"] for m in ms])),
                    "recall": float(np.nanmean([m["recall"] for m in ms])),
                    "fa_per_h": float(np.nanmean([m["false_activations_per_hour"] for m in ms])),
                    "n": len(ms),
                }
                rows.append(row)
                print(
                    f"{model:10s} {method:12s} precision {100 * row['precision']:5.1f} %  recall "
                    f"{100 * row['recall']:5.1f} %  false activations {row['fa_per_h']:5.0f}/h  ({len(ms)} streams)",
                    flush=True,
                )
    print(f"\n{time.perf_counter() - t_all:.0f} s\n")
    print("| model | live adaptation | event precision | event recall | false activations / h |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['adapt']} | {100 * r['precision']:.1f} % | {100 * r['recall']:.1f} % "
            f"| {r['fa_per_h']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

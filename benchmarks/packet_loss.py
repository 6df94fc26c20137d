"""Live recognition under BLE packet loss: event precision and recall of `myovox stream`'s path.

A small causal SpeechNet is trained (in-process, through `myovox train`) on three synthetic
SilentWear batches of one subject and session; a fourth batch is then replayed through
:class:`~myovox.streams.replay.ReplayStream` and :class:`~myovox.realtime.recognizer.Recognizer`
with the CLI's defaults, after dropping BLE packets at random (0, 0.5, 1, 3, 5 %) or in bursts of
10-50 consecutive packets. The lossy recordings look exactly like a ``.bio`` file with lost packets
(samples joined, ``meta["lost_packets"]`` listing the gaps), so the replay source has to put the
gaps back itself. Reference rows show what the fixes buy at 3 %: samples joined across gaps (the
old replay behaviour) and gaps held at the last value (the old recogniser fill).

    python benchmarks/packet_loss.py                 # ~3-5 min on 2 cores
    python benchmarks/packet_loss.py --out table.md  # also write the Markdown table
    python benchmarks/packet_loss.py --model DIR     # reuse a trained model folder

Metrics (``myovox.evaluation.streaming.event_metrics``): an event is correct when it falls in a
cue (or up to 1 s after it) and names the cue's word; precision = correct / events, recall =
correct / cues. Labels are the true-time labels of the clean recording.
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from myovox.bench.streaming import SPP, burst_drops, drop_packets, random_drops, replay_event_metrics


def train(out: Path, data_dir: Path, epochs: int, condition: str) -> Path:
    from myovox.cli.main import main
    from myovox.testing.synth import generate_dataset

    generate_dataset(data_dir, n_subjects=1, n_sessions=1, n_batches=3, conditions=(condition,),
                     n_repetitions=20, seed=0, processed=False, difficulty="easy")  # docs/results.md's data
    rc = main(["-q", "train", str(data_dir), "--model", "speechnet", "--causal", "--epochs", str(epochs),
               "--seed", "0", "--out", str(out)])
    if rc != 0:
        raise SystemExit(f"training failed (exit {rc})")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="reuse this model folder (default: train one)")
    ap.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    ap.add_argument("--repetitions", type=int, default=10,
                    help="repetitions of each word in the test batch (default 10: 80 cues)")
    ap.add_argument("--seeds", type=int, default=2, help="loss patterns per condition (default 2)")
    ap.add_argument("--condition", choices=("vocalized", "silent"), default="vocalized",
                    help="synthetic condition (silent: weaker EMG, a harder task; default vocalized)")
    ap.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    import torch

    from myovox.testing.synth import SynthConfig, generate_recording

    torch.set_num_threads(2)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            t0 = time.perf_counter()
            model = train(Path(tmp) / "model", Path(tmp) / "data", args.epochs, args.condition)
            print(f"trained {model} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        truth = generate_recording(1, 1, 4, args.condition, config=SynthConfig.preset("easy", n_repetitions=args.repetitions), seed=0)
        n_pk = truth.n_times // SPP
        conditions = [("none", 0.0, "random", {}, True)]
        conditions += [(f"{p:g} %", p / 100, "random", {}, True) for p in (0.5, 1, 3, 5)]
        conditions += [(f"{p:g} % in bursts of 10-50", p / 100, "burst", {}, True) for p in (1, 3)]
        conditions += [("3 %, samples joined across gaps (old replay)", 0.03, "random", {}, False),
                       ("3 %, gaps held at the last value (old fill)", 0.03, "random", {"gap_fill": "hold"}, True)]
        rows = []
        for name, rate, kind, overrides, fill in conditions:
            ms = []
            for seed in range(args.seeds if rate > 0 else 1):
                rng = np.random.default_rng(100 + seed)
                drop = (random_drops if kind == "random" else burst_drops)(n_pk, rate, rng)
                rec = drop_packets(truth, drop) if rate > 0 else truth
                ms.append(replay_event_metrics(model, rec, truth, fill_lost=fill, **overrides))
            tot = {k: sum(m[k] for m in ms) for k in ("n_cues", "n_events", "n_correct", "n_false_activations",
                                                       "n_suppressed")}
            row = dict(name=name, lost=float(np.mean([m["lost_pct"] for m in ms])), **tot)
            row["precision"] = 100.0 * tot["n_correct"] / max(tot["n_events"], 1)
            row["recall"] = 100.0 * tot["n_correct"] / max(tot["n_cues"], 1)
            rows.append(row)
            print(f"{name}: precision {row['precision']:.1f} %, recall {row['recall']:.1f} %", file=sys.stderr)
    base = rows[0]
    lines = ["| packet loss | samples lost | events | correct / cues | precision | recall | "
             "recall vs no loss | false activations | windows suppressed |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['lost']:.2f} % | {r['n_events']} | {r['n_correct']} / {r['n_cues']} | "
                     f"{r['precision']:.1f} % | {r['recall']:.1f} % | {r['recall'] - base['recall']:+.1f} | "
                     f"{r['n_false_activations']} | {r['n_suppressed']} |")
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines()
                   if x.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines.append("")
    lines.append(f"Condition {args.condition}; {args.seeds} loss pattern(s) per lossy row, "
                 f"{rows[0]['n_cues']} cues per pattern; "
                 f"{time.perf_counter() - t_start:.0f} s in all on {cpu} ({torch.get_num_threads()} threads).")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

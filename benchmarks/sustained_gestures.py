"""Live recognition of sustained gestures: event precision and recall on replayed long holds.

Synthetic continuous recordings of *held* gestures (:func:`myovox.testing.holds.generate_hold_recording`:
each cue a posture held for 1.5-4 s, recruited muscle by muscle, fluctuating while held, 1.5-3 s of
rest between cues, the ``reference`` signal model) are replayed through
:class:`~myovox.streams.replay.ReplayStream` and :class:`~myovox.realtime.recognizer.Recognizer`
(``myovox stream``'s defaults: 0.1 s step, threshold 0.6, 2 of 3 votes, 1 s refractory). Three
recipes are compared (and the fourth combination, to separate their effects):

* ``onset`` + ``utterance``: today's live model (``myovox train --live``: causal filter, one window
  per cue onset shifted by -0.2/0/+0.2/+0.4 s) and post-processing (one event per utterance);
* ``whole`` + ``utterance``: ``myovox train --live --segment whole`` (windows every 0.2 s through
  each labelled segment, from 0.2 s before its onset), same post-processing;
* ``whole`` + ``hold``: that model with ``myovox stream --mode hold`` (one event per hold once it
  kept the vote for 0.3 s, an end message with its duration when it is released); extra rows
  replay it with a longer confirmation (``--confirm``: 0.6 and 1.0 s by default).

Per subject, the models train on 3 recordings of session 1 (24 holds each: 3 of each of the 8
gestures) and are tested on 3 other recordings of the same session (72 cues).

Metrics (``myovox.evaluation.streaming.event_metrics``, ``tolerance_s`` 1 s): an event is correct
when it falls in a cue (or up to 1 s after it) and names it, and is the first for that cue;
precision = correct / events, recall = correct / cues; an event in rest is a false activation. Of
the other errors, "wrong class" counts cues whose first event names another gesture and "repeats"
the further events of a cue (``event_metrics`` adds both up as ``n_wrong_or_repeated``).
**Onset transients** (a wrong event within 1 s of a cue's onset followed by the right one for the
same cue) count as errors in the headline precision (``transient_s=0``); the "onset transients"
column counts them and "precision excusing transients" leaves them out (``transient_s=1.0``).
Hold-end messages are not events. Hold durations (:func:`myovox.evaluation.streaming.hold_durations`):
reported minus cue duration, median over the holds whose start was correct.

    python benchmarks/sustained_gestures.py              # lda + SpeechNet (40 epochs), 2 subjects: ~5 min on 2 cores
    python benchmarks/sustained_gestures.py --quick      # lda, 1 subject, 1 test recording: ~20 s
    python benchmarks/sustained_gestures.py --out t.md   # also write the Markdown table
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

RECIPES = (("onset", "utterance"), ("onset", "hold"), ("whole", "utterance"), ("whole", "hold"))
COUNTS = ("n_cues", "n_events", "n_correct", "n_false_activations")


def train(data: Path, out: Path, model: str, segment: str, subject: str, epochs: int, seed: int) -> float:
    from myovox.cli.main import main

    args = ["-q", "train", str(data), "--model", model, "--live", "--segment", segment, "--subjects", subject,
            "--seed", str(seed), "--out", str(out)]
    if model == "speechnet":
        args += ["--epochs", str(epochs)]
    t0 = time.perf_counter()
    if main(args) != 0:
        raise SystemExit(f"training {model} ({segment}) failed")
    return time.perf_counter() - t0


def replay(model_dir: Path, tests: list, mode: str, confirm_s: float) -> dict:
    from myovox.evaluation.streaming import cue_intervals, event_metrics, hold_durations
    from myovox.realtime.recognizer import Recognizer
    from myovox.streams.replay import ReplayStream

    tot = dict.fromkeys((*COUNTS, "n_transients", "n_wrong", "n_repeats"), 0)
    errors, latencies = [], []
    for rec in tests:
        r = Recognizer.from_saved(model_dir, mode=mode, confirm_s=confirm_s, trust_pickle=True)
        r.run(ReplayStream(rec))
        m = event_metrics(r.events, rec, transient_s=0.0)
        for k in COUNTS:
            tot[k] += m[k]
        tot["n_transients"] += event_metrics(r.events, rec, transient_s=1.0)["n_transients"]
        latencies.append(m["latency_s_median"])
        commands = sorted((e.t_end, e.label_id) for e in r.events if e.state != "end")
        for on, off, lab in cue_intervals(rec.labels, rec.sfreq):
            inside = [lab2 for t, lab2 in commands if on <= t < off + 1.0]
            tot["n_wrong"] += bool(inside) and inside[0] != lab
            tot["n_repeats"] += max(len(inside) - 1, 0)
        if mode == "hold":
            h = hold_durations(r.events, rec)
            errors += list(np.asarray(h["measured_s"]) - np.asarray(h["true_s"]))
    tot["latency_s"] = float(np.nanmedian(latencies))
    tot["duration_error_s"] = float(np.median(errors)) if errors else float("nan")
    tot["duration_abs_error_s"] = float(np.median(np.abs(errors))) if errors else float("nan")
    return tot


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="lda only, 1 subject, 2 training and 1 test recording")
    ap.add_argument("--models", nargs="+", default=None, help="models (default: lda speechnet; --quick: lda)")
    ap.add_argument("--subjects", type=int, default=2, help="synthetic subjects (default 2)")
    ap.add_argument("--epochs", type=int, default=40, help="SpeechNet training epochs (default 40)")
    ap.add_argument("--difficulty", default="reference", help="synthetic signal model preset (default reference)")
    ap.add_argument("--confirm", type=float, nargs="+", default=[0.6, 1.0],
                    help="extra hold-mode rows of the whole-segment models with these confirmation times "
                         "(default 0.6 1.0; the main rows use myovox stream's 0.3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    from myovox.testing.holds import HoldConfig, generate_hold_dataset, generate_hold_recording
    from myovox.testing.synth import SynthConfig

    models = args.models or (["lda"] if args.quick else ["lda", "speechnet"])
    n_subjects = 1 if args.quick else args.subjects
    n_train, test_batches = (2, (3,)) if args.quick else (3, (4, 5, 6))
    if "speechnet" in models:
        import torch

        torch.set_num_threads(2)
    cfg, holds = SynthConfig.preset(args.difficulty), HoldConfig(n_holds=3)
    t_start = time.perf_counter()
    rows: dict[tuple[str, str, str, float], dict] = {}
    recipes = [(seg, mode, 0.3) for seg, mode in RECIPES]
    recipes += [("whole", "hold", c) for c in ([] if args.quick else args.confirm)]
    with tempfile.TemporaryDirectory() as tmp:
        data = generate_hold_dataset(Path(tmp) / "data", n_subjects=n_subjects, n_batches=n_train, holds=holds,
                                     config=cfg, seed=args.seed)
        for subj in range(1, n_subjects + 1):
            tests = [generate_hold_recording(subj, 1, b, holds=holds, config=cfg, seed=args.seed) for b in test_batches]
            for model in models:
                for segment in ("onset", "whole"):
                    out = Path(tmp) / f"{model}-{segment}-S{subj:02d}"
                    t_train = train(data, out, model, segment, f"S{subj:02d}", args.epochs, args.seed)
                    for seg, mode, confirm in recipes:
                        if seg != segment:
                            continue
                        res = replay(out, tests, mode, confirm)
                        rows.setdefault((model, segment, mode, confirm), []).append(res)
                        print(f"S{subj:02d} {model} {segment} + {mode} ({confirm:g} s): {res['n_correct']}/"
                              f"{res['n_cues']} correct, {res['n_events']} events; trained in {t_train:.0f} s",
                              file=sys.stderr)
    lines = ["| model | training windows | post-processing (confirm) | events | correct / cues | precision | recall | "
             "wrong class | repeats | false activations | onset transients | precision excusing transients | "
             "hold duration error (median, abs) | latency from cue onset |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for model in models:
        for seg, mode, confirm in recipes:
            parts = rows[(model, seg, mode, confirm)]
            tot = {k: sum(p[k] for p in parts) for k in (*COUNTS, "n_transients", "n_wrong", "n_repeats")}
            prec = tot["n_correct"] / max(tot["n_events"], 1)
            prec_ex = tot["n_correct"] / max(tot["n_events"] - tot["n_transients"], 1)
            rec_ = tot["n_correct"] / max(tot["n_cues"], 1)
            dur = [p["duration_error_s"] for p in parts]
            dur_abs = [p["duration_abs_error_s"] for p in parts]
            dur_txt = "-" if mode == "utterance" else f"{np.nanmedian(dur):+.2f} s, {np.nanmedian(dur_abs):.2f} s"
            lat = np.nanmedian([p["latency_s"] for p in parts])
            label = {"onset": "onset (today's `--live`)", "whole": "whole segment"}[seg]
            post = mode if mode == "utterance" else f"{mode} ({confirm:g} s)"
            lines.append(f"| {model} | {label} | {post} | {tot['n_events']} | {tot['n_correct']} / {tot['n_cues']} | "
                         f"**{100 * prec:.1f} %** | **{100 * rec_:.1f} %** | {tot['n_wrong']} | {tot['n_repeats']} | "
                         f"{tot['n_false_activations']} | {tot['n_transients']} | {100 * prec_ex:.1f} % | {dur_txt} | "
                         f"{lat:.2f} s |")
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines()
                   if x.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines += ["", f"{n_subjects} subject(s) x {len(test_batches)} test recording(s) of {8 * holds.n_holds} holds; "
              f"models: {', '.join(models)}" + (f" (SpeechNet {args.epochs} epochs)" if "speechnet" in models else "")
              + f"; {time.perf_counter() - t_start:.0f} s in all on {cpu}."]
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

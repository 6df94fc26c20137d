"""Recognise commands live from a stream and print one JSON object per command on stdout.

Logs go to stderr, so stdout carries only events, e.g.
``{"type": "command", "label": "up", "confidence": 0.93, "t_start": 1.2, "t_end": 2.6, "latency_ms": 3.1}``.
With ``--mode hold`` (sustained gestures) a command carries ``"state": "start"`` and the hold's
release adds a ``{"type": "hold_end", ..., "duration_s": 2.9}`` line.

Lost packets (BioGAP counter jumps, the gaps a .bio file records, LSL time-stamp gaps) are put
back as flagged gaps so that stream time stays true; the recogniser fills them before its causal
filter (``--gap-fill``) and makes no decision on windows with more than ``--max-missing`` of
their samples lost. The final statistics (logged to stderr) report the lost samples.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..adaptation.label_free import ADAPT_METHODS
from ..realtime.postprocess import POSTPROCESS_MODES
from ._common import add_source_arguments, stream_from_args
from ._types import fraction_below_one, nonneg_float, positive_float, positive_int, probability


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_source_arguments(p)
    p.add_argument("--model", required=True, help="model folder saved by `myovox train`")
    p.add_argument("--step", type=positive_float, default=0.1, help="seconds between decisions (default 0.1)")
    p.add_argument(
        "--threshold", type=probability, default=0.6, help="minimum confidence (0-1) to accept a window (default 0.6)"
    )
    p.add_argument("--votes", type=positive_int, default=3, help="majority vote over this many windows (default 3)")
    p.add_argument(
        "--min-votes", type=positive_int, default=2, help="agreeing windows needed to fire, at most --votes (default 2)"
    )
    p.add_argument(
        "--refractory",
        type=nonneg_float,
        default=1.0,
        help="seconds after an event with no new event (hold mode: after a hold ends); 0 for none (default 1.0)",
    )
    p.add_argument(
        "--mode",
        choices=POSTPROCESS_MODES,
        default="utterance",
        help="utterance: one command per brief utterance; hold: one command per held gesture when it is "
        'confirmed, and a {"type": "hold_end"} line with its duration_s when it is released (default utterance)',
    )
    p.add_argument(
        "--confirm",
        type=nonneg_float,
        default=0.3,
        metavar="S",
        help="hold mode: seconds a gesture must keep the vote before its hold starts (default 0.3)",
    )
    p.add_argument(
        "--adapt",
        choices=ADAPT_METHODS,
        default="none",
        help="label-free adaptation to this stream (a new session), guarded against bursts of one command: "
        "standardize: match the training data's channel levels (any model); bn: re-estimate SpeechNet's "
        "batch-norm statistics (default none)",
    )
    p.add_argument(
        "--max-missing",
        type=fraction_below_one,
        default=0.25,
        help="largest fraction of lost samples in a window that still gets a decision (default 0.25)",
    )
    p.add_argument(
        "--gap-fill",
        choices=("repeat", "hold"),
        default="repeat",
        help="how lost samples are filled before filtering: repeat the signal one mains period "
        "earlier, or hold the last value (default repeat)",
    )
    p.add_argument("--output", default="-", help="JSON lines file, or - for stdout (default -)")
    p.add_argument("--lsl-markers", metavar="NAME", help="also publish events on an LSL marker outlet")
    p.add_argument("--duration", type=positive_float, help="stop after this many seconds of stream time")
    p.add_argument(
        "--trust-pickle",
        action="store_true",
        help="open a classical model saved as a pickle (runs code from the file: only your own)",
    )


def run(args: argparse.Namespace) -> int:
    from .._logging import logger
    from ..exceptions import StreamError, ValidationError
    from ..realtime.outputs import JsonLinesOutput, LSLMarkerOutput
    from ..realtime.recognizer import Recognizer

    if args.min_votes > args.votes:
        raise ValidationError(f"--min-votes ({args.min_votes}) cannot exceed --votes ({args.votes}).")
    stream = stream_from_args(args)  # validates the source before the model is loaded
    rec = Recognizer.from_saved(
        args.model,
        trust_pickle=args.trust_pickle,
        step_s=args.step,
        threshold=args.threshold,
        n_votes=args.votes,
        min_votes=args.min_votes,
        refractory_s=args.refractory,
        mode=args.mode,
        confirm_s=args.confirm,
        max_missing=args.max_missing,
        gap_fill=args.gap_fill,
        adapt=args.adapt,
    )
    outputs: list[JsonLinesOutput | LSLMarkerOutput] = [JsonLinesOutput(None if args.output == "-" else args.output)]
    if args.lsl_markers:
        outputs.append(LSLMarkerOutput(args.lsl_markers))
    try:
        stats = rec.run(stream, max_duration_s=args.duration, outputs=outputs)
    except StreamError:
        # the source vanished: say what was recognised and lost before the one-line error
        _report(logger, dict(rec.stats, stream=stream.stats.as_dict()), "stream stopped early")
        sys.stdout.flush()
        raise
    _report(logger, stats, "stream finished")
    sys.stdout.flush()
    return 0


def _report(logger, stats: dict, what: str) -> None:
    s = stats["stream"]
    if s.get("n_lost"):
        logger.warning(
            "%d of %d samples (%.2f %%) were lost in %d gap(s) and filled; %d window(s) had too many "
            "lost samples for a decision.",
            s["n_lost"],
            s["n_samples"],
            100.0 * s["n_lost"] / max(s["n_samples"], 1),
            s.get("n_gaps", 0),
            stats["n_suppressed"],
        )
    logger.info("%s: %s", what, json.dumps(stats, default=str))

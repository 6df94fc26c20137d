"""Recognise commands live from a stream and print one JSON object per command on stdout.

Logs go to stderr, so stdout carries only events, e.g.
``{"type": "command", "label": "up", "confidence": 0.93, "t_start": 1.2, "t_end": 2.6, "latency_ms": 3.1}``.
"""
from __future__ import annotations

import argparse
import json
import sys

from ._common import add_source_arguments, stream_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_source_arguments(p)
    p.add_argument("--model", required=True, help="model folder saved by `myovox train`")
    p.add_argument("--step", type=float, default=0.1, help="seconds between decisions (default 0.1)")
    p.add_argument("--threshold", type=float, default=0.6, help="minimum confidence to accept a window")
    p.add_argument("--votes", type=int, default=3, help="majority vote over this many windows")
    p.add_argument("--min-votes", type=int, default=2, help="agreeing windows needed to fire")
    p.add_argument("--refractory", type=float, default=1.0, help="seconds after an event with no new event")
    p.add_argument("--output", default="-", help="JSON lines file, or - for stdout (default)")
    p.add_argument("--lsl-markers", metavar="NAME", help="also publish events on an LSL marker outlet")
    p.add_argument("--duration", type=float, help="stop after this many seconds of stream time")


def run(args: argparse.Namespace) -> int:
    from .._logging import logger
    from ..realtime.outputs import JsonLinesOutput, LSLMarkerOutput
    from ..realtime.recognizer import Recognizer

    rec = Recognizer.from_saved(args.model, step_s=args.step, threshold=args.threshold, n_votes=args.votes,
                                min_votes=args.min_votes, refractory_s=args.refractory)
    outputs = [JsonLinesOutput(None if args.output == "-" else args.output)]
    if args.lsl_markers:
        outputs.append(LSLMarkerOutput(args.lsl_markers))
    stats = rec.run(stream_from_args(args), max_duration_s=args.duration, outputs=outputs)
    logger.info("stream finished: %s", json.dumps(stats, default=str))
    sys.stdout.flush()
    return 0

"""Record a new session with a guided cue protocol (SilentWear timing by default).

Samples are written to ``OUT/<name>.csv`` (+ ``.json`` sidecar) and fsynced every second, so a
recorder that is killed leaves everything up to the last flushed second readable.
"""

from __future__ import annotations

import argparse
import sys

from ._common import add_source_arguments, stream_from_args
from ._types import add_force_argument, nonneg_int, positive_float, positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_source_arguments(p)
    p.add_argument("--out", required=True, help="dataset folder to add the session to (`myovox train` reads it)")
    p.add_argument(
        "--protocol", help="JSON/YAML cue protocol (words, repetitions, start_s, rest_s, cue_s, tail_s, shuffle, seed)"
    )
    p.add_argument("--words", nargs="+", help="override the protocol's words")
    p.add_argument("--repetitions", type=positive_int, help="override repetitions per word")
    p.add_argument("--seed", type=nonneg_int, help="override the shuffle seed")
    p.add_argument("--name", help="file stem (default sess_<S>_batch_<B>_<timestamp>)")
    p.add_argument("--subject", default="S01")
    p.add_argument("--session", type=positive_int, default=1)
    p.add_argument("--batch", type=positive_int, default=1)
    p.add_argument("--condition", default="vocalized", choices=["vocalized", "silent"])
    p.add_argument("--flush", type=positive_float, default=1.0, help="seconds between fsyncs")
    add_force_argument(p, "a recording of the same name")


def run(args: argparse.Namespace) -> int:
    from ..acquisition import CueProtocol, GuidedRecorder

    proto = CueProtocol.from_file(args.protocol) if args.protocol else CueProtocol()
    changes = {
        k: v
        for k, v in (("words", args.words), ("repetitions", args.repetitions), ("seed", args.seed))
        if v is not None
    }
    if changes:
        proto = CueProtocol(**{**proto.to_dict(), **changes})

    def show(text: str) -> None:
        # cues for the participant go to the terminal (stdout); logs go to stderr
        print(f"\r\033[K>>> {text}" if sys.stdout.isatty() else f">>> {text}", flush=True)

    meta = dict(subject=args.subject, session=args.session, batch=args.batch, condition=args.condition)
    rec = GuidedRecorder(
        stream_from_args(args),
        proto,
        args.out,
        name=args.name,
        meta=meta,
        flush_s=args.flush,
        display=show,
        overwrite=args.force,
    )
    path = rec.run()
    print(f"wrote {path} ({rec.n_written} samples)", file=sys.stderr)
    return 0

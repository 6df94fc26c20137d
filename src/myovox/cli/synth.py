"""Write a synthetic SilentWear-format dataset: raw ``.bio`` files and processed ``.h5`` files.

Layout: ``OUT/raw/<Sxx>/<cond>/sess_<s>_batch_<b>_<stamp>.bio`` and
``OUT/data_raw_and_filt/<Sxx>/<cond>/sess_<s>_batch_<b>.h5``. Each subject has its own muscle
patterns per word, each session its own electrode placement; the same seed gives the same files.
"""

from __future__ import annotations

import argparse

from ..testing.synth import DIFFICULTIES
from ._types import fraction_below_one, nonneg_int, positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", metavar="OUT", help="dataset root to write (must be empty unless --force)")
    p.add_argument("--subjects", type=positive_int, default=2, help="number of subjects (default 2)")
    p.add_argument("--sessions", type=positive_int, default=3, help="sessions (days) per subject (default 3)")
    p.add_argument("--batches", type=positive_int, default=5, help="batches per session and condition (default 5)")
    p.add_argument(
        "--repetitions", type=positive_int, default=20, help="repetitions of each word per batch (default 20)"
    )
    p.add_argument(
        "--conditions",
        nargs="+",
        default=["vocalized", "silent"],
        choices=["vocalized", "silent"],
        help="conditions to record (default both)",
    )
    p.add_argument(
        "--difficulty",
        choices=DIFFICULTIES,
        default="reference",
        help="signal-model preset (default reference: calibrated to the reference's published accuracies; "
        "easy: the clearly separable generator of myovox 0.1, for fast tests; hard: harder still)",
    )
    p.add_argument("--seed", type=nonneg_int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--packet-loss", type=fraction_below_one, default=0.0, help="probability that a BLE packet is lost (default 0)"
    )
    p.add_argument("--no-raw", action="store_true", help="do not write the raw .bio files")
    p.add_argument("--no-processed", action="store_true", help="do not write the processed .h5 files")
    p.add_argument("--force", action="store_true", help="replace an OUT that myovox wrote before (never other files)")


def run(args: argparse.Namespace) -> int:
    from .._logging import logger
    from ..testing.synth import generate_dataset

    out = generate_dataset(
        args.out,
        n_subjects=args.subjects,
        n_sessions=args.sessions,
        n_batches=args.batches,
        conditions=tuple(args.conditions),
        n_repetitions=args.repetitions,
        seed=args.seed,
        raw=not args.no_raw,
        processed=not args.no_processed,
        overwrite=args.force,
        packet_loss=args.packet_loss,
        difficulty=args.difficulty,
    )
    logger.info("synthetic dataset ready at %s", out)
    return 0

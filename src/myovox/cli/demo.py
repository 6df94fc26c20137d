"""Run the whole pipeline on a synthetic SilentWear-format dataset: synthesise -> global and
inter-session SpeechNet -> a fine-tuning curve -> reports -> int8 C export with budget -> live replay."""

from __future__ import annotations

import argparse

from ..testing.synth import DIFFICULTIES
from ._types import add_force_argument, nonneg_float


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="myovox-demo", help="output folder (default ./myovox-demo)")
    p.add_argument("--batches", type=int, default=3, help="batches per session (default 3)")
    p.add_argument("--repetitions", type=int, default=5, help="repetitions per word per batch (default 5)")
    p.add_argument("--epochs", type=int, default=40, help="SpeechNet training epochs (default 40)")
    p.add_argument("--ft-epochs", type=int, default=30, help="fine-tuning epochs (default 30)")
    p.add_argument("--window", type=float, default=1.4, help="window length in seconds (default 1.4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--difficulty",
        choices=DIFFICULTIES,
        default="reference",
        help="synthetic data preset (default reference: calibrated to the reference's accuracies)",
    )
    p.add_argument(
        "--rest-minutes",
        type=nonneg_float,
        default=10.0,
        help="minutes of continuous rest replayed for false activations/h (default 10; 0 skips)",
    )
    add_force_argument(p, "an --out folder")


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    run_demo(
        args.out,
        n_batches=args.batches,
        n_repetitions=args.repetitions,
        n_epochs=args.epochs,
        ft_epochs=args.ft_epochs,
        window_s=args.window,
        seed=args.seed,
        difficulty=args.difficulty,
        rest_minutes=args.rest_minutes,
        force=args.force,
        show=lambda s: print(s, flush=True),
    )
    return 0

"""Publish a recording file as a Lab Streaming Layer stream (for tests, demos and replays)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="recording file (.bio, .h5, .csv, .edf, .npz)")
    p.add_argument("--name", default="myovox", help="LSL stream name (default myovox)")
    p.add_argument("--type", default="EMG", help="LSL content type (default EMG)")
    p.add_argument("--chunk", type=float, default=0.02, help="seconds per pushed chunk")
    p.add_argument("--loop", action="store_true", help="start again at the end")
    p.add_argument("--fast", action="store_true", help="push as fast as possible instead of in real time")


def run(args: argparse.Namespace) -> int:
    from .._logging import logger
    from ..io import read_recording
    from ..streams.lsl import publish_recording

    rec = read_recording(args.file)
    logger.info("publishing %s as LSL stream %r (%d ch @ %g Hz)", args.file, args.name, rec.n_channels, rec.sfreq)
    n = publish_recording(
        rec, args.name, stream_type=args.type, chunk_s=args.chunk, realtime=not args.fast, loop=args.loop
    )
    logger.info("published %d samples", n)
    return 0

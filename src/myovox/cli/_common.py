"""Helpers shared by subcommands (argument types, stream construction)."""
from __future__ import annotations

import argparse
from typing import Any


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", required=True,
                   help="replay:FILE | lsl:NAME | brainflow:BOARD | biogap:tcp://HOST:PORT | biogap:FILE")
    p.add_argument("--realtime", action="store_true", help="replay: pace samples by the clock")
    p.add_argument("--speed", type=float, default=1.0, help="replay: real-time factor with --realtime")
    p.add_argument("--serial-port", default="", help="brainflow: serial port (e.g. /dev/ttyUSB0 for Cyton)")
    p.add_argument("--timeout", type=float, default=None, help="seconds without data before a stall")


def stream_from_args(args: argparse.Namespace):
    from ..streams import open_stream

    kind = args.source.partition(":")[0]
    opts: dict[str, Any] = {}
    if kind == "replay":
        opts.update(realtime=args.realtime, speed=args.speed)
    elif kind == "brainflow":
        opts.update(serial_port=args.serial_port)
    if args.timeout is not None and kind in ("lsl", "brainflow", "biogap"):
        opts["stall_timeout"] = args.timeout
    return open_stream(args.source, **opts)

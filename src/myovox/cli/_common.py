"""Helpers shared by subcommands (argument types, stream construction)."""

from __future__ import annotations

import argparse
from typing import Any

from ._types import positive_float


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        required=True,
        help="replay:FILE (a recording: .bio, .h5, .csv, ...) | lsl:NAME | brainflow:BOARD | "
        "biogap:tcp://HOST:PORT | biogap:FILE (a dump of raw BioGAP packets) | "
        "biogap:ble://ADDRESS?char=UUID",
    )
    p.add_argument("--realtime", action="store_true", help="replay: pace samples by the clock")
    p.add_argument(
        "--speed", type=positive_float, default=1.0, help="replay: real-time factor with --realtime (default 1.0)"
    )
    p.add_argument(
        "--serial-port", default="", help="brainflow: serial port, e.g. /dev/ttyUSB0 for Cyton (default: none)"
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=None,
        help="lsl, brainflow, biogap: seconds without data before a stall "
        "(default: the source's own, 2 s for lsl and biogap, 3 s for brainflow)",
    )
    p.add_argument(
        "--no-fill-lost",
        dest="fill_lost",
        action="store_false",
        help="replay: join samples across lost packets as stored instead of putting the lost "
        "packets back as flagged gaps (stream time then runs ahead of true time; "
        "default: put them back)",
    )


def stream_from_args(args: argparse.Namespace):
    from ..streams import open_stream

    kind = args.source.partition(":")[0]
    opts: dict[str, Any] = {}
    if kind == "replay":
        opts.update(realtime=args.realtime, speed=args.speed)
        if not getattr(args, "fill_lost", True):
            opts["fill_lost"] = False
    elif kind == "brainflow":
        opts.update(serial_port=args.serial_port)
    if args.timeout is not None and kind in ("lsl", "brainflow", "biogap"):
        opts["stall_timeout"] = args.timeout
    return open_stream(args.source, **opts)

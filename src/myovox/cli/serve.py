"""Serve the web dashboard: live signals with contact quality, recognised commands, guided recording,
fine-tuning and model choice, in a browser (extra ``myovox[web]``).

Open the address it prints (http://127.0.0.1:8765/ by default). The page replays any recording in
the data folder, or reads the --source; recordings go to DATA/sessions/ (a dataset for `myovox
train`), fine-tuned models to DATA/models/. ``--demo`` needs nothing else: it synthesises a small
dataset, trains a model (about half a minute the first time) and offers a synthetic participant.

Only 127.0.0.1 is served unless --host names another address, which needs --token (or
$MYOVOX_TOKEN): the page must then be opened with ?token=... (the address printed).
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from ._types import nonneg_int, positive_float, positive_int, probability


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        help="a live source offered besides the data folder's recordings: replay:FILE | lsl:NAME | "
        "brainflow:BOARD | biogap:tcp://HOST:PORT | biogap:ble://ADDRESS?char=UUID",
    )
    p.add_argument("--model", help="model folder to start with (`myovox train` output; default: none, or the demo's)")
    p.add_argument(
        "--data",
        help="data folder: recordings to replay, DATA/sessions/ for new recordings, DATA/models/ for models "
        "(default: ./myovox-data; with --demo a new temporary folder)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to serve on; anything but loopback needs --token")
    p.add_argument("--port", type=nonneg_int, default=8765, help="TCP port (0: any free port)")
    p.add_argument(
        "--token", help="access token (at least 16 characters) the page must present (default: $MYOVOX_TOKEN)"
    )
    p.add_argument("--demo", action="store_true", help="synthetic participant and a model trained on synthetic data")
    p.add_argument("--demo-epochs", type=positive_int, default=15, help="--demo: training epochs of its model")
    p.add_argument(
        "--speed", type=positive_float, default=1.0, help="replays and the demo participant: real-time factor"
    )
    p.add_argument("--step", type=positive_float, default=0.1, help="seconds between decisions")
    p.add_argument("--threshold", type=probability, default=0.6, help="minimum confidence to accept a window")
    p.add_argument("--mains", type=positive_float, help="mains frequency in Hz (default: the model's notch, else 50)")
    p.add_argument("--serial-port", default="", help="brainflow: serial port, e.g. /dev/ttyUSB0")
    p.add_argument(
        "--timeout", type=positive_float, default=None, help="lsl, brainflow, biogap: seconds before a stall"
    )
    p.add_argument(
        "--no-fill-lost",
        dest="fill_lost",
        action="store_false",
        help="replay: join samples across lost packets instead of putting them back as flagged gaps",
    )


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def run(args: argparse.Namespace) -> int:
    from ..exceptions import ValidationError
    from ..web.server import DashboardServer, check_bind, token_from_env  # names `pip install 'myovox[web]'`

    token = token_from_env(args.token)
    check_bind(args.host, token)  # before anything slow: refuse an open address without a token
    if args.port > 65535:
        raise ValidationError(f"--port {args.port}: expected 0-65535.")
    from ..web.session import DashboardSession

    source = label = None
    if args.source:
        from ._common import stream_from_args

        ns = argparse.Namespace(
            source=args.source,
            realtime=True,
            speed=args.speed,
            fill_lost=args.fill_lost,
            serial_port=args.serial_port,
            timeout=args.timeout,
        )
        stream_from_args(ns)  # checks the spec now, not when the page starts it

        def source():
            return stream_from_args(ns)

        label = args.source
    if args.data:
        data = Path(args.data)
    elif args.demo:
        import tempfile

        data = Path(tempfile.mkdtemp(prefix="myovox-serve-demo-"))
    else:
        data = Path("myovox-data")
    demo = None
    if args.demo:
        from ..web.demo import prepare_demo

        demo = prepare_demo(data, n_epochs=args.demo_epochs, say=lambda s: print(s, file=sys.stderr))
    session = DashboardSession(
        data,
        source=source,
        source_label=label,
        model_dir=args.model,
        demo=demo,
        speed=args.speed,
        step_s=args.step,
        threshold=args.threshold,
        mains_hz=args.mains,
    )
    port = args.port or _free_port(args.host)
    server = DashboardServer(session, host=args.host, port=port, token=token)
    print(f"myovox dashboard on {server.url}  (data folder {session.data.root}; Ctrl-C stops)", file=sys.stderr)
    try:
        server.run()  # the session is closed on the way out: a recording in progress is kept
    except KeyboardInterrupt:  # Ctrl-C is how a server is stopped
        pass
    print("myovox dashboard stopped", file=sys.stderr)
    return 0

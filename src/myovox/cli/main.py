"""Entry point of the ``myovox`` command.

Each subcommand lives in ``myovox/cli/<name>.py`` and defines ``add_arguments(parser)`` and
``run(args) -> int``; modules must import only light things at top level.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from typing import Sequence

from .. import __version__
from .._logging import logger, set_log_level
from ..exceptions import MyovoxError

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "run the whole pipeline on a synthetic SilentWear-format dataset"),
    "synth": ("synth", "write a synthetic SilentWear-format dataset (.bio raw and .h5 processed)"),
    "info": ("info", "describe a recording file or a dataset folder"),
    "convert": ("convert", "convert a recording between formats (.bio, .h5, .csv, .edf, .npz)"),
    "train": ("train", "train a model on a dataset and save it"),
    "evaluate": ("evaluate", "run an evaluation protocol and write results and a report"),
    "finetune": ("finetune", "fine-tune a saved model on new data"),
    "stream": ("stream", "recognise commands live from a stream"),
    "record": ("record", "record a new session with a guided cue protocol"),
    "publish": ("publish", "publish a recording as a Lab Streaming Layer stream"),
    "export": ("export", "export a model to int8 C code or ONNX"),
    "bench": ("bench", "run the benchmarks against baselines measured in the same run"),
}


def build_parser(available_only: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="myovox", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"myovox {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        try:
            mod = importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError as err:
            if err.name == f"{__package__}.{module}" and available_only:
                continue  # subcommand not built yet
            raise
        p = sub.add_parser(name, help=help_, description=(mod.__doc__ or help_).strip())
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _warning_to_log(message, category, filename, lineno, file=None, line=None) -> None:
    logger.warning("%s: %s", category.__name__, message)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``myovox`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quiet:
        set_log_level("warning")
    else:
        set_log_level(logging.DEBUG if args.verbose >= 2 else logging.INFO)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        return 2
    # warnings become one-line log records on stderr ("WARNING: DataLossWarning: ...")
    previous_showwarning = warnings.showwarning
    warnings.showwarning = _warning_to_log
    try:
        return int(args._run(args) or 0)
    except MyovoxError as err:
        # user errors: one line, no traceback
        logger.debug("traceback", exc_info=True)
        print(f"myovox {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError) as err:
        print(f"myovox {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"myovox {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = previous_showwarning  # main() may run in-process (tests, notebooks)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

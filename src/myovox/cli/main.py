"""Entry point of the ``myovox`` command.

Each subcommand lives in ``myovox/cli/<name>.py`` and defines ``add_arguments(parser)`` and
``run(args) -> int``; modules must import only light things at top level.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings
from collections.abc import Sequence

from .._logging import logger, set_log_level
from .._version import __version__
from ..exceptions import MyovoxError

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "run the whole pipeline on a synthetic SilentWear-format dataset"),
    "synth": ("synth", "write a synthetic SilentWear-format dataset (.bio raw and .h5 processed)"),
    "info": ("info", "describe a recording file or a dataset folder"),
    "card": ("card", "write, show or check a dataset card (myovox-dataset.yaml) that makes any folder loadable"),
    "convert": ("convert", "convert a recording between formats (.bio, .h5, .csv, .edf, .npz)"),
    "train": ("train", "train a model on a dataset and save it"),
    "evaluate": ("evaluate", "run an evaluation protocol and write results and a report"),
    "finetune": ("finetune", "fine-tune a saved model on new data"),
    "stream": ("stream", "recognise commands live from a stream"),
    "record": ("record", "record a new session with a guided cue protocol"),
    "serve": ("serve", "serve the web dashboard: live signals, commands, guided recording, fine-tuning"),
    "publish": ("publish", "publish a recording as a Lab Streaming Layer stream"),
    "export": ("export", "export a model to int8 C code or ONNX"),
    "bench": ("bench", "run the benchmarks against baselines measured in the same run"),
    "sweep": ("sweep", "run a grid of evaluations (datasets x models x seeds ...) locally or on Ray, resumable"),
    "sweep-report": ("sweep_report", "tables and plots across a sweep's results store (Markdown, PNG, HTML)"),
}


class _UsageError(Exception):
    """A command line argparse refused (already reported on stderr)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line and lets :func:`main` return 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The ``myovox`` argument parser with every subcommand."""
    parser = _Parser(prog="myovox", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"myovox {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        mod = importlib.import_module(f"{__package__}.{module}")
        p = sub.add_parser(name, help=help_, description=(mod.__doc__ or help_).strip(), formatter_class=_HelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help that shows each option's default and keeps the description's line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        # "(default: None)" and "(default: False)" say nothing
        if (
            action.default in (None, False)
            or action.nargs == 0
            or action.help == argparse.SUPPRESS
            or "default" in (action.help or "")
        ):
            return action.help
        return super()._get_help_string(action)


def _warning_to_log(message, category, filename, lineno, file=None, line=None) -> None:
    logger.warning("%s: %s", category.__name__, message)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``myovox`` command; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError:
        return 2
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
    except BrokenPipeError:
        # the reader of stdout went away (`myovox info DATA --json | head`): not an error of ours
        _silence_stdout()
        return 0
    except OSError as err:
        logger.debug("traceback", exc_info=True)
        print(f"myovox {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"myovox {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = previous_showwarning  # main() may run in-process (tests, notebooks)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (tests capture stdout)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

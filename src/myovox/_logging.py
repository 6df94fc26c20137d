"""The package logger (``logging.getLogger("myovox")``) and its verbosity switch."""
from __future__ import annotations

import logging
import sys

logger = logging.getLogger("myovox")
logger.addHandler(logging.NullHandler())

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR, "critical": logging.CRITICAL}


class _StderrHandler(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is at the time of the record (tests and
    notebooks replace it), not to the stream that existed when logging was set up."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ assigns it
        pass


def set_log_level(verbose: bool | str | int | None = "info") -> None:
    """Set the level of the myovox logger and send its records to stderr.

    Parameters
    ----------
    verbose : bool | str | int | None
        ``True``/``None`` -> INFO, ``False`` -> WARNING, a level name or number otherwise.
    """
    if verbose is None or verbose is True:
        level = logging.INFO
    elif verbose is False:
        level = logging.WARNING
    elif isinstance(verbose, str):
        level = _LEVELS.get(verbose.lower())
        if level is None:
            from ._checks import check_option

            check_option("verbose", verbose.lower(), list(_LEVELS))
    else:
        level = int(verbose)
    logger.setLevel(level)
    if not any(getattr(h, "_myovox", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        handler._myovox = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def progress(iterable=None, *, total=None, desc=None, disable=None, **kwargs):
    """A tqdm progress bar on stderr that switches itself off when stderr is not a terminal."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = not sys.stderr.isatty() or logger.getEffectiveLevel() > logging.INFO
    return tqdm(iterable, total=total, desc=desc, disable=disable, file=sys.stderr, leave=False, **kwargs)

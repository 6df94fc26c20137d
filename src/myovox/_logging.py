"""The package logger (``logging.getLogger("myovox")``) and its verbosity switch."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ParamSpec, TextIO, TypeVar

if TYPE_CHECKING:
    from tqdm.auto import tqdm

_P = ParamSpec("_P")
_R = TypeVar("_R")

logger = logging.getLogger("myovox")
logger.addHandler(logging.NullHandler())

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


class _StderrHandler(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is at the time of the record (tests and
    notebooks replace it), not to the stream that existed when logging was set up."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:  # StreamHandler.__init__ assigns it
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
        from ._checks import check_option

        # check_option raises on an unknown name, so the lookup cannot fail
        level = _LEVELS[check_option("verbose", verbose.lower(), list(_LEVELS))]
    else:
        level = int(verbose)
    logger.setLevel(level)
    if not any(getattr(h, "_myovox", False) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        handler._myovox = True  # type: ignore[attr-defined]
        logger.addHandler(handler)


def progress(
    iterable: Iterable[Any] | None = None,
    *,
    total: float | None = None,
    desc: str | None = None,
    disable: bool | None = None,
    **kwargs: Any,
) -> tqdm[Any]:
    """A tqdm progress bar on stderr that switches itself off when stderr is not a terminal."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = not sys.stderr.isatty() or logger.getEffectiveLevel() > logging.INFO
    return tqdm(iterable, total=total, desc=desc, disable=disable, file=sys.stderr, leave=False, **kwargs)


def _level(verbose: bool | str | int | None) -> int | None:
    """The logging level that ``verbose`` asks for (None: leave the level as it is)."""
    if verbose is None:
        return None
    if verbose is True:
        return logging.INFO
    if verbose is False:
        return logging.WARNING
    if isinstance(verbose, str):
        from ._checks import check_option

        # check_option raises on an unknown name, so the lookup cannot fail
        return _LEVELS[check_option("verbose", verbose.lower(), list(_LEVELS))]
    return int(verbose)


class use_log_level:
    """Context manager: the myovox logger at ``verbose``'s level (None: unchanged), then restored."""

    def __init__(self, verbose: bool | str | int | None) -> None:
        self._new = _level(verbose)
        self._old: int | None = None

    def __enter__(self) -> None:
        if self._new is not None:
            self._old = logger.level
            set_log_level(self._new)

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            logger.setLevel(self._old)


def verbose(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorator (MNE's pattern): a ``verbose=`` argument of ``func`` sets the log level during the call.

    ``verbose`` may be None (the level set by :func:`set_log_level`), a bool (True: INFO,
    False: WARNING), a level name (``"debug"``, ``"info"``, ...) or number. Progress bars show
    at INFO or below, on a terminal only.
    """
    import functools
    import inspect

    sig = inspect.signature(func)
    if "verbose" not in sig.parameters:
        raise TypeError(f"{func.__name__} has no 'verbose' parameter.")
    default = sig.parameters["verbose"].default

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        level: Any  # whatever the caller passed; use_log_level validates it
        if "verbose" in kwargs:
            level = kwargs["verbose"]
        else:
            try:
                level = sig.bind_partial(*args, **kwargs).arguments.get("verbose", default)
            except TypeError:  # let the call itself raise the argument error
                level = None
        with use_log_level(None if level is inspect.Parameter.empty else level):
            return func(*args, **kwargs)

    return wrapper

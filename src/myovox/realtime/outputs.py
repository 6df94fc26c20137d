"""Where command events go: JSON lines (stdout or a file), a callback, an LSL marker outlet."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .postprocess import CommandEvent


class JsonLinesOutput:
    """One JSON object per event per line, flushed at once (stdout by default)."""

    def __init__(self, target: str | Path | IO[str] | None = None) -> None:
        self._own = isinstance(target, (str, Path))
        self._fh: IO[str]
        if isinstance(target, (str, Path)):
            self._fh = open(target, "a", encoding="utf-8")
        else:
            self._fh = target or sys.stdout

    def send(self, event: CommandEvent) -> None:
        self._fh.write(event.to_json() + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._own:
            self._fh.close()


class CallbackOutput:
    """Calls ``fn(event)`` for each event."""

    def __init__(self, fn: Callable[[CommandEvent], None]) -> None:
        self.fn = fn

    def send(self, event: CommandEvent) -> None:
        self.fn(event)


class LSLMarkerOutput:
    """Publishes each event's JSON as a string marker on an LSL outlet (type ``Markers``)."""

    def __init__(self, name: str = "myovox-commands") -> None:
        from .._checks import require

        pylsl = require("pylsl", "LSL marker output")
        info = pylsl.StreamInfo(name, "Markers", 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, f"myovox-{name}")
        self._outlet = pylsl.StreamOutlet(info)

    def send(self, event: CommandEvent) -> None:
        self._outlet.push_sample([event.to_json()])

    def close(self) -> None:
        self._outlet = None

"""Guided recording that never loses data.

The recorder reads a stream, labels every sample with the cue shown at its stream time, and
appends rows to a CSV file that is flushed and fsynced every ``flush_s`` seconds. A sidecar JSON
(written and fsynced before the first sample) holds the rate, channels, label map, protocol and
meta. A recorder killed at any moment leaves a file that :func:`read_session` reads up to the
last flushed chunk (a partial last line is skipped and reported).

:func:`myovox.io.guided.read_session` reads a session back; a folder of sessions is a dataset
(``myovox.datasets.load_dataset(folder)``, kind ``recorded``).
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from .._checks import check_positive
from .._logging import logger
from ..exceptions import StreamError, ValidationError
from ..io.guided import SESSION_FORMAT, is_session, read_session
from ..streams.base import BaseStream
from .cues import CueProtocol


def _fsync(fh: IO[Any]) -> None:
    fh.flush()
    os.fsync(fh.fileno())


class GuidedRecorder:
    """Run a cue protocol over a stream and write a labelled, crash-safe recording.

    Parameters
    ----------
    stream : BaseStream
    protocol : CueProtocol
    out_dir : path-like
        Folder for ``<name>.csv`` and ``<name>.json``.
    name : str | None
        File stem; default ``sess_<session>_batch_<batch>_<YYYY-MM-DD_HH-MM-SS>``.
    meta : dict
        Subject, session, batch, condition, ... stored in the sidecar.
    flush_s : float
        Seconds of data between fsyncs.
    display : callable | None
        Called with the cue text whenever it changes (the CLI prints it to the terminal).
    """

    def __init__(
        self,
        stream: BaseStream,
        protocol: CueProtocol,
        out_dir: str | Path,
        *,
        name: str | None = None,
        meta: dict[str, Any] | None = None,
        flush_s: float = 1.0,
        display: Callable[[str], None] | None = None,
        overwrite: bool = False,
    ) -> None:
        self.stream, self.protocol = stream, protocol
        self.out_dir = Path(out_dir)
        self.meta = dict(meta or {})
        if name is None:
            stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
            name = f"sess_{self.meta.get('session', 1)}_batch_{self.meta.get('batch', 1)}_{stamp}"
        if not name or Path(name).name != name or name.startswith("."):
            raise ValidationError(f"Invalid value for 'name': expected a plain file stem, got {name!r}.")
        self.name = name
        self.flush_s = check_positive("flush_s", flush_s, "duration in seconds")
        self.display = display
        self.overwrite = overwrite
        self.n_written = 0
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask a running recording (in another thread) to end after the chunk in hand; its status
        is then ``"stopped"`` (everything received so far is on disk)."""
        self._stop.set()

    @property
    def csv_path(self) -> Path:
        return self.out_dir / f"{self.name}.csv"

    @property
    def json_path(self) -> Path:
        return self.out_dir / f"{self.name}.json"

    def run(self) -> Path:
        """Record until the protocol ends, the stream ends, or an error; returns the CSV path.

        Whatever arrived before a stream error or Ctrl-C is on disk; the error is re-raised.
        """
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise ValidationError(f"{self.out_dir} is a file, not a folder.")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for path in (self.csv_path, self.json_path):
            if path.exists() and not self.overwrite:
                raise ValidationError(f"{path} exists; choose another name or pass --force to replace that recording.")
            if path.exists() and not is_session(self.csv_path):
                raise ValidationError(
                    f"{path} exists and was not written by myovox record; it is left alone (choose another name)."
                )
        status = "incomplete"
        started_here = not self.stream.running
        if started_here:
            self.stream.start()
        try:
            sfreq, ch_names = self.stream.sfreq, list(self.stream.ch_names)
            side = {
                "format": SESSION_FORMAT,
                "version": 1,
                "sfreq": sfreq,
                "ch_names": ch_names,
                "label_names": {str(k): v for k, v in self.protocol.label_names.items()},
                "protocol": self.protocol.to_dict(),
                "meta": self.meta,
                "status": status,
                "source": self.stream.describe(),
            }
            with open(self.json_path, "w", encoding="utf-8") as fh:
                json.dump(side, fh, indent=1)
                _fsync(fh)
            with open(self.csv_path, "w", encoding="utf-8", newline="") as fh:
                fh.write(",".join(["time_s", *ch_names, "label", "lost"]) + "\n")
                _fsync(fh)
                status = self._loop(fh, sfreq)
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        except StreamError as err:
            status = f"stream error: {err}"
            raise
        finally:
            if started_here:
                self.stream.stop()
            self._finish(status)
        return self.csv_path

    def _loop(self, fh: IO[str], sfreq: float) -> str:
        duration = self.protocol.duration_s
        pending: list[str] = []
        pending_n = 0
        last_text = None
        flush_n = max(1, int(self.flush_s * sfreq))
        status = ""  # every break below sets it
        while True:
            chunk = self.stream.read()
            if chunk is None:
                status = "stopped" if self._stop.is_set() else "stream ended"
                break
            t = (chunk.first_sample + np.arange(chunk.n_samples)) / sfreq
            keep = t < duration
            labels = self.protocol.labels_at(t[keep])
            lost = np.zeros(int(keep.sum()), dtype=int) if chunk.missing is None else chunk.missing[keep].astype(int)
            block = np.column_stack([t[keep], chunk.data[:, keep].T, labels, lost])
            buf = io.StringIO()
            fmt = ["%.6f"] + ["%.17g"] * chunk.data.shape[0] + ["%d", "%d"]
            np.savetxt(buf, block, fmt=fmt, delimiter=",")
            pending.append(buf.getvalue())
            pending_n += int(keep.sum())
            text = self.protocol.cue_text(float(t[-1]))
            if text != last_text and self.display is not None:
                self.display(text)
                last_text = text
            if pending_n >= flush_n or not keep.all():
                fh.write("".join(pending))
                _fsync(fh)
                self.n_written += pending_n
                pending, pending_n = [], 0
            if not keep.all() or t[-1] >= duration:
                status = "complete"
                break
            if self._stop.is_set():  # after the chunk in hand
                status = "stopped"
                break
        if pending:
            fh.write("".join(pending))
            _fsync(fh)
            self.n_written += pending_n
        return status

    def _finish(self, status: str) -> None:
        try:
            side = json.loads(self.json_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return
        side.update(status=status, n_samples=self.n_written, stream_stats=self.stream.stats.as_dict())
        tmp = self.json_path.with_suffix(".json.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(side, fh, indent=1)
            _fsync(fh)
        os.replace(tmp, self.json_path)
        logger.info("recording %s: %s, %d samples", self.csv_path, status, self.n_written)


__all__ = ["GuidedRecorder", "read_session"]

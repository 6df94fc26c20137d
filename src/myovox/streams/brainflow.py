"""BrainFlow boards as streams (its synthetic and playback boards in tests; OpenBCI Cyton etc. live).

Example for an OpenBCI Cyton on a serial port::

    BrainFlowStream(board="cyton", serial_port="/dev/ttyUSB0")
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .._checks import check_positive, did_you_mean, require
from .._logging import logger
from ..exceptions import StreamError, ValidationError
from .base import BaseStream, Chunk, insert_missing, stamps_with_gaps

#: friendly names -> BrainFlow BoardIds member names
BOARDS = {
    "synthetic": "SYNTHETIC_BOARD",
    "playback": "PLAYBACK_FILE_BOARD",
    "cyton": "CYTON_BOARD",
    "cyton_daisy": "CYTON_DAISY_BOARD",
    "ganglion": "GANGLION_BOARD",
}


class BrainFlowStream(BaseStream):
    """Read the EMG (or EXG) channels of a BrainFlow board.

    Parameters
    ----------
    board : str | int
        ``synthetic``, ``playback``, ``cyton``, ``cyton_daisy``, ``ganglion`` or a BrainFlow board id.
    serial_port : str
        Serial port for boards that need one (Cyton: ``/dev/ttyUSB0``).
    file : str
        Recorded BrainFlow CSV for the playback board.
    master_board : str | int
        Board the playback file was recorded with (default: synthetic).
    stall_timeout : float
        Seconds without samples before ``StreamError``.
    fill_lost : bool
        Find lost samples in the board's package counter (0-255, e.g. Cyton's sample number) and put
        them back as flagged NaN samples (default True; not for the Ganglion, whose counter codes
        compression).
    """

    def __init__(
        self,
        board: str | int = "synthetic",
        *,
        serial_port: str = "",
        file: str = "",
        master_board: str | int | None = None,
        stall_timeout: float = 3.0,
        poll_s: float = 0.01,
        fill_lost: bool = True,
    ) -> None:
        super().__init__()
        self.board, self.serial_port, self.file, self.master_board = board, serial_port, file, master_board
        self.stall_timeout = check_positive("stall_timeout", stall_timeout, "duration in seconds")
        self.poll_s = poll_s
        self.fill_lost = bool(fill_lost)
        self._shim: Any | None = None  # a brainflow BoardShim while started

    def describe(self) -> str:
        return f"brainflow:{self.board}"

    @staticmethod
    def board_id(board: str | int) -> int:
        bs = require("brainflow.board_shim", "BrainFlow boards")
        if isinstance(board, int) or str(board).lstrip("-").isdigit():
            return int(board)
        key = str(board).lower()
        if key not in BOARDS:
            raise ValidationError(
                f"Unknown BrainFlow board {board!r}; known: {', '.join(BOARDS)} or a board id."
                f"{did_you_mean(key, BOARDS)}"
            )
        return int(getattr(bs.BoardIds, BOARDS[key]).value)

    def _open(self) -> None:
        bs = require("brainflow.board_shim", "BrainFlow boards")
        bs.BoardShim.disable_board_logger()
        bid = self.board_id(self.board)
        params = bs.BrainFlowInputParams()
        params.serial_port = self.serial_port
        desc_id = bid
        if bid == bs.BoardIds.PLAYBACK_FILE_BOARD.value:
            if not self.file:
                raise ValidationError("The playback board needs file= (a BrainFlow CSV recording).")
            params.file = self.file
            master = self.board_id(self.master_board if self.master_board is not None else "synthetic")
            params.master_board = master
            desc_id = master
        self._shim = bs.BoardShim(bid, params)
        try:
            self._shim.prepare_session()
            self._shim.start_stream(45000)
        except Exception as err:  # brainflow raises BrainFlowError
            self._shim = None
            raise StreamError(f"{self.describe()}: could not start the board ({err}).") from err
        try:
            rows = bs.BoardShim.get_emg_channels(desc_id)
        except Exception:  # noqa: BLE001 - boards without an EMG group
            rows = bs.BoardShim.get_exg_channels(desc_id)
        self._rows = list(rows)
        self._ts_row = bs.BoardShim.get_timestamp_channel(desc_id)
        self._pk_row = None
        if self.fill_lost and desc_id != bs.BoardIds.GANGLION_BOARD.value:
            try:
                self._pk_row = bs.BoardShim.get_package_num_channel(desc_id)
            except Exception:  # noqa: BLE001 - boards without a package counter
                self._pk_row = None
        self._last_pk: int | None = None
        self._pk_step: int | None = None
        self.sfreq = float(bs.BoardShim.get_sampling_rate(desc_id))
        self.ch_names = tuple(f"EMG{i + 1}" for i in range(len(self._rows)))
        self._last = time.monotonic()

    def _read(self, timeout: float | None) -> Chunk | None:
        timeout = self.stall_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        shim = self._shim
        if shim is None:
            raise StreamError(f"{self.describe()} has no open board session.")
        while True:
            try:
                data = shim.get_board_data()
            except Exception as err:  # the device vanished
                raise StreamError(f"{self.describe()}: board stopped delivering data ({err}).") from err
            if data.shape[1]:
                self._last = time.monotonic()
                emg = np.asarray(data[self._rows], dtype=np.float64)
                ts = np.asarray(data[self._ts_row])
                if self._pk_row is not None:
                    at, n_fill = self._lost_from_counter(np.asarray(data[self._pk_row]))
                    if at.size:
                        emg, missing = insert_missing(emg, at, n_fill)
                        self.stats.extra["samples_lost_by_counter"] = self.stats.extra.get(
                            "samples_lost_by_counter", 0
                        ) + int(n_fill.sum())
                        ts = stamps_with_gaps(ts, missing, self.sfreq)
                        return self._make_chunk(emg, missing=missing, timestamps=ts)
                return self._make_chunk(emg, timestamps=ts)
            if time.monotonic() >= deadline:
                raise StreamError(f"{self.describe()} stalled: no data for {timeout:g} s.")
            time.sleep(self.poll_s)

    def _lost_from_counter(self, counter: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(at, n_fill)`` of samples lost according to the 0-255 package counter."""
        c = np.rint(counter).astype(np.int64) % 256
        prev = self._last_pk
        self._last_pk = int(c[-1]) if c.size else prev
        steps = np.diff(np.concatenate([[prev], c]) if prev is not None else c) % 256
        if self._pk_step is None:  # the counter's normal step (1; 2 on some boards), from the first samples
            nz = steps[steps > 0]
            if nz.size < 8:
                return np.empty(0, np.int64), np.empty(0, np.int64)
            vals, counts = np.unique(nz, return_counts=True)
            self._pk_step = int(vals[np.argmax(counts)])
        step = self._pk_step
        gap = (steps > step) & (steps % step == 0)
        idx = np.flatnonzero(gap)
        return idx + (0 if prev is not None else 1), steps[idx] // step - 1

    def _close(self) -> None:
        if self._shim is not None:
            try:
                self._shim.stop_stream()
            except Exception as err:  # noqa: BLE001 - already stopped or lost
                logger.debug("stop_stream: %s", err)
            try:
                self._shim.release_session()
            finally:
                self._shim = None

    def __del__(self) -> None:  # release the board even if the user forgot stop()
        try:
            self._close()
        except Exception:  # noqa: BLE001
            pass


def from_target(target: str, **options: Any) -> BrainFlowStream:
    """``brainflow:BOARD``: a BrainFlow board by name or id."""
    return BrainFlowStream(board=target, **options)

"""A fixed-capacity ring buffer of multichannel samples with a lost-sample mask."""

from __future__ import annotations

import numpy as np

from .._checks import check_int


class RingBuffer:
    """Keeps the last ``capacity`` samples of ``n_channels`` channels; memory never grows.

    Parameters
    ----------
    n_channels, capacity : int
    """

    def __init__(self, n_channels: int, capacity: int) -> None:
        self.n_channels = check_int("n_channels", n_channels, minimum=1)
        self.capacity = check_int("capacity", capacity, minimum=1)
        self._data = np.zeros((n_channels, capacity), dtype=np.float64)
        self._missing = np.zeros(capacity, dtype=bool)
        self._pos = 0  # next write position
        self.n_written = 0  # total samples ever appended

    def append(self, data: np.ndarray, missing: np.ndarray | None = None) -> None:
        """Append samples ``data`` of shape (n_channels, n)."""
        n = data.shape[1]
        if n == 0:
            return
        if n >= self.capacity:
            data = data[:, -self.capacity :]
            missing = None if missing is None else missing[-self.capacity :]
            self.n_written += n - self.capacity
            n = self.capacity
        idx = (self._pos + np.arange(n)) % self.capacity
        self._data[:, idx] = data
        self._missing[idx] = False if missing is None else missing
        self._pos = (self._pos + n) % self.capacity
        self.n_written += n

    def latest(self, n: int, end: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` samples ending at absolute sample ``end`` (default: the newest), with their mask."""
        end = self.n_written if end is None else end
        if n > self.capacity or end > self.n_written or end - n < max(0, self.n_written - self.capacity):
            raise IndexError(
                f"samples [{end - n}, {end}) are not in the buffer "
                f"(holds [{max(0, self.n_written - self.capacity)}, {self.n_written}))."
            )
        stop = (self._pos - (self.n_written - end)) % self.capacity
        idx = (stop - n + np.arange(n)) % self.capacity
        return self._data[:, idx], self._missing[idx]

    def __len__(self) -> int:
        return min(self.n_written, self.capacity)

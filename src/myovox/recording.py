"""The ``Recording``: one continuous multichannel EMG recording with per-sample labels.

A ``Recording`` is immutable in spirit: methods return new objects and never modify ``data``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._checks import check_positive, did_you_mean
from .exceptions import ValidationError

#: SilentWear's label map (0 rest, 1..8 the commands).
SILENTWEAR_LABELS: dict[int, str] = {
    0: "rest",
    1: "up",
    2: "down",
    3: "left",
    4: "right",
    5: "forward",
    6: "backward",
    7: "start",
    8: "stop",
}

#: Keys of ``Recording.meta`` that myovox itself reads and writes (others are kept as they are).
META_KEYS = (
    "subject",
    "session",
    "batch",
    "condition",
    "device",
    "units",
    "source",
    "trial",
    "phase",
    "dataset",
    "lost_packets",
    "start_time",
)


@dataclass(init=False, eq=False, repr=False)
class Recording:
    """A continuous EMG recording.

    Parameters
    ----------
    data : array, shape (n_channels, n_times)
        Samples, float. NaN marks samples that are known to be missing (e.g. lost packets).
    sfreq : float
        Sampling rate in Hz.
    ch_names : sequence of str | None
        Channel names; default ``Ch_0 .. Ch_{n-1}``.
    labels : array of int, shape (n_times,) | None
        Per-sample class label (0 = rest for SilentWear); ``None`` for unlabelled data.
    label_names : mapping int -> str | None
        Name of each label value; default SilentWear's map when ``labels`` is given.
    meta : dict
        Free metadata; known keys are ``subject``, ``session``, ``batch``, ``condition``,
        ``device``, ``units``, ``source`` (file it came from), ``trial``, ``phase``, ``dataset``,
        ``lost_packets`` (list of dicts from the reader) and ``start_time``.
    """

    # The attributes as they are after construction: ``ch_names`` always a tuple, ``label_names``
    # a dict or None. ``__init__`` is written out (``init=False``) because it accepts more than
    # these types (any sequence or mapping, None for the defaults); ``dataclasses.replace`` calls it.
    data: np.ndarray
    sfreq: float
    ch_names: tuple[str, ...]
    labels: np.ndarray | None
    label_names: dict[int, str] | None
    meta: dict[str, Any]

    def __init__(
        self,
        data: ArrayLike,
        sfreq: float,
        ch_names: Sequence[str] | None = None,
        labels: ArrayLike | None = None,
        label_names: Mapping[int, str] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        src = meta.get("source") if isinstance(meta, dict) else None
        where = f" (in {src})" if src else ""
        arr = np.asarray(data)
        if arr.ndim != 2:
            raise ValidationError(f"Recording data must be 2-D (n_channels, n_times), got shape {arr.shape}{where}.")
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise ValidationError(f"Recording data must be real numbers, got dtype {arr.dtype}{where}.")
        if not np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float64)
        self.data = arr
        self.sfreq = check_positive("sfreq", sfreq, "sampling rate in Hz")
        n_ch, n_t = arr.shape
        if ch_names is None:
            self.ch_names = tuple(f"Ch_{i}" for i in range(n_ch))
        else:
            self.ch_names = tuple(str(c) for c in ch_names)
            if len(self.ch_names) != n_ch:
                raise ValidationError(f"Got {len(self.ch_names)} channel names for {n_ch} channels{where}.")
            if len(set(self.ch_names)) != n_ch:
                raise ValidationError(f"Channel names must be unique, got {list(self.ch_names)}{where}.")
        self.labels = None
        if labels is not None:
            lab = np.asarray(labels)
            if lab.shape != (n_t,):
                raise ValidationError(f"labels must have shape ({n_t},) (one per sample), got {lab.shape}{where}.")
            if not np.issubdtype(lab.dtype, np.integer):
                if not np.all(np.isfinite(lab)) or np.any(lab != np.round(lab)):
                    raise ValidationError(f"labels must be integers{where}.")
                lab = lab.astype(np.int64)
            self.labels = lab
            if label_names is None:
                label_names = SILENTWEAR_LABELS
        self.label_names = None if label_names is None else {int(k): str(v) for k, v in dict(label_names).items()}
        self.meta = dict(meta or {})

    # ------------------------------------------------------------------ properties
    @property
    def n_channels(self) -> int:
        return self.data.shape[0]

    @property
    def n_times(self) -> int:
        return self.data.shape[1]

    @property
    def duration(self) -> float:
        """Duration in seconds."""
        return self.n_times / self.sfreq

    @property
    def times(self) -> np.ndarray:
        """Time of each sample in seconds from the first one."""
        return np.arange(self.n_times) / self.sfreq

    @property
    def source(self) -> str:
        """Where the recording came from (file name) or ``"<memory>"``."""
        return str(self.meta.get("source", "<memory>"))

    # ------------------------------------------------------------------ methods
    def copy(self, **changes: Any) -> Recording:
        """Return a new Recording with the given fields replaced (``data`` etc.)."""
        if "meta" not in changes:
            changes["meta"] = dict(self.meta)
        return dataclasses.replace(self, **changes)

    def pick(self, channels: Sequence[str | int]) -> Recording:
        """Return a Recording with only ``channels`` (names or indices), in the given order."""
        idx = []
        for ch in channels:
            if isinstance(ch, (int, np.integer)) and not isinstance(ch, bool):
                if not -self.n_channels <= ch < self.n_channels:
                    raise ValidationError(
                        f"Channel index {ch} does not exist in {self.source} ({self.n_channels} channels)."
                    )
                idx.append(int(ch) % self.n_channels)
            else:
                if ch not in self.ch_names:
                    raise ValidationError(
                        f"Channel {ch!r} does not exist in {self.source}; it has "
                        f"{', '.join(self.ch_names)}.{did_you_mean(ch, self.ch_names)}"
                    )
                idx.append(self.ch_names.index(ch))
        return self.copy(data=self.data[idx], ch_names=[self.ch_names[i] for i in idx])

    def crop_samples(self, start: int = 0, stop: int | None = None) -> Recording:
        """Return samples ``[start, stop)``; the first kept sample's index goes to ``meta['first_sample']``."""
        stop = self.n_times if stop is None else stop
        sl = slice(start, stop)
        meta = dict(self.meta)
        meta["first_sample"] = int(meta.get("first_sample", 0)) + int(
            range(self.n_times)[sl].start if self.n_times else 0
        )
        return self.copy(data=self.data[:, sl], labels=None if self.labels is None else self.labels[sl], meta=meta)

    def crop(self, tmin: float = 0.0, tmax: float | None = None) -> Recording:
        """Return the part between ``tmin`` and ``tmax`` seconds (``tmax`` excluded)."""
        start = int(round(tmin * self.sfreq))
        stop = None if tmax is None else int(round(tmax * self.sfreq))
        return self.crop_samples(start, stop)

    def label_runs(self) -> list[tuple[int, int, int]]:
        """Runs of constant label as ``(start, stop, label)`` with ``stop`` excluded."""
        if self.labels is None or self.n_times == 0:
            return []
        lab = self.labels
        change = np.flatnonzero(np.diff(lab)) + 1
        starts = np.concatenate([[0], change])
        stops = np.concatenate([change, [len(lab)]])
        return [(int(a), int(b), int(lab[a])) for a, b in zip(starts, stops, strict=False)]

    def class_counts(self) -> dict[str, int]:
        """Number of label runs (trials) per class name."""
        counts: dict[str, int] = {}
        names = self.label_names or {}
        for _, _, lab in self.label_runs():
            name = names.get(lab, str(lab))
            counts[name] = counts.get(name, 0) + 1
        return counts

    def n_nonfinite(self) -> int:
        """Number of NaN or infinite samples."""
        return int(self.data.size - np.count_nonzero(np.isfinite(self.data)))

    def __repr__(self) -> str:
        keys = [k for k in ("subject", "session", "batch", "condition") if k in self.meta]
        desc = ", ".join(f"{k}={self.meta[k]!r}" for k in keys)
        lab = "" if self.labels is None else f", {len(self.label_runs())} label runs"
        return (
            f"<Recording | {self.n_channels} ch x {self.n_times} samples @ {self.sfreq:g} Hz "
            f"({self.duration:.1f} s){lab}{', ' + desc if desc else ''}>"
        )

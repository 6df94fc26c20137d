"""``Windows``: fixed-length epochs cut from recordings, ready for scikit-learn splitters."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ._checks import check_positive
from .exceptions import ValidationError


@dataclass(eq=False, repr=False)
class Windows:
    """A stack of equally long windows.

    Parameters
    ----------
    X : array, shape (n_windows, n_channels, n_samples)
    y : array of int, shape (n_windows,)
    sfreq : float
    ch_names : sequence of str | None
    label_names : mapping int -> str | None
    groups : array, shape (n_windows,) | None
        Group of each window for group-aware splitters (default: the recording each came from).
    meta : dict of str -> array, each of shape (n_windows,)
        Per-window metadata columns (``subject``, ``session``, ``batch``, ``condition``,
        ``recording`` (index), ``start`` (first sample in its recording), ...).
    """

    X: np.ndarray
    y: np.ndarray
    sfreq: float
    ch_names: Sequence[str] | None = None
    label_names: Mapping[int, str] | None = None
    groups: np.ndarray | None = None
    meta: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if X.ndim != 3:
            raise ValidationError(f"Windows.X must be 3-D (n_windows, n_channels, n_samples), got {X.shape}.")
        n = X.shape[0]
        y = np.asarray(self.y)
        if y.shape != (n,):
            raise ValidationError(f"Windows.y must have shape ({n},), got {y.shape}.")
        self.X, self.y = X, y.astype(np.int64, copy=False)
        self.sfreq = check_positive("sfreq", self.sfreq, "sampling rate in Hz")
        if self.ch_names is None:
            self.ch_names = tuple(f"Ch_{i}" for i in range(X.shape[1]))
        elif len(self.ch_names) != X.shape[1]:
            raise ValidationError(f"Got {len(self.ch_names)} channel names for {X.shape[1]} channels.")
        self.ch_names = tuple(self.ch_names)
        if self.label_names is not None:
            self.label_names = {int(k): str(v) for k, v in dict(self.label_names).items()}
        if self.groups is not None:
            self.groups = np.asarray(self.groups)
            if self.groups.shape != (n,):
                raise ValidationError(f"Windows.groups must have shape ({n},), got {self.groups.shape}.")
        meta = {}
        for k, v in dict(self.meta or {}).items():
            v = np.asarray(v)
            if v.shape != (n,):
                raise ValidationError(f"Windows.meta[{k!r}] must have shape ({n},), got {v.shape}.")
            meta[k] = v
        self.meta = meta

    def __len__(self) -> int:
        return self.X.shape[0]

    @property
    def n_channels(self) -> int:
        return self.X.shape[1]

    @property
    def n_samples(self) -> int:
        return self.X.shape[2]

    @property
    def window_s(self) -> float:
        return self.n_samples / self.sfreq

    @property
    def classes(self) -> np.ndarray:
        return np.unique(self.y)

    def class_counts(self) -> dict[str, int]:
        """Number of windows per class name."""
        names = self.label_names or {}
        vals, counts = np.unique(self.y, return_counts=True)
        return {names.get(int(v), str(int(v))): int(c) for v, c in zip(vals, counts)}

    def subset(self, index: Any) -> "Windows":
        """Windows selected by a boolean mask or integer index array."""
        idx = np.asarray(index)
        if idx.dtype == bool and idx.shape != (len(self),):
            raise ValidationError(f"Boolean mask must have shape ({len(self)},), got {idx.shape}.")
        return Windows(self.X[idx], self.y[idx], self.sfreq, self.ch_names, self.label_names,
                       None if self.groups is None else self.groups[idx],
                       {k: v[idx] for k, v in self.meta.items()})

    def select(self, **criteria: Any) -> "Windows":
        """Windows whose metadata equal the given values, e.g. ``select(session=1)``.

        A value may be a list/tuple/set, meaning any of them.
        """
        mask = np.ones(len(self), dtype=bool)
        for key, value in criteria.items():
            if key not in self.meta:
                from ._checks import did_you_mean

                raise ValidationError(
                    f"Unknown window metadata key {key!r}; known: {', '.join(sorted(self.meta))}."
                    f"{did_you_mean(key, self.meta)}")
            col = self.meta[key]
            if isinstance(value, (list, tuple, set, np.ndarray)):
                mask &= np.isin(col, list(value))
            else:
                mask &= col == value
        return self.subset(mask)

    @property
    def metadata(self):
        """Per-window metadata as a pandas DataFrame (imports pandas)."""
        import pandas as pd

        df = pd.DataFrame({k: v for k, v in self.meta.items()})
        df.insert(0, "y", self.y)
        return df

    @staticmethod
    def concatenate(items: Sequence["Windows"]) -> "Windows":
        """Stack several ``Windows`` with the same channels, rate and length."""
        items = [w for w in items if w is not None]
        if not items:
            raise ValidationError("Nothing to concatenate: no windows were given.")
        first = items[0]
        for w in items[1:]:
            if w.X.shape[1:] != first.X.shape[1:] or w.sfreq != first.sfreq:
                raise ValidationError(
                    f"Cannot concatenate windows of shape {w.X.shape[1:]} @ {w.sfreq} Hz with "
                    f"{first.X.shape[1:]} @ {first.sfreq} Hz.")
        keys = set(first.meta)
        for w in items[1:]:
            keys &= set(w.meta)
        groups = None
        if all(w.groups is not None for w in items):
            groups = np.concatenate([w.groups for w in items])
        names = {}
        for w in items:
            names.update(w.label_names or {})
        return Windows(np.concatenate([w.X for w in items]), np.concatenate([w.y for w in items]),
                       first.sfreq, first.ch_names, names or None, groups,
                       {k: np.concatenate([w.meta[k] for w in items]) for k in sorted(keys)})

    def __repr__(self) -> str:
        return (f"<Windows | {len(self)} x {self.n_channels} ch x {self.n_samples} samples "
                f"({self.window_s:g} s @ {self.sfreq:g} Hz), classes {self.class_counts()}>")

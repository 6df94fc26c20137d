"""``Dataset``: the labelled recordings of a dataset folder, with their metadata (a core object).

The adapters in :mod:`myovox.datasets` build it; preprocessing, windowing and model cards consume it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ._checks import did_you_mean
from .exceptions import ValidationError
from .recording import Recording


@dataclass(eq=False, repr=False)
class Dataset:
    """Recordings of one dataset, each with ``meta`` (subject, session, batch, condition, ...).

    Parameters
    ----------
    recordings : list of Recording
    name : str
        Dataset kind, e.g. ``"silentwear"``, ``"somach"``.
    root : str
        Folder it was read from.
    window_s : float
        Default window length in seconds for this dataset (its trials' natural length).
    window_mode : str
        ``"event"`` (one window per label run, SilentWear) or ``"trial"`` (one window per
        recording, starting at its first sample; recordings are single trials).
    info : dict
        Facts about the dataset (hardware, published baselines, caveats).
    """

    recordings: list[Recording]
    name: str
    root: str = ""
    window_s: float = 1.4
    window_mode: str = "event"
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.recordings)

    def __iter__(self) -> Iterator[Recording]:
        return iter(self.recordings)

    def __getitem__(self, i: int) -> Recording:
        return self.recordings[i]

    def meta_values(self, key: str) -> list[Any]:
        """Sorted distinct values of ``meta[key]`` over the recordings."""
        vals = {r.meta.get(key) for r in self.recordings if key in r.meta}
        return sorted(vals, key=lambda v: (str(type(v)), v))

    def select(self, **criteria: Any) -> Dataset:
        """Recordings whose meta match, e.g. ``select(subject="S01", condition="silent")``.

        A value may be a list/tuple/set (any of them) or a callable returning bool.
        """
        keys = set().union(*(r.meta for r in self.recordings)) if self.recordings else set()
        for key in criteria:
            if key not in keys:
                raise ValidationError(
                    f"Unknown metadata key {key!r} in dataset {self.name!r}; known: "
                    f"{', '.join(sorted(keys))}.{did_you_mean(key, keys)}"
                )

        def ok(rec: Recording) -> bool:
            for key, value in criteria.items():
                v = rec.meta.get(key)
                if callable(value):
                    if not value(v):
                        return False
                elif isinstance(value, (list, tuple, set, frozenset)):
                    if v not in value:
                        return False
                elif v != value:
                    return False
            return True

        return Dataset(
            [r for r in self.recordings if ok(r)],
            self.name,
            self.root,
            self.window_s,
            self.window_mode,
            dict(self.info),
        )

    def map(self, fn: Callable[[Recording], Recording]) -> Dataset:
        """Apply ``fn`` to every recording (e.g. a filter), returning a new Dataset."""
        return Dataset(
            [fn(r) for r in self.recordings], self.name, self.root, self.window_s, self.window_mode, dict(self.info)
        )

    def summary(self) -> dict[str, Any]:
        """Channels, rates, durations, classes with counts (label runs), subjects/sessions/conditions."""
        classes: dict[str, int] = {}
        for r in self.recordings:
            for k, v in r.class_counts().items():
                classes[k] = classes.get(k, 0) + v
        out: dict[str, Any] = {
            "dataset": self.name,
            "root": self.root,
            "n_recordings": len(self.recordings),
            "n_channels": sorted({r.n_channels for r in self.recordings}),
            "sfreq": sorted({r.sfreq for r in self.recordings}),
            "total_duration_s": round(sum(r.duration for r in self.recordings), 3),
            "classes": dict(sorted(classes.items())),
        }
        for key, plural in (
            ("subject", "subjects"),
            ("session", "sessions"),
            ("condition", "conditions"),
            ("phase", "phases"),
            ("batch", "batches"),
            ("day", "days"),
        ):
            vals = self.meta_values(key)
            if vals:
                out[plural] = vals
        return out

    def __repr__(self) -> str:
        s = self.summary()
        return (
            f"<Dataset {self.name!r} | {s['n_recordings']} recordings, {s['n_channels']} ch @ "
            f"{s['sfreq']} Hz, {s['total_duration_s']:.0f} s, {len(s['classes'])} classes>"
        )

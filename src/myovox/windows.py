"""``Windows``: fixed-length epochs cut from recordings, ready for scikit-learn splitters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
        return {names.get(int(v), str(int(v))): int(c) for v, c in zip(vals, counts, strict=False)}

    def subset(self, index: Any) -> Windows:
        """Windows selected by a boolean mask or integer index array."""
        idx = np.asarray(index)
        if idx.dtype == bool and idx.shape != (len(self),):
            raise ValidationError(f"Boolean mask must have shape ({len(self)},), got {idx.shape}.")
        return Windows(
            self.X[idx],
            self.y[idx],
            self.sfreq,
            self.ch_names,
            self.label_names,
            None if self.groups is None else self.groups[idx],
            {k: v[idx] for k, v in self.meta.items()},
        )

    def select(self, **criteria: Any) -> Windows:
        """Windows whose metadata equal the given values, e.g. ``select(session=1)``.

        A value may be a list/tuple/set, meaning any of them.
        """
        mask = np.ones(len(self), dtype=bool)
        for key, value in criteria.items():
            if key not in self.meta:
                from ._checks import did_you_mean

                raise ValidationError(
                    f"Unknown window metadata key {key!r}; known: {', '.join(sorted(self.meta))}."
                    f"{did_you_mean(key, self.meta)}"
                )
            col = self.meta[key]
            if isinstance(value, (list, tuple, set, np.ndarray)):
                mask &= np.isin(col, list(value))
            else:
                mask &= col == value
        return self.subset(mask)

    @property
    def metadata(self) -> Any:
        """Per-window metadata as a pandas DataFrame (imports pandas)."""
        import pandas as pd

        df = pd.DataFrame(dict(self.meta.items()))
        df.insert(0, "y", self.y)
        return df

    @staticmethod
    def concatenate(items: Sequence[Windows]) -> Windows:
        """Stack several ``Windows`` with the same channels, rate and length."""
        items = [w for w in items if w is not None]
        if not items:
            raise ValidationError("Nothing to concatenate: no windows were given.")
        first = items[0]
        for w in items[1:]:
            if w.X.shape[1:] != first.X.shape[1:] or w.sfreq != first.sfreq:
                raise ValidationError(
                    f"Cannot concatenate windows of shape {w.X.shape[1:]} @ {w.sfreq} Hz with "
                    f"{first.X.shape[1:]} @ {first.sfreq} Hz."
                )
        keys = set(first.meta)
        for w in items[1:]:
            keys &= set(w.meta)
        groups = None
        if all(w.groups is not None for w in items):
            groups = np.concatenate([w.groups for w in items])
        names: dict[int, str] = {}
        for w in items:
            names.update(w.label_names or {})
        return Windows(
            np.concatenate([w.X for w in items]),
            np.concatenate([w.y for w in items]),
            first.sfreq,
            first.ch_names,
            names or None,
            groups,
            {k: np.concatenate([w.meta[k] for w in items]) for k in sorted(keys)},
        )

    def __repr__(self) -> str:
        n_cls = len(self.classes)
        return (
            f"<Windows | {len(self)} x {self.n_channels} ch x {self.n_samples} samples "
            f"({self.window_s:g} s @ {self.sfreq:g} Hz), {n_cls} class{'es' if n_cls != 1 else ''}>"
        )


# ---------------------------------------------------------------------------------------------------
# Cutting windows from recordings
# ---------------------------------------------------------------------------------------------------
# Reference (SilentWear) rule for event windows: one window per label run, starting at the run's first
# sample, N = window_s * sfreq samples. Differences here, on purpose:
# - N = round(sfreq * window_s) (the reference truncates with int(); equal for its window lengths);
# - a window is dropped only when start + N > n_times; the reference also drops a window that ends
#   exactly on the recording's last sample (it tests ``end >= last index``), i.e. one more at most.

from ._logging import logger  # noqa: E402  (kept below the class, next to the functions using it)

_SCALAR = (str, int, float, bool, np.integer, np.floating, np.bool_)


def _kind(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "b"
    if isinstance(v, (int, np.integer)):
        return "n"
    if isinstance(v, (float, np.floating)):
        return "n"
    return "s" if isinstance(v, str) else "o"


def _as_recordings(recordings: Any) -> list:
    from .recording import Recording

    if isinstance(recordings, Recording):
        return [recordings]
    recs = list(getattr(recordings, "recordings", recordings))
    for i, r in enumerate(recs):
        if not isinstance(r, Recording):
            raise ValidationError(f"Item {i} is a {type(r).__name__}, not a Recording.")
    if not recs:
        raise ValidationError("No recordings were given to cut windows from.")
    first = recs[0]
    for r in recs[1:]:
        if r.sfreq != first.sfreq or tuple(r.ch_names) != tuple(first.ch_names):
            raise ValidationError(
                f"Recordings differ: {r.source} has {r.n_channels} ch @ {r.sfreq:g} Hz "
                f"({', '.join(r.ch_names[:4])}...), {first.source} has {first.n_channels} ch @ "
                f"{first.sfreq:g} Hz; select the same channels and resample first."
            )
    return recs


def _n_samples(window_s: Any, sfreq: float) -> int:
    window_s = check_positive("window_s", window_s, "window length in seconds")
    n = int(round(window_s * sfreq))
    if n < 1:
        raise ValidationError(
            f"Invalid value for 'window_s': {window_s:g} s is shorter than one sample at {sfreq:g} Hz."
        )
    return n


def _meta_columns(recs: list, rec_index: list[int], extra: dict[str, list]) -> dict[str, np.ndarray]:
    """Scalar meta of each window's recording (None where a recording lacks a key) plus ``extra``."""
    keys: list[str] = []
    for r in recs:
        for k, v in r.meta.items():
            if isinstance(v, _SCALAR) and k not in keys and k not in extra:
                keys.append(k)
    cols: dict[str, np.ndarray] = {}
    for k in keys:
        vals = [recs[i].meta.get(k) if isinstance(recs[i].meta.get(k), _SCALAR) else None for i in rec_index]
        same_kind = len({_kind(v) for v in vals}) == 1 and None not in vals
        cols[k] = np.asarray(vals) if (vals and same_kind) else np.asarray(vals, dtype=object)
    for k, v in extra.items():
        cols[k] = np.asarray(v, dtype=np.int64)
    return cols


def _stack(recs: list, picks: list[tuple[int, int, int, int]], n: int, names: dict) -> Windows:
    """Build Windows from (recording index, start, stop, label) picks."""
    first = recs[0]
    if picks:
        X = np.stack([recs[i].data[:, a : a + n] for i, a, _, _ in picks])
    else:
        X = np.zeros((0, first.n_channels, n), dtype=first.data.dtype)
    rec_idx = [p[0] for p in picks]
    meta = _meta_columns(
        recs, rec_idx, {"recording": rec_idx, "start": [p[1] for p in picks], "stop": [p[2] for p in picks]}
    )
    return Windows(
        X,
        np.asarray([p[3] for p in picks], dtype=np.int64),
        first.sfreq,
        first.ch_names,
        names or None,
        np.asarray(rec_idx, dtype=np.int64),
        meta,
    )


def _label_names(recs: list) -> dict:
    names: dict = {}
    for r in recs:
        names.update(r.label_names or {})
    return names


def event_windows(
    recordings: Any,
    window_s: float,
    *,
    rest_label: int = 0,
    include_rest: bool = True,
    offsets_s: Sequence[float] = (0.0,),
) -> Windows:
    """One window per label run, from the run's first sample (SilentWear's rule).

    Parameters
    ----------
    recordings : Recording | list of Recording | Dataset
        Labelled recordings with the same channels and rate.
    window_s : float
        Window length; ``N = round(sfreq * window_s)`` samples. A window may extend past its run
        (into the next one), as in the reference. Windows that would pass the end of the recording
        are dropped (counted in the log).
    rest_label : int
        Label of rest runs.
    include_rest : bool
        Whether rest runs give windows (label ``rest_label``).
    offsets_s : sequence of float
        Start offsets from each run's onset (default ``(0.0,)``, the reference). Several offsets,
        e.g. ``(-0.2, 0, 0.2, 0.4)``, augment training data for live recognition, whose sliding
        windows are not aligned with the cue; each window keeps its run's label.

    Returns
    -------
    Windows
        ``groups`` = index of the recording in the input; ``meta`` has every scalar meta of the
        recordings plus ``recording``, ``start`` and ``stop`` (samples, stop excluded).

    Notes
    -----
    SilentWear uses ``int(sfreq * window_s)`` samples (equal to the rounding here for its window
    lengths) and also drops a window that ends exactly on the last sample of the recording; here
    such a window is kept.
    """
    recs = _as_recordings(recordings)
    n = _n_samples(window_s, recs[0].sfreq)
    picks, dropped = [], 0
    for i, r in enumerate(recs):
        if r.labels is None:
            raise ValidationError(f"Cannot cut event windows from {r.source}: it has no labels.")
        for a0, _, lab in r.label_runs():
            if not include_rest and lab == rest_label:
                continue
            for a in (a0 + int(round(off * r.sfreq)) for off in offsets_s):
                if a < 0 or a + n > r.n_times:
                    dropped += 1
                    continue
                picks.append((i, a, a + n, lab))
    if dropped:
        logger.info(
            "event_windows: %d window(s) of %d samples dropped: they would pass the end of their recording.", dropped, n
        )
    return _stack(recs, picks, n, _label_names(recs))


def _trial_label(r: Any, n: int, rest_label: int) -> int:
    lab = r.meta.get("label")
    if isinstance(lab, (int, np.integer)) and not isinstance(lab, bool):
        return int(lab)
    if r.labels is None:
        raise ValidationError(f"Cannot label trial {r.source}: it has neither labels nor an integer meta['label'].")
    nonrest = np.unique(r.labels[r.labels != rest_label])
    if nonrest.size == 1:
        return int(nonrest[0])
    if nonrest.size == 0:
        return int(rest_label)
    vals, counts = np.unique(r.labels[:n], return_counts=True)
    return int(vals[np.argmax(counts)])


#: What :func:`trial_windows` does with trials shorter than the window.
SHORT_TRIALS = ("drop", "pad")


def _pad_trial(r: Any, n: int) -> Any:
    """``r`` extended to ``n`` samples with each channel's mean (its last label continues)."""
    extra = n - r.n_times
    data = np.asarray(r.data)
    fill = np.nanmean(data, axis=1, keepdims=True) if r.n_times else np.zeros((r.n_channels, 1), data.dtype)
    padded = np.concatenate([data, np.repeat(fill.astype(data.dtype), extra, axis=1)], axis=1)
    labels = None if r.labels is None else np.concatenate([r.labels, np.repeat(r.labels[-1:], extra)])
    return r.copy(data=padded, labels=labels)


def trial_windows(recordings: Any, window_s: float, *, rest_label: int = 0, short: str = "drop") -> Windows:
    """One window per recording, from its first sample (for datasets whose recordings are trials).

    The label is ``meta["label"]`` when it is an integer; otherwise the recording's single non-rest
    label, ``rest_label`` when all samples are rest, or the majority label of the window when a trial
    holds several classes. Trials shorter than ``N = round(sfreq * window_s)`` samples are dropped
    (``short="drop"``) or padded to ``N`` with each channel's mean (``short="pad"``); either way a
    warning counts them (:class:`~myovox.exceptions.DataLossWarning` /
    :class:`~myovox.exceptions.DataQualityWarning`) and ``meta["padded"]`` holds the padded samples
    of each window.
    """
    import warnings

    from ._checks import check_option
    from .exceptions import DataLossWarning, DataQualityWarning

    check_option("short", short, SHORT_TRIALS)
    recs = list(_as_recordings(recordings))  # a copy: padded trials replace their recordings here only
    n = _n_samples(window_s, recs[0].sfreq)
    picks, short_src, padded = [], [], []
    for i, r in enumerate(recs):
        if r.n_times < n:
            short_src.append(r.source)
            if short == "drop" or r.n_times == 0:
                continue
            padded.append(n - r.n_times)
            recs[i] = _pad_trial(r, n)
        else:
            padded.append(0)
        picks.append((i, 0, n, _trial_label(recs[i], n, rest_label)))
    if short_src:
        what = "were dropped" if short == "drop" else "were padded with each channel's mean"
        msg = (
            f"trial_windows: {len(short_src)} of {len(recs)} trials are shorter than {n} samples "
            f"({n / recs[0].sfreq:g} s) and {what} (first: {short_src[0]})."
        )
        logger.warning(msg)
        warnings.warn(msg, DataLossWarning if short == "drop" else DataQualityWarning, stacklevel=2)
    w = _stack(recs, picks, n, _label_names(recs))
    w.meta["padded"] = np.asarray(padded, dtype=np.int64)
    return w


def sliding_windows(recording: Any, window_s: float, step_s: float, *, label: str = "last") -> Windows:
    """Overlapping windows every ``step_s`` seconds (live use, streaming metrics).

    Windows start at samples ``0, step, 2*step, ...`` while they fit. ``label`` picks each window's
    label: ``"last"`` (label of its last sample: what a live recogniser is judged on), ``"majority"``
    (most frequent, ties to the smaller label) or ``"center"``. Unlabelled recordings give ``y = -1``.
    Accepts one Recording or several (same channels and rate). For one recording ``X`` is a
    read-only view into its data (no copy); copy it before writing into it.
    """
    from ._checks import check_option

    check_option("label", label, ["last", "majority", "center"])
    recs = _as_recordings(recording)
    n = _n_samples(window_s, recs[0].sfreq)
    step = int(round(check_positive("step_s", step_s, "step in seconds") * recs[0].sfreq))
    if step < 1:
        raise ValidationError(f"Invalid value for 'step_s': {step_s:g} s is shorter than one sample.")
    Xs, ys, idx, starts = [], [], [], []
    for i, r in enumerate(recs):
        if r.n_times < n:
            continue
        st = np.arange(0, r.n_times - n + 1, step)
        view = np.lib.stride_tricks.sliding_window_view(r.data, n, axis=1)[:, ::step]  # (ch, w, n)
        Xs.append(view.transpose(1, 0, 2))
        if r.labels is None:
            y = np.full(st.size, -1, dtype=np.int64)
        elif label == "last":
            y = r.labels[st + n - 1]
        elif label == "center":
            y = r.labels[st + n // 2]
        else:
            vals, inv = np.unique(r.labels, return_inverse=True)
            onehot = np.zeros((r.n_times + 1, vals.size), dtype=np.int64)
            onehot[np.arange(1, r.n_times + 1), inv] = 1
            csum = np.cumsum(onehot, axis=0)
            counts = csum[st + n] - csum[st]
            y = vals[np.argmax(counts, axis=1)]
        ys.append(np.asarray(y, dtype=np.int64))
        idx.extend([i] * st.size)
        starts.extend(st.tolist())
    first = recs[0]
    if len(Xs) == 1:
        X = Xs[0]  # a read-only strided view of the recording: no copy of overlapping samples
    else:
        X = np.concatenate(Xs) if Xs else np.zeros((0, first.n_channels, n), dtype=first.data.dtype)
    y = np.concatenate(ys) if ys else np.zeros(0, dtype=np.int64)
    meta = _meta_columns(recs, idx, {"recording": idx, "start": starts, "stop": [s + n for s in starts]})
    return Windows(X, y, first.sfreq, first.ch_names, _label_names(recs) or None, np.asarray(idx, dtype=np.int64), meta)


#: onset offsets (s) of the training windows of a live model: its sliding windows are not aligned with cues
LIVE_OFFSETS_S = (-0.2, 0.0, 0.2, 0.4)

#: Training-window recipes of :func:`make_windows` (``myovox train --segment``): ``"onset"``, one
#: window per label run from its onset (shifted by the onset offsets); ``"whole"``, windows every
#: ``step_s`` through each labelled segment (:func:`segment_windows`), for sustained gestures.
SEGMENT_RECIPES = ("onset", "whole")


def segment_windows(
    recordings: Any,
    window_s: float,
    *,
    step_s: float = 0.2,
    lead_s: float = 0.0,
    rest_label: int = 0,
    include_rest: bool = True,
) -> Windows:
    """Windows every ``step_s`` through each labelled segment: onsets and the middle of holds alike.

    For a live model of sustained gestures, whose sliding windows meet a hold's onset, its
    middle and its end, not only the onset that :func:`event_windows` cuts.

    Parameters
    ----------
    recordings : Recording | list of Recording | Dataset
        Labelled recordings with the same channels and rate.
    window_s : float
        Window length; ``N = round(sfreq * window_s)`` samples.
    step_s : float
        Stride between the windows of one segment.
    lead_s : float
        How long before an active (non-rest) segment's onset its first window starts (e.g. 0.2,
        as the earliest of :data:`LIVE_OFFSETS_S`); rest segments start at their onset.
    rest_label : int
        Label of rest runs.
    include_rest : bool
        Whether rest runs give windows (label ``rest_label``).

    Returns
    -------
    Windows
        As :func:`event_windows`. In a label run ``[a0, a1)`` (samples) windows start at
        ``a0 - lead, a0 - lead + step, ...`` (``lead`` = 0 for rest) as long as they end inside the
        run (``start + N <= a1``); a run too short for that gives its first window only, which
        then extends past the run as an event window does. Each window keeps its run's label.
        Windows that would start before the recording or pass its end are dropped (logged).
    """
    recs = _as_recordings(recordings)
    sfreq = recs[0].sfreq
    n = _n_samples(window_s, sfreq)
    step = int(round(check_positive("step_s", step_s, "step in seconds") * sfreq))
    if step < 1:
        raise ValidationError(f"Invalid value for 'step_s': {step_s:g} s is shorter than one sample.")
    lead = int(round(check_positive("lead_s", lead_s, "duration in seconds", allow_zero=True) * sfreq))
    picks, dropped = [], 0
    for i, r in enumerate(recs):
        if r.labels is None:
            raise ValidationError(f"Cannot cut segment windows from {r.source}: it has no labels.")
        for a0, a1, lab in r.label_runs():
            if lab == rest_label and not include_rest:
                continue
            first = a0 if lab == rest_label else a0 - lead
            last = max(first, a1 - n)  # the last start whose window ends inside the run
            for a in range(first, last + 1, step):
                if a < 0 or a + n > r.n_times:
                    dropped += 1
                    continue
                picks.append((i, a, a + n, lab))
    if dropped:
        logger.info(
            "segment_windows: %d window(s) of %d samples dropped: they would pass the edges of their recording.",
            dropped,
            n,
        )
    return _stack(recs, picks, n, _label_names(recs))


def make_windows(
    dataset: Any,
    window_s: float | None = None,
    *,
    offsets_s: Sequence[float] = (0.0,),
    short: str | None = None,
    segment: str = "onset",
    step_s: float = 0.2,
) -> Windows:
    """Cut a Dataset's windows by its ``window_mode`` ("event" or "trial"), default ``dataset.window_s``.

    ``offsets_s`` (event mode only) adds windows shifted from each onset, e.g. :data:`LIVE_OFFSETS_S`
    to train a model for live recognition. ``short`` (trial mode): what to do with trials shorter
    than the window (:data:`SHORT_TRIALS`; None: ``dataset.info["short_trials"]``, else ``"drop"``).
    ``segment`` (:data:`SEGMENT_RECIPES`, event mode): ``"onset"`` cuts one window per onset
    offset; ``"whole"`` cuts windows every ``step_s`` through each labelled segment
    (:func:`segment_windows`), the first ``-min(offsets_s)`` seconds before an active segment's
    onset when an offset is negative.
    """
    from ._checks import check_option

    mode = check_option("window_mode", getattr(dataset, "window_mode", None), ["event", "trial"])
    check_option("segment", segment, SEGMENT_RECIPES)
    w = dataset.window_s if window_s is None else window_s
    if mode == "event":
        if segment == "whole":
            return segment_windows(dataset, w, step_s=step_s, lead_s=max(0.0, -min(offsets_s, default=0.0)))
        return event_windows(dataset, w, offsets_s=offsets_s)
    if tuple(offsets_s) != (0.0,):
        raise ValidationError("Onset offsets apply to event windows only (this dataset has one trial per recording).")
    if segment != "onset":
        raise ValidationError(
            "Whole-segment windows apply to event windows only (this dataset has one trial per recording)."
        )
    if short is None:
        info = getattr(dataset, "info", None)
        short = info.get("short_trials", "drop") if isinstance(info, dict) else "drop"
    return trial_windows(dataset, w, short=short)


def downsample_rest_indices(
    y: np.ndarray, idx: np.ndarray, rest_label: int | None = 0, random_state: int | np.random.Generator | None = None
) -> np.ndarray:
    """Subset of ``idx`` where rest windows are reduced to the per-word count.

    The per-word count is ``round(mean over the non-rest classes in idx of their window counts)``
    (SilentWear's rule for train/validation pools; test data keep every rest window); rest windows
    beyond it are dropped at random. The order of ``idx`` is kept. ``rest_label=None``, no
    non-rest window or no more rest windows than the target return ``idx`` unchanged.
    ``random_state`` is an int, None or a ``numpy.random.Generator`` (used as is, so successive
    calls with one generator draw differently).
    """
    idx = np.asarray(idx, dtype=np.int64)
    if rest_label is None or idx.size == 0:
        return idx
    yy = np.asarray(y)[idx]
    is_rest = yy == rest_label
    words = yy[~is_rest]
    if words.size == 0 or not is_rest.any():
        return idx
    per_word = int(round(words.size / np.unique(words).size))
    n_rest = int(is_rest.sum())
    if n_rest <= per_word:
        return idx
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    keep_rest = rng.choice(np.flatnonzero(is_rest), size=per_word, replace=False)
    keep = ~is_rest
    keep[keep_rest] = True
    logger.debug("downsample_rest: %d -> %d rest windows.", n_rest, per_word)
    return idx[keep]


def downsample_rest(windows: Windows, rest_label: int | None = 0, random_state: Any = None) -> Windows:
    """Keep a random subset of rest windows as large as the mean number of windows per word.

    SilentWear does this for train/validation pools only; test data keep all rest windows. See
    :func:`downsample_rest_indices` (the one implementation; this is its ``Windows`` form). Order is
    preserved; with no non-rest windows, or no more rest windows than the target, ``windows`` is
    returned as is.
    """
    keep = downsample_rest_indices(windows.y, np.arange(len(windows)), rest_label, random_state)
    return windows if len(keep) == len(windows) else windows.subset(keep)

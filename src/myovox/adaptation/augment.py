"""Training-time robustness: augmented copies of training windows that look like another session.

A band put on again sits a little further along the neck, its contacts have other gains, the
speaker starts a little earlier or later and the noise differs. Training on copies of the windows
changed in those ways makes a model less sensitive to them (issue 12). Each kind is one function
of the windows and a random generator; :func:`augment_windows` adds ``n_copies`` copies:

* ``"shift"``: the electrodes move along the band by a random fraction of the electrode pitch
  (up to ``shift_max``, either way): each channel becomes a linear interpolation of itself and its
  neighbour in channel order (the band's order; the end channels are held at the edge).
* ``"gain"``: each channel is multiplied by a log-normal gain (sigma ``gain_sigma``).
* ``"time"``: the window is shifted in time by up to ``time_max_s`` either way (circularly, which
  keeps its length; with event windows the moved part is rest).
* ``"noise"``: white noise of ``noise_level`` times each channel's RMS is added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import check_int, check_option, check_positive
from ..exceptions import ValidationError
from ..windows import Windows

#: Augmentation kinds of :func:`augment_windows` (``myovox train --augment``).
AUGMENTATIONS = ("shift", "gain", "time", "noise")


def parse_augment(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"shift,time"`` (or a list) -> ``("shift", "time")``, each checked; None or ``""`` -> ``()``."""
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    kinds = tuple(dict.fromkeys(str(k).strip() for k in items if str(k).strip()))
    for k in kinds:
        check_option("augment", k, AUGMENTATIONS)
    return kinds


def _shift(X: np.ndarray, rng: np.random.Generator, shift_max: float) -> np.ndarray:
    n, c, _ = X.shape
    if c < 2:
        return X
    pos = np.arange(c)[None, :] + rng.uniform(-shift_max, shift_max, (n, 1))  # (n, c) source positions
    pos = np.clip(pos, 0, c - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, c - 1)
    frac = (pos - lo)[:, :, None].astype(X.dtype)
    rows = np.arange(n)[:, None]
    return (1 - frac) * X[rows, lo] + frac * X[rows, hi]


def _gain(X: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    return X * np.exp(rng.normal(0, sigma, (X.shape[0], X.shape[1], 1))).astype(X.dtype)


def _time(X: np.ndarray, rng: np.random.Generator, max_samples: int) -> np.ndarray:
    if max_samples < 1:
        return X
    out = np.empty_like(X)
    shifts = np.asarray(rng.integers(-max_samples, max_samples + 1, size=X.shape[0]))
    for i in range(X.shape[0]):
        out[i] = np.roll(X[i], int(shifts[i]), axis=-1)
    return out


def _noise(X: np.ndarray, rng: np.random.Generator, level: float) -> np.ndarray:
    rms = np.sqrt(np.mean(np.square(X, dtype=np.float64), axis=2, keepdims=True)).astype(X.dtype)
    return X + level * rms * rng.standard_normal(X.shape).astype(X.dtype)


def augment_windows(
    windows: Windows,
    kinds: str | Sequence[str],
    *,
    n_copies: int = 1,
    random_state: Any = 0,
    shift_max: float = 0.5,
    gain_sigma: float = 0.2,
    time_max_s: float = 0.1,
    noise_level: float = 0.1,
) -> Windows:
    """The windows followed by ``n_copies`` augmented copies of them (labels and metadata repeated).

    Parameters
    ----------
    windows : Windows
        Training windows (preprocessed as the model will see them).
    kinds : str | sequence of str
        Any of :data:`AUGMENTATIONS`, as a list or comma-separated (``"shift,gain"``); each copy
        gets every kind, with its own random draw.
    n_copies : int
        Augmented copies per window (the result has ``1 + n_copies`` times the windows).
    random_state : int | None
    shift_max : float
        Largest electrode displacement in channel pitches (``"shift"``).
    gain_sigma : float
        Log-normal sigma of the channel gains (``"gain"``).
    time_max_s : float
        Largest time shift in seconds (``"time"``).
    noise_level : float
        Added white noise relative to each channel's RMS (``"noise"``).

    Returns
    -------
    Windows
        float32 windows; ``meta["augmented"]`` is 0 for the originals and 1.. for the copies.
    """
    ks = parse_augment(kinds)
    if not ks:
        raise ValidationError("augment_windows: no augmentation kind given (any of shift, gain, time, noise).")
    n_copies = check_int("n_copies", n_copies, minimum=1)
    check_positive("shift_max", shift_max)
    check_positive("gain_sigma", gain_sigma)
    check_positive("time_max_s", time_max_s)
    check_positive("noise_level", noise_level)
    rng = np.random.default_rng(random_state)
    X0 = np.asarray(windows.X, dtype=np.float32)
    parts = [X0]
    for _ in range(n_copies):
        X = X0
        for k in AUGMENTATIONS:  # a fixed order: the electrodes move, then the contacts, timing, noise
            if k not in ks:
                continue
            if k == "shift":
                X = _shift(X, rng, shift_max)
            elif k == "gain":
                X = _gain(X, rng, gain_sigma)
            elif k == "time":
                X = _time(X, rng, int(round(time_max_s * windows.sfreq)))
            else:
                X = _noise(X, rng, noise_level)
        parts.append(X.astype(np.float32, copy=False))
    reps = 1 + n_copies
    meta = {key: np.tile(np.asarray(v), reps) for key, v in windows.meta.items()}
    meta["augmented"] = np.repeat(np.arange(reps), len(windows))
    groups = None if windows.groups is None else np.tile(np.asarray(windows.groups), reps)
    return Windows(
        np.concatenate(parts),
        np.tile(windows.y, reps),
        windows.sfreq,
        windows.ch_names,
        windows.label_names,
        groups,
        meta,
    )

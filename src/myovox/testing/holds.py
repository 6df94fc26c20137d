"""Synthetic continuous recordings of *held* gestures: each cue is a posture held for seconds.

The utterances of :mod:`myovox.testing.synth` are brief bursts (about 0.5-1 s of articulation in a
2 s cue). Sustained gestures are different: after the cue the participant moves into a posture
and holds it for the whole cue (here 1.5-4 s), then releases it. A live recogniser meets three
phases in each hold, and a model trained on onset windows only has seen the first one:

* **Onset.** The gesture's muscles are recruited one after the other (in the order of the
  word's articulatory bursts, spread over ``recruit_s``), each with a raised-cosine ramp and a
  brief overshoot while the posture is reached. Windows over the onset see only the first
  muscles, which confusable words share (:data:`~myovox.testing.synth.CONFUSABLE_PAIRS`): the
  onset transient that makes live recognisers fire wrong commands.
* **Hold.** Every muscle of the gesture stays active at its own level (the word's burst
  amplitudes with trial-to-trial and muscle-to-muscle jitter), fluctuating slowly
  (``fluctuation``: a shared and a per-muscle log-normal process of about ``fluctuation_hz``).
* **Release.** After the cue ends (with a reaction delay) every muscle ramps down.

The subject's anatomy, the band's placement on the session's day, the noise, mains, baseline
wander, drift and the non-speech events of rest (swallows, coughs, head turns) are those of
:func:`~myovox.testing.synth.generate_recording` for the same subject, session and condition,
so a model trained on held gestures meets the same channels as one trained on utterances.
Labels are the cues (0 rest, 1.. the gestures, named after the configuration's words); the
muscles follow them with a reaction delay (``SynthConfig.delay_s``) at both ends, so a hold's
activation lasts as long as its cue.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_int, check_option, check_positive
from .._logging import logger
from ..exceptions import ValidationError
from ..recording import Recording
from .synth import (
    CONDITIONS,
    SAMPLES_PER_PACKET,
    SynthConfig,
    _acquire,
    _anatomy,
    _confusable,
    _file_time,
    _placement,
    _rest_events,
    _rng,
    _subject_index,
    check_dataset_sizes,
)

__all__ = ["HoldConfig", "generate_hold_dataset", "generate_hold_recording"]


def _check_range(name: str, value: Any, what: str, *, positive: bool = True) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValidationError(f"Invalid value for {name!r}: expected (low, high) {what}, got {value!r}.") from None
    if not (0 <= lo <= hi) or (positive and lo <= 0):
        raise ValidationError(f"Invalid value for {name!r}: expected 0 < low <= high {what}, got {value!r}.")
    return lo, hi


@dataclass(frozen=True)
class HoldConfig:
    """Protocol and dynamics of synthetic held gestures.

    Parameters
    ----------
    n_holds : int
        Holds of each gesture in one recording (cues in shuffled order).
    hold_s : (float, float)
        Range of the hold (cue) durations in seconds, drawn uniformly per hold.
    rest_s : (float, float)
        Range of the rest before each cue in seconds.
    ramp_s : (float, float)
        Range of each muscle's ramp up and down (raised cosine) in seconds.
    recruit_s : float
        Spread of the muscles' recruitment at the onset: muscle k starts ``recruit_s`` times its
        burst's relative time in the word (0-1) after the first one could.
    overshoot : float
        Extra activation while the posture is reached (a Gaussian bump of this relative size,
        0.1 s wide, at the end of each ramp up). 0 disables.
    fluctuation : float
        Log-normal sigma of the slow within-hold amplitude fluctuation. 0 disables.
    fluctuation_hz : float
        Typical rate of that fluctuation in Hz.
    """

    n_holds: int = 3
    hold_s: tuple[float, float] = (1.5, 4.0)
    rest_s: tuple[float, float] = (1.5, 3.0)
    ramp_s: tuple[float, float] = (0.1, 0.3)
    recruit_s: float = 0.3
    overshoot: float = 0.4
    fluctuation: float = 0.15
    fluctuation_hz: float = 2.0

    def __post_init__(self) -> None:
        check_int("n_holds", self.n_holds, minimum=1)
        object.__setattr__(self, "hold_s", _check_range("hold_s", self.hold_s, "seconds"))
        object.__setattr__(self, "rest_s", _check_range("rest_s", self.rest_s, "seconds"))
        object.__setattr__(self, "ramp_s", _check_range("ramp_s", self.ramp_s, "seconds"))
        for name in ("recruit_s", "overshoot", "fluctuation"):
            check_positive(name, getattr(self, name), allow_zero=True)
        check_positive("fluctuation_hz", self.fluctuation_hz, "frequency in Hz")


def _slow_process(rng: np.random.Generator, n_rows: int, n_times: int, sfreq: float, rate_hz: float) -> np.ndarray:
    """Unit-variance smooth Gaussian processes of about ``rate_hz`` (drawn at 10x that rate and
    linearly interpolated), float32 (n_rows, n_times)."""
    fs_low = 10.0 * rate_hz
    n_low = int(np.ceil(n_times / sfreq * fs_low)) + 8
    x = rng.standard_normal((n_rows, n_low))
    k = np.exp(-0.5 * (np.arange(-8, 9) / (fs_low / (2 * np.pi * rate_hz))) ** 2)
    k /= np.sqrt(np.sum(k**2))
    sm = np.stack([np.convolve(r, k, mode="same") for r in x])
    t_low = np.arange(n_low) / fs_low
    t = np.arange(n_times) / sfreq
    return np.stack([np.interp(t, t_low, r) for r in sm]).astype(np.float32)


def _ramp(t: np.ndarray, start: float, length: float) -> np.ndarray:
    """0 before ``start``, raised cosine to 1 over ``length`` samples, 1 after."""
    x = np.clip((t - start) / max(length, 1.0), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def generate_hold_recording(
    subject: int | str = 1,
    session: int = 1,
    batch: int = 1,
    condition: str = "vocalized",
    *,
    holds: HoldConfig | None = None,
    config: SynthConfig | None = None,
    seed: int = 0,
) -> Recording:
    """A continuous recording of held gestures separated by rest, with per-sample labels.

    Parameters
    ----------
    subject, session, condition, seed
        As :func:`myovox.testing.synth.generate_recording` (same anatomy and band placement).
    batch : int
        Recording of the session, 1-based; sets the cue order, the durations and the noise (and,
        as for utterances, the within-session drift).
    holds : HoldConfig | None
        Protocol and dynamics of the holds (default ``HoldConfig()``: 3 holds of each gesture,
        1.5-4 s each, 1.5-3 s of rest before each).
    config : SynthConfig | None
        Signal model (default ``SynthConfig()``, the ``"reference"`` preset); its ``words`` are
        the gestures, ``start_s`` and ``tail_s`` the rest before the first cue and after the
        last, ``delay_s`` the reaction delay at both ends of a hold. Its utterance fields (``cue_s``,
        ``rest_s``, ``utterance_s``, ``n_repetitions``, co-articulation) are not used.

    Returns
    -------
    Recording
        16 raw channels (float32, 0.1 uV) with per-sample labels (0 rest, 1.. the gestures) and
        meta as :func:`~myovox.testing.synth.generate_recording` (``dataset``
        ``"synthetic-holds"``, no lost packets) plus ``cue_onsets`` and ``cue_offsets``
        (samples), ``hold_s`` (each cue's duration, s), ``activation_onsets`` and
        ``activation_offsets`` (samples where the first muscle starts and the last one has
        released) and ``n_swallows``, ``n_coughs``, ``n_head_turns``.
    """
    cfg = config if config is not None else SynthConfig()
    if not isinstance(cfg, SynthConfig):
        raise ValidationError(f"Invalid value for 'config': expected a SynthConfig, got {type(cfg).__name__}.")
    hc = holds if holds is not None else HoldConfig()
    if not isinstance(hc, HoldConfig):
        raise ValidationError(f"Invalid value for 'holds': expected a HoldConfig, got {type(hc).__name__}.")
    subj = _subject_index(subject)
    session = check_int("session", session, minimum=1)
    batch = check_int("batch", batch, minimum=1)
    condition = check_option("condition", condition, CONDITIONS)
    seed = check_int("seed", seed, minimum=0)
    cond_i = CONDITIONS.index(condition)

    anat = _anatomy(subj, cfg, seed)
    if cfg.confusable_pairs:
        anat = _confusable(anat, subj, cfg, seed)
    place = _placement(subj, session, anat, cfg, seed)
    rng = _rng(seed, 10, subj, session, batch, cond_i)
    hrng = _rng(seed, 11, subj, session, batch, cond_i)
    fs, spp = cfg.sfreq, SAMPLES_PER_PACKET

    # ---- protocol: shuffled cues, each a hold after a rest; onsets on packet boundaries
    words = rng.permutation(np.repeat(np.arange(1, len(cfg.words) + 1), hc.n_holds))
    n_tr = len(words)
    hold_len = rng.uniform(*hc.hold_s, n_tr)
    rest_len = rng.uniform(*hc.rest_s, n_tr)
    onsets = np.zeros(n_tr, dtype=np.int64)
    offsets = np.zeros(n_tr, dtype=np.int64)
    t = cfg.start_s
    for j in range(n_tr):
        t += rest_len[j]
        onsets[j] = int(np.ceil(round(t * fs, 6) / spp) * spp)
        offsets[j] = onsets[j] + int(round(hold_len[j] * fs / spp)) * spp
        t = offsets[j] / fs
    n_t = int(np.ceil((offsets[-1] + cfg.tail_s * fs) / spp) * spp)
    duration_s = n_t / fs
    labels = np.zeros(n_t, dtype=np.int64)
    for w, a, b in zip(words, onsets, offsets, strict=True):
        labels[a:b] = w

    # ---- sustained activation envelopes (n_muscles, n_times)
    b_word, b_muscle, b_time, _, b_amp = anat.bursts[condition]
    var = cfg.silent_variability if condition == "silent" else 1.0
    gain = cfg.silent_gain if condition == "silent" else 1.0
    delay_on = rng.uniform(*cfg.delay_s, n_tr) * fs
    delay_off = rng.uniform(*cfg.delay_s, n_tr) * fs
    t_amp = np.exp(rng.normal(0, cfg.amplitude_jitter * 0.6 * var, n_tr))
    n_m = cfg.n_muscles
    env = np.zeros((n_m, n_t), dtype=np.float32)
    common = _slow_process(hrng, 1, n_t, fs, hc.fluctuation_hz)[0]
    own = _slow_process(hrng, n_m, n_t, fs, hc.fluctuation_hz)
    fluct = np.exp(hc.fluctuation * (common[None, :] + own) / np.sqrt(2.0)).astype(np.float32)
    act_on = np.zeros(n_tr, dtype=np.int64)
    act_off = np.zeros(n_tr, dtype=np.int64)
    bump_w = 0.1 * fs
    for j, w in enumerate(words):
        rows = np.flatnonzero(b_word == w - 1)
        amps = b_amp[rows] * t_amp[j] * gain * np.exp(rng.normal(0, cfg.amplitude_jitter * 0.5 * var, rows.size))
        ups = rng.uniform(*hc.ramp_s, rows.size) * fs
        downs = rng.uniform(*hc.ramp_s, rows.size) * fs
        starts = onsets[j] + delay_on[j] + hc.recruit_s * fs * b_time[rows] + rng.normal(0, 0.02 * fs, rows.size)
        stops = offsets[j] + delay_off[j] + rng.normal(0, 0.05 * fs, rows.size)
        stops = np.maximum(stops, starts + ups)
        lo = max(int(starts.min()), 0)
        hi = min(int(np.ceil((stops + downs).max())) + 1, n_t)
        act_on[j], act_off[j] = lo, hi
        tt = np.arange(lo, hi, dtype=np.float64)
        for m, a, s0, s1, u, d in zip(b_muscle[rows], amps, starts, stops, ups, downs, strict=True):
            shape = _ramp(tt, s0, u) * (1.0 - _ramp(tt, s1, d))
            if hc.overshoot > 0:
                shape = shape * (1.0 + hc.overshoot * np.exp(-0.5 * ((tt - (s0 + u)) / bump_w) ** 2))
            env[m, lo:hi] += (a * shape).astype(np.float32) * fluct[m, lo:hi]
    n_events, motion = _rest_events(env, labels, anat, cfg, rng, hrng, duration_s)
    env *= cfg.emg_amplitude
    data = _acquire(env, place, cfg, rng, (seed, subj, session, batch), motion)

    # ---- packets (no loss): counter and host timestamps, as a reader of a .bio file gives them
    end = _file_time(subj, session, batch, condition, cfg)
    start = end - _dt.timedelta(seconds=duration_s)
    prng = _rng(seed, 12, subj, session, batch, cond_i)
    n_pk = n_t // spp
    counter = (prng.integers(0, 256) + np.arange(n_pk)) % 256
    timestamps = start.timestamp() + np.arange(n_pk) * spp / fs + np.abs(prng.normal(0, 0.002, n_pk))
    meta: dict[str, Any] = {
        "subject": f"S{subj:02d}",
        "session": session,
        "batch": batch,
        "condition": condition,
        "device": "synthetic BioGAP-Ultra",
        "units": "0.1 uV",
        "dataset": "synthetic-holds",
        "signal": "biogap",
        "samples_per_packet": spp,
        "counter": counter.astype(np.int32),
        "timestamps": timestamps,
        "lost_packets": [],
        "start_time": start.isoformat(),
        "file_time": end.strftime("%Y-%m-%d_%H-%M-%S"),
        "cue_onsets": onsets.tolist(),
        "cue_offsets": offsets.tolist(),
        "hold_s": ((offsets - onsets) / fs).tolist(),
        "activation_onsets": act_on.tolist(),
        "activation_offsets": act_off.tolist(),
        "seed": seed,
        "electrode_shift": place.shift,
        **n_events,
    }
    return Recording(data, fs, [f"Ch_{i}" for i in range(cfg.n_channels)], labels, cfg.label_names, meta)


def generate_hold_dataset(
    out_dir: str | Path,
    *,
    n_subjects: int = 1,
    n_sessions: int = 1,
    n_batches: int = 3,
    conditions: Sequence[str] = ("vocalized",),
    holds: HoldConfig | None = None,
    config: SynthConfig | None = None,
    difficulty: str | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write held-gesture recordings in SilentWear's raw layout (``.bio``), readable by every command.

    Writes ``raw/<Sxx>/<condition>/sess_<s>_batch_<b>_<YYYY-MM-DD_HH-MM-SS>.bio``, one
    :func:`generate_hold_recording` per subject, condition, session and batch, so that
    ``myovox train`` and :func:`myovox.datasets.load_dataset` read it as a SilentWear dataset.

    Parameters
    ----------
    out_dir : path-like
        Dataset root; absent or empty unless ``overwrite`` (written whole into a temporary
        sibling and renamed, as :func:`~myovox.testing.synth.generate_dataset`).
    n_subjects, n_sessions, n_batches : int
    conditions : sequence of {"vocalized", "silent"}
    holds, config, seed
        As :func:`generate_hold_recording`.
    difficulty : {"easy", "reference", "hard"} | None
        Use :meth:`SynthConfig.preset` of this difficulty (not together with ``config``).
    overwrite : bool
        Replace an ``out_dir`` that myovox wrote before.

    Returns
    -------
    Path
        ``out_dir``.
    """
    from .._outputs import output_folder
    from ..io.bio import write_bio

    out = Path(out_dir)
    n_subjects, n_sessions, n_batches, conditions = check_dataset_sizes(n_subjects, n_sessions, n_batches, conditions)
    if difficulty is not None:
        if config is not None:
            raise ValidationError("Pass either 'config' or 'difficulty', not both.")
        config = SynthConfig.preset(difficulty)
    n_files = 0
    with output_folder(out, force=overwrite, what="synthetic dataset") as tmp:
        for subj in range(1, n_subjects + 1):
            for cond in conditions:
                for sess in range(1, n_sessions + 1):
                    for b in range(1, n_batches + 1):
                        rec = generate_hold_recording(subj, sess, b, cond, holds=holds, config=config, seed=seed)
                        d = Path(tmp) / "raw" / rec.meta["subject"] / cond
                        d.mkdir(parents=True, exist_ok=True)
                        write_bio(rec, d / f"sess_{sess}_batch_{b}_{rec.meta['file_time']}.bio", layout="old")
                        n_files += 1
    logger.info("wrote %d synthetic held-gesture files to %s", n_files, out)
    return out

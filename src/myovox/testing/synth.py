"""Synthetic SilentWear-format EMG: recordings and whole dataset folders with realistic structure.

The generator models what makes real neck-EMG silent-speech data hard, so that the reference's
findings can be observed on synthetic data:

* **Anatomy per subject.** A handful of muscles under the band, each seen by the electrodes as a
  spatial bump along the band (centre, width, a weaker side lobe). Muscle 0 is laryngeal (voicing).
* **Words.** Each word activates 2-3 articulatory muscles with Gaussian-shaped bursts at
  word-specific times and strengths (plus voicing when vocalized). Bursts scale with the
  utterance's duration.
* **Trials vary.** Articulation starts 0.2-0.5 s after the cue, the utterance length, each burst's
  amplitude and timing jitter from trial to trial; rare swallows happen during rest.
* **Silent speech** has no voicing, weaker bursts (word-specific factor) and a partly different
  timing of the articulators.
* **Sessions (days) differ.** The band is put on again each day: it sits shifted along the neck
  by a fraction of the electrode pitch, its contacts have other gains and noise, and neighbouring
  channels mix. Everything is deterministic by seed.
* **Acquisition.** Band-limited (20-150 Hz) muscle noise modulated by the activations, white
  noise, 50 Hz mains, baseline wander and DC offsets, stored as float32 in 0.1 uV units like
  BioGAP-Ultra; optional lost BLE packets (4 samples each).

Harder mechanisms, each a :class:`SynthConfig` field, on in the default (``"reference"``) and off
(0) in the ``"easy"`` preset, whose data are bit for bit what myovox 0.1 generated:

* **Within-session drift** (``drift_gain``, ``drift_noise``): sweat and fatigue change the contact
  gains and the noise slowly over the batches of a session.
* **Co-articulation** (``coarticulation``): the previous word's articulation leaks into the
  beginning of the next trial.
* **Confusable words** (``confusable_pairs``): pairs of words (start/stop, forward/backward, ...)
  share the muscles and timing of their first two articulatory bursts; only the last one differs.
* **Weaker and more variable silent speech** (``silent_variability``, ``silent_dropout``): silent
  trials vary more and sometimes barely move one articulator.
* **Non-speech events during rest** (``cough_rate_hz``, ``head_turn_rate_hz``, besides
  ``swallow_rate_hz``): coughs (brief strong activation of every muscle) and head turns (a slow
  motion artefact plus a long lateral neck-muscle contraction).

Presets (:meth:`SynthConfig.preset`): ``"reference"``, the default (``SynthConfig()``), calibrated
so that the reference's protocols at its sizes land in its published accuracy bands
(``benchmarks/synth_calibration.py``, docs/results.md); ``"easy"``, the earlier generator, for fast
tests that need clearly separable classes; ``"hard"``, for stress tests of adaptation methods.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_int, check_option, check_positive
from .._logging import logger
from ..exceptions import ValidationError
from ..recording import SILENTWEAR_LABELS, Recording

#: Conditions of the SilentWear protocol.
CONDITIONS = ("vocalized", "silent")

#: Physical order of the 16 electrodes along the band (SilentWear's model order puts adjacent
#: electrodes on adjacent rows; the two unused channels are put at the end).
PHYSICAL_ORDER = (0, 1, 2, 5, 3, 4, 7, 6, 8, 15, 9, 14, 10, 13, 11, 12)

_DEFAULT_WORDS = tuple(SILENTWEAR_LABELS[i] for i in range(1, 9))
# syllables per word (longer words take longer to say)
_SYLLABLES = {"forward": 2, "backward": 2}
_GOLDEN = 0.6180339887498949
#: Difficulty presets of :meth:`SynthConfig.preset` (``"reference"`` is the default).
DIFFICULTIES = ("easy", "reference", "hard")
#: Batches over which the within-session drift reaches its full size (one reference session).
DRIFT_BATCHES = 5
#: Word pairs that share their onset (used in this order by ``confusable_pairs``); words not in
#: the vocabulary are skipped and remaining pairs are taken from neighbouring words.
CONFUSABLE_PAIRS = (("start", "stop"), ("forward", "backward"), ("left", "right"), ("up", "down"))
#: EMG samples per BLE packet of BioGAP-Ultra (one counter value and one trigger per packet).
SAMPLES_PER_PACKET = 4


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of the synthetic SilentWear protocol and signal model.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz (BioGAP-Ultra: 500).
    n_channels : int
        Acquired channels (16; SilentWear drops 11 and 12 later).
    words : sequence of str
        The commands, labelled 1..len(words) in this order; 0 is rest.
    n_repetitions : int
        Repetitions of each word per batch (reference: 20).
    start_s, rest_s, cue_s, tail_s : float
        Cue protocol: start screen, rest before each cue, word cue, tail after the last cue.
    delay_s : (float, float)
        Range of the articulation delay after cue onset.
    utterance_s : float
        Base utterance duration of a one-syllable word (each extra syllable adds 0.2 s).
    utterance_jitter : float
        Relative range of the utterance duration from trial to trial (+-).
    n_muscles : int
        Muscles under the band, at least 4 (muscle 0 is laryngeal, active only when vocalized).
    emg_amplitude : float
        Peak RMS of an active muscle at the skin, in 0.1 uV (vocalized).
    silent_gain : float
        Mean amplitude factor of silent articulation relative to vocalized.
    amplitude_jitter : float
        Log-normal sigma of each burst's amplitude from trial to trial.
    timing_jitter_s : float
        Standard deviation of each burst's timing from trial to trial, in seconds.
    electrode_shift : float
        Largest displacement of the band between sessions, in electrode pitches.
    band_stretch : float
        Largest relative change of the electrode spacing over the muscles between sessions
        (the band worn tighter or looser).
    gain_jitter : float
        Log-normal sigma of the per-session channel gains (contact quality).
    channel_mixing : float
        Largest fraction of each channel that leaks into its neighbours, per session.
    background_uv : float
        RMS of tonic background EMG, in uV.
    noise_uv : float
        RMS of white amplifier/contact noise, in uV.
    mains_uv : float
        Typical amplitude of 50 Hz interference, in uV.
    wander_uv : float
        Typical amplitude of baseline wander, in uV.
    dc_uv : float
        Largest absolute DC offset per channel, in uV.
    swallow_rate_hz : float
        Rate of swallows during rest (brief broad activations), per second.
    packet_loss : float
        Probability that a BLE packet (4 samples) is lost; lost samples are removed and listed
        in ``meta['lost_packets']``.
    silent_variability : float
        Factor on the trial-to-trial amplitude and timing variability of silent articulation
        (no auditory feedback).
    silent_dropout : float
        Probability that an articulatory burst of a silent trial is barely produced (20 % of its
        amplitude). 0 disables.
    drift_gain : float
        Log-normal sigma of each channel's gain change over one session (``DRIFT_BATCHES``
        batches), applied as a smooth ramp through the batches (sweat lowers the contact
        impedance, the band settles). 0 disables.
    drift_noise : float
        Relative increase of the white noise over one session (fatigue, drying contacts), as a
        ramp through the batches. 0 disables.
    coarticulation : float
        Amplitude fraction of the previous word's bursts that leak into the beginning of the
        next trial (compressed into its first third). 0 disables.
    confusable_pairs : int
        Number of word pairs (from ``CONFUSABLE_PAIRS``) whose first two articulatory bursts are
        shared (same muscles, nearly the same timing and strength). 0 disables.
    cough_rate_hz : float
        Rate of coughs during rest (two strong broad activations of all muscles), per second.
        0 disables.
    head_turn_rate_hz : float
        Rate of head turns during rest (slow motion artefact on every channel and a long
        contraction of the lateral neck muscle at one end of the band), per second. 0 disables.
    """

    sfreq: float = 500.0
    n_channels: int = 16
    words: tuple[str, ...] = _DEFAULT_WORDS
    n_repetitions: int = 20
    start_s: float = 5.0
    rest_s: float = 1.5
    cue_s: float = 2.0
    tail_s: float = 3.5
    delay_s: tuple[float, float] = (0.2, 0.5)
    utterance_s: float = 0.65
    utterance_jitter: float = 0.3
    n_muscles: int = 7
    emg_amplitude: float = 400.0
    silent_gain: float = 0.6
    amplitude_jitter: float = 0.55
    timing_jitter_s: float = 0.07
    electrode_shift: float = 0.8
    band_stretch: float = 0.15
    gain_jitter: float = 0.25
    channel_mixing: float = 0.3
    background_uv: float = 2.0
    noise_uv: float = 5.0
    mains_uv: float = 30.0
    wander_uv: float = 60.0
    dc_uv: float = 3000.0
    swallow_rate_hz: float = 0.05
    packet_loss: float = 0.0
    silent_variability: float = 1.2
    silent_dropout: float = 0.05
    drift_gain: float = 0.2
    drift_noise: float = 0.5
    coarticulation: float = 0.4
    confusable_pairs: int = 4
    cough_rate_hz: float = 0.01
    head_turn_rate_hz: float = 0.02

    def __post_init__(self) -> None:
        for name in ("sfreq", "start_s", "rest_s", "cue_s", "utterance_s", "emg_amplitude", "silent_gain"):
            check_positive(name, getattr(self, name))
        for name in (
            "tail_s",
            "utterance_jitter",
            "amplitude_jitter",
            "timing_jitter_s",
            "electrode_shift",
            "band_stretch",
            "gain_jitter",
            "channel_mixing",
            "background_uv",
            "noise_uv",
            "mains_uv",
            "wander_uv",
            "dc_uv",
            "swallow_rate_hz",
            "packet_loss",
            "silent_variability",
            "silent_dropout",
            "drift_gain",
            "drift_noise",
            "coarticulation",
            "cough_rate_hz",
            "head_turn_rate_hz",
        ):
            check_positive(name, getattr(self, name), allow_zero=True)
        check_int("n_channels", self.n_channels, minimum=1)
        check_int("n_repetitions", self.n_repetitions, minimum=1)
        check_int("n_muscles", self.n_muscles, minimum=4)
        check_int("confusable_pairs", self.confusable_pairs, minimum=0)
        words = tuple(str(w) for w in self.words)
        if not words or len(set(words)) != len(words):
            raise ValidationError(f"Invalid value for 'words': expected distinct names, got {self.words!r}.")
        object.__setattr__(self, "words", words)
        if self.n_channels > len(PHYSICAL_ORDER):
            raise ValidationError(
                f"Invalid value for 'n_channels': at most {len(PHYSICAL_ORDER)}, got {self.n_channels}."
            )
        lo, hi = (float(v) for v in self.delay_s)
        if not 0 <= lo <= hi:
            raise ValidationError(f"Invalid value for 'delay_s': expected 0 <= low <= high, got {self.delay_s!r}.")
        object.__setattr__(self, "delay_s", (lo, hi))
        if self.utterance_jitter >= 1:
            raise ValidationError(
                f"Invalid value for 'utterance_jitter': expected a fraction below 1, got {self.utterance_jitter!r}."
            )
        if self.silent_dropout >= 1:
            raise ValidationError(
                f"Invalid value for 'silent_dropout': expected a probability below 1, got {self.silent_dropout!r}."
            )
        if self.confusable_pairs > len(self.words) // 2:
            raise ValidationError(
                f"Invalid value for 'confusable_pairs': at most {len(self.words) // 2} for "
                f"{len(self.words)} words, got {self.confusable_pairs!r}."
            )
        if self.packet_loss >= 1:
            raise ValidationError(
                f"Invalid value for 'packet_loss': expected a probability below 1, got {self.packet_loss!r}."
            )
        if self.sfreq <= 2 * 150:
            raise ValidationError(
                f"Invalid value for 'sfreq': expected > 300 Hz for 20-150 Hz EMG, got {self.sfreq!r}."
            )

    @classmethod
    def preset(cls, difficulty: str = "reference", **changes: Any) -> SynthConfig:
        """The configuration of a difficulty preset, with ``changes`` applied on top.

        Parameters
        ----------
        difficulty : {"easy", "reference", "hard"}
            ``"reference"`` (the default, ``SynthConfig()``): every mechanism on, calibrated to
            the reference's published accuracies (84.8 / 77.5 % cross-validated, 71.1 / 59.3 %
            inter-session, vocalized / silent; docs/results.md). ``"easy"``: the generator of
            myovox 0.1 (every harder mechanism off), far easier than real data at the
            reference's sizes; for fast tests. ``"hard"``: stronger than ``"reference"``, for
            stress tests of adaptation methods.
        **changes
            Fields to change (validated).
        """
        check_option("difficulty", difficulty, DIFFICULTIES)
        return cls(**{**_PRESETS[difficulty], **changes})

    def replace(self, **changes: Any) -> SynthConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def label_names(self) -> dict[int, str]:
        """Label value -> name (0 rest, 1.. the words)."""
        return {0: "rest", **{i + 1: w for i, w in enumerate(self.words)}}

    @property
    def trial_s(self) -> float:
        return self.rest_s + self.cue_s

    @property
    def n_trials(self) -> int:
        return len(self.words) * self.n_repetitions

    @property
    def duration_s(self) -> float:
        """Length of one batch in seconds (before packet loss)."""
        return self.start_s + self.n_trials * self.trial_s + self.tail_s

    @property
    def n_times(self) -> int:
        """Samples of one batch (before packet loss), a whole number of 4-sample packets."""
        n = int(round(self.duration_s * self.sfreq))
        return n - n % SAMPLES_PER_PACKET


#: Field values of each difficulty preset on top of the ``SynthConfig`` defaults (the calibrated
#: "reference" preset; benchmarks/synth_calibration.py, docs/results.md).
_PRESETS: dict[str, dict[str, Any]] = {
    "easy": {  # the generator before the presets (bit for bit): every harder mechanism off
        "electrode_shift": 1.0,
        "gain_jitter": 0.3,
        "amplitude_jitter": 0.25,
        "timing_jitter_s": 0.03,
        "utterance_jitter": 0.15,
        "band_stretch": 0.1,
        "noise_uv": 3.0,
        "silent_gain": 0.4,
        "silent_variability": 1.4,
        "silent_dropout": 0.0,
        "drift_gain": 0.0,
        "drift_noise": 0.0,
        "coarticulation": 0.0,
        "confusable_pairs": 0,
        "swallow_rate_hz": 0.03,
        "cough_rate_hz": 0.0,
        "head_turn_rate_hz": 0.0,
    },
    "reference": {},
    "hard": {  # every mechanism stronger than in "reference"; silent speech still above chance
        "amplitude_jitter": 0.65,
        "timing_jitter_s": 0.09,
        "utterance_jitter": 0.35,
        "electrode_shift": 1.3,
        "band_stretch": 0.2,
        "gain_jitter": 0.35,
        "channel_mixing": 0.4,
        "noise_uv": 6.0,
        "silent_gain": 0.55,
        "silent_variability": 1.5,
        "silent_dropout": 0.1,
        "drift_gain": 0.3,
        "drift_noise": 0.8,
        "coarticulation": 0.5,
        "confusable_pairs": 4,
        "swallow_rate_hz": 0.08,
        "cough_rate_hz": 0.02,
        "head_turn_rate_hz": 0.04,
    },
}


# ---------------------------------------------------------------------------- random streams
def _rng(seed: int, *key: int) -> np.random.Generator:
    """An independent stream for ``key`` (so that each part is reproducible on its own)."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in key)))


def _subject_index(subject: int | str) -> int:
    if isinstance(subject, str):
        s = subject.strip().upper().lstrip("S")
        if s.isdigit() and int(s) >= 1:
            return int(s)
    elif not isinstance(subject, bool) and isinstance(subject, (int, np.integer)) and subject >= 1:
        return int(subject)
    raise ValidationError(f"Invalid value for 'subject': expected a number >= 1 or 'S01'-style name, got {subject!r}.")


# ---------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class _Anatomy:
    centre: np.ndarray  # (M,) position of each muscle along the band, in electrode pitches
    width: np.ndarray  # (M,) spatial spread
    depth: np.ndarray  # (M,) strength at the skin
    lobe_offset: np.ndarray  # (M,) position of a weaker side lobe relative to the centre
    lobe_gain: np.ndarray  # (M,)
    bursts: dict[str, tuple[np.ndarray, ...]]  # condition -> (word, muscle, time, width, amp) arrays


def _anatomy(subject: int, cfg: SynthConfig, seed: int) -> _Anatomy:
    rng = _rng(seed, 0, subject)
    m = cfg.n_muscles
    n_pos = len(PHYSICAL_ORDER)
    # muscles spread along the band, with jitter; laryngeal muscle near the middle
    centre = np.linspace(1.0, n_pos - 2.0, m) + rng.uniform(-0.6, 0.6, m)
    centre[0] = (n_pos - 1) / 2 + rng.uniform(-1.0, 1.0)
    width = rng.uniform(0.9, 1.6, m)
    depth = rng.uniform(0.6, 1.0, m)
    lobe_offset = rng.choice([-1.0, 1.0], m) * rng.uniform(2.5, 4.0, m)
    lobe_gain = rng.uniform(0.15, 0.4, m)

    n_w = len(cfg.words)
    # each word: 3 articulatory bursts on distinct muscles (combinations differ between words)
    art = np.arange(1, m)
    combos: list[tuple[int, ...]] = []
    while len(combos) < n_w:
        c = tuple(sorted(rng.choice(art, 3, replace=False).tolist()))
        if c not in combos or len(combos) >= _n_choose_3(len(art)):
            combos.append(c)
    voc: list[list[float]] = []
    sil: list[list[float]] = []
    for w in range(n_w):
        order = rng.permutation(3)
        times = np.sort(rng.uniform(0.1, 0.9, 3))[order]  # relative to utterance duration
        widths = rng.uniform(0.08, 0.2, 3)
        amps = rng.uniform(0.5, 1.0, 3)
        amps[rng.integers(3)] = 1.0
        # silent: same articulators, weaker by a word-specific factor, partly different timing,
        # one articulator (chosen per word) much reduced
        sil_amps = amps * rng.uniform(0.7, 1.3, 3)
        sil_amps[rng.integers(3)] *= 0.3
        sil_times = np.clip(times + rng.normal(0, 0.08, 3), 0.05, 0.95)
        for k in range(3):
            voc.append([w, combos[w][k], times[k], widths[k], amps[k]])
            sil.append([w, combos[w][k], sil_times[k], widths[k] * 1.2, sil_amps[k]])
        # voicing (vocalized only): one broad burst over the voiced part
        voc.append([w, 0, rng.uniform(0.4, 0.6), rng.uniform(0.2, 0.3), rng.uniform(0.5, 0.8)])
    bursts: dict[str, tuple[np.ndarray, ...]] = {}
    for cond, rows in (("vocalized", voc), ("silent", sil)):
        a = np.asarray(rows, dtype=float)
        bursts[cond] = (a[:, 0].astype(int), a[:, 1].astype(int), a[:, 2], a[:, 3], a[:, 4])
    return _Anatomy(centre, width, depth, lobe_offset, lobe_gain, bursts)


def _pairs(words: tuple[str, ...], n_pairs: int) -> list[tuple[int, int]]:
    """``n_pairs`` disjoint (a, b) word indices: ``CONFUSABLE_PAIRS`` first, then neighbours."""
    out: list[tuple[int, int]] = []
    used: set[int] = set()
    for a, b in CONFUSABLE_PAIRS:
        if a in words and b in words:
            out.append((words.index(a), words.index(b)))
            used |= {words.index(a), words.index(b)}
    free = [i for i in range(len(words)) if i not in used]
    out += [(free[k], free[k + 1]) for k in range(0, len(free) - 1, 2)]
    return out[:n_pairs]


def _confusable(anat: _Anatomy, subject: int, cfg: SynthConfig, seed: int) -> _Anatomy:
    """Word b of each confusable pair takes word a's first two articulatory bursts (nearly)."""
    rng = _rng(seed, 5, subject)
    pairs = _pairs(cfg.words, cfg.confusable_pairs)
    bursts: dict[str, tuple[np.ndarray, ...]] = {}
    for cond, (w, m, t, wd, a) in anat.bursts.items():
        m, t, wd, a = m.copy(), t.copy(), wd.copy(), a.copy()
        for wa, wb in pairs:
            ia = [i for i in np.flatnonzero(w == wa) if m[i] != 0]
            ib = [i for i in np.flatnonzero(w == wb) if m[i] != 0]
            ia = sorted(ia, key=lambda i: t[i])[:2]
            ib = sorted(ib, key=lambda i: t[i])[:2]
            for i, j in zip(ia, ib, strict=False):
                m[j] = m[i]
                t[j] = np.clip(t[i] + rng.normal(0, 0.02), 0.05, 0.95)
                wd[j] = wd[i]
                a[j] = a[i] * np.exp(rng.normal(0, 0.1))
        bursts[cond] = (w, m, t, wd, a)
    return dataclasses.replace(anat, bursts=bursts)


def _n_choose_3(n: int) -> int:
    return n * (n - 1) * (n - 2) // 6


@dataclass(frozen=True)
class _Placement:
    projection: np.ndarray  # (M, C) muscle -> channel amplitude
    local: np.ndarray  # (C,) share of independent (near-electrode) activity
    noise: np.ndarray  # (C,) white noise RMS, 0.1 uV
    background: np.ndarray  # (C,) tonic EMG RMS, 0.1 uV
    mains: np.ndarray  # (C,) 50 Hz amplitude, 0.1 uV
    mains_phase: np.ndarray  # (C,)
    dc: np.ndarray  # (C,) DC offset, 0.1 uV
    shift: float


def _placement(subject: int, session: int, anat: _Anatomy, cfg: SynthConfig, seed: int) -> _Placement:
    """How the band sits on the neck on one day (shared by both conditions of that day)."""
    rng = _rng(seed, 1, subject, session)
    c = cfg.n_channels
    # displacement: a low-discrepancy sequence over sessions keeps days apart from each other
    u = (_rng(seed, 2, subject).uniform() + session * _GOLDEN) % 1.0
    shift = cfg.electrode_shift * (2 * u - 1) + rng.normal(0, 0.1)
    # the band is also worn tighter or looser: electrode spacing over the muscles changes
    stretch = 1 + rng.uniform(-cfg.band_stretch, cfg.band_stretch)
    phys = np.array([PHYSICAL_ORDER.index(ch) for ch in range(c)], dtype=float)
    mid = (len(PHYSICAL_ORDER) - 1) / 2
    pos = mid + (phys - mid) * stretch + shift
    d = pos[None, :] - anat.centre[:, None]
    proj = anat.depth[:, None] * (
        np.exp(-0.5 * (d / anat.width[:, None]) ** 2)
        + anat.lobe_gain[:, None] * np.exp(-0.5 * ((d - anat.lobe_offset[:, None]) / anat.width[:, None]) ** 2)
    )
    # neighbouring electrodes (physically adjacent) leak into each other
    alpha = rng.uniform(0, cfg.channel_mixing, c)
    mix = np.eye(c) * (1 - alpha)[:, None]
    order = [ch for ch in PHYSICAL_ORDER if ch < c]
    for i, ch in enumerate(order):
        nb = [order[j] for j in (i - 1, i + 1) if 0 <= j < len(order)]
        for n in nb:
            mix[ch, n] += alpha[ch] / len(nb)
    proj = proj @ mix.T
    gains = np.exp(rng.normal(0, cfg.gain_jitter, c))
    proj = proj * gains[None, :]
    return _Placement(
        projection=proj,
        local=rng.uniform(0.15, 0.35, c) * gains,
        noise=10 * cfg.noise_uv * np.exp(rng.normal(0, 0.2, c)),
        background=10 * cfg.background_uv * np.exp(rng.normal(0, 0.2, c)) * gains,
        mains=10 * cfg.mains_uv * np.exp(rng.normal(0, 0.5, c)),
        mains_phase=rng.uniform(0, 2 * np.pi, c),
        dc=10 * cfg.dc_uv * rng.uniform(-1, 1, c),
        shift=float(shift),
    )


def _band_noise(
    rng: np.random.Generator, n_rows: int, n_times: int, sfreq: float, band: tuple[float, float] = (20.0, 150.0)
) -> np.ndarray:
    """Unit-RMS Gaussian noise limited to ``band`` (smooth spectral edges), float32."""
    import scipy.fft

    n_fft = scipy.fft.next_fast_len(n_times, real=True)  # a length with small prime factors
    f = np.fft.rfftfreq(n_fft, 1 / sfreq)
    lo, hi = band
    # 4th-order Butterworth-like magnitude: a broad hump like surface EMG
    shape = (1 / np.sqrt(1 + (lo / np.maximum(f, 1e-6)) ** 8) / np.sqrt(1 + (f / hi) ** 8)).astype(np.float32)
    spec = np.empty((n_rows, f.size), dtype=np.complex64)
    spec.real = rng.standard_normal((n_rows, f.size), dtype=np.float32)
    spec.imag = rng.standard_normal((n_rows, f.size), dtype=np.float32)
    spec *= shape
    x = scipy.fft.irfft(spec, n=n_fft, axis=1)[:, :n_times].astype(np.float32, copy=False)
    x /= np.sqrt(np.mean(np.square(x, dtype=np.float64), axis=1, keepdims=True)).astype(np.float32) + 1e-12
    return x


def _add_bursts(env: np.ndarray, rows: np.ndarray, centres: np.ndarray, widths: np.ndarray, amps: np.ndarray) -> None:
    """Add Gaussian bursts ``amps * exp(-((t - centre) / width)^2 / 2)`` (samples) into ``env``."""
    n_t = env.shape[1]
    for r, c, w, a in zip(rows, centres, widths, amps, strict=False):
        lo, hi = max(int(c - 4 * w), 0), min(int(c + 4 * w) + 1, n_t)
        if hi <= lo:
            continue
        t = np.arange(lo, hi, dtype=np.float32)
        env[r, lo:hi] += a * np.exp(-0.5 * ((t - c) / w) ** 2)


def cue_schedule(config: SynthConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled word order and cue-onset samples of one batch.

    Returns
    -------
    words : array of int, shape (n_trials,)
        Label of each trial (1..n_words), each word ``n_repetitions`` times.
    onsets : array of int, shape (n_trials,)
        Sample of each cue onset: ``start_s + rest_s + k * (rest_s + cue_s)`` seconds, moved to
        the next packet boundary (BioGAP stores one trigger per 4-sample packet).
    """
    words = rng.permutation(np.repeat(np.arange(1, len(config.words) + 1), config.n_repetitions))
    ideal = (config.start_s + config.rest_s + np.arange(len(words)) * config.trial_s) * config.sfreq
    spp = SAMPLES_PER_PACKET
    onsets = (np.ceil(np.round(ideal, 6) / spp) * spp).astype(np.int64)
    return words, onsets


def _file_time(subject: int, session: int, batch: int, condition: str, cfg: SynthConfig) -> _dt.datetime:
    """Deterministic wall-clock end time of a batch (one day per session, batches back to back)."""
    day = _dt.datetime(2026, 2, 2, 9, 0, 0) + _dt.timedelta(days=7 * (subject - 1) + 2 * (session - 1))
    k = CONDITIONS.index(condition) * 10 + (batch - 1)
    return day + _dt.timedelta(seconds=int(k * (cfg.duration_s + 60) + cfg.duration_s))


def generate_recording(
    subject: int | str = 1,
    session: int = 1,
    batch: int = 1,
    condition: str = "vocalized",
    *,
    config: SynthConfig | None = None,
    seed: int = 0,
) -> Recording:
    """Generate one synthetic SilentWear batch (one continuous cue-protocol recording).

    Parameters
    ----------
    subject : int | str
        Subject number (1-based) or name like ``"S01"``.
    session : int
        Session (day), 1-based; sessions differ by how the band sits on the neck.
    batch : int
        Batch within the session, 1-based; sets the cue order and the noise.
    condition : {"vocalized", "silent"}
    config : SynthConfig | None
        Protocol and signal parameters (default ``SynthConfig()``, the reference protocol).
    seed : int
        Master seed; the same arguments and seed give identical samples.

    Returns
    -------
    Recording
        16 raw channels (float32, 0.1 uV) with per-sample labels (0 rest, 1..8 the words) and meta
        ``subject`` ("S01"), ``session``, ``batch``, ``condition``, ``device``, ``units``,
        ``signal`` ("biogap"), ``samples_per_packet`` (4), ``counter`` and ``timestamps`` (one
        per received packet, as a ``.bio`` reader gives them), ``lost_packets`` (same records as
        :func:`myovox.io.bio.lost_packet_records`), ``start_time``, ``file_time`` (the file
        name's stamp), ``cue_onsets`` (samples, before packet loss) and ``electrode_shift``.
    """
    cfg = config if config is not None else SynthConfig()
    if not isinstance(cfg, SynthConfig):
        raise ValidationError(f"Invalid value for 'config': expected a SynthConfig, got {type(cfg).__name__}.")
    return _generate(
        _subject_index(subject),
        check_int("session", session, minimum=1),
        check_int("batch", batch, minimum=1),
        check_option("condition", condition, CONDITIONS),
        cfg,
        check_int("seed", seed, minimum=0),
    )


def generate_rest_recording(
    duration_s: float = 600.0,
    subject: int | str = 1,
    session: int = 1,
    condition: str = "vocalized",
    *,
    config: SynthConfig | None = None,
    seed: int = 0,
) -> Recording:
    """Continuous rest without cues: the participant wears the band and does not speak.

    The signal is that of :func:`generate_recording` for the same subject, session and
    condition (same anatomy and band placement) with no words: tonic background activity, noise
    and interference, and the configuration's non-speech events at their rates (swallows,
    coughs, head turns; see :meth:`SynthConfig.preset`). Every sample is labelled rest (0), so
    the events a recogniser fires on it are false activations
    (:func:`myovox.evaluation.streaming.event_metrics` gives them per hour).

    Parameters
    ----------
    duration_s : float
        Length in seconds (rounded down to whole 4-sample packets).
    subject, session, condition, seed
        As :func:`generate_recording`.
    config : SynthConfig | None
        Signal parameters (default ``SynthConfig()``); its protocol fields are not used.

    Returns
    -------
    Recording
        As :func:`generate_recording` with ``batch`` 0, empty ``cue_onsets`` and meta
        ``n_swallows``, ``n_coughs`` and ``n_head_turns``.
    """
    cfg = config if config is not None else SynthConfig()
    if not isinstance(cfg, SynthConfig):
        raise ValidationError(f"Invalid value for 'config': expected a SynthConfig, got {type(cfg).__name__}.")
    check_positive("duration_s", duration_s)
    if int(duration_s * cfg.sfreq) < SAMPLES_PER_PACKET:
        raise ValidationError(f"Invalid value for 'duration_s': shorter than one packet, got {duration_s!r}.")
    return _generate(
        _subject_index(subject),
        check_int("session", session, minimum=1),
        0,
        check_option("condition", condition, CONDITIONS),
        cfg,
        check_int("seed", seed, minimum=0),
        rest_s=float(duration_s),
    )


def _generate(
    subj: int, session: int, batch: int, condition: str, cfg: SynthConfig, seed: int, rest_s: float | None = None
) -> Recording:
    """:func:`generate_recording` (``rest_s`` None) or :func:`generate_rest_recording` (batch 0)."""
    cond_i = CONDITIONS.index(condition)

    anat = _anatomy(subj, cfg, seed)
    if cfg.confusable_pairs:
        anat = _confusable(anat, subj, cfg, seed)
    place = _placement(subj, session, anat, cfg, seed)
    rng = _rng(seed, 3, subj, session, batch, cond_i)
    # the harder mechanisms draw from their own stream, so that the easy data stay as they were
    hrng = _rng(seed, 6, subj, session, batch, cond_i)
    fs, n_t, n_ch, n_m = cfg.sfreq, cfg.n_times, cfg.n_channels, cfg.n_muscles
    duration_s = cfg.duration_s

    # ---- protocol and labels
    words, onsets = cue_schedule(cfg, rng)
    if rest_s is not None:  # continuous rest: no cues, its own random streams
        rng, hrng = _rng(seed, 8, subj, session, cond_i), _rng(seed, 9, subj, session, cond_i)
        n_t = int(rest_s * fs) // SAMPLES_PER_PACKET * SAMPLES_PER_PACKET
        duration_s = n_t / fs
        words, onsets = words[:0], onsets[:0]
    labels = np.zeros(n_t, dtype=np.int64)
    spp = SAMPLES_PER_PACKET
    cue_len = int(round(cfg.cue_s * fs / spp)) * spp
    for w, o in zip(words, onsets, strict=False):
        labels[o : o + cue_len] = w

    # ---- muscle activation envelopes (n_muscles, n_times)
    b_word, b_muscle, b_time, b_width, b_amp = anat.bursts[condition]
    n_syl = np.array([_SYLLABLES.get(w, 1) for w in cfg.words])
    n_tr = len(words)
    delay = rng.uniform(*cfg.delay_s, n_tr) * fs
    dur = (cfg.utterance_s + 0.2 * (n_syl[words - 1] - 1)) * fs
    dur = dur * rng.uniform(1 - cfg.utterance_jitter, 1 + cfg.utterance_jitter, n_tr)
    if condition == "silent":
        dur = dur * 1.1  # silent articulation is a little slower
    # trial-level and burst-level variability, vectorised over all bursts of all trials
    sel = [np.flatnonzero(b_word == w - 1) for w in words]
    trial_of = np.concatenate([np.zeros(0, np.int64)] + [np.full(len(s), i) for i, s in enumerate(sel)])
    burst = np.concatenate([np.zeros(0, np.int64)] + sel)
    # silent articulation is less consistent from trial to trial (no auditory feedback)
    var = cfg.silent_variability if condition == "silent" else 1.0
    t_amp = np.exp(rng.normal(0, cfg.amplitude_jitter * 0.6 * var, n_tr))
    centres = (
        onsets[trial_of]
        + delay[trial_of]
        + b_time[burst] * dur[trial_of]
        + rng.normal(0, cfg.timing_jitter_s * fs * var, burst.size)
    )
    widths = b_width[burst] * dur[trial_of] * np.exp(rng.normal(0, 0.1 * var, burst.size))
    amps = b_amp[burst] * t_amp[trial_of] * np.exp(rng.normal(0, cfg.amplitude_jitter * var, burst.size))
    if condition == "silent":
        amps = amps * cfg.silent_gain
        if cfg.silent_dropout > 0:  # an articulator barely moved in this trial
            amps = amps * np.where(hrng.uniform(size=amps.size) < cfg.silent_dropout, 0.2, 1.0)
    env = np.zeros((n_m, n_t), dtype=np.float32)
    _add_bursts(env, b_muscle[burst], centres, widths, amps)
    if cfg.coarticulation > 0 and n_tr > 1:
        # the previous word's articulation carries over into the start of the next trial: each
        # burst of trial j comes again, weaker and compressed, early in trial j + 1
        carry = trial_of < n_tr - 1
        nxt = trial_of[carry] + 1
        c_centres = (
            onsets[nxt] + delay[nxt] + 0.3 * b_time[burst[carry]] * dur[nxt] + hrng.normal(0, 0.03 * fs, nxt.size)
        )
        c_amps = cfg.coarticulation * amps[carry] * np.exp(hrng.normal(0, 0.3, nxt.size))
        _add_bursts(env, b_muscle[burst[carry]], c_centres, 0.5 * widths[carry], c_amps)
    n_events, motion = _rest_events(env, labels, anat, cfg, rng, hrng, duration_s)
    env *= cfg.emg_amplitude
    data = _acquire(env, place, cfg, rng, (seed, subj, session, batch), motion)

    # ---- packets: counter (uint8, random start), host timestamps, lost packets
    end = _file_time(subj, session, batch, condition, cfg)
    start = end - _dt.timedelta(seconds=duration_s)
    prng = _rng(seed, 4, subj, session, batch, cond_i)
    n_pk = n_t // spp
    counter = (prng.integers(0, 256) + np.arange(n_pk)) % 256
    timestamps = start.timestamp() + np.arange(n_pk) * spp / fs + np.abs(prng.normal(0, 0.002, n_pk))
    lost: list[dict[str, Any]] = []
    if cfg.packet_loss > 0:
        drop = prng.uniform(size=n_pk) < cfg.packet_loss
        drop[0] = drop[-1] = False
        if drop.any():
            from ..io.bio import lost_packet_records
            from ..io.biogap import find_lost_packets

            keep = np.repeat(~drop, spp)
            data, labels = data[:, keep], labels[keep]
            counter, timestamps = counter[~drop], timestamps[~drop]
            lost = lost_packet_records(find_lost_packets(counter, 256), spp)
            logger.debug("synthetic packet loss: %d of %d packets dropped", int(drop.sum()), n_pk)

    meta = {
        "subject": f"S{subj:02d}",
        "session": session,
        "batch": batch,
        "condition": condition,
        "device": "synthetic BioGAP-Ultra",
        "units": "0.1 uV",
        "dataset": "synthetic-silentwear",
        "signal": "biogap",
        "samples_per_packet": spp,
        "counter": counter.astype(np.int32),
        "timestamps": timestamps,
        "lost_packets": lost,
        "start_time": start.isoformat(),
        "file_time": end.strftime("%Y-%m-%d_%H-%M-%S"),
        "cue_onsets": onsets.tolist(),
        "seed": seed,
        "electrode_shift": place.shift,
    }
    if rest_s is not None:
        meta.update(n_events)
    return Recording(data, fs, [f"Ch_{i}" for i in range(n_ch)], labels, cfg.label_names, meta)


def _rest_events(
    env: np.ndarray,
    labels: np.ndarray,
    anat: _Anatomy,
    cfg: SynthConfig,
    rng: np.random.Generator,
    hrng: np.random.Generator,
    duration_s: float,
) -> tuple[dict[str, int], list[tuple[float, float, float]]]:
    """Add the non-speech events of rest (swallows, coughs, head turns) to ``env`` in place.

    Events are drawn over the whole recording at the configuration's rates and kept where
    ``labels`` is rest (0). Returns their counts and the head-turn motion artefacts
    ``(centre, width, amplitude)`` for :func:`_acquire`.
    """
    fs = cfg.sfreq
    n_m, n_t = env.shape
    # swallows during rest periods: brief activation of several muscles at once
    n_sw = rng.poisson(cfg.swallow_rate_hz * duration_s)
    n_events = {"n_swallows": 0, "n_coughs": 0, "n_head_turns": 0}
    if n_sw:
        sw_t = rng.uniform(0, n_t, n_sw)
        rest_ok = labels[sw_t.astype(int)] == 0
        sw_t = sw_t[rest_ok]
        n_events["n_swallows"] = int(sw_t.size)
        for m in range(1, n_m):
            _add_bursts(
                env, np.zeros(sw_t.size, int) + m, sw_t, np.full(sw_t.size, 0.12 * fs), rng.uniform(0.1, 0.4, sw_t.size)
            )
    lateral = int(np.argmin(anat.centre[1:])) + 1, int(np.argmax(anat.centre[1:])) + 1
    motion: list[tuple[float, float, float]] = []  # (centre, width, amplitude) of head-turn artefacts
    if cfg.cough_rate_hz > 0:  # coughs: two strong broad activations of every muscle
        c_t = hrng.uniform(0, n_t, hrng.poisson(cfg.cough_rate_hz * duration_s))
        c_t = c_t[labels[c_t.astype(int)] == 0]
        n_events["n_coughs"] = int(c_t.size)
        for m in range(n_m):
            for lag in (0.0, 0.35):
                _add_bursts(
                    env,
                    np.full(c_t.size, m),
                    c_t + lag * fs,
                    np.full(c_t.size, 0.06 * fs),
                    hrng.uniform(1.0, 2.0, c_t.size),
                )
    if cfg.head_turn_rate_hz > 0:  # head turns: lateral neck muscle and a slow motion artefact
        h_t = hrng.uniform(0, n_t, hrng.poisson(cfg.head_turn_rate_hz * duration_s))
        h_t = h_t[labels[h_t.astype(int)] == 0]
        n_events["n_head_turns"] = int(h_t.size)
        side = hrng.integers(0, 2, h_t.size)
        _add_bursts(env, np.array(lateral)[side], h_t, np.full(h_t.size, 0.3 * fs), hrng.uniform(0.8, 1.5, h_t.size))
        motion = [(float(t0), 0.4 * fs, float(a)) for t0, a in zip(h_t, hrng.uniform(-1, 1, h_t.size), strict=False)]
    return n_events, motion


def _acquire(
    env: np.ndarray,
    place: _Placement,
    cfg: SynthConfig,
    rng: np.random.Generator,
    key: tuple[int, int, int, int],
    motion: list[tuple[float, float, float]],
) -> np.ndarray:
    """EMG seen through the band from muscle envelopes ``env`` (n_muscles, n_times; 0.1 uV).

    Band-limited muscle sources through the placement's projection, near-electrode and
    background activity, within-session drift, head-turn artefacts, white noise, mains, baseline
    wander and DC offsets. ``key`` is ``(seed, subject, session, batch)``. Returns float32
    (n_channels, n_times).
    """
    seed, subj, session, batch = key
    fs, n_ch = cfg.sfreq, cfg.n_channels
    n_m, n_t = env.shape
    # ---- muscle sources seen through the band, plus near-electrode and background activity
    src = _band_noise(rng, n_m + n_ch, n_t, fs)
    data = place.projection.T.astype(np.float32) @ (env * src[:n_m])
    local_env = np.sqrt((place.projection.T.astype(np.float32) ** 2) @ (env**2))
    local_amp = np.sqrt((place.local[:, None] * local_env) ** 2 + place.background[:, None] ** 2)
    data += local_amp.astype(np.float32) * src[n_m:]
    # within-session drift: contact gains and noise change slowly through the session's batches
    progress = ((batch - 1) + np.arange(n_t, dtype=np.float32) / n_t) / DRIFT_BATCHES
    if cfg.drift_gain > 0:
        direction = _rng(seed, 7, subj, session).normal(0, cfg.drift_gain, n_ch).astype(np.float32)
        data *= np.exp(direction[:, None] * progress[None, :])
    for t0, width, a in motion:  # head-turn artefacts: large and slow, one sign per event, per-channel size
        lo, hi = max(int(t0 - 4 * width), 0), min(int(t0 + 4 * width) + 1, n_t)
        bump = np.exp(-0.5 * ((np.arange(lo, hi) - t0) / width) ** 2).astype(np.float32)
        data[:, lo:hi] += (10 * 200.0 * a * place.noise / place.noise.mean())[:, None].astype(np.float32) * bump

    # ---- acquisition: white noise, mains, baseline wander, DC offsets
    noise_rms: np.ndarray = place.noise[:, None].astype(np.float32)
    if cfg.drift_noise > 0:
        noise_rms = noise_rms * (1 + cfg.drift_noise * progress[None, :])
    data += noise_rms * rng.standard_normal((n_ch, n_t), dtype=np.float32)
    t = np.arange(n_t) / fs
    # sinusoids with per-channel amplitude and phase: a*sin(wt + p) = a cos p sin wt + a sin p cos wt
    mains_am = 1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.01, 0.05) * t + rng.uniform(0, 2 * np.pi))
    basis = [np.sin(2 * np.pi * 50.0 * t) * mains_am, np.cos(2 * np.pi * 50.0 * t) * mains_am]
    coef = [place.mains * np.cos(place.mains_phase), place.mains * np.sin(place.mains_phase)]
    # baseline wander: a few slow components (breathing, movement) shared by all channels
    n_wander = 3
    w_f = rng.uniform(0.03, 0.4, n_wander)
    w_a = 10 * cfg.wander_uv * rng.uniform(0.3, 1.0, (n_ch, n_wander)) / np.sqrt(n_wander)
    w_p = rng.uniform(0, 2 * np.pi, (n_ch, n_wander))
    for k in range(n_wander):
        basis += [np.sin(2 * np.pi * w_f[k] * t), np.cos(2 * np.pi * w_f[k] * t)]
        coef += [w_a[:, k] * np.cos(w_p[:, k]), w_a[:, k] * np.sin(w_p[:, k])]
    data += np.stack(coef, axis=1).astype(np.float32) @ np.stack(basis).astype(np.float32)
    data += place.dc[:, None].astype(np.float32)
    data = data.astype(np.float32, copy=False)
    return data


def generate_cued_recording(
    protocol: Any,
    subject: int | str = 1,
    session: int = 1,
    batch: int = 1,
    condition: str = "vocalized",
    *,
    config: SynthConfig | None = None,
    seed: int = 0,
) -> Recording:
    """A synthetic recording of a participant following ``protocol``'s cues, sample for sample.

    ``myovox record`` labels each sample by its guided protocol's clock; to test that loop with a
    simulated device, the device must serve a participant who speaks the words in that order. The
    trials of :func:`generate_recording` (same timing, words and repetitions) are re-ordered to
    the protocol's trial order, so the protocol's ``labels_at`` matches the signal (within one
    4-sample packet).

    Parameters
    ----------
    protocol : myovox.acquisition.CueProtocol
        Words, repetitions, timing (``start_s``, ``rest_s``, ``cue_s``, ``tail_s``) and ``trials()``.
    subject, session, batch, condition, seed
        As :func:`generate_recording`.
    config : SynthConfig | None
        Signal parameters; its protocol fields are replaced by the protocol's (and
        ``confusable_pairs`` is capped at half the protocol's vocabulary).

    Returns
    -------
    Recording
        As :func:`generate_recording`, without packet loss, lasting ``protocol.duration_s``.
    """
    base = config or SynthConfig()
    cfg = base.replace(
        words=tuple(protocol.words),
        confusable_pairs=min(base.confusable_pairs, len(protocol.words) // 2),
        n_repetitions=int(protocol.repetitions),
        start_s=float(protocol.start_s),
        rest_s=float(protocol.rest_s),
        cue_s=float(protocol.cue_s),
        tail_s=float(protocol.tail_s),
        packet_loss=0.0,
    )
    rec = generate_recording(subject, session, batch, condition, config=cfg, seed=seed)
    labels = rec.labels
    if labels is None:
        raise RuntimeError("generate_recording returned an unlabelled recording.")
    fs = cfg.sfreq
    start = int(round(cfg.start_s * fs))
    bounds = [start + int(round(k * cfg.trial_s * fs)) for k in range(cfg.n_trials + 1)]
    slots: dict[int, list[int]] = {}
    for k, onset in enumerate(rec.meta["cue_onsets"]):
        slots.setdefault(int(labels[onset]), []).append(k)
    order = [slots[int(w)].pop(0) for w in protocol.trials()]
    pieces = (
        [np.arange(0, start)]
        + [np.arange(bounds[k], bounds[k + 1]) for k in order]
        + [np.arange(bounds[-1], rec.n_times)]
    )
    idx = np.concatenate(pieces)
    meta = {k: v for k, v in rec.meta.items() if k not in ("counter", "timestamps", "lost_packets", "cue_onsets")}
    meta["protocol_trials"] = [int(w) for w in protocol.trials()]
    return Recording(rec.data[:, idx], fs, rec.ch_names, labels[idx], rec.label_names, meta)


def check_dataset_sizes(
    n_subjects: int, n_sessions: int, n_batches: int, conditions: Sequence[str]
) -> tuple[int, int, int, tuple[str, ...]]:
    """The sizes of a synthetic dataset, checked: whole numbers >= 1 and known conditions (at least one)."""
    n_subjects = check_int("n_subjects", n_subjects, minimum=1)
    n_sessions = check_int("n_sessions", n_sessions, minimum=1)
    n_batches = check_int("n_batches", n_batches, minimum=1)
    conditions = tuple(conditions)
    if not conditions:
        raise ValidationError("Invalid value for 'conditions': expected at least one of 'vocalized', 'silent'.")
    for c in conditions:
        check_option("conditions", c, CONDITIONS)
    return n_subjects, n_sessions, n_batches, conditions


def generate_dataset(
    out_dir: str | Path,
    *,
    n_subjects: int = 2,
    n_sessions: int = 3,
    n_batches: int = 5,
    conditions: Sequence[str] = CONDITIONS,
    n_repetitions: int = 20,
    seed: int = 0,
    raw: bool = True,
    processed: bool = True,
    overwrite: bool = False,
    packet_loss: float | None = None,
    config: SynthConfig | None = None,
    difficulty: str | None = None,
) -> Path:
    """Write a synthetic dataset in SilentWear's folder layouts.

    Writes ``raw/<Sxx>/<cond>/sess_<s>_batch_<b>_<YYYY-MM-DD_HH-MM-SS>.bio`` (older ``.bio``
    layout) when ``raw`` and ``data_raw_and_filt/<Sxx>/<cond>/sess_<s>_batch_<b>.h5`` (the
    public release's processed files) when ``processed``.

    Parameters
    ----------
    out_dir : path-like
        Dataset root; it must be absent or empty unless ``overwrite``.
    n_subjects, n_sessions, n_batches : int
        Sizes of the dataset (reference: 4, 3, 5).
    conditions : sequence of {"vocalized", "silent"}
    n_repetitions : int
        Repetitions of each word per batch (reference: 20); overrides ``config.n_repetitions``.
    seed : int
    raw, processed : bool
        Which layouts to write.
    overwrite : bool
        Replace an ``out_dir`` that myovox wrote before (never a folder holding other files); the
        dataset is written to a temporary sibling and renamed into place when complete.
    packet_loss : float | None
        Probability that a BLE packet is lost (overrides ``config.packet_loss``); the raw files
        then have counter gaps, the processed ones simply miss those samples (as the reference).
    config : SynthConfig | None
        Signal model and protocol; default ``SynthConfig()`` (the ``"reference"`` preset).
    difficulty : {"easy", "reference", "hard"} | None
        Use :meth:`SynthConfig.preset` of this difficulty (not together with ``config``).

    Returns
    -------
    Path
        ``out_dir``.
    """
    out = Path(out_dir)
    n_subjects, n_sessions, n_batches, conditions = check_dataset_sizes(n_subjects, n_sessions, n_batches, conditions)
    if not (raw or processed):
        raise ValidationError("Nothing to write: both 'raw' and 'processed' are False.")
    changes: dict[str, Any] = {"n_repetitions": check_int("n_repetitions", n_repetitions, minimum=1)}
    if packet_loss is not None:
        changes["packet_loss"] = packet_loss
    if difficulty is not None:
        if config is not None:
            raise ValidationError("Pass either 'config' or 'difficulty', not both.")
        config = SynthConfig.preset(difficulty)
    cfg = (config or SynthConfig()).replace(**changes)
    from .._outputs import output_folder

    with output_folder(out, force=overwrite, what="synthetic dataset") as tmp:
        n_files = _write_files(tmp, n_subjects, n_sessions, n_batches, conditions, cfg, seed, raw, processed)
    logger.info(
        "wrote %d synthetic files (%d subjects x %d sessions x %d batches x %s) to %s",
        n_files,
        n_subjects,
        n_sessions,
        n_batches,
        "/".join(conditions),
        out,
    )
    return out


def _write_files(
    out: Path,
    n_subjects: int,
    n_sessions: int,
    n_batches: int,
    conditions: tuple,
    cfg: SynthConfig,
    seed: int,
    raw: bool,
    processed: bool,
) -> int:
    write_bio: Callable[..., Path] | None = None
    write_h5: Callable[..., Path] | None = None
    if raw:  # the writers are imported only when asked for
        from ..io.bio import write_bio as bio_writer

        write_bio = bio_writer
    if processed:
        from ..io.silentwear_h5 import write_silentwear_h5

        write_h5 = write_silentwear_h5

    n_files = 0
    for subj in range(1, n_subjects + 1):
        for cond in conditions:
            for sess in range(1, n_sessions + 1):
                for b in range(1, n_batches + 1):
                    rec = generate_recording(subj, sess, b, cond, config=cfg, seed=seed)
                    name = rec.meta["subject"]
                    if write_bio is not None:
                        d = out / "raw" / name / cond
                        d.mkdir(parents=True, exist_ok=True)
                        write_bio(rec, d / f"sess_{sess}_batch_{b}_{rec.meta['file_time']}.bio", layout="old")
                        n_files += 1
                    if write_h5 is not None:
                        d = out / "data_raw_and_filt" / name / cond
                        d.mkdir(parents=True, exist_ok=True)
                        write_h5(rec, d / f"sess_{sess}_batch_{b}.h5")
                        n_files += 1
    return n_files


__all__ = [
    "CONDITIONS",
    "CONFUSABLE_PAIRS",
    "DIFFICULTIES",
    "DRIFT_BATCHES",
    "PHYSICAL_ORDER",
    "SAMPLES_PER_PACKET",
    "SynthConfig",
    "check_dataset_sizes",
    "cue_schedule",
    "generate_cued_recording",
    "generate_dataset",
    "generate_recording",
]

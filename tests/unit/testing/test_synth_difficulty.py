"""Difficulty presets and the harder mechanisms of the synthetic generator (issue 16).

The ``"easy"`` preset is the generator as it was before the presets (myovox 0.1): the digests
below were computed on that code (commit de6e881) and must never change, since fast tests rest on
it. ``"reference"`` is the default.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from myovox import ValidationError
from myovox.testing.synth import DIFFICULTIES, SynthConfig, generate_dataset, generate_recording

# (subject, session, batch, condition, seed, config changes) -> sha256 of data, of labels
EASY_DIGESTS = [
    (
        (1, 1, 1, "vocalized", 0, {"n_repetitions": 2}),
        "aeb78a2a2763684e3f5df0cdb194c8a3c6a449414c4476506563f81faec0a5b3",
        "1a5bbcdcf84e10f02dbb0a56d58a40be703125a1ee9e6dbe4b895989794ac4ea",
    ),
    (
        (2, 3, 2, "silent", 7, {"n_repetitions": 2}),
        "aa5df33afc5362ce3084d3859cd8bf20a3119e2366607e774043f942a5707c4d",
        "1467f594ca6b1f065740f7aec25548e2ef408733e25cf6a1b030cfb351d7b0cb",
    ),
    (
        (1, 2, 1, "vocalized", 3, {"n_repetitions": 1, "packet_loss": 0.02}),
        "1cc91f39d883f38bc57446dd5e23ff2e73153ff87d4f3786543f78df070b7d17",
        "30602aff7575dcca1146c59b25b8f73cc26f784a495e803d42d47bb043820cb6",
    ),
]

#: each harder mechanism, a value that switches it on, and the condition where it acts
MECHANISMS = {
    "silent_dropout": (0.5, "silent"),
    "silent_variability": (2.5, "silent"),
    "drift_gain": (0.5, "vocalized"),
    "drift_noise": (1.0, "vocalized"),
    "coarticulation": (0.3, "vocalized"),
    "confusable_pairs": (2, "vocalized"),
    "cough_rate_hz": (0.5, "vocalized"),
    "head_turn_rate_hz": (0.5, "vocalized"),
}
SMALL = {"n_repetitions": 2}


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


@pytest.mark.parametrize("case", EASY_DIGESTS, ids=["voc", "silent", "packet-loss"])
@pytest.mark.parametrize("how", ["preset", "replace"])
def test_easy_is_bit_identical_to_the_generator_before_presets(case, how):
    (subject, session, batch, condition, seed, changes), data_sha, labels_sha = case
    easy = SynthConfig.preset("easy")
    cfg = SynthConfig.preset("easy", **changes) if how == "preset" else easy.replace(**changes)
    rec = generate_recording(subject, session, batch, condition, config=cfg, seed=seed)
    assert _sha(rec.data) == data_sha
    assert _sha(rec.labels) == labels_sha


def test_presets_are_validated_and_reference_is_the_default():
    assert DIFFICULTIES == ("easy", "reference", "hard")
    assert SynthConfig.preset() == SynthConfig() == SynthConfig.preset("reference") != SynthConfig.preset("easy")
    assert SynthConfig.preset("reference", n_repetitions=3).n_repetitions == 3
    with pytest.raises(ValidationError, match=r"difficulty.*Did you mean 'hard'"):
        SynthConfig.preset("hrad")
    with pytest.raises(ValidationError, match="confusable_pairs"):
        SynthConfig(confusable_pairs=5)  # 8 words make at most 4 pairs
    with pytest.raises(ValidationError, match="silent_dropout"):
        SynthConfig(silent_dropout=1.0)
    with pytest.raises(ValidationError, match="drift_gain"):
        SynthConfig(drift_gain=-0.1)
    with pytest.raises(ValidationError, match="either 'config' or 'difficulty'"):
        generate_dataset("unused", config=SynthConfig(), difficulty="easy")


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_each_mechanism_is_off_in_easy_on_in_reference_and_changes_the_signal(name):
    value, condition = MECHANISMS[name]
    easy, ref, hard = (SynthConfig.preset(d) for d in DIFFICULTIES)
    default = {f.name: f.default for f in dataclasses.fields(SynthConfig)}[name]
    assert getattr(ref, name) == default  # the reference preset is the default
    off = 1.4 if name == "silent_variability" else 0  # easy: the generator before the mechanisms
    assert getattr(easy, name) == off and getattr(ref, name) != off and getattr(hard, name) != off
    base = generate_recording(1, 2, 2, condition, config=easy.replace(**SMALL), seed=1)
    on = generate_recording(1, 2, 2, condition, config=easy.replace(**SMALL, **{name: value}), seed=1)
    np.testing.assert_array_equal(on.labels, base.labels)  # the protocol is untouched
    assert not np.array_equal(on.data, base.data)


def test_confusable_pairs_share_onset_bursts():
    from myovox.testing.synth import _anatomy, _confusable

    cfg = SynthConfig(confusable_pairs=1)
    anat = _confusable(_anatomy(1, cfg, 0), 1, cfg, 0)
    w, m, t, _, _ = anat.bursts["vocalized"]
    a, b = cfg.words.index("start"), cfg.words.index("stop")

    def onset_muscles(word):
        idx = [i for i in np.flatnonzero(w == word) if m[i] != 0]
        return [int(m[i]) for i in sorted(idx, key=lambda i: t[i])[:2]]

    assert onset_muscles(a) == onset_muscles(b)


def test_drift_grows_through_the_session():
    from myovox.preprocessing.pipeline import preprocess

    cfg = SynthConfig(n_repetitions=2, drift_noise=2.0)
    rms = []
    for batch in (1, 5):
        rec = preprocess(generate_recording(1, 1, batch, "vocalized", config=cfg, seed=0), filter="silentwear")
        rest = rec.labels == 0
        rms.append(float(np.sqrt(np.mean(rec.data[:, rest] ** 2))))
    assert rms[1] > 1.2 * rms[0]


def test_cli_synth_difficulty(tmp_path):
    import pandas as pd

    from myovox.cli.main import main

    def first_channel(difficulty):
        out = tmp_path / difficulty
        args = ["synth", str(out), "--subjects", "1", "--sessions", "1", "--batches", "1", "--repetitions", "1"]
        assert main([*args, "--conditions", "vocalized", "--no-raw", "--difficulty", difficulty]) == 0
        return pd.read_hdf(out / "data_raw_and_filt" / "S01" / "vocalized" / "sess_1_batch_1.h5", "emg")["Ch_0"]

    easy, ref = first_channel("easy"), first_channel("reference")
    rec = generate_recording(1, 1, 1, "vocalized", config=SynthConfig.preset("reference", n_repetitions=1))
    np.testing.assert_array_equal(ref.to_numpy(), rec.data[0, ref.index[0] : ref.index[-1] + 1])
    assert not np.array_equal(easy.to_numpy(), ref.to_numpy())
    assert main(["synth", str(tmp_path / "x"), "--difficulty", "medium"]) == 2


def test_rest_recording_is_continuous_rest_with_non_speech_events():
    from myovox.testing.synth import generate_rest_recording

    cfg = SynthConfig.preset("reference", cough_rate_hz=0.2, head_turn_rate_hz=0.2, swallow_rate_hz=0.2)
    rec = generate_rest_recording(61.0, 2, 2, config=cfg, seed=3)
    assert rec.n_times == 61 * 500 and rec.sfreq == 500.0 and rec.n_channels == 16
    assert not np.any(rec.labels) and rec.meta["cue_onsets"] == [] and rec.meta["batch"] == 0
    n = {k: rec.meta[k] for k in ("n_swallows", "n_coughs", "n_head_turns")}
    assert all(v > 0 for v in n.values())  # 12 of each expected in 61 s
    # same anatomy and placement as the cued batches of that session: same DC offsets
    cued = generate_recording(2, 2, 1, "vocalized", config=cfg.replace(n_repetitions=1), seed=3)
    np.testing.assert_allclose(np.median(rec.data, 1), np.median(cued.data, 1), rtol=0.05, atol=300)
    # the events are the activity: without them the preprocessed rest is quieter
    from myovox.preprocessing.pipeline import preprocess

    quiet = generate_rest_recording(
        61.0, 2, 2, config=cfg.replace(cough_rate_hz=0, head_turn_rate_hz=0, swallow_rate_hz=0), seed=3
    )
    assert quiet.meta["n_coughs"] == 0
    peak = [float(np.abs(preprocess(r, filter="silentwear").data).max()) for r in (rec, quiet)]
    assert peak[0] > 2 * peak[1]
    with pytest.raises(ValidationError, match="duration_s"):
        generate_rest_recording(0.001)
    # reproducible
    np.testing.assert_array_equal(generate_rest_recording(2.0, seed=1).data, generate_rest_recording(2.0, seed=1).data)


def test_hard_is_at_least_as_hard_as_reference_in_every_field():
    ref, hard = SynthConfig.preset("reference"), SynthConfig.preset("hard")
    changed = [f.name for f in dataclasses.fields(SynthConfig) if getattr(ref, f.name) != getattr(hard, f.name)]
    assert len(changed) >= 10
    for name in changed:
        if name == "silent_gain":  # weaker silent articulation is harder
            assert hard.silent_gain < ref.silent_gain
        else:
            assert getattr(hard, name) > getattr(ref, name), name

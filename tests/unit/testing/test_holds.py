"""Synthetic long holds: labels, durations, sustained activation, same anatomy as the utterances."""

import numpy as np
import pytest

from myovox import ValidationError
from myovox.preprocessing.pipeline import preprocess
from myovox.testing.holds import HoldConfig, generate_hold_dataset, generate_hold_recording
from myovox.testing.synth import SAMPLES_PER_PACKET, SynthConfig, generate_recording

CFG = SynthConfig.preset("easy", words=("up", "down", "left"), start_s=2.0, tail_s=2.0)
HOLDS = HoldConfig(n_holds=2, hold_s=(1.5, 4.0), rest_s=(1.5, 3.0))


@pytest.fixture(scope="module")
def rec():
    return generate_hold_recording(1, 1, 1, config=CFG, holds=HOLDS, seed=0)


def test_labels_and_durations(rec):
    runs = rec.label_runs()
    holds = [(a, b, lab) for a, b, lab in runs if lab != 0]
    assert sorted(lab for _, _, lab in holds) == [1, 1, 2, 2, 3, 3]  # each gesture n_holds times
    assert all(runs[i][2] == 0 for i in range(0, len(runs), 2))  # rest between holds, at both ends
    dur = np.array([(b - a) / rec.sfreq for a, b, _ in holds])
    assert (dur >= 1.5 - 0.01).all() and (dur <= 4.0 + 0.01).all()
    assert rec.meta["hold_s"] == pytest.approx(dur.tolist())
    assert rec.meta["cue_onsets"] == [a for a, _, _ in holds]
    assert all(a % SAMPLES_PER_PACKET == 0 for a, _, _ in holds)
    rests = [(b - a) / rec.sfreq for a, b, lab in runs[1:-1] if lab == 0]
    assert min(rests) >= 1.5 - 0.01 and max(rests) <= 3.0 + 0.01
    assert rec.n_channels == 16 and rec.data.dtype == np.float32 and rec.label_names == CFG.label_names


def test_activation_is_sustained_through_each_hold(rec):
    x = preprocess(rec).data  # SilentWear's filter, zero-phase
    power = np.mean(x.astype(np.float64) ** 2, axis=0)
    rest = np.median(power[rec.labels == 0])
    fs = rec.sfreq
    for (on, off), a0, a1 in zip(
        zip(rec.meta["cue_onsets"], rec.meta["cue_offsets"], strict=True),
        rec.meta["activation_onsets"],
        rec.meta["activation_offsets"],
        strict=True,
    ):
        # the muscles follow the cue with a reaction delay (SynthConfig.delay_s, 0.2-0.5 s) and are
        # recruited over HoldConfig.recruit_s (0.3 s); they release after the cue ends
        assert 0.15 * fs <= a0 - on <= (0.5 + 0.3 + 0.1) * fs and a1 > off
        # the middle of the hold, not only its onset, is active: every quarter of it
        mid = np.arange(int(a0 + 0.5 * fs), int(off))
        for part in np.array_split(mid, 4):
            assert np.mean(power[part]) > 4 * rest


def test_deterministic_and_same_band_placement_as_the_utterances(rec):
    again = generate_hold_recording(1, 1, 1, config=CFG, holds=HOLDS, seed=0)
    np.testing.assert_array_equal(rec.data, again.data)
    other = generate_hold_recording(1, 1, 2, config=CFG, holds=HOLDS, seed=0)
    assert other.label_runs() != rec.label_runs()
    utter = generate_recording(1, 1, 1, config=CFG.replace(n_repetitions=1), seed=0)
    assert rec.meta["electrode_shift"] == utter.meta["electrode_shift"]
    assert generate_hold_recording(1, 2, 1, config=CFG, holds=HOLDS).meta["electrode_shift"] != pytest.approx(
        rec.meta["electrode_shift"]
    )


def test_config_is_validated():
    with pytest.raises(ValidationError, match="hold_s"):
        HoldConfig(hold_s=(4.0, 1.5))
    with pytest.raises(ValidationError, match="n_holds"):
        HoldConfig(n_holds=0)
    with pytest.raises(ValidationError, match="holds"):
        generate_hold_recording(holds={"n_holds": 2})


def test_dataset_is_a_silentwear_raw_tree(tmp_path):
    from myovox.datasets import load_dataset

    out = generate_hold_dataset(tmp_path / "holds", n_batches=2, holds=HoldConfig(n_holds=1), config=CFG)
    assert len(list((out / "raw" / "S01" / "vocalized").glob("sess_1_batch_*.bio"))) == 2
    ds = load_dataset(out, raw_signal=True)
    assert ds.name == "silentwear" and len(ds) == 2
    first = generate_hold_recording(1, 1, 1, config=CFG, holds=HoldConfig(n_holds=1))
    assert ds.recordings[0].label_runs() == first.label_runs()

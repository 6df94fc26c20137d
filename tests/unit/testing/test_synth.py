"""Unit tests of the synthetic SilentWear-format generator and ``myovox synth``."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from myovox import Recording, ValidationError
from myovox.testing.synth import SAMPLES_PER_PACKET, SynthConfig, generate_dataset, generate_recording

SMALL = SynthConfig(n_repetitions=2)
REFERENCE_COLUMNS = (
    [f"Ch_{i}" for i in range(16) if i not in (11, 12)]
    + ["Label_int", "Label_str"]
    + [f"Ch_{i}_filt" for i in range(16) if i not in (11, 12)]
    + ["session_id", "batch_id"]
)


def _hp(x: np.ndarray) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    sos = np.vstack(
        [butter(4, 20, "highpass", fs=500, output="sos"), butter(2, [47.5, 52.5], "bandstop", fs=500, output="sos")]
    )
    return sosfiltfilt(sos, x.astype(np.float64), axis=-1)


def test_config_is_validated():
    with pytest.raises(ValidationError, match="sfreq"):
        SynthConfig(sfreq=-1)
    with pytest.raises(ValidationError, match="packet_loss"):
        SynthConfig(packet_loss=1.5)
    with pytest.raises(ValidationError, match="words"):
        SynthConfig(words=("up", "up"))
    with pytest.raises(ValidationError, match="delay_s"):
        SynthConfig(delay_s=(0.5, 0.2))
    with pytest.raises(ValidationError, match="n_repetitions"):
        SynthConfig(n_repetitions=0)
    with pytest.raises(ValidationError, match=r"condition.*Did you mean 'silent'"):
        generate_recording(1, 1, 1, "silnet", config=SMALL)
    with pytest.raises(ValidationError, match="subject"):
        generate_recording("X1", config=SMALL)
    cfg = SynthConfig().replace(n_repetitions=3)
    assert cfg.n_repetitions == 3 and cfg.n_trials == 24 and cfg.label_names[8] == "stop"


def test_same_seed_same_bytes_and_differences_where_expected():
    a = generate_recording("S01", 2, 1, "silent", config=SMALL, seed=7)
    b = generate_recording(1, 2, 1, "silent", config=SMALL, seed=7)
    assert a.data.tobytes() == b.data.tobytes()
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(generate_recording(1, 2, 1, "silent", config=SMALL, seed=8).data, a.data)
    other_batch = generate_recording(1, 2, 2, "silent", config=SMALL, seed=7)
    assert not np.array_equal(other_batch.labels, a.labels)  # another shuffle of the cues
    # the band sits the same way for both conditions of a day, differently on another day
    assert (
        generate_recording(1, 2, 1, "vocalized", config=SMALL, seed=7).meta["electrode_shift"]
        == a.meta["electrode_shift"]
    )
    assert (
        generate_recording(1, 3, 1, "silent", config=SMALL, seed=7).meta["electrode_shift"] != a.meta["electrode_shift"]
    )


def test_protocol_timing_and_label_counts():
    cfg = SynthConfig(n_repetitions=3)
    rec = generate_recording(1, 1, 1, "vocalized", config=cfg, seed=0)
    runs = [(a, b, lab) for a, b, lab in rec.label_runs() if lab != 0]
    assert len(runs) == 8 * 3
    onsets = np.array([a for a, _, _ in runs])
    ideal = (5.0 + 1.5 + 3.5 * np.arange(len(runs))) * 500
    assert np.all(onsets - ideal >= 0) and np.all(onsets - ideal < SAMPLES_PER_PACKET)
    assert np.all(onsets % SAMPLES_PER_PACKET == 0)  # one trigger per BLE packet
    assert all(b - a == 1000 for a, b, _ in runs)  # 2.0 s cues
    assert onsets.tolist() == rec.meta["cue_onsets"]
    words, counts = np.unique([lab for _, _, lab in runs], return_counts=True)
    assert words.tolist() == list(range(1, 9)) and set(counts.tolist()) == {3}
    assert np.all(rec.labels[: onsets[0]] == 0)  # start screen and first rest
    tail = rec.n_times - (runs[-1][1])
    assert abs(tail / 500 - 3.5) < 0.01
    assert rec.n_times == cfg.n_times and rec.n_times % SAMPLES_PER_PACKET == 0
    assert rec.duration == pytest.approx(5 + 24 * 3.5 + 3.5, abs=0.01)


def test_shapes_dtypes_units_and_meta():
    rec = generate_recording(2, 3, 4, "silent", config=SMALL, seed=1)
    assert isinstance(rec, Recording)
    assert rec.data.shape == (16, SMALL.n_times) and rec.data.dtype == np.float32
    assert rec.sfreq == 500 and rec.ch_names == tuple(f"Ch_{i}" for i in range(16))
    assert rec.labels.dtype == np.int64 and set(np.unique(rec.labels)) == set(range(9))
    m = rec.meta
    assert (m["subject"], m["session"], m["batch"], m["condition"]) == ("S02", 3, 4, "silent")
    assert m["device"] == "synthetic BioGAP-Ultra" and m["units"] == "0.1 uV"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d", m["file_time"])
    assert len(m["counter"]) == len(m["timestamps"]) == rec.n_times // 4 and m["lost_packets"] == []
    assert np.all(np.diff(m["counter"]) % 256 == 1)
    # 0.1 uV units: DC offsets of a few mV, EMG of tens of uV
    assert np.abs(rec.data.mean(axis=1)).max() > 1000
    assert rec.n_nonfinite() == 0


@pytest.mark.parametrize(("difficulty", "ratio"), [("easy", 0.7), ("reference", 0.95)])
def test_signal_is_emg_like_and_silent_is_weaker(difficulty, ratio):
    # reference: silent bursts are 0.55x vocalized but vary more (log-normal), which raises their
    # mean energy; the noise floor is higher too
    cfg = SynthConfig.preset(difficulty, n_repetitions=2)
    voc = generate_recording(1, 1, 1, "vocalized", config=cfg, seed=0)
    sil = generate_recording(1, 1, 1, "silent", config=cfg, seed=0)

    def cue_rest_rms(rec):
        x = _hp(rec.data)
        cue = np.zeros(rec.n_times, bool)
        for a, _, lab in rec.label_runs():
            if lab:
                cue[a + 150 : a + 750] = True  # articulation happens in this part of the cue
        rest = rec.labels == 0
        rest[: 5 * 500] = False
        return np.sqrt(np.mean(x[:, cue] ** 2)), np.sqrt(np.mean(x[:, rest] ** 2))

    v_cue, v_rest = cue_rest_rms(voc)
    s_cue, s_rest = cue_rest_rms(sil)
    assert v_cue > 2.5 * v_rest and s_cue > 1.3 * s_rest
    assert s_cue < ratio * v_cue
    # mains interference at 50 Hz stands out of the spectrum
    from scipy.signal import welch

    f, p = welch(voc.data[0].astype(np.float64), fs=500, nperseg=1000)
    assert p[np.argmin(np.abs(f - 50))] > 20 * np.median(p[(f > 60) & (f < 200)])


@pytest.mark.parametrize(("difficulty", "factor"), [("easy", 3.0), ("reference", 1.5)])
def test_session_shift_changes_spatial_pattern_more_than_batches(difficulty, factor):
    """The per-channel RMS profile of a word moves between days more than between batches of a day
    (in ``reference``, contact drift and trial variability move it between batches too)."""
    cfg = SynthConfig.preset(difficulty, n_repetitions=4)

    def profile(sess, batch):
        rec = generate_recording(1, sess, batch, "vocalized", config=cfg, seed=0)
        x = _hp(rec.data)
        cue = np.isin(rec.labels, [1, 2, 3, 4, 5, 6, 7, 8])
        p = np.log(np.sqrt(np.mean(x[:, cue] ** 2, axis=1)))
        return p - p.mean()

    p11, p12, p21 = profile(1, 1), profile(1, 2), profile(2, 1)
    assert np.linalg.norm(p11 - p21) > factor * np.linalg.norm(p11 - p12)


def test_packet_loss_is_recorded_and_round_trips_through_bio(tmp_path):
    from myovox.io.bio import read_bio, write_bio

    cfg = SynthConfig(n_repetitions=1, packet_loss=0.01)
    rec = generate_recording(1, 1, 1, "vocalized", config=cfg, seed=3)
    lost = rec.meta["lost_packets"]
    n_lost = sum(g["n_lost"] for g in lost)
    assert n_lost > 0 and rec.n_times == cfg.n_times - 4 * n_lost
    assert len(rec.meta["counter"]) == rec.n_times // 4
    path = write_bio(rec, tmp_path / "sess_1_batch_1_2026-02-02_09-00-00.bio", layout="old")
    with pytest.warns(Warning, match="lost"):
        back = read_bio(path)
    np.testing.assert_array_equal(back.data, rec.data)
    np.testing.assert_array_equal(back.labels, rec.labels)
    assert back.meta["lost_packets"] == lost


def test_generate_dataset_writes_both_layouts(tmp_path):
    import pandas as pd

    out = generate_dataset(
        tmp_path / "ds", n_subjects=1, n_sessions=2, n_batches=1, conditions=("vocalized",), n_repetitions=1, seed=0
    )
    bios = sorted((out / "raw" / "S01" / "vocalized").glob("*.bio"))
    assert [re.sub(r"_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.bio$", "", p.name) for p in bios] == [
        "sess_1_batch_1",
        "sess_2_batch_1",
    ]
    h5 = out / "data_raw_and_filt" / "S01" / "vocalized" / "sess_2_batch_1.h5"
    df = pd.read_hdf(h5, "emg")
    assert list(df.columns) == REFERENCE_COLUMNS
    assert set(df["session_id"]) == {2} and set(df["batch_id"]) == {1}
    rec = generate_recording(1, 2, 1, "vocalized", config=SynthConfig(n_repetitions=1), seed=0)
    first_cue = rec.meta["cue_onsets"][0]
    assert df.index[0] == first_cue - 500  # trimmed to 1 s before the first cue
    np.testing.assert_array_equal(df["Ch_0"].to_numpy(), rec.data[0, df.index[0] : df.index[-1] + 1])
    with pytest.raises(ValidationError, match="not empty"):
        generate_dataset(out, n_subjects=1, n_sessions=1, n_batches=1, n_repetitions=1)
    generate_dataset(
        out,
        n_subjects=1,
        n_sessions=1,
        n_batches=1,
        conditions=("vocalized",),
        n_repetitions=1,
        overwrite=True,
        raw=False,
    )


def test_cli_synth_writes_the_layouts(tmp_path):
    import pandas as pd

    from myovox.cli.main import main

    out = tmp_path / "synth"
    args = [
        "synth",
        str(out),
        "--subjects",
        "1",
        "--sessions",
        "1",
        "--batches",
        "1",
        "--repetitions",
        "1",
        "--conditions",
        "silent",
        "--seed",
        "3",
    ]
    assert main(args) == 0
    assert len(list((out / "raw" / "S01" / "silent").glob("sess_1_batch_1_*.bio"))) == 1
    df = pd.read_hdf(out / "data_raw_and_filt" / "S01" / "silent" / "sess_1_batch_1.h5", "emg")
    assert list(df.columns) == REFERENCE_COLUMNS and set(df["Label_int"]) == set(range(9))
    assert main(args) == 2  # not empty, no --force
    assert main(args + ["--force", "--no-processed"]) == 0


def test_full_reference_batch_has_160_trials():
    # the reference's 9.4-minute batch (8 words x 20 repetitions); its speed is a benchmark matter, not a test
    rec = generate_recording(1, 1, 1, "vocalized")
    assert rec.n_times > 280_000 and rec.data.dtype == np.float32
    assert sum(1 for _, _, lab in rec.label_runs() if lab != 0) == 160


def test_cli_module_import_is_light():
    code = (
        "import sys, myovox.cli.synth, myovox.testing\n"
        "heavy = [m for m in ('pandas', 'torch', 'sklearn', 'tables', 'h5py', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

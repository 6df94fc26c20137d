"""Signal conditioning for other labs' data (issue 12): polyphase resampling and padding of short trials."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from myovox.dataset import Dataset
from myovox.exceptions import DataLossWarning, DataQualityWarning, ValidationError
from myovox.preprocessing.pipeline import dataset_windows, preprocess
from myovox.preprocessing.resample import resample_ratio, resample_recording
from myovox.recording import Recording
from myovox.windows import trial_windows


def _rec(sfreq=2000.0, seconds=2.0, f=60.0, dc=500.0):
    t = np.arange(int(sfreq * seconds)) / sfreq
    data = np.stack([np.sin(2 * np.pi * f * t) + dc, np.cos(2 * np.pi * f * t)]).astype(np.float32)
    labels = (t >= seconds / 2).astype(np.int64)
    return Recording(data, sfreq, ["a", "b"], labels, {0: "rest", 1: "up"}, {"subject": "S1"})


def test_resample_ratio_and_refusal():
    assert resample_ratio(2000, 500) == (1, 4)
    assert resample_ratio(250, 500) == (2, 1)
    assert resample_ratio(1000, 512) == (64, 125)
    with pytest.raises(ValidationError, match="not a fraction"):
        resample_ratio(1000.0, 1000.0 * np.pi)
    with pytest.raises(ValidationError, match="not a fraction"):
        resample_ratio(499.8, 500.0)  # 2500/2499: a filter far too long


def test_resample_recording_keeps_signal_labels_and_dc():
    r = _rec()
    out = resample_recording(r, 500.0)
    assert out.sfreq == 500.0 and out.n_times == r.n_times // 4 and out.meta["resampled_from"] == 2000.0
    t = np.arange(out.n_times) / 500.0
    mid = slice(50, -50)  # away from the edges
    np.testing.assert_allclose(out.data[0, mid], np.sin(2 * np.pi * 60 * t[mid]) + 500, atol=2e-3)
    np.testing.assert_allclose(out.data[0, :5], 500 + np.sin(2 * np.pi * 60 * t[:5]), atol=0.1)  # no DC ringing
    assert np.flatnonzero(np.diff(out.labels))[0] + 1 == 500  # the label change stays at 1 s
    assert resample_recording(r, 2000.0) is r
    bad = r.copy(data=np.where(np.arange(r.n_times) == 10, np.nan, r.data).astype(np.float32))
    with pytest.raises(ValidationError, match="non-finite"):
        resample_recording(bad, 500.0)


def test_preprocess_resamples_before_filtering():
    r = _rec()
    out = preprocess(r, filter={"highpass": 20.0, "notch": 50.0}, resample=500.0)
    assert out.sfreq == 500.0 and out.meta["preprocessing"]["resampled_from"] == 2000.0
    assert abs(float(np.mean(out.data[0, 100:-100]))) < 0.05  # the high-pass removed the DC at 500 Hz
    with pytest.raises(ValidationError, match="already filtered"):
        preprocess(r.copy(meta={"filtered": True}), resample=500.0)


def _trials(lengths, sfreq=100.0):
    recs = [
        Recording(
            np.ones((2, n), np.float32) * (i + 1), sfreq, ["a", "b"], None, {0: "rest", 1: "up"}, {"label": i % 2}
        )
        for i, n in enumerate(lengths)
    ]
    return Dataset(recs, "t", window_s=1.0, window_mode="trial", info={"filter": None})


def test_short_trials_are_dropped_or_padded_and_always_counted():
    ds = _trials([100, 60, 120, 30])
    with pytest.warns(DataLossWarning, match="2 of 4 trials are shorter than 100 samples"):
        w = trial_windows(ds, 1.0)
    assert len(w) == 2 and w.meta["padded"].tolist() == [0, 0]
    with pytest.warns(DataQualityWarning, match="2 of 4 trials .* padded"):
        p = trial_windows(ds, 1.0, short="pad")
    assert len(p) == 4 and p.meta["padded"].tolist() == [0, 40, 0, 70]
    np.testing.assert_array_equal(p.X[1], 2.0)  # padded with the trial's own channel means
    assert p.y.tolist() == [0, 1, 0, 1]
    assert len(ds.recordings[1].data[0]) == 60  # the dataset itself is untouched
    ds.info["short_trials"] = "pad"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(dataset_windows(ds)) == 4
    with pytest.raises(ValidationError, match="'short'"):
        trial_windows(ds, 1.0, short="crop")


def test_cli_resample_train_then_finetune_at_the_models_rate(tmp_path, capsys):
    import json

    from myovox.cli.main import main

    data = tmp_path / "data"
    synth = ["synth", str(data), "--subjects", "1", "--sessions", "2", "--batches", "1", "--repetitions", "2"]
    assert main([*synth, "--conditions", "vocalized", "--no-raw", "--difficulty", "easy"]) == 0
    model = tmp_path / "m"
    pytest.importorskip("torch")
    train = ["train", str(data), "--model", "speechnet", "--epochs", "1", "--out", str(model), "--resample", "250"]
    train += ["--sessions", "1"]
    assert main(train) == 0
    card = json.loads((model / "model.json").read_text())
    assert card["sfreq"] == 250.0 and card["n_times"] == 350  # 1.4 s at 250 Hz
    # new data at 500 Hz are resampled to the model's 250 Hz without being asked
    ft = ["finetune", str(model), str(data), "--out", str(tmp_path / "ft"), "--sessions", "2", "--epochs", "1"]
    assert main(ft) == 0
    assert json.loads((tmp_path / "ft" / "model.json").read_text())["sfreq"] == 250.0
    assert main([*ft[:4], str(tmp_path / "ft2"), "--resample", "500"]) == 2
    assert "new data are resampled to the model's rate" in capsys.readouterr().err
    res = tmp_path / "res"
    ev = ["evaluate", str(data), "--protocol", "inter_session", "--model", "lda", "--resample", "250"]
    assert main([*ev, "--out", str(res), "--no-report"]) == 0
    assert json.loads((res / "results.json").read_text())["folds"]


def test_a_default_band_that_misses_the_signal_is_reported():
    from myovox.preprocessing.pipeline import band_power_outside, preprocess_dataset, resolve_filter

    rng = np.random.default_rng(0)
    t = np.arange(2500) / 250.0
    low = (np.sin(2 * np.pi * 8 * t) + 0.1 * rng.normal(size=t.size))[None].repeat(2, 0)  # a 0.5-40 Hz device
    rec = Recording(low.astype(np.float32), 250.0, ["a", "b"], np.zeros(t.size, np.int64), {0: "rest"}, {})
    design = resolve_filter({"highpass": 20.0, "notch": 50.0}, 250.0)
    assert band_power_outside([rec], design) > 0.8
    assert band_power_outside([rec], resolve_filter({"highpass": 2.0, "notch": None}, 250.0)) < 0.05
    ds = Dataset([rec], "low", window_s=1.0, info={"filter": {"highpass": 20.0, "notch": 50.0}, "check_band": True})
    with pytest.warns(DataQualityWarning, match=r"pass band 20-125 Hz leaves out \d+ % of the signal power"):
        preprocess_dataset(ds)
    ds.info["check_band"] = False  # a band chosen for the data (an adapter's or a card's) is not second-guessed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        preprocess_dataset(ds)

"""Live label-free adaptation (issue 12): statistics from the stream, guarded against bursts of one class."""

from __future__ import annotations

import numpy as np
import pytest

from myovox import Recording, ValidationError
from myovox.adaptation.online import OnlineAdapter
from myovox.models.card import class_rms
from myovox.realtime.recognizer import Recognizer
from myovox.streams.replay import ReplayStream


class EnergyModel:
    """Class 1 when the window's mean power over channels is high (trained level: rest 1, class 1 16)."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X):
        power = (X.astype(np.float64) ** 2).mean(axis=(1, 2))
        p1 = 1.0 / (1.0 + np.exp(-(power - 4.0)))
        return np.column_stack([1 - p1, p1])


#: the training data's levels: rest RMS 1, class 1 RMS 4, on each of 3 channels
LEVELS = {"0": [1.0, 1.0, 1.0], "1": [4.0, 4.0, 4.0]}


def _bursty(n_bursts=6, sfreq=200.0, n_ch=3, gain=1.0, seed=0):
    rng = np.random.default_rng(seed)
    n = int(sfreq * 4 * n_bursts)
    data = rng.normal(size=(n_ch, n))
    labels = np.zeros(n, int)
    for b in range(n_bursts):
        a = int((b * 4 + 1.5) * sfreq)
        data[:, a : a + int(sfreq)] *= 4.0
        labels[a : a + int(sfreq)] = 1
    return Recording(data * gain, sfreq, labels=labels, label_names={0: "rest", 1: "go"})


def _windows(level: float, n: int, seed: int = 0) -> np.ndarray:
    return (level * np.random.default_rng(seed).normal(size=(n, 3, 50))).astype(np.float32)


def test_class_rms_is_per_class_and_per_channel():
    X = np.ones((4, 2, 5))
    X[2:, 1] = 3.0
    assert class_rms(X, np.array([0, 0, 1, 1])) == {"0": [1.0, 1.0], "1": [1.0, 3.0]}


def test_standardize_brings_a_quieter_session_back_to_the_training_levels():
    model = EnergyModel()
    ad = OnlineAdapter(model, "standardize", class_rms=LEVELS, min_windows=10)
    X = _windows(0.4, 30)  # the band sits looser today: everything 0.4x
    for i in range(0, 30, 5):
        ad.update(X[i : i + 5], model.predict_proba(ad.transform(X[i : i + 5])))
    np.testing.assert_allclose(ad.gains, 2.5, rtol=0.1)
    assert ad.state()["n_seen"] == 30 and ad.state()["remembered"] == {"0": 30}
    ad.reset()
    assert ad.gains is None and ad.n_seen == 0 and ad.model is model


def test_a_burst_of_one_class_does_not_drag_the_statistics():
    model = EnergyModel()
    ad = OnlineAdapter(model, "standardize", class_rms=LEVELS, per_class=16, min_windows=10)
    rest = _windows(1.0, 40)
    ad.update(rest, model.predict_proba(rest))
    before = ad.gains.copy()
    burst = _windows(4.0, 400, seed=1)  # a minute of one command, ten times the rest before it
    for i in range(0, 400, 20):
        ad.update(burst[i : i + 20], model.predict_proba(burst[i : i + 20]))
    assert len(ad.memory[1]) == 16 and len(ad.memory[0]) == 16  # each class's memory is capped
    np.testing.assert_allclose(ad.gains, before, rtol=0.1)  # and weighed by its own training level
    # an unguarded estimate (all windows pooled against the pooled training level) would be dragged down
    pooled = np.sqrt(np.mean([1.0, 16.0]) / np.mean(np.concatenate([rest, burst]) ** 2))
    assert pooled < 0.8 * float(before.mean())


def test_unsure_windows_are_not_remembered_and_nothing_moves_before_min_windows():
    model = EnergyModel()
    ad = OnlineAdapter(model, "standardize", class_rms=LEVELS, min_windows=10, min_confidence=0.9)
    unsure = np.full((5, 3, 50), 2.0, dtype=np.float32)  # power 4: p = 0.5 for both classes
    ad.update(unsure, model.predict_proba(unsure))
    assert ad.n_seen == 0 and ad.gains is None
    X = _windows(1.0, 5)
    ad.update(X, model.predict_proba(X))
    assert ad.n_seen == 5 and ad.gains is None  # fewer than min_windows
    np.testing.assert_array_equal(ad.transform(X), X)


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ValidationError, match="class_rms"):
        OnlineAdapter(EnergyModel(), "standardize")
    with pytest.raises(ValidationError, match="batch norm"):
        OnlineAdapter(EnergyModel(), "bn")
    with pytest.raises(ValidationError, match="method"):
        OnlineAdapter(EnergyModel(), "mean", class_rms=LEVELS)
    with pytest.raises(ValidationError, match="max_gain"):
        OnlineAdapter(EnergyModel(), "standardize", class_rms=LEVELS, max_gain=0.5)


def test_recognizer_adapts_to_a_quieter_stream_and_starts_over_with_each_stream():
    rec = _bursty(gain=0.4)
    kw = dict(sfreq=rec.sfreq, window_s=0.5, n_channels=3, label_names=rec.label_names, refractory_s=1.0)
    plain = Recognizer(EnergyModel(), **kw).run(ReplayStream(rec))
    r = Recognizer(EnergyModel(), adapt="standardize", class_rms=LEVELS, **kw)
    adapted = r.run(ReplayStream(rec))
    assert plain["n_events"] == 0  # the quieter band hides every command from the model as trained
    assert adapted["n_events"] >= 5 and adapted["adaptation"]["n_adapted"] > 0
    assert all(rec.labels[int(e.t_end * rec.sfreq) - 1] == 1 for e in r.events)
    again = r.run(ReplayStream(rec))  # a new stream: statistics from scratch, the same events
    assert again["n_events"] == adapted["n_events"] and again["adaptation"]["n_seen"] == adapted["adaptation"]["n_seen"]


def test_live_bn_re_estimates_on_the_remembered_windows():
    pytest.importorskip("torch")
    from myovox.models.neural import SpeechNetClassifier

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    X = rng.normal(size=(60, 4, 128)).astype(np.float32)
    for k in range(3):
        X[y == k, k] *= 3.0
    model = SpeechNetClassifier(n_epochs=2, patience=None, valid_size=0.0, random_state=0, n_threads=1).fit(X, y)
    ad = OnlineAdapter(model, "bn", min_windows=10, update_every=10, min_confidence=0.0)
    new = 5.0 * X
    for i in range(0, 60, 10):
        ad.update(new[i : i + 10], ad.model.predict_proba(new[i : i + 10]))
    assert ad.n_adapted >= 5 and ad.model is not model
    assert sum(ad.state()["remembered"].values()) <= 3 * ad.per_class

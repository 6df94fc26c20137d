"""Live label-free adaptation (issue 12): statistics from the stream, guarded against bursts of one class."""

from __future__ import annotations

import numpy as np
import pytest

from myovox import Recording, ValidationError
from myovox.adaptation.online import OnlineAdapter
from myovox.models.card import quiet_level
from myovox.realtime.recognizer import Recognizer
from myovox.streams.replay import ReplayStream


class EnergyModel:
    """Class 1 when the window's mean power over channels is high (trained level: rest 1, class 1 16)."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X):
        power = (X.astype(np.float64) ** 2).mean(axis=(1, 2))
        p1 = 1.0 / (1.0 + np.exp(-(power - 4.0)))
        return np.column_stack([1 - p1, p1])


#: the training data's quiet level: the 10th percentile of 0.5 s rest windows' RMS (unit noise), 3 channels
QUIET = [0.93, 0.93, 0.93]


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


def test_quiet_level_is_a_low_percentile_of_the_rest_windows():
    X = np.ones((20, 2, 5))
    X[:, 1] *= np.arange(1, 21)[:, None]  # channel 1: window RMS 1..20
    level = quiet_level(X)
    assert level[0] == pytest.approx(1.0) and level[1] == pytest.approx(np.percentile(np.arange(1, 21), 10))
    y = np.r_[np.zeros(10, int), np.ones(10, int)]
    X[y == 1] *= 100.0  # louder windows of a command do not count when the rest class is known
    assert quiet_level(X, y, rest_label=0) == pytest.approx([1.0, np.percentile(np.arange(1, 11), 10)])


def _feed(ad, X, step=10):
    for i in range(0, len(X), step):
        ad.update(X[i : i + step])


def test_standardize_brings_a_quieter_session_back_to_the_training_level():
    ad = OnlineAdapter(EnergyModel(), "standardize", quiet_level=quiet_level(_windows(1.0, 200)), min_windows=10)
    _feed(ad, _windows(0.4, 60, seed=1))  # the band sits looser today: everything 0.4x
    np.testing.assert_allclose(ad.gains, 2.5, rtol=0.1)
    assert ad.state()["n_seen"] == 60 and ad.state()["remembered"] == 60
    ad.reset()
    assert ad.gains is None and ad.n_seen == 0 and ad.model is ad.base


def test_a_burst_of_one_class_does_not_drag_the_statistics():
    ad = OnlineAdapter(EnergyModel(), "standardize", quiet_level=quiet_level(_windows(1.0, 200)), memory=300)
    _feed(ad, _windows(1.0, 100, seed=1))
    before = ad.gains.copy()
    _feed(ad, _windows(1.0, 50, seed=3))
    _feed(ad, _windows(4.0, 150, seed=2))  # half of the last minute: one command, 4x louder
    np.testing.assert_allclose(ad.gains, before, rtol=0.1)
    assert len(ad.levels) == 300  # the memory is bounded
    # a plain running RMS over the same minute would more than double: gains would fall below 0.5
    recent = np.concatenate([_windows(1.0, 150, seed=1), _windows(4.0, 150, seed=2)])
    assert np.sqrt(np.mean(recent.astype(np.float64) ** 2)) > 2.0


def test_bn_memory_is_per_class_and_capped():
    class FakeNet(EnergyModel):
        def _adapt_bn(self):  # marks a model with batch norm; adapt() is not reached below
            pass

    ad = OnlineAdapter(FakeNet(), "bn", per_class=8, min_windows=10_000, min_confidence=0.9)
    loud, unsure = _windows(4.0, 100), np.full((5, 3, 50), 2.0, dtype=np.float32)  # power 4: p = 0.5
    ad.update(loud, ad.model.predict_proba(loud))
    ad.update(unsure, ad.model.predict_proba(unsure))
    assert ad.state()["remembered"] == {"1": 8} and ad.n_seen == 100  # unsure windows are not remembered
    with pytest.raises(ValidationError, match="proba"):
        ad.update(loud)


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ValidationError, match="quiet_level"):
        OnlineAdapter(EnergyModel(), "standardize")
    with pytest.raises(ValidationError, match="batch norm"):
        OnlineAdapter(EnergyModel(), "bn")
    with pytest.raises(ValidationError, match="method"):
        OnlineAdapter(EnergyModel(), "mean", quiet_level=QUIET)
    with pytest.raises(ValidationError, match="max_gain"):
        OnlineAdapter(EnergyModel(), "standardize", quiet_level=QUIET, max_gain=0.5)
    ad = OnlineAdapter(EnergyModel(), "standardize", quiet_level=QUIET)
    with pytest.raises(ValidationError, match="another channel layout"):
        ad.update(np.ones((2, 5, 50), dtype=np.float32))


def test_recognizer_adapts_to_a_quieter_stream_and_starts_over_with_each_stream():
    rec = _bursty(gain=0.4)
    kw = dict(sfreq=rec.sfreq, window_s=0.5, n_channels=3, label_names=rec.label_names, refractory_s=1.0)
    plain = Recognizer(EnergyModel(), **kw).run(ReplayStream(rec))
    r = Recognizer(EnergyModel(), adapt="standardize", quiet_level=QUIET, **kw)
    adapted = r.run(ReplayStream(rec))
    assert plain["n_events"] == 0  # the quieter band hides every command from the model as trained
    assert adapted["n_events"] >= 5 and adapted["adaptation"]["n_adapted"] > 0
    # every command's window overlaps a burst (the first may end just after it, while the gains settle)
    assert all(rec.labels[int(e.t_start * rec.sfreq) : int(e.t_end * rec.sfreq)].any() for e in r.events)
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

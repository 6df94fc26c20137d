"""The recogniser over lost samples: gap fill that the causal filter tolerates, suppression, votes."""

import numpy as np
import pytest

from myovox import ValidationError
from myovox.realtime import PostProcessor
from myovox.realtime.recognizer import Recognizer, mains_period_samples
from myovox.streams.base import Chunk


class Rest:
    classes_ = np.array([0, 1])

    def predict_proba(self, X):
        return np.tile([0.9, 0.1], (len(X), 1))


def test_mains_period_samples():
    assert mains_period_samples(500.0, 50.0) == 10
    assert mains_period_samples(500.0, 60.0) == 25  # three periods of 60 Hz
    assert mains_period_samples(1000.0, 50.0) == 20
    assert mains_period_samples(512.0, 50.0) == 10  # no whole number: the nearest period


def _mains(n, sfreq=500.0, n_ch=2):
    t = np.arange(n) / sfreq
    return 3000.0 + 300.0 * np.sin(2 * np.pi * 50.0 * t + np.arange(n_ch)[:, None])  # DC + mains


@pytest.mark.parametrize("chunk", [7, 40, 1000])
def test_repeat_fill_continues_mains_and_dc_so_the_filter_does_not_ring(chunk):
    """Lost samples of DC + 50 Hz mains: the repeat fill gives back the true signal, and the
    filtered output stays as small as without loss; holding the last value rings."""
    from myovox.preprocessing.filters import design_filter

    sfreq, n = 500.0, 3000
    x = _mains(n)
    missing = np.zeros(n, bool)
    for a in (1003, 1500, 2000):
        missing[a : a + 4] = True  # one lost BioGAP packet each
    missing[2500:2560] = True  # a burst of 15 packets
    out = {}
    for fill in ("repeat", "hold"):
        r = Recognizer(
            Rest(),
            sfreq=sfreq,
            window_s=0.4,
            n_channels=2,
            filter_design=design_filter(sfreq),
            gap_fill=fill,
            keep_decisions=True,
        )
        assert r.fill_lag == 10
        xs = x.copy()
        xs[:, missing] = np.nan
        cleaned = []
        for a in range(0, n, chunk):
            d, _m = r._clean(xs[:, a : a + chunk], missing[a : a + chunk])
            cleaned.append(d)
        out[fill] = np.concatenate(cleaned, axis=1)
        assert r.stats["n_missing_samples"] == missing.sum()
    np.testing.assert_allclose(out["repeat"], x, rtol=1e-9)  # a pure periodic signal is restored exactly
    assert np.abs(out["hold"] - x).max() > 100


def test_nan_never_reaches_the_filter_and_windows_over_gaps_are_suppressed():
    from myovox.preprocessing.filters import design_filter

    sfreq = 500.0
    r = Recognizer(
        Rest(),
        sfreq=sfreq,
        window_s=0.4,
        step_s=0.1,
        n_channels=2,
        filter_design=design_filter(sfreq),
        max_missing=0.25,
        keep_decisions=True,
    )
    x = _mains(2500) + np.random.default_rng(0).normal(0, 20, (2, 2500))
    missing = np.zeros(2500, bool)
    missing[1000:1100] = True  # 0.2 s: half of a 0.4 s window
    x[:, missing] = np.nan
    for a in range(0, 2500, 20):
        r.process(Chunk(x[:, a : a + 20], a, sfreq, missing=missing[a : a + 20]))
    assert r.stats["n_suppressed"] > 0 and r.stats["n_windows"] == len(r.decisions)
    assert all(np.isfinite(p).all() for d, p in zip(r.decisions, r.probas, strict=False) if not d.suppressed)
    last = r.buffer.latest(200)[0]
    assert np.isfinite(last).all() and np.abs(last).max() < 200  # the filter state survived the gap
    sup = [d for d in r.decisions if d.suppressed]
    assert all(d.t_start < 1100 / sfreq and d.t_end > 1000 / sfreq for d in sup)


def test_a_suppressed_window_clears_the_vote_history():
    pp = PostProcessor([0, 1], {0: "rest", 1: "go"}, threshold=0.5, n_votes=3, min_votes=2, refractory_s=0.0)
    go = np.array([0.1, 0.9])
    assert pp.update(pp.decide(go, 0.0, 1.0)) is None  # one vote
    assert pp.update(pp.decide(go, 0.1, 1.1, suppressed=True)) is None
    assert pp.update(pp.decide(go, 0.2, 1.2)) is None  # only one vote since the gap
    assert pp.update(pp.decide(go, 0.3, 1.3)).label == "go"


def test_recognizer_validates_gap_options():
    with pytest.raises(ValidationError, match="gap_fill"):
        Recognizer(Rest(), sfreq=500.0, window_s=0.4, n_channels=2, gap_fill="nan")
    with pytest.raises(ValidationError, match="max_missing"):
        Recognizer(Rest(), sfreq=500.0, window_s=0.4, n_channels=2, max_missing=1.0)
    r = Recognizer(Rest(), sfreq=500.0, window_s=0.4, n_channels=2, filter_design={"sfreq": 500.0, "notch": 60.0})
    assert r.mains_hz == 60.0 and r.fill_lag == 25


def test_hold_fill_holds_each_channels_last_good_value_across_chunks():
    r = Recognizer(Rest(), sfreq=500.0, window_s=0.4, n_channels=2, gap_fill="hold")
    nan = np.nan
    d, m = r._clean(np.array([[1.0, nan, nan, 4.0, nan], [nan, 2.0, nan, nan, 5.0]]), None)
    np.testing.assert_array_equal(d, [[1, 1, 1, 4, 4], [0, 2, 2, 2, 5]])  # nothing good yet: 0
    assert m.all() and r.stats["n_missing_samples"] == 5
    d, m = r._clean(np.array([[nan, 7.0], [nan, nan]]), np.array([False, False]))
    np.testing.assert_array_equal(d, [[4, 7], [5, 5]])  # carried over from the previous chunk

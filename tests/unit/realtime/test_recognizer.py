"""Ring buffer, post-processing and the recogniser (with a small deterministic model)."""

import json

import numpy as np
import pytest

from myovox import Recording, StreamError, ValidationError
from myovox.realtime import PostProcessor, RingBuffer
from myovox.realtime.outputs import JsonLinesOutput
from myovox.realtime.recognizer import Recognizer
from myovox.streams.replay import ReplayStream


class EnergyModel:
    """Class 1 when the window's mean power over channels is high, else rest (0)."""

    classes_ = np.array([0, 1])

    def predict_proba(self, X):
        power = (X.astype(np.float64) ** 2).mean(axis=(1, 2))
        p1 = 1.0 / (1.0 + np.exp(-(power - 4.0)))
        return np.column_stack([1 - p1, p1])


def _bursty(n_bursts=5, sfreq=200.0, n_ch=3, seed=0):
    rng = np.random.default_rng(seed)
    n = int(sfreq * 4 * n_bursts)
    data = rng.normal(size=(n_ch, n))
    labels = np.zeros(n, int)
    for b in range(n_bursts):
        a = int((b * 4 + 1.5) * sfreq)
        data[:, a : a + int(sfreq)] *= 4.0
        labels[a : a + int(sfreq)] = 1
    return Recording(data, sfreq, labels=labels, label_names={0: "rest", 1: "go"})


def test_ring_buffer_keeps_last_samples():
    rb = RingBuffer(2, 5)
    rb.append(np.arange(6).reshape(2, 3))
    rb.append(np.arange(6, 14).reshape(2, 4), np.array([False, True, False, False]))
    data, miss = rb.latest(5)
    np.testing.assert_array_equal(data, [[2, 6, 7, 8, 9], [5, 10, 11, 12, 13]])
    np.testing.assert_array_equal(miss, [False, False, True, False, False])
    assert rb.n_written == 7 and len(rb) == 5
    with pytest.raises(IndexError):
        rb.latest(6)


def test_postprocessor_one_event_per_utterance_and_rejection():
    pp = PostProcessor(
        [0, 1, 2], {0: "rest", 1: "up", 2: "down"}, threshold=0.6, n_votes=3, min_votes=2, refractory_s=0.5
    )
    events = []
    probs = [[0.1, 0.8, 0.1]] * 8 + [[0.9, 0.05, 0.05]] * 3 + [[0.1, 0.8, 0.1]] * 3 + [[0.3, 0.35, 0.35]] * 4
    for i, p in enumerate(probs):
        ev = pp.update(pp.decide(np.array(p), i * 0.1, i * 0.1 + 1.0))
        if ev:
            events.append(ev)
    # 8 windows of "up" give one event; rest re-arms; 3 more "up" give the second; uncertain never fires
    assert [e.label for e in events] == ["up", "up"]
    assert events[0].n_votes == 2
    assert json.loads(events[0].to_json())["label"] == "up"
    with pytest.raises(ValidationError, match="min_votes"):
        PostProcessor([0, 1], n_votes=2, min_votes=3)


def test_recognizer_fires_once_per_burst_and_matches_offline():
    rec = _bursty()
    model = EnergyModel()
    r = Recognizer(
        model,
        sfreq=rec.sfreq,
        window_s=0.5,
        step_s=0.1,
        ch_names=rec.ch_names,
        label_names=rec.label_names,
        refractory_s=1.0,
        keep_decisions=True,
    )
    with ReplayStream(rec, chunk_s=0.037) as s:
        stats = r.run(s)
    assert stats["n_events"] == 5
    assert [e.label for e in r.events] == ["go"] * 5
    # every event lies inside a burst
    for e in r.events:
        assert rec.labels[int(e.t_end * rec.sfreq) - 1] == 1
    # parity: the same windows cut offline give the same probabilities
    n_win, n_step = 100, 20
    ends = np.arange(n_win, rec.n_times + 1, n_step)
    X = np.stack([rec.data[:, e - n_win : e] for e in ends]).astype(np.float32)
    offline = model.predict_proba(X)
    np.testing.assert_allclose(np.array(r.probas), offline, rtol=1e-6)
    assert [d.t_end for d in r.decisions] == pytest.approx(list(ends / rec.sfreq))


def test_recognizer_suppresses_windows_with_lost_samples_and_holds_nan():
    rec = _bursty(n_bursts=2)
    data = rec.data.copy()
    data[:, 300:340] = np.nan  # 0.2 s lost inside the first burst
    r = Recognizer(
        EnergyModel(), sfreq=rec.sfreq, window_s=0.5, step_s=0.1, n_channels=3, max_missing=0.1, keep_decisions=True
    )
    r.process(data)
    assert r.stats["n_missing_samples"] == 40
    assert r.stats["n_suppressed"] > 0
    assert all(np.isfinite(p).all() or d.suppressed for d, p in zip(r.decisions, r.probas, strict=False))


def test_recognizer_rejects_mismatched_stream(tmp_path):
    rec = _bursty(n_bursts=1)
    r = Recognizer(EnergyModel(), sfreq=rec.sfreq, window_s=0.5, n_channels=4)
    with ReplayStream(rec) as s, pytest.raises(StreamError, match="has 3 channels but the model expects 4"):
        r.bind(s)
    r2 = Recognizer(EnergyModel(), sfreq=500.0, window_s=0.5, n_channels=3)
    with ReplayStream(rec) as s, pytest.raises(StreamError, match="200 Hz but the model was trained at 500 Hz"):
        r2.bind(s)


def test_json_lines_output(tmp_path):
    rec = _bursty(n_bursts=2)
    out = tmp_path / "events.jsonl"
    r = Recognizer(EnergyModel(), sfreq=rec.sfreq, window_s=0.5, n_channels=3, label_names=rec.label_names)
    r.run(ReplayStream(rec), outputs=[JsonLinesOutput(out)])
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == 2
    assert set(lines[0]) >= {"label", "confidence", "t_start", "t_end", "latency_ms"}


def test_event_metrics_counts_hits_false_activations_and_latency():
    from myovox.evaluation.streaming import event_metrics
    from myovox.realtime.postprocess import CommandEvent

    sfreq = 100.0
    labels = np.zeros(3600, int)  # 36 s
    labels[500:700] = 1  # cue 1: 5-7 s
    labels[1500:1700] = 2  # cue 2: 15-17 s

    def ev(t, lab):
        return CommandEvent(str(lab), lab, 0.9, t - 1, t, 1.0)

    events = [ev(5.6, 1), ev(6.0, 1), ev(16.0, 1), ev(30.0, 2)]
    m = event_metrics(events, labels=labels, sfreq=sfreq, tolerance_s=1.0)
    assert m["n_cues"] == 2 and m["n_correct"] == 1
    assert m["n_wrong_or_repeated"] == 2  # the repeat at 6.0 s and the wrong label at 16 s
    assert m["n_false_activations"] == 1  # 30 s lies in rest
    assert m["precision"] == pytest.approx(0.25) and m["recall"] == pytest.approx(0.5)
    assert m["latency_s_median"] == pytest.approx(0.6)
    assert m["false_activations_per_hour"] == pytest.approx(1 / ((36 - 6) / 3600))


def test_run_starts_every_stream_from_a_clean_state():
    """Two runs over the same replay give the same events; the second does not inherit the first's state."""
    rec = _bursty(n_bursts=3)
    r = Recognizer(EnergyModel(), sfreq=rec.sfreq, window_s=0.5, n_channels=3, label_names=rec.label_names)
    first = r.run(ReplayStream(rec))
    events1 = [e.to_dict() for e in r.events]
    second = r.run(ReplayStream(rec))
    events2 = [e.to_dict() for e in r.events]
    assert first["n_windows"] == second["n_windows"] and first["n_events"] == second["n_events"]
    assert [(e["label_id"], e["t_end"]) for e in events1] == [(e["label_id"], e["t_end"]) for e in events2]
    r.run(ReplayStream(rec), reset=False)  # continuing keeps counting
    assert r.stats["n_windows"] >= 2 * first["n_windows"]

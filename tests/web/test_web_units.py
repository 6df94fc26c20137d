"""Pieces of the dashboard without a server: display decimation, channel quality, messages, live score."""

from __future__ import annotations

import json

import numpy as np
import pytest

from myovox.exceptions import ValidationError
from myovox.web.messages import MAX_MESSAGE_CHARS, parse_command
from myovox.web.session import LiveScore
from myovox.web.signals import ChannelQuality, Decimator, fill_hold

SFREQ = 500.0


def test_decimator_keeps_min_and_max_of_each_bucket_across_chunks() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 1003))
    dec = Decimator(3, SFREQ, buckets_per_s=100)  # 5 samples per bucket, no filter
    for a, b in ((0, 7), (7, 400), (400, 1003)):
        dec.push(x[:, a:b])
    first, lo, hi = dec.pop()
    assert first == 0 and lo.shape == (3, 200)  # 1003 // 5 complete buckets; 3 samples carried
    blocks = x[:, :1000].reshape(3, 200, 5)
    np.testing.assert_allclose(lo, blocks.min(axis=2))
    np.testing.assert_allclose(hi, blocks.max(axis=2))
    dec.push(x[:, :2])
    first2, lo2, _ = dec.pop()
    assert first2 == 200 and lo2.shape == (3, 1)  # the carried 3 + 2 new samples


def test_decimator_shows_lost_samples_as_gaps_and_filters_without_nan() -> None:
    from myovox.preprocessing.filters import FilterDesign

    t = np.arange(2000) / SFREQ
    x = np.vstack([100 + np.sin(2 * np.pi * 80 * t), 50 + np.sin(2 * np.pi * 30 * t)])
    missing = np.zeros(2000, dtype=bool)
    missing[1000:1010] = True  # two whole buckets lost
    x[:, 1000:1010] = np.nan
    dec = Decimator(2, SFREQ, buckets_per_s=100, filter_design=FilterDesign(SFREQ, highpass=20.0, notch=50.0))
    dec.push(x, missing)
    _, lo, hi = dec.pop()
    assert np.isnan(lo[:, 200:202]).all() and np.isnan(hi[:, 200:202]).all()
    assert np.isfinite(lo[:, 202:]).all()  # the filter state survived the gap
    assert abs(np.nanmean((lo + hi)[:, 300:]) / 2) < 5  # DC removed by the high-pass


def test_fill_hold_uses_the_previous_good_value() -> None:
    x = np.array([[1.0, np.nan, np.nan, 4.0], [np.nan, 2.0, np.nan, 3.0]])
    out = fill_hold(x, np.isnan(x), np.array([9.0, 8.0]))
    np.testing.assert_array_equal(out, [[1, 1, 1, 4], [8, 2, 2, 3]])


def _quality(x: np.ndarray, missing: np.ndarray | None = None) -> dict[str, list[str]]:
    q = ChannelQuality([f"c{i}" for i in range(x.shape[0])], SFREQ, mains_hz=50.0)
    q.update(x, missing)
    return {c["name"]: c["flags"] for c in q.report()}


def test_quality_flags_flat_saturated_mains_and_lost_channels() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(500) / SFREQ
    x = 20 * rng.normal(size=(8, 500)) + 40 * np.sin(2 * np.pi * 50 * t)  # common hum: not a contact problem
    x[1] = 3.0  # flat
    x[2] = np.clip(x[2], -15, 15)  # clipped at a rail
    x[3] += 3000 * np.sin(2 * np.pi * 50 * t)  # this electrode picks up far more hum than the others
    x[4, 100:180] = np.nan  # 16 % lost
    flags = _quality(x)
    assert flags["c0"] == [] and flags["c5"] == []
    assert flags["c1"] == ["flat"]
    assert flags["c2"] == ["saturated"]
    assert flags["c3"] == ["mains"]
    assert flags["c4"] == ["lost"]
    q = ChannelQuality(["a", "b"], SFREQ)
    q.update(x[:2], np.r_[np.zeros(400, bool), np.ones(100, bool)])  # a lost packet run: every channel
    rep = q.report()
    assert all("lost" in c["flags"] and c["level"] == "bad" for c in rep)


def test_quality_is_unknown_before_any_signal() -> None:
    q = ChannelQuality(["a"], SFREQ)
    assert q.report()[0]["level"] == "unknown"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"type": "launch"}', "Unknown message type"),
        ('{"type": "start"}', "needs the field 'source'"),
        ('{"type": "start", "source": 3}', "must be a string"),
        ('{"type": "start", "source": "demo:2", "pth": "x"}', "Unknown field 'pth'"),
        ('{"type": "finetune", "epochs": "5"}', "must be an integer"),
        ('{"type": "finetune", "epochs": true}', "must be an integer"),
        ('{"type": "drawn", "seq": 1, "t": NaN}', "not valid JSON"),
        ('{"type": "select_model", "model": {"$ne": 1}}', "must be a string"),
        ('{"type": "ping", "id": [1]}', "short string or an integer"),
        ('{"type": "start", "source": "' + "x" * 600 + '"}', "at most 512"),
        ("[" * 5000 + "]" * 5000, "refused"),
    ],
)
def test_malformed_commands_are_refused_with_a_reason(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        parse_command(text)


def test_commands_are_parsed_with_their_fields() -> None:
    cmd = parse_command(json.dumps({"type": "start", "source": "file", "path": "a.bio", "id": 7}))
    assert cmd == {"type": "start", "id": 7, "source": "file", "path": "a.bio"}
    assert parse_command('{"type": "record_pause"}') == {"type": "record_pause", "id": None}
    with pytest.raises(ValidationError, match="binary"):
        parse_command(b'{"type": "ping"}')
    with pytest.raises(ValidationError, match=str(MAX_MESSAGE_CHARS)):
        parse_command(" " * (MAX_MESSAGE_CHARS + 1))


def test_live_score_matches_events_to_cues() -> None:
    s = LiveScore(10.0, tolerance_s=1.0)
    labels = np.zeros(200, dtype=int)
    labels[20:40] = 1  # cue "1" from 2.0 to 4.0 s
    labels[100:120] = 2  # cue "2" from 10 to 12 s
    s.labels(labels[:50], 0)
    assert s.event(4.5, 1) == "correct"  # within the tolerance after the cue
    assert s.event(4.6, 1) == "wrong"  # a repeat: the cue is already matched
    assert s.event(7.0, 2) == "false"  # during rest
    s.labels(labels[50:], 50)
    assert s.event(10.5, 1) == "wrong"  # during another word's cue
    summary = s.summary()
    assert summary["n_cues"] == 2 and summary["n_correct"] == 1
    assert summary["precision"] == pytest.approx(1 / 4, abs=1e-3) and summary["recall"] == 0.5
    assert LiveScore(10.0).summary() == {} and LiveScore(10.0).event(1.0, 1) is None

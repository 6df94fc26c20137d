"""Replay, LSL (real loopback stream) and BrainFlow (synthetic board) sources."""

import threading

import numpy as np
import pytest

from myovox import Recording, StreamError, ValidationError
from myovox.streams import open_stream
from myovox.streams.replay import ReplayStream


def _rec(n_ch=4, n=1000, sfreq=500.0):
    rng = np.random.default_rng(1)
    labels = np.zeros(n, int)
    labels[300:500] = 2
    return Recording(rng.normal(size=(n_ch, n)), sfreq, labels=labels, meta={"source": "mem"})


def test_replay_delivers_every_sample_in_order():
    rec = _rec()
    with ReplayStream(rec, chunk_s=0.034) as s:
        chunks = list(s)
    data = np.concatenate([c.data for c in chunks], axis=1)
    np.testing.assert_array_equal(data, rec.data)
    np.testing.assert_array_equal(np.concatenate([c.labels for c in chunks]), rec.labels)
    assert [c.first_sample for c in chunks][:3] == [0, 17, 34]
    assert s.stats.n_samples == 1000 and chunks[-1].t_end == pytest.approx(2.0)


def test_replay_realtime_uses_injected_clock():
    now = [0.0]
    slept = []

    def sleep(dt):
        slept.append(dt)
        now[0] += dt

    with ReplayStream(_rec(n=500), chunk_s=0.1, realtime=True, clock=lambda: now[0], sleep=sleep) as s:
        n = sum(c.n_samples for c in s)
    assert n == 500
    assert now[0] == pytest.approx(1.0)  # 500 samples at 500 Hz take one second of (fake) time
    assert len(slept) == 10


def test_replay_marks_nan_samples_missing():
    rec = _rec(n=100)
    data = rec.data.copy()
    data[:, 10:14] = np.nan
    with ReplayStream(rec.copy(data=data), chunk_s=1.0) as s:
        c = s.read()
    assert c.missing.sum() == 4 and s.stats.n_lost == 4


def test_read_before_start_and_bad_spec():
    with pytest.raises(StreamError, match="not started"):
        ReplayStream(_rec()).read()
    with pytest.raises(ValidationError, match="Did you mean 'replay'"):
        open_stream("replai:foo.bio")
    with pytest.raises(ValidationError, match="KIND:TARGET"):
        open_stream("foo.bio")


def test_lsl_loopback_roundtrip():
    pytest.importorskip("pylsl")
    from myovox.streams.lsl import LSLStream, publish_recording

    rec = _rec(n_ch=3, n=600, sfreq=200.0)
    stop = threading.Event()
    name = f"myovox-test-{np.random.default_rng().integers(1e9)}"
    t = threading.Thread(
        target=publish_recording,
        args=(rec, name),
        kwargs=dict(realtime=True, chunk_s=0.05, stop_event=stop, wait_for_consumer=10.0),
        daemon=True,
    )
    t.start()
    got = []
    try:
        with LSLStream(name, resolve_timeout=10.0, stall_timeout=1.0, reconnect=0) as s:
            assert s.sfreq == 200.0 and s.ch_names == rec.ch_names
            while sum(c.n_samples for c in got) < 600:
                got.append(s.read(timeout=5.0))
    finally:
        stop.set()
        t.join(5)
    data = np.concatenate([c.data for c in got], axis=1)
    np.testing.assert_allclose(data, rec.data.astype(np.float32), rtol=1e-6)


def test_lsl_missing_stream_is_a_clear_error():
    pytest.importorskip("pylsl")
    from myovox.streams.lsl import LSLStream

    with pytest.raises(StreamError, match="no LSL stream with name='nope-not-here'"):
        LSLStream("nope-not-here", resolve_timeout=0.5).start()


def test_brainflow_synthetic_board():
    pytest.importorskip("brainflow")
    from myovox.streams.brainflow import BrainFlowStream

    with BrainFlowStream("synthetic") as s:
        assert s.sfreq == 250.0 and s.n_channels == 16
        n = 0
        while n < 50:
            n += s.read(timeout=5.0).n_samples
    assert not s.running
    with pytest.raises(ValidationError, match="Did you mean 'cyton'"):
        BrainFlowStream.board_id("cytom")


def test_brainflow_playback_board_replays_a_recorded_file(tmp_path):
    pytest.importorskip("brainflow")
    import time

    from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams
    from brainflow.data_filter import DataFilter

    from myovox.streams.brainflow import BrainFlowStream

    BoardShim.disable_board_logger()
    board = BoardShim(BoardIds.SYNTHETIC_BOARD.value, BrainFlowInputParams())
    board.prepare_session()
    board.start_stream()
    time.sleep(1.0)
    recorded = board.get_board_data()
    board.stop_stream()
    board.release_session()
    f = tmp_path / "session.csv"
    DataFilter.write_file(recorded, str(f), "w")
    rows = BoardShim.get_emg_channels(BoardIds.SYNTHETIC_BOARD.value)
    with BrainFlowStream("playback", file=str(f), master_board="synthetic") as s:
        first = s.read(timeout=5.0)
    assert s.sfreq == 250.0 and first.data.shape[0] == len(rows)
    # the playback delivers the recorded samples (the first chunk starts with the file's first sample)
    np.testing.assert_allclose(first.data[:, 0], recorded[rows, 0], rtol=1e-5)
    with pytest.raises(ValidationError, match="needs file="):
        BrainFlowStream("playback").start()


def test_lsl_stall_reconnects_then_stops_clearly():
    pytest.importorskip("pylsl")
    from myovox.streams.lsl import LSLStream, make_outlet

    name = f"myovox-stall-{np.random.default_rng().integers(1e9)}"
    outlet = make_outlet(name, ["a", "b"], 100.0)
    s = LSLStream(name, resolve_timeout=3.0, stall_timeout=0.3, reconnect=1)
    s.start()
    try:
        outlet.push_chunk(np.ones((5, 2), np.float32))
        assert s.read(timeout=3.0).n_samples >= 1
        del outlet  # the device goes away; nothing arrives any more
        with pytest.raises(StreamError, match=r"stalled.*1 reconnect attempts failed"):
            while True:
                s.read(timeout=0.3)
        assert s.stats.n_samples >= 1  # what arrived before is counted and kept
    finally:
        s.stop()


def test_lsl_marker_output_publishes_events():
    pylsl = pytest.importorskip("pylsl")
    from myovox.realtime.outputs import LSLMarkerOutput
    from myovox.realtime.postprocess import CommandEvent

    name = f"myovox-markers-{np.random.default_rng().integers(1e9)}"
    out = LSLMarkerOutput(name)
    info = pylsl.resolve_byprop("name", name, 1, 5.0)[0]
    inlet = pylsl.StreamInlet(info)
    inlet.open_stream(5.0)
    import time

    time.sleep(0.5)
    out.send(CommandEvent("up", 1, 0.9, 1.0, 2.4, 0.5))
    sample, _ = inlet.pull_sample(timeout=5.0)
    assert sample is not None and '"label": "up"' in sample[0]
    out.close()

"""Every source reports lost packets and puts them back as flagged gaps, so stream time stays true."""

import time

import numpy as np
import pytest

from myovox import Recording, StreamError, ValidationError
from myovox.io import biogap as bg
from myovox.streams import open_stream
from myovox.streams.base import gaps_from_timestamps, insert_missing, stamps_with_gaps
from myovox.streams.biogap import BioGAPStream
from myovox.streams.replay import ReplayStream, fill_lost_packets
from myovox.testing.device import SimulatedBioGAP
from myovox.testing.synth import SynthConfig, generate_dataset, generate_recording


def _collect(stream):
    chunks = list(stream)
    data = np.concatenate([c.data for c in chunks], axis=1)
    missing = np.concatenate([c.missing if c.missing is not None else np.zeros(c.n_samples, bool) for c in chunks])
    labels = np.concatenate([c.labels for c in chunks]) if chunks and chunks[0].labels is not None else None
    return chunks, data, missing, labels


def test_insert_missing_and_gaps_from_timestamps():
    data = np.arange(12.0).reshape(2, 6)
    out, miss = insert_missing(data, [0, 2, 6], [1, 3, 2])
    assert out.shape == (2, 12)
    np.testing.assert_array_equal(miss, [1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(out[:, ~miss], data)
    assert np.isnan(out[:, miss]).all()
    sfreq = 100.0
    stamps = np.concatenate([np.arange(10), np.arange(15, 20)]) / sfreq + 0.001 * np.sin(np.arange(15))
    at, n = gaps_from_timestamps(stamps, sfreq, tolerance_s=0.025)
    assert at.tolist() == [10] and n.tolist() == [5]  # stamps 10..14 are missing
    at, n = gaps_from_timestamps(stamps[10:], sfreq, previous=0.0, tolerance_s=0.025)
    assert at.tolist() == [0] and n.tolist() == [14]
    at, _ = gaps_from_timestamps(stamps, sfreq, tolerance_s=0.1)  # within the jitter tolerance
    assert at.size == 0
    # stamps of a filled chunk: measured where kept, interpolated inside, one period apart before the first
    ts = stamps_with_gaps(np.array([0.03, 0.05, 0.06]), np.array([1, 1, 0, 1, 0, 0], bool), sfreq)
    np.testing.assert_allclose(ts, [0.01, 0.02, 0.03, 0.04, 0.05, 0.06])


@pytest.fixture(scope="module")
def lossy_bio(tmp_path_factory):
    root = tmp_path_factory.mktemp("lossy")
    kw = dict(
        n_subjects=1, n_sessions=1, n_batches=1, conditions=("vocalized",), n_repetitions=2, seed=4, processed=False
    )
    clean = next((generate_dataset(root / "clean", **kw) / "raw").rglob("*.bio"))
    lossy = next((generate_dataset(root / "lossy", packet_loss=0.03, **kw) / "raw").rglob("*.bio"))
    return clean, lossy


@pytest.mark.filterwarnings("ignore:.*packet\\(s\\) lost")
def test_replay_of_a_lossy_bio_file_keeps_true_time_and_reports_the_loss(lossy_bio):
    from myovox.io import read_recording

    clean_path, lossy_path = lossy_bio
    clean = read_recording(clean_path)
    joined = read_recording(lossy_path)  # as stored: samples joined across the gaps
    n_lost_packets = joined.meta["n_lost_packets"]
    assert n_lost_packets > 10
    s = ReplayStream(lossy_path, chunk_s=0.04)
    with s:
        chunks, data, missing, labels = _collect(s)
    assert data.shape == clean.data.shape  # stream time is true time
    assert s.stats.n_lost == missing.sum() == 4 * n_lost_packets
    assert s.stats.extra["packets_lost"] == n_lost_packets
    assert 0 < s.stats.n_gaps <= n_lost_packets and s.stats.n_nonfinite == 0
    np.testing.assert_array_equal(data[:, ~missing], clean.data[:, ~missing])
    np.testing.assert_array_equal(labels[~missing], clean.labels[~missing])
    assert chunks[-1].t_end == pytest.approx(clean.n_times / clean.sfreq)
    # the old behaviour stays available, explicitly
    with ReplayStream(lossy_path, fill_lost=False) as s2:
        assert sum(c.n_samples for c in s2) == joined.n_times and s2.stats.n_lost == 0


def test_replay_inserts_gaps_a_recording_lists_but_does_not_hold():
    cfg = SynthConfig(n_repetitions=1)
    clean = generate_recording(config=cfg, seed=2)
    lossy = generate_recording(config=cfg.replace(packet_loss=0.05), seed=2)  # joined, gaps in meta
    filled, n_packets = fill_lost_packets(lossy)
    assert n_packets == sum(g["n_lost"] for g in lossy.meta["lost_packets"]) > 0
    n = min(filled.n_times, clean.n_times)
    ok = np.isfinite(filled.data[:, :n]).all(axis=0)
    assert (~ok).sum() == 4 * n_packets
    np.testing.assert_array_equal(filled.data[:, :n][:, ok], clean.data[:, :n][:, ok])
    assert fill_lost_packets(filled)[0] is filled  # never filled twice
    with ReplayStream(lossy) as s:
        _, _data, missing, _ = _collect(s)
    assert missing.sum() == 4 * n_packets and s.stats.extra["packets_lost"] == n_packets


def test_biogap_source_errors_are_one_line_validation_errors(tmp_path):
    with pytest.raises(ValidationError, match="port between 1 and 65535"):
        open_stream("biogap:tcp://127.0.0.1:99999")
    with pytest.raises(ValidationError, match="HOST:PORT"):
        open_stream("biogap:tcp://127.0.0.1")
    with pytest.raises(ValidationError, match=r"not a dump of raw BioGAP packets.*replay:.*x\.bio"):
        open_stream(f"biogap:{tmp_path / 'x.bio'}")
    with pytest.raises(ValidationError, match="replay:"):
        open_stream("biogap:rec.h5")


def test_lsl_stream_fills_gaps_that_time_stamps_show():
    from myovox.streams.lsl import LSLStream

    s = LSLStream("x", gap_tolerance_s=0.015)
    s.sfreq, s.ch_names = 100.0, ("a", "b")
    c1 = s._chunk_with_gaps(np.ones((2, 5)), np.arange(5) / 100.0)
    c2 = s._chunk_with_gaps(np.ones((2, 5)), (np.arange(5) + 8) / 100.0)  # 3 samples lost between chunks
    c3 = s._chunk_with_gaps(np.ones((2, 4)), np.array([13, 14, 20, 21]) / 100.0)  # 5 lost inside
    assert c1.missing is None and c2.n_samples == 8 and c2.missing[:3].all() and not c2.missing[3:].any()
    assert c2.first_sample == 5 and c3.first_sample == 13 and c3.n_samples == 9
    assert c3.missing.tolist() == [False, False] + [True] * 5 + [False, False]
    np.testing.assert_allclose(c2.timestamps, np.arange(5, 13) / 100.0)
    off = LSLStream("x", fill_gaps=False)
    off.sfreq, off.ch_names = 100.0, ("a", "b")
    assert off._chunk_with_gaps(np.ones((2, 2)), np.array([0.0, 0.5])).missing is None


# ------------------------------------------------------------------ the simulated device
@pytest.fixture(scope="module")
def short_rec():
    return generate_recording(config=SynthConfig(n_repetitions=1), seed=1)  # 36.5 s


def test_simulated_device_loss_and_stall_reach_the_stream_as_flagged_gaps(short_rec):
    with SimulatedBioGAP(short_rec, loss=0.02, stall_at_s=5.0, stall_s=1.5, speed=None, seed=3) as dev:
        assert dev.address == f"biogap:tcp://127.0.0.1:{dev.port}"
        s = open_stream(dev.address, stall_timeout=2.0, reconnect=0)
        chunks = []
        with pytest.raises(StreamError, match="connection closed"), s:  # the device switches off at the end
            for c in s:
                chunks.append(c)
        assert dev.wait(5)
    st = dev.stats
    assert st.finished and st.n_connections == 1
    stall = set(range(625, 625 + 188))  # 5 s = packet 625; 1.5 s = 188 packets
    assert stall <= set(st.lost_packets) and st.n_dropped_random > 0
    assert st.n_dropped_stall == len(stall - set(np.flatnonzero(dev._drop)))
    assert st.n_sent + st.n_lost == dev.n_packets
    data = np.concatenate([c.data for c in chunks], axis=1)
    missing = np.concatenate([c.missing if c.missing is not None else np.zeros(c.n_samples, bool) for c in chunks])
    expected = np.zeros(dev.n_packets, bool)
    expected[st.lost_packets] = True
    last_sent = np.flatnonzero(~expected)[-1]
    np.testing.assert_array_equal(missing, np.repeat(expected[: last_sent + 1], 4))
    assert s.stats.n_lost == missing.sum() and s.stats.extra["packets_lost"] == expected[: last_sent + 1].sum()
    ok = ~missing
    np.testing.assert_allclose(data[:, ok], short_rec.data[:, : data.shape[1]][:, ok], atol=0.25)  # 24-bit codes


def test_simulated_device_paces_by_speed_and_bursts(short_rec):
    t0 = time.monotonic()
    with SimulatedBioGAP(short_rec, loss=0.03, burst=10, speed=25.0) as dev:
        n = 0
        with pytest.raises(StreamError), BioGAPStream(dev.url, stall_timeout=0.5, reconnect=0) as s:
            for c in s:
                n += c.n_samples
        elapsed = time.monotonic() - t0
    assert dev.duration_s / 25.0 * 0.9 <= elapsed < dev.duration_s / 25.0 + 3.0
    assert n <= dev.n_packets * 4 and s.stats.n_lost == 4 * sum(1 for i in dev.stats.lost_packets if i * 4 < n)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, np.isin(np.arange(dev.n_packets), dev.stats.lost_packets), 0])))
    assert runs[::2].min() >= 10  # losses come in bursts of >= 10 packets
    assert dev.stats.n_dropped_random / dev.n_packets == pytest.approx(0.03, abs=0.02)


def test_simulated_device_serves_the_losses_of_a_lossy_recording_and_validates():
    rec = generate_recording(config=SynthConfig(n_repetitions=1, packet_loss=0.02), seed=5)
    n_lost = sum(g["n_lost"] for g in rec.meta["lost_packets"])
    with SimulatedBioGAP(rec, speed=None) as dev:
        with pytest.raises(StreamError), BioGAPStream(dev.url, stall_timeout=0.5, reconnect=0) as s:
            for _ in s:
                pass
    assert dev.stats.n_dropped_nan == n_lost and s.stats.extra["packets_lost"] == n_lost
    with pytest.raises(ValidationError, match="loss"):
        SimulatedBioGAP(rec, loss=1.5)
    with pytest.raises(ValidationError, match="16 channels"):
        SimulatedBioGAP(Recording(np.zeros((3, 100)), 500.0))
    with pytest.raises(ValidationError, match="speed"):
        SimulatedBioGAP(rec, speed=0)


def test_brainflow_counter_gaps_are_filled():
    from myovox.streams.brainflow import BrainFlowStream

    s = BrainFlowStream("synthetic")
    s._last_pk = s._pk_step = None
    at, n = s._lost_from_counter(np.arange(250, 262) % 256)  # first chunk: learns the step
    assert at.size == 0 and s._pk_step == 1
    at, n = s._lost_from_counter(np.array([6, 7, 11, 12, 13, 24]))  # 3 lost, then 10 lost
    assert at.tolist() == [2, 5] and n.tolist() == [3, 10]
    at, n = s._lost_from_counter(np.array([27]))  # 2 lost before the chunk
    assert at.tolist() == [0] and n.tolist() == [2]


def test_simulated_device_client_reconnects_and_misses_what_fell_due_meanwhile(short_rec):
    import socket

    with SimulatedBioGAP(short_rec, speed=10.0) as dev:
        with socket.create_connection(("127.0.0.1", dev.port), timeout=2.0) as c:
            got = b""
            while len(got) < 50 * bg.PACKET_SIZE:
                got += c.recv(65536)
        time.sleep(0.4)  # the client is away: ~0.4 s x 10 x 125 packets
        s = BioGAPStream(dev.url, stall_timeout=0.5, reconnect=0)
        with pytest.raises(StreamError), s:
            first = s.read()
            for _ in s:
                pass
        assert dev.wait(5)
    assert dev.stats.n_connections == 2 and dev.stats.finished
    assert dev.stats.n_dropped_offline > 200  # lost while no client was connected
    assert dev.stats.n_sent + dev.stats.n_lost == dev.n_packets
    assert first.n_samples > 0 and "SimulatedBioGAP(4562 packets" in repr(dev)


def test_simulated_device_drops_chosen_packets_with_counter_wrap():
    values = bg.codes_to_units(np.random.default_rng(0).integers(-(2**20), 2**20, size=(200, 16)))
    rec = Recording(values.T.astype(np.float64), 500.0)
    with SimulatedBioGAP(rec, drop=[10, 11, 30], counter_start=250, speed=None, packets_per_send=3) as dev:
        chunks = []
        with pytest.raises(StreamError, match="connection closed"), BioGAPStream(dev.url, reconnect=0) as s:
            for c in s:
                chunks.append(c)
    data = np.concatenate([c.data for c in chunks], axis=1)
    missing = np.concatenate([c.missing if c.missing is not None else np.zeros(c.n_samples, bool) for c in chunks])
    lost = np.zeros(200, bool)
    lost[40:48] = lost[120:124] = True
    np.testing.assert_array_equal(missing, lost)
    np.testing.assert_allclose(data[:, ~lost], values.T[:, ~lost])
    assert s.stats.extra["packets_lost"] == 3 and dev.stats.lost_packets == [10, 11, 30]
    with pytest.raises(ValidationError, match="drop"):
        SimulatedBioGAP(rec, drop=[50])

"""Live recognition benchmark: decision latency, speed as a multiple of real time, flat memory.

Set-up: the reference's 14 channels at 500 Hz, a SpeechNet on 1.4 s windows, 100 ms step,
SilentWear's filter applied causally. Chunks of 40 ms (5 BioGAP packets) arrive as fast as
possible. Latency is measured per chunk that completes a window: from the call with the chunk
(its last sample in) until the decision (event or not) is out.

Baseline: a straightforward recogniser that, at every step, filters the window again from a
zeroed filter state and runs the network on it (no carried state, one window per call).

Packet loss (``benchmarks/packet_loss.py``): :func:`drop_packets` turns a recording into what a
reader gives for a file with lost BLE packets (samples joined, ``meta["lost_packets"]``), with
:func:`random_drops` or :func:`burst_drops` patterns; :func:`replay_event_metrics` replays it
through :class:`~myovox.streams.replay.ReplayStream` and the recogniser and scores the events.
"""

from __future__ import annotations

import time

import numpy as np

from ..io.biogap import SAMPLES_PER_PACKET
from . import rss_mb


class _TorchProba:
    """predict_proba over a SpeechNet in eval mode (random weights: latency does not depend on them)."""

    def __init__(self, n_channels: int, n_times: int, n_classes: int = 9) -> None:
        import torch

        from ..models.speechnet import SpeechNet

        torch.manual_seed(0)
        self.torch = torch
        self.net = SpeechNet(n_channels, n_times, n_classes).eval()
        self.classes_ = np.arange(n_classes)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            return self.torch.softmax(self.net(self.torch.from_numpy(np.ascontiguousarray(X, np.float32))), 1).numpy()


def _naive_latencies(model, design, data, n_win, n_step, n_windows) -> list[float]:
    from scipy.signal import sosfilt

    lat = []
    n_ends = (data.shape[1] - n_win) // n_step + 1
    for k in range(n_windows):
        end = n_win + (k % n_ends) * n_step  # wrap around the data block
        t0 = time.perf_counter()
        win = sosfilt(design.sos, data[:, end - n_win : end], axis=1)
        model.predict_proba(win[None].astype(np.float32))
        lat.append(time.perf_counter() - t0)
    return lat


def run(quick: bool = False) -> list[dict]:
    import torch

    from ..preprocessing.filters import design_filter
    from ..realtime.recognizer import Recognizer

    torch.set_num_threads(1)
    sfreq, n_ch, window_s, step_s = 500.0, 14, 1.4, 0.1
    n_win, n_step = int(window_s * sfreq), int(step_s * sfreq)
    model = _TorchProba(n_ch, n_win)
    design = design_filter(sfreq)
    minutes = 2.0 if quick else 60.0
    n_total = int(minutes * 60 * sfreq)
    chunk = int(0.04 * sfreq)
    rng = np.random.default_rng(0)
    block = rng.normal(scale=50.0, size=(n_ch, int(60 * sfreq)))  # one minute, repeated
    rec = Recognizer(model, sfreq=sfreq, window_s=window_s, step_s=step_s, n_channels=n_ch, filter_design=design)
    lat: list[float] = []
    rss_start = rss_end = 0.0
    t_run = time.perf_counter()
    pos = 0
    while pos < n_total:
        a = pos % block.shape[1]
        data = block[:, a : a + chunk]
        n_before = rec.stats["n_windows"]
        t0 = time.perf_counter()
        rec.process(data, arrival=t0)
        t1 = time.perf_counter()
        if rec.stats["n_windows"] > n_before:
            lat.append(t1 - t0)
        pos += data.shape[1]
        if rss_start == 0.0 and pos >= n_total // 10:
            rss_start = rss_mb()
    wall = time.perf_counter() - t_run
    rss_end = rss_mb()
    base = _naive_latencies(model, design, block, n_win, n_step, 200 if quick else 1000)
    p50, p99 = np.percentile(lat, 50) * 1e3, np.percentile(lat, 99) * 1e3
    b50, b99 = np.percentile(base, 50) * 1e3, np.percentile(base, 99) * 1e3
    rt = (n_total / sfreq) / wall
    base_rt = step_s / float(np.mean(base))  # naive: one full recomputation per step
    return [
        {"name": "stream_decision_latency_p50_ms", "unit": "ms", "baseline": b50, "ours": p50, "ratio": b50 / p50},
        {"name": "stream_decision_latency_p99_ms", "unit": "ms", "baseline": b99, "ours": p99, "ratio": b99 / p99},
        {
            "name": "stream_speed_x_realtime",
            "unit": "x real time",
            "baseline": base_rt,
            "ours": rt,
            "ratio": rt / base_rt,
        },
        {
            "name": f"stream_rss_growth_mb_over_{minutes:g}_min",
            "unit": "MiB",
            "baseline": rss_start,
            "ours": rss_end - rss_start,
            "ratio": float("nan"),
            "note": "baseline column holds the RSS after 10% of the run; ours the growth to the end",
        },
    ]


# ---------------------------------------------------------------------------- packet loss
#: samples per BioGAP packet (the packet format's constant, not a separate choice)
SPP = SAMPLES_PER_PACKET


def drop_packets(rec, drop: np.ndarray):
    """The recording as a reader gives a file whose packets ``drop`` were lost: samples joined,
    labels joined, ``meta['lost_packets']`` listing the gaps."""
    from ..io.bio import lost_packet_records
    from ..io.biogap import find_lost_packets

    n_pk = rec.n_times // SPP
    drop = drop[:n_pk].copy()
    drop[0] = drop[-1] = False
    keep = np.repeat(~drop, SPP)
    counter = np.arange(n_pk)[~drop] % 256
    data = rec.data[:, : n_pk * SPP][:, keep]
    labels = rec.labels[: n_pk * SPP][keep]
    meta = dict(
        rec.meta,
        samples_per_packet=SPP,
        counter=counter,
        lost_packets=lost_packet_records(find_lost_packets(counter, 256), SPP),
    )
    meta.pop("timestamps", None)
    return rec.copy(data=data, labels=labels, meta=meta)


def random_drops(n_pk: int, rate: float, rng) -> np.ndarray:
    """Each of ``n_pk`` packets lost with probability ``rate``."""
    return rng.uniform(size=n_pk) < rate


def burst_drops(n_pk: int, rate: float, rng, lo: int = 10, hi: int = 50) -> np.ndarray:
    """Bursts of ``lo``-``hi`` consecutive packets until ``rate`` of the packets are lost."""
    drop = np.zeros(n_pk, dtype=bool)
    while drop.mean() < rate:
        n = int(rng.integers(lo, hi + 1))
        s = int(rng.integers(1, n_pk - n - 1))
        drop[s : s + n] = True
    return drop


def replay_event_metrics(model_dir, rec, truth, *, fill_lost: bool = True, **overrides) -> dict:
    """Replay ``rec`` through the recogniser of ``model_dir`` (``myovox stream``'s defaults plus
    ``overrides``) and score its events against ``truth``'s labels (true time)."""
    from ..evaluation.streaming import event_metrics
    from ..realtime.recognizer import Recognizer
    from ..streams.replay import ReplayStream

    r = Recognizer.from_saved(model_dir, **overrides)
    stats = r.run(ReplayStream(rec, fill_lost=fill_lost))
    m = event_metrics(r.events, truth)
    m["lost_pct"] = 100.0 * stats["stream"]["n_lost"] / max(stats["stream"]["n_samples"], 1)
    m["n_suppressed"] = stats["n_suppressed"]
    return m

"""Issue 10, build item 8: a recorder SIGKILLed at 10 random moments always reads back, losing at most
the flush interval (plus one chunk and the time to notice the file) of what it had received."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from myovox.io.guided import read_session
from myovox.io.npz import write_npz
from myovox.recording import Recording

SFREQ = 500.0
FLUSH_S = 0.25


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_recorder_killed_at_random_moments(tmp_path):
    original = np.random.default_rng(7).normal(size=(3, int(SFREQ * 30)))
    src = tmp_path / "src.npz"
    write_npz(Recording(original, SFREQ), src)
    moments = np.random.default_rng(11).uniform(0.05, 1.5, size=10)
    losses = []
    for k, t_kill in enumerate(moments):
        out = tmp_path / f"rec{k}"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "myovox.cli.main",
                "-q",
                "record",
                "--source",
                f"replay:{src}",
                "--realtime",
                "--out",
                str(out),
                "--name",
                "s",
                "--flush",
                str(FLUSH_S),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not (out / "s.csv").exists() and time.monotonic() < deadline:
                time.sleep(0.005)
            t0 = time.monotonic()  # the stream started just before the CSV appeared
            time.sleep(t_kill)
            os.kill(proc.pid, signal.SIGKILL)
            elapsed = time.monotonic() - t0
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        rec = read_session(out / "s.csv")  # never raises, whatever the moment
        assert rec.meta["status"] == "incomplete"
        np.testing.assert_array_equal(rec.data, original[:, : rec.n_times])
        losses.append(elapsed - rec.n_times / SFREQ)
    # what was received but not on disk: at most one flush interval, one replay chunk and polling slack
    assert max(losses) <= FLUSH_S + 0.04 + 0.25, losses

"""Cue protocol, guided recording, and a recorder killed with SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from myovox import Recording, ValidationError
from myovox.acquisition import CueProtocol, GuidedRecorder, read_session
from myovox.io.npz import write_npz
from myovox.streams.replay import ReplayStream


def test_default_protocol_is_silentwear_timing():
    p = CueProtocol()
    sched = p.schedule()
    assert len(sched) == 160
    assert sched[0][:2] == (6.5, 8.5)  # 5 s start + 1.5 s rest, 2 s cue
    assert sched[1][0] - sched[0][0] == pytest.approx(3.5)
    assert sorted(np.bincount([s[2] for s in sched])[1:]) == [20] * 8
    assert p.duration_s == pytest.approx(5 + 160 * 3.5 + 3.5)
    assert p.cue_text(0.0) == "Get ready..." and p.cue_text(7.0) == p.words[sched[0][2] - 1].upper()


def test_protocol_file_rejects_unknown_keys(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("words: ['yes', 'no']\nrepetitons: 3\n")
    with pytest.raises(ValidationError, match=r"unknown protocol key 'repetitons'.*Did you mean 'repetitions'"):
        CueProtocol.from_file(f)
    f.write_text("words: ['yes', 'no']\nrepetitions: 3\nseed: 4\n")
    p = CueProtocol.from_file(f)
    assert p.label_names == {0: "rest", 1: "yes", 2: "no"} and len(p.schedule()) == 6


def test_guided_recording_labels_samples_with_cues(tmp_path):
    p = CueProtocol(words=["up", "down"], repetitions=2, start_s=1.0, rest_s=0.5, cue_s=0.5, tail_s=0.5)
    rec = Recording(np.random.default_rng(0).normal(size=(3, 5000)).astype(np.float32), 500.0)
    shown = []
    g = GuidedRecorder(ReplayStream(rec), p, tmp_path, name="s", display=shown.append, meta={"subject": "S09"})
    g.run()
    out = read_session(tmp_path / "s.csv")
    assert out.n_times == int(p.duration_s * 500) and out.meta["status"] == "complete"
    np.testing.assert_array_equal(out.data, rec.data[:, : out.n_times])  # float32 values exactly
    runs = [r for r in out.label_runs() if r[2] != 0]
    assert [(a / 500, b / 500) for a, b, _ in runs] == [(s[0], s[1]) for s in p.schedule()]
    assert out.meta["subject"] == "S09" and "Finished - thank you" in shown


def test_stopped_recording_keeps_what_arrived_and_says_stopped(tmp_path):
    p = CueProtocol(words=["up", "down"], repetitions=2, start_s=1.0, rest_s=0.5, cue_s=0.5, tail_s=0.5)
    rec = Recording(np.random.default_rng(0).normal(size=(3, 5000)).astype(np.float32), 500.0)
    stream = ReplayStream(rec, chunk_s=0.1)
    g = GuidedRecorder(stream, p, tmp_path, name="s")
    read = stream.read

    def read_then_stop():  # the user presses stop while the third chunk is in hand
        chunk = read()
        if chunk is not None and chunk.first_sample >= 100:
            g.stop()
        return chunk

    stream.read = read_then_stop
    g.run()
    out = read_session(tmp_path / "s.csv")
    assert out.meta["status"] == "stopped" and out.n_times == 150  # that chunk is written too
    np.testing.assert_array_equal(out.data, rec.data[:, :150])


def test_killed_recorder_leaves_readable_file(tmp_path):
    """A real recording process, SIGKILLed mid-session: data up to the last flush survive."""
    src = tmp_path / "src.npz"
    write_npz(Recording(np.random.default_rng(2).normal(size=(4, 500 * 60)), 500.0), src)
    out = tmp_path / "rec"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "myovox.cli.main",
            "record",
            "--source",
            f"replay:{src}",
            "--realtime",
            "--out",
            str(out),
            "--name",
            "killed",
            "--flush",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        # wait until some data have been flushed, then let it run a little longer
        while time.monotonic() < deadline:
            f = out / "killed.csv"
            if f.exists() and f.stat().st_size > 60_000:
                break
            time.sleep(0.1)
        time.sleep(1.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    side = json.loads((out / "killed.json").read_text())
    assert side["status"] == "incomplete"  # the recorder never got to finish
    rec = read_session(out / "killed.csv")
    assert rec.n_times >= 500 * 1.5  # at least the flushed seconds are there
    original = np.random.default_rng(2).normal(size=(4, 500 * 60))
    np.testing.assert_array_equal(rec.data, original[:, : rec.n_times])
    assert rec.meta["status"] == "incomplete"

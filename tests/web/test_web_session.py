"""The served session without a browser: replay, live messages, guided recording (two clients at once,
pause/resume, stop), with WebSocket clients on a real server."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import numpy as np

from myovox.acquisition import CueProtocol
from myovox.io.guided import read_session

REPLAY = {"type": "start", "source": "file", "path": "replays/rec.npz"}


def _recording_files(data: Path) -> list[Path]:
    return sorted((data / "sessions").glob("*.csv")) if (data / "sessions").is_dir() else []


def _check_labels(csv: Path, protocol: CueProtocol) -> np.ndarray:
    """The recording's labels are the protocol's at each sample's time; returns the times."""
    rec = read_session(csv)
    t = np.arange(rec.n_times) / rec.sfreq
    assert rec.labels is not None
    np.testing.assert_array_equal(rec.labels, protocol.labels_at(t))
    return t


def test_replay_sends_frames_quality_and_metrics(serve, connect) -> None:
    server = serve()
    c = connect(server)
    hello = c.wait(lambda m: m["type"] == "hello", what="hello")
    assert {"id": "file", "path": "replays/rec.npz", "label": "replay replays/rec.npz"} in hello["sources"]
    assert [p["id"] for p in hello["protocols"]][:3] == ["reference", "short", "quick"]
    assert hello["protocols"][0]["repetitions"] == 20  # the reference's protocol by default
    c.send(REPLAY)
    c.wait(lambda m: m["type"] == "ack" and m["command"] == "start", what="ack")
    stream = c.wait(lambda m: m["type"] == "stream", what="stream info")
    assert len(stream["ch_names"]) == 16 and stream["sfreq"] == 500.0
    c.wait(lambda m: m["type"] == "metrics" and m["stream_s"] > 5, what="metrics")
    frames = c.of("signal")
    assert len(frames) > 10
    assert all(len(f["data"]) == 16 and len(f["data"][0]) == 2 * f["n"] for f in frames)
    # consecutive buckets: no frame is lost or repeated on a fast connection
    assert all(b["b0"] == a["b0"] + a["n"] for a, b in itertools.pairwise(frames))
    q = c.wait(lambda m: m["type"] == "quality" and m["channels"][0]["level"] != "unknown", what="quality")
    assert {ch["level"] for ch in q["channels"]} <= {"ok", "warn", "bad"}
    c.send({"type": "drawn", "seq": frames[-1]["seq"], "t": time.time(), "fps": 24.0})
    c.wait(lambda m: m["type"] == "metrics" and m["display_ms_p50"] is not None, what="display latency")
    c.send({"type": "stop"})
    c.wait(lambda m: m["type"] == "state" and not m["running"], what="stopped")


def test_two_clients_see_one_session_and_one_recording(serve, connect, data_dir: Path) -> None:
    server = serve()
    a, b = connect(server), connect(server)
    a.send(REPLAY)
    for c in (a, b):
        c.wait(lambda m: m["type"] == "stream", what="stream info")
    start = {"type": "record_start", "protocol": "quick", "repetitions": 1, "subject": "P7", "session": 2, "batch": 3}
    a.send({**start, "id": "a"})
    b.send({**start, "id": "b"})  # at once: exactly one of them starts a recording
    replies = [
        c.wait(lambda m, i=i: m.get("id") == i and m["type"] in ("ack", "error"), what="reply")
        for c, i in ((a, "a"), (b, "b"))
    ]
    assert sorted(r["type"] for r in replies) == ["ack", "error"]
    assert "already running" in next(r for r in replies if r["type"] == "error")["message"]
    done = [c.wait(lambda m: m["type"] == "recording" and m["status"] == "finished", what="end") for c in (a, b)]
    assert done[0] == done[1] and done[0]["result"] == "complete"
    # both saw the same frames (the same sequence numbers)
    seq_a = {f["seq"] for f in a.of("signal")}
    seq_b = {f["seq"] for f in b.of("signal")}
    assert len(seq_a & seq_b) > 10
    files = _recording_files(data_dir)
    assert len(files) == 1 and files[0].name.startswith("sess_2_batch_3_")
    side = json.loads(files[0].with_suffix(".json").read_text())
    assert side["meta"] == {"subject": "P7", "session": 2, "batch": 3, "condition": "vocalized"}
    proto = CueProtocol(repetitions=1, start_s=3.0)
    t = _check_labels(files[0], proto)
    assert len(t) == round(proto.duration_s * 500)
    assert a.of("cue") and a.of("cue")[-1]["n_trials"] == 8
    # what the page reads back
    import urllib.request

    rel = done[0]["path"]
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/recording?path={rel}", timeout=10) as r:
        summary = json.loads(r.read())
    assert summary["status"] == "complete" and len(summary["cues"]) == 8
    assert sorted(summary["cues"]) == sorted(proto.words)


def test_pause_freezes_the_protocol_clock_and_stop_keeps_the_data(serve, connect, data_dir: Path) -> None:
    server = serve(speed=10.0)
    c = connect(server)
    c.send(REPLAY)
    c.wait(lambda m: m["type"] == "stream", what="stream info")
    c.send({"type": "record_start", "protocol": "quick", "repetitions": 1})
    c.wait(lambda m: m["type"] == "cue" and m["t"] > 4.0, what="the first cues")
    c.send({"type": "record_pause"})
    paused = c.wait(lambda m: m["type"] == "cue" and m["paused"], what="paused")
    assert paused["text"] == "Paused"
    time.sleep(0.8)  # 8 s of stream time pass, none of it recorded
    c.send({"type": "record_resume"})
    resumed = c.wait(lambda m: m["type"] == "recording" and m["status"] == "resumed", what="resumed")
    assert resumed["t"] - paused["t"] < 1.0  # the protocol clock stood still
    end = c.wait(lambda m: m["type"] == "recording" and m["status"] == "finished", timeout=30, what="end")
    assert end["result"] == "complete"
    proto = CueProtocol(repetitions=1, start_s=3.0)
    t = _check_labels(_recording_files(data_dir)[0], proto)
    assert len(t) == round(proto.duration_s * 500)
    # a second recording, stopped early: what was recorded is on disk and readable
    c.clear()
    c.send({"type": "record_start", "protocol": "reference", "session": 4})
    c.wait(lambda m: m["type"] == "cue" and m["t"] > 6.0, what="cues")
    c.send({"type": "record_stop"})
    end = c.wait(lambda m: m["type"] == "recording" and m["status"] == "finished", what="the end")
    assert end["why"] == "stopped" and end["result"] == "stopped" and end["n_samples"] > 3000
    files = _recording_files(data_dir)
    assert len(files) == 2
    stopped = next(f for f in files if f.name.startswith("sess_4_"))
    _check_labels(stopped, CueProtocol())
    listing = c.wait(lambda m: m["type"] == "recordings" and len(m["recordings"]) == 2, what="listing")
    assert {r["status"] for r in listing["recordings"]} == {"complete", "stopped"}


def test_requests_that_make_no_sense_now_are_refused(serve, connect) -> None:
    server = serve()
    c = connect(server)
    c.wait(lambda m: m["type"] == "hello")
    for cmd, fragment in (
        ({"type": "record_start"}, "Start a source first"),
        ({"type": "record_pause"}, "No recording"),
        ({"type": "finetune"}, "No model"),
        ({"type": "start", "source": "lsl:x"}, "Unknown source"),
        ({"type": "start", "source": "file"}, "needs a 'path'"),
        ({"type": "start", "source": "file", "path": "replays/none.bio"}, "does not exist"),
        ({"type": "record_start", "protocol": "long"}, "Start a source first"),
    ):
        c.clear()
        c.send({**cmd, "id": cmd["type"]})
        err = c.wait(lambda m, i=cmd["type"]: m.get("id") == i, what=f"reply to {cmd}")
        assert err["type"] == "error" and fragment in err["message"], err
    c.send(REPLAY)
    c.wait(lambda m: m["type"] == "stream")
    c.send({**REPLAY, "id": "again"})
    assert "running" in c.wait(lambda m: m.get("id") == "again")["message"]
    for cmd, fragment in (
        ({"type": "record_start", "protocol": "long"}, "Unknown protocol"),
        ({"type": "record_start", "subject": "../x"}, "'subject'"),
        ({"type": "record_start", "repetitions": 0}, "'repetitions'"),
        ({"type": "record_start", "condition": "shouting"}, "'condition'"),
    ):
        c.send({**cmd, "id": "r"})
        err = c.wait(lambda m: m.get("id") == "r" and m["type"] == "error", what=f"reply to {cmd}")
        assert fragment in err["message"]
        c.clear()


def test_a_model_from_the_data_folder_is_listed_chosen_and_recognises(serve, connect, data_dir, make_recording) -> None:
    """A classical model saved in DATA/models is listed with its card, switched in while a replay runs, and
    recognises commands in stream time (its events line up with the replay's cues)."""
    from myovox.dataset import Dataset
    from myovox.models.card import card_from_training
    from myovox.models.io import save_model
    from myovox.models.registry import make_model
    from myovox.preprocessing.pipeline import dataset_windows
    from myovox.windows import LIVE_OFFSETS_S

    # SilentWear's random forest, trained for live use on two other batches of the replayed participant's day
    ds = Dataset([make_recording(batch=b) for b in (2, 3)], "file", "synthetic")
    w, ds = dataset_windows(ds, window_s=1.4, causal=True, offsets_s=LIVE_OFFSETS_S, return_dataset=True)
    model = make_model("rf", sfreq=w.sfreq, n_channels=w.n_channels, n_times=w.n_samples).fit(w.X, w.y)
    save_model(model, data_dir / "models" / "rf", card_from_training(model, w, ds, rest_label=0))
    server = serve(speed=20.0, threshold=0.4)
    c = connect(server)
    hello = c.wait(lambda m: m["type"] == "hello")
    (entry,) = hello["models"]
    assert entry["id"] == "models/rf" and entry["card"]["model"] == "rf" and not entry["active"]
    assert "outputs:" in entry["card"]["describe"]
    c.send(REPLAY)  # no model yet: signals only
    c.wait(lambda m: m["type"] == "metrics" and m["stream_s"] > 20, what="20 s of stream")
    assert not c.of("event")
    c.send({"type": "select_model", "model": "models/rf"})  # switched in while the stream runs
    c.wait(lambda m: m["type"] == "state" and m["model"] == "models/rf", what="model in use")
    ev = c.wait(lambda m: m["type"] == "event", timeout=30, what="a recognised command")
    assert ev["model"] == "models/rf" and 0 < ev["confidence"] <= 1
    assert ev["t_end"] > 20  # stream time, not the time since the switch
    c.wait(lambda m: m["type"] == "state" and not m["running"], timeout=30, what="the end of the replay")
    matches = [e["match"] for e in c.of("event")]
    assert matches.count("correct") > len(matches) / 2  # events line up with the cues of the replay


def test_myovox_serve_serves_until_ctrl_c(data_dir: Path, tmp_path: Path) -> None:
    """The command itself: it prints its address, serves the page and the WebSocket, and Ctrl-C stops it
    cleanly (exit status 0)."""
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "myovox.cli.main", "serve", "--data", str(data_dir), "--port", str(port)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line = proc.stderr.readline() if proc.stderr else ""
        assert f"myovox dashboard on http://127.0.0.1:{port}/" in line
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    page = r.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
        assert "<canvas" in page and "/static/app.js" in page
        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{port}/ws") as ws:
            hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "hello" and hello["sources"][0]["path"] == "replays/rec.npz"
    finally:
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0, out
    assert "dashboard stopped" in out

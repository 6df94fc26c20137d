"""The dashboard under load: display latency, server CPU at 14 ch x 500 Hz, memory over an hour of stream.

A server (`myovox.web`, in a subprocess of its own so that its CPU time is its own) reads a 14-channel,
500 Hz synthetic recording (the demo model's channels) looped as a live source, recognises commands
with the demo's SpeechNet, and serves one page in headless Chromium (Debian's chromium + chromium-driver,
driven by Selenium), which draws every frame it receives.

1. Real time (``--seconds`` of it, default 60): server CPU (user + system time of the server process over
   wall time, from /proc), the page's frame rate, and the display latency *sample in -> drawn*: the server
   stamps each frame with the wall time at which its newest samples were read from the source; the page,
   once it has drawn that frame on its canvas, sends back its own wall time (``performance.timeOrigin +
   performance.now()``, the same clock on the same machine); the server keeps the differences.
2. An hour of stream replayed ``--speed`` times faster (default 30: 2 minutes) with the page drawing: the
   server's resident memory every 5 s; growth = last sample minus the sample after the first minute of
   stream (the model, buffers and caches are in place by then), with the slope of a least-squares line.

    python benchmarks/dashboard.py                     # about 4 minutes on 2 cores
    python benchmarks/dashboard.py --seconds 20 --stream-hours 0.25   # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime + stime


def _rss_mib(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------- server
def serve(data: Path, port: int, speed: float) -> None:
    """The server process: a looped 14-channel replay as the configured source, the demo model."""
    from myovox._logging import set_log_level
    from myovox.io import read_recording
    from myovox.streams.replay import ReplayStream
    from myovox.web.server import DashboardServer
    from myovox.web.session import DashboardSession

    set_log_level("warning")
    rec = read_recording(data / "bench14.npz")

    def source() -> ReplayStream:
        return ReplayStream(rec, realtime=True, speed=speed, loop=True, chunk_s=0.04 * max(1.0, speed))

    session = DashboardSession(
        data, source=source, source_label="14 ch x 500 Hz", model_dir=data / "models" / "demo", speed=speed
    )
    try:
        DashboardServer(session, port=port).run()
    except KeyboardInterrupt:  # how the benchmark stops it
        pass


def prepare(data: Path) -> None:
    from myovox.io import write_recording
    from myovox.models.io import read_card
    from myovox.testing.synth import SynthConfig, generate_recording
    from myovox.web.demo import prepare_demo

    demo = prepare_demo(data, say=print)
    card = read_card(demo.model_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = generate_recording(1, 2, 3, config=SynthConfig.preset("easy"), seed=0)  # 568 s, looped
    write_recording(rec.pick(list(card.ch_names)), data / "bench14.npz", overwrite=True)


# ------------------------------------------------------------------------------------------ browser
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1250"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)


def run_phase(data: Path, speed: float, seconds: float, sample_s: float, label: str) -> dict:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(data), str(port), str(speed)])
    driver = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        driver = browser()
        driver.get(f"http://127.0.0.1:{port}/")
        time.sleep(2.0)
        driver.execute_script(
            "const s = document.getElementById('source-select');"
            "for (const o of s.options) if (o.value.includes('configured')) s.value = o.value;"
        )
        driver.find_element("id", "btn-start").click()
        time.sleep(5.0)  # model loaded, buffers full, the page drawing
        t0, c0 = time.monotonic(), _cpu_s(proc.pid)
        samples = []
        while time.monotonic() - t0 < seconds:
            time.sleep(sample_s)
            m = driver.execute_script("return window.myovox.metrics") or {}
            samples.append(
                {
                    "wall_s": time.monotonic() - t0,
                    "stream_s": m.get("stream_s"),
                    "rss_mib": _rss_mib(proc.pid),
                    "cpu_s": _cpu_s(proc.pid) - c0,
                    "fps": driver.execute_script("return window.myovox.fps"),
                }
            )
            print(f"  [{label}] {samples[-1]}", flush=True)
        wall = time.monotonic() - t0
        cpu = _cpu_s(proc.pid) - c0
        metrics = driver.execute_script("return window.myovox.metrics")
        stats = driver.execute_script(
            "return {received: window.myovox.framesReceived, drawn: window.myovox.framesDrawn, fps: window.myovox.fps}"
        )
        return {"wall_s": wall, "cpu_pct": 100 * cpu / wall, "metrics": metrics, "page": stats, "samples": samples}
    finally:
        if driver is not None:
            driver.quit()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="seconds of the real-time phase (default 60)")
    ap.add_argument("--speed", type=float, default=30.0, help="replay speed of the memory phase (default 30)")
    ap.add_argument("--stream-hours", type=float, default=1.0, help="stream time of the memory phase (default 1 h)")
    ap.add_argument("--data", type=Path, help="data folder to reuse (default: a temporary one)")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--serve", nargs=3, metavar=("DATA", "PORT", "SPEED"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), float(args.serve[2]))
        return 0
    data = args.data or Path(tempfile.mkdtemp(prefix="myovox-dashboard-bench-"))
    prepare(data)
    real = run_phase(data, 1.0, args.seconds, 5.0, "real time")
    mem_wall = 3600.0 * args.stream_hours / args.speed
    mem = run_phase(data, args.speed, mem_wall, 5.0, f"{args.speed:g}x")
    m = real["metrics"]
    rss = [(s["stream_s"] or 0.0, s["rss_mib"]) for s in mem["samples"]]
    after_warmup = [(t, r) for t, r in rss if t >= 60.0] or rss
    t_arr, r_arr = np.array(after_warmup).T
    slope = float(np.polyfit(t_arr / 3600.0, r_arr, 1)[0]) if len(t_arr) > 2 else float("nan")
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "load_avg": os.getloadavg(),
        "real_time": {
            "channels": 14,
            "sfreq": 500,
            "seconds": round(real["wall_s"], 1),
            "server_cpu_pct": round(real["cpu_pct"], 1),
            "page_fps": real["page"]["fps"],
            "frames_received": real["page"]["received"],
            "frames_drawn": real["page"]["drawn"],
            "display_ms_p50": m.get("display_ms_p50"),
            "display_ms_p95": m.get("display_ms_p95"),
            "decision_ms_p50": m.get("decision_ms_p50"),
            "decision_ms_p95": m.get("decision_ms_p95"),
            "rss_mib": round(real["samples"][-1]["rss_mib"], 1),
        },
        "memory": {
            "speed": args.speed,
            "stream_s": rss[-1][0],
            "rss_mib_after_1_min": round(after_warmup[0][1], 1),
            "rss_mib_end": round(rss[-1][1], 1),
            "growth_mib": round(rss[-1][1] - after_warmup[0][1], 1),
            "slope_mib_per_stream_hour": round(slope, 2),
            "server_cpu_pct": round(mem["cpu_pct"], 1),
            "page_fps": mem["page"]["fps"],
        },
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

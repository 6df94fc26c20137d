"""`myovox serve --demo` in a real browser: headless Chromium (Debian's chromium + chromium-driver) driven by
Selenium. The page loads, a replay starts, traces are drawn and commands recognised, a second browser watches
the same session, a short guided recording lands on disk with the right labels, and the model is fine-tuned on
it and switched to. Screenshots go to build/test-artifacts/web/ (look at them: README images come from there).

Without a browser the module is skipped with the reason (`.ci/run` installs one)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from myovox.acquisition import CueProtocol
from myovox.io.guided import read_session

pytest.importorskip("torch", reason="the demo trains a SpeechNet (extra myovox[torch])")

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "test-artifacts" / "web"  # git-ignored (build/)
SPEED = 6.0  # the demo participant at 6x real time: the 62 s protocol below takes about 10 s
CHROMIUM = os.environ.get("MYOVOX_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = os.environ.get("MYOVOX_CHROMEDRIVER") or shutil.which("chromedriver")


def _need_browser() -> None:
    missing = [n for n, p in (("chromium", CHROMIUM), ("chromedriver", DRIVER)) if not p]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    if missing:
        pytest.skip(
            f"no browser for the dashboard tests: {', '.join(missing)} not found "
            "(apt-get install chromium chromium-driver; .ci/run does it)"
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`myovox serve --demo` as a user runs it, in a subprocess."""
    _need_browser()
    SHOTS.mkdir(parents=True, exist_ok=True)
    data = tmp_path_factory.mktemp("dashboard") / "data"
    port = _free_port()
    log = open(SHOTS / "server.log", "w")
    cmd = [sys.executable, "-m", "myovox.cli.main", "serve", "--demo", "--data", str(data)]
    cmd += ["--port", str(port), "--speed", str(SPEED)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=data.parent)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240  # the first start trains the demo model
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.close()
                proc.kill()
                pytest.fail(f"myovox serve --demo did not start:\n{(SHOTS / 'server.log').read_text()[-3000:]}")
            time.sleep(0.3)
    yield {"url": url, "data": data, "proc": proc}
    proc.send_signal(signal.SIGINT)  # Ctrl-C: stops the session cleanly
    try:
        rc = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert rc == 0, (SHOTS / "server.log").read_text()[-3000:]


def _browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1250"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(str(DRIVER)), options=opts)


@pytest.fixture(scope="module")
def page(dashboard: dict[str, Any]) -> Iterator[Any]:
    driver = _browser()
    driver.get(dashboard["url"])
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page2(dashboard: dict[str, Any]) -> Iterator[Any]:
    """A second browser on the same session."""
    driver = _browser()
    driver.get(dashboard["url"])
    yield driver
    driver.quit()


def wait_for(driver: Any, script: str, timeout: float = 30.0, what: str = "") -> Any:
    """Poll ``return <script>`` in the page until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {script}")
        if value:
            return value
        time.sleep(0.1)
    state = driver.execute_script("return [window.myovox && window.myovox.lastError, document.title]")
    raise AssertionError(f"timed out waiting for {what or script} (last value {value!r}; page: {state})")


def shot(driver: Any, name: str) -> Path:
    path = SHOTS / name
    driver.execute_script(
        "const t = document.getElementById('toast'); t.style.transition = 'none'; t.className = 'toast';"
        "window.scrollTo(0, 0)"
    )
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000  # a real picture, not a blank page
    return path


def click(driver: Any, element_id: str) -> None:
    from selenium.webdriver.common.by import By

    wait_for(driver, f"!document.getElementById('{element_id}').disabled", 20, f"{element_id} enabled")
    driver.find_element(By.ID, element_id).click()


def ink(driver: Any) -> int:
    """Dark pixels on the trace canvas (traces drawn)."""
    return int(
        driver.execute_script(
            """const c = document.getElementById('traces'); const d = c.getContext('2d')
                 .getImageData(0, 0, c.width, c.height).data; let n = 0;
               for (let i = 0; i < d.length; i += 4) if (d[i] < 120 && d[i + 1] < 120 && d[i + 2] < 140) n++;
               return n;"""
        )
    )


def test_1_page_loads(page: Any) -> None:
    assert page.title == "myovox dashboard"
    hello = wait_for(page, "window.myovox.connected && window.myovox.hello", what="the hello message")
    assert hello["demo"] is True
    assert any(s["id"] == "demo:2" for s in hello["sources"])
    assert [m["id"] for m in hello["models"]] == ["models/demo"]
    assert "speechnet" in page.find_element("id", "model-card").text
    assert page.find_element("id", "protocol-select").get_attribute("value").find('"reference"') > 0


def test_2_replay_draws_traces_and_recognises_commands(page: Any) -> None:
    from selenium.webdriver.support.ui import Select

    Select(page.find_element("id", "source-select")).select_by_visible_text(
        next(s["label"] for s in page.execute_script("return window.myovox.hello.sources") if s["id"] == "demo:2")
    )
    click(page, "btn-start")
    wait_for(page, "window.myovox.framesDrawn > 30", 30, "traces drawn")
    assert ink(page) > 5000
    wait_for(page, "document.querySelectorAll('#events li').length >= 1", 60, "a recognised command")
    time.sleep(2.0)
    stats = page.execute_script("return window.myovox")
    assert stats["fps"] >= 10, f"display updated {stats['fps']} times a second"
    assert stats["framesReceived"] - stats["framesDrawn"] < stats["framesReceived"]  # drawing keeps up
    m = wait_for(
        page, "window.myovox.metrics && window.myovox.metrics.display_ms_p50 !== null && window.myovox.metrics"
    )
    assert m["display_ms_p50"] < 500, m
    assert len(page.find_elements("css selector", "#quality .q-chip")) == 16
    ev = stats["events"][-1]
    assert ev["label"] in CueProtocol().words and 0 < ev["confidence"] <= 1
    shot(page, "dashboard-live.png")


def test_3_a_second_browser_sees_the_same_session(page: Any, page2: Any) -> None:
    wait_for(page2, "window.myovox.framesDrawn > 20", 30, "traces in the second browser")
    assert ink(page2) > 5000
    s1, s2 = (p.execute_script("return window.myovox.state") for p in (page, page2))
    assert s1["source"] == s2["source"] == "demo:2" and s2["clients"] >= 2
    wait_for(page2, "document.querySelectorAll('#events li').length >= 1", 60, "commands in the second browser")


def test_4_guided_recording_lands_on_disk_with_the_right_labels(page: Any, page2: Any, dashboard: dict) -> None:
    from selenium.webdriver.support.ui import Select

    Select(page.find_element("id", "protocol-select")).select_by_index(2)  # quick: 8 words
    for element_id, value in (("rec-reps", "2"), ("rec-session", "3"), ("rec-batch", "7")):
        box = page.find_element("id", element_id)
        box.clear()
        box.send_keys(value)
    click(page, "btn-record")
    wait_for(page, "document.getElementById('cue').textContent.startsWith('Next is:')", 30, "'Next is: <word>'")
    words = [w.upper() for w in CueProtocol().words]
    wait_for(page, f"{json.dumps(words)}.includes(document.getElementById('cue').textContent)", 30, "a word cue")
    shot(page, "dashboard-recording.png")
    # the other browser shows the same cue and progress
    wait_for(page2, "window.myovox.lastCue && window.myovox.lastCue.progress > 0", 10, "the cue in browser 2")
    assert page2.find_element("id", "btn-record").get_attribute("disabled") is not None
    click(page, "btn-pause")
    wait_for(page, "document.getElementById('cue').textContent === 'Paused'", 10, "paused")
    time.sleep(1.0)
    click(page, "btn-resume")
    wait_for(page, "document.getElementById('cue').textContent !== 'Paused'", 10, "resumed")
    done = wait_for(
        page, "window.myovox.recording && window.myovox.recording.status === 'finished' && window.myovox.recording", 90
    )
    assert done["result"] == "complete"
    csv = dashboard["data"] / done["path"]
    assert csv.parent == dashboard["data"] / "sessions" and csv.name.startswith("sess_3_batch_7_")
    rec = read_session(csv)
    proto = CueProtocol(repetitions=2, start_s=3.0)
    t = np.arange(rec.n_times) / rec.sfreq
    assert rec.n_times == round(proto.duration_s * rec.sfreq)
    np.testing.assert_array_equal(rec.labels, proto.labels_at(t))
    cues = [lab for _, _, lab in rec.label_runs() if lab != 0]
    assert cues == proto.trials() and rec.label_names == proto.label_names
    assert rec.meta["session"] == 3 and rec.meta["batch"] == 7 and rec.meta["status"] == "complete"


def test_5_finetune_on_the_recording_and_switch_to_it(page: Any, dashboard: dict) -> None:
    box = page.find_element("id", "ft-epochs")
    box.clear()
    box.send_keys("3")
    assert page.find_element("id", "ft-recording").get_attribute("value").startswith("sessions/sess_3_batch_7_")
    click(page, "btn-finetune")
    ft = wait_for(
        page, "window.myovox.finetune && window.myovox.finetune.status !== 'running' && window.myovox.finetune", 120
    )
    assert ft["status"] == "done", ft
    new = ft["model"]
    assert new.startswith("models/demo-ft-")
    wait_for(page, f"window.myovox.state.model === '{new}'", 20, "the switch to the fine-tuned model")
    wait_for(page, f"document.getElementById('model-select').value === '{new}'", 10)
    assert "fine-tuned:" in page.find_element("id", "model-card").text
    card = json.loads((dashboard["data"] / new / "model.json").read_text())
    assert card["training"]["fine_tuned"][-1]["dataset"].startswith("sessions/sess_3_batch_7_")
    wait_for(page, f"window.myovox.events.some(e => e.model === '{new}')", 60, "a command recognised by the new model")
    shot(page, "dashboard-finetuned.png")

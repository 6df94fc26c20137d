"""Sweeps on Ray (a private local instance with 2 CPUs): a Ray worker killed mid-unit, a driver killed half-way.

Both end with the same store as an uninterrupted run of the local backend: every unit there once, with the
same results (their timings differ). The sweeps run in subprocesses, as `myovox sweep` on the command line.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from myovox.sweep import ResultsStore, compare_stores, load_config, run_sweep

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the Ray workers in /proc (Linux)"),
]


@pytest.fixture(scope="module", autouse=True)
def _need_ray():
    if importlib.util.find_spec("ray") is None:
        if os.environ.get("CI"):
            pytest.fail("Ray is missing; CI installs it with the 'all' extra (pip install 'myovox[ray]')")
        pytest.skip("Ray is not installed (pip install 'myovox[ray]')")


@pytest.fixture(scope="module")
def grid(synth_data, tmp_path_factory) -> tuple[Path, Path]:
    """A grid of 8 units (2 subjects x lda, rf x 2 seeds) and its store from an uninterrupted local run."""
    import yaml

    root = tmp_path_factory.mktemp("ray-grid")
    cfg = {
        "name": "ray-test",
        "datasets": [{"path": str(synth_data), "name": "synth"}],
        "protocols": [{"name": "kfold", "options": {"n_splits": 2}}],
        "models": ["lda", {"name": "rf", "params": {"n_estimators": 60}}],
        "seeds": [0, 1],
        "retries": 2,
    }
    path = root / "grid.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    reference = root / "reference"
    summary = run_sweep(load_config(path), reference, n_workers=2)
    assert summary.done == 8
    return path, reference


def _sweep(cfg: Path, store: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    cmd = [sys.executable, "-m", "myovox.cli.main", "sweep", str(cfg), "--store", str(store)]
    cmd += ["--backend", "ray", "--workers", "2"]
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process we can see."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            cmd = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out[int(name)] = (ppid, cmd)
    return out


def _running_units(driver: int) -> list[int]:
    """Ray workers started by ``driver``'s Ray instance that are running a unit now."""
    procs = _processes()

    def below(pid: int) -> bool:
        seen = set()
        while pid in procs and pid not in seen:
            seen.add(pid)
            pid = procs[pid][0]
            if pid == driver:
                return True
        return False

    return [pid for pid, (_, cmd) in procs.items() if cmd.startswith("ray::execute_unit") and below(pid)]


def _n_done(store: Path) -> int:
    units = store / "units"
    return sum(1 for f in units.iterdir() if f.suffix == ".json") if units.is_dir() else 0


def _finish(proc: subprocess.Popen, log: Path, timeout: float = 300) -> str:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"the sweep did not finish in {timeout} s:\n{log.read_text()[-3000:]}")
    return log.read_text()


def test_killed_ray_worker_loses_only_its_unit(grid, tmp_path):
    cfg, reference = grid
    store, log = tmp_path / "store", tmp_path / "sweep.log"
    proc = _sweep(cfg, store, log)
    killed = None
    deadline = time.time() + 180
    while killed is None and proc.poll() is None and time.time() < deadline:
        busy = _running_units(proc.pid)
        if busy and _n_done(store) >= 1:  # mid-sweep: a unit done, another one running
            os.kill(busy[0], signal.SIGKILL)
            killed = busy[0]
        time.sleep(0.05)
    text = _finish(proc, log)
    assert killed is not None, f"no Ray worker was seen running a unit:\n{text[-3000:]}"
    assert proc.returncode == 0, text[-3000:]
    assert compare_stores(reference, store) == []
    retried = [r for r in ResultsStore(store).records("done") if len(r["attempts"]) > 1]
    assert retried, f"the killed unit was not run again:\n{text[-3000:]}"
    assert "Ray" in retried[0]["attempts"][0]["error"]["message"]


def test_killed_driver_resumes_to_the_same_store(grid, tmp_path):
    cfg, reference = grid
    store, log = tmp_path / "store", tmp_path / "first.log"
    proc = _sweep(cfg, store, log)
    deadline = time.time() + 180
    while proc.poll() is None and _n_done(store) < 3 and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed half-way"
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray instance it started, at once
    proc.wait()
    n_first = _n_done(store)
    assert 3 <= n_first < 8
    ResultsStore(store)  # whatever the kill left is a valid store
    proc = _sweep(cfg, store, tmp_path / "resume.log")
    text = _finish(proc, tmp_path / "resume.log")
    assert proc.returncode == 0, text[-3000:]
    assert f"{n_first} already in the store, {8 - n_first} run now" in text
    assert compare_stores(reference, store) == []

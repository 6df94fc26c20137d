"""Run a sweep: plan its units, skip those already in the store, run the rest on a backend, record each.

The driver (this module) alone writes the store, one record per unit as soon as it finishes, so an
interrupted sweep (Ctrl-C, a killed driver, a lost cluster) keeps every finished unit and the next
run resumes with the others. A unit whose attempt fails (an error, or its worker died) is run again
up to ``retries`` times, then recorded as failed with every attempt's error.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._checks import check_int
from .._logging import logger
from .backends import LocalBackend, RayBackend, make_backend
from .config import SweepConfig, plan_units
from .store import ResultsStore
from .unit import Unit

__all__ = ["SweepProgress", "SweepSummary", "run_sweep"]


@dataclass
class SweepSummary:
    """What a call of :func:`run_sweep` did."""

    total: int
    skipped: int
    done: int
    failed: int
    retried: int
    elapsed_s: float
    backend: str
    n_workers: int
    store: str
    failed_keys: list[str] = field(default_factory=list)
    skipped_failed: int = 0

    @property
    def units_per_min(self) -> float:
        """Units finished (done or failed) per minute of this run."""
        n = self.done + self.failed
        return 60.0 * n / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def __str__(self) -> str:
        rate = f"{self.units_per_min:.1f} units/min" if math.isfinite(self.units_per_min) else "-"
        extra = f"; {self.skipped_failed} failed before and not retried (--retry-failed)" if self.skipped_failed else ""
        return (
            f"sweep: {self.total} units: {self.skipped} already in the store, {self.done} run now, "
            f"{self.failed} failed, {self.retried} retries; {_duration(self.elapsed_s)} on {self.n_workers} "
            f"{self.backend} worker(s), {rate}{extra}. Store: {self.store}"
        )


def _duration(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


@dataclass
class SweepProgress:
    """The live count of a sweep: units done, running, failed and left, and an estimate of the time left."""

    total: int
    done: int = 0
    running: int = 0
    failed: int = 0
    started: float = field(default_factory=time.time)
    finished_now: int = 0
    unit_seconds: float = 0.0
    capacity: int = 1

    @property
    def left(self) -> int:
        """Units neither finished, failed nor running."""
        return max(self.total - self.done - self.failed - self.running, 0)

    @property
    def units_per_min(self) -> float:
        """Units finished per minute since this run started."""
        dt = time.time() - self.started
        return 60.0 * self.finished_now / dt if dt > 0 and self.finished_now else float("nan")

    @property
    def eta_s(self) -> float:
        """Seconds left: the units left and half of those running, at the mean unit time, over the workers."""
        if not self.finished_now:
            return float("nan")
        mean = self.unit_seconds / self.finished_now
        return (self.left + 0.5 * self.running) * mean / max(self.capacity, 1)

    def line(self) -> str:
        """``"12/40 done, 1 failed, 2 running, 25 left | 3.1 units/min | about 8.0 min left"``."""
        rate = self.units_per_min
        head = f"{self.done}/{self.total} done, {self.failed} failed, {self.running} running, {self.left} left"
        if not math.isfinite(rate):
            return f"{head} | estimating time left"
        return f"{head} | {rate:.1f} units/min | about {_duration(self.eta_s)} left"

    def to_dict(self) -> dict[str, Any]:
        """For ``progress.json``."""
        return {
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "running": self.running,
            "left": self.left,
            "units_per_min": self.units_per_min,
            "eta_s": self.eta_s,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "pid": os.getpid(),
        }


def run_sweep(
    config: SweepConfig,
    store: ResultsStore | str | os.PathLike,
    *,
    backend: str = "local",
    address: str | None = None,
    n_workers: int | None = None,
    retries: int | None = None,
    retry_failed: bool = False,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> SweepSummary:
    """Run every unit of ``config`` that ``store`` does not hold yet.

    Parameters
    ----------
    config : SweepConfig
        The grid (:func:`~myovox.sweep.load_config` reads one from YAML).
    store : ResultsStore | path-like
        The results store (a missing or empty folder becomes one).
    backend : {"local", "ray"}
        Local worker processes (``spawn``: a script that calls this needs the
        ``if __name__ == "__main__":`` guard) or Ray tasks.
    address : str | None
        Ray only: None starts a private local Ray instance; ``"auto"`` or ``"HOST:PORT"`` joins a cluster.
    n_workers : int | None
        Units at once (default: this machine's CPUs; Ray: the cluster's CPUs).
    retries : int | None
        Attempts after the first before a unit is recorded as failed (default: ``config.retries``).
    retry_failed : bool
        Also run the units recorded as failed by an earlier run (default: leave them failed).
    on_event : callable | None
        Called as ``on_event(kind, info)`` with kind ``"submit"`` (``unit``, ``task``, ``attempt``,
        ``pid`` of a local worker) and ``"finish"`` (``unit``, ``status``: done, retry, failed).

    Returns
    -------
    SweepSummary
    """
    retries = config.retries if retries is None else check_int("retries", retries, minimum=0)
    if n_workers is not None:
        n_workers = check_int("workers", n_workers, minimum=1)
    st = store if isinstance(store, ResultsStore) else ResultsStore(store)
    units = plan_units(config, st)
    done_keys = st.done_keys()
    failed_keys = st.failed_keys()
    todo = [u for u in units if u.key not in done_keys and (retry_failed or u.key not in failed_keys)]
    skipped = sum(u.key in done_keys for u in units)
    skipped_failed = 0 if retry_failed else sum(u.key in failed_keys and u.key not in done_keys for u in units)
    logger.info(
        "sweep %s: %d units, %d already in %s, %d to run%s",
        config.name,
        len(units),
        skipped,
        st.path,
        len(todo),
        f" ({skipped_failed} failed before: not retried without --retry-failed)" if skipped_failed else "",
    )
    t0 = time.perf_counter()
    if not todo:
        st.write_index()
        return SweepSummary(len(units), skipped, 0, 0, 0, 0.0, backend, 0, str(st.path), [], skipped_failed)
    if n_workers is None and backend == "local":
        n_workers = min(os.cpu_count() or 1, len(todo))
    be = make_backend(backend, n_workers=n_workers, address=address)
    prog = SweepProgress(total=len(units), done=skipped, failed=skipped_failed, capacity=be.capacity)
    try:
        done, failed, retried, failed_list = _drive(be, st, config, todo, retries, prog, on_event)
    finally:
        be.close()
        try:
            st.write_progress({**prog.to_dict(), "state": "stopped"})
            st.write_index()
        except OSError as err:  # pragma: no cover - the records are what matters
            logger.warning("sweep: could not write the index of %s: %s", st.path, err)
    summary = SweepSummary(
        len(units),
        skipped,
        done,
        failed,
        retried,
        time.perf_counter() - t0,
        be.name,
        be.capacity,
        str(st.path),
        failed_list,
        skipped_failed,
    )
    return summary


def _drive(
    be: LocalBackend | RayBackend,
    st: ResultsStore,
    config: SweepConfig,
    todo: list[Unit],
    retries: int,
    prog: SweepProgress,
    on_event: Callable[[str, dict[str, Any]], None] | None,
) -> tuple[int, int, int, list[str]]:
    pending: deque[tuple[Unit, list[dict[str, Any]]]] = deque((u, []) for u in todo)
    flying: dict[int, tuple[Unit, list[dict[str, Any]], float]] = {}
    next_id = 0
    done = failed = retried = 0
    failed_list: list[str] = []
    last_note = last_write = 0.0
    sweep_info = {"name": config.name, "backend": be.name, "source": config.source}

    def note(force: bool = False) -> None:
        """Log the count (at each change, else once a minute) and write progress.json (at most every 10 s idle)."""
        nonlocal last_note, last_write
        now = time.time()
        if force or now - last_note > 60:
            logger.info("sweep: %s", prog.line())
            last_note = now
        if force or now - last_write > 10:
            try:
                st.write_progress({**prog.to_dict(), "state": "running"})
            except OSError:  # pragma: no cover
                pass
            last_write = now

    changed = True
    while pending or flying:
        while pending and len(flying) < be.capacity:
            unit, attempts = pending.popleft()
            task = next_id
            next_id += 1
            pid = be.submit(task, unit.to_dict())
            flying[task] = (unit, attempts, time.time())
            prog.running = len(flying)
            if on_event is not None:
                on_event("submit", {"unit": unit, "task": task, "attempt": len(attempts) + 1, "pid": pid})
        note(force=changed)  # after the refill, so that "running" counts the units sent out again
        changed = False
        for task, out, system_error in be.wait(timeout=1.0):
            unit, attempts, t_submit = flying.pop(task)
            prog.running = len(flying)
            wall = time.time() - t_submit
            if out is not None and out.get("ok"):
                attempts.append({"ok": True, "timing": out.get("timing"), "worker": out.get("worker")})
                st.write(
                    {
                        "key": unit.key,
                        "status": "done",
                        "label": unit.label(),
                        "unit": unit.to_dict(),
                        "config": unit.config(),
                        "result": out["result"],
                        "timing": {**out["timing"], "wall_s": round(wall, 3)},
                        "worker": out.get("worker"),
                        "versions": out.get("versions"),
                        "warnings": out.get("warnings") or [],
                        "attempts": attempts,
                        "sweep": sweep_info,
                    }
                )
                done += 1
                prog.done += 1
                status = "done"
            else:
                error = (
                    out["error"]
                    if out is not None
                    else {"type": "WorkerDied", "message": system_error or "the worker went away", "traceback": None}
                )
                attempts.append({"ok": False, "error": error, "worker": None if out is None else out.get("worker")})
                if len(attempts) <= retries:
                    logger.warning(
                        "sweep: %s failed (attempt %d of %d), retrying: %s: %s",
                        unit.label(),
                        len(attempts),
                        retries + 1,
                        error["type"],
                        error["message"],
                    )
                    pending.append((unit, attempts))
                    retried += 1
                    status = "retry"
                else:
                    logger.warning(
                        "sweep: %s failed after %d attempt(s): %s: %s",
                        unit.label(),
                        len(attempts),
                        error["type"],
                        error["message"],
                    )
                    st.write(
                        {
                            "key": unit.key,
                            "status": "failed",
                            "label": unit.label(),
                            "unit": unit.to_dict(),
                            "config": unit.config(),
                            "error": error,
                            "attempts": attempts,
                            "versions": None if out is None else out.get("versions"),
                            "sweep": sweep_info,
                        }
                    )
                    failed += 1
                    prog.failed += 1
                    failed_list.append(unit.key)
                    status = "failed"
            if status != "retry":
                prog.finished_now += 1
                prog.unit_seconds += wall
            changed = changed or status != "retry"
            if on_event is not None:
                on_event("finish", {"unit": unit, "task": task, "status": status})
    note(force=True)
    return done, failed, retried, failed_list


def default_store(config: SweepConfig) -> Path:
    """The store of a configuration that names none: ``myovox-sweeps/<config file name>`` in the cwd."""
    if config.store:
        return Path(config.store)
    stem = Path(config.source).stem if config.source else config.name
    return Path("myovox-sweeps") / stem

"""Where a sweep's units run: local worker processes (default) or the workers of a Ray cluster.

Both run :func:`myovox.sweep.unit.execute_unit` on one unit at a time per worker and hand its outcome
(a plain dictionary) back to the sweep's driver, which alone writes the results store. A worker that
dies mid-unit (killed, out of memory) loses that unit only: the backend reports it as a system
error and the driver runs the unit again (it counts as one of the unit's attempts).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .._checks import require
from .._logging import logger
from ..exceptions import ValidationError
from .unit import execute_unit

#: names of the backends :func:`make_backend` knows
BACKENDS = ("local", "ray")

#: (task id, outcome of execute_unit or None, system error or None)
_Completion = tuple[int, dict[str, Any] | None, str | None]

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")

__all__ = ["BACKENDS", "LocalBackend", "RayBackend", "make_backend"]


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set for the block (a spawned process copies it when it starts)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _worker_main(conn: multiprocessing.connection.Connection, threads: int) -> None:
    """A local worker: run the units the driver sends, one at a time, until it sends None or goes away."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        task_id, payload = msg
        out = execute_unit(payload)
        try:
            conn.send((task_id, out))
        except (BrokenPipeError, OSError):
            return


def _exit_text(code: int | None) -> str:
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class _Worker:
    def __init__(self, ctx: Any, threads: int) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, threads), daemon=True, name="myovox-sweep-worker")
        env = dict.fromkeys(_THREAD_VARS, str(threads))
        with _environ(env):
            self.process.start()
        child.close()
        self.task: int | None = None


class LocalBackend:
    """``n_workers`` worker processes on this machine (started with ``spawn``; each runs one unit at a time).

    Parameters
    ----------
    n_workers : int
        Worker processes.
    threads : int
        Threads of the numerical libraries in each worker (BLAS, OpenMP, torch); 1 avoids
        oversubscribing the cores when every worker is busy.
    """

    name = "local"

    def __init__(self, n_workers: int, *, threads: int = 1) -> None:
        if n_workers < 1:
            raise ValidationError(f"Invalid value for 'workers': expected an integer >= 1, got {n_workers!r}.")
        self._ctx = multiprocessing.get_context("spawn")
        self._threads = threads
        self.capacity = n_workers
        self._workers = [_Worker(self._ctx, threads) for _ in range(n_workers)]

    def _replace(self, i: int) -> None:
        old = self._workers[i]
        try:
            old.conn.close()
        except OSError:
            pass
        old.process.join(timeout=1)
        self._workers[i] = _Worker(self._ctx, self._threads)

    def submit(self, task_id: int, payload: dict[str, Any]) -> int | None:
        """Send a unit to an idle worker; returns the worker's process id."""
        for i, w in enumerate(self._workers):
            if w.task is None:
                if not w.process.is_alive():
                    self._replace(i)
                    w = self._workers[i]
                w.conn.send((task_id, payload))
                w.task = task_id
                return w.process.pid
        raise RuntimeError("LocalBackend.submit: every worker is busy")  # the driver never over-submits

    def wait(self, timeout: float) -> list[_Completion]:
        """Outcomes of the units that finished (or whose worker died) within ``timeout`` seconds."""
        busy = [(i, w, w.task) for i, w in enumerate(self._workers) if w.task is not None]
        if not busy:
            return []
        objs: list[Any] = [w.conn for _, w, _ in busy] + [w.process.sentinel for _, w, _ in busy]
        ready = multiprocessing.connection.wait(objs, timeout)
        out: list[_Completion] = []
        for i, w, task in busy:
            got = None
            if w.conn in ready or w.process.sentinel in ready:
                try:
                    if w.conn.poll():
                        got = w.conn.recv()
                except (EOFError, OSError):
                    got = None
                if got is not None:
                    out.append((got[0], got[1], None))
                    w.task = None
                elif not w.process.is_alive() or w.process.sentinel in ready:
                    w.process.join(timeout=1)
                    err = f"local worker process {w.process.pid} died mid-unit ({_exit_text(w.process.exitcode)})"
                    out.append((task, None, err))
                    self._replace(i)
        return out

    def close(self) -> None:
        """Stop every worker (a unit still running is abandoned; it was not recorded)."""
        for w in self._workers:
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
        for w in self._workers:
            w.process.join(timeout=2 if w.task is None else 0.1)
            if w.process.is_alive():
                w.process.terminate()
                w.process.join(timeout=2)
            if w.process.is_alive():  # pragma: no cover - ignored SIGTERM
                w.process.kill()
                w.process.join()
            try:
                w.conn.close()
            except OSError:
                pass


class RayBackend:
    """Units as Ray tasks (one CPU each) on a Ray cluster.

    Parameters
    ----------
    address : str | None
        None: start a private local Ray instance with ``n_workers`` CPUs (stopped at :meth:`close`);
        ``"auto"``: the cluster this machine belongs to (``ray start``); ``"ray://HOST:PORT"`` or
        ``HOST:PORT``: that cluster. Every node must have myovox installed and read the dataset
        paths (a shared filesystem).
    n_workers : int | None
        Units running at once (default: the cluster's CPUs).
    """

    name = "ray"

    def __init__(self, address: str | None = None, n_workers: int | None = None) -> None:
        self._ray = ray = require("ray", "sweeps on Ray")
        self._started = False
        if not ray.is_initialized():
            if address is None:
                ray.init(
                    address="local",
                    num_cpus=n_workers or os.cpu_count() or 1,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                )
            else:
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            self._started = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.capacity = int(n_workers or max(cpus, 1))
        self._remote = ray.remote(num_cpus=1, max_retries=0)(execute_unit)
        self._refs: dict[Any, int] = {}
        logger.info("sweep: Ray with %d CPUs, %d units at a time", cpus, self.capacity)

    def submit(self, task_id: int, payload: dict[str, Any]) -> int | None:
        """Submit a unit as a Ray task (its worker is not known yet: returns None)."""
        self._refs[self._remote.remote(payload)] = task_id
        return None

    def wait(self, timeout: float) -> list[_Completion]:
        """Outcomes of the tasks that finished (or failed in Ray) within ``timeout`` seconds."""
        ray = self._ray
        if not self._refs:
            return []
        refs = list(self._refs)
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        out: list[_Completion] = []
        for ref in ready:
            task = self._refs.pop(ref)
            try:
                out.append((task, ray.get(ref), None))
            except ray.exceptions.RayError as err:  # worker died, node lost, out of memory
                text = str(err).strip().splitlines()
                out.append((task, None, f"Ray: {type(err).__name__}: {text[0] if text else ''}"[:500]))
        return out

    def close(self) -> None:
        """Cancel the tasks still running; stop the local Ray instance this backend started."""
        for ref in list(self._refs):
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - best effort: the instance is shut down next
                pass
        self._refs.clear()
        if self._started:
            self._ray.shutdown()


def make_backend(name: str, *, n_workers: int | None = None, address: str | None = None) -> LocalBackend | RayBackend:
    """A backend by name (:data:`BACKENDS`); ``address`` applies to ``"ray"`` only."""
    from .._checks import check_option

    check_option("backend", name, BACKENDS)
    if name == "local":
        if address is not None:
            raise ValidationError("--address applies to the 'ray' backend only.")
        return LocalBackend(n_workers or os.cpu_count() or 1)
    return RayBackend(address, n_workers)

"""Shared fixtures of the dashboard tests: a data folder with a short synthetic recording, a served session,
and a WebSocket client that collects messages in the background."""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the dashboard needs the web extra: pip install 'myovox[web]'")
pytest.importorskip("uvicorn", reason="the dashboard needs the web extra: pip install 'myovox[web]'")
pytest.importorskip("websockets", reason="the dashboard needs the web extra: pip install 'myovox[web]'")


def synthetic_recording(n_repetitions: int = 3, seed: int = 0, batch: int = 1) -> Any:
    """A labelled 16-channel SilentWear-like recording (5 s + 24 trials of 3.5 s + 3.5 s at 500 Hz) of
    subject 1, day 2 (other batches: the same participant and band placement, other trials)."""
    from myovox.testing.synth import SynthConfig, generate_recording

    cfg = SynthConfig.preset("easy", n_repetitions=n_repetitions, packet_loss=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return generate_recording(1, 2, batch, config=cfg, seed=seed)


@pytest.fixture(scope="session")
def make_recording() -> Callable[..., Any]:
    """:func:`synthetic_recording` for tests."""
    return synthetic_recording


@pytest.fixture(scope="session")
def replay_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short synthetic recording as .npz (copied into each test's data folder)."""
    from myovox.io import write_recording

    path = tmp_path_factory.mktemp("replay") / "rec.npz"
    write_recording(synthetic_recording(), path)
    return path


@pytest.fixture
def data_dir(tmp_path: Path, replay_file: Path) -> Path:
    """A data folder holding ``replays/rec.npz``."""
    import shutil

    data = tmp_path / "data"
    (data / "replays").mkdir(parents=True)
    shutil.copy(replay_file, data / "replays" / "rec.npz")
    return data


@pytest.fixture
def serve(data_dir: Path) -> Iterator[Callable[..., Any]]:
    """``serve(**session_options, token=None)`` starts a dashboard on a free loopback port; stopped after the test."""
    from myovox.web.server import DashboardServer
    from myovox.web.session import DashboardSession

    servers: list[Any] = []

    def start(*, token: str | None = None, **options: Any) -> Any:
        options.setdefault("speed", 20.0)
        session = DashboardSession(data_dir, **options)
        server = DashboardServer(session, host="127.0.0.1", port=0, token=token).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class Client:
    """A WebSocket client that collects every message in a background thread."""

    def __init__(self, url: str, **connect_options: Any) -> None:
        from websockets.sync.client import connect

        self.ws = connect(url, open_timeout=10, **connect_options).__enter__()  # closed in close()
        self.messages: list[dict[str, Any]] = []
        self.closed: Any = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for text in self.ws:
                with self._lock:
                    self.messages.append(json.loads(text))
        except ConnectionClosed as err:
            self.closed = err
        else:
            self.closed = True

    def send(self, obj: Any) -> None:
        self.ws.send(obj if isinstance(obj, (str, bytes)) else json.dumps(obj))

    def clear(self) -> None:
        """Forget the messages so far (``wait`` then sees only new ones)."""
        with self._lock:
            self.messages.clear()

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages if m.get("type") == kind]

    def wait(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 30.0, what: str = "a message") -> dict:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            with self._lock:
                new = self.messages[seen:]
            for m in new:
                if pred(m):
                    return m
            seen += len(new)
            if self.closed is not None:
                break
            time.sleep(0.02)
        kinds = sorted({m.get("type") for m in self.messages})
        raise AssertionError(f"no {what} within {timeout} s (closed: {self.closed!r}; got {kinds})")

    def wait_closed(self, timeout: float = 10.0) -> Any:
        """The exception that closed the connection (or True), waiting up to ``timeout`` seconds."""
        self._thread.join(timeout)
        return self.closed

    def close(self) -> None:
        self.ws.__exit__(None, None, None)
        self._thread.join(5)


@pytest.fixture
def connect() -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(server: Any, path: str = "/ws", **options: Any) -> Client:
        c = Client(f"ws://127.0.0.1:{server.port}{path}", **options)
        clients.append(c)
        return c

    yield make
    for c in clients:
        try:
            c.close()
        except Exception:  # noqa: BLE001 - already closed by the test
            pass

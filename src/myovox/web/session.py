"""The dashboard's one live session: a source, the recogniser, the guided recorder, fine-tuning.

:class:`DashboardSession` owns everything that changes; pages only watch it and ask it to do
things. One reader thread reads the source and, for every chunk, feeds the display decimator, the
channel-quality monitor, the recogniser and (while recording) the recorder's stream; it publishes
to every subscriber (one per connected page):

``signal``
    Min/max pairs per display bucket of every channel (about 25 frames per second), with the wall
    time at which the newest sample came in (``t_in``) and a sequence number that pages echo in
    ``drawn`` messages, from which the session measures sample-in -> drawn latency.
``quality``
    Per-channel contact quality (:class:`~myovox.web.signals.ChannelQuality`), 4 times a second.
``event``
    Each recognised command (the JSON of ``myovox stream``, plus whether it matched the cue when
    the source is labelled).
``metrics``
    Once a second: stream time, samples, lost samples, windows, rejections, events per minute,
    decision and display latency, precision/recall against the cues of a labelled replay, the
    server's CPU and memory.
``cue`` / ``recording`` / ``finetune`` / ``state`` / ``models`` / ``recordings``
    Guided recording (cue text, progress), fine-tuning progress, and changes of state.

Every request that changes the state (:meth:`DashboardSession.handle`) is checked, serialised by a
lock, and carried out between two chunks by the reader thread itself, so a recording starts exactly
at a chunk boundary and only the recorder's thread writes the recording. Two pages see one session;
a second ``record_start`` while recording is refused.

Everything a client names is a path relative to the data folder (:class:`~myovox.web.paths.DataFolder`).
Recordings go to ``DATA/sessions/`` (a dataset folder that ``myovox train`` and ``finetune`` read),
fine-tuned models to ``DATA/models/<model>-ft-<time>/``.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._logging import logger
from .._version import __version__
from ..exceptions import MyovoxError, StreamError, ValidationError
from ..streams.base import BaseStream, Chunk
from .paths import DataFolder, PathRefused
from .signals import ChannelQuality, Decimator
from .sources import DemoParticipant, FeedStream

__all__ = ["PROTOCOL_PRESETS", "RECORDING_SUFFIXES", "DashboardSession", "LiveScore"]

#: cue protocols the page offers: id -> (description, CueProtocol fields changed from the reference's)
PROTOCOL_PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "reference": ("SilentWear's protocol: 8 words x 20 repetitions (about 9.5 min)", {}),
    "short": ("8 words x 5 repetitions (about 2.5 min)", {"repetitions": 5}),
    "quick": ("8 words x 2 repetitions (about 1 min)", {"repetitions": 2, "start_s": 3.0}),
}
#: recording files the page may replay from the data folder
RECORDING_SUFFIXES = (".bio", ".h5", ".csv", ".npz", ".edf", ".bdf")
#: recordings offered for replay at most (a page lists them all)
MAX_LISTED = 500
_SUBJECT = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_FRAME_MIN_S = 1.0 / 30.0  # at most 30 signal frames per second
_QUALITY_S = 0.25
_METRICS_S = 1.0


def _finite(x: Any, digits: int = 3) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return round(v, digits) if math.isfinite(v) else None


def _pairs(lo: np.ndarray, hi: np.ndarray) -> list[list[float | None]]:
    """Per channel, ``[lo0, hi0, lo1, hi1, ...]`` rounded to 0.1 (null where lost)."""
    both = np.empty((lo.shape[0], 2 * lo.shape[1]))
    both[:, 0::2], both[:, 1::2] = lo, hi
    both = np.round(both, 1)
    rows = both.tolist()
    if np.isfinite(both).all():
        return rows
    return [[v if math.isfinite(v) else None for v in row] for row in rows]


def _json_safe(obj: Any) -> Any:
    """``obj`` with non-finite floats as None (JSON has no NaN; a page's JSON.parse refuses it)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def _percentile(values: Any, q: float) -> float | None:
    arr = np.asarray(list(values), dtype=np.float64)
    return _finite(np.percentile(arr, q), 2) if arr.size else None


def _rss_mb() -> float | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class LiveScore:
    """Commands against the cues of a labelled source, as they happen (a live estimate of
    :func:`myovox.evaluation.streaming.event_metrics`: an event is correct when it falls in an
    unmatched cue of its label, from the cue's onset to ``tolerance_s`` after its end)."""

    def __init__(self, sfreq: float, *, rest_label: int = 0, tolerance_s: float = 1.0) -> None:
        self.sfreq, self.rest_label, self.tolerance_s = float(sfreq), int(rest_label), float(tolerance_s)
        self.labelled = False
        self._cues: deque[list[Any]] = deque(maxlen=64)  # [onset_s, offset_s | None, label, matched]
        self._last_label = rest_label
        self.n_cues = self.n_events = self.n_correct = self.n_wrong = self.n_false = 0
        self.t_end = 0.0
        self._n_closed_matched = 0

    def labels(self, labels: np.ndarray, first_sample: int) -> None:
        """Feed the labels of a chunk."""
        self.labelled = True
        lab = np.asarray(labels).astype(np.int64, copy=False)
        if not lab.size:
            return
        prev = np.concatenate([[self._last_label], lab[:-1]])
        for i in np.flatnonzero(lab != prev):
            t = (first_sample + int(i)) / self.sfreq
            if self._cues and self._cues[-1][1] is None:
                self._cues[-1][1] = t
            if int(lab[i]) != self.rest_label:
                self._cues.append([t, None, int(lab[i]), False])
                self.n_cues += 1
        self._last_label = int(lab[-1])
        self.t_end = (first_sample + lab.size) / self.sfreq

    def event(self, t: float, label_id: int) -> str | None:
        """``"correct"``, ``"wrong"`` (during another word's cue, or a repeat during a cue already
        matched) or ``"false"`` (during rest); None when the source has no labels."""
        if not self.labelled:
            return None
        self.n_events += 1
        for cue in self._cues:
            on, off, lab, matched = cue
            if matched or t < on or (off is not None and t >= off + self.tolerance_s):
                continue
            if lab == label_id:
                cue[3] = True
                self.n_correct += 1
                return "correct"
        if any(c[0] <= t and (c[1] is None or t < c[1] + self.tolerance_s) for c in self._cues):
            self.n_wrong += 1
            return "wrong"
        self.n_false += 1
        return "false"

    def summary(self) -> dict[str, Any]:
        if not self.labelled:
            return {}
        hours = self.t_end / 3600.0
        due = sum(1 for c in self._cues if c[1] is not None and c[1] + self.tolerance_s <= self.t_end)
        due += self.n_cues - len(self._cues)  # cues that left the window are all due
        return {
            "n_cues": self.n_cues,
            "n_correct": self.n_correct,
            "precision": _finite(self.n_correct / self.n_events) if self.n_events else None,
            "recall": _finite(min(1.0, self.n_correct / due)) if due else None,
            "false_per_hour": _finite(self.n_false / hours, 1) if hours > 0 else None,
        }


@dataclass
class _Recording:
    """A guided recording in progress."""

    feed: FeedStream
    recorder: Any
    protocol: Any
    name: str
    csv: Path
    cued: Any = None  # the demo participant's recording, or None
    thread: threading.Thread | None = None
    active: bool = False
    paused: bool = False
    started: float = field(default_factory=time.time)
    error: str | None = None
    last_cue: str | None = None
    schedule: list[float] = field(default_factory=list)


class _EpochProgress(logging.Handler):
    """Catches the epoch lines of a fine-tuning run in one thread (SpeechNet logs one per epoch)."""

    def __init__(self, thread_id: int, report: Callable[[int, dict[str, float]], None]) -> None:
        super().__init__(logging.DEBUG)
        self.thread_id, self.report = thread_id, report
        self.first: int | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread_id or not str(record.msg).startswith("epoch %d"):
            return
        args: tuple[Any, ...] = record.args if isinstance(record.args, tuple) else ()
        if len(args) < 5:
            return
        epoch = int(args[0])
        if self.first is None:
            self.first = epoch
        self.report(epoch - self.first + 1, {"train_loss": float(args[1]), "valid_acc": float(args[4])})


class DashboardSession:
    """The state behind the dashboard (see the module docstring).

    Parameters
    ----------
    data_dir : path-like
        The data folder: recordings, models and protocols are read and written only here.
    source : callable | None
        Builds the configured live source (``myovox serve --source``); called on every start.
    source_label : str | None
        How the page names that source.
    model_dir : path-like | None
        Model to load at start (a folder written by ``myovox train``); may lie outside the data
        folder (it is the server's configuration, not a client's choice).
    demo : DemoAssets | None
        The demo's participant and model (``myovox serve --demo``).
    speed : float
        Real-time factor of replays (file replays and the demo participant).
    step_s, threshold : float
        Recogniser settings (as ``myovox stream``).
    mains_hz : float | None
        Mains frequency for the quality monitor (default: the model's notch, else 50 Hz).
    buckets_per_s : float
        Display buckets per second of stream time.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        source: Callable[[], BaseStream] | None = None,
        source_label: str | None = None,
        model_dir: str | os.PathLike[str] | None = None,
        demo: Any = None,
        speed: float = 1.0,
        step_s: float = 0.1,
        threshold: float = 0.6,
        mains_hz: float | None = None,
        buckets_per_s: float = 100.0,
    ) -> None:
        self.data = DataFolder(data_dir)
        self.speed = float(speed)
        self.step_s, self.threshold = float(step_s), float(threshold)
        self.mains_hz = mains_hz
        self.buckets_per_s = float(buckets_per_s)
        self.demo = demo
        self._sources: dict[str, tuple[str, Callable[[], BaseStream]]] = {}
        if source is not None:
            self._sources["configured"] = (source_label or "configured source", source)
        if demo is not None:
            from .demo import DEMO_DAYS

            for day, (_, label) in DEMO_DAYS.items():
                self._sources[f"demo:{day}"] = (label, functools.partial(demo.participant, day, speed=self.speed))
        self._lock = threading.RLock()
        self._subs: list[Callable[[str, str], None]] = []
        self._subs_lock = threading.Lock()
        self._calls: queue.Queue[Callable[[], None]] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._running = False  # the reader reads (cleared by the reader itself before it says so)
        self._stop = threading.Event()
        self._stream: BaseStream | None = None
        self._source_id: str | None = None
        self._source_label: str | None = None
        self._stream_info: dict[str, Any] | None = None
        self._recog: Any = None
        self._recog_offset = 0  # stream sample at which the recogniser's own sample 0 lies
        self._stats_base: dict[str, int] = {}  # statistics of the recognisers used earlier on this stream
        self._raw: Any = None  # the last seconds of the stream (to warm up a model switched in)
        self._n_seen = 0
        self._model_id: str | None = None
        self._model_dir: Path | None = None
        self._startup_model: Path | None = None
        self._rec: _Recording | None = None
        self._rec_lock = threading.Lock()
        self._last_recording: str | None = None
        self._ft: dict[str, Any] = {"status": "idle"}
        self._ft_thread: threading.Thread | None = None
        self._events: deque[dict[str, Any]] = deque(maxlen=200)
        self._frames: deque[tuple[int, float]] = deque(maxlen=512)
        self._display_ms: deque[float] = deque(maxlen=2000)
        self._decision_ms: deque[float] = deque(maxlen=500)
        self._fps: float | None = None
        self._seq = 0
        self._metrics: dict[str, Any] = {}
        self._cpu_mark = (time.monotonic(), time.process_time())
        self._closed = False
        if model_dir is not None:
            path = Path(model_dir).resolve()
            self._startup_model = None if self.data.contains(path) else path
            self._load_model(path, self._id_of(path))
        elif demo is not None:
            self._load_model(Path(demo.model_dir).resolve(), self._id_of(Path(demo.model_dir)))

    # ------------------------------------------------------------------ subscribers
    def subscribe(self, send: Callable[[str, str], None]) -> Callable[[], None]:
        """Register ``send(text, kind)`` for every message; returns the function that unsubscribes.
        ``send`` is called from the session's threads and must not block."""
        with self._subs_lock:
            self._subs.append(send)
        self._publish_state()  # every page shows how many pages watch

        def unsubscribe() -> None:
            with self._subs_lock:
                if send not in self._subs:
                    return
                self._subs.remove(send)
            self._publish_state()

        return unsubscribe

    @property
    def n_clients(self) -> int:
        with self._subs_lock:
            return len(self._subs)

    def _publish(self, msg: dict[str, Any]) -> None:
        try:
            text = json.dumps(msg, separators=(",", ":"), allow_nan=False)
        except ValueError:  # a NaN somewhere (a validation loss without validation data, ...)
            text = json.dumps(_json_safe(msg), separators=(",", ":"), allow_nan=False)
        with self._subs_lock:
            subs = list(self._subs)
        for send in subs:
            try:
                send(text, msg["type"])
            except Exception:  # noqa: BLE001 - a broken subscriber must not stop the session
                logger.debug("dropping a subscriber that failed", exc_info=True)
                with self._subs_lock:
                    if send in self._subs:
                        self._subs.remove(send)

    # ------------------------------------------------------------------ what the page shows
    def hello(self) -> dict[str, Any]:
        """Everything a page needs when it connects."""
        return {
            "type": "hello",
            "version": __version__,
            "demo": self.demo is not None,
            "data_dir": str(self.data.root),
            "sources": self.list_sources(),
            "protocols": self.list_protocols(),
            "models": self.list_models(),
            "recordings": self.list_recordings(),
            "state": self.state(),
            "events": list(self._events)[-50:],
            "metrics": self._metrics,
        }

    def state(self) -> dict[str, Any]:
        rec = self._rec
        return {
            "running": self._running,
            "source": self._source_id,
            "source_label": self._source_label,
            "stream": self._stream_info,
            "model": self._model_id,
            "recognising": self._recog is not None,
            "recording": None if rec is None else self._recording_info(rec),
            "last_recording": self._last_recording,
            "finetune": dict(self._ft),
            "clients": self.n_clients,
        }

    def list_sources(self) -> list[dict[str, Any]]:
        out = [{"id": sid, "label": label} for sid, (label, _) in self._sources.items()]
        n_files = 0
        for path in self.data.walk(suffixes=RECORDING_SUFFIXES, max_depth=6):
            if path.suffix.lower() == ".csv" and not path.with_suffix(".json").is_file():
                continue  # a CSV the page can replay is a recorded session (with its sidecar)
            rel = self.data.relative(path)
            out.append({"id": "file", "path": rel, "label": f"replay {rel}"})
            n_files += 1
            if n_files >= MAX_LISTED:
                logger.warning("data folder: only the first %d recordings are offered for replay", MAX_LISTED)
                break
        return out

    def list_protocols(self) -> list[dict[str, Any]]:
        from ..acquisition import CueProtocol

        out = []
        for pid, (label, changes) in PROTOCOL_PRESETS.items():
            p = CueProtocol(**changes)
            out.append(
                {"id": pid, "label": label, "words": p.words, "repetitions": p.repetitions, "duration_s": p.duration_s}
            )
        for path in self._walk("protocols", (".json", ".yaml", ".yml"), 1):
            rel = self.data.relative(path)
            try:
                p = CueProtocol.from_file(path)
            except (MyovoxError, OSError, ValueError) as err:
                logger.warning("protocol %s: %s", rel, err)
                continue
            out.append(
                {
                    "id": "file",
                    "path": rel,
                    "label": f"{rel}: {len(p.words)} words x {p.repetitions}",
                    "words": p.words,
                    "repetitions": p.repetitions,
                    "duration_s": p.duration_s,
                }
            )
        return out

    def _walk(self, sub: str, suffixes: tuple[str, ...], depth: int) -> list[Path]:
        """Files of a subfolder of the data folder; none when it is missing or leads outside."""
        if not (self.data.root / sub).is_dir():
            return []
        try:
            return list(self.data.walk(sub, suffixes=suffixes, max_depth=depth))
        except PathRefused as err:
            logger.warning("data folder: %s", err)
            return []

    def list_models(self) -> list[dict[str, Any]]:
        """Saved models: ``DATA/models/*`` and the model given at start; each with its card."""
        out = []
        dirs: list[tuple[str, Path]] = []
        if self._startup_model is not None:
            dirs.append(("startup", self._startup_model))
        for path in self._walk("models", ("model.json",), 1):
            if path.name == "model.json":
                dirs.append((self.data.relative(path.parent), path.parent))
        for mid, path in dirs:
            entry: dict[str, Any] = {"id": mid, "active": mid == self._model_id, "path": str(path)}
            try:
                entry["card"] = card_summary(path)
            except (MyovoxError, OSError, ValueError) as err:
                entry["error"] = str(err)
            out.append(entry)
        return out

    def list_recordings(self) -> list[dict[str, Any]]:
        out = []
        for path in self._walk("sessions", (".json",), 3):
            try:
                side = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(side, dict) or side.get("format") != "myovox-guided-recording":
                continue
            out.append(
                {
                    "path": self.data.relative(path.with_suffix(".csv")),
                    "status": side.get("status"),
                    "n_samples": side.get("n_samples"),
                    "meta": side.get("meta"),
                }
            )
        return out

    def recording_summary(self, rel: str) -> dict[str, Any]:
        """A recorded session read back (``GET /api/recording``): meta, status, samples and the
        number of samples and cue runs of each label."""
        from ..io.guided import is_session, read_session

        path = self.data.resolve(rel, kind="file")
        if not is_session(path):
            raise PathRefused(f"{rel!r} is not a recorded session (.csv + .json).")
        rec = read_session(path)
        labels = np.asarray(rec.labels if rec.labels is not None else [], dtype=np.int64)
        names = rec.label_names or {}
        ids, counts = np.unique(labels, return_counts=True)
        samples = {names.get(int(k), str(k)): int(v) for k, v in zip(ids, counts, strict=True)}
        runs = [names.get(lab, str(lab)) for _, _, lab in rec.label_runs() if lab != 0] if labels.size else []
        return {
            "path": self.data.relative(path),
            "status": rec.meta.get("status"),
            "n_samples": rec.n_times,
            "sfreq": rec.sfreq,
            "meta": {k: rec.meta.get(k) for k in ("subject", "session", "batch", "condition")},
            "label_samples": samples,
            "cues": runs,
        }

    def model_card(self, rel: str) -> dict[str, Any]:
        """The card of a model folder in the data folder (``GET /api/card``)."""
        if rel == "startup" and self._startup_model is not None:
            return card_summary(self._startup_model)
        path = self.data.resolve(rel, kind="dir")
        return card_summary(path)

    # ------------------------------------------------------------------ requests
    def handle(self, cmd: dict[str, Any]) -> dict[str, Any] | None:
        """Carry out a validated command (:func:`myovox.web.messages.parse_command`); returns the
        reply for the client that sent it. Raises ``MyovoxError`` (sent back as an error)."""
        kind = cmd["type"]
        if self._closed:
            raise ValidationError("The server is shutting down.")
        if kind == "drawn":
            self._drawn(cmd["seq"], cmd["t"], cmd.get("fps"))
            return None
        if kind == "ping":
            return {"type": "pong", "id": cmd.get("id"), "t": time.time()}
        handler = getattr(self, f"_cmd_{kind}")
        with self._lock:
            detail = handler(cmd)
        return {"type": "ack", "id": cmd.get("id"), "command": kind, "detail": detail}

    def _cmd_start(self, cmd: dict[str, Any]) -> str:
        if self._reader is not None and self._reader.is_alive():
            raise ValidationError(f"{self._source_label} is running; stop it first.")
        sid = cmd["source"]
        if sid == "file":
            if not cmd.get("path"):
                raise ValidationError("A file source needs a 'path' in the data folder.")
            path = self.data.resolve(cmd["path"], kind="file")
            if not path.name.lower().endswith(RECORDING_SUFFIXES):
                raise PathRefused(f"{cmd['path']!r} is not a recording ({', '.join(RECORDING_SUFFIXES)}).")
            from ..streams.replay import ReplayStream

            label = f"replay {self.data.relative(path)}"
            speed = self.speed

            def make() -> BaseStream:
                return ReplayStream(path, realtime=True, speed=speed, chunk_s=0.04 * max(1.0, speed))

            factory = make
        elif sid in self._sources:
            label, factory = self._sources[sid]
        else:
            known = ", ".join([*self._sources, "file"])
            raise ValidationError(f"Unknown source {sid!r}; this server offers: {known}.")
        stream = factory()
        self._stop = threading.Event()
        self._stream, self._source_id, self._source_label = stream, sid, label
        self._stream_info = None
        self._reader = threading.Thread(
            target=self._read_loop, args=(stream, self._stop), name="myovox-dashboard-reader", daemon=True
        )
        self._running = True
        self._reader.start()
        return f"started {label}"

    def _cmd_stop(self, cmd: dict[str, Any]) -> str:
        # no waiting here (the reader takes the lock to finish): a state message follows when it has stopped
        return self.stop_source(timeout=None)

    def stop_source(self, timeout: float | None = 10.0) -> str:
        """Stop the source (a recording in progress is stopped and kept); waits up to ``timeout``
        seconds for the reader to finish (None: does not wait)."""
        reader = self._reader
        if reader is None or not reader.is_alive():
            return "not running"
        self._stop.set()
        if timeout is not None:
            reader.join(timeout)
        return "stopping"

    def _cmd_select_model(self, cmd: dict[str, Any]) -> str:
        mid = cmd["model"]
        if mid == "startup" and self._startup_model is not None:
            path = self._startup_model
        else:
            path = self.data.resolve(mid, kind="dir")
            if not self.data.contains(path) or not (path / "model.json").is_file():
                raise PathRefused(f"{mid!r} is not a model folder in the data folder.")
        self._load_model(path, mid)
        return f"model {mid}"

    def _cmd_record_start(self, cmd: dict[str, Any]) -> str:
        from ..acquisition import CueProtocol, GuidedRecorder

        if self._rec is not None:
            raise ValidationError("A recording is already running; stop it first.")
        stream, info = self._stream, self._stream_info
        if stream is None or info is None or not self._running:
            raise ValidationError("Start a source first: the recording is made from the live signals.")
        proto_id = cmd.get("protocol") or "reference"
        if proto_id == "file":
            if not cmd.get("path"):
                raise ValidationError("A protocol file needs a 'path' in the data folder.")
            proto = CueProtocol.from_file(self.data.resolve(cmd["path"], kind="file"))
        elif proto_id in PROTOCOL_PRESETS:
            proto = CueProtocol(**PROTOCOL_PRESETS[proto_id][1])
        else:
            raise ValidationError(
                f"Unknown protocol {proto_id!r}; known: {', '.join(PROTOCOL_PRESETS)}, or 'file' with a path."
            )
        if cmd.get("repetitions") is not None:
            if not 1 <= cmd["repetitions"] <= 100:
                raise ValidationError("'repetitions' must be between 1 and 100.")
            proto = CueProtocol(**{**proto.to_dict(), "repetitions": cmd["repetitions"]})
        subject = cmd.get("subject") or "S01"
        if not _SUBJECT.match(subject):
            raise ValidationError("'subject' must be 1-32 letters, digits, '-' or '_'.")
        session, batch = cmd.get("session") or 1, cmd.get("batch") or 1
        for name, value in (("session", session), ("batch", batch)):
            if not 1 <= value <= 9999:
                raise ValidationError(f"{name!r} must be between 1 and 9999.")
        condition = cmd.get("condition") or "vocalized"
        if condition not in ("vocalized", "silent"):
            raise ValidationError("'condition' must be 'vocalized' or 'silent'.")
        out = self.data.subfolder("sessions")
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        name = f"sess_{session}_batch_{batch}_{stamp}"
        k = 1
        while (out / f"{name}.csv").exists() or (out / f"{name}.json").exists():
            k += 1
            name = f"sess_{session}_batch_{batch}_{stamp}_{k}"
        feed = FeedStream(info["sfreq"], info["ch_names"], label=f"dashboard: {stream.describe()}")
        meta = dict(subject=subject, session=session, batch=batch, condition=condition)
        recorder = GuidedRecorder(feed, proto, out, name=name, meta=meta, flush_s=1.0)
        cued = stream.make_cued(proto) if isinstance(stream, DemoParticipant) else None
        rec = _Recording(feed, recorder, proto, name, out / f"{name}.csv", cued=cued)
        rec.schedule = [on for on, _, _ in proto.schedule()]
        self._rec = rec
        self._calls.put(lambda: self._begin_recording(rec))
        return f"recording {name} ({len(proto.trials())} cues, {proto.duration_s:.0f} s)"

    def _cmd_record_pause(self, cmd: dict[str, Any]) -> str:
        rec = self._need_recording()
        self._calls.put(lambda: self._pause_recording(rec, True))
        return "paused"

    def _cmd_record_resume(self, cmd: dict[str, Any]) -> str:
        rec = self._need_recording()
        self._calls.put(lambda: self._pause_recording(rec, False))
        return "resumed"

    def _cmd_record_stop(self, cmd: dict[str, Any]) -> str:
        rec = self._need_recording()
        self._calls.put(lambda: self._end_recording(rec, "stopped"))
        return "stopping"

    def _need_recording(self) -> _Recording:
        if self._rec is None:
            raise ValidationError("No recording is running.")
        return self._rec

    def _cmd_finetune(self, cmd: dict[str, Any]) -> str:
        from ..adaptation import FINE_TUNE_STRATEGIES

        if self._ft_thread is not None and self._ft_thread.is_alive():
            raise ValidationError("A fine-tuning run is in progress.")
        if self._model_dir is None:
            raise ValidationError("No model is loaded: choose one to fine-tune.")
        rel = cmd.get("recording") or self._last_recording
        if not rel:
            raise ValidationError("Record a session first (or name one with 'recording').")
        csv = self.data.resolve(rel, kind="file")
        from ..io.guided import is_session

        if not is_session(csv):
            raise PathRefused(f"{rel!r} is not a recorded session (.csv + .json from a guided recording).")
        epochs = cmd.get("epochs") or 50
        if not 1 <= epochs <= 500:
            raise ValidationError("'epochs' must be between 1 and 500.")
        strategy = cmd.get("strategy") or "all"
        if strategy not in FINE_TUNE_STRATEGIES:
            raise ValidationError(f"'strategy' must be one of {', '.join(FINE_TUNE_STRATEGIES)}.")
        models = self.data.subfolder("models")
        base = re.sub(r"-ft-\d{8}-\d{6}(_\d+)?$", "", self._model_dir.name) or "model"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = models / f"{base}-ft-{stamp}"
        k = 1
        while out.exists():
            k += 1
            out = models / f"{base}-ft-{stamp}_{k}"
        self._ft = {
            "status": "running",
            "recording": self.data.relative(csv),
            "epoch": 0,
            "n_epochs": epochs,
            "progress": 0.0,
            "strategy": strategy,
        }
        self._publish({"type": "finetune", **self._ft})
        self._ft_thread = threading.Thread(
            target=self._finetune,
            args=(self._model_dir, csv, out, epochs, strategy),
            name="myovox-dashboard-finetune",
            daemon=True,
        )
        self._ft_thread.start()
        return f"fine-tuning {self._model_id} on {self._ft['recording']} ({epochs} epochs)"

    # ------------------------------------------------------------------ models
    def _id_of(self, path: Path) -> str:
        path = path.resolve()
        return self.data.relative(path) if self.data.contains(path) else "startup"

    def _load_model(self, path: Path, mid: str) -> None:
        from ..realtime.recognizer import Recognizer

        try:
            recog = Recognizer.from_saved(path, step_s=self.step_s, threshold=self.threshold)
        except (MyovoxError, OSError, ValueError) as err:
            raise ValidationError(f"Cannot load the model {mid}: {err}") from None
        if self._running:  # the reader binds it to its stream between two chunks
            self._calls.put(lambda: self._swap_model(recog, path, mid))
        else:
            self._recog, self._model_dir, self._model_id = recog, path, mid
            self._publish({"type": "models", "models": self.list_models(), "active": mid})
            self._publish_state()

    def _swap_model(self, recog: Any, path: Path, mid: str) -> None:
        """In the reader thread: bind the new recogniser to the running stream, warm its filter and
        buffer up on the last seconds of the stream, then use it (its events keep stream time)."""
        stream, raw = self._stream, self._raw
        try:
            if stream is not None:
                recog.bind(stream)
            n = len(raw) if raw is not None else 0
            if n:
                x, miss = raw.latest(n)
                recog.process(Chunk(np.array(x), 0, recog.sfreq, missing=miss.copy() if miss.any() else None))
                recog.events.clear()
                recog.stats = dict.fromkeys(recog.stats, 0)  # the warm-up is not part of the session
        except (MyovoxError, ValueError) as err:
            self._publish({"type": "error", "message": f"model {mid} does not fit the stream: {err}"})
            return
        old = self._recog
        if old is not None:
            for k, v in old.stats.items():
                self._stats_base[k] = self._stats_base.get(k, 0) + int(v)
        self._recog_offset = self._n_seen - n
        self._recog, self._model_dir, self._model_id = recog, path, mid
        self._publish({"type": "models", "models": self.list_models(), "active": mid})
        self._publish_state()

    # ------------------------------------------------------------------ the reader thread
    def _read_loop(self, stream: BaseStream, stop: threading.Event) -> None:
        try:
            stream.start()
        except (MyovoxError, OSError, ValueError) as err:
            self._publish({"type": "error", "message": f"cannot start {self._source_label}: {err}"})
            self._reader_done(stream)
            return
        try:
            self._stream_loop(stream, stop)
        except StreamError as err:
            self._publish({"type": "error", "message": f"{self._source_label}: {err}"})
        except Exception as err:  # noqa: BLE001 - report on the page and in the log, then stop cleanly
            logger.exception("dashboard reader failed")
            self._publish({"type": "error", "message": f"internal error: {type(err).__name__}: {err}"})
        finally:
            try:
                stream.stop()
            finally:
                self._reader_done(stream)

    def _reader_done(self, stream: BaseStream) -> None:
        rec = self._rec
        if rec is not None:
            self._end_recording(rec, "source stopped")
        with self._lock:  # no request queues a call for the reader once it is marked stopped
            self._running = False
            self._run_calls()  # pending requests (a model switch) still apply
        self._publish_state()

    def _stream_loop(self, stream: BaseStream, stop: threading.Event) -> None:
        sfreq, ch_names = float(stream.sfreq), [str(c) for c in stream.ch_names]
        recog = self._recog
        if recog is not None:
            try:
                recog.reset()
                recog.bind(stream)
            except StreamError as err:
                self._publish({"type": "error", "message": f"no recognition: {err}"})
                self._recog = recog = None
        design = self._display_filter(sfreq)
        dec = Decimator(len(ch_names), sfreq, buckets_per_s=self.buckets_per_s, filter_design=design)
        mains = self._mains(design)
        quality = ChannelQuality(ch_names, sfreq, mains_hz=mains)
        score = LiveScore(sfreq)
        from ..realtime.buffer import RingBuffer

        self._raw = RingBuffer(len(ch_names), int(round(3.0 * sfreq)))
        self._n_seen, self._recog_offset, self._stats_base = 0, 0, {}
        self._events.clear()
        self._decision_ms.clear()
        self._stream_info = {
            "sfreq": sfreq,
            "ch_names": ch_names,
            "buckets_per_s": dec.buckets_per_s,
            "speed": self.speed if self._source_id != "configured" else 1.0,
            "display_filter": None if design is None else _filter_text(design),
            "mains_hz": mains,
        }
        self._publish({"type": "stream", **self._stream_info})
        self._publish_state()
        last_frame = last_quality = last_metrics = 0.0
        t_in = time.time()
        stream_t0 = time.monotonic()
        while not stop.is_set():
            self._run_calls()
            chunk = stream.read()
            if chunk is None:
                self._publish({"type": "info", "message": f"{self._source_label} ended"})
                break
            if not chunk.n_samples:
                continue
            t_in = time.time()
            self._on_chunk(chunk, dec, quality, score)
            now = time.monotonic()
            if now - last_frame >= _FRAME_MIN_S * 0.9:
                last_frame = now
                self._emit_frame(dec, t_in)
            if now - last_quality >= _QUALITY_S:
                last_quality = now
                self._publish({"type": "quality", "channels": quality.report(), "common_mains": quality.common_mains})
                self._emit_cue()
            if now - last_metrics >= _METRICS_S:
                last_metrics = now
                self._emit_metrics(stream, chunk, score, now - stream_t0)
        self._emit_frame(dec, t_in)

    def _on_chunk(self, chunk: Chunk, dec: Decimator, quality: ChannelQuality, score: LiveScore) -> None:
        dec.push(chunk.data, chunk.missing)
        quality.update(chunk.data, chunk.missing)
        if self._raw is not None:
            self._raw.append(chunk.data, chunk.missing)
        self._n_seen += chunk.n_samples
        if chunk.labels is not None:
            score.labels(chunk.labels, chunk.first_sample)
        rec = self._rec
        if rec is not None and rec.active:
            if not rec.paused:
                rec.feed.put(chunk.data, chunk.missing)
            if rec.thread is not None and not rec.thread.is_alive():
                self._end_recording(rec, "finished")
        recog = self._recog
        if recog is None:
            return
        try:
            events = recog.process(chunk)
        except (MyovoxError, ValueError) as err:
            self._recog = None
            self._publish({"type": "error", "message": f"recognition stopped: {err}"})
            self._publish_state()
            return
        for ev in events:
            if ev.state == "end":
                continue
            d = ev.to_dict()
            if self._recog_offset:  # a model switched in mid-stream counts from its switch
                shift = self._recog_offset / chunk.sfreq
                d["t_start"] += shift
                d["t_end"] += shift
            d["type"] = "event"
            d["t_wall"] = time.time()
            d["model"] = self._model_id
            d["match"] = score.event(d["t_end"], ev.label_id)
            d = {k: (_finite(v, 4) if isinstance(v, float) else v) for k, v in d.items()}
            self._decision_ms.append(float(ev.latency_ms))
            self._events.append(d)
            self._publish(d)

    def _emit_frame(self, dec: Decimator, t_in: float) -> None:
        first, lo, hi = dec.pop()
        if not lo.shape[1]:
            return
        self._seq += 1
        self._frames.append((self._seq, t_in))
        self._publish(
            {
                "type": "signal",
                "seq": self._seq,
                "b0": first,
                "n": int(lo.shape[1]),
                "t_in": t_in,
                "t_sent": time.time(),
                "data": _pairs(lo, hi),
            }
        )

    def _emit_metrics(self, stream: BaseStream, chunk: Chunk, score: LiveScore, wall_s: float) -> None:
        st = stream.stats.as_dict()
        recog = self._recog
        rs = dict(self._stats_base)
        for k, v in (recog.stats if recog is not None else {}).items():
            rs[k] = rs.get(k, 0) + int(v)
        n = max(int(st.get("n_samples", 0)), 1)
        now, cpu = time.monotonic(), time.process_time()
        t0, c0 = self._cpu_mark
        cpu_pct = 100.0 * (cpu - c0) / (now - t0) if now > t0 else None
        self._cpu_mark = (now, cpu)
        stream_s = chunk.t_end
        n_windows = int(rs.get("n_windows", 0))
        m = {
            "type": "metrics",
            "stream_s": _finite(stream_s, 2),
            "wall_s": _finite(wall_s, 1),
            "n_samples": int(st.get("n_samples", 0)),
            "n_lost": int(st.get("n_lost", 0)),
            "lost_pct": _finite(100.0 * st.get("n_lost", 0) / n, 2),
            "n_windows": n_windows,
            "rejected_pct": _finite(100.0 * rs.get("n_rejected", 0) / n_windows, 1) if n_windows else None,
            "n_suppressed": int(rs.get("n_suppressed", 0)),
            "n_events": int(rs.get("n_events", 0)),
            "events_per_min": _finite(60.0 * rs.get("n_events", 0) / stream_s, 1) if stream_s > 0 else None,
            "decision_ms_p50": _percentile(self._decision_ms, 50),
            "decision_ms_p95": _percentile(self._decision_ms, 95),
            "display_ms_p50": _percentile(self._display_ms, 50),
            "display_ms_p95": _percentile(self._display_ms, 95),
            "display_fps": _finite(self._fps, 1),
            "cpu_pct": _finite(cpu_pct, 1),
            "rss_mb": _rss_mb(),
            "clients": self.n_clients,
            **score.summary(),
        }
        self._metrics = m
        self._publish(m)

    def _drawn(self, seq: int, t: float, fps: float | None) -> None:
        """A page drew frame ``seq`` at wall time ``t`` (seconds since the epoch, same machine)."""
        for s, t_in in reversed(list(self._frames)):  # a copy: the reader appends meanwhile
            if s == seq:
                ms = 1000.0 * (t - t_in)
                if 0.0 <= ms < 60000.0:
                    self._display_ms.append(ms)
                break
        if fps is not None and 0 <= fps < 1000:
            self._fps = fps

    def _display_filter(self, sfreq: float) -> Any:
        """The filter the model sees (its card's design) when it fits the rate, else a 20 Hz
        high-pass with a mains notch."""
        from ..preprocessing.filters import FilterDesign

        recog = self._recog
        design = getattr(recog, "filter_design", None) if recog is not None else None
        if isinstance(design, dict):
            design = FilterDesign.from_dict(design)
        if design is not None and abs(float(design.sfreq) - sfreq) < 1e-6 * sfreq:
            return design
        notch = self.mains_hz or 50.0
        return FilterDesign(sfreq, highpass=20.0, notch=notch if notch < sfreq / 2 else None)

    def _mains(self, design: Any) -> float:
        if self.mains_hz:
            return float(self.mains_hz)
        notch = getattr(design, "notch", None)
        return float(notch) if notch else 50.0

    def _run_calls(self) -> None:
        while True:
            try:
                call = self._calls.get_nowait()
            except queue.Empty:
                return
            try:
                call()
            except Exception as err:  # noqa: BLE001 - one failed request must not stop the stream
                logger.exception("dashboard request failed")
                self._publish({"type": "error", "message": f"{type(err).__name__}: {err}"})

    # ------------------------------------------------------------------ recording (reader thread)
    def _begin_recording(self, rec: _Recording) -> None:
        if self._rec is not rec:  # stopped before it began
            return
        stream = self._stream
        if isinstance(stream, DemoParticipant) and rec.cued is not None:
            stream.follow(rec.cued)

        def run() -> None:
            try:
                rec.recorder.run()
            except Exception as err:  # noqa: BLE001 - reported on the page; the recorder closed its files
                logger.exception("guided recording failed")
                rec.error = f"{type(err).__name__}: {err}"

        rec.thread = threading.Thread(target=run, name="myovox-dashboard-recorder", daemon=True)
        rec.thread.start()
        rec.active = True
        self._publish({"type": "recording", "status": "started", **self._recording_info(rec)})
        self._emit_cue()
        self._publish_state()

    def _pause_recording(self, rec: _Recording, paused: bool) -> None:
        if self._rec is not rec or rec.paused == paused:
            return
        rec.paused = paused
        stream = self._stream
        if isinstance(stream, DemoParticipant):
            stream.hold(paused)
        self._publish({"type": "recording", "status": "paused" if paused else "resumed", **self._recording_info(rec)})
        self._emit_cue(force=True)
        self._publish_state()

    def _end_recording(self, rec: _Recording, why: str) -> None:
        with self._rec_lock:
            if self._rec is not rec:
                return
            rec.recorder.stop()  # its sidecar says "stopped", not "stream ended"
            rec.feed.close()
            if rec.thread is not None:
                rec.thread.join(30.0)
            self._rec = None
        stream = self._stream
        if isinstance(stream, DemoParticipant):
            stream.release()
        status, n = None, rec.recorder.n_written
        try:
            side = json.loads(rec.csv.with_suffix(".json").read_text(encoding="utf-8"))
            status, n = side.get("status"), side.get("n_samples", n)
        except (OSError, ValueError):
            pass
        rel = self.data.relative(rec.csv) if rec.csv.exists() else None
        if rel is not None and n:
            self._last_recording = rel
        self._publish(
            {
                "type": "recording",
                "status": "failed" if rec.error else "finished",
                "why": why,
                "error": rec.error,
                "path": rel,
                "result": status,
                "n_samples": n,
                "name": rec.name,
            }
        )
        self._publish({"type": "recordings", "recordings": self.list_recordings()})
        self._publish_state()

    def _recording_info(self, rec: _Recording) -> dict[str, Any]:
        sfreq = rec.feed.sfreq or 1.0
        t = rec.feed.n_put / sfreq
        dur = rec.protocol.duration_s
        return {
            "name": rec.name,
            "path": f"{self.data.relative(rec.csv.parent)}/{rec.csv.name}",
            "t": round(t, 2),
            "duration_s": round(dur, 2),
            "progress": round(min(1.0, t / dur), 4) if dur else 1.0,
            "trial": int(np.searchsorted(rec.schedule, t, side="right")),
            "n_trials": len(rec.schedule),
            "paused": rec.paused,
            "active": rec.active,
        }

    def _emit_cue(self, force: bool = False) -> None:
        rec = self._rec
        if rec is None or not rec.active:
            return
        info = self._recording_info(rec)
        text = "Paused" if rec.paused else rec.protocol.cue_text(info["t"])
        rec.last_cue = text
        self._publish({"type": "cue", "text": text, **info})

    # ------------------------------------------------------------------ fine-tuning (its own thread)
    def _finetune(self, model_dir: Path, csv: Path, out: Path, epochs: int, strategy: str) -> None:
        from ..adaptation import fine_tune
        from ..datasets import load_dataset
        from ..evaluation.metrics import balanced_accuracy
        from ..models.card import model_windows
        from ..models.io import load_model, save_model
        from ..windows import downsample_rest

        def progress(epoch: int, row: dict[str, float]) -> None:
            self._ft.update(epoch=epoch, progress=round(min(1.0, epoch / epochs), 3), **row)
            self._publish({"type": "finetune", **self._ft})

        handler = _EpochProgress(threading.get_ident(), progress)
        logger.addHandler(handler)
        t0 = time.perf_counter()
        try:
            import warnings

            model, card = load_model(model_dir)
            if not hasattr(model, "fine_tune"):
                raise ValidationError(
                    f"a {card.model} model cannot be fine-tuned (a neural model such as speechnet can)."
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a stopped recording is used as it is (reported when it stopped)
                ds = load_dataset(csv, raw_signal=True)
            windows = model_windows(ds, card, source=self.data.relative(csv))
            if len(windows) == 0 or len(windows.classes) < 2:
                raise ValidationError("the recording holds too few trials to fine-tune on (two classes at least).")
            unknown = sorted(set(windows.classes.tolist()) - set(card.classes))
            if unknown:
                raise ValidationError(f"the recording has labels the model does not know ({unknown}).")
            data = downsample_rest(windows, rest_label=card.rest_label, random_state=0)
            before = balanced_accuracy(windows.y, model.predict(windows.X))
            tuned = fine_tune(model, data, strategy=strategy, n_epochs=epochs, verbose="info")
            after = balanced_accuracy(windows.y, tuned.predict(windows.X))
            history = list(card.training.get("fine_tuned") or [])
            history.append(
                {
                    "strategy": strategy,
                    "epochs": epochs,
                    "n_windows": len(data),
                    "dataset": self.data.relative(csv),
                    "subjects": ds.meta_values("subject"),
                    "sessions": ds.meta_values("session"),
                    "by": "myovox serve",
                }
            )
            new_card = card.replace(
                training={**card.training, "fine_tuned": history},
                best_epoch=getattr(tuned, "best_epoch_", card.best_epoch),
            )
            save_model(tuned, out, new_card)
            mid = self.data.relative(out)
            self._ft = {
                **self._ft,
                "status": "done",
                "progress": 1.0,
                "model": mid,
                "before": _finite(before),
                "after": _finite(after),
                "wall_s": _finite(time.perf_counter() - t0, 1),
            }
            self._publish({"type": "finetune", **self._ft})
            with self._lock:
                self._load_model(out, mid)
        except (MyovoxError, OSError, ValueError) as err:
            self._ft = {**self._ft, "status": "failed", "error": str(err)}
            self._publish({"type": "finetune", **self._ft})
        except Exception as err:  # noqa: BLE001 - reported on the page; the server carries on
            logger.exception("fine-tuning failed")
            self._ft = {**self._ft, "status": "failed", "error": f"{type(err).__name__}: {err}"}
            self._publish({"type": "finetune", **self._ft})
        finally:
            logger.removeHandler(handler)
            self._publish_state()

    # ------------------------------------------------------------------ lifetime
    def _publish_state(self) -> None:
        self._publish({"type": "state", **self.state()})

    def close(self, timeout: float = 10.0) -> None:
        """Stop the source (finishing a recording in progress) and wait for fine-tuning to end."""
        self._closed = True
        self.stop_source(timeout)
        ft = self._ft_thread
        if ft is not None and ft.is_alive():
            ft.join(timeout)


def card_summary(model_dir: Path) -> dict[str, Any]:
    """What the page shows of a model card (the arrays of normalisation and channel levels left out)."""
    from ..models.io import read_card

    card = read_card(model_dir)
    d = card.to_dict()
    for key in ("normalization", "params", "architecture"):
        d.pop(key, None)
    training = dict(d.get("training") or {})
    training.pop("quiet_level", None)
    d["training"] = training
    d["class_names"] = card.class_names()
    d["describe"] = card.describe()
    return d


def _filter_text(design: Any) -> str:
    parts = []
    if getattr(design, "highpass", None):
        parts.append(f"high-pass {design.highpass:g} Hz")
    if getattr(design, "notch", None):
        parts.append(f"notch {design.notch:g} Hz")
    if getattr(design, "lowpass", None):
        parts.append(f"low-pass {design.lowpass:g} Hz")
    return ", ".join(parts) or "none"

"""A simulated BioGAP-Ultra device: BioGAP packets of a recording served on 127.0.0.1 TCP.

Use it to test everything that reads a live device (``myovox stream``/``record`` with
``--source biogap:tcp://...``) without hardware::

    from myovox.testing.device import SimulatedBioGAP

    with SimulatedBioGAP(recording, loss=0.02, stall_at_s=5, stall_s=1.5, speed=10.0) as dev:
        main(["stream", "--source", dev.address, "--model", "model", "--duration", "20"])
        print(dev.stats)  # packets sent, dropped, lost in the stall, connections

The device serves the 234-byte packets of :mod:`myovox.io.biogap` (4 samples x 16 channels,
uint8 counter) in a background thread, ``packets_per_send`` packets per ``send`` (BLE delivers a
few packets per connection interval). Its clock starts when the first client connects; with
``speed`` it sends each packet when it is due (``speed`` times real time, so a 40 s protocol is
served in 4 s at ``speed=10``), with ``speed=None`` as fast as the client reads.

Packet loss is simulated as on a BLE link: a lost packet is never sent but the counter still
advances, so a client sees the counter jump (as with the real device). ``loss`` drops packets at
random, ``burst`` makes each loss a run of that many packets. ``stall_at_s``/``stall_s``: once,
the link goes silent for ``stall_s`` seconds of recording time (``stall_s / speed`` wall seconds);
the packets due meanwhile are lost (``stall_drops=True``, a device whose buffer overflowed) or
sent late in one burst (``stall_drops=False``). Keep a dropped stall under 2 s (256 packets):
the uint8 counter cannot tell longer losses apart. While no client is connected (after a client
hung up, before it reconnects), the packets that fall due are lost too; a reconnecting client
continues at the device's current position. When the recording ends the device closes the
connection, like a device switched off (``loop=True`` serves the recording again and again).

Samples that are NaN in the recording (e.g. lost packets filled by ``read_bio(fill_lost="nan")``)
make their packet lost, so a recording with losses is served with the same losses.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_int, check_positive
from .._logging import logger
from ..exceptions import ValidationError
from ..io import biogap as bg
from ..recording import Recording

__all__ = ["DeviceStats", "SimulatedBioGAP"]


@dataclass
class DeviceStats:
    """What the simulated device did.

    ``lost_packets`` lists the indices (0-based, in recording order) of every packet that was not
    delivered: random loss, the stall, NaN samples in the recording and time without a client.
    """

    n_packets: int = 0  # packets in the recording
    n_sent: int = 0  # packets delivered (on every connection together)
    n_dropped_random: int = 0  # packets lost by ``loss``/``burst``
    n_dropped_stall: int = 0  # packets lost in the stall
    n_dropped_nan: int = 0  # packets with NaN samples in the recording
    n_dropped_offline: int = 0  # packets that fell due while no client was connected
    n_connections: int = 0
    finished: bool = False  # the whole recording was served
    lost_packets: list[int] = field(default_factory=list)

    @property
    def n_lost(self) -> int:
        return self.n_dropped_random + self.n_dropped_stall + self.n_dropped_nan + self.n_dropped_offline


class SimulatedBioGAP:
    """Serve the BioGAP packets of a recording on ``host`` TCP, in a background thread.

    Parameters
    ----------
    recording : Recording | path-like | None
        16 channels at 500 Hz in units of 0.1 uV (as :func:`myovox.io.read_bio` and
        :func:`myovox.testing.synth.generate_recording` give them); a path is read with
        :func:`myovox.io.read_recording` (``.bio`` with lost packets as NaN). ``None``: a short
        synthetic recording (``generate_recording`` with 2 repetitions per word, ``seed``).
    loss : float
        Probability that a packet is lost (e.g. 0.02), in [0, 1).
    burst : int
        Packets lost together per loss event (1: independent losses). The expected lost fraction
        stays ``loss``.
    drop : sequence of int
        Indices (0-based, in recording order) of packets that are lost in any case, for tests
        that need losses at known places.
    stall_at_s : float | None
        Recording time (s) at which the link stalls once; None for no stall.
    stall_s : float
        Length of the stall in seconds of recording time.
    stall_drops : bool
        Whether the packets due in the stall are lost (True) or delivered late (False).
    speed : float | None
        Real-time factor of the pacing (1.0: real time, 10.0: ten times faster); None: as fast as
        the client reads.
    loop : bool
        Start again at the end of the recording (the counter keeps running) instead of closing.
    seed : int
        Seed of the random losses.
    host, port : str, int
        Where to listen; port 0 (default) picks a free port (see :attr:`port`).
    packets_per_send : int
        Packets sent together.
    counter_start : int
        Counter of the first packet (0-255).

    Examples
    --------
    >>> with SimulatedBioGAP(loss=0.02, speed=None) as dev:  # doctest: +SKIP
    ...     dev.address
    'biogap:tcp://127.0.0.1:40123'
    """

    def __init__(
        self,
        recording: Recording | str | Path | None = None,
        *,
        loss: float = 0.0,
        burst: int = 1,
        drop: Sequence[int] = (),
        stall_at_s: float | None = None,
        stall_s: float = 0.0,
        stall_drops: bool = True,
        speed: float | None = 1.0,
        loop: bool = False,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        packets_per_send: int = 5,
        counter_start: int = 0,
    ) -> None:
        if not (isinstance(loss, (int, float)) and 0.0 <= loss < 1.0):
            raise ValidationError(f"Invalid value for 'loss': expected a probability in [0, 1), got {loss!r}.")
        self.loss = float(loss)
        self.burst = check_int("burst", burst, minimum=1)
        self.stall_at_s = (
            None if stall_at_s is None else check_positive("stall_at_s", stall_at_s, "time in seconds", allow_zero=True)
        )
        self.stall_s = check_positive("stall_s", stall_s, "duration in seconds", allow_zero=True)
        self.stall_drops = bool(stall_drops)
        self.speed = None if speed is None else check_positive("speed", speed, "real-time factor")
        self.loop = bool(loop)
        self.seed = int(seed)
        self.host = str(host)
        self.packets_per_send = check_int("packets_per_send", packets_per_send, minimum=1)
        self.counter_start = check_int("counter_start", counter_start, minimum=0) % bg.COUNTER_MODULO
        self.recording = self._load(recording)
        self._samples, self._nan_packets = self._packets_of(self.recording)
        self.n_packets = self._samples.shape[0] // bg.SAMPLES_PER_PACKET
        self._drop = self._random_drops(self.n_packets)
        explicit = np.asarray(list(drop), dtype=np.int64).reshape(-1)
        if explicit.size and (explicit.min() < 0 or explicit.max() >= self.n_packets):
            raise ValidationError(f"Invalid value for 'drop': packet indices must lie in [0, {self.n_packets}).")
        self._drop[explicit] = True
        if (
            self.stall_at_s is not None
            and self.stall_drops
            and self.stall_s * bg.SFREQ / bg.SAMPLES_PER_PACKET >= bg.COUNTER_MODULO
        ):
            logger.warning(
                "SimulatedBioGAP: a stall of %g s drops more than %d packets; the uint8 counter cannot "
                "tell how many were lost.",
                self.stall_s,
                bg.COUNTER_MODULO - 1,
            )
        self._req_port = check_int("port", port, minimum=0)
        self._srv: socket.socket | None = None
        self._conn: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.done = threading.Event()
        self.stats = DeviceStats(n_packets=self.n_packets)
        self.error: BaseException | None = None

    # ------------------------------------------------------------------ set-up
    def _load(self, recording: Recording | str | Path | None) -> Recording:
        if recording is None:
            from .synth import SynthConfig, generate_recording

            return generate_recording(config=SynthConfig(n_repetitions=2), seed=self.seed)
        if isinstance(recording, Recording):
            return recording
        from ..streams.replay import read_lossy

        return read_lossy(recording)  # a .bio file's lost packets stay lost (NaN, not served)

    @staticmethod
    def _packets_of(rec: Recording) -> tuple[np.ndarray, np.ndarray]:
        """Samples (n, 16) cut to whole packets and the packets holding NaN."""
        from ..streams.replay import fill_lost_packets

        if rec.n_channels != bg.N_CHANNELS:
            raise ValidationError(
                f"SimulatedBioGAP serves {bg.N_CHANNELS} channels; {rec.source} has {rec.n_channels}."
            )
        if abs(rec.sfreq - bg.SFREQ) > 1e-6:
            raise ValidationError(f"SimulatedBioGAP serves {bg.SFREQ:g} Hz; {rec.source} runs at {rec.sfreq:g} Hz.")
        rec, _ = fill_lost_packets(rec)  # lost packets the meta lists become NaN, so they stay lost
        n = (rec.n_times // bg.SAMPLES_PER_PACKET) * bg.SAMPLES_PER_PACKET
        samples = np.ascontiguousarray(rec.data[:, :n].T, dtype=np.float64)
        nan_rows = ~np.isfinite(samples).all(axis=1)
        nan_packets = np.asarray(nan_rows.reshape(-1, bg.SAMPLES_PER_PACKET).any(axis=1))
        samples[nan_rows] = 0.0
        return samples, nan_packets

    def _random_drops(self, n: int) -> np.ndarray:
        drop = np.zeros(n, dtype=bool)
        if self.loss <= 0 or n == 0:
            return drop
        rng = np.random.default_rng(self.seed)
        # loss events start with probability p per packet so that the lost fraction is ``loss``
        p = self.loss / (self.burst * (1 - self.loss) + self.loss)
        starts = np.flatnonzero(rng.uniform(size=n) < p)
        for s in starts:
            drop[s : s + self.burst] = True
        return drop

    # ------------------------------------------------------------------ public API
    @property
    def port(self) -> int:
        """The TCP port the device listens on (after :meth:`start`)."""
        if self._srv is None:
            raise RuntimeError("SimulatedBioGAP is not started; use start() or 'with'.")
        return self._port

    @property
    def url(self) -> str:
        """``tcp://HOST:PORT``."""
        return f"tcp://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        """The ``--source`` of the device: ``biogap:tcp://HOST:PORT``."""
        return f"biogap:{self.url}"

    @property
    def duration_s(self) -> float:
        """Recording time served (seconds)."""
        return self.n_packets * bg.SAMPLES_PER_PACKET / bg.SFREQ

    def start(self) -> SimulatedBioGAP:
        """Listen and serve in a background thread; returns self."""
        if self._thread is not None:
            return self
        self._srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind((self.host, self._req_port))
        self._srv.listen(1)
        self._srv.settimeout(0.05)
        self._port = int(self._srv.getsockname()[1])
        self._thread = threading.Thread(target=self._serve_safely, name="myovox-simulated-biogap", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, close the sockets and join the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._close_conn()
        if self._srv is not None:
            self._srv.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the whole recording was served; True when it was."""
        return self.done.wait(timeout)

    def __enter__(self) -> SimulatedBioGAP:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{self.host}:{self._port}" if self._srv is not None else "not started"
        return (
            f"SimulatedBioGAP({self.n_packets} packets, {self.duration_s:.1f} s, loss={self.loss:g}, "
            f"burst={self.burst}, stall_at_s={self.stall_at_s}, stall_s={self.stall_s:g}, "
            f"speed={self.speed}, {where})"
        )

    # ------------------------------------------------------------------ serving
    def _serve_safely(self) -> None:
        try:
            self._serve()
        except BaseException as err:  # noqa: BLE001 - kept for the test that uses the device
            self.error = err
            logger.warning("SimulatedBioGAP stopped: %s", err)
        finally:
            self._close_conn()

    def _accept(self) -> bool:
        srv = self._srv
        if srv is None:
            raise RuntimeError("SimulatedBioGAP is not started; use start() or 'with'.")
        while not self._stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return False
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(5.0)
            self._conn = conn
            self.stats.n_connections += 1
            self.connected.set()
            return True
        return False

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass

    def _packet_bytes(self, idx: np.ndarray) -> bytes:
        spp = bg.SAMPLES_PER_PACKET
        pos = idx % self.n_packets if self.n_packets else idx
        rows = (pos[:, None] * spp + np.arange(spp)[None, :]).reshape(-1)
        counters = (self.counter_start + idx) % bg.COUNTER_MODULO
        return bg.encode_packets(self._samples[rows], counters=counters.tolist())

    def _lost(self, i: int) -> str | None:
        """Why packet ``i`` (a running index, beyond n_packets when looping) is not sent, or None."""
        k = i % self.n_packets
        if self._nan_packets[k]:
            return "nan"
        if self._drop[k]:
            return "random"
        return None

    def _serve(self) -> None:
        if self.n_packets == 0 or not self._accept():
            self.done.set()
            return
        per_packet = bg.SAMPLES_PER_PACKET / bg.SFREQ  # recording seconds per packet
        stall_pk = None if self.stall_at_s is None else int(math.floor(self.stall_at_s / per_packet))
        stall_n = int(round(self.stall_s / per_packet))
        total = math.inf if self.loop else self.n_packets
        wall = (lambda t: t / self.speed) if self.speed else None
        t0 = time.monotonic()
        i = 0
        stalled = False
        while i < total and not self._stop.is_set():
            # when is packet i due (stream time), including a stall that delays delivery
            if stall_pk is not None and not stalled and i >= stall_pk:
                stalled = True
                silence = wall(self.stall_s) if wall is not None else self.stall_s
                if self.stall_drops:
                    stop = i + stall_n if total == math.inf else min(total, i + stall_n)
                    for j in range(i, int(stop)):
                        if self._lost(j) is None:
                            self.stats.n_dropped_stall += 1
                            self.stats.lost_packets.append(j)
                        else:
                            self._count_lost(j)
                    i = int(stop)
                    if wall is not None:  # silent until the first packet after the stall is due
                        self._sleep_until(t0 + wall(i * per_packet))
                    else:
                        self._sleep_until(time.monotonic() + silence)
                    continue
                # delivered late: silence, then the packets due meanwhile go out back to back
                self._sleep_until(time.monotonic() + silence)
            if wall is not None:
                due_now = int((time.monotonic() - t0) / wall(per_packet)) + 1  # packets due so far
                if due_now <= i:
                    self._sleep_until(t0 + wall(i * per_packet))
                    continue
                end = min(total, max(i + 1, min(due_now, i + self.packets_per_send)))
            else:
                end = min(total, i + self.packets_per_send)
            if stall_pk is not None and not stalled and i < stall_pk < end:
                end = stall_pk
            keep: list[int] = []
            for j in range(i, int(end)):
                why = self._lost(j)
                if why is None:
                    keep.append(j)
                else:
                    self._count_lost(j, why)
            i = int(end)
            if not keep:
                continue
            payload = self._packet_bytes(np.asarray(keep, dtype=np.int64))
            if not self._send(payload):
                # the client hung up: this batch and the packets that fall due until it reconnects are lost
                self.stats.n_dropped_offline += len(keep)
                self.stats.lost_packets.extend(keep)
                self._close_conn()
                t_lost = time.monotonic()
                if not self._accept():
                    break
                if wall is not None:
                    now_pk = int((time.monotonic() - t0) / wall(per_packet))
                    for j in range(i, int(min(total, now_pk))):
                        self.stats.n_dropped_offline += 1
                        self.stats.lost_packets.append(j)
                    i = max(i, int(min(total, now_pk)))
                logger.debug("SimulatedBioGAP: client reconnected after %.2f s", time.monotonic() - t_lost)
                continue
            self.stats.n_sent += len(keep)
        self.stats.finished = i >= total
        self.done.set()

    def _count_lost(self, j: int, why: str | None = None) -> None:
        why = why or self._lost(j)
        if why == "nan":
            self.stats.n_dropped_nan += 1
        elif why == "random":
            self.stats.n_dropped_random += 1
        self.stats.lost_packets.append(j)

    def _send(self, payload: bytes) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            conn.sendall(payload)
            return True
        except OSError:
            return False

    def _sleep_until(self, t: float) -> None:
        while not self._stop.is_set():
            left = t - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.01))

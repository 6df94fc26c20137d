"""BioGAP-Ultra packets (234 bytes, 4 samples x 16 channels, uint8 counter) from a TCP socket or file.

Lost packets (counter jumps) are filled with NaN samples that are flagged in ``Chunk.missing``, so
stream time stays true and downstream windows with too many missing samples can be suppressed;
``stats.n_lost`` (samples) and ``stats.extra["packets_lost"]`` count them as they arrive. The
uint8 counter wraps every 256 packets (2.048 s): a loss of 256 packets or more in one gap is
undercounted by a multiple of 256 (there is nothing in the packets to tell).
BLE needs the optional ``bleak`` extra and a bridge that forwards notifications to TCP; the
decoder (:class:`myovox.io.biogap.PacketDecoder`) is the same.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

import numpy as np

from .._checks import check_int, check_positive
from .._logging import logger
from ..exceptions import StreamError, ValidationError
from ..io import biogap as bg
from .base import BaseStream, Chunk, insert_missing


class BioGAPStream(BaseStream):
    """Decode BioGAP-Ultra packets from ``tcp://HOST:PORT`` or a file of raw packets.

    Parameters
    ----------
    target : str
        ``tcp://HOST:PORT`` or a path to a file of concatenated packets.
    read_size : int
        Bytes requested per read (default 10 packets).
    stall_timeout : float
        Seconds without bytes before reconnecting (TCP) or giving up.
    reconnect : int
        Reconnect attempts after a stall or a closed connection before ``StreamError``.
    """

    def __init__(
        self, target: str, *, read_size: int = 10 * bg.PACKET_SIZE, stall_timeout: float = 2.0, reconnect: int = 2
    ) -> None:
        super().__init__()
        self.target = str(target)
        self.read_size = int(read_size)
        self.stall_timeout = check_positive("stall_timeout", stall_timeout, "duration in seconds")
        self.reconnect = check_int("reconnect", reconnect, minimum=0)
        self._sock: socket.socket | None = None
        self._fh: BinaryIO | None = None
        self._address = _check_target(self.target) if not self.target.startswith("ble://") else None

    def describe(self) -> str:
        return f"biogap:{self.target}"

    def _connect(self) -> None:
        if self._address is None:
            raise StreamError(f"{self.describe()}: not a tcp://HOST:PORT address, cannot connect.")
        host, port = self._address
        try:
            self._sock = socket.create_connection((host, port), timeout=self.stall_timeout)
        except OSError as err:
            raise StreamError(f"{self.describe()}: cannot connect ({err}).") from err
        self._sock.settimeout(self.stall_timeout)

    def _open(self) -> None:
        self.sfreq = bg.SFREQ
        self.ch_names = tuple(f"Ch_{i}" for i in range(bg.N_CHANNELS))
        self.decoder = bg.PacketDecoder()
        if self.target.startswith("tcp://"):
            self._connect()
        else:
            path = Path(self.target)
            if not path.is_file():
                raise StreamError(f"{self.describe()}: no such file.")
            self._fh = open(path, "rb")

    def _recv(self) -> bytes | None:
        """Bytes from the source; None at the end of a file or after reconnects failed."""
        if self._fh is not None:
            data = self._fh.read(self.read_size)
            return data or None
        attempts = 0
        while True:
            try:
                if self._sock is None:
                    raise OSError("not connected")
                data = self._sock.recv(self.read_size)
                if data:
                    return data
                reason = "connection closed"
            except TimeoutError:
                reason = f"no data for {self.stall_timeout:g} s"
            except OSError as err:
                reason = str(err)
            if attempts >= self.reconnect:
                raise StreamError(
                    f"{self.describe()}: {reason}; gave up after {attempts} reconnect attempt(s). "
                    f"{self.stats.n_samples} samples were received and kept."
                )
            attempts += 1
            logger.warning("%s: %s; reconnecting (%d/%d)", self.describe(), reason, attempts, self.reconnect)
            self._close_socket()
            time.sleep(min(0.5, self.stall_timeout))
            try:
                self._connect()
                self.stats.n_reconnects += 1
            except StreamError as err:
                logger.warning("%s", err)

    def _read(self, timeout: float | None) -> Chunk | None:
        while True:
            data = self._recv()
            if data is None:
                if self.decoder.pending:
                    logger.warning(
                        "%s: %d trailing bytes of an incomplete packet dropped at the end.",
                        self.describe(),
                        self.decoder.pending,
                    )
                return None
            out = self.decoder.feed(data)
            if out.n_packets:
                break
        samples = out.samples.T.astype(np.float64)  # (16, n)
        self.stats.extra["packets"] = self.decoder.n_packets
        self.stats.extra["packets_lost"] = self.decoder.n_lost
        if not out.gaps:
            return self._make_chunk(samples)
        # insert NaN samples for lost packets at their positions
        first_packet = self.decoder.n_packets - out.n_packets
        at = [(gap.index - first_packet) * bg.SAMPLES_PER_PACKET for gap in out.gaps]
        n_fill = [gap.n_lost * bg.SAMPLES_PER_PACKET for gap in out.gaps]
        filled, missing = insert_missing(samples, at, n_fill)
        return self._make_chunk(filled, missing=missing)

    def _close_socket(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def _close(self) -> None:
        self._close_socket()
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self.stats.extra["packets_lost"] = self.decoder.n_lost
        self.stats.extra["packets"] = self.decoder.n_packets


#: file endings of recordings (not raw packet dumps) that ``biogap:FILE`` refuses
_RECORDING_SUFFIXES = (".bio", ".h5", ".hdf5", ".csv", ".csv.gz", ".edf", ".bdf", ".xdf", ".npz")


def _check_target(target: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``tcp://`` target, None for a file; ``ValidationError`` with one line
    for a malformed address or a recording file given as a packet dump."""
    if "://" in target:
        url = urlparse(target)
        if url.scheme != "tcp":
            raise ValidationError(
                f"Invalid BioGAP source {target!r}: expected tcp://HOST:PORT, "
                f"ble://ADDRESS?char=UUID or a file of raw packets."
            )
        try:
            port = url.port
        except ValueError:
            port = -1
        if not url.hostname or port is None or not 0 < port < 65536:
            raise ValidationError(
                f"Invalid BioGAP source {target!r}: expected tcp://HOST:PORT with a port between 1 and 65535."
            )
        return url.hostname, port
    name = Path(target).name.lower()
    for suffix in _RECORDING_SUFFIXES:
        if name.endswith(suffix):
            raise ValidationError(
                f"{target} is a {suffix} recording, not a dump of raw BioGAP packets; "
                f"to stream it use --source replay:{target}."
            )
    return None


class BioGAPBLEStream(BioGAPStream):
    """BioGAP-Ultra packets from BLE notifications, through ``bleak`` (extra ``myovox[ble]``).

    An asyncio loop runs in a background thread; each notification's bytes go to a queue that
    :meth:`read` drains into the same decoder as the TCP/file source (lost packets filled and
    flagged the same way).

    Parameters
    ----------
    address : str
        Device address (or bleak's identifier on macOS).
    char_uuid : str
        UUID of the characteristic that notifies the 234-byte packets.
    stall_timeout : float
        Seconds without a notification before ``StreamError``.
    client_factory : callable | None
        ``client_factory(address)`` returning a bleak-compatible client (tests pass a fake one);
        default ``bleak.BleakClient``.
    """

    def __init__(
        self,
        address: str,
        char_uuid: str,
        *,
        stall_timeout: float = 2.0,
        connect_timeout: float = 10.0,
        client_factory: Callable[[str], Any] | None = None,
    ) -> None:
        super().__init__(f"ble://{address}", stall_timeout=stall_timeout, reconnect=0)
        if not char_uuid:
            raise ValidationError("BioGAPBLEStream needs char_uuid, the characteristic that notifies packets.")
        self.address, self.char_uuid = address, char_uuid
        self.connect_timeout = check_positive("connect_timeout", connect_timeout, "duration in seconds")
        self.client_factory = client_factory

    def _open(self) -> None:
        import asyncio
        import queue
        import threading

        self.sfreq = bg.SFREQ
        self.ch_names = tuple(f"Ch_{i}" for i in range(bg.N_CHANNELS))
        self.decoder = bg.PacketDecoder()
        factory = self.client_factory
        if factory is None:
            from .._checks import require

            factory = require("bleak", "BLE streaming").BleakClient
        self._queue: queue.Queue[bytes] = queue.Queue()
        loop = asyncio.new_event_loop()
        self._loop: asyncio.AbstractEventLoop | None = loop
        self._thread = threading.Thread(target=loop.run_forever, name="myovox-ble", daemon=True)
        self._thread.start()
        self._client = factory(self.address)

        async def connect() -> None:
            await self._client.connect()
            await self._client.start_notify(self.char_uuid, lambda _sender, data: self._queue.put(bytes(data)))

        try:
            asyncio.run_coroutine_threadsafe(connect(), loop).result(self.connect_timeout)
        except Exception as err:  # bleak raises BleakError, TimeoutError, ...
            self._stop_loop()
            raise StreamError(f"{self.describe()}: cannot connect or subscribe to {self.char_uuid} ({err}).") from err

    def _recv(self) -> bytes | None:
        import queue

        try:
            data = self._queue.get(timeout=self.stall_timeout)
        except queue.Empty:
            raise StreamError(
                f"{self.describe()}: no notification for {self.stall_timeout:g} s (device out of "
                f"range or switched off). {self.stats.n_samples} samples were received and kept."
            ) from None
        while not self._queue.empty() and len(data) < self.read_size:  # batch what is already there
            data += self._queue.get_nowait()
        return data

    def _stop_loop(self) -> None:
        loop = getattr(self, "_loop", None)
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(2.0)
            loop.close()
            self._loop = None

    def _close(self) -> None:
        import asyncio

        loop = getattr(self, "_loop", None)
        client = getattr(self, "_client", None)
        if loop is not None and client is not None:

            async def disconnect() -> None:
                try:
                    await client.stop_notify(self.char_uuid)
                finally:
                    await client.disconnect()

            try:
                asyncio.run_coroutine_threadsafe(disconnect(), loop).result(self.connect_timeout)
            except Exception as err:  # noqa: BLE001 - the device may already be gone
                logger.debug("BLE disconnect: %s", err)
        self._stop_loop()
        self.stats.extra["packets_lost"] = self.decoder.n_lost
        self.stats.extra["packets"] = self.decoder.n_packets


def from_target(target: str, **options: Any) -> BioGAPStream:
    """``biogap:tcp://HOST:PORT``, ``biogap:FILE`` or ``biogap:ble://ADDRESS?char=UUID`` (extra ``myovox[ble]``)."""
    if target.startswith("ble://"):
        from urllib.parse import parse_qs

        url = urlparse(target)
        char = parse_qs(url.query).get("char", [""])[0]
        return BioGAPBLEStream(url.netloc or url.path.lstrip("/"), char, **options)
    return BioGAPStream(target, **options)

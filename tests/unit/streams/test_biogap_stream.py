"""BioGAP packets over a real loopback TCP socket and from a file, with lost packets and a vanishing device."""

import socket
import threading

import numpy as np
import pytest

from myovox import StreamError
from myovox.io import biogap as bg
from myovox.streams.biogap import BioGAPStream


def _packets(n_packets=50, drop=(), seed=0):
    rng = np.random.default_rng(seed)
    codes = rng.integers(-(2**20), 2**20, size=(n_packets * 4, 16))
    values = bg.codes_to_units(codes)
    raw = bg.encode_packets(values, counter_start=250)
    keep = [raw[i * bg.PACKET_SIZE : (i + 1) * bg.PACKET_SIZE] for i in range(n_packets) if i not in drop]
    return values, b"".join(keep)


def _serve(payload: bytes, pieces: int = 7):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def run():
        conn, _ = srv.accept()
        step = max(1, len(payload) // pieces + 5)
        for i in range(0, len(payload), step):  # odd chunk boundaries, packets split across sends
            conn.sendall(payload[i : i + step])
        conn.close()  # the device vanishes
        srv.close()

    threading.Thread(target=run, daemon=True).start()
    return srv.getsockname()[1]


def test_tcp_stream_fills_lost_packets_and_keeps_data_when_device_vanishes():
    values, payload = _packets(drop=(10, 11, 30))
    port = _serve(payload)
    s = BioGAPStream(f"tcp://127.0.0.1:{port}", stall_timeout=0.5, reconnect=1)
    chunks = []
    with pytest.raises(StreamError, match="samples were received and kept"):
        with s:
            for c in s:
                chunks.append(c)
    data = np.concatenate([c.data for c in chunks], axis=1)
    missing = np.concatenate([c.missing if c.missing is not None else np.zeros(c.n_samples, bool) for c in chunks])
    assert data.shape == (16, 200)  # time stays true: 50 packets x 4 samples
    assert missing.sum() == 12 and s.stats.n_lost == 12
    lost = np.zeros(200, bool)
    lost[40:48] = lost[120:124] = True
    np.testing.assert_array_equal(missing, lost)
    np.testing.assert_allclose(data[:, ~lost], values.T[:, ~lost])
    assert np.isnan(data[:, lost]).all()
    assert s.stats.extra["packets_lost"] == 3


def test_file_source_and_bad_target(tmp_path):
    values, payload = _packets(n_packets=20)
    f = tmp_path / "dump.bin"
    f.write_bytes(payload + b"\x00" * 17)  # a partial packet at the end
    with BioGAPStream(str(f)) as s:
        data = np.concatenate([c.data for c in s], axis=1)
    np.testing.assert_allclose(data, values.T)
    with pytest.raises(StreamError, match="no such file"):
        BioGAPStream(str(tmp_path / "nope.bin")).start()
    with pytest.raises(StreamError, match="cannot connect"):
        BioGAPStream("tcp://127.0.0.1:1", stall_timeout=0.2).start()


class FakeBleakClient:
    """Stands in for bleak.BleakClient: notifies the given packets in odd-sized pieces, then goes silent."""

    def __init__(self, address, payload):
        self.address, self.payload, self.calls = address, payload, []

    async def connect(self):
        self.calls.append("connect")

    async def start_notify(self, char, callback):
        import asyncio

        self.calls.append(("start_notify", char))

        async def push():
            for i in range(0, len(self.payload), 100):
                callback(char, bytearray(self.payload[i : i + 100]))
                await asyncio.sleep(0)

        asyncio.get_running_loop().create_task(push())

    async def stop_notify(self, char):
        self.calls.append("stop_notify")

    async def disconnect(self):
        self.calls.append("disconnect")


def test_ble_stream_with_a_fake_client():
    from myovox.streams import open_stream
    from myovox.streams.biogap import BioGAPBLEStream

    values, payload = _packets(n_packets=30, drop=(7,))
    clients = []

    def factory(address):
        clients.append(FakeBleakClient(address, payload))
        return clients[-1]

    s = open_stream("biogap:ble://AA:BB:CC:DD:EE:FF?char=1234", client_factory=factory, stall_timeout=0.5)
    assert isinstance(s, BioGAPBLEStream) and s.char_uuid == "1234"
    chunks = []
    with pytest.raises(StreamError, match="no notification"), s:
        for c in s:
            chunks.append(c)
    data = np.concatenate([c.data for c in chunks], axis=1)
    assert data.shape == (16, 120) and s.stats.n_lost == 4
    np.testing.assert_allclose(data[:, :28], values.T[:, :28])
    assert clients[0].address == "AA:BB:CC:DD:EE:FF"
    assert clients[0].calls[0] == "connect" and clients[0].calls[-1] == "disconnect"

"""BioGAP-Ultra packet codec, counter gaps and the streaming decoder."""

from __future__ import annotations

import numpy as np
import pytest

from myovox.exceptions import DataFormatError, ValidationError
from myovox.io.biogap import (
    N_CHANNELS,
    PACKET_SIZE,
    SAMPLES_PER_PACKET,
    PacketDecoder,
    PacketGap,
    codes_to_units,
    counter_wraps,
    decode_packets,
    encode_packets,
    find_lost_packets,
    units_to_codes,
)


def _codes(n_packets: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.integers(-(2**23), 2**23, size=(n_packets * SAMPLES_PER_PACKET, N_CHANNELS)).astype(np.int32)
    c[0, :4] = [-(2**23), 2**23 - 1, 0, -1]
    return c


def test_scale_matches_reference_formula():
    codes = np.array([1, -1, 1000, 2**23 - 1, -(2**23)])
    want = (codes * (2.4 / (6 * (2**23 - 1))) * 1e7).astype(np.float32)
    np.testing.assert_array_equal(codes_to_units(codes), want)
    assert codes_to_units([2**23 - 1])[0] == pytest.approx(2.4 / 6 * 1e7, rel=1e-6)  # full scale = Vref/gain
    np.testing.assert_array_equal(units_to_codes(codes_to_units(codes)), codes)


def test_encode_decode_codes_roundtrip():
    c = _codes(10)
    buf = encode_packets(c, 250, codes=True, header=0xAA)
    assert len(buf) == 10 * PACKET_SIZE and buf[0] == 0xAA
    samples, counters = decode_packets(buf, scale=False)
    np.testing.assert_array_equal(samples, c)
    assert counters.tolist() == [250, 251, 252, 253, 254, 255, 0, 1, 2, 3]
    scaled, _ = decode_packets(buf)
    assert scaled.dtype == np.float32
    np.testing.assert_array_equal(scaled, codes_to_units(c))
    # scaled values encode back to the same bytes
    assert encode_packets(scaled, 250, header=0xAA) == buf


def test_wire_layout_big_endian_and_sample_stride():
    c = np.zeros((4, 16), dtype=np.int32)
    c[0, 0] = 0x123456
    c[0, 8] = -2  # ADS B channel 0 of sample 0 -> bytes 26..28
    c[1, 0] = 1  # sample 1 starts 56 bytes after sample 0
    buf = encode_packets(c, 7, codes=True)
    assert buf[1] == 7
    assert buf[2:5] == bytes([0x12, 0x34, 0x56])
    assert buf[26:29] == bytes([0xFF, 0xFF, 0xFE])
    assert buf[58:61] == bytes([0, 0, 1])
    assert buf[50:58] == bytes(8)  # non-EMG bytes are zero


def test_decode_rejects_partial_packets():
    with pytest.raises(DataFormatError, match="not a whole number"):
        decode_packets(b"\0" * (PACKET_SIZE + 3))


def test_encode_validates():
    with pytest.raises(ValidationError):
        encode_packets(np.zeros((5, 16)))
    with pytest.raises(ValidationError):
        encode_packets(np.full((4, 16), np.nan))
    with pytest.raises(ValidationError):
        encode_packets(np.zeros((4, 16), dtype=np.int64) + 2**23, codes=True)
    with pytest.raises(ValidationError):
        encode_packets(np.zeros((8, 16)), counters=[0])


def test_units_to_codes_clips():
    assert units_to_codes([1e12, -1e12]).tolist() == [2**23 - 1, -(2**23)]


def test_find_lost_packets_with_wrap():
    cnt = [253, 254, 255, 2, 3, 3, 10]
    gaps = find_lost_packets(cnt)
    assert gaps == [PacketGap(3, 255, 2, 2), PacketGap(6, 3, 10, 6)]
    assert gaps[0].missing == [0, 1]
    assert find_lost_packets(list(range(300))) == []  # wraps are not losses
    assert find_lost_packets([0, 1, 2], previous=254, offset=10) == [PacketGap(10, 254, 0, 1)]


def test_find_lost_packets_other_modulo():
    gaps = find_lost_packets([14, 15, 1, 2], modulo=16)
    assert len(gaps) == 1 and gaps[0].n_lost == 1 and gaps[0].missing == [0]


def test_counter_wraps():
    assert counter_wraps([254, 255, 0, 1, 255, 3]).tolist() == [2, 5]


@pytest.mark.parametrize("chunk", [1, 7, 100, 233, 235, 1000])
def test_packet_decoder_odd_chunks_and_drops(chunk):
    n = 40
    c = _codes(n, seed=chunk)
    buf = encode_packets(c, 200, codes=True)
    drop = {5, 6, 30}  # counters 205, 206 and 230 never arrive
    keep = [i for i in range(n) if i not in drop]
    stream = b"".join(buf[i * PACKET_SIZE : (i + 1) * PACKET_SIZE] for i in keep)
    dec = PacketDecoder(scale=False)
    outs, cnts, n_gaps = [], [], 0
    for i in range(0, len(stream), chunk):
        out = dec.feed(stream[i : i + chunk])
        assert out.samples.shape == (4 * out.n_packets, 16)
        outs.append(out.samples)
        cnts.append(out.counters)
        n_gaps += len(out.gaps)
    assert dec.pending == 0 and dec.n_packets == len(keep)
    want = c.reshape(n, 4, 16)[keep].reshape(-1, 16)
    np.testing.assert_array_equal(np.concatenate(outs), want)
    assert np.concatenate(cnts).tolist() == [(200 + i) % 256 for i in keep]
    assert dec.n_lost == 3 and n_gaps == 2
    assert dec.lost_positions == [5, 28]  # received-packet numbers after each gap
    assert [g.missing for g in dec.gaps] == [[205, 206], [230]]


def test_packet_decoder_partial_and_reset():
    buf = encode_packets(np.zeros((8, 16)), 0)
    dec = PacketDecoder()
    out = dec.feed(buf[:100])
    assert out.n_packets == 0 and out.samples.shape == (0, 16) and dec.pending == 100
    out = dec.feed(buf[100:])
    assert out.n_packets == 2 and dec.pending == 0
    dec.reset()
    assert dec.n_packets == 0 and dec.n_lost == 0
    dec.feed(encode_packets(np.zeros((4, 16)), 9))  # no gap reported across a reset
    assert dec.n_lost == 0

"""BioGAP-Ultra BLE packets: decode, encode and lost-packet accounting.

A BioGAP-Ultra packet is :data:`PACKET_SIZE` (234) bytes:

======================  =====================================================================
bytes                   content
======================  =====================================================================
0                       header byte (not interpreted)
1                       uint8 packet counter, wraps 255 -> 0 (a jump = lost packets)
2 + 56*k ...            sample ``k`` (k = 0..3): ADS A channels 0-7, then ADS B channels
                        8-15, 3 bytes each, big-endian two's complement (48 bytes), then
                        8 bytes that are not EMG (ignored, written as zeros)
226-233                 trailing bytes (ignored, written as zeros)
======================  =====================================================================

This is the layout of biogui's BioGAP-Ultra interface, which wrote the SilentWear recordings.
ADC codes are scaled to units of 0.1 uV exactly as that interface does:
``float32((code * 2.4 / (6 * (2**23 - 1))) * 1e7)`` computed in float64, so values decoded here
are bit-identical to the float32 samples stored in SilentWear's ``.bio`` files.

Arrays of samples use the wire/file order ``(n_samples, n_channels)`` (time along rows), as
the ``.bio`` signals do; a :class:`~myovox.recording.Recording` wants the transpose.

The pieces:

- :func:`decode_packets` / :func:`encode_packets`: vectorised over many whole packets.
- :func:`find_lost_packets`: gaps in a wrapping counter (shared with :mod:`myovox.io.bio`).
- :class:`PacketDecoder`: a stateful decoder for a live byte stream; accepts chunks of any
  size (packets split across chunks) and keeps lost-packet accounting across calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_int
from .._logging import logger
from ..exceptions import DataFormatError, ValidationError

#: Bytes in one BLE packet.
PACKET_SIZE: int = 234
#: EMG samples per packet.
SAMPLES_PER_PACKET: int = 4
#: EMG channels per sample (two ADS1298, 8 channels each).
N_CHANNELS: int = 16
#: Sampling rate of the EMG in Hz (125 packets/s).
SFREQ: float = 500.0
#: Counter modulo (uint8 counter).
COUNTER_MODULO: int = 256
#: Byte offset of sample 0 and the distance between consecutive samples in a packet.
SAMPLE_OFFSET: int = 2
SAMPLE_STRIDE: int = 56
#: ADC reference voltage (V), programmable gain and resolution (bits).
VREF: float = 2.4
GAIN: float = 6.0
N_BITS: int = 24
#: Volts per ADC code; stored values are volts * 1e7 (units of 0.1 uV).
VOLTS_PER_CODE: float = VREF / (GAIN * (2 ** (N_BITS - 1) - 1))
UNITS: str = "0.1 uV"
_UNITS_PER_VOLT = 1e7
_CODE_MIN, _CODE_MAX = -(2 ** (N_BITS - 1)), 2 ** (N_BITS - 1) - 1

# byte offsets (within a packet) of every sample/channel's 3 bytes: shape (4, 16)
_CH_OFFSETS = (
    SAMPLE_OFFSET + SAMPLE_STRIDE * np.arange(SAMPLES_PER_PACKET)[:, None] + 3 * np.arange(N_CHANNELS)[None, :]
)


# ---------------------------------------------------------------------------- scaling
def codes_to_units(codes: np.ndarray) -> np.ndarray:
    """Scale signed 24-bit ADC codes to float32 values in 0.1 uV, bit-exact with biogui.

    Parameters
    ----------
    codes : array of int
        ADC codes.

    Returns
    -------
    values : array of float32
    """
    return ((np.asarray(codes, dtype=np.float64) * VOLTS_PER_CODE) * _UNITS_PER_VOLT).astype(np.float32)


def units_to_codes(values: np.ndarray) -> np.ndarray:
    """Inverse of :func:`codes_to_units`: nearest ADC codes (int32), clipped to 24 bits.

    Values produced by :func:`codes_to_units` map back to exactly the codes they came from.
    Non-finite values raise ``ValidationError``.
    """
    v = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise ValidationError("Cannot encode NaN or infinite samples into BioGAP packets.")
    codes = np.rint(v / _UNITS_PER_VOLT / VOLTS_PER_CODE)
    return np.clip(codes, _CODE_MIN, _CODE_MAX).astype(np.int32)


# ---------------------------------------------------------------------------- packets
def _as_packet_array(buf: bytes | bytearray | memoryview | np.ndarray, what: str) -> np.ndarray:
    arr = np.frombuffer(buf, dtype=np.uint8) if not isinstance(buf, np.ndarray) else buf
    arr = np.ascontiguousarray(arr, dtype=np.uint8).reshape(-1)
    if arr.size % PACKET_SIZE:
        raise DataFormatError(
            f"{what}: {arr.size} bytes is not a whole number of {PACKET_SIZE}-byte BioGAP packets "
            f"({arr.size % PACKET_SIZE} bytes left over)."
        )
    return arr.reshape(-1, PACKET_SIZE)


def decode_packets(
    buf: bytes | bytearray | memoryview | np.ndarray,
    *,
    scale: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode whole BioGAP-Ultra packets.

    Parameters
    ----------
    buf : bytes-like or uint8 array
        Concatenated packets; the length must be a multiple of :data:`PACKET_SIZE`.
    scale : bool
        ``True`` (default): float32 samples in 0.1 uV (as biogui stores them);
        ``False``: the raw int32 ADC codes.

    Returns
    -------
    samples : array, shape (n_packets * 4, 16)
        Samples in time order, float32 (or int32 codes when ``scale=False``).
    counters : array of uint8, shape (n_packets,)
        The packet counters.

    Raises
    ------
    DataFormatError
        If ``buf`` is not a whole number of packets.
    """
    pk = _as_packet_array(buf, "BioGAP packet buffer")
    n = pk.shape[0]
    hi = pk[:, _CH_OFFSETS].astype(np.int32)  # (n, 4, 16): most significant byte of each value
    codes = (hi << 16) | (pk[:, _CH_OFFSETS + 1].astype(np.int32) << 8) | pk[:, _CH_OFFSETS + 2]
    codes = np.where(hi >= 128, codes - (1 << 24), codes).reshape(n * SAMPLES_PER_PACKET, N_CHANNELS)
    counters = pk[:, 1].copy()
    return (codes_to_units(codes) if scale else codes), counters


def encode_packets(
    samples: np.ndarray,
    counter_start: int = 0,
    *,
    counters: Sequence[int] | None = None,
    codes: bool = False,
    header: int = 0,
    modulo: int = COUNTER_MODULO,
) -> bytes:
    """Encode samples into BioGAP-Ultra packets (for tests, simulators and replay).

    Parameters
    ----------
    samples : array, shape (n_packets * 4, 16)
        Samples in time order, in 0.1 uV (or ADC codes with ``codes=True``).
    counter_start : int
        Counter of the first packet; later packets count up modulo ``modulo``.
    counters : sequence of int | None
        Explicit counter per packet (overrides ``counter_start``), e.g. to simulate gaps.
    codes : bool
        ``samples`` are already integer ADC codes.
    header : int
        Value of byte 0 of every packet.
    modulo : int
        Counter modulo (at most 256, the counter is one byte).

    Returns
    -------
    bytes
        ``n_packets * 234`` bytes; non-EMG bytes are zero.
    """
    x = np.asarray(samples)
    if x.ndim != 2 or x.shape[1] != N_CHANNELS or x.shape[0] % SAMPLES_PER_PACKET:
        raise ValidationError(
            f"Invalid value for 'samples': expected shape (n_packets * {SAMPLES_PER_PACKET}, {N_CHANNELS}), "
            f"got {x.shape}."
        )
    modulo = check_int("modulo", modulo, minimum=1)
    if modulo > 256:
        raise ValidationError(f"Invalid value for 'modulo': the counter is one byte, got {modulo}.")
    header = check_int("header", header, minimum=0)
    if header > 255:
        raise ValidationError(f"Invalid value for 'header': expected a byte value 0..255, got {header}.")
    n = x.shape[0] // SAMPLES_PER_PACKET
    if codes:
        c = np.asarray(x)
        if not np.issubdtype(c.dtype, np.integer) or (c.size and (c.min() < _CODE_MIN or c.max() > _CODE_MAX)):
            raise ValidationError("Invalid value for 'samples': ADC codes must be integers in the 24-bit range.")
        c = c.astype(np.int64)
    else:
        c = units_to_codes(x).astype(np.int64)
    if counters is None:
        cnt = (check_int("counter_start", counter_start, minimum=0) + np.arange(n)) % modulo
    else:
        cnt = np.asarray(counters, dtype=np.int64).reshape(-1)
        if cnt.shape != (n,) or (cnt.size and (cnt.min() < 0 or cnt.max() > 255)):
            raise ValidationError(f"Invalid value for 'counters': expected {n} values in 0..255.")
    u = (c & 0xFFFFFF).reshape(n, SAMPLES_PER_PACKET, N_CHANNELS)
    pk = np.zeros((n, PACKET_SIZE), dtype=np.uint8)
    pk[:, 0] = header
    pk[:, 1] = cnt
    rows = np.arange(n)[:, None, None]
    pk[rows, _CH_OFFSETS] = (u >> 16) & 0xFF
    pk[rows, _CH_OFFSETS + 1] = (u >> 8) & 0xFF
    pk[rows, _CH_OFFSETS + 2] = u & 0xFF
    return pk.tobytes()


# ---------------------------------------------------------------------------- counters
@dataclass(frozen=True)
class PacketGap:
    """A jump in a wrapping packet counter.

    Attributes
    ----------
    index : int
        Index (in the counter sequence that was checked) of the first packet after the gap.
    counter_before, counter_after : int
        Counter values either side of the gap.
    n_lost : int
        Packets missing in the gap (``(after - before) % modulo - 1``; a loss of ``modulo`` or
        more packets in a row cannot be told from a counter alone).
    modulo : int
        Counter modulo.
    """

    index: int
    counter_before: int
    counter_after: int
    n_lost: int
    modulo: int = COUNTER_MODULO

    @property
    def missing(self) -> list[int]:
        """The counter values that never arrived."""
        return [(self.counter_before + 1 + j) % self.modulo for j in range(self.n_lost)]


def find_lost_packets(
    counter: Sequence[int] | np.ndarray, modulo: int = COUNTER_MODULO, *, previous: int | None = None, offset: int = 0
) -> list[PacketGap]:
    """Find lost packets from a counter that increments by one per packet and wraps at ``modulo``.

    Parameters
    ----------
    counter : sequence of int
        Counter of each received packet, in order of arrival.
    modulo : int
        Counter modulo (256 for BioGAP's uint8 counter).
    previous : int | None
        Counter of the packet received just before ``counter[0]`` (streaming use).
    offset : int
        Added to every reported ``index`` (absolute packet numbers in a stream).

    Returns
    -------
    list of PacketGap
        One entry per jump. A repeated value (step 0) is not counted as a loss; it is logged.
    """
    modulo = check_int("modulo", modulo, minimum=2)
    c = np.asarray(counter, dtype=np.int64).reshape(-1)
    if previous is not None:
        c = np.concatenate([[int(previous)], c])
        offset -= 1
    if c.size < 2:
        return []
    step = np.diff(c) % modulo
    dup = np.flatnonzero(step == 0)
    if dup.size:
        logger.info(
            "Packet counter repeats at %d place(s) (first at packet %d): duplicates, or exactly %d packets lost.",
            dup.size,
            int(dup[0]) + 1 + offset,
            modulo,
        )
    where = np.flatnonzero(step > 1)
    return [
        PacketGap(int(i) + 1 + offset, int(c[i] % modulo), int(c[i + 1] % modulo), int(step[i]) - 1, modulo)
        for i in where
    ]


def counter_wraps(counter: Sequence[int] | np.ndarray) -> np.ndarray:
    """Indices of packets whose counter is smaller than the previous one (the counter wrapped)."""
    c = np.asarray(counter, dtype=np.int64).reshape(-1)
    return np.flatnonzero(np.diff(c) < 0) + 1


# ---------------------------------------------------------------------------- stream decoder
@dataclass
class DecodedChunk:
    """What :meth:`PacketDecoder.feed` returns for one chunk of bytes.

    Attributes
    ----------
    samples : array, shape (n_packets * 4, 16)
        Samples of the packets completed by this chunk (float32 0.1 uV, or int32 codes).
    counters : array of uint8, shape (n_packets,)
        Their counters.
    gaps : list of PacketGap
        Gaps found before these packets; ``index`` counts packets since the decoder started.
    """

    samples: np.ndarray
    counters: np.ndarray
    gaps: list[PacketGap] = field(default_factory=list)

    @property
    def n_packets(self) -> int:
        return int(self.counters.size)

    @property
    def n_lost(self) -> int:
        return sum(g.n_lost for g in self.gaps)


class PacketDecoder:
    """Incremental BioGAP-Ultra decoder for a byte stream (BLE notifications, serial, replay).

    Feed it chunks of any length; bytes of a packet split across chunks are kept until the
    packet is complete. Lost packets (counter jumps) are counted across calls.

    Parameters
    ----------
    scale : bool
        Emit float32 samples in 0.1 uV (default) or raw int32 ADC codes.
    modulo : int
        Counter modulo.

    Attributes
    ----------
    n_packets : int
        Packets decoded so far.
    n_lost : int
        Packets lost so far (sum of all gaps).
    gaps : list of PacketGap
        Every gap so far; ``index`` is the number of the first packet after it (0-based, counting
        received packets).
    pending : int
        Bytes waiting for the rest of their packet.

    Examples
    --------
    >>> dec = PacketDecoder()
    >>> out = dec.feed(chunk)  # doctest: +SKIP
    >>> out.samples.shape, dec.n_lost  # doctest: +SKIP
    ((8, 16), 0)
    """

    def __init__(self, *, scale: bool = True, modulo: int = COUNTER_MODULO) -> None:
        self.scale = bool(scale)
        self.modulo = check_int("modulo", modulo, minimum=2)
        self.reset()

    def reset(self) -> None:
        """Forget partial bytes, the last counter and the loss accounting (e.g. after reconnect)."""
        self._buf = bytearray()
        self._last: int | None = None
        self.n_packets = 0
        self.gaps: list[PacketGap] = []

    @property
    def n_lost(self) -> int:
        return sum(g.n_lost for g in self.gaps)

    @property
    def pending(self) -> int:
        return len(self._buf)

    @property
    def lost_positions(self) -> list[int]:
        """Packet numbers (as counted by ``n_packets``) of the first packet after each gap."""
        return [g.index for g in self.gaps]

    def feed(self, chunk: bytes | bytearray | memoryview) -> DecodedChunk:
        """Add bytes; decode every packet that is now complete.

        Parameters
        ----------
        chunk : bytes-like
            Any number of bytes, continuing the stream.

        Returns
        -------
        DecodedChunk
            Samples, counters and new gaps of the packets completed by this chunk (possibly none).
        """
        self._buf += bytes(chunk)
        n_whole = len(self._buf) // PACKET_SIZE
        dtype = np.float32 if self.scale else np.int32
        if n_whole == 0:
            return DecodedChunk(np.empty((0, N_CHANNELS), dtype), np.empty(0, np.uint8), [])
        cut = n_whole * PACKET_SIZE
        samples, counters = decode_packets(bytes(self._buf[:cut]), scale=self.scale)
        del self._buf[:cut]
        gaps = find_lost_packets(counters, self.modulo, previous=self._last, offset=self.n_packets)
        if gaps:
            logger.info(
                "BioGAP stream: %d packet(s) lost in %d gap(s) before packet %d.",
                sum(g.n_lost for g in gaps),
                len(gaps),
                gaps[-1].index,
            )
        self.gaps.extend(gaps)
        self._last = int(counters[-1])
        self.n_packets += n_whole
        return DecodedChunk(samples, counters, gaps)


__all__ = [
    "COUNTER_MODULO",
    "N_CHANNELS",
    "PACKET_SIZE",
    "SAMPLES_PER_PACKET",
    "SFREQ",
    "UNITS",
    "VOLTS_PER_CODE",
    "DecodedChunk",
    "PacketDecoder",
    "PacketGap",
    "codes_to_units",
    "counter_wraps",
    "decode_packets",
    "encode_packets",
    "find_lost_packets",
    "units_to_codes",
]

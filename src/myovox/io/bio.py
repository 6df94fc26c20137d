"""biogui ``.bio`` files (the SilentWear raw recordings): read both byte layouts, write both.

Two layouts exist, both little-endian; the reader tells them apart from the header.

**old** (biogui ``sensors_speech`` branch, the SilentWear recordings)::

    uint32 n_signals, float32 base rate (packets/s), uint32 n_base (packets)
    per signal: uint32 name length, name, float32 rate, uint32 n_samples, uint32 n_channels,
                1-byte dtype code (one of ``?bBhHiIqQfd``)
    uint8 has_trigger
    float64 timestamp per packet (n_base)
    per signal: n_samples x n_channels values, row-major
    if has_trigger: one uint32 trigger per packet, to the end of the file

**current** (biogui main)::

    uint32 n_signals
    per signal: uint32 name length, name, float32 rate, uint32 n_samples, uint32 n_channels,
                1-byte dtype code, uint32 n_timestamps, uint32 n_triggers
    per signal, in header order: its data, its float64 timestamps, its trigger records
                (uint32 id, uint32 byte length, UTF-8 label)

Detection: at byte 4 the old layout has a positive float32 rate, whose bit pattern read as uint32
is at least 2**23; the current layout has the first name length there, which is far smaller.

Truncated files (a recording cut off by a crash or a full disk) are recovered: every complete
row that exists is kept, a :class:`~myovox.exceptions.DataLossWarning` says how much is
missing, and labels are given only if the triggers that survived cover every kept sample
(otherwise ``labels`` is ``None`` and the warning says so; no label is invented). Pass
``on_truncated="raise"`` to get a :class:`~myovox.exceptions.DataFormatError` instead.
"""

from __future__ import annotations

import re
import struct
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_int, check_option, did_you_mean
from .._logging import logger
from ..exceptions import DataFormatError, DataLossWarning, DataQualityWarning, ValidationError
from ..recording import SILENTWEAR_LABELS, Recording
from .biogap import COUNTER_MODULO, PacketGap, find_lost_packets

#: dtype code (as biogui writes it) -> little-endian numpy dtype.
DTYPE_CODES: dict[str, str] = {
    "?": "?",
    "b": "i1",
    "B": "u1",
    "h": "<i2",
    "H": "<u2",
    "i": "<i4",
    "I": "<u4",
    "q": "<i8",
    "Q": "<u8",
    "f": "<f4",
    "d": "<f8",
}
#: Trigger id of the current layout's "init" / "finished" records (mapped to label 0 = rest).
TRIGGER_NONE: int = 0xFFFFFFFF
LAYOUTS = ("old", "current")
_MAX_SIGNALS = 256
_MAX_NAME = 1024
_MAX_CHANNELS = 1 << 16
_NAME_RE = re.compile(
    r"^sess_(?P<session>\d+)_batch_(?P<batch>\d+)(?:_(?P<tag>.+?))?"
    r"_(?P<time>\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})\.bio$"
)
_CONDITIONS = ("silent", "vocalized")


# ============================================================================ data objects
@dataclass
class BioSignalHeader:
    """One signal's entry in a ``.bio`` header (what the header promises)."""

    name: str
    fs: float
    n_samples: int
    n_channels: int
    dtype_code: str
    n_timestamps: int | None = None  # current layout only
    n_triggers: int | None = None  # current layout only

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(DTYPE_CODES[self.dtype_code])


@dataclass(eq=False)
class BioFile:
    """Everything in a ``.bio`` file, as stored (no scaling, no relabelling).

    Attributes
    ----------
    layout : {"old", "current"}
    headers : dict of str -> BioSignalHeader
        Header entry of each signal, in file order (counts as promised by the header).
    signals : dict of str -> array, shape (n_rows, n_channels)
        Each signal in its file dtype (fewer rows than promised when truncated).
    signal_timestamps : dict of str -> float64 array
        Host timestamp per packet. The old layout has one global block (the same array for
        every signal); the current layout stores a copy with each signal.
    signal_triggers : dict of str -> uint32 array
        Trigger id per packet (empty dict when the file has no triggers).
    signal_trigger_labels : dict of str -> list of str
        Trigger label per packet (current layout only).
    fs_base, n_base : float | None, int | None
        Packet rate and number of packets of the old layout's global header.
    has_trigger : bool
        Old layout's trigger flag (current layout: whether any signal has trigger records).
    path : str | None
        File it was read from.
    size, expected_size : int | None
        Bytes in the file, and bytes the header promised (``None`` when unknown).
    missing : dict of str -> (int, int)
        For each incomplete block (``"biogap"``, ``"biogap.timestamps"``, ``"triggers"``, ...)
        the number of items present and promised. Empty for a complete file.
    recovered : list of str
        What was recovered exactly from a damaged file (e.g. the last trigger of a file one byte
        short); each is named in a DataLossWarning.
    """

    layout: str
    headers: dict[str, BioSignalHeader]
    signals: dict[str, np.ndarray]
    signal_timestamps: dict[str, np.ndarray] = field(default_factory=dict)
    signal_triggers: dict[str, np.ndarray] = field(default_factory=dict)
    signal_trigger_labels: dict[str, list[str]] = field(default_factory=dict)
    fs_base: float | None = None
    n_base: int | None = None
    has_trigger: bool = False
    path: str | None = None
    size: int | None = None
    expected_size: int | None = None
    missing: dict[str, tuple[int, int]] = field(default_factory=dict)
    recovered: list[str] = field(default_factory=list)

    # ---- convenience views
    @property
    def truncated(self) -> bool:
        """Whether some block is shorter than the header promised."""
        return bool(self.missing)

    @property
    def fs(self) -> dict[str, float]:
        """Sampling rate of each signal."""
        return {k: h.fs for k, h in self.headers.items()}

    @property
    def emg_signal(self) -> str:
        """Name of the signal with the most channels (first one on ties)."""
        if not self.headers:
            raise DataFormatError(f"{self.path or '<memory>'}: the file has no signals.")
        return max(self.headers, key=lambda k: self.headers[k].n_channels)

    def _first(self, d: Mapping[str, Any]) -> Any:
        for k in self.headers:
            if k in d:
                return d[k]
        return None

    @property
    def timestamps(self) -> np.ndarray:
        """Packet timestamps (the global block, or the first signal's copy)."""
        ts = self._first(self.signal_timestamps)
        return np.empty(0) if ts is None else ts

    @property
    def triggers(self) -> np.ndarray | None:
        """Trigger id per packet (the global block, or the first signal's records)."""
        return self._first(self.signal_triggers)

    @property
    def trigger_labels(self) -> list[str] | None:
        """Trigger label per packet (current layout), else ``None``."""
        return self._first(self.signal_trigger_labels)

    def __repr__(self) -> str:
        sigs = ", ".join(
            f"{h.name}: {self.signals[h.name].shape[0]}x{h.n_channels} {h.dtype_code} @ {h.fs:g} Hz"
            for h in self.headers.values()
        )
        trunc = " TRUNCATED" if self.truncated else ""
        return f"<BioFile {self.layout}{trunc} | {sigs} | {self.timestamps.size} packets>"


# ============================================================================ reading
class _Cursor:
    """Sequential little-endian reads from a bytes buffer, with header-level error messages."""

    def __init__(self, buf: bytes, src: str) -> None:
        self.buf, self.pos, self.src = buf, 0, src

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.buf):
            raise DataFormatError(
                f"{self.src}: file ends inside the header (reading {what} at byte {self.pos}; "
                f"file has {len(self.buf)} bytes)."
            )
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def u32(self, what: str) -> int:
        return struct.unpack("<I", self.take(4, what))[0]

    def f32(self, what: str) -> float:
        return struct.unpack("<f", self.take(4, what))[0]


def _detect_layout(buf: bytes, src: str) -> str:
    if len(buf) < 8:
        raise DataFormatError(f"{src}: {len(buf)} bytes is too short for a .bio header.")
    return "old" if struct.unpack_from("<I", buf, 4)[0] >= (1 << 23) else "current"


def _check_rate(fs: float, what: str, src: str) -> float:
    if not (np.isfinite(fs) and 1e-6 <= fs <= 1e9):
        raise DataFormatError(f"{src}: {what} is {fs!r} Hz, not a plausible sampling rate (corrupt header?).")
    return float(fs)


def _signal_header(cur: _Cursor, i: int, current: bool) -> BioSignalHeader:
    src = cur.src
    n = cur.u32(f"signal {i} name length")
    if n == 0 or n > _MAX_NAME:
        raise DataFormatError(f"{src}: signal {i} has a name length of {n} bytes (corrupt header?).")
    raw = cur.take(n, f"signal {i} name")
    try:
        name = raw.decode("ascii")
    except UnicodeDecodeError:
        raise DataFormatError(f"{src}: signal {i} name {raw[:40]!r} is not ASCII (corrupt header?).") from None
    if not name.isprintable():
        raise DataFormatError(f"{src}: signal {i} name {name[:40]!r} has unprintable characters (corrupt header?).")
    fs = _check_rate(cur.f32(f"signal {name!r} rate"), f"the rate of signal {name!r}", src)
    n_samples = cur.u32(f"signal {name!r} sample count")
    n_ch = cur.u32(f"signal {name!r} channel count")
    if not 1 <= n_ch <= _MAX_CHANNELS:
        raise DataFormatError(f"{src}: signal {name!r} has {n_ch} channels (corrupt header?).")
    code = cur.take(1, f"signal {name!r} dtype code").decode("latin-1")
    if code not in DTYPE_CODES:
        raise DataFormatError(
            f"{src}: signal {name!r} has unknown dtype code {code!r} (known: {''.join(DTYPE_CODES)})."
        )
    h = BioSignalHeader(name, fs, n_samples, n_ch, code)
    if current:
        h.n_timestamps = cur.u32(f"signal {name!r} timestamp count")
        h.n_triggers = cur.u32(f"signal {name!r} trigger count")
    return h


def _read_n_signals(cur: _Cursor) -> int:
    n = cur.u32("the number of signals")
    if not 1 <= n <= _MAX_SIGNALS:
        raise DataFormatError(f"{cur.src}: header says {n} signals (0x{n:08X}); not a valid .bio header.")
    return n


def _block(buf: bytes, start: int, n_items: int, item_size: int) -> tuple[bytes, int]:
    """Bytes of the complete items of a block that exist, and how many items that is."""
    end = min(len(buf), start + n_items * item_size)
    have = max(0, end - start) // item_size
    return buf[start : start + have * item_size], have


def _check_unique(headers: list[BioSignalHeader], src: str) -> dict[str, BioSignalHeader]:
    out: dict[str, BioSignalHeader] = {}
    for h in headers:
        if h.name in out:
            raise DataFormatError(f"{src}: signal name {h.name!r} appears twice in the header.")
        out[h.name] = h
    return out


_MAX_SPP = 4096  # samples per packet a plausible signal has
_MAX_LABEL = 4096  # bytes of one trigger label (current layout)
#: signal names biogui writes for BioGAP-Ultra; a name one bit away from one is a corrupt header
KNOWN_SIGNALS = ("biogap", "counter")


def _one_bit_away(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` (same length) differ in exactly one bit."""
    if len(a) != len(b) or a == b:
        return False
    ba, bb = a.encode("latin-1", "replace"), b.encode("latin-1", "replace")
    return sum(bin(x ^ y).count("1") for x, y in zip(ba, bb, strict=False)) == 1


def _check_current_header(headers: list[BioSignalHeader], src: str) -> None:
    """Counts of the current layout that contradict each other name the field that is wrong."""
    for h in headers:
        n_ts, n_tr = int(h.n_timestamps or 0), int(h.n_triggers or 0)
        if n_ts and n_tr and n_tr != n_ts:
            raise DataFormatError(
                f"{src}: header of signal {h.name!r} is inconsistent: trigger count {n_tr} differs from its "
                f"timestamp count {n_ts} (one per packet; corrupt header?)."
            )
        if n_ts and (h.n_samples % n_ts or not 1 <= h.n_samples // n_ts <= _MAX_SPP):
            raise DataFormatError(
                f"{src}: header of signal {h.name!r} is inconsistent: sample count {h.n_samples} is not a whole "
                f"number (1..{_MAX_SPP}) of samples per packet for its {n_ts} packet timestamps (corrupt header?)."
            )
    timed = [(h, h.n_timestamps) for h in headers if h.n_timestamps]
    for h, h_ts in timed[1:]:  # every signal spans the same packets
        ref, ref_ts = timed[0]
        tol = max(h.n_samples // int(h_ts) / h.fs, ref.n_samples // int(ref_ts) / ref.fs)
        if abs(h.n_samples / h.fs - ref.n_samples / ref.fs) > tol * (1 + 1e-6) + 1e-9:
            raise DataFormatError(
                f"{src}: header is inconsistent: signal {h.name!r} lasts {h.n_samples / h.fs:.6g} s "
                f"({h.n_samples} samples at {h.fs:g} Hz) but {ref.name!r} lasts {ref.n_samples / ref.fs:.6g} s "
                f"(corrupt sample count or rate?)."
            )


def _walk_current(buf: bytes, headers: list[BioSignalHeader], pos: int, starts: list[int] | None = None) -> bool:
    """Whether a current-layout file with these headers ends exactly at the end of ``buf``
    (``starts`` receives the byte offset of each signal's block that was reached)."""
    for h in headers:
        if starts is not None:
            starts.append(pos)
        pos += h.n_samples * h.n_channels * h.dtype.itemsize + int(h.n_timestamps or 0) * 8
        if pos > len(buf):
            return False
        for _ in range(int(h.n_triggers or 0)):
            if pos + 8 > len(buf):
                return False
            ln = struct.unpack_from("<I", buf, pos + 4)[0]
            if ln > _MAX_LABEL or pos + 8 + ln > len(buf):
                return False
            pos += 8 + ln
    return pos == len(buf)


def _bit_flips(value: int, bits: int) -> list[int]:
    return [value ^ (1 << b) for b in range(bits)]


def _alternatives(h: BioSignalHeader, current: bool) -> list[tuple[str, Any, BioSignalHeader]]:
    """Headers that differ from ``h`` in one field (one flipped bit, or another dtype code)."""
    out: list[tuple[str, Any, BioSignalHeader]] = []
    for code in DTYPE_CODES:  # codes of the same size give the same layout: they cannot explain a size
        if np.dtype(DTYPE_CODES[code]).itemsize != h.dtype.itemsize:
            out.append(
                (
                    "dtype code",
                    code,
                    BioSignalHeader(h.name, h.fs, h.n_samples, h.n_channels, code, h.n_timestamps, h.n_triggers),
                )
            )
    for v in _bit_flips(h.n_channels, 17):
        if 1 <= v <= _MAX_CHANNELS:
            out.append(
                (
                    "channel count",
                    v,
                    BioSignalHeader(h.name, h.fs, h.n_samples, v, h.dtype_code, h.n_timestamps, h.n_triggers),
                )
            )
    for v in _bit_flips(h.n_samples, 32):
        out.append(
            (
                "sample count",
                v,
                BioSignalHeader(h.name, h.fs, v, h.n_channels, h.dtype_code, h.n_timestamps, h.n_triggers),
            )
        )
    if current:
        for v in _bit_flips(int(h.n_timestamps or 0), 32):
            out.append(
                (
                    "timestamp count",
                    v,
                    BioSignalHeader(h.name, h.fs, h.n_samples, h.n_channels, h.dtype_code, v, h.n_triggers),
                )
            )
        for v in _bit_flips(int(h.n_triggers or 0), 32):
            out.append(
                (
                    "trigger count",
                    v,
                    BioSignalHeader(h.name, h.fs, h.n_samples, h.n_channels, h.dtype_code, h.n_timestamps, v),
                )
            )
    return out


def _field_value(h: BioSignalHeader, field: str) -> Any:
    return {
        "dtype code": h.dtype_code,
        "channel count": h.n_channels,
        "sample count": h.n_samples,
        "timestamp count": h.n_timestamps,
        "trigger count": h.n_triggers,
    }[field]


def _diagnose(
    buf: bytes,
    headers: dict[str, BioSignalHeader],
    src: str,
    layout: str,
    pos: int,
    old_size: Callable[[list[BioSignalHeader]], int] | None = None,
) -> None:
    """Raise a DataFormatError naming the header field when changing that one field alone makes the
    file exactly complete (a corrupt header, not a truncated file)."""
    hs = list(headers.values())
    found: list[tuple[str, str, Any]] = []
    starts: list[int] = []
    if layout == "current":
        _walk_current(buf, hs, pos, starts)
    for i, h in enumerate(hs):
        if layout == "current" and i >= len(starts):
            break  # the blocks before this signal already fail: changing it cannot help
        for attr, value, alt in _alternatives(h, layout == "current"):
            trial = hs[:i] + [alt] + hs[i + 1 :]
            if layout == "current":
                try:
                    _check_current_header(trial, src)
                except DataFormatError:
                    continue
                ok = _walk_current(buf, trial[i:], starts[i])  # the signals before it are unchanged
            else:
                if old_size is None:
                    raise TypeError("_diagnose: the old layout needs old_size")
                ok = old_size(trial) == len(buf)
            if ok:
                found.append((h.name, attr, value))
    fields = {(n, f) for n, f, _ in found}
    if len(fields) == 1:
        name, attr = next(iter(fields))
        values = [v for n, f, v in found]
        h = headers[name]
        alts = " or ".join(repr(v) for v in values[:4])
        raise DataFormatError(
            f"{src}: corrupt header: the {attr} of signal {name!r} ({_field_value(h, attr)!r}) does not match "
            f"the file's {len(buf)} bytes; with {alts} the file would be complete."
        )
    if len(fields) > 1:
        what = ", ".join(f"the {f} of {n!r}" for n, f in sorted(fields))
        raise DataFormatError(
            f"{src}: corrupt header: the file's {len(buf)} bytes do not match the header; one of {what} is wrong."
        )


def _parse_old(buf: bytes, src: str) -> BioFile:
    cur = _Cursor(buf, src)
    n_sig = _read_n_signals(cur)
    fs_base = _check_rate(cur.f32("base rate"), "the base (packet) rate", src)
    n_base = cur.u32("number of packets")
    headers = _check_unique([_signal_header(cur, i, False) for i in range(n_sig)], src)
    flag = cur.take(1, "trigger flag")[0]
    if flag > 1:
        raise DataFormatError(f"{src}: trigger flag is {flag}, expected 0 or 1 (corrupt header?).")
    for h in headers.values():
        ratio = h.fs / fs_base
        if abs(h.n_samples - n_base * ratio) > max(1.0, ratio):
            raise DataFormatError(
                f"{src}: header is inconsistent: signal {h.name!r} promises {h.n_samples} samples at "
                f"{h.fs:g} Hz but the file holds {n_base} packets at {fs_base:g} Hz."
            )
    bf = BioFile("old", headers, {}, fs_base=fs_base, n_base=n_base, has_trigger=bool(flag), path=src, size=len(buf))
    pos = cur.pos

    def old_size(hs: list[BioSignalHeader]) -> int:
        return (
            pos
            + 8 * n_base
            + sum(h.n_samples * h.n_channels * h.dtype.itemsize for h in hs)
            + (4 * n_base if flag else 0)
        )

    if old_size(list(headers.values())) != len(buf):
        # a dtype code or a channel count that contradicts the file size (a file that ends exactly where
        # its trigger block should start is read as truncated: a crash between blocks does that too)
        _diagnose(
            buf,
            headers,
            src,
            "old",
            pos,
            old_size=lambda hs: (
                old_size(hs)
                if all(abs(h.n_samples - n_base * h.fs / fs_base) <= max(1.0, h.fs / fs_base) for h in hs)
                else -1
            ),
        )
    raw, have = _block(buf, pos, n_base, 8)
    ts = np.frombuffer(raw, "<f8").copy()
    if have < n_base:
        bf.missing["timestamps"] = (have, n_base)
    pos += n_base * 8
    for h in headers.values():
        row = h.n_channels * h.dtype.itemsize
        raw, have = _block(buf, pos, h.n_samples, row)
        bf.signals[h.name] = np.frombuffer(raw, h.dtype).reshape(have, h.n_channels).copy()
        if have < h.n_samples:
            bf.missing[h.name] = (have, h.n_samples)
        pos += h.n_samples * row
        bf.signal_timestamps[h.name] = ts
    bf.expected_size = pos + (4 * n_base if flag else 0)
    rest = len(buf) - pos
    if flag:
        if rest > 4 * n_base:
            raise DataFormatError(
                f"{src}: trigger block holds {rest} bytes, more than the {4 * n_base} that "
                f"{n_base} packets need (not a .bio file of this layout?)."
            )
        trig = np.frombuffer(buf[pos : pos + max(0, rest) // 4 * 4], "<u4").copy()
        part = max(0, rest) % 4
        if trig.size == n_base - 1 and part and (trig.size == 0 or int(trig.max()) < 1 << (8 * part)):
            # the last trigger lost only its high byte(s), which every other trigger has as zero
            last = int.from_bytes(buf[pos + 4 * trig.size : pos + 4 * trig.size + part], "little")
            trig = np.append(trig, np.uint32(last))
            bf.recovered.append(
                f"the last trigger ({last}) from {part} of its 4 bytes (the file is "
                f"{4 - part} byte(s) short; every other trigger has those bytes zero)"
            )
        if trig.size < n_base:
            bf.missing["triggers"] = (int(trig.size), n_base)
        for h in headers.values():
            bf.signal_triggers[h.name] = trig
    elif rest > 0:
        raise DataFormatError(f"{src}: {rest} unexpected bytes after the last data block (no triggers flagged).")
    return bf


def _parse_current(buf: bytes, src: str) -> BioFile:
    cur = _Cursor(buf, src)
    n_sig = _read_n_signals(cur)
    headers = _check_unique([_signal_header(cur, i, True) for i in range(n_sig)], src)
    _check_current_header(list(headers.values()), src)
    bf = BioFile("current", headers, {}, path=src, size=len(buf))
    pos = cur.pos
    if not _walk_current(buf, list(headers.values()), pos):
        _diagnose(buf, headers, src, "current", pos)
    complete_so_far = True
    seen_labels: dict[int, set[bytes]] = {}
    for h in headers.values():
        row = h.n_channels * h.dtype.itemsize
        raw, have = _block(buf, pos, h.n_samples, row)
        bf.signals[h.name] = np.frombuffer(raw, h.dtype).reshape(have, h.n_channels).copy()
        if have < h.n_samples:
            bf.missing[h.name] = (have, h.n_samples)
        pos += h.n_samples * row
        n_ts = int(h.n_timestamps or 0)
        raw, have = _block(buf, pos, n_ts, 8)
        bf.signal_timestamps[h.name] = np.frombuffer(raw, "<f8").copy()
        if have < n_ts:
            bf.missing[f"{h.name}.timestamps"] = (have, n_ts)
        pos += n_ts * 8
        n_tr = int(h.n_triggers or 0)
        if n_tr:
            bf.has_trigger = True
        ids = np.empty(min(n_tr, max(0, len(buf) - pos) // 8 + 1), dtype=np.uint32)
        labels: list[str] = []
        k = 0
        while k < ids.size:
            if pos + 8 > len(buf):
                break
            tid, ln = struct.unpack_from("<II", buf, pos)
            if pos + 8 + ln > len(buf):
                part = buf[pos + 8 :]
                same = [lb for lb in seen_labels.get(tid, ()) if len(lb) == ln and lb.startswith(part)]
                if k == n_tr - 1 and len(same) == 1:  # the last record lost the end of a label seen before
                    labels.append(same[0].decode("utf-8"))
                    ids[k] = tid
                    bf.recovered.append(
                        f"the last trigger label of signal {h.name!r} ({labels[-1]!r}, id {tid}) "
                        f"from {len(part)} of its {ln} bytes and the earlier records with id {tid}"
                    )
                    pos += 8 + ln
                    k += 1
                break
            seen_labels.setdefault(tid, set()).add(bytes(buf[pos + 8 : pos + 8 + ln]))
            try:
                labels.append(buf[pos + 8 : pos + 8 + ln].decode("utf-8"))
            except UnicodeDecodeError:
                raise DataFormatError(
                    f"{src}: trigger record {k} of signal {h.name!r} (byte {pos}) has a label that is "
                    f"not UTF-8 (corrupt file?)."
                ) from None
            ids[k] = tid
            pos += 8 + ln
            k += 1
        if n_tr:
            bf.signal_triggers[h.name] = ids[:k].copy()
            bf.signal_trigger_labels[h.name] = labels
        if k < n_tr:
            bf.missing[f"{h.name}.triggers"] = (k, n_tr)
            complete_so_far = False
            pos = len(buf) + 1  # everything after this point is missing
    if complete_so_far and not bf.missing:
        bf.expected_size = max(pos, len(buf))
        if pos < len(buf):
            raise DataFormatError(f"{src}: {len(buf) - pos} unexpected bytes after the last block.")
    return bf


def _describe_missing(bf: BioFile) -> str:
    parts = [f"{k} {have} of {want}" for k, (have, want) in bf.missing.items()]
    exp = f" of {bf.expected_size} promised" if bf.expected_size else ""
    return f"file is truncated ({bf.size} bytes{exp}): " + ", ".join(parts)


def read_bio_signals(path: str | Path, *, on_truncated: str = "warn") -> BioFile:
    """Read every signal, timestamp and trigger of a ``.bio`` file (either layout).

    Parameters
    ----------
    path : str | Path
        The ``.bio`` file.
    on_truncated : {"warn", "raise"}
        What to do when the file is shorter than its header promises: keep the complete rows
        and warn (:class:`~myovox.exceptions.DataLossWarning`), or raise ``DataFormatError``.

    Returns
    -------
    BioFile

    Raises
    ------
    DataFormatError
        Unreadable header (wrong counts, unknown dtype code, names), inconsistent counts,
        bytes left over, or a truncated file with ``on_truncated="raise"``.
    """
    check_option("on_truncated", on_truncated, ("warn", "raise"))
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as err:
        raise DataFormatError(f"{path}: cannot read the file ({err.strerror or err}).") from err
    return _parse_bytes(buf, str(path), on_truncated)


def _parse_bytes(buf: bytes, src: str, on_truncated: str = "warn") -> BioFile:
    layout = _detect_layout(buf, src)
    bf = _parse_old(buf, src) if layout == "old" else _parse_current(buf, src)
    if bf.missing:
        msg = f"{src}: {_describe_missing(bf)}"
        if on_truncated == "raise":
            raise DataFormatError(msg + "; the header promises more samples than the file holds.")
        emg = bf.emg_signal
        if bf.signals[emg].shape[0] == 0 and bf.headers[emg].n_samples > 0:
            raise DataFormatError(
                f"{src}: the header promises {bf.headers[emg].n_samples} samples of {emg!r} but the file "
                f"holds none ({bf.size} bytes)."
            )
        warnings.warn(msg + "; complete rows kept.", DataLossWarning, stacklevel=3)
    if bf.recovered:
        warnings.warn(
            f"{src}: file is damaged ({bf.size} bytes); recovered " + "; ".join(bf.recovered) + ".",
            DataLossWarning,
            stacklevel=3,
        )
    return bf


# ============================================================================ Recording view
def _meta_from_path(path: Path) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    m = _NAME_RE.match(path.name)
    if m:
        meta["session"] = int(m["session"])
        meta["batch"] = int(m["batch"])
        if m["tag"]:
            meta["tag"] = m["tag"]
        meta["start_time"] = datetime.strptime(m["time"], "%Y-%m-%d_%H-%M-%S").isoformat()
        if path.parent.name in _CONDITIONS:
            meta["condition"] = path.parent.name
            if path.parent.parent.name:
                meta["subject"] = path.parent.parent.name
    return meta


def _packet_index(n_times: int, n_samples: int, n_packets: int) -> np.ndarray:
    """Packet of each of the first ``n_times`` samples when ``n_samples`` fill ``n_packets``."""
    if n_packets > 0 and n_samples >= n_packets and n_samples % n_packets == 0:
        return np.arange(n_times) // (n_samples // n_packets)
    return (np.arange(n_times, dtype=np.int64) * n_packets) // max(n_samples, 1)


def lost_packet_records(gaps: list[PacketGap], samples_per_packet: int) -> list[dict[str, Any]]:
    """Turn :class:`~myovox.io.biogap.PacketGap` objects into the dicts of ``meta['lost_packets']``.

    Keys: ``written_packet_index_after_gap``, ``emg_sample_index_after_gap``,
    ``counter_before_gap``, ``counter_after_gap``, ``n_lost``, ``missing_counter_values``.
    """
    return [
        {
            "written_packet_index_after_gap": g.index,
            "emg_sample_index_after_gap": g.index * samples_per_packet,
            "counter_before_gap": g.counter_before,
            "counter_after_gap": g.counter_after,
            "n_lost": g.n_lost,
            "missing_counter_values": g.missing,
        }
        for g in gaps
    ]


def read_bio(
    path: str | Path,
    *,
    signal: str | None = None,
    fill_lost: str = "none",
    counter_signal: str | None = "counter",
    counter_modulo: int = COUNTER_MODULO,
    on_truncated: str = "warn",
) -> Recording:
    """Read the EMG of a biogui/SilentWear ``.bio`` file (either layout) as a Recording.

    Parameters
    ----------
    path : str | Path
        The file; SilentWear names (``<subject>/<silent|vocalized>/sess_<S>_batch_<B>[_<tag>]_
        <YYYY-MM-DD_HH-MM-SS>.bio``) fill ``meta`` (subject, condition, session, batch, tag,
        start_time = the time in the name).
    signal : str | None
        Signal to return; default the one with the most channels (``biogap`` in SilentWear).
    fill_lost : {"none", "nan"}
        ``"none"`` (default): samples as written, so rows equal SilentWear's processed rows.
        ``"nan"``: insert NaN samples for lost packets (labels carried forward, timestamps
        interpolated, counter completed) so that sample index is true time.
    counter_signal : str | None
        Signal holding the packet counter used to find lost packets (``None``: no check).
    counter_modulo : int
        Counter modulo (256 for BioGAP's uint8 counter).
    on_truncated : {"warn", "raise"}
        See :func:`read_bio_signals`.

    Returns
    -------
    Recording
        ``data`` (n_channels, n_times) float (float32 when stored as float32), ``sfreq`` from the
        header, ``labels`` from the triggers (each packet's trigger repeated to the sample rate;
        the current layout's 0xFFFFFFFF "init"/"finished" become 0 = rest), ``label_names``
        (the trigger strings in the current layout, SilentWear's map in the old one), and
        ``meta`` with ``source``, ``layout``, ``signal``, ``units``/``device`` (biogap),
        ``samples_per_packet``, ``timestamps`` (float64 per packet), ``counter``,
        ``lost_packets`` (see :func:`lost_packet_records`), ``trigger_ids`` (per packet, as
        stored) and, in the current layout, ``trigger_labels`` (per packet).

    Warns
    -----
    DataLossWarning
        Lost packets (counter jumps) or a truncated file.
    DataQualityWarning
        NaN or infinite samples in the file.
    """
    check_option("fill_lost", fill_lost, ("none", "nan"))
    counter_modulo = check_int("counter_modulo", counter_modulo, minimum=2)
    path = Path(path)
    bf = read_bio_signals(path, on_truncated=on_truncated)
    return biofile_to_recording(
        bf, signal=signal, fill_lost=fill_lost, counter_signal=counter_signal, counter_modulo=counter_modulo, path=path
    )


def biofile_to_recording(
    bf: BioFile,
    *,
    signal: str | None = None,
    fill_lost: str = "none",
    counter_signal: str | None = "counter",
    counter_modulo: int = COUNTER_MODULO,
    path: str | Path | None = None,
) -> Recording:
    """Build the :func:`read_bio` Recording from an already parsed :class:`BioFile`."""
    src = str(path if path is not None else (bf.path or "<memory>"))
    if signal is None:
        signal = bf.emg_signal
    elif signal not in bf.headers:
        raise ValidationError(
            f"Signal {signal!r} is not in {src}; it has {', '.join(bf.headers)}.{did_you_mean(signal, bf.headers)}"
        )
    h = bf.headers[signal]
    rows = bf.signals[signal]
    data = rows.T if rows.dtype.kind == "f" else rows.T.astype(np.float64)
    data = np.ascontiguousarray(data)
    n_times = data.shape[1]
    if rows.dtype.kind == "f" and rows.size:
        n_inf = int(np.count_nonzero(np.isinf(rows)))
        if n_inf:  # NaN marks lost samples (myovox writes them); infinity is never a sample
            raise DataFormatError(
                f"{src}: signal {signal!r} holds {n_inf} infinite value(s); the file is corrupt "
                f"(wrong dtype code, channel count or sample count?)."
            )
    recovered: list[str] = []
    emg_name = signal
    if signal not in KNOWN_SIGNALS:
        near = [k for k in KNOWN_SIGNALS if _one_bit_away(signal, k)]
        if near:
            emg_name = near[0]
            recovered.append(
                f"signal name {signal!r} is one bit away from {near[0]!r} (corrupt header); read as {near[0]!r}"
            )
    if counter_signal is not None and counter_signal not in bf.signals and counter_signal != signal:
        near = [k for k in bf.signals if k != signal and _one_bit_away(k, counter_signal)]
        if len(near) == 1:
            recovered.append(
                f"signal name {near[0]!r} is one bit away from {counter_signal!r} (corrupt header); "
                f"used as the packet counter"
            )
            counter_signal = near[0]
        else:
            warnings.warn(
                f"{src}: no {counter_signal!r} signal (signals: {', '.join(bf.headers)}), so lost packets "
                "cannot be detected.",
                DataQualityWarning,
                stacklevel=3,
            )
    if recovered:
        warnings.warn(f"{src}: " + "; ".join(recovered) + ".", DataLossWarning, stacklevel=3)

    meta: dict[str, Any] = {"source": src, "layout": bf.layout, "signal": signal, "dtype_code": h.dtype_code}
    if path is not None:
        meta.update(_meta_from_path(Path(path)))
    if emg_name.lower() == "biogap":
        meta["units"] = "0.1 uV"
        meta["device"] = "BioGAP-Ultra"
    notes: list[str] = []

    # ---- packets: timestamps, triggers, counter
    ts = bf.signal_timestamps.get(signal, bf.timestamps)
    if bf.layout == "old":
        n_packets = int(bf.n_base if bf.n_base is not None else len(ts))
    else:
        n_packets = int(h.n_triggers or h.n_timestamps or 0)
    spp = h.n_samples / n_packets if n_packets else None
    spp_int = int(spp) if spp is not None and spp == int(spp) and spp >= 1 else None
    if spp_int is not None:
        meta["samples_per_packet"] = spp_int
    meta["timestamps"] = np.asarray(ts, dtype=np.float64)

    labels = None
    label_names: dict[int, str] | None = None
    trig = bf.signal_triggers.get(signal)
    if trig is not None:
        tr_labels = bf.signal_trigger_labels.get(signal)
        meta["trigger_ids"] = trig.astype(np.int64)
        if tr_labels is not None:
            meta["trigger_labels"] = list(tr_labels)
        pidx = _packet_index(n_times, h.n_samples, n_packets)
        if n_times and pidx[-1] >= trig.size:
            notes.append(f"triggers cover {trig.size} of {n_packets} packets, so labels are not given")
        elif n_packets:
            if bf.layout == "old":
                per_packet = trig.view(np.int32).astype(np.int64)
                label_names = dict(SILENTWEAR_LABELS)
            else:
                per_packet = np.where(trig == TRIGGER_NONE, 0, trig).astype(np.int64)
                label_names = {}
                for tid, lab in zip(trig.tolist(), tr_labels or [], strict=False):
                    if tid == TRIGGER_NONE:
                        continue
                    if label_names.setdefault(int(tid), lab) != lab:
                        logger.info(
                            "%s: trigger id %d has labels %r and %r; keeping the first.",
                            src,
                            tid,
                            label_names[int(tid)],
                            lab,
                        )
                label_names.setdefault(0, "rest")
            labels = per_packet[pidx]

    gaps: list[PacketGap] = []
    counter = None
    if counter_signal is not None and counter_signal in bf.signals and counter_signal != signal:
        c = bf.signals[counter_signal]
        counter = c[:, 0].astype(np.int64) if c.ndim == 2 and c.shape[1] else np.empty(0, np.int64)
        meta["counter"] = counter
        if counter.size and (counter.min() < 0 or counter.max() >= counter_modulo):
            notes.append(f"counter values outside 0..{counter_modulo - 1}, so lost packets were not checked")
        else:
            gaps = find_lost_packets(counter, counter_modulo)
            if counter.size < n_packets:
                notes.append(f"counter covers {counter.size} of {n_packets} packets")
    meta["lost_packets"] = lost_packet_records(gaps, spp_int or 1)
    meta["n_lost_packets"] = int(sum(g.n_lost for g in gaps))
    # packets whose loss could not be checked (no counter, or a truncated one)
    meta["n_packets_unchecked"] = int(
        n_packets - (counter.size if counter is not None and not any("outside" in n for n in notes) else 0)
    )

    n_bad = int(data.size - np.count_nonzero(np.isfinite(data)))

    # ---- optional NaN filling
    if gaps and fill_lost == "nan":
        if spp_int is None:
            raise DataFormatError(
                f"{src}: cannot insert samples for lost packets: {h.n_samples} samples do not split "
                f"evenly into {n_packets} packets."
            )
        data, labels, meta = _fill_lost(data, labels, meta, gaps, spp_int)

    # ---- warnings
    if gaps:
        n_lost = meta["n_lost_packets"]
        where = ", ".join(str(g.index) for g in gaps[:5]) + (", ..." if len(gaps) > 5 else "")
        act = "NaN samples inserted" if fill_lost == "nan" else "no samples inserted (fill_lost='none')"
        warnings.warn(
            f"{src}: {n_lost} packet(s) lost ({n_lost * (spp_int or 1)} samples) in "
            f"{len(gaps)} gap(s), at written packets {where}; {act}.",
            DataLossWarning,
            stacklevel=3,
        )
    if notes:
        warnings.warn(f"{src}: " + "; ".join(notes) + ".", DataLossWarning, stacklevel=3)
    if n_bad > 0:
        warnings.warn(
            f"{src}: {n_bad} NaN or infinite sample(s) in signal {signal!r}.", DataQualityWarning, stacklevel=3
        )

    return Recording(data, h.fs, None, labels, label_names if labels is not None else None, meta)


def _fill_lost(
    data: np.ndarray, labels: np.ndarray | None, meta: dict[str, Any], gaps: list[PacketGap], spp: int
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """Insert NaN samples (and counter values, interpolated timestamps) for each gap."""
    meta = dict(meta)
    n_ch, n_t = data.shape
    n_pk = -(-n_t // spp)  # written packets with at least one sample
    inner = [g for g in gaps if g.index < n_pk]
    shift = np.zeros(n_pk, dtype=np.int64)  # packets lost before each written packet
    np.add.at(shift, [g.index for g in inner], [g.n_lost for g in inner])
    shift = np.cumsum(shift)  # one pass, not one slice per gap (thousands of gaps on a long lossy file)
    new_pos = np.arange(n_pk) + shift  # position of each written packet once gaps are filled
    n_pk_new = n_pk + int(shift[-1]) if n_pk else 0
    n_new = n_t + (int(shift[-1]) * spp if n_pk else 0)
    sample_pos = (new_pos[:, None] * spp + np.arange(spp)[None, :]).reshape(-1)[:n_t]
    out = np.full((n_ch, n_new), np.nan, dtype=data.dtype)
    out[:, sample_pos] = data
    if labels is not None:
        lab = np.zeros(n_new, dtype=labels.dtype)
        lab[sample_pos] = labels
        kept = np.zeros(n_new, dtype=bool)
        kept[sample_pos] = True
        labels = lab[np.maximum.accumulate(np.where(kept, np.arange(n_new), 0))]  # carry forward
    inserted = np.ones(n_pk_new, dtype=bool)
    inserted[new_pos] = False
    miss = np.flatnonzero(inserted)
    for key in ("counter", "timestamps"):
        arr = meta.get(key)
        if arr is None or len(arr) != n_pk:
            continue
        arr = np.asarray(arr)
        new = np.empty(n_pk_new, dtype=np.float64 if key == "timestamps" else arr.dtype)
        new[new_pos] = arr
        if key == "counter":
            for g in inner:
                pos = int(new_pos[g.index])
                new[pos - g.n_lost : pos] = g.missing
        elif miss.size:
            new[miss] = np.interp(miss, new_pos, arr)
        meta[key] = new
    meta["inserted_packets"] = miss
    meta["lost_packets"] = [dict(r) for r in meta["lost_packets"]]
    for rec, g in zip(meta["lost_packets"], gaps, strict=False):
        rec["filled_sample_index_after_gap"] = int(new_pos[g.index]) * spp if g.index < n_pk else None
    return out, labels, meta


# ============================================================================ writing
def _rows_dtype_code(rows: np.ndarray) -> str:
    """Smallest exact float code for float data; the integer code for integer data."""
    if rows.dtype.kind == "f":
        if rows.dtype == np.float32:
            return "f"
        with np.errstate(over="ignore", invalid="ignore"):
            f32 = rows.astype(np.float32)
        same = np.array_equal(f32.astype(rows.dtype), rows, equal_nan=True)
        return "f" if same else "d"
    for code, dt in DTYPE_CODES.items():
        if np.dtype(dt).newbyteorder("=") == rows.dtype.newbyteorder("="):
            return code
    return "d"


def _fits(rows: np.ndarray, code: str) -> bool:
    """Whether ``rows`` survive a cast to the dtype of ``code`` unchanged."""
    dt = np.dtype(DTYPE_CODES[code])
    if dt.kind in "iub?" and rows.size and not np.all(np.isfinite(rows)):
        return False
    with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cast = rows.astype(dt)
    return bool(np.array_equal(cast.astype(rows.dtype), rows, equal_nan=dt.kind == "f"))


def recording_to_biofile(
    recording: Recording,
    *,
    samples_per_packet: int | None = None,
    counter_start: int = 0,
    counter_modulo: int = COUNTER_MODULO,
) -> BioFile:
    """Build a :class:`BioFile` (EMG signal + ``counter``) from a Recording, for writing.

    Uses ``meta['counter']``, ``meta['timestamps']``, ``meta['trigger_ids']`` and
    ``meta['trigger_labels']`` when they have one value per packet; otherwise synthesises a
    counter (``counter_start``, wrapping at ``counter_modulo``), timestamps at the packet rate
    (from ``meta['start_time']`` or 0) and triggers from ``labels`` (one per packet, which
    requires the label to be constant within each packet).
    """
    src = recording.source
    meta = recording.meta
    spp = samples_per_packet if samples_per_packet is not None else meta.get("samples_per_packet", 4)
    spp = check_int("samples_per_packet", spp, minimum=1)
    n_ch, n_t = recording.data.shape
    if n_t % spp:
        raise ValidationError(
            f"{src}: {n_t} samples are not a whole number of packets of samples_per_packet={spp}; "
            f"crop the recording or pass another samples_per_packet."
        )
    n_pk = n_t // spp
    name = str(meta.get("signal") or ("biogap" if meta.get("device") == "BioGAP-Ultra" else "emg"))
    cname = "counter" if name != "counter" else "packet_counter"
    rows = np.ascontiguousarray(recording.data.T)
    code = meta.get("dtype_code")
    if code not in DTYPE_CODES or not _fits(rows, code):  # keep the file's dtype only if lossless
        code = _rows_dtype_code(rows)
    rows = rows.astype(DTYPE_CODES[code])
    fs = float(recording.sfreq)
    fs_base = fs / spp

    counter = meta.get("counter")
    if counter is None or len(counter) != n_pk:
        counter = (check_int("counter_start", counter_start, minimum=0) + np.arange(n_pk)) % counter_modulo
    counter = np.asarray(counter, dtype=np.int32).reshape(n_pk, 1)
    ts = meta.get("timestamps")
    if ts is None or len(ts) != n_pk:
        t0 = 0.0
        if meta.get("start_time"):
            try:
                t0 = datetime.fromisoformat(str(meta["start_time"])).timestamp()
            except ValueError:
                t0 = 0.0
        ts = t0 + np.arange(n_pk) / fs_base
    ts = np.asarray(ts, dtype=np.float64)

    headers = {name: BioSignalHeader(name, fs, n_t, n_ch, code), cname: BioSignalHeader(cname, fs_base, n_pk, 1, "i")}
    layout = str(meta["layout"]) if meta.get("layout") in LAYOUTS else "old"
    bf = BioFile(layout, headers, {name: rows, cname: counter}, fs_base=fs_base, n_base=n_pk, path=src)
    bf.signal_timestamps = {name: ts, cname: ts}

    trig_ids = meta.get("trigger_ids")
    trig_labels = meta.get("trigger_labels")
    if trig_ids is not None and len(trig_ids) == n_pk:
        trig = np.asarray(trig_ids, dtype=np.int64).astype(np.uint32)
    elif recording.labels is not None:
        lab = np.asarray(recording.labels, dtype=np.int64).reshape(n_pk, spp) if n_pk else np.empty((0, spp))
        if lab.size and np.any(lab != lab[:, :1]):
            raise ValidationError(
                f"{src}: labels change inside a packet of {spp} samples; .bio files store one trigger "
                f"per packet (pass samples_per_packet=1)."
            )
        per = lab[:, 0] if n_pk else np.empty(0, np.int64)
        if per.size and (per.min() < -(2**31) or per.max() >= TRIGGER_NONE):
            raise ValidationError(f"{src}: labels must fit in a uint32 trigger below 0xFFFFFFFF.")
        trig = per.astype(np.int64).astype(np.uint32)
        trig_labels = None
    else:
        trig = None
    if trig is not None:
        bf.has_trigger = True
        if trig_labels is None or len(trig_labels) != n_pk:
            names = dict(recording.label_names or SILENTWEAR_LABELS)
            trig_labels = [names.get(int(t), str(int(t))) if t != TRIGGER_NONE else "" for t in trig.tolist()]
        bf.signal_triggers = {name: trig, cname: trig}
        bf.signal_trigger_labels = {name: list(trig_labels), cname: list(trig_labels)}
    return bf


def _encode(bf: BioFile, layout: str, src: str) -> bytes:
    out = bytearray()
    names = list(bf.headers)
    ts = np.empty(0, dtype="<f8")  # the old layout's packet timestamps, set below
    for n in names:
        if n not in bf.signals:
            raise ValidationError(f"{src}: signal {n!r} has a header but no data.")
        if not n or not n.isascii() or not n.isprintable():
            raise ValidationError(f"{src}: signal name {n!r} must be printable ASCII.")
    if layout == "old":
        ts = np.asarray(bf.timestamps, dtype="<f8")
        n_base = ts.size
        fs_base = bf.fs_base
        if fs_base is None:
            emg = bf.headers[bf.emg_signal]
            n_emg = bf.signals[emg.name].shape[0]
            fs_base = emg.fs * n_base / n_emg if n_emg and n_base else emg.fs
        for n in names:  # what the reader checks: every signal spans the same packets
            ratio = bf.headers[n].fs / fs_base
            if abs(bf.signals[n].shape[0] - n_base * ratio) > max(1.0, ratio):
                raise ValidationError(
                    f"{src}: cannot write the old layout: signal {n!r} has {bf.signals[n].shape[0]} rows at "
                    f"{bf.headers[n].fs:g} Hz for {n_base} packets at {fs_base:g} Hz (truncated data?)."
                )
        if bf.triggers is not None and len(bf.triggers) != n_base:
            raise ValidationError(
                f"{src}: cannot write the old layout: {len(bf.triggers)} triggers for {n_base} packets."
            )
        out += struct.pack("<IfI", len(names), fs_base, n_base)
    else:
        out += struct.pack("<I", len(names))
    for n in names:
        h, rows = bf.headers[n], bf.signals[n]
        nb = n.encode("ascii")
        out += struct.pack("<I", len(nb)) + nb
        out += struct.pack("<fII", h.fs, rows.shape[0], rows.shape[1] if rows.ndim == 2 else 1)
        out += h.dtype_code.encode("ascii")
        if layout == "current":
            ts_n = bf.signal_timestamps.get(n, bf.timestamps)
            tr_n = bf.signal_triggers.get(n, bf.triggers)
            out += struct.pack("<II", len(ts_n), 0 if tr_n is None else len(tr_n))
    if layout == "old":
        trig = bf.triggers
        has = trig is not None and (bf.has_trigger or len(trig) > 0)
        out += bytes([1 if has else 0])
        out += ts.tobytes()
        for n in names:
            out += np.ascontiguousarray(bf.signals[n], dtype=DTYPE_CODES[bf.headers[n].dtype_code]).tobytes()
        if has:
            trig = np.asarray(trig, dtype=np.int64)
            if bf.layout == "current":  # "init"/"finished" have no id in the old layout: rest
                trig = np.where(trig == TRIGGER_NONE, 0, trig)
            out += trig.astype("<u4").tobytes()
        return bytes(out)
    for n in names:
        out += np.ascontiguousarray(bf.signals[n], dtype=DTYPE_CODES[bf.headers[n].dtype_code]).tobytes()
        out += np.asarray(bf.signal_timestamps.get(n, bf.timestamps), dtype="<f8").tobytes()
        tr_n = bf.signal_triggers.get(n, bf.triggers)
        if tr_n is None:
            continue
        labs = bf.signal_trigger_labels.get(n, bf.trigger_labels)
        if labs is None or len(labs) != len(tr_n):
            labs = [SILENTWEAR_LABELS.get(int(t), str(int(t))) for t in np.asarray(tr_n).tolist()]
        for tid, lab in zip(np.asarray(tr_n, dtype=np.int64).tolist(), labs, strict=False):
            lb = str(lab).encode("utf-8")
            out += struct.pack("<II", tid & 0xFFFFFFFF, len(lb)) + lb
    return bytes(out)


def write_bio(
    recording: Recording | BioFile,
    path: str | Path,
    *,
    layout: str | None = None,
    overwrite: bool = False,
    samples_per_packet: int | None = None,
    counter_start: int = 0,
    counter_modulo: int = COUNTER_MODULO,
) -> Path:
    """Write a Recording or a :class:`BioFile` as a biogui ``.bio`` file.

    Parameters
    ----------
    recording : Recording | BioFile
        What to write. A Recording becomes two signals: its data (named ``meta['signal']``,
        default ``biogap`` for BioGAP-Ultra data, else ``emg``) and a ``counter``; see
        :func:`recording_to_biofile` for what is taken from ``meta`` and what is synthesised.
        ``.bio`` files have no channel names, so ``ch_names`` are not stored. The data are
        stored in ``meta['dtype_code']`` when lossless, else float32 when exact, else float64.
    path : str | Path
        Output file.
    layout : {"old", "current"} | None
        Byte layout; default the BioFile's own layout, or ``"old"`` (the SilentWear one).
    overwrite : bool
        Replace an existing file.
    samples_per_packet, counter_start, counter_modulo
        Packetisation of a Recording (default ``meta['samples_per_packet']`` or 4).

    Returns
    -------
    Path
        The written file. Reading it back gives the same data, rate, labels, timestamps,
        counter and trigger strings (rates are stored as float32). Writing current-layout
        content in the old layout stores the "init"/"finished" trigger (0xFFFFFFFF) as 0 (rest)
        and drops the trigger strings, which the old layout cannot hold.
    """
    path = Path(path)
    if layout is not None:
        check_option("layout", layout, LAYOUTS)
    if path.exists() and not overwrite:
        raise ValidationError(f"{path} exists; pass overwrite=True to replace it.")
    if isinstance(recording, BioFile):
        bf = recording
        layout = layout or bf.layout
    elif isinstance(recording, Recording):
        bf = recording_to_biofile(
            recording, samples_per_packet=samples_per_packet, counter_start=counter_start, counter_modulo=counter_modulo
        )
        layout = layout or "old"
    else:
        raise ValidationError(
            f"Invalid value for 'recording': expected a Recording or BioFile, got {type(recording).__name__}."
        )
    buf = _encode(bf, layout, str(path))
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(buf)
    tmp.replace(path)
    logger.debug("Wrote %s (%s layout, %d bytes).", path, layout, len(buf))
    return path


__all__ = [
    "DTYPE_CODES",
    "TRIGGER_NONE",
    "BioFile",
    "BioSignalHeader",
    "biofile_to_recording",
    "lost_packet_records",
    "read_bio",
    "read_bio_signals",
    "recording_to_biofile",
    "write_bio",
]

"""Fuzzing of every reader (issue 10, build item 8).

Each reader gets small valid files mutated (bytes replaced, bits flipped, 32-bit header fields
overwritten, truncated, spliced with random bytes, bytes inserted or deleted) and pure random
bytes. Allowed outcomes: a valid Recording whose data are finite (NaN only with a warning that
says so), or ``DataFormatError``/``ValidationError`` with a one-line message naming the file;
``DataLossWarning``/``DataQualityWarning`` are allowed, no other warning, no other exception,
never a hang (each read runs under a 10 s alarm). The number of cases per reader is printed at
the end of the module (``pytest -s``) and written to ``$MYOVOX_FUZZ_REPORT`` when that is set.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import struct
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myovox.exceptions import DataFormatError, DataLossWarning, DataQualityWarning, ValidationError
from myovox.recording import Recording

COUNTS: Counter = Counter()
OUTCOMES: Counter = Counter()
_FUZZ = settings(
    max_examples=int(os.environ.get("MYOVOX_FUZZ_EXAMPLES", "200")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    line = "fuzz cases per reader: " + ", ".join(f"{k}={v}" for k, v in sorted(COUNTS.items()))
    print("\n" + line + "\noutcomes: " + ", ".join(f"{k}={v}" for k, v in sorted(OUTCOMES.items())))
    out = os.environ.get("MYOVOX_FUZZ_REPORT")
    if out:
        Path(out).write_text(json.dumps({"cases": dict(COUNTS), "outcomes": dict(OUTCOMES)}, indent=1))


class _Hang(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: float):
    def on_alarm(signum, frame):
        raise _Hang(f"no result after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _check(name: str, read, path: Path) -> None:
    """Run one reader on one input and assert that the outcome is an allowed one."""
    COUNTS[name] += 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _deadline(10):
                rec = read(path)
        except (DataFormatError, ValidationError) as err:
            msg = str(err)
            assert "\n" not in msg, f"{name}: multi-line error {msg!r}"
            assert path.name in msg, f"{name}: error does not name the file: {msg!r}"
            OUTCOMES[f"{name}:error"] += 1
            return
        except FileNotFoundError:  # a reader may refuse a sibling it needs; never raised for these inputs
            raise
    others = [w for w in caught if not issubclass(w.category, (DataLossWarning, DataQualityWarning))]
    assert not others, f"{name}: unexpected warning {others[0].category.__name__}: {others[0].message}"
    assert isinstance(rec, Recording)
    bad = rec.n_nonfinite()
    if bad:
        said = [w for w in caught if "NaN" in str(w.message) or "lost" in str(w.message)]
        assert said, f"{name}: {bad} non-finite sample(s) without a warning"
        OUTCOMES[f"{name}:ok-with-NaN-warned"] += 1
    else:
        OUTCOMES[f"{name}:ok"] += 1
    if rec.labels is not None:
        assert rec.labels.shape == (rec.n_times,)


@st.composite
def _mutated(draw, valid: bytes, hot: int = 512):
    """A mutation of ``valid``; positions favour the first ``hot`` bytes (headers)."""
    buf = bytearray(valid)

    def pos(extra: int = 0) -> int:
        n = len(buf) + extra
        if n <= 0:
            return 0
        return draw(st.one_of(st.integers(0, max(0, min(hot, n) - 1)), st.integers(0, n - 1)))

    kind = draw(st.sampled_from(["bytes", "bits", "u32", "truncate", "splice", "insert", "delete", "random"]))
    if kind == "bytes" and buf:
        for _ in range(draw(st.integers(1, 8))):
            buf[pos()] = draw(st.integers(0, 255))
    elif kind == "bits" and buf:
        for _ in range(draw(st.integers(1, 4))):
            buf[pos()] ^= 1 << draw(st.integers(0, 7))
    elif kind == "u32" and len(buf) >= 4:
        i = min(pos(), len(buf) - 4)
        value = draw(st.sampled_from([0, 1, 2**31, 2**32 - 1, 0x7FFFFFFF]) | st.integers(0, 2**32 - 1))
        struct.pack_into("<I", buf, i, value)
    elif kind == "truncate":
        buf = buf[: draw(st.integers(0, len(buf)))]
    elif kind == "splice":
        buf = buf[: pos()] + draw(st.binary(max_size=300))
    elif kind == "insert":
        i = pos(1)
        buf = buf[:i] + draw(st.binary(min_size=1, max_size=16)) + buf[i:]
    elif kind == "delete" and buf:
        i = pos()
        buf = buf[:i] + buf[i + draw(st.integers(1, 16)) :]
    else:
        buf = bytearray(draw(st.binary(max_size=600)))
    return bytes(buf)


# ---------------------------------------------------------------------------- valid small files
def _recording(n_ch: int = 3, n_pk: int = 12) -> Recording:
    rng = np.random.default_rng(5)
    counter = np.arange(n_pk)
    counter[n_pk // 2 :] += 1  # one lost packet
    labels = np.repeat(rng.integers(0, 4, n_pk), 4)
    return Recording(
        rng.normal(0, 50, (n_ch, 4 * n_pk)).astype(np.float32),
        500.0,
        labels=labels,
        meta={"counter": counter % 256, "subject": "S01", "session": 1},
    )


def _read_quiet(read, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, bytes]:
    from myovox.io.bio import read_bio, write_bio
    from myovox.io.csv import write_csv
    from myovox.io.edf import write_edf
    from myovox.io.npz import write_npz
    from myovox.io.silentwear_h5 import write_h5

    d = tmp_path_factory.mktemp("fuzz_valid")
    rec = _recording()
    out = {}
    for lay in ("old", "current"):
        out[f"bio_{lay}"] = write_bio(rec, d / f"v_{lay}.bio", layout=lay).read_bytes()
    full = _read_quiet(read_bio, d / "v_old.bio")  # with lost-packet records and per-packet arrays
    out["h5"] = write_h5(full, d / "v.h5").read_bytes()
    out["csv"] = write_csv(full, d / "v.csv").read_bytes()
    out["csv_sidecar"] = (d / "v.json").read_bytes()
    out["csv_gz"] = write_csv(full, d / "w.csv.gz").read_bytes()
    out["edf"] = write_edf(full.copy(meta={"subject": "S01"}), d / "v.edf").read_bytes()
    out["bdf"] = write_edf(full.copy(meta={"subject": "S01"}), d / "v.bdf").read_bytes()
    out["npz"] = write_npz(full, d / "v.npz").read_bytes()
    out["xdf"] = _xdf_bytes()
    return out


def test_mutated_upstream_h5_fixture(silentwear_fixtures, tmp_path):
    """SilentWear's own processed file (no myovox group): its pickled Label_str block is never loaded."""
    from myovox.io.silentwear_h5 import read_silentwear_h5

    src = silentwear_fixtures / "data_raw_and_filt/S01/vocalized/sess_1_batch_1.h5"
    if not src.exists():
        pytest.skip(f"fixture {src} is absent")
    path = tmp_path / "sess_1_batch_1.h5"

    @settings(_FUZZ, max_examples=max(20, _FUZZ.max_examples // 2))
    @given(buf=_mutated(src.read_bytes(), 4096))
    def run(buf):
        path.write_bytes(buf)
        _check("h5_upstream", read_silentwear_h5, path)

    run()


def _xdf_bytes() -> bytes:
    def chunk(tag: int, content: bytes) -> bytes:
        body = struct.pack("<H", tag) + content
        return struct.pack("<BI", 4, len(body)) + body

    def header(sid: int, name: str, typ: str, n_ch: int, srate: float, fmt: str) -> bytes:
        xml = (
            f'<?xml version="1.0"?><info><name>{name}</name><type>{typ}</type>'
            f"<channel_count>{n_ch}</channel_count><nominal_srate>{srate}</nominal_srate>"
            f"<channel_format>{fmt}</channel_format><source_id>{name}-1</source_id></info>"
        )
        return chunk(2, struct.pack("<I", sid) + xml.encode())

    ts = 100.0 + np.arange(40) / 500.0
    x = np.random.default_rng(1).normal(size=(40, 2)).astype("<f4")
    samples = struct.pack("<I", 1) + struct.pack("<BB", 1, len(ts))
    for t, row in zip(ts, x, strict=False):
        samples += struct.pack("<Bd", 8, t) + row.tobytes()
    marks = struct.pack("<I", 2) + struct.pack("<BB", 1, 2)
    for t, v in ((100.01, b"up"), (100.05, b"rest")):
        marks += struct.pack("<Bd", 8, t) + struct.pack("<BB", 1, len(v)) + v
    return (
        b"XDF:"
        + chunk(1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
        + header(1, "EMG", "EMG", 2, 500.0, "float32")
        + header(2, "Cues", "Markers", 1, 0, "string")
        + chunk(3, samples)
        + chunk(3, marks)
    )


def _reader(name: str):
    from myovox.io.bio import read_bio
    from myovox.io.csv import read_csv
    from myovox.io.edf import read_edf
    from myovox.io.npz import read_npz
    from myovox.io.silentwear_h5 import read_silentwear_h5
    from myovox.io.xdf import read_xdf

    return {
        "bio_old": read_bio,
        "bio_current": read_bio,
        "h5": read_silentwear_h5,
        "csv": read_csv,
        "csv_gz": read_csv,
        "edf": read_edf,
        "bdf": read_edf,
        "npz": read_npz,
        "xdf": read_xdf,
    }[name]


_ENDING = {
    "bio_old": ".bio",
    "bio_current": ".bio",
    "h5": ".h5",
    "csv": ".csv",
    "csv_gz": ".csv.gz",
    "edf": ".edf",
    "bdf": ".bdf",
    "npz": ".npz",
    "xdf": ".xdf",
}
READERS = list(_ENDING)


def _valid_reads_back(files, tmp_path):
    for name in READERS:
        p = tmp_path / f"ok{_ENDING[name]}"
        p.write_bytes(files[name])
        rec = _read_quiet(_reader(name), p)
        assert rec.n_times > 0 and np.all(np.isfinite(rec.data))


def test_valid_inputs_read(files, tmp_path):
    _valid_reads_back(files, tmp_path)


# ---------------------------------------------------------------------------- the fuzzers
@pytest.mark.parametrize("name", READERS)
def test_mutated_files(files, tmp_path, name):
    read = _reader(name)
    path = tmp_path / f"m{_ENDING[name]}"
    hot = 4096 if name == "h5" else 512

    @_FUZZ
    @given(buf=_mutated(files[name], hot))
    def run(buf):
        path.write_bytes(buf)
        _check(name, read, path)

    run()


@pytest.mark.parametrize("name", READERS)
def test_random_bytes(tmp_path, name):
    read = _reader(name)
    path = tmp_path / f"r{_ENDING[name]}"
    magic = {
        "h5": b"\x89HDF\r\n\x1a\n",
        "xdf": b"XDF:",
        "npz": b"PK\x03\x04",
        "edf": b"0       ",
        "bdf": b"\xffBIOSEMI",
    }.get(name, b"")

    @settings(_FUZZ, max_examples=max(20, _FUZZ.max_examples // 3))
    @given(buf=st.binary(max_size=700), with_magic=st.booleans())
    def run(buf, with_magic):
        data = (magic + buf) if with_magic else buf
        if name == "csv_gz" and with_magic:
            data = gzip.compress(buf)
        path.write_bytes(data)
        _check(name + "_random", read, path)

    run()


def test_mutated_csv_sidecar(files, tmp_path):
    """The JSON sidecar next to a CSV is input too: a broken one is an error, never a traceback."""
    from myovox.io.csv import read_csv

    (tmp_path / "s.csv").write_bytes(files["csv"])
    side = tmp_path / "s.json"

    @_FUZZ
    @given(buf=_mutated(files["csv_sidecar"], 256))
    def run(buf):
        side.write_bytes(buf)
        _check("csv_sidecar", read_csv, tmp_path / "s.csv")

    run()


def test_biogap_packet_decoder(files):
    """Random and mutated byte streams fed in random chunks: samples are finite, errors documented."""
    from myovox.io.biogap import PACKET_SIZE, PacketDecoder, decode_packets, encode_packets

    rng = np.random.default_rng(0)
    valid = encode_packets(rng.normal(0, 1000, (4 * 6, 16)), counter_start=250)

    @_FUZZ
    @given(buf=_mutated(valid, PACKET_SIZE * 2), cuts=st.lists(st.integers(0, 2000), max_size=6), scale=st.booleans())
    def run(buf, cuts, scale):
        COUNTS["biogap_packets"] += 1
        dec = PacketDecoder(scale=scale)
        bounds = sorted({min(c, len(buf)) for c in cuts}) + [len(buf)]
        start, n_samples = 0, 0
        with _deadline(10):
            for b in bounds:
                out = dec.feed(buf[start:b])
                start = b
                assert out.samples.shape == (4 * out.n_packets, 16)
                assert np.all(np.isfinite(out.samples))
                n_samples += out.samples.shape[0]
                assert all(g.n_lost >= 1 for g in out.gaps)
        assert dec.n_packets == len(buf) // PACKET_SIZE and dec.pending == len(buf) % PACKET_SIZE
        assert n_samples == 4 * dec.n_packets
        try:
            samples, counters = decode_packets(buf, scale=scale)
        except DataFormatError as err:
            assert "\n" not in str(err) and len(buf) % PACKET_SIZE
            OUTCOMES["biogap_packets:error"] += 1
        else:
            assert np.all(np.isfinite(samples)) and counters.size == len(buf) // PACKET_SIZE
            OUTCOMES["biogap_packets:ok"] += 1

    run()

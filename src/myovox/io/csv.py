"""Generic delimited-text recordings (``.csv``, ``.csv.gz``, ``.txt``): one row per sample.

The reader copes with what exported EMG tables look like in practice: a header or none,
comment lines (``#`` or ``%``), a time column in seconds or milliseconds, an integer or string
label column, and broken rows. Rows with the wrong number of fields are skipped and reported
in a :class:`~myovox.DataLossWarning` naming the file and line numbers; cells that are not
numbers become NaN and are reported in a :class:`~myovox.DataQualityWarning`. Nothing is
dropped silently.

It also holds the one comma-separated table parser of myovox (:func:`read_table`, used by the
dataset adapters for their large plain tables): numpy's or pandas' C reader in one call for a
well-formed file, a row-by-row path only for a file that needs repair. Both readers skip bad rows
by one policy (:func:`_split_rows`) and report them by one message (:func:`_report_skipped`):
how many of how many rows, the expected field count and the first line numbers, as a
``DataLossWarning`` and a log line.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import warnings
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_positive, did_you_mean
from .._logging import logger
from ..exceptions import DataFormatError, DataLossWarning, DataQualityWarning, ValidationError
from ..recording import SILENTWEAR_LABELS, Recording
from ._lossless import meta_from_json, meta_to_json

_TIME_NAMES = (
    "time",
    "times",
    "time_s",
    "time_ms",
    "timestamp",
    "timestamps",
    "t",
    "time (s)",
    "time (ms)",
    "time[s]",
    "time[ms]",
    "seconds",
    "ms",
    "sec",
)
_LABEL_NAMES = ("label", "labels", "label_int", "class", "target", "y", "label_str", "marker", "markers")
_LABEL_NAME_COLUMNS = ("label_name", "label_str", "label_names")
_DELIMITERS = (",", ";", "\t", "|", " ")
#: columns that are never EMG: lost-sample flags and packet counters/triggers (kept in ``meta``)
_LOST_NAMES = ("lost", "lost_samples", "missing", "n_lost")
_PACKET_NAMES = ("counter", "packet_counter", "trigger", "trigger_id", "trigger_ids", "triggers")
SIDECAR_FORMAT = "myovox-recording"
_SIDECAR_FORMATS = (SIDECAR_FORMAT, "myovox-guided-recording")


def sidecar_path(path: str | Path) -> Path:
    """The JSON sidecar next to a CSV: ``x.csv`` / ``x.csv.gz`` -> ``x.json``."""
    path = Path(path)
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return path.with_name(stem + ".json")


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        info = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        warnings.warn(
            DataLossWarning(
                f"{path}: its sidecar {side.name} is not readable JSON ({type(err).__name__}); "
                "read without it (sampling rate, label names and metadata such as lost "
                "packets not applied)."
            ),
            stacklevel=3,
        )
        return None
    if not isinstance(info, dict) or info.get("format") not in _SIDECAR_FORMATS:
        return None  # someone else's JSON
    try:
        out: dict[str, Any] = {"format": info["format"]}
        if info.get("sfreq") is not None:
            out["sfreq"] = check_positive("sfreq", float(info["sfreq"]), "sampling rate in Hz")
        out["label_names"] = {int(k): str(v) for k, v in (info.get("label_names") or {}).items()} or None
        out["meta"] = meta_from_json(info.get("meta") or {})
        out["labelled"] = info.get("labelled")
        out["dtype"] = info.get("dtype") if info.get("dtype") in ("float32", "float16") else None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as err:
        raise DataFormatError(
            f"{path}: its sidecar {side.name} is malformed ({type(err).__name__}: {' '.join(str(err).split())[:120]})."
        ) from None
    return out


_MAX_LISTED = 10


# ---------------------------------------------------------------------------- bad rows: one policy
def _split_rows(rows: Iterable[tuple[int, str]], n_fields: int, split: Any) -> tuple[list[list[str]], list[int]]:
    """Split numbered lines into fields; keep rows with ``n_fields`` fields (a trailing empty field
    from a trailing delimiter is dropped), return (kept rows, line numbers of the skipped ones)."""
    good: list[list[str]] = []
    bad_lines: list[int] = []
    for lineno, ln in rows:
        fields = split(ln)
        if len(fields) == n_fields + 1 and fields[-1] == "":  # trailing delimiter
            fields = fields[:-1]
        if len(fields) != n_fields:
            bad_lines.append(lineno)
            continue
        good.append(fields)
    return good, bad_lines


def _report_skipped(path: Path, bad_lines: Sequence[int], n_read: int, n_fields: int, stacklevel: int = 3) -> None:
    """The one message for skipped rows: count, rows read, expected fields, first line numbers."""
    if not len(bad_lines):
        return
    shown = ", ".join(str(int(n)) for n in bad_lines[:_MAX_LISTED]) + (" ..." if len(bad_lines) > _MAX_LISTED else "")
    msg = (
        f"{path}: skipped {len(bad_lines)} malformed row(s) of {n_read} (expected {n_fields} fields) at "
        f"line(s) {shown}."
    )
    logger.warning(msg)
    warnings.warn(msg, DataLossWarning, stacklevel=stacklevel + 1)


def _open_text(path: Path) -> Any:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sniff_delimiter(lines: Sequence[str]) -> str:
    """The delimiter that splits the sample lines into the same (largest) number of fields."""
    best, best_score = ",", (0, 0)
    for d in _DELIMITERS:
        counts = [len(ln.split()) if d == " " else ln.count(d) + 1 for ln in lines]
        if not counts or max(counts) < 2:
            continue
        mode = max(set(counts), key=counts.count)
        score = (counts.count(mode), mode)
        if mode > 1 and score > best_score:
            best, best_score = d, score
    return best


def _split(line: str, delimiter: str) -> list[str]:
    parts = line.split() if delimiter == " " else line.split(delimiter)
    return [p.strip().strip('"').strip("'").strip() for p in parts]


def _resolve(name: str, which: Any, columns: list[str], path: Path) -> int:
    if isinstance(which, (int, np.integer)) and not isinstance(which, bool):
        if not -len(columns) <= which < len(columns):
            raise ValidationError(
                f"Invalid value for {name!r}: column {which} does not exist in {path} ({len(columns)} columns)."
            )
        return int(which) % len(columns)
    if which in columns:
        return columns.index(which)
    low = [c.lower() for c in columns]
    if str(which).lower() in low:
        return low.index(str(which).lower())
    raise ValidationError(
        f"Invalid value for {name!r}: no column {which!r} in {path}; columns are "
        f"{', '.join(columns)}.{did_you_mean(str(which), columns)}"
    )


def _auto(columns: list[str], names: Sequence[str]) -> int | None:
    low = [c.lower().strip() for c in columns]
    for n in names:
        if n in low:
            return low.index(n)
    return None


def _time_scale(name: str, step: float) -> tuple[float, str]:
    """Seconds per time-column unit, from the column name or (failing that) the step size."""
    tokens = set(re.split(r"[^a-z]+", name.lower()))
    if tokens & {"ms", "msec", "millis", "milliseconds", "millisecond"}:
        return 1e-3, "milliseconds (column name)"
    if tokens & {"us", "usec", "micros", "microseconds"}:
        return 1e-6, "microseconds (column name)"
    if tokens & {"s", "sec", "secs", "seconds", "second"}:
        return 1.0, "seconds (column name)"
    # EMG is sampled at >= 100 Hz: a step above 50 ms would be < 20 Hz, so it must be milliseconds
    if step > 0.05:
        return 1e-3, f"milliseconds (inferred from a step of {step:.4g})"
    return 1.0, f"seconds (inferred from a step of {step:.4g})"


def _tidy_rate(rate: float) -> float:
    near = round(rate)
    return float(near) if near > 0 and abs(rate - near) <= 1e-6 * rate else float(rate)


def _labels_from_strings(values: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    uniq = sorted({str(v) for v in values})
    by_name = {v: k for k, v in SILENTWEAR_LABELS.items()}
    if all(u in by_name for u in uniq):
        mapping = {u: by_name[u] for u in uniq}
    else:
        rest = [u for u in uniq if u.lower() in ("rest", "", "none", "nan")]
        others = [u for u in uniq if u not in rest]
        mapping = dict.fromkeys(rest, 0)
        start = 1 if rest else 0
        mapping.update({u: start + i for i, u in enumerate(others)})
    labels = np.array([mapping[str(v)] for v in values], dtype=np.int64)
    names = {i: u for u, i in mapping.items()}
    if 0 in names and names[0] in ("", "nan", "none"):
        names[0] = "rest"
    return labels, names


def read_csv(
    path: str | Path,
    *,
    sfreq: float | None = None,
    time_column: str | int | None = None,
    label_column: str | int | None = None,
    channels: Sequence[str | int] | None = None,
    delimiter: str | None = None,
) -> Recording:
    """Read a delimited text file with one sample per row.

    Parameters
    ----------
    path : path-like
        ``.csv``, ``.csv.gz``, ``.txt`` (gzip when the name ends in ``.gz``).
    sfreq : float | None
        Sampling rate in Hz; inferred from the time column when None.
    time_column, label_column : str | int | None
        Column name or index. When None, columns named like ``time``/``timestamp``/``time_ms``
        and ``label``/``class``/``Label_int`` are used if present. A time column in
        milliseconds is recognised by its name (``ms``) or, failing that, a step > 50 ms.
        String labels are mapped to integers (SilentWear ids when all names are SilentWear
        words, else ``rest`` -> 0 and the others in sorted order) and named in
        ``label_names``; a ``label_name`` column next to an integer label column names them.
    channels : sequence of str | int | None
        Channels to keep (names or indices of columns), in that order; default every other column.
    delimiter : str | None
        Field separator; sniffed from the first lines when None.

    Returns
    -------
    Recording
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    if sfreq is not None:
        sfreq = check_positive("sfreq", sfreq, "sampling rate in Hz")
    try:
        with _open_text(path) as fh:
            text = fh.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DataFormatError(f"{path}: cannot read ({type(err).__name__}: {' '.join(str(err).split())}).") from None
    if "\x00" in text:
        raise DataFormatError(f"{path}: holds NUL bytes; not a text (CSV) file.")
    side = _read_sidecar(path)
    if sfreq is None and side is not None and side.get("sfreq"):
        sfreq = side["sfreq"]
    lines = text.splitlines()
    # (1-based line number, text) of the non-empty, non-comment lines
    body = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip() and ln.lstrip()[0] not in "#%"]
    if not body:
        raise DataFormatError(f"{path}: no data rows.")
    if delimiter is None:
        delimiter = _sniff_delimiter([ln for _, ln in body[:50]])
    first = _split(body[0][1], delimiter)
    # a header row has text where the next row has numbers (or is text only)
    second = _split(body[1][1], delimiter) if len(body) > 1 else []
    has_header = all(not _is_number(f) for f in first) or any(
        not _is_number(a) and _is_number(b) for a, b in zip(first, second, strict=False)
    )
    if has_header:
        columns = [c or f"col_{i}" for i, c in enumerate(first)]
        rows = body[1:]
    else:
        columns = [f"col_{i}" for i in range(len(first))]
        rows = body
    n_fields = len(columns)
    if n_fields < 1:
        raise DataFormatError(f"{path}: no columns.")

    # rows with the wrong number of fields are skipped and reported by line number
    good, bad_lines = _split_rows(rows, n_fields, lambda ln: _split(ln, delimiter))
    _report_skipped(path, bad_lines, len(rows), n_fields, stacklevel=2)
    if not good:
        raise DataFormatError(f"{path}: no well-formed data rows (expected {n_fields} fields per row).")
    table = np.array(good, dtype=object)

    tcol = (
        _resolve("time_column", time_column, columns, path)
        if time_column is not None
        else (_auto(columns, _TIME_NAMES) if has_header else None)
    )
    lcol = (
        _resolve("label_column", label_column, columns, path)
        if label_column is not None
        else (_auto(columns, _LABEL_NAMES) if has_header else None)
    )
    ncol = _auto(columns, _LABEL_NAME_COLUMNS) if has_header and lcol is not None else None
    if ncol == lcol:
        ncol = None
    used = {c for c in (tcol, lcol, ncol) if c is not None}
    lost_col = None
    packet_cols: list[int] = []
    if channels is None and has_header:  # never read a lost flag, counter or trigger as EMG
        low = [c.lower().strip() for c in columns]
        for i, c in enumerate(low):
            if i in used:
                continue
            if c in _LOST_NAMES and lost_col is None:
                lost_col = i
            elif c in _PACKET_NAMES:
                packet_cols.append(i)
        used |= set(packet_cols) | ({lost_col} if lost_col is not None else set())
    if channels is None:
        ch_idx = [i for i in range(n_fields) if i not in used]
    else:
        ch_idx = [_resolve("channels", c, columns, path) for c in channels]
    if not ch_idx:
        raise DataFormatError(f"{path}: no channel columns left besides time/label columns.")

    def numeric(col: int) -> tuple[np.ndarray, int]:
        out = np.empty(len(table), dtype=np.float64)
        bad = 0
        for k, v in enumerate(table[:, col]):
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = np.nan
                bad += 1
        return out, bad

    data = np.empty((len(ch_idx), len(table)), dtype=np.float64)
    n_text = 0
    for r, ci in enumerate(ch_idx):
        try:
            data[r] = table[:, ci].astype(np.float64)
        except ValueError:
            data[r], bad = numeric(ci)
            n_text += bad
    n_nonfinite = int(data.size - np.count_nonzero(np.isfinite(data)))
    if n_nonfinite:
        why = f", {n_text} of them non-numeric text" if n_text else ""
        warnings.warn(
            DataQualityWarning(f"{path}: {n_nonfinite} NaN or infinite value(s) in the channel columns{why}."),
            stacklevel=2,
        )

    meta: dict[str, Any] = dict(side["meta"]) if side is not None else {}
    meta["source"] = str(path)
    if lost_col is not None:
        flags, _ = numeric(lost_col)
        lost = np.nan_to_num(flags, nan=0.0) != 0
        meta["lost_samples"] = lost
        meta["n_lost_samples"] = int(lost.sum())
        if lost.any():
            data[:, lost] = np.nan
            warnings.warn(
                DataLossWarning(
                    f"{path}: {int(lost.sum())} sample(s) flagged lost in column {columns[lost_col]!r}; they are NaN."
                ),
                stacklevel=2,
            )
    for ci in packet_cols:
        meta[f"column_{columns[ci].strip().lower()}"] = numeric(ci)[0]
    if tcol is not None:
        t, _bad_t = numeric(tcol)
        finite = t[np.isfinite(t)]
        steps = np.diff(finite)
        if len(steps) and np.median(steps) > 0:
            scale, how = _time_scale(columns[tcol], float(np.median(steps)))
            if sfreq is None:
                sfreq = _tidy_rate(1.0 / (float(np.median(steps)) * scale))
                logger.info("%s: sampling rate %g Hz from column %r read as %s", path, sfreq, columns[tcol], how)
            if side is None or "start_time" not in side["meta"]:  # the sidecar's (a date) is kept
                meta["start_time"] = float(finite[0] * scale)
            jitter = np.abs(steps * scale * sfreq - 1.0)
            n_gaps = int(np.count_nonzero(steps * scale * sfreq > 1.5))
            if n_gaps:
                warnings.warn(
                    DataLossWarning(
                        f"{path}: the time column jumps by more than 1.5 samples at {n_gaps} place(s); "
                        "samples may be missing."
                    ),
                    stacklevel=2,
                )
            elif np.any(jitter > 0.5):
                logger.info("%s: irregular time steps (max deviation %.2f samples)", path, float(jitter.max()))
    if sfreq is None:
        raise ValidationError(f"{path}: no time column to infer the sampling rate from; pass sfreq= (or time_column=).")

    labels = label_names = None
    if lcol is not None:
        raw = table[:, lcol]
        try:
            vals = raw.astype(np.float64)
        except ValueError:
            labels, label_names = _labels_from_strings(raw)
        else:
            missing = ~np.isfinite(vals)
            if missing.any():
                warnings.warn(
                    DataQualityWarning(
                        f"{path}: {int(missing.sum())} empty or non-finite label(s) in column "
                        f"{columns[lcol]!r}; set to 0."
                    ),
                    stacklevel=2,
                )
                vals = np.where(missing, 0, vals)
            if np.any(vals != np.round(vals)):
                raise DataFormatError(f"{path}: label column {columns[lcol]!r} holds non-integer numbers.")
            labels = vals.astype(np.int64)
            if ncol is not None:
                label_names = dict(SILENTWEAR_LABELS)
                for k, v in zip(labels, table[:, ncol], strict=False):
                    label_names[int(k)] = str(v)

    if side is not None:
        if side.get("dtype"):  # the writer's dtype, when the values are exactly that (float32 EMG)
            narrow = data.astype(side["dtype"])
            if np.array_equal(narrow.astype(np.float64), data, equal_nan=True):
                data = narrow
        if side.get("label_names"):
            label_names = side["label_names"]
        if side.get("labelled") is False and labels is not None and not np.any(labels):
            labels = label_names = None
    names = [columns[i] for i in ch_idx]
    if len(set(names)) != len(names):
        names = [f"{n}_{i}" for i, n in zip(ch_idx, names, strict=False)]
    try:
        return Recording(data, sfreq, names, labels, label_names, meta)
    except ValidationError as err:
        raise DataFormatError(f"{path}: {err}") from None


# ---------------------------------------------------------------------------- the table parser
_NL, _CR, _COMMA = 10, 13, 44


@dataclass
class Table:
    """Parsed rows of one file: ``numbers`` (n_rows, n_numeric) float, ``text`` (n_rows, n_text) str objects."""

    header: list[str]
    numbers: np.ndarray
    text: np.ndarray
    n_rows_read: int
    n_rows_skipped: int
    n_nan: int


def read_bytes(path: Path) -> bytes:
    """Whole file as bytes, decompressing ``.gz``; ``DataFormatError`` for a broken archive."""
    try:
        raw = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise DataFormatError(f"{path}: cannot read the file ({err}).") from err
    return raw


def _lines(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Start, span (bytes incl. newline), content length and field count of every line."""
    ends = np.flatnonzero(buf == _NL)
    if buf.size and buf[-1] != _NL:
        ends = np.append(ends, buf.size)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    span = np.concatenate([starts[1:], [buf.size]]) - starts
    commas = np.flatnonzero(buf == _COMMA)
    n_fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    length = ends - starts
    has_cr = (length > 0) & (buf[np.maximum(ends - 1, 0)] == _CR)
    return starts, span, length - has_cr, n_fields


def _parse_slow(
    body: bytes, n_fields: int, numeric: Sequence[int], text: Sequence[int], line_numbers: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Row-by-row parse of a file that the C reader refused: rows with the wrong field count or a
    token that is not a number are dropped; returns (numbers, text, line numbers dropped)."""
    nums: list[list[float]] = []
    texts: list[list[str]] = []
    lines = body.decode("utf-8", errors="replace").split("\n")  # as _lines splits them: line numbers stay right
    if lines and lines[-1] == "":
        lines.pop()
    rows, bad = _split_rows(zip(line_numbers, lines, strict=False), n_fields, lambda ln: ln.rstrip("\r").split(","))
    dropped = set(bad)
    kept = [n for n in line_numbers if n not in dropped]
    for lineno, fields in zip(kept, rows, strict=False):
        try:
            row = [float(fields[i]) if fields[i].strip() else np.nan for i in numeric]
        except ValueError:
            bad.append(lineno)
            continue
        nums.append(row)
        texts.append([fields[i].strip() for i in text])
    numbers = np.array(nums, dtype=np.float64).reshape(len(nums), len(numeric))
    strs = np.empty((len(texts), len(text)), dtype=object)
    if texts:
        strs[:] = texts
    return numbers, strs, sorted(bad)


def read_table(
    path: Path,
    *,
    header: bool,
    numeric: Sequence[int] | None = None,
    text: Sequence[int] = (),
    n_fields: int | None = None,
    raw: bytes | None = None,
) -> Table:
    """Read a comma-separated table, skipping, counting and reporting malformed rows.

    The parser of the dataset adapters' large tables. A row is malformed when it has the wrong
    number of fields or a numeric column holds a token that is not a number (an empty or ``nan``
    value is kept as NaN and reported with a ``DataQualityWarning``).

    Parameters
    ----------
    path : Path
        The file (``.gz`` is decompressed); named in every message.
    header : bool
        Whether the first line holds column names (it then fixes the number of fields).
    numeric : sequence of int | None
        Columns parsed as float (default: all columns not in ``text``).
    text : sequence of int
        Columns kept as strings.
    n_fields : int | None
        Fields per row for a file without header; default the most common count. A file whose
        most common count differs from ``n_fields`` raises ``DataFormatError``.
    raw : bytes | None
        The file's bytes if already read.
    """
    if raw is None:
        raw = read_bytes(path)
    if raw.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark
        raw = raw[3:]
    names: list[str] = []
    width = 0
    if header:
        head, _, raw = raw.partition(b"\n")
        names = [c.strip() for c in head.decode("utf-8", errors="replace").strip().split(",")]
        if not head.strip():
            raise DataFormatError(f"{path}: the file is empty (no header line).")
        width = len(names)
    buf = np.frombuffer(raw, dtype=np.uint8)
    _starts, span, length, fields = _lines(buf)
    blank = length == 0
    if not header:
        counts = np.bincount(fields[~blank]) if np.any(~blank) else np.zeros(1, int)
        modal = int(np.argmax(counts)) if counts.sum() else 0
        width = modal if n_fields is None else n_fields
        if n_fields is not None and counts.sum() and modal != n_fields:
            raise DataFormatError(f"{path}: rows have {modal} columns, expected {n_fields}.")
    good = ~blank & (fields == width)
    n_read = int(np.count_nonzero(~blank))
    first_line = 2 if header else 1  # file line number of the body's first line
    bad_lines = (np.flatnonzero(~blank & ~good) + first_line).tolist()
    if not np.any(good):
        raise DataFormatError(f"{path}: no data rows with {width} columns (found {n_read} rows).")
    body = raw if not np.any(~good) else buf[np.repeat(good, span)].tobytes()
    text = list(text)
    numeric = [i for i in range(width) if i not in text] if numeric is None else list(numeric)
    try:
        if len(body) > _PANDAS_FROM:
            numbers, strs = _parse_pandas(body, width, numeric, text)
        else:
            numbers, strs = _parse_numpy(body, numeric, text)
    except ValueError:
        numbers, strs, extra = _parse_slow(body, width, numeric, text, (np.flatnonzero(good) + first_line).tolist())
        bad_lines = sorted(bad_lines + extra)
        if len(numbers) == 0:
            raise DataFormatError(f"{path}: no row could be parsed as numbers.") from None
    n_bad = len(bad_lines)
    _report_skipped(path, bad_lines, n_read, width, stacklevel=3)
    n_nan = int(numbers.size - np.count_nonzero(np.isfinite(numbers)))
    if n_nan:
        msg = f"{path}: {n_nan} NaN/infinite value(s) kept as they are."
        logger.warning(msg)
        warnings.warn(msg, DataQualityWarning, stacklevel=3)
    return Table(names, numbers, strs, n_read, n_bad, n_nan)


#: bodies larger than this go through pandas' C parser (about 2x faster than numpy's on floats)
_PANDAS_FROM = 1 << 20


def _parse_pandas(body: bytes, width: int, numeric: list[int], text: list[int]) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    df = pd.read_csv(
        io.BytesIO(body),
        header=None,
        names=list(range(width)),
        usecols=sorted(set(numeric) | set(text)),
        dtype=dict.fromkeys(text, object),
        engine="c",
        keep_default_na=False,
        na_values=["", "nan", "NaN", "NAN"],
    )
    num = df[numeric]
    if not all(pd.api.types.is_numeric_dtype(t) for t in num.dtypes):
        raise ValueError("non-numeric token")
    return num.to_numpy(np.float64), df[text].to_numpy(object)


def _parse_numpy(body: bytes, numeric: list[int], text: list[int]) -> tuple[np.ndarray, np.ndarray]:
    numbers = np.loadtxt(io.BytesIO(body), delimiter=",", usecols=numeric, dtype=np.float64, ndmin=2, comments=None)
    # dtype=object is ~20x faster than dtype=str in numpy's reader
    strs = (
        np.loadtxt(
            io.BytesIO(body), delimiter=",", usecols=text, dtype=object, ndmin=2, comments=None, encoding="utf-8"
        )
        if text
        else np.empty((len(numbers), 0), dtype=object)
    )
    return numbers, strs


def factorize(column: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Distinct stripped strings of a text column and each row's index into them.

    Works on the runs of equal values first, so long label columns are cheap.
    """
    col = np.asarray(column, dtype=object).ravel()
    if col.size == 0:
        return [], np.zeros(0, dtype=np.int64)
    change = np.flatnonzero(col[1:] != col[:-1]) + 1
    starts = np.concatenate([[0], change])
    run_vals = [str(v).strip() for v in col[starts]]
    uniq = sorted(set(run_vals))
    pos = {u: i for i, u in enumerate(uniq)}
    run_codes = np.array([pos[v] for v in run_vals], dtype=np.int64)
    return uniq, np.repeat(run_codes, np.diff(np.concatenate([starts, [col.size]])))


def write_csv(
    recording: Recording,
    path: str | Path,
    *,
    overwrite: bool = False,
    delimiter: str = ",",
    time_column: str | None = "time_s",
    sidecar: bool = True,
) -> Path:
    """Write ``recording`` as a CSV (gzip-compressed when ``path`` ends in ``.gz``).

    Columns: ``time_s`` (seconds from the first sample; omit with ``time_column=None``), the
    channels, then ``label`` and ``label_name`` when the recording is labelled. Values are
    written with full precision, so :func:`read_csv` gives back the same samples.

    With ``sidecar`` (default) a JSON file next to it (``x.csv`` -> ``x.json``, see
    :func:`sidecar_path`) holds what a table cannot: the sampling rate, the label map and
    ``meta`` (lost-packet records, per-packet counter, timestamps and triggers, subject, ...);
    :func:`read_csv` reads it back. An existing JSON file that myovox did not write is never
    replaced.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ValidationError(f"{path} exists; pass overwrite=True to replace it.")
    side = sidecar_path(path)
    if sidecar and side.exists():
        try:
            ours = json.loads(side.read_text(encoding="utf-8")).get("format") == SIDECAR_FORMAT
        except (OSError, ValueError, AttributeError, UnicodeDecodeError):
            ours = False
        if not ours:
            raise ValidationError(
                f"{side} exists and was not written by myovox; move it away to write {path.name} with its sidecar."
            )
        if not overwrite:
            raise ValidationError(f"{side} exists; pass overwrite=True to replace it.")
    if delimiter not in _DELIMITERS:
        raise ValidationError(f"Invalid value for 'delimiter': expected one of {list(_DELIMITERS)}, got {delimiter!r}.")
    header = ([time_column] if time_column else []) + list(recording.ch_names or ())
    cols: list[list[str]] = []
    if time_column:
        cols.append([repr(float(t)) for t in recording.times])
    for row in recording.data:
        cols.append([repr(float(v)) if not np.isnan(v) else "nan" for v in row.tolist()])
    if recording.labels is not None:
        header += ["label", "label_name"]
        names = recording.label_names or {}
        cols.append([str(int(v)) for v in recording.labels])
        cols.append([str(names.get(int(v), int(v))) for v in recording.labels])
    buf = io.StringIO()
    buf.write(delimiter.join(header) + "\n")
    for row in zip(*cols, strict=False):
        buf.write(delimiter.join(row) + "\n")
    payload = buf.getvalue()
    tmp = path.with_name(path.name + ".part")
    if path.name.lower().endswith(".gz"):
        with gzip.open(tmp, "wt", encoding="utf-8", newline="") as fh:
            fh.write(payload)
    else:
        tmp.write_text(payload, encoding="utf-8")
    if sidecar:
        meta, _, _ = meta_to_json({k: v for k, v in recording.meta.items() if k != "source"}, arrays=False, where=side)
        info = {
            "format": SIDECAR_FORMAT,
            "version": 1,
            "data_file": path.name,
            "sfreq": recording.sfreq,
            "dtype": str(recording.data.dtype),
            "labelled": recording.labels is not None,
            "label_names": {str(k): v for k, v in (recording.label_names or {}).items()},
            "meta": meta,
        }
        side_tmp = side.with_name(side.name + ".part")
        side_tmp.write_text(json.dumps(info), encoding="utf-8")
        side_tmp.replace(side)
    tmp.replace(path)
    return path


__all__ = ["Table", "factorize", "read_bytes", "read_csv", "read_table", "sidecar_path", "write_csv"]

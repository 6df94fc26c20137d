"""Fast, forgiving reading of the plain comma-separated tables used by the dataset adapters.

The common case (a well-formed file) is parsed by numpy's C reader in one call. Rows with the
wrong number of fields or with tokens that are not numbers are skipped and counted (one
``DataLossWarning`` per file, naming it); explicit ``nan``/empty values are kept as NaN and
reported with a ``DataQualityWarning``. Only a file that needs repair takes a slower path.
"""
from __future__ import annotations

import gzip
import io
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .._logging import logger
from ..exceptions import DataFormatError, DataLossWarning, DataQualityWarning

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


def _parse_slow(body: bytes, n_fields: int, numeric: Sequence[int], text: Sequence[int]
                ) -> tuple[np.ndarray, np.ndarray, int]:
    """Row-by-row parse of a file that the C reader refused; unparsable rows are dropped."""
    nums: list[list[float]] = []
    texts: list[list[str]] = []
    bad = 0
    for line in body.decode("utf-8", errors="replace").splitlines():
        fields = line.split(",")
        if len(fields) != n_fields:
            bad += 1
            continue
        try:
            row = [float(fields[i]) if fields[i].strip() else np.nan for i in numeric]
        except ValueError:
            bad += 1
            continue
        nums.append(row)
        texts.append([fields[i].strip() for i in text])
    numbers = np.array(nums, dtype=np.float64).reshape(len(nums), len(numeric))
    strs = np.empty((len(texts), len(text)), dtype=object)
    if texts:
        strs[:] = texts
    return numbers, strs, bad


def read_table(path: Path, *, header: bool, numeric: Sequence[int] | None = None,
               text: Sequence[int] = (), n_fields: int | None = None,
               raw: bytes | None = None) -> Table:
    """Read a comma-separated table, skipping and counting malformed rows.

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
    if header:
        head, _, raw = raw.partition(b"\n")
        names = [c.strip() for c in head.decode("utf-8", errors="replace").strip().split(",")]
        if not head.strip():
            raise DataFormatError(f"{path}: the file is empty (no header line).")
        width = len(names)
    buf = np.frombuffer(raw, dtype=np.uint8)
    starts, span, length, fields = _lines(buf)
    blank = length == 0
    if not header:
        counts = np.bincount(fields[~blank]) if np.any(~blank) else np.zeros(1, int)
        modal = int(np.argmax(counts)) if counts.sum() else 0
        width = modal if n_fields is None else n_fields
        if n_fields is not None and counts.sum() and modal != n_fields:
            raise DataFormatError(
                f"{path}: rows have {modal} columns, expected {n_fields}.")
    good = ~blank & (fields == width)
    n_read = int(np.count_nonzero(~blank))
    n_bad = n_read - int(np.count_nonzero(good))
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
        numbers, strs, extra = _parse_slow(body, width, numeric, text)
        n_bad += extra
        if len(numbers) == 0:
            raise DataFormatError(f"{path}: no row could be parsed as numbers.") from None
    if n_bad:
        msg = f"{path}: skipped {n_bad} malformed row(s) of {n_read}."
        logger.warning(msg)
        warnings.warn(msg, DataLossWarning, stacklevel=3)
    n_nan = int(numbers.size - np.count_nonzero(np.isfinite(numbers)))
    if n_nan:
        msg = f"{path}: {n_nan} NaN/infinite value(s) kept as they are."
        logger.warning(msg)
        warnings.warn(msg, DataQualityWarning, stacklevel=3)
    return Table(names, numbers, strs, n_read, n_bad, n_nan)


#: bodies larger than this go through pandas' C parser (about 2x faster than numpy's on floats)
_PANDAS_FROM = 1 << 20


def _parse_pandas(body: bytes, width: int, numeric: list[int], text: list[int]
                  ) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    df = pd.read_csv(io.BytesIO(body), header=None, names=list(range(width)),
                     usecols=sorted(set(numeric) | set(text)), dtype={i: object for i in text},
                     engine="c", keep_default_na=False, na_values=["", "nan", "NaN", "NAN"])
    num = df[numeric]
    if not all(pd.api.types.is_numeric_dtype(t) for t in num.dtypes):
        raise ValueError("non-numeric token")
    return num.to_numpy(np.float64), df[text].to_numpy(object)


def _parse_numpy(body: bytes, numeric: list[int], text: list[int]) -> tuple[np.ndarray, np.ndarray]:
    numbers = np.loadtxt(io.BytesIO(body), delimiter=",", usecols=numeric, dtype=np.float64,
                         ndmin=2, comments=None)
    # dtype=object is ~20x faster than dtype=str in numpy's reader
    strs = (np.loadtxt(io.BytesIO(body), delimiter=",", usecols=text, dtype=object, ndmin=2,
                       comments=None, encoding="utf-8")
            if text else np.empty((len(numbers), 0), dtype=object))
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

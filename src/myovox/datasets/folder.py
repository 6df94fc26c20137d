"""Adapter for any folder described by a dataset card (see :mod:`myovox.datasets.card`).

The card is ``myovox-dataset.yaml`` inside the folder, or a ``*.yaml`` file anywhere whose ``root``
names the folder (e.g. beside a read-only shared dataset).

The card's ``layout`` (a path pattern with ``{field}`` placeholders) or ``index`` (a CSV listing
the files) says which files are recordings and gives their metadata; its other fields say how
to read them. Each file becomes one Recording:

- one trial per file (``window_mode`` "trial"): the label comes from the ``{label}`` field or
  the index's ``label`` column, stored as constant per-sample labels and ``meta["label"]``;
- a continuous file (``window_mode`` "event"): per-sample labels from the card's ``label_column``.

Label values map to integers through the card's ``labels`` (integer values are kept as they
are; text values are numbered in the card's order, rest first), or, without ``labels``, integer
values as they are and text values in sorted order with the rest label first.
"""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import did_you_mean
from .._logging import logger, progress
from ..dataset import Dataset
from ..exceptions import DataFormatError, ValidationError
from ..io.csv import read_bytes
from ..recording import Recording
from .card import CARD_FILE, CARD_SUFFIXES, RESERVED_META, REST_NAMES, DatasetCard, is_int_key, label_key

#: metadata keys a pattern field or index column may not take (the reader sets them)
_RESERVED = RESERVED_META
_COMMENT = ("#", "%")
_FIELD_RE = re.compile(r"\{([^{}]*)\}")


def is_card_file(path: str | Path) -> bool:
    """True for a file whose name ends in ``.yaml`` or ``.yml`` (a dataset card kept anywhere)."""
    path = Path(path)
    return path.suffix.lower() in CARD_SUFFIXES and path.is_file()


def detect(path: str | Path) -> bool:
    """True for a folder that holds ``myovox-dataset.yaml``, or a card file (``*.yaml``/``*.yml``)."""
    path = Path(path)
    return (path.is_dir() and (path / CARD_FILE).is_file()) or is_card_file(path)


# ---------------------------------------------------------------------------- finding the files
def _pattern_regex(layout: str) -> re.Pattern[str]:
    """``S{subject}/R_{rep}_*.csv`` -> a regex over relative posix paths, one named group per field."""
    out, seen = [], set()
    for token in re.split(r"(\{[^{}]*\}|\*)", layout):
        if token == "*":
            out.append(r"[^/]*")
        elif token.startswith("{") and token.endswith("}"):
            name = token[1:-1]
            out.append(f"(?P={name})" if name in seen else f"(?P<{name}>[^/]+?)")
            seen.add(name)
        else:
            out.append(re.escape(token))
    return re.compile("".join(out))


def _glob(layout: str) -> str:
    return re.sub(r"\{[^{}]*\}", "*", layout)


def _find_layout(root: Path, card: DatasetCard) -> list[tuple[Path, dict[str, str]]]:
    assert card.layout is not None
    regex = _pattern_regex(card.layout)
    found = []
    for file in root.glob(_glob(card.layout)):
        if not file.is_file() or file.name == CARD_FILE:
            continue
        m = regex.fullmatch(file.relative_to(root).as_posix())
        if m is not None:
            found.append((file, m.groupdict()))
    if not found:
        raise ValidationError(f"The layout pattern {card.layout!r} matches no file in {root}.")
    return found


def _find_index(root: Path, card: DatasetCard) -> list[tuple[Path, dict[str, str]]]:
    assert card.index is not None
    index = root / card.index
    if not index.is_file():
        raise ValidationError(f"The index file {card.index!r} does not exist in {root}.")
    try:
        text = read_bytes(index).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ValidationError(f"{index}: cannot read the index ({type(err).__name__}).") from None
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.DictReader(io.StringIO(text), dialect=dialect))
    cols = [c.strip() for c in (rows[0].keys() if rows else [])]
    if "file" not in cols:
        raise ValidationError(
            f"{index}: the index needs a 'file' column; columns are {', '.join(cols) or 'none'}."
            f"{did_you_mean('file', cols)}"
        )
    found = []
    for i, row in enumerate(rows, start=2):
        meta = {str(k).strip(): (v or "").strip() for k, v in row.items() if k is not None}
        name = meta.pop("file")
        if not name:
            raise ValidationError(f"{index}: line {i} has an empty 'file' cell.")
        file = root / name
        if not file.is_file():
            raise ValidationError(f"{index}: line {i} lists {name!r}, which does not exist in {root}.")
        found.append((file, meta))
    if not found:
        raise ValidationError(f"{index}: the index lists no file.")
    return found


def _derive_meta(found: list[tuple[Path, dict[str, Any]]], card: DatasetCard) -> list[tuple[Path, dict[str, Any]]]:
    """Add the card's ``meta`` entries (constants, ``{field}`` texts, lookups) to each file's fields."""
    if not card.meta:
        return found
    where = card.source or "the card"
    out = []
    for file, fields in found:
        meta: dict[str, Any] = dict(fields)
        for key, spec in card.meta.items():
            if isinstance(spec, dict):
                src = spec["from"]
                if src not in meta:
                    raise ValidationError(
                        f"{where}: invalid value for 'meta': {key}: 'from: {src}' is not a field of {file} "
                        f"(fields: {', '.join(meta) or 'none'}).{did_you_mean(src, list(meta))}"
                    )
                value = label_key(meta[src])
                if value in spec["values"]:
                    meta[key] = spec["values"][value]
                elif "default" in spec:
                    meta[key] = spec["default"]
                else:
                    raise ValidationError(
                        f"{file}: {src} = {meta[src]!r} is not listed in 'meta: {key}: values' of {where} "
                        f"({', '.join(map(str, spec['values']))}).{did_you_mean(value, list(spec['values']))}"
                    )
            elif isinstance(spec, str) and "{" in spec:
                missing = [n for n in _FIELD_RE.findall(spec) if n not in meta]
                if missing:
                    raise ValidationError(
                        f"{where}: invalid value for 'meta': {key}: {{{missing[0]}}} is not a field of {file} "
                        f"(fields: {', '.join(meta) or 'none'}).{did_you_mean(missing[0], list(meta))}"
                    )
                meta[key] = _fill(spec, meta)
            else:
                meta[key] = spec
        out.append((file, meta))
    return out


def _fill(text: str, values: dict[str, Any]) -> str:
    """``"study{study}"`` with ``{study}`` replaced by its value."""
    return _FIELD_RE.sub(lambda m: str(values[m.group(1)]), text)


def _convert_fields(found: list[tuple[Path, dict[str, Any]]]) -> list[tuple[Path, dict[str, Any]]]:
    """Fields whose values are all digits become ints (``label`` is left as text: it is a label value)."""
    keys = {k for _, m in found for k in m}
    for key in keys:
        if key in _RESERVED:
            raise ValidationError(f"The metadata field {key!r} is reserved; rename it in the layout or index.")
    numeric = {k for k in keys if k != "label" and all(_digits(m.get(k, "")) for _, m in found)}
    out = []
    for file, meta in found:
        out.append((file, {k: int(v) if k in numeric else v for k, v in meta.items()}))
    return out


def _digits(value: Any) -> bool:
    """A text of digits, or an integer (a ``meta`` constant): such a field becomes an int."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, str) and value.isdigit()


def _sort_key(item: tuple[Path, dict[str, Any]]) -> tuple[Any, ...]:
    parts = re.split(r"(\d+)", item[0].as_posix())
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


# ---------------------------------------------------------------------------- reading one file
def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _split(line: str, delimiter: str) -> list[str]:
    parts = line.split() if delimiter == " " else line.split(delimiter)
    if delimiter != " " and len(parts) > 1 and not parts[-1].strip():  # trailing delimiter
        parts = parts[:-1]
    return [p.strip().strip('"').strip("'") for p in parts]


def _sniff(lines: list[str]) -> str:
    """The delimiter that splits the sample lines into one consistent number (> 1) of fields."""
    best, best_score = ",", (0, 0)
    for d in (",", ";", "\t", " "):
        counts = [len(_split(ln, d)) for ln in lines]
        mode = max(set(counts), key=counts.count)
        score = (counts.count(mode), mode)
        if mode > 1 and score > best_score:
            best, best_score = d, score
    return best


def _column(which: str | int, names: list[str], file: Path, key: str) -> int:
    n = len(names)
    if isinstance(which, str) and which.strip().lstrip("-").isdigit() and which not in names:
        which = int(which)
    if isinstance(which, int):
        if not -n <= which < n:
            raise ValidationError(f"{file}: {key} {which} does not exist ({n} columns).")
        return which % n
    low = [c.lower() for c in names]
    if which.lower() in low:
        return low.index(which.lower())
    raise ValidationError(
        f"{file}: no column {which!r} (card key {key!r}); columns are {', '.join(names)}.{did_you_mean(which, names)}"
    )


def _read_text(file: Path, card: DatasetCard) -> tuple[np.ndarray, list[str] | None, np.ndarray | None]:
    """(data (n_channels, n_times), channel names from the header or None, raw label strings or None)."""
    try:
        text = read_bytes(file).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(f"{file}: not a text file (not UTF-8); is 'format' right?") from None
    except (OSError, DataFormatError) as err:  # a broken archive
        raise ValidationError(f"{file}: cannot read the file ({' '.join(str(err).split())}).") from None
    if "\x00" in text:
        raise ValidationError(f"{file}: holds NUL bytes; not a text file (is 'format' right?).")
    body = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip() and ln.lstrip()[0] not in _COMMENT]
    if not body:
        raise ValidationError(f"{file}: no data rows.")
    delim = card.delimiter if card.delimiter is not None else _sniff([ln for _, ln in body[:20]])
    rows = [_split(ln, delim) for _, ln in body]
    first = rows[0]
    header = card.header
    if header == "auto":
        second = rows[1] if len(rows) > 1 else []
        header = all(not _is_number(f) for f in first) or any(
            not _is_number(a) and _is_number(b) for a, b in zip(first, second, strict=False)
        )
    names = first if header else [str(i) for i in range(len(first))]
    lines = [n for n, _ in body]
    if header:
        rows, lines = rows[1:], lines[1:]
    if not rows:
        raise ValidationError(f"{file}: no data rows below the header.")
    width = len(names)
    for n, row in zip(lines, rows, strict=True):
        if len(row) != width:
            raise ValidationError(f"{file}: line {n} has {len(row)} fields, expected {width}.")
    label_col = None if card.label_column is None else _column(card.label_column, names, file, "label_column")
    time_col = None if card.time_column is None else _column(card.time_column, names, file, "time_column")
    skip = {label_col, time_col}
    if card.columns is not None:
        cols = [_column(c, names, file, "columns") for c in card.columns]
    else:  # every column that holds a number in the first data row
        cols = [i for i in range(width) if i not in skip and _is_number(rows[0][i])]
    if not cols:
        raise ValidationError(f"{file}: no numeric column to read as a channel.")
    table = np.array(rows, dtype=str)
    try:
        data = table[:, cols].astype(np.float64)
    except ValueError:
        for n, row in zip(lines, rows, strict=True):
            for c in cols:
                if not _is_number(row[c]):
                    raise ValidationError(
                        f"{file}: line {n}, column {names[c]!r}: {row[c]!r} is not a number."
                    ) from None
        raise
    labels = None if label_col is None else table[:, label_col]
    ch = [names[c] for c in cols] if header else None
    return data.T, ch, labels


def _read_npy(file: Path, card: DatasetCard) -> np.ndarray:
    try:
        arr = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise ValidationError(f"{file}: not a readable .npy array ({' '.join(str(err).split())[:100]}).") from None
    if not isinstance(arr, np.ndarray) or arr.ndim not in (1, 2):
        raise ValidationError(f"{file}: expected a 1-D or 2-D array, got shape {getattr(arr, 'shape', '?')}.")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValidationError(f"{file}: expected a real numeric array, got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    if arr.ndim == 1:
        return arr[None, :]
    data = arr.T if card.orientation == "samples_by_channels" else arr
    if card.columns is not None:
        idx = []
        for c in card.columns:
            if isinstance(c, str) and not c.strip().lstrip("-").isdigit():
                raise ValidationError(f"{file}: 'columns' of an .npy file must be channel indices, got {c!r}.")
            i = int(c)
            if not -data.shape[0] <= i < data.shape[0]:
                raise ValidationError(f"{file}: channel index {i} does not exist ({data.shape[0]} channels).")
            idx.append(i)
        data = data[idx]
    return data


def _read(file: Path, card: DatasetCard) -> tuple[np.ndarray, list[str] | None, np.ndarray | None]:
    if card.format == "npy":
        return _read_npy(file, card), None, None
    data, names, labels = _read_text(file, card)
    if card.orientation == "channels_by_samples":
        if labels is not None:
            raise ValidationError(f"{file}: a label column needs orientation samples_by_channels.")
        data, names = data.T, None
    return data, names, labels


# ---------------------------------------------------------------------------- labels
def _label_codes(values: set[str], card: DatasetCard) -> tuple[dict[str, int], dict[int, str], int | None]:
    """(label value -> int, int -> name, rest int or None) for the label values found in the data."""
    if card.labels is not None:
        keys = list(card.labels)
        names_of = dict(card.labels)
    else:
        keys = sorted(values, key=lambda k: (0, int(k), "") if is_int_key(k) else (1, 0, k))
        names_of = {k: k for k in keys}
    rest: str | None
    if card.rest_label is False:  # no label means rest
        rest = None
    elif card.rest_label is None:
        rest = next((k for k in keys if names_of[k].strip().lower().lstrip("$") in REST_NAMES), None)
    else:
        rest = str(card.rest_label)
        if rest not in names_of:  # a rest value the data do not hold (yet)
            names_of[rest] = "rest"
            keys.append(rest)
    if card.label_codes == "value" and all(is_int_key(k) for k in keys):
        codes = {k: int(k) for k in keys}
    else:
        order = ([rest] if rest is not None else []) + [k for k in keys if k != rest]
        codes = {k: i for i, k in enumerate(order)}
    names = {codes[k]: names_of.get(k, k) for k in codes}
    return codes, dict(sorted(names.items())), None if rest is None else codes[rest]


def _check_labels(per_file: list[tuple[Path, set[str]]], card: DatasetCard) -> None:
    if card.labels is None:
        return
    for file, values in per_file:
        unknown = sorted(values - set(card.labels))
        if unknown:
            where = card.source or "the card"
            raise ValidationError(
                f"{file}: label {unknown[0]!r} is not in the card's labels ({', '.join(card.labels)}); "
                f"add it to 'labels' in {where}.{did_you_mean(unknown[0], card.labels)}"
            )


# ---------------------------------------------------------------------------- load
def load(
    path: str | Path,
    *,
    card: DatasetCard | None = None,
    window_s: float | None = None,
    verbose: bool | None = None,
) -> Dataset:
    """Load a folder described by a dataset card as a Dataset.

    Parameters
    ----------
    path : path-like
        The dataset folder (its ``myovox-dataset.yaml`` is the card), or a card file (``*.yaml``):
        the folder is then the card's ``root`` (relative to the card file's folder), else the card
        file's own folder. The card's paths are relative to the folder.
    card : DatasetCard | None
        A card to use instead of the folder's own (nothing is written); ``path`` is then the data
        folder and the card's ``root`` is not used.
    window_s : float | None
        Window length stored on the Dataset (default: the card's, else the median trial length
        for one trial per file, else 1 s).
    verbose : bool | None
        Progress bar (default: only on a terminal).

    Returns
    -------
    Dataset
        Named after the card (default the folder's name); ``info`` holds ``filter``,
        ``rest_label``, ``mains``, ``units``, ``card`` (the card file) and ``label_map``.
    """
    t0 = time.perf_counter()
    root = Path(path)
    if card is None:
        if root.is_dir() or is_card_file(root):
            card = DatasetCard.read(root)
        elif root.suffix.lower() in CARD_SUFFIXES and not root.exists():
            raise ValidationError(f"Invalid value for 'path': the card file {root} does not exist.")
        else:
            raise ValidationError(f"Invalid value for 'path': {root} is neither a folder nor a card file (*.yaml).")
        root = card.data_root()
    else:
        if not isinstance(card, DatasetCard):
            raise ValidationError(f"Invalid value for 'card': expected a DatasetCard, got {type(card).__name__}.")
        if root.is_file() and is_card_file(root):
            root = root.parent
        if not root.is_dir():
            raise ValidationError(f"Invalid value for 'path': {root} is not a folder.")
    try:
        found = _find_layout(root, card) if card.layout is not None else _find_index(root, card)
    except ValidationError as err:
        if card.source is not None and card.root is None and card.source.name != CARD_FILE:
            raise ValidationError(
                f"{err} The card {card.source} has no 'root', so its own folder is the data folder; "
                "add 'root: DATA_FOLDER' to it."
            ) from None
        raise
    items = sorted(_convert_fields(_derive_meta(found, card)), key=_sort_key)

    bar = progress(items, desc=card.name or root.name, disable=None if verbose is None else not verbose)
    raw: list[tuple[Path, dict[str, Any], np.ndarray, list[str] | None, np.ndarray | None]] = []
    for file, meta in bar:
        data, names, labels = _read(file, card)
        if data.shape[1] == 0:
            raise ValidationError(f"{file}: no samples.")
        if raw and data.shape[0] != raw[0][2].shape[0]:
            raise ValidationError(
                f"Files have different channel counts: {raw[0][0]} has {raw[0][2].shape[0]}, "
                f"{file} has {data.shape[0]}."
            )
        if card.channels is not None and len(card.channels) != data.shape[0]:
            raise ValidationError(
                f"{file}: {data.shape[0]} channels, but the card names {len(card.channels)} "
                f"({', '.join(card.channels)})."
            )
        raw.append((file, meta, data, names, labels))

    # label values: a per-sample column, else the trial's label field/column
    per_file: list[tuple[Path, set[str]]] = []
    col_keys: list[tuple[list[str], np.ndarray] | None] = []
    for file, meta, _, _, labels in raw:
        if labels is not None:
            uniq, inv = np.unique(labels, return_inverse=True)
            keys = [label_key(u) for u in uniq]
            col_keys.append((keys, inv))
            per_file.append((file, set(keys)))
        else:
            col_keys.append(None)
            if "label" in meta and str(meta["label"]) != "":
                per_file.append((file, {label_key(meta["label"])}))
    _check_labels(per_file, card)
    has_labels = bool(per_file)
    codes, label_names, rest = (
        _label_codes(set().union(*(v for _, v in per_file)), card) if has_labels else ({}, {}, None)
    )

    recs = []
    ds_name = card.name or root.name
    for (file, meta, data, names, _), ck in zip(raw, col_keys, strict=True):
        meta = dict(meta)
        n = data.shape[1]
        lab = None
        if ck is not None:
            keys, inv = ck
            lab = np.array([codes[k] for k in keys], dtype=np.int64)[inv.reshape(-1)]
            if "label" in meta:  # the per-sample column wins; the field stays as metadata
                meta["label_value"] = meta.pop("label")
        elif "label" in meta and str(meta["label"]) != "":
            key = label_key(meta["label"])
            meta["label_value"] = meta["label"]
            meta["label"] = codes[key]
            meta["label_name"] = label_names[codes[key]]
            lab = np.full(n, codes[key], dtype=np.int64)
        elif "label" in meta:
            meta.pop("label")
        ch_names = card.channels or (names if names and len(set(names)) == len(names) else None)
        meta.update(dataset=ds_name, units=card.units, source=str(file))
        recs.append(
            Recording(
                np.ascontiguousarray(data),
                card.sfreq,
                ch_names=list(ch_names) if ch_names else [f"ch_{i}" for i in range(data.shape[0])],
                labels=lab,
                label_names=label_names if lab is not None else None,
                meta=meta,
            )
        )

    mode = card.window_mode or ("event" if card.label_column is not None else "trial")
    lengths = np.array([r.n_times for r in recs])
    if window_s is None:
        window_s = card.window_s
    if window_s is None:
        window_s = float(np.median(lengths) / card.sfreq) if mode == "trial" else 1.0
    info: dict[str, Any] = {
        "filter": card.filter_settings(),
        "check_band": not card.filter,  # a default band is checked against the data when preprocessing
        "resample": card.resample,
        "short_trials": card.short_trials,
        "rest_label": rest,
        "mains": card.mains,
        "units": card.units,
        "card": None if card.source is None else str(card.source),
        "label_map": label_names,
        "n_files": len(recs),
        "layout": card.layout,
        "index": card.index,
        "shortest_trial_s": float(lengths.min() / card.sfreq),
        "n_trials_shorter_than_window": int(np.count_nonzero(lengths < int(round(window_s * card.sfreq)))),
    }
    info["load_s"] = round(time.perf_counter() - t0, 3)
    logger.info("folder: %d files from %s in %.2f s", len(recs), root, info["load_s"])
    return Dataset(recs, ds_name, str(root), window_s=float(window_s), window_mode=mode, info=info)


__all__ = ["detect", "is_card_file", "load"]

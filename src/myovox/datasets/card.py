"""The dataset card: a small YAML file (``myovox-dataset.yaml``) that tells myovox how to read a folder.

A card describes where the recordings are (a path ``layout`` with ``{field}`` placeholders, or an
``index`` CSV listing the files), how to read them (``format``, ``sfreq``, columns, header,
delimiter, orientation) and what they mean (``labels``, ``rest_label``, ``units``, ``mains``,
``filter``, ``window_s``, ``window_mode``, ``meta``). Example::

    name: my-study
    layout: S{subject}/day{session}/R_{rep}_C_{label}_EMG.csv
    sfreq: 1000
    labels: {0: rest, 1: up, 2: down}
    rest_label: 0
    mains: 50

The card lives inside the folder it describes, or anywhere else as a ``*.yaml`` file whose ``root``
names the folder (for a read-only folder, e.g. a shared dataset). The adapter
:mod:`myovox.datasets.folder` loads a folder that holds a card, or a card file; ``myovox card init``
writes one. Cards for the shared datasets ship with myovox as templates (:func:`template_names`,
:meth:`DatasetCard.template`, ``myovox card init DIR --template NAME --output FILE``).
"""

from __future__ import annotations

import numbers
import os
import re
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .._checks import did_you_mean
from ..exceptions import ValidationError
from ..windows import SHORT_TRIALS

#: name of the card file inside a dataset folder
CARD_FILE = "myovox-dataset.yaml"
#: suffixes of a card file kept anywhere (with ``root`` naming its folder)
CARD_SUFFIXES = (".yaml", ".yml")
LABEL_CODES = ("value", "order")
#: metadata keys a layout field, index column or ``meta`` entry may not take (the reader sets them)
RESERVED_META = ("source", "units", "dataset", "label_name", "label_value")
_LOOKUP_KEYS = ("from", "values", "default")
FORMATS = ("csv", "npy")
ORIENTATIONS = ("samples_by_channels", "channels_by_samples")
WINDOW_MODES = ("trial", "event")
#: label names that mean "rest" when the card names no ``rest_label``
REST_NAMES = ("rest", "silence", "none")
FILTER_KEYS = ("highpass", "lowpass", "notch")
DEFAULT_HIGHPASS = 20.0
_FIELD_RE = re.compile(r"\{([^{}]*)\}")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


def label_key(value: Any) -> str:
    """Canonical text of a label value: ``1``, ``1.0``, ``"1"`` and ``" 1 "`` all become ``"1"``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    text = str(value).strip()
    try:
        f = float(text)
    except ValueError:
        return text
    if f == f and f not in (float("inf"), float("-inf")) and f == int(f):
        return str(int(f))
    return text


def is_int_key(key: str) -> bool:
    """Whether a canonical label key is an integer (``"3"``, ``"-1"``)."""
    return bool(re.fullmatch(r"-?\d+", key))


def _yaml_key(key: str) -> int | str:
    return int(key) if is_int_key(key) else key


@dataclass
class DatasetCard:
    """How to read a dataset folder; read from and written to ``<folder>/myovox-dataset.yaml`` or a ``*.yaml`` file.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz (required).
    root : str | None
        The data folder, relative to the card file's folder or absolute (default: the card file's
        own folder). With it a card can live beside a folder it cannot be written into, e.g.
        ``cards/longterm.yaml`` with ``root: ../../shared/datasets/longterm-armband``; ``layout``
        and ``index`` are then relative to ``root``. A ``root`` that is not a folder is an error.
    layout : str | None
        Path pattern relative to the folder, with ``{field}`` placeholders (metadata) and ``*``
        wildcards, e.g. ``S{subject}/day{session}/R_{rep}_C_{label}_EMG.csv``; ``{label}`` is the
        trial's label. Exactly one of ``layout`` and ``index``.
    index : str | None
        A CSV file (relative to the folder) with a ``file`` column (paths relative to the folder)
        and metadata columns (``label``: the trial's label).
    format : str
        ``"csv"`` (also ``.txt`` and gzip-compressed ``.gz``) or ``"npy"``.
    channels : list of str | None
        Channel names; their number must equal the files' channel count (default: the header's
        names, else ``ch_0``, ``ch_1``, ...).
    columns : list of str | int | None
        Columns read as channels, by name or 0-based index (default: every numeric column except
        the label and time columns).
    header : bool | "auto"
        Whether text files start with a row of column names (``"auto"``: sniffed).
    delimiter : str | None
        Field separator of text files (default: sniffed among comma, semicolon, tab, whitespace).
    orientation : str
        ``"samples_by_channels"`` (rows are samples) or ``"channels_by_samples"``.
    label_column : str | int | None
        A per-sample label column (continuous recordings).
    time_column : str | int | None
        A time column (dropped).
    labels : dict | None
        Label value as it appears in the data -> label name. Values in the data that are not
        listed are an error.
    label_codes : str
        The integer class of each label value: ``"value"`` (default: integer values are their own
        class, text values are numbered 0, 1, ... in the order of ``labels``, the rest label first)
        or ``"order"`` (every value numbered so, integers too: ``labels: {1: rest, 2: fist}``
        gives classes 0 and 1).
    rest_label : str | int | bool | None
        The label value that means rest (default: the label named rest, silence or none, if any);
        ``false``: no label means rest (e.g. a ``SILENCE`` class that is a command of its own).
    units : str
        Units of the samples.
    mains : int
        Mains frequency, 50 or 60 Hz (the notch filter).
    filter : dict | None
        ``highpass``/``lowpass``/``notch`` in Hz (None disables a stage) overriding the default
        filter (high-pass 20 Hz, notch at ``mains``).
    window_s : float | None
        Window length (default: the median trial length for one trial per file, else 1 s).
    window_mode : str | None
        ``"trial"`` (one window per file) or ``"event"`` (one per label run); default ``"event"``
        with a ``label_column``, else ``"trial"``.
    name : str | None
        Dataset name (default: the folder's name).
    resample : float | None
        Rate in Hz every recording is resampled to before filtering (polyphase; None: keep ``sfreq``).
    short_trials : str
        Trials shorter than the window: ``"drop"`` (default) or ``"pad"`` (with each channel's
        mean); either way they are counted in a warning.
    meta : dict | None
        Metadata added to every recording, key -> one of:

        - a number or a text, the same for every file (``subject: S01``); a text may hold the
          layout's (or index's) ``{field}`` placeholders and the keys of earlier ``meta`` entries
          (``session: "study{study}"``);
        - a lookup ``{from: FIELD, values: {field value: value, ...}, default: VALUE}``: the value
          listed for the file's ``FIELD`` (``condition: {from: code, values: {F: vocalized,
          S: subvocal}}``); a value not listed is an error unless ``default`` is given.

        An entry may replace a layout field (``word: {from: word, values: {Sim: sim}}``). Values
        that are digits in every file become integers, as layout fields do. Reserved keys:
        ``source``, ``units``, ``dataset``, ``label_name``, ``label_value``.
    source : Path | None
        The card file it was read from (not written).
    """

    sfreq: float
    root: str | None = None
    layout: str | None = None
    index: str | None = None
    format: str = "csv"
    channels: list[str] | None = None
    columns: list[str | int] | None = None
    header: bool | str = "auto"
    delimiter: str | None = None
    orientation: str = "samples_by_channels"
    label_column: str | int | None = None
    time_column: str | int | None = None
    labels: dict[str, str] | None = None
    label_codes: str = "value"
    rest_label: str | bool | None = None
    units: str = "unknown"
    mains: int = 50
    filter: dict[str, float | None] | None = None
    window_s: float | None = None
    window_mode: str | None = None
    name: str | None = None
    resample: float | None = None
    short_trials: str = "drop"
    meta: dict[str, Any] | None = None
    source: Path | None = None

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ validation
    def _where(self) -> str:
        return str(self.source) if self.source is not None else "dataset card"

    def _fail(self, key: str, message: str) -> ValidationError:
        end = "" if message.endswith((".", "?")) else "."
        return ValidationError(f"{self._where()}: invalid value for {key!r}: {message}{end}")

    def validate(self) -> DatasetCard:
        """Check (and normalise) every field; raises a one-line ``ValidationError`` naming the card file."""
        # sfreq
        if isinstance(self.sfreq, bool) or not isinstance(self.sfreq, numbers.Real) or not self.sfreq > 0:
            raise self._fail("sfreq", f"expected a positive sampling rate in Hz, got {self.sfreq!r}")
        if self.sfreq != self.sfreq or self.sfreq == float("inf"):
            raise self._fail("sfreq", f"expected a finite sampling rate in Hz, got {self.sfreq!r}")
        self.sfreq = float(self.sfreq)
        # root
        if isinstance(self.root, os.PathLike):
            self.root = os.fspath(self.root)
        if self.root is not None:
            if not isinstance(self.root, str) or not self.root.strip():
                raise self._fail("root", f"expected the data folder (a path), got {self.root!r}")
            self.root = self.root.strip()
        # layout / index
        if (self.layout is None) == (self.index is None):
            raise ValidationError(
                f"{self._where()}: give exactly one of 'layout' (a path pattern) and 'index' (a CSV listing the files)."
            )
        for key in ("layout", "index"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise self._fail(key, f"expected a relative path, got {value!r}")
            if isinstance(value, str) and (Path(value).is_absolute() or ".." in Path(value).parts):
                raise self._fail(key, f"expected a path inside the dataset folder, got {value!r}")
        if self.layout is not None:
            self.layout = self.layout.strip().replace("\\", "/")
            for name in _FIELD_RE.findall(self.layout):
                if not _IDENT_RE.match(name):
                    raise self._fail("layout", f"placeholder {{{name}}} is not a name (letters, digits, _)")
            rest = _FIELD_RE.sub("", self.layout)
            if "{" in rest or "}" in rest:
                raise self._fail("layout", f"unbalanced braces in {self.layout!r}")
        # choices
        for key, allowed in (("format", FORMATS), ("orientation", ORIENTATIONS)):
            value = getattr(self, key)
            if value not in allowed:
                raise self._fail(
                    key, f"expected one of {', '.join(allowed)}, got {value!r}.{did_you_mean(value, allowed)}"
                )
        if self.window_mode is not None and self.window_mode not in WINDOW_MODES:
            raise self._fail(
                "window_mode",
                f"expected one of {', '.join(WINDOW_MODES)}, got {self.window_mode!r}."
                f"{did_you_mean(self.window_mode, WINDOW_MODES)}",
            )
        if isinstance(self.header, str) and self.header.lower() in ("auto", "yes", "no", "true", "false"):
            low = self.header.lower()
            self.header = "auto" if low == "auto" else low in ("yes", "true")
        if not isinstance(self.header, bool) and self.header != "auto":
            raise self._fail("header", f"expected true, false or auto, got {self.header!r}")
        if self.delimiter is not None and (not isinstance(self.delimiter, str) or len(self.delimiter) != 1):
            if self.delimiter not in ("whitespace", "\\t"):
                raise self._fail("delimiter", f"expected one character or 'whitespace', got {self.delimiter!r}")
            self.delimiter = "\t" if self.delimiter == "\\t" else " "
        # columns
        for key in ("label_column", "time_column"):
            value = getattr(self, key)
            if value is not None and not _is_column(value):
                raise self._fail(key, f"expected a column name or 0-based index, got {value!r}")
        if self.format == "npy" and (self.label_column is not None or self.time_column is not None):
            raise self._fail("label_column", "label and time columns apply to csv files only")
        if self.channels is not None:
            if isinstance(self.channels, str):
                self.channels = [c.strip() for c in self.channels.split(",") if c.strip()]
            if not isinstance(self.channels, list) or not self.channels:
                raise self._fail("channels", f"expected a list of channel names, got {self.channels!r}")
            self.channels = [str(c) for c in self.channels]
            if len(set(self.channels)) != len(self.channels):
                raise self._fail("channels", f"channel names must be distinct, got {self.channels!r}")
        if self.columns is not None and (
            not isinstance(self.columns, list) or not self.columns or not all(map(_is_column, self.columns))
        ):
            raise self._fail("columns", f"expected a list of column names or 0-based indices, got {self.columns!r}")
        # labels
        if self.labels is not None:
            if not isinstance(self.labels, dict) or not self.labels:
                raise self._fail("labels", f"expected a mapping of label value -> name, got {self.labels!r}")
            out: dict[str, str] = {}
            for k, v in self.labels.items():
                key = label_key(k)
                if key in out:
                    raise self._fail("labels", f"label value {k!r} is listed twice")
                if v is None or isinstance(v, (dict, list)):
                    raise self._fail("labels", f"label {k!r} has no name")
                out[key] = str(v)
            if len(set(out.values())) != len(out):
                raise self._fail("labels", f"label names must be distinct, got {list(out.values())!r}")
            self.labels = out
        if self.label_codes not in LABEL_CODES:
            raise self._fail(
                "label_codes",
                f"expected one of {', '.join(LABEL_CODES)}, got {self.label_codes!r}."
                f"{did_you_mean(str(self.label_codes), LABEL_CODES)}",
            )
        if self.rest_label is True:
            raise self._fail("rest_label", "expected a label value, or false for no rest label, got true")
        if self.rest_label is not None and self.rest_label is not False:
            self.rest_label = label_key(self.rest_label)
            if self.labels is not None and self.rest_label not in self.labels:
                raise self._fail(
                    "rest_label",
                    f"{self.rest_label!r} is not one of the labels ({', '.join(self.labels)})"
                    f"{did_you_mean(self.rest_label, self.labels)}",
                )
        # units, mains, filter, window
        if not isinstance(self.units, str) or not self.units.strip():
            raise self._fail("units", f"expected a text, got {self.units!r}")
        if self.mains not in (50, 60) or isinstance(self.mains, bool):
            raise self._fail("mains", f"expected 50 or 60 (Hz), got {self.mains!r}")
        self.mains = int(self.mains)
        if self.filter is not None:
            if not isinstance(self.filter, dict):
                raise self._fail("filter", f"expected a mapping with {', '.join(FILTER_KEYS)}, got {self.filter!r}")
            for k, v in self.filter.items():
                if k not in FILTER_KEYS:
                    raise ValidationError(
                        f"{self._where()}: unknown key {k!r} in 'filter'; known: {', '.join(FILTER_KEYS)}."
                        f"{did_you_mean(k, FILTER_KEYS)}"
                    )
                if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real) or not v > 0):
                    raise self._fail("filter", f"{k} must be a positive frequency in Hz or null, got {v!r}")
                if v is not None and v >= self.sfreq / 2:
                    raise self._fail("filter", f"{k} = {v:g} Hz is not below Nyquist ({self.sfreq / 2:g} Hz)")
            self.filter = {k: None if v is None else float(v) for k, v in self.filter.items()}
        if self.window_s is not None:
            if isinstance(self.window_s, bool) or not isinstance(self.window_s, numbers.Real) or not self.window_s > 0:
                raise self._fail("window_s", f"expected a positive window length in seconds, got {self.window_s!r}")
            self.window_s = float(self.window_s)
        if self.name is not None and (not isinstance(self.name, str) or not self.name.strip()):
            raise self._fail("name", f"expected a text, got {self.name!r}")
        if self.resample is not None:
            if isinstance(self.resample, bool) or not isinstance(self.resample, numbers.Real) or not self.resample > 0:
                raise self._fail("resample", f"expected a positive rate in Hz, got {self.resample!r}")
            self.resample = float(self.resample)
        if self.short_trials not in SHORT_TRIALS:
            raise self._fail("short_trials", f"expected one of {', '.join(SHORT_TRIALS)}, got {self.short_trials!r}")
        if self.meta is not None:
            self.meta = self._check_meta(self.meta)
        return self

    def _check_meta(self, meta: Any) -> dict[str, Any]:
        """``meta``: identifier keys (not reserved), scalar values, or lookups ``{from, values, default}``."""
        if not isinstance(meta, dict) or not meta:
            raise self._fail("meta", f"expected a mapping of metadata key -> value, got {meta!r}")
        known = set(self.fields_in_layout()) if self.layout is not None else None  # index columns: known at load
        out: dict[str, Any] = {}
        for key, value in meta.items():
            if not isinstance(key, str) or not _IDENT_RE.match(key):
                raise self._fail("meta", f"key {key!r} is not a name (letters, digits, _)")
            if key in RESERVED_META:
                raise self._fail("meta", f"key {key!r} is reserved (the reader sets it)")
            if isinstance(value, dict):
                unknown = [k for k in value if k not in _LOOKUP_KEYS]
                if unknown:
                    raise self._fail(
                        "meta",
                        f"{key}: unknown key {unknown[0]!r} in a lookup; known: {', '.join(_LOOKUP_KEYS)}"
                        f"{did_you_mean(str(unknown[0]), _LOOKUP_KEYS)}",
                    )
                src, values = value.get("from"), value.get("values")
                if not isinstance(src, str) or not src.strip():
                    raise self._fail("meta", f"{key}: a lookup needs 'from: FIELD' (a layout field), got {src!r}")
                src = src.strip()
                if known is not None and src not in known and src not in out:
                    raise self._fail(
                        "meta",
                        f"{key}: 'from: {src}' is not a field of the layout ({', '.join(sorted(known)) or 'none'})"
                        f"{did_you_mean(src, sorted(known))}",
                    )
                if not isinstance(values, dict) or not values:
                    raise self._fail("meta", f"{key}: a lookup needs 'values', a mapping of field value -> value")
                table: dict[str, Any] = {}
                for k, v in values.items():
                    if not _is_scalar(v):
                        raise self._fail("meta", f"{key}: the value for {k!r} must be a number or a text, got {v!r}")
                    if label_key(k) in table:
                        raise self._fail("meta", f"{key}: field value {k!r} is listed twice")
                    table[label_key(k)] = v
                entry: dict[str, Any] = {"from": src, "values": table}
                if "default" in value:
                    if not _is_scalar(value["default"]) and value["default"] is not None:
                        raise self._fail("meta", f"{key}: 'default' must be a number, a text or null")
                    entry["default"] = value["default"]
                out[key] = entry
            elif _is_scalar(value):
                if isinstance(value, str):
                    names = _FIELD_RE.findall(value)
                    rest = _FIELD_RE.sub("", value)
                    if "{" in rest or "}" in rest:
                        raise self._fail("meta", f"{key}: unbalanced braces in {value!r}")
                    for name in names:
                        if not _IDENT_RE.match(name):
                            raise self._fail("meta", f"{key}: placeholder {{{name}}} is not a name")
                        if known is not None and name not in known and name not in out:
                            raise self._fail(
                                "meta",
                                f"{key}: {{{name}}} is not a field of the layout ({', '.join(sorted(known)) or 'none'})"
                                f" or an earlier meta key{did_you_mean(name, sorted(known | set(out)))}",
                            )
                out[key] = value
            else:
                raise self._fail(
                    "meta",
                    f"{key}: expected a number, a text or a lookup {{from: FIELD, values: {{...}}}}, got {value!r}",
                )
        return out

    # ------------------------------------------------------------------ derived settings
    def filter_settings(self) -> dict[str, float | None]:
        """The ``Dataset.info["filter"]`` dict: high-pass 20 Hz and a notch at ``mains`` unless overridden.

        The notch is left out when ``mains`` is too close to Nyquist for this sampling rate.
        """
        nyq = self.sfreq / 2
        out: dict[str, float | None] = {
            "highpass": DEFAULT_HIGHPASS if nyq > DEFAULT_HIGHPASS else None,
            "notch": float(self.mains) if self.mains + 2.5 < nyq else None,
        }
        out.update(self.filter or {})
        return out

    def fields_in_layout(self) -> list[str]:
        """Placeholder names of ``layout`` in order (each once)."""
        return list(dict.fromkeys(_FIELD_RE.findall(self.layout or "")))

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """The card as plain YAML-ready values (fields at their default and ``source`` left out)."""
        out: dict[str, Any] = {}
        defaults = {f.name: f.default for f in fields(self)}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "source" or (f.name != "sfreq" and value == defaults[f.name]):
                continue
            if f.name == "labels" and value is not None:
                value = {_yaml_key(k): v for k, v in value.items()}
            elif f.name == "rest_label" and isinstance(value, str):
                value = _yaml_key(value)
            elif f.name == "meta" and value is not None:
                value = {k: _meta_yaml(v) for k, v in value.items()}
            elif isinstance(value, list):
                value = list(value)
            elif isinstance(value, dict):
                value = dict(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str | Path | None = None) -> DatasetCard:
        """Build a card from a mapping; unknown keys and a missing ``sfreq`` raise one-line errors."""
        where = str(source) if source is not None else "dataset card"
        if not isinstance(data, dict):
            raise ValidationError(f"{where}: expected a mapping of card fields, got {type(data).__name__}.")
        known = [f.name for f in fields(cls) if f.name != "source"]
        for key in data:
            if key not in known:
                raise ValidationError(
                    f"{where}: unknown key {key!r}; known: {', '.join(known)}.{did_you_mean(str(key), known)}"
                )
        if data.get("sfreq") is None:
            raise ValidationError(f"{where}: 'sfreq' (the sampling rate in Hz) is missing.")
        return cls(**data, source=None if source is None else Path(source))

    @classmethod
    def read(cls, path: str | Path) -> DatasetCard:
        """Read ``<folder>/myovox-dataset.yaml`` or a card file (``*.yaml``, e.g. one with a ``root``)."""
        path = Path(path)
        file = path / CARD_FILE if path.is_dir() else path
        if not file.is_file():
            if path.suffix.lower() in CARD_SUFFIXES:
                raise ValidationError(f"No dataset card {path}: the file does not exist.")
            raise ValidationError(
                f"No dataset card {CARD_FILE} in {path}; "
                f"write one with `myovox card init {path} --layout ... --sfreq ...` "
                f"(or beside a read-only folder: `... --output CARD.yaml`)."
            )
        try:
            raw = file.read_bytes()
        except OSError as err:
            raise ValidationError(f"{file}: cannot read the card ({type(err).__name__}: {err}).") from None
        return cls.loads(raw, source=file)

    @classmethod
    def loads(cls, text: str | bytes, source: str | Path | None = None) -> DatasetCard:
        """A card from its YAML text; errors name ``source`` (the file or template it came from)."""
        file = source if source is not None else "dataset card"
        try:
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            at = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or type(err).__name__
            raise ValidationError(f"{file}: not valid YAML{at} ({problem}).") from None
        except UnicodeDecodeError as err:
            raise ValidationError(f"{file}: cannot read the card ({type(err).__name__}: {err}).") from None
        return cls.from_dict(data if data is not None else {}, source=source)

    @classmethod
    def template(cls, name: str) -> DatasetCard:
        """A card shipped with myovox (:func:`template_names`), without ``root``: give it the data folder."""
        names = template_names()
        if name not in names:
            raise ValidationError(
                f"Invalid value for 'template': no card template {name!r}; known: {', '.join(names)}."
                f"{did_you_mean(str(name), names)}"
            )
        text = resources.files(__package__).joinpath("cards").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
        card = cls.loads(text, source=f"template {name}")
        card.source = None
        return card

    def data_root(self, base: str | Path | None = None) -> Path:
        """The data folder: ``root`` (relative to ``base``, default the card file's folder), else that folder.

        Raises a one-line ``ValidationError`` naming the card file and ``root`` when it is not a folder.
        """
        if base is None:
            if self.source is None and (self.root is None or not Path(self.root).expanduser().is_absolute()):
                raise ValidationError(
                    f"{self._where()}: the card was not read from a file, so the data folder is unknown; "
                    "pass the folder (or an absolute 'root')."
                )
            base = self.source.parent if self.source is not None else Path.cwd()
        base = Path(base)
        if self.root is None:
            return base
        folder = Path(self.root).expanduser()
        folder = folder if folder.is_absolute() else base / folder
        if not folder.is_dir():
            what = "does not exist" if not folder.exists() else "is not a folder"
            raise self._fail("root", f"{self.root!r} ({folder}) {what}")
        return folder

    def dumps(self) -> str:
        """The card's YAML text (as :meth:`write` writes it)."""
        head = "# myovox dataset card: how to read this folder (see `myovox card --help`)\n"
        body = []
        for key, value in self.to_dict().items():  # one key a line (short lists and mappings inline)
            style = False if not isinstance(value, (dict, list)) else None
            body.append(yaml.safe_dump({key: value}, sort_keys=False, allow_unicode=True, default_flow_style=style))
        return head + "".join(body)

    def write(self, folder: str | Path, force: bool = False) -> Path:
        """Write ``<folder>/myovox-dataset.yaml`` (nothing else); an existing card is replaced only if ``force``."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ValidationError(f"Cannot write a dataset card: {folder} is not a folder.")
        return self.save(folder / CARD_FILE, force=force)

    def save(self, file: str | Path, force: bool = False) -> Path:
        """Write the card to ``file`` (a ``*.yaml``/``*.yml`` path; nothing else is written, no folder made).

        An existing file is replaced only if ``force``. A card kept outside its data folder needs
        ``root`` (:func:`root_for` gives the text for a folder).
        """
        file = Path(file)
        if file.suffix.lower() not in CARD_SUFFIXES:
            raise ValidationError(f"Cannot write a dataset card to {file}: the name must end in .yaml or .yml.")
        if not file.parent.is_dir():
            raise ValidationError(f"Cannot write a dataset card to {file}: {file.parent} is not a folder.")
        if file.exists() and not force:
            raise ValidationError(f"{file} already exists; pass force=True (--force) to replace it.")
        if file.exists() and not file.is_file():
            raise ValidationError(f"Cannot write a dataset card: {file} exists and is not a file.")
        try:
            file.write_text(self.dumps(), encoding="utf-8")
        except OSError as err:
            raise ValidationError(f"Cannot write a dataset card to {file} ({err.strerror or err}).") from None
        self.source = file
        return file


def template_names() -> list[str]:
    """Names of the cards shipped with myovox (``src/myovox/datasets/cards/*.yaml``), e.g. ``longterm-armband``."""
    folder = resources.files(__package__).joinpath("cards")
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir() if p.name.endswith(".yaml"))


def root_for(folder: str | Path, card_file: str | Path) -> str:
    """The ``root`` text of a card file for a data folder: relative to the card's folder when the two share
    a parent folder below the file system's root (so both can move together), else absolute."""
    folder, base = Path(folder).resolve(), Path(card_file).resolve().parent
    try:
        common = Path(os.path.commonpath([folder, base]))
    except ValueError:  # another drive
        return folder.as_posix()
    if common == Path(common.anchor):
        return folder.as_posix()
    return Path(os.path.relpath(folder, base)).as_posix()


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, numbers.Real))  # bool is a Real too


def _meta_yaml(value: Any) -> Any:
    if isinstance(value, dict):
        out = dict(value)
        out["values"] = {_yaml_key(k): v for k, v in value["values"].items()}
        return out
    return value


def _is_column(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, str) and bool(value.strip())


__all__ = ["CARD_FILE", "CARD_SUFFIXES", "DatasetCard", "label_key", "root_for", "template_names"]

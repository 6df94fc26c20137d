"""The model card: the one definition of what a saved or exported model carries.

A :class:`ModelCard` says how to feed a model: sampling rate, channel names and order, units, the
filter design and whether it runs causally, window and step, label map and rest label, input
normalisation, plus what it was trained on and which myovox wrote it. It is stored as
``model.json`` in a model folder (:mod:`myovox.models.io`), validated on load (unknown keys are
rejected, files of older schema versions are migrated, newer ones refused), and read by every
consumer of a model: ``train``, ``finetune``, ``evaluate``, the live recogniser, export and the demo.

:func:`model_windows` is the one function that turns a dataset into the windows a model expects.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np

from .._checks import did_you_mean
from .._json import to_jsonable
from .._logging import logger
from ..exceptions import DataFormatError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from ..dataset import Dataset
    from ..windows import Windows

__all__ = ["CARD_FILE", "FORMAT", "SCHEMA_VERSION", "ModelCard", "card_for", "card_from_training", "model_windows"]

FORMAT = "myovox-model"
#: version of the model.json schema; 1 was the sidecar of myovox <= 0.1 (migrated on read)
SCHEMA_VERSION = 2
CARD_FILE = "model.json"
#: file of the weights by model family; no format that runs code on load
WEIGHT_FILES = {"speechnet": "weights.npz", "classical": "model.skops"}


def _fail(source: str, message: str) -> DataFormatError:
    return DataFormatError(f"{source}: {message}")


@dataclass(frozen=True)
class ModelCard:
    """What a model needs from its input and what it predicts.

    Parameters
    ----------
    model : str
        Model name (``"speechnet"``, ``"rf"``, ``"lda"``, ``"svm"``).
    estimator : str
        Fully qualified class of the fitted estimator.
    sfreq : float
        Sampling rate of the input in Hz.
    ch_names : tuple of str
        Input channels, in the order the model expects them.
    window_s : float
        Window length in seconds.
    n_times : int
        Samples per window (``round(window_s * sfreq)``).
    classes : tuple
        Label id of each model output, in output order.
    label_map : dict
        Label id -> name (e.g. ``{0: "rest", 1: "up"}``).
    rest_label : int | None
        Label id of rest (no command), or None when the vocabulary has none.
    units : str
        Unit of the input samples (``"uV"``).
    filter : dict | None
        Filter design (:meth:`myovox.preprocessing.filters.FilterDesign.to_dict`) applied before
        windowing, or None for unfiltered input.
    causal : bool
        Whether the filter ran causally (as a live stream is filtered) or zero-phase.
    channel_selection : list of str | str | None
        The channels picked from the recordings before filtering (names, or a selection string as
        ``preprocess_dataset`` takes it), or None for all of them.
    step_s : float | None
        Step between windows for live (sliding-window) use, when the model was trained for one.
    window_mode : str
        How training windows were cut: ``"event"`` (one per label run) or ``"trial"``.
    normalization : dict | None
        Input standardisation fitted on the training data: ``{"mean": [...], "scale": [...]}``
        (per channel), applied by the model itself.
    params : dict
        Constructor parameters of the estimator.
    architecture : dict | None
        Network configuration (SpeechNet's ``get_config()``); None for classical models.
    training : dict
        What the model was trained (and fine-tuned) on: dataset, subjects, sessions, condition,
        window and class counts, and a ``fine_tuned`` list.
    classes_dtype : str
        NumPy dtype string of ``classes``.
    best_epoch : int | None
        Epoch whose weights were kept (neural models).
    myovox_version : str
        Version of myovox that wrote the card.
    schema_version : int
        Version of this schema.
    """

    model: str
    estimator: str
    sfreq: float
    ch_names: tuple[str, ...]
    window_s: float
    n_times: int
    classes: tuple[Any, ...]
    label_map: dict[int, str] = field(default_factory=dict)
    rest_label: int | None = 0
    units: str = "uV"
    filter: dict | None = None
    causal: bool = False
    channel_selection: str | list[str] | None = None
    step_s: float | None = None
    window_mode: str = "event"
    normalization: dict | None = None
    params: dict = field(default_factory=dict)
    architecture: dict | None = None
    training: dict = field(default_factory=dict)
    classes_dtype: str = "<i8"
    best_epoch: int | None = None
    myovox_version: str = ""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        self.validate("model card")

    # ------------------------------------------------------------------ derived
    @property
    def n_channels(self) -> int:
        """Number of input channels."""
        return len(self.ch_names)

    @property
    def n_classes(self) -> int:
        """Number of model outputs."""
        return len(self.classes)

    @property
    def weights_file(self) -> str:
        """Name of the weights file in the model folder."""
        return WEIGHT_FILES["speechnet" if self.model == "speechnet" else "classical"]

    def class_names(self) -> list[str]:
        """Name of each output (the label id as text where the label map has no name)."""
        return [self.label_map.get(int(c), str(c)) if _is_int(c) else str(c) for c in self.classes]

    # ------------------------------------------------------------------ validation
    def validate(self, source: str) -> None:
        """Raise ``DataFormatError`` (naming ``source``) for inconsistent or impossible values."""

        def bad(msg: str) -> DataFormatError:
            return _fail(source, msg)

        for name in ("model", "estimator", "units", "window_mode", "myovox_version", "classes_dtype"):
            if not isinstance(getattr(self, name), str):
                raise bad(f"{name!r} must be a string, got {getattr(self, name)!r}.")
        if not _finite_positive(self.sfreq):
            raise bad(f"'sfreq' must be a positive number of Hz, got {self.sfreq!r}.")
        if not _finite_positive(self.window_s):
            raise bad(f"'window_s' must be a positive number of seconds, got {self.window_s!r}.")
        if self.step_s is not None and not _finite_positive(self.step_s):
            raise bad(f"'step_s' must be a positive number of seconds or null, got {self.step_s!r}.")
        if not _is_int(self.n_times) or self.n_times < 1:
            raise bad(f"'n_times' must be a positive integer, got {self.n_times!r}.")
        if abs(self.n_times - self.window_s * self.sfreq) > 1:
            raise bad(
                f"'n_times' {self.n_times} does not match window_s={self.window_s:g} s at "
                f"{self.sfreq:g} Hz ({self.window_s * self.sfreq:g} samples)."
            )
        if not self.ch_names or not all(isinstance(c, str) and c for c in self.ch_names):
            raise bad("'ch_names' must be a non-empty list of channel names.")
        if len(set(self.ch_names)) != len(self.ch_names):
            raise bad(f"'ch_names' has duplicates: {list(self.ch_names)}.")
        if len(self.classes) < 1:
            raise bad("'classes' is empty.")
        if len(set(map(str, self.classes))) != len(self.classes):
            raise bad(f"'classes' has duplicates: {list(self.classes)}.")
        if not all(_is_int(k) and isinstance(v, str) for k, v in self.label_map.items()):
            raise bad("'label_map' must map integer label ids to names.")
        if self.rest_label is not None and not _is_int(self.rest_label):
            raise bad(f"'rest_label' must be an integer label id or null, got {self.rest_label!r}.")
        if self.window_mode not in ("event", "trial", "sliding"):
            raise bad(f"'window_mode' must be 'event', 'trial' or 'sliding', got {self.window_mode!r}.")
        if not isinstance(self.causal, bool):
            raise bad(f"'causal' must be true or false, got {self.causal!r}.")
        if self.filter is not None:
            if not isinstance(self.filter, dict):
                raise bad(f"'filter' must be a filter design object or null, got {type(self.filter).__name__}.")
            from ..preprocessing.pipeline import resolve_filter

            try:
                resolve_filter(self.filter, self.sfreq)
            except (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError) as err:
                raise bad(f"'filter' is not a valid filter design ({err}).") from None
        if self.channel_selection is not None and (not isinstance(self.channel_selection, (list, tuple, str))):
            raise bad("'channel_selection' must be a list of channel names or null.")
        if self.normalization is not None:
            norm = self.normalization
            if not isinstance(norm, dict) or set(norm) != {"mean", "scale"}:
                raise bad('\'normalization\' must be null or {"mean": [...], "scale": [...]}.')
            for key in ("mean", "scale"):
                arr = np.asarray(norm[key], dtype=float) if norm[key] is not None else None
                if arr is None or arr.shape != (self.n_channels,) or not np.isfinite(arr).all():
                    raise bad(f"'normalization.{key}' must hold {self.n_channels} finite numbers (one per channel).")
            if (np.asarray(norm["scale"], dtype=float) <= 0).any():
                raise bad("'normalization.scale' must be positive.")
        if self.model == "speechnet":
            arch = self.architecture
            if not isinstance(arch, dict):
                raise bad("a speechnet card needs its 'architecture'.")
            for key, want in (
                ("n_channels", self.n_channels),
                ("n_times", self.n_times),
                ("n_classes", self.n_classes),
            ):
                if arch.get(key) != want:
                    raise bad(f"architecture {key}={arch.get(key)!r} does not match the card ({want}).")
        for name in ("params", "training"):
            if not isinstance(getattr(self, name), dict):
                raise bad(f"{name!r} must be an object.")
        if not _is_int(self.schema_version):
            raise bad(f"'schema_version' must be an integer, got {self.schema_version!r}.")

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """The card as JSON-ready values (the content of ``model.json``)."""
        d = asdict(self)
        d["ch_names"] = list(self.ch_names)
        d["classes"] = list(self.classes)
        d["label_map"] = {str(k): v for k, v in self.label_map.items()}
        return {"format": FORMAT, **to_jsonable(d, strict=True, what=CARD_FILE)}

    def to_json(self) -> str:
        """``model.json`` text."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = CARD_FILE) -> ModelCard:
        """Validate and build a card; migrates schema 1 (older myovox sidecars).

        Raises
        ------
        DataFormatError
            Not a myovox model card, a newer schema, unknown or missing keys, invalid values.
        """
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise _fail(source, f'not a myovox model card ("format": {FORMAT!r} expected).')
        data = dict(data)
        version = data.get("schema_version", data.get("format_version"))
        if not _is_int(version):
            raise _fail(source, f"has no valid schema_version ({version!r}).")
        if version > SCHEMA_VERSION:
            raise _fail(
                source,
                f"has schema version {version}, this myovox reads up to {SCHEMA_VERSION} "
                f"(written by myovox {data.get('myovox_version')}); upgrade myovox.",
            )
        if version < 2:
            data = _migrate_v1(data, source)
        data.pop("format")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            hint = did_you_mean(unknown[0], names)
            raise _fail(source, f"unknown key(s) {', '.join(map(repr, unknown))} in the model card.{hint}")
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [k for k in required if k not in data]
        if missing:
            raise _fail(source, f"the model card lacks {', '.join(map(repr, missing))}.")
        for key, kind in (
            ("ch_names", list),
            ("classes", list),
            ("label_map", dict),
            ("params", dict),
            ("training", dict),
        ):
            if key in data and not isinstance(data[key], kind) and not (key == "label_map" and data[key] is None):
                raise _fail(
                    source,
                    f"{key!r} must be a{'n object' if kind is dict else ' list'}, got {type(data[key]).__name__}.",
                )
        try:
            data["ch_names"] = tuple(data["ch_names"])
            data["classes"] = tuple(
                np.asarray(data["classes"], dtype=np.dtype(data.get("classes_dtype", "<i8"))).tolist()
            )
            data["label_map"] = {int(k): v for k, v in (data.get("label_map") or {}).items()}
            for key in ("sfreq", "window_s"):
                if isinstance(data[key], bool) or not isinstance(data[key], (int, float)):
                    raise ValueError(f"{key!r} must be a number, got {data[key]!r}")
                data[key] = float(data[key])
        except (TypeError, ValueError, OverflowError) as err:
            raise _fail(source, f"invalid model card ({err}).") from None
        card = cls.__new__(cls)
        for f in fields(cls):
            if f.name in data:
                value = data[f.name]
            elif f.default is not MISSING:
                value = f.default
            elif f.default_factory is not MISSING:
                value = f.default_factory()
            else:  # the required fields were checked above
                raise _fail(source, f"the model card lacks {f.name!r}.")
            object.__setattr__(card, f.name, value)
        try:
            card.validate(source)
        except (TypeError, ValueError, AttributeError, OverflowError) as err:
            if isinstance(err, DataFormatError):
                raise
            raise _fail(source, f"invalid model card ({type(err).__name__}: {err}).") from None
        return card

    @classmethod
    def read(cls, path: str | Path) -> ModelCard:
        """Read ``model.json`` (or the ``model.json`` of a model folder)."""
        path = Path(path)
        if path.is_dir():
            path = path / CARD_FILE
        if not path.is_file():
            where = path.parent
            raise DataFormatError(
                f"{path} is missing: {where} is not a saved myovox model."
                if where.is_dir()
                else f"Model folder {where} does not exist."
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataFormatError(f"{path} is not valid JSON ({err}).") from None
        return cls.from_dict(data, source=str(path))

    def write(self, path: str | Path) -> Path:
        """Write ``model.json`` atomically (a folder gets ``folder/model.json``)."""
        path = Path(path)
        if path.is_dir():
            path = path / CARD_FILE
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)
        return path

    def replace(self, **changes: Any) -> ModelCard:
        """A copy with some fields changed (validated)."""
        return replace(self, **changes)

    # ------------------------------------------------------------------ use
    def describe(self) -> str:
        """A few lines for people: input, labels, training data."""
        flt = (
            "none"
            if not self.filter
            else (f"{self.filter.get('kind', 'filter')} ({'causal' if self.causal else 'zero-phase'})")
        )
        lines = [
            f"{self.model} ({self.estimator.rsplit('.', 1)[-1]}), myovox {self.myovox_version}",
            f"input: {self.n_channels} channels [{', '.join(self.ch_names[:4])}"
            f"{', ...' if self.n_channels > 4 else ''}] at {self.sfreq:g} Hz, {self.units}; "
            f"windows of {self.window_s:g} s ({self.n_times} samples); filter {flt}",
            f"outputs: {', '.join(self.class_names())} (rest: {self.rest_label})",
        ]
        tr = self.training
        if tr:
            lines.append(
                "trained on: "
                + ", ".join(
                    f"{k}={tr[k]}" for k in ("dataset", "subjects", "sessions", "condition", "n_windows") if k in tr
                )
            )
            for ft in tr.get("fine_tuned", []) or []:
                lines.append(f"fine-tuned: {ft}")
        return "\n".join(lines)


def _is_int(v: Any) -> TypeGuard[int | np.integer]:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _finite_positive(v: Any) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and math.isfinite(v) and bool(v > 0)


def _migrate_v1(side: dict[str, Any], source: str) -> dict[str, Any]:
    """Schema 1 (``format_version`` 1 sidecars of myovox 0.1) -> schema 2."""
    pre = side.get("preprocessing") or {}
    arch = side.get("speechnet_config")
    ch_names = side.get("ch_names") or pre.get("ch_names") or pre.get("channels")
    n_channels = side.get("n_channels") or (arch or {}).get("n_channels")
    if not ch_names and n_channels:
        ch_names = [f"Ch_{i}" for i in range(int(n_channels))]
    sfreq, window_s = side.get("sfreq", pre.get("sfreq")), side.get("window_s", pre.get("window_s"))
    n_times = side.get("n_times") or pre.get("n_samples")
    if n_times is None and sfreq and window_s:
        n_times = int(round(float(sfreq) * float(window_s)))
    if sfreq is None or window_s is None or not ch_names:
        raise _fail(
            source,
            "old (schema 1) model sidecar without sfreq, window_s or channels; retrain the model with this myovox.",
        )
    mean, scale = side.get("mean"), side.get("scale")
    training = dict((pre.get("trained_on") or {}).items())
    if pre.get("dataset") is not None:
        training.setdefault("dataset", pre["dataset"])
    if pre.get("fine_tuned"):
        training["fine_tuned"] = [pre["fine_tuned"]]
    logger.info("%s: migrated a schema-1 model sidecar to schema %d", source, SCHEMA_VERSION)
    return {
        "format": FORMAT,
        "model": side.get("model"),
        "estimator": side.get("estimator", ""),
        "sfreq": sfreq,
        "ch_names": ch_names,
        "window_s": window_s,
        "n_times": n_times,
        "classes": side.get("classes"),
        "classes_dtype": side.get("classes_dtype", "<i8"),
        "label_map": {str(k): v for k, v in (pre.get("label_map") or {}).items()},
        "rest_label": pre.get("rest_label", 0),
        "filter": pre.get("filter"),
        "causal": bool(pre.get("causal", False)),
        "channel_selection": pre.get("channel_selection"),
        "window_mode": pre.get("window_mode") or "event",
        "normalization": None if mean is None or scale is None else {"mean": mean, "scale": scale},
        "params": side.get("params") or {},
        "architecture": arch,
        "training": training,
        "best_epoch": side.get("best_epoch"),
        "myovox_version": side.get("myovox_version", ""),
        "schema_version": SCHEMA_VERSION,
    }


# ---------------------------------------------------------------------------- building and using cards
def card_for(
    model: Any,
    *,
    sfreq: float,
    ch_names: Any,
    n_times: int | None = None,
    window_s: float | None = None,
    label_map: Mapping[int, str] | None = None,
    rest_label: int | None = 0,
    filter: Mapping | None = None,
    causal: bool = False,
    channel_selection: Any = None,
    step_s: float | None = None,
    window_mode: str = "event",
    units: str = "uV",
    training: Mapping | None = None,
) -> ModelCard:
    """The card of a fitted ``model`` whose inputs are windows of ``ch_names`` at ``sfreq``.

    ``n_times`` defaults to the model's fitted window length; ``window_s`` to ``n_times / sfreq``.
    Normalisation and architecture are read from the model.
    """
    from .._version import __version__

    classes = np.asarray(model.classes_)
    if n_times is None:
        n_times = getattr(model, "n_times_in_", None)
        if n_times is None and window_s is not None:
            n_times = int(round(window_s * sfreq))
    if n_times is None:
        raise ValidationError("card_for needs n_times or window_s (the model does not record its window length).")
    norm = None
    if getattr(model, "mean_", None) is not None and getattr(model, "scale_", None) is not None:
        norm = {
            "mean": np.asarray(model.mean_, dtype=float).ravel().tolist(),
            "scale": np.asarray(model.scale_, dtype=float).ravel().tolist(),
        }
    return ModelCard(
        model=_model_name(model),
        estimator=f"{type(model).__module__}.{type(model).__name__}",
        sfreq=float(sfreq),
        ch_names=tuple(str(c) for c in ch_names),
        n_times=int(n_times),
        window_s=float(window_s if window_s is not None else n_times / sfreq),
        classes=tuple(classes.tolist()),
        classes_dtype=classes.dtype.str,
        label_map={int(k): str(v) for k, v in (label_map or {}).items()},
        rest_label=None if rest_label is None else int(rest_label),
        filter=None if filter is None else to_jsonable(dict(filter)),
        causal=bool(causal),
        channel_selection=None
        if channel_selection is None
        else (channel_selection if isinstance(channel_selection, str) else list(channel_selection)),
        step_s=step_s,
        window_mode=window_mode,
        units=units,
        normalization=norm,
        params=_model_params(model),
        architecture=model.net_.get_config() if hasattr(model, "net_") else None,
        training=to_jsonable(dict(training or {})),
        best_epoch=getattr(model, "best_epoch_", None),
        myovox_version=__version__,
    )


#: Percentile of the windows' RMS that gives a channel's quiet level (:func:`quiet_level`).
QUIET_PERCENTILE = 10.0


def quiet_level(X: np.ndarray, y: np.ndarray | None = None, rest_label: int | None = None) -> list[float]:
    """Each channel's quiet level: the :data:`QUIET_PERCENTILE`-th percentile of the windows' RMS.

    Over the rest-class windows when ``y`` and ``rest_label`` name some, else over all windows. Live
    label-free adaptation matches a stream's quiet level to it
    (:class:`myovox.adaptation.online.OnlineAdapter`); the model card keeps it in ``training``.
    """
    X = np.asarray(X)
    if y is not None and rest_label is not None and np.any(np.asarray(y) == rest_label):
        X = X[np.asarray(y) == rest_label]
    rms = np.sqrt(np.mean(np.square(X, dtype=np.float64), axis=2))  # (n_windows, n_channels)
    return [round(float(v), 6) for v in np.percentile(rms, QUIET_PERCENTILE, axis=0)]


def card_from_training(
    model: Any,
    windows: Windows,
    dataset: Dataset,
    *,
    rest_label: int | None,
    training: dict | None = None,
    step_s: float | None = None,
) -> ModelCard:
    """The card of ``model`` fitted on ``windows`` cut from the preprocessed ``dataset``.

    The filter, causality and channel selection come from ``dataset.info["preprocessing"]`` (set by
    :func:`myovox.preprocessing.pipeline.preprocess_dataset`).
    """
    from ..preprocessing.pipeline import resolve_filter

    pre = dataset.info.get("preprocessing", {})
    design = resolve_filter(pre.get("filter", dataset.info.get("filter", "silentwear")), windows.sfreq)
    summary = {
        "dataset": dataset.name,
        "subjects": dataset.meta_values("subject"),
        "sessions": dataset.meta_values("session"),
        "conditions": dataset.meta_values("condition"),
        "n_windows": len(windows),
        "classes": windows.class_counts(),
    }
    summary.update(training or {})
    summary.setdefault("quiet_level", quiet_level(windows.X, windows.y, rest_label))
    return card_for(
        model,
        sfreq=windows.sfreq,
        ch_names=windows.ch_names,
        n_times=windows.n_samples,
        window_s=windows.window_s,
        label_map=windows.label_names,
        rest_label=rest_label,
        filter=None if design is None or design.is_identity else design.to_dict(),
        causal=bool(pre.get("causal", False)),
        channel_selection=pre.get("channels"),
        step_s=step_s,
        window_mode=dataset.window_mode,
        training=summary,
    )


def _model_name(model: Any) -> str:
    if hasattr(model, "net_"):
        return "speechnet"
    clf = model.steps[-1][1] if hasattr(model, "steps") else model
    return {
        "RandomForestClassifier": "rf",
        "LinearDiscriminantAnalysis": "lda",
        "SVC": "svm",
        "CalibratedClassifierCV": "svm",
    }.get(type(clf).__name__, "sklearn")


def _model_params(model: Any) -> dict:
    if hasattr(model, "net_"):
        return to_jsonable(model.get_params(deep=False), strict=True, what=CARD_FILE)
    return {"repr": repr(model)}


def model_windows(dataset: Dataset, card: ModelCard, *, source: str = "the data") -> Windows:
    """The windows ``card``'s model expects, cut from a loaded, unprocessed ``dataset``.

    Applies the card's channel selection, filter (causal or zero-phase), window length and
    labels; lost samples (NaN) are interpolated before filtering. Checks that the result has the
    card's rate, channels and window length.

    Raises
    ------
    ValidationError
        The data cannot feed the model (rate, channels or window length differ).
    """
    from ..preprocessing.pipeline import dataset_windows

    rates = sorted({r.sfreq for r in dataset.recordings})
    target = (dataset.info or {}).get("resample") if isinstance(dataset.info, dict) else None
    rate_ok = target is not None and abs(float(target) - card.sfreq) <= 1e-6 * card.sfreq  # resampled on the way
    if rates and not rate_ok and any(abs(r - card.sfreq) > 1e-6 * card.sfreq for r in rates):
        raise ValidationError(
            f"{source} is sampled at {', '.join(f'{r:g}' for r in rates)} Hz; the model expects {card.sfreq:g} Hz "
            f"(set Dataset.info['resample'] = {card.sfreq:g} to resample it)."
        )
    channels: Any = card.channel_selection
    if channels is None:
        names = [tuple(r.ch_names) for r in dataset.recordings]
        if names and all(set(card.ch_names) <= set(n) for n in names) and any(n != card.ch_names for n in names):
            channels = list(card.ch_names)  # pick and reorder by name
    w = dataset_windows(
        dataset,
        window_s=card.window_s,
        causal=card.causal,
        filter=card.filter,
        channels=channels,
        nan_policy="interpolate",
    )
    if w.n_channels != card.n_channels:
        raise ValidationError(
            f"{source} has {w.n_channels} channels ({', '.join(w.ch_names[:4])}, ...); the model "
            f"expects {card.n_channels} ({', '.join(card.ch_names[:4])}, ...)."
        )
    if tuple(w.ch_names) != card.ch_names:
        logger.warning(
            "%s: channel names %s differ from the model's %s; using them in their order",
            source,
            list(w.ch_names)[:4],
            list(card.ch_names)[:4],
        )
    if w.n_samples != card.n_times:
        raise ValidationError(f"{source} gives {w.n_samples}-sample windows; the model expects {card.n_times}.")
    return w

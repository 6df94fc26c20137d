"""Save and load fitted models as a folder: ``model.json`` sidecar plus weights.

Layout
------
``model.json``
    ``format`` ("myovox-model"), ``format_version``, ``myovox_version``, ``model`` (name),
    ``estimator`` (class), ``params`` (constructor arguments), ``classes`` (+ ``classes_dtype``),
    ``label_map`` (output index -> label), ``n_channels``, ``n_times``, the ``preprocessing``
    dict given to :func:`save_model` (e.g. ``sfreq``, ``window_s``, ``ch_names``, ``filter``),
    with ``sfreq``, ``window_s`` and ``ch_names`` also copied to the top level; for SpeechNet also
    ``speechnet_config`` and the standardisation ``mean``/``scale``.
``weights.npz``
    SpeechNet's state dict as plain arrays (no pickle; loaded with ``allow_pickle=False``).
``model.pkl``
    Classical (scikit-learn) pipelines only, written with joblib. **Pickles are not safe**: loading
    one can run arbitrary code, so load only folders you trust.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .._json import to_jsonable
from ..exceptions import DataFormatError, ValidationError
from .._logging import logger

__all__ = ["save_model", "load_model", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_FORMAT = "myovox-model"
_PROMOTED = ("sfreq", "window_s", "ch_names")


def _jsonable(obj: Any) -> Any:
    return to_jsonable(obj, strict=True, what="model.json")


def _classical_name(model: Any) -> str:
    clf = model.steps[-1][1] if hasattr(model, "steps") else model
    return {"RandomForestClassifier": "rf", "LinearDiscriminantAnalysis": "lda", "SVC": "svm",
            "CalibratedClassifierCV": "svm"}.get(
        type(clf).__name__, "sklearn")


def save_model(model: Any, directory: str | Path, *, preprocessing: dict | None = None,
               overwrite: bool = False) -> Path:
    """Write a fitted model to ``directory`` (created); returns the folder path.

    Parameters
    ----------
    model : SpeechNetClassifier | sklearn estimator
        A fitted model.
    directory : str | Path
        Target folder; it must not exist or be empty unless ``overwrite``.
    preprocessing : dict | None
        What a user of the model needs to feed it: ``sfreq``, ``window_s``, ``ch_names``, the
        filter design dict, ... (JSON-like values).
    overwrite : bool
        Replace the files of an existing model folder.
    """
    from sklearn.utils.validation import check_is_fitted

    from .. import __version__
    from .neural import SpeechNetClassifier

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValidationError(f"Cannot save the model to {directory}: it is a file, not a folder.")
    if directory.exists() and any(directory.iterdir()) and not overwrite:
        raise FileExistsError(f"Model folder {directory} is not empty; pass overwrite=True to replace it.")
    if preprocessing is not None and not isinstance(preprocessing, dict):
        raise ValidationError(f"Invalid value for 'preprocessing': expected a dict, got {type(preprocessing).__name__}.")
    check_is_fitted(model)
    prep = _jsonable(dict(preprocessing or {}))
    classes = np.asarray(model.classes_)
    side: dict[str, Any] = {
        "format": _FORMAT, "format_version": FORMAT_VERSION, "myovox_version": __version__,
        "estimator": f"{type(model).__module__}.{type(model).__name__}",
        "classes": _jsonable(classes), "classes_dtype": classes.dtype.str,
        "label_map": {str(i): _jsonable(c) for i, c in enumerate(classes.tolist())},
        "preprocessing": prep,
    }
    for key in _PROMOTED:
        if key in prep:
            side[key] = prep[key]
    directory.mkdir(parents=True, exist_ok=True)
    for stale in ("weights.npz", "model.pkl"):
        (directory / stale).unlink(missing_ok=True)
    if isinstance(model, SpeechNetClassifier):
        cfg = model.net_.get_config()
        side.update(model="speechnet", params=_jsonable(model.get_params(deep=False)), speechnet_config=cfg,
                    n_channels=cfg["n_channels"], n_times=cfg["n_times"], best_epoch=getattr(model, "best_epoch_", None),
                    mean=_jsonable(model.mean_) if model.mean_ is not None else None,
                    scale=_jsonable(model.scale_) if model.scale_ is not None else None)
        state = {k: v.detach().cpu().numpy() for k, v in model.net_.state_dict().items()}
        with open(directory / "weights.npz", "wb") as fh:
            np.savez(fh, **state)
    else:
        import joblib

        side.update(model=_classical_name(model), params={"repr": repr(model)},
                    n_channels=getattr(model, "n_channels_in_", None), n_times=getattr(model, "n_times_in_", None))
        joblib.dump(model, directory / "model.pkl")
    tmp = directory / "model.json.tmp"
    tmp.write_text(json.dumps(side, indent=2))
    tmp.replace(directory / "model.json")
    logger.info("saved %s model to %s", side["model"], directory)
    return directory


def _read_sidecar(directory: Path) -> dict[str, Any]:
    path = directory / "model.json"
    if not directory.is_dir():
        raise DataFormatError(f"Model folder {directory} does not exist.")
    if not path.is_file():
        raise DataFormatError(f"{path} is missing: {directory} is not a saved myovox model.")
    try:
        side = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(f"{path} is not valid JSON ({err}).") from err
    if not isinstance(side, dict) or side.get("format") != _FORMAT:
        raise DataFormatError(f"{path} is not a myovox model sidecar (format {_FORMAT!r} expected).")
    version = side.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise DataFormatError(f"{path} has format_version {version!r}; this myovox reads up to {FORMAT_VERSION} "
                              f"(saved by myovox {side.get('myovox_version')}); upgrade myovox.")
    missing = [k for k in ("model", "classes", "classes_dtype", "params") if k not in side]
    if missing:
        raise DataFormatError(f"{path} lacks the keys {missing}.")
    return side


def load_model(directory: str | Path) -> tuple[Any, dict[str, Any]]:
    """Read a folder written by :func:`save_model`; returns ``(model, sidecar)``.

    Raises ``DataFormatError`` for a missing, corrupt or incomplete folder and for weights that do
    not fit the stored architecture (naming missing and unexpected keys).
    """
    from .. import __version__

    directory = Path(directory)
    side = _read_sidecar(directory)
    if side.get("myovox_version") != __version__:
        logger.warning("model in %s was saved by myovox %s, this is %s", directory, side.get("myovox_version"),
                       __version__)
    classes = np.asarray(side["classes"], dtype=np.dtype(side["classes_dtype"]))
    if side["model"] != "speechnet":
        path = directory / "model.pkl"
        if not path.is_file():
            raise DataFormatError(f"{path} is missing: the model folder {directory} is incomplete.")
        import joblib

        try:
            model = joblib.load(path)
        except Exception as err:  # noqa: BLE001 - any unpickling failure means a corrupt file
            raise DataFormatError(f"{path} cannot be read ({type(err).__name__}: {err}).") from err
        if not np.array_equal(np.asarray(getattr(model, "classes_", classes)), classes):
            raise DataFormatError(f"{path} does not match {directory / 'model.json'} (different classes).")
        return model, side
    return _load_speechnet(directory, side, classes), side


def _load_speechnet(directory: Path, side: dict[str, Any], classes: np.ndarray):
    import torch

    from .neural import SpeechNetClassifier
    from .speechnet import SpeechNet

    path = directory / "weights.npz"
    if not path.is_file():
        raise DataFormatError(f"{path} is missing: the model folder {directory} is incomplete.")
    if "speechnet_config" not in side:
        raise DataFormatError(f"{directory / 'model.json'} lacks 'speechnet_config'.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            state = {k: torch.from_numpy(np.array(npz[k])) for k in npz.files}
    except Exception as err:  # noqa: BLE001 - zip/npy errors of every kind mean a corrupt file
        raise DataFormatError(f"{path} cannot be read ({type(err).__name__}: {err}).") from err
    try:
        net = SpeechNet.from_config(side["speechnet_config"])
        net.load_state_dict_strict(state)
        model = SpeechNetClassifier(**side["params"])
    except (ValidationError, TypeError) as err:
        raise DataFormatError(f"{path} does not fit {directory / 'model.json'}: {err}") from err
    if net.get_config()["n_classes"] != len(classes):
        raise DataFormatError(f"{directory / 'model.json'}: {len(classes)} classes but the network has "
                              f"{net.get_config()['n_classes']} outputs.")
    net.eval()
    model.net_ = net
    model.classes_ = classes
    model.n_channels_in_ = int(side["speechnet_config"]["n_channels"])
    model.n_times_in_ = int(side["speechnet_config"]["n_times"])
    model.mean_ = None if side.get("mean") is None else np.asarray(side["mean"], dtype=np.float32)
    model.scale_ = None if side.get("scale") is None else np.asarray(side["scale"], dtype=np.float32)
    model.history_ = []
    model.best_epoch_ = side.get("best_epoch")
    return model

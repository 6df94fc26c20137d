"""Save and load fitted models as a folder: the model card plus weights in a safe format.

Layout
------
``model.json``
    The :class:`~myovox.models.card.ModelCard` (rate, channels, filter, window, labels,
    normalisation, training data, versions).
``weights.npz``
    SpeechNet's state dict as plain arrays (loaded with ``allow_pickle=False``).
``model.skops``
    Classical (scikit-learn) pipelines, in skops' format: loading it instantiates only the
    scikit-learn and myovox types listed in :data:`TRUSTED_TYPES`, never arbitrary code.
``model.pkl``
    Written by myovox 0.1 for classical models. **A pickle runs code when it is opened**, so it is
    loaded only with ``trust_pickle=True`` (``--trust-pickle``), with a warning.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._logging import logger
from .._outputs import output_folder
from ..exceptions import DataFormatError, ValidationError
from .card import CARD_FILE, ModelCard

if TYPE_CHECKING:
    from .neural import SpeechNetClassifier

__all__ = ["TRUSTED_TYPES", "load_model", "read_card", "save_model"]

#: types a ``model.skops`` may hold beyond those skops trusts by default
TRUSTED_TYPES = (
    "myovox.features.transformer.FeatureExtractor",
    "sklearn.tree._tree.Tree",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.isotonic.IsotonicRegression",
)


def save_model(
    model: Any,
    directory: str | Path,
    card: ModelCard,
    *,
    force: bool = False,
    extra_files: dict[str, Any] | None = None,
) -> Path:
    """Write a fitted model and its card to ``directory``; returns the folder path.

    The folder is written to a temporary sibling and renamed into place on success, so a failed
    save leaves nothing half-written.

    Parameters
    ----------
    model : SpeechNetClassifier | sklearn estimator
        A fitted model.
    directory : str | Path
        Target folder; it must not exist or be empty unless ``force``.
    card : ModelCard
        What the model needs from its input (:func:`myovox.models.card.card_from_training`).
    force : bool
        Replace a folder that myovox wrote before (never one holding other files).
    extra_files : dict | None
        Arrays to store next to the model, ``{"calibration.npz": {"X": array}}``.
    """
    from sklearn.utils.validation import check_is_fitted

    if not isinstance(card, ModelCard):
        raise ValidationError(f"Invalid value for 'card': expected a ModelCard, got {type(card).__name__}.")
    check_is_fitted(model)
    classes = np.asarray(model.classes_)
    if [str(c) for c in classes.tolist()] != [str(c) for c in card.classes]:
        raise ValidationError(f"The card's classes {list(card.classes)} are not the model's {classes.tolist()}.")
    with output_folder(directory, force=force, what="model folder") as tmp:
        if card.model == "speechnet":
            state = {k: v.detach().cpu().numpy() for k, v in model.net_.state_dict().items()}
            with open(tmp / card.weights_file, "wb") as fh:
                np.savez(fh, **state)
        else:
            import skops.io as sio

            sio.dump(model, tmp / card.weights_file)
        for name, arrays in (extra_files or {}).items():
            np.savez(tmp / name, **arrays)
        card.write(tmp / CARD_FILE)
    logger.info("saved %s model to %s", card.model, directory)
    return Path(directory)


def read_card(directory: str | Path) -> ModelCard:
    """The :class:`ModelCard` of a model folder (validated)."""
    return ModelCard.read(Path(directory))


def load_model(directory: str | Path, *, trust_pickle: bool = False) -> tuple[Any, ModelCard]:
    """Read a folder written by :func:`save_model`; returns ``(model, card)``.

    Parameters
    ----------
    directory : str | Path
        The model folder.
    trust_pickle : bool
        Open a ``model.pkl`` of myovox 0.1. A pickle runs code when opened: only for folders you
        made yourself.

    Raises
    ------
    DataFormatError
        A missing, corrupt or incomplete folder, weights that do not fit the card, a pickle without
        ``trust_pickle``, or a skops file holding types outside :data:`TRUSTED_TYPES`.
    """
    from .._version import __version__

    directory = Path(directory)
    if not directory.is_dir():
        raise DataFormatError(f"Model folder {directory} does not exist.")
    card = read_card(directory)
    if card.myovox_version != __version__:
        logger.info("model in %s was saved by myovox %s, this is %s", directory, card.myovox_version, __version__)
    if card.model == "speechnet":
        return _load_speechnet(directory, card), card
    return _load_classical(directory, card, trust_pickle), card


def _load_classical(directory: Path, card: ModelCard, trust_pickle: bool) -> Any:
    path = directory / card.weights_file
    pkl = directory / "model.pkl"
    if not path.is_file() and pkl.is_file():
        if not trust_pickle:
            raise DataFormatError(
                f"{pkl} is a pickle, which runs code when opened; it was not opened. If you made "
                "this model yourself, pass --trust-pickle (trust_pickle=True), then save it again."
            )
        warnings.warn(
            f"{pkl}: opening a pickle (trust_pickle=True); it can run arbitrary code.", UserWarning, stacklevel=3
        )
        import joblib

        return _check_classes(_read(joblib.load, pkl), pkl, card)
    if not path.is_file():
        raise DataFormatError(f"{path} is missing: the model folder {directory} is incomplete.")
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as err:  # noqa: BLE001 - zip/json errors of every kind mean a corrupt file
        raise DataFormatError(f"{path} cannot be read ({type(err).__name__}: {err}).") from None
    foreign = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if foreign:
        raise DataFormatError(f"{path} holds types myovox does not trust ({', '.join(foreign[:3])}); not loaded.")
    model = _read(lambda p: sio.load(p, trusted=list(untrusted)), path)
    return _check_classes(model, path, card)


def _read(fn: Any, path: Path) -> Any:
    try:
        return fn(path)
    except Exception as err:  # noqa: BLE001 - any failure to decode means a corrupt file
        raise DataFormatError(f"{path} cannot be read ({type(err).__name__}: {err}).") from None


def _check_classes(model: Any, path: Path, card: ModelCard) -> Any:
    got = [str(c) for c in np.asarray(getattr(model, "classes_", [])).tolist()]
    if got != [str(c) for c in card.classes]:
        raise DataFormatError(f"{path} does not match its {CARD_FILE} (classes {got} vs {list(card.classes)}).")
    return model


def _load_speechnet(directory: Path, card: ModelCard) -> SpeechNetClassifier:
    import torch

    from .neural import SpeechNetClassifier
    from .speechnet import SpeechNet

    path = directory / card.weights_file
    if not path.is_file():
        raise DataFormatError(f"{path} is missing: the model folder {directory} is incomplete.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            state = {k: torch.from_numpy(np.array(npz[k])) for k in npz.files}
    except Exception as err:  # noqa: BLE001 - zip/npy errors of every kind mean a corrupt file
        raise DataFormatError(f"{path} cannot be read ({type(err).__name__}: {err}).") from None
    if card.architecture is None:  # ModelCard.validate requires it of a speechnet card
        raise DataFormatError(f"{directory / CARD_FILE} has no 'architecture': a speechnet card needs one.")
    try:
        net = SpeechNet.from_config(card.architecture)
        net.load_state_dict_strict(state)
        model = SpeechNetClassifier(**card.params)
    except (ValidationError, TypeError, ValueError, RuntimeError, ArithmeticError) as err:
        raise DataFormatError(f"{path} does not fit {directory / CARD_FILE}: {err}") from None
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise DataFormatError(f"{path} has non-finite weights ({', '.join(bad[:3])}).")
    net.eval()
    model.net_ = net
    model.classes_ = np.asarray(card.classes, dtype=np.dtype(card.classes_dtype))
    model.n_channels_in_ = card.n_channels
    model.n_times_in_ = card.n_times
    norm = card.normalization
    model.mean_ = None if norm is None else np.asarray(norm["mean"], dtype=np.float32).reshape(-1, 1)
    model.scale_ = None if norm is None else np.asarray(norm["scale"], dtype=np.float32).reshape(-1, 1)
    model.history_ = []
    # None for a card written without it (schema 1); mypy types best_epoch_ as int from neural.py's
    # fit(), so the ignore goes once neural.py declares it int | None
    model.best_epoch_ = card.best_epoch  # type: ignore[assignment]
    return model

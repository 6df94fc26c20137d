"""``fine_tune``: adapt a fitted model to new windows without touching the caller's model."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

from .._checks import check_int, check_option, check_positive
from .._logging import logger, verbose
from ..exceptions import ValidationError
from ..windows import Windows

#: what is trained: every layer (the reference), only the linear head, or only BatchNorm layers
FINE_TUNE_STRATEGIES = ("all", "head", "bn")


@verbose
def fine_tune(
    model: Any,
    windows: Windows,
    strategy: str = "all",
    *,
    n_epochs: int = 50,
    lr: float | None = 1e-3,
    valid_size: float = 0.3,
    old_windows: Windows | None = None,
    builder: Callable[[Windows], Any] | None = None,
    random_state: Any = None,
    verbose: bool | str | int | None = None,
    **kw: Any,
) -> Any:
    """Return a copy of ``model`` adapted to ``windows``.

    Parameters
    ----------
    model : fitted estimator
        A model with ``fine_tune(X, y, n_epochs=, strategy=, valid_size=)`` (SpeechNet) is copied
        and fine-tuned. Other models (random forest, LDA, SVM) cannot be fine-tuned: when
        ``old_windows`` (the data it was trained on) are given, a fresh model is trained on old +
        new windows instead; otherwise a ``ValidationError`` says so.
    windows : Windows
        New labelled data.
    strategy : {"all", "head", "bn"}
        Which parameters are trained (neural models only).
    n_epochs : int
        Fine-tuning epochs (reference: 50).
    lr : float | None
        Learning rate (reference: 1e-3), passed where the model's ``fine_tune`` accepts ``lr``.
    valid_size : float
        Fraction held out for validation/early stopping (reference: 0.3).
    old_windows : Windows | None
        Training data of ``model``, for retraining non-neural models.
    builder : callable | None
        ``builder(windows) -> unfitted estimator`` for that retraining; default ``sklearn.clone(model)``.
    random_state : int | numpy.random.RandomState | None
        Seed given to a cloned estimator that has a ``random_state`` parameter.
    verbose : bool | str | int | None
        Logging level during the call (MNE's convention; ``None``: the myovox logger's level);
        a neural model's ``fine_tune`` also gets it (its epoch lines and progress bar).
    **kw
        Further keyword arguments of the model's ``fine_tune``.

    Returns
    -------
    model : a new fitted estimator; ``model`` itself is never modified.
    """
    check_option("strategy", strategy, FINE_TUNE_STRATEGIES)
    n_epochs = check_int("n_epochs", n_epochs, minimum=1)
    if not isinstance(windows, Windows):
        raise ValidationError(f"Invalid value for 'windows': expected myovox Windows, got {type(windows).__name__}.")
    if len(windows) == 0:
        raise ValidationError("Cannot fine-tune on 0 windows.")
    if hasattr(model, "fine_tune"):
        if not 0 <= valid_size < 1:
            raise ValidationError(f"Invalid value for 'valid_size': expected a fraction in [0, 1), got {valid_size!r}.")
        new = copy.deepcopy(model)
        accepted = inspect.signature(new.fine_tune).parameters
        takes_kw = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
        extra = dict(kw)
        if verbose is not None and ("verbose" in accepted or takes_kw):
            extra["verbose"] = verbose
        if lr is not None:
            check_positive("lr", lr, "learning rate")
            if "lr" in accepted or takes_kw:
                extra["lr"] = lr
            else:
                logger.debug("%s.fine_tune takes no lr; using its own", type(new).__name__)
        logger.info(
            "Fine-tuning %s (%s) on %d windows for %d epochs", type(new).__name__, strategy, len(windows), n_epochs
        )
        out = new.fine_tune(windows.X, windows.y, n_epochs=n_epochs, strategy=strategy, valid_size=valid_size, **extra)
        return new if out is None else out
    if old_windows is None:
        raise ValidationError(
            f"{type(model).__name__} cannot be fine-tuned; pass old_windows= (its training data) to retrain it on "
            "old + new data, or use a neural model such as 'speechnet'."
        )
    if strategy != "all":
        logger.warning(
            "strategy=%r has no meaning for %s; retraining on old + new data.", strategy, type(model).__name__
        )
    data = Windows.concatenate([old_windows, windows])
    if builder is not None:
        est = builder(data)
    else:
        from sklearn.base import clone

        est = clone(model)
        if random_state is not None and "random_state" in est.get_params():
            est.set_params(random_state=random_state)
    logger.info(
        "Retraining %s on %d old + %d new windows (no fine-tuning for this model)",
        type(est).__name__,
        len(old_windows),
        len(windows),
    )
    est.fit(data.X, data.y)
    return est


__all__ = ["FINE_TUNE_STRATEGIES", "fine_tune"]

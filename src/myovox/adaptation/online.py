"""Label-free adaptation while streaming: the new session's statistics, learnt from the stream itself.

The offline remedies of :mod:`.label_free` see a whole session at once; a live recogniser sees it
window by window. :class:`OnlineAdapter` keeps, for every class the model currently predicts with
confidence, a short first-in-first-out memory of recent windows, and adapts from those memories:

* ``"standardize"``: per-channel gains that bring the stream's levels to the training data's.
  For each class k seen confidently, the stream's mean square of each channel is compared with
  the training windows' mean square of class k (the model card's ``training["class_rms"]``);
  ``gain = sqrt(sum_k train_ms[k] / sum_k live_ms[k])`` over the classes seen, clipped to
  ``[1 / max_gain, max_gain]``. Any model.
* ``"bn"``: SpeechNet's batch-norm statistics re-estimated (:func:`.label_free.adapt`) on the
  memories of all classes together, every ``update_every`` windows.

**The guard.** A burst of one class (a participant repeating "up" for a minute, a long hold, a
cough fit) must not drag the statistics: each class's memory holds at most ``per_class``
windows, and every class seen weighs the same whatever its share of the stream; with
``"standardize"`` a class is compared only with its own training level, so a burst of it
changes no gain. Windows below ``min_confidence`` are not remembered, and nothing is adapted
before ``min_windows`` windows (the model as trained until then).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._checks import check_int, check_option, check_positive
from .._logging import logger
from ..exceptions import ValidationError
from .label_free import ADAPT_METHODS, adapt


class OnlineAdapter:
    """Label-free adaptation to a live stream, with a guard against bursts of one class.

    Parameters
    ----------
    model : estimator
        The trained model (``classes_``; ``"bn"`` needs batch norm: SpeechNet).
    method : {"standardize", "bn", "none"}
    class_rms : mapping | None
        ``{class: [rms of each channel]}`` of the training windows (the model card's
        ``training["class_rms"]``); required by ``"standardize"``.
    per_class : int
        Windows remembered per predicted class (default 32).
    min_windows : int
        Confident windows seen before the first adaptation (default 20).
    min_confidence : float
        Smallest top probability for a window to be remembered (default 0.5).
    update_every : int
        ``"bn"``: windows between two re-estimations (default 10).
    max_gain : float
        ``"standardize"``: largest gain (and smallest, 1 / ``max_gain``) per channel (default 4).
    """

    def __init__(
        self,
        model: Any,
        method: str = "standardize",
        *,
        class_rms: Mapping[Any, Any] | None = None,
        per_class: int = 32,
        min_windows: int = 20,
        min_confidence: float = 0.5,
        update_every: int = 10,
        max_gain: float = 4.0,
    ) -> None:
        self.method = check_option("method", method, ADAPT_METHODS)
        self.base = model
        self.classes = np.asarray(model.classes_)
        self.per_class = check_int("per_class", per_class, minimum=1)
        self.min_windows = check_int("min_windows", min_windows, minimum=1)
        self.update_every = check_int("update_every", update_every, minimum=1)
        if not 0.0 <= min_confidence <= 1.0:
            raise ValidationError(f"Invalid value for 'min_confidence': expected 0-1, got {min_confidence!r}.")
        self.min_confidence = float(min_confidence)
        self.max_gain = check_positive("max_gain", max_gain, "ratio >= 1")
        if self.max_gain < 1.0:
            raise ValidationError(f"Invalid value for 'max_gain': expected a ratio >= 1, got {max_gain!r}.")
        self.reference: dict[Any, np.ndarray] = {}
        if method == "standardize":
            if not class_rms:
                raise ValidationError(
                    "Live adapt='standardize' needs the training data's per-class levels (the model card's "
                    "training['class_rms'], written by `myovox train`); retrain the model, or use 'bn'."
                )
            known = {str(c): c for c in self.classes.tolist()}
            for key, rms in class_rms.items():
                if str(key) in known:
                    self.reference[known[str(key)]] = np.square(np.asarray(rms, dtype=np.float64))
        if method == "bn" and not hasattr(model, "_adapt_bn"):
            raise ValidationError(
                f"Live adapt='bn' needs a network with batch norm (speechnet); {type(model).__name__} has none. "
                "Use 'standardize', which works with any model."
            )
        self.reset()

    def reset(self) -> None:
        """Forget the stream (a new session): the model as trained, no memories."""
        self.model = self.base
        self.gains: np.ndarray | None = None
        self.memory: dict[Any, deque] = {}
        self.n_seen = 0
        self.n_adapted = 0
        self._since_update = 0

    # ------------------------------------------------------------------ use
    def transform(self, X: np.ndarray) -> np.ndarray:
        """Windows ``(n, channels, samples)`` as the current model takes them (gains applied)."""
        if self.gains is None:
            return X
        return (X * self.gains[None, :, None]).astype(X.dtype, copy=False)

    def update(self, X: np.ndarray, proba: np.ndarray) -> None:
        """Remember the confident windows of ``X`` (unscaled, as they came) under their predicted
        class and adapt; ``proba`` are the current model's probabilities for them."""
        if self.method == "none" or len(X) == 0:
            return
        proba = np.asarray(proba)
        top = np.argmax(proba, axis=1)
        for x, k, p in zip(X, top, proba[np.arange(len(X)), top], strict=True):
            if not np.isfinite(p) or p < self.min_confidence:
                continue
            cls = self.classes[k].item()
            mem = self.memory.setdefault(cls, deque(maxlen=self.per_class))
            if self.method == "standardize":
                mem.append(np.mean(np.square(x, dtype=np.float64), axis=1))  # a channel's mean square
            else:
                mem.append(np.array(x, dtype=np.float32))
            self.n_seen += 1
            self._since_update += 1
        if self.n_seen < self.min_windows:
            return
        if self.method == "standardize":
            self._update_gains()
        elif self._since_update >= self.update_every:
            self._update_bn()

    def _update_gains(self) -> None:
        shared = [c for c in self.memory if c in self.reference and self.memory[c]]
        if not shared:
            return
        train = np.sum([self.reference[c] for c in shared], axis=0)
        live = np.sum([np.mean(self.memory[c], axis=0) for c in shared], axis=0)
        ok = (live > 0) & (train > 0) & np.isfinite(live) & np.isfinite(train)
        gains = np.ones_like(train)
        gains[ok] = np.sqrt(train[ok] / live[ok])
        self.gains = np.clip(gains, 1.0 / self.max_gain, self.max_gain).astype(np.float32)
        self.n_adapted += 1

    def _update_bn(self) -> None:
        X = np.stack([x for mem in self.memory.values() for x in mem])
        self.model = adapt(self.base, X, "bn")
        self._since_update = 0
        self.n_adapted += 1
        logger.debug("online bn: re-estimated on %d windows of %d classes", len(X), len(self.memory))

    def state(self) -> dict[str, Any]:
        """What the adapter knows: windows seen, adaptations made, windows remembered per class, gains."""
        return {
            "method": self.method,
            "n_seen": self.n_seen,
            "n_adapted": self.n_adapted,
            "remembered": {str(c): len(m) for c, m in self.memory.items()},
            "gains": None if self.gains is None else [round(float(g), 4) for g in self.gains],
        }


__all__ = ["OnlineAdapter"]

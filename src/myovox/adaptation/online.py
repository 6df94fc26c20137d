"""Label-free adaptation while streaming: the new session's statistics, learnt from the stream itself.

The offline remedies of :mod:`.label_free` see a whole session at once; a live recogniser sees it
window by window. :class:`OnlineAdapter` adapts from the recent stream:

* ``"standardize"``: per-channel gains that bring the stream's quiet level to the training data's.
  A channel's quiet level is the 10th percentile of the windows' RMS (the training data's, over its
  rest windows, is the model card's ``training["quiet_level"]``); the stream's is taken over its last
  ``memory`` windows; ``gain = train / stream``, clipped to ``[1 / max_gain, max_gain]``. A re-donned
  band's contact gains scale the quiet level as they scale everything else. Any model.
* ``"bn"``: SpeechNet's batch-norm statistics re-estimated (:func:`.label_free.adapt`) on recent
  windows, every ``update_every`` windows.

**The guard** against a burst of one class (a participant repeating "up" for a minute, a long hold):
``"standardize"`` uses no predicted label at all (no feedback from the model's own mistakes), and a
low percentile over the last minute moves only when commands fill more than 90 % of that minute;
``"bn"`` remembers windows per predicted class (those of top probability >= ``min_confidence``), at
most ``per_class`` each, so every class weighs the same however long it is held. Nothing is adapted
before ``min_windows`` windows (the model as trained until then).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
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
    quiet_level : sequence of float | None
        Each channel's quiet level in the training data (the model card's ``training["quiet_level"]``,
        :func:`myovox.models.card.quiet_level`); required by ``"standardize"``.
    memory : int
        ``"standardize"``: windows over which the stream's quiet level is taken (default 600: a minute
        at a 0.1 s step).
    min_windows : int
        Windows seen before the first adaptation (default 20).
    per_class : int
        ``"bn"``: windows remembered per predicted class (default 32).
    min_confidence : float
        ``"bn"``: smallest top probability for a window to be remembered (default 0.5).
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
        quiet_level: Sequence[float] | None = None,
        memory: int = 600,
        min_windows: int = 20,
        per_class: int = 32,
        min_confidence: float = 0.5,
        update_every: int = 10,
        max_gain: float = 4.0,
    ) -> None:
        self.method = check_option("method", method, ADAPT_METHODS)
        self.base = model
        self.classes = np.asarray(model.classes_)
        self.memory_size = check_int("memory", memory, minimum=1)
        self.per_class = check_int("per_class", per_class, minimum=1)
        self.min_windows = check_int("min_windows", min_windows, minimum=1)
        self.update_every = check_int("update_every", update_every, minimum=1)
        if not 0.0 <= min_confidence <= 1.0:
            raise ValidationError(f"Invalid value for 'min_confidence': expected 0-1, got {min_confidence!r}.")
        self.min_confidence = float(min_confidence)
        self.max_gain = check_positive("max_gain", max_gain, "ratio >= 1")
        if self.max_gain < 1.0:
            raise ValidationError(f"Invalid value for 'max_gain': expected a ratio >= 1, got {max_gain!r}.")
        self.reference: np.ndarray | None = None
        if method == "standardize":
            if quiet_level is None or len(quiet_level) == 0:
                raise ValidationError(
                    "Live adapt='standardize' needs the training data's quiet level (the model card's "
                    "training['quiet_level'], written by `myovox train`); retrain the model, or use 'bn'."
                )
            self.reference = np.asarray(quiet_level, dtype=np.float64)
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
        self.levels: deque = deque(maxlen=self.memory_size)  # standardize: each recent window's channel RMS
        self.memory: dict[Any, deque] = {}  # bn: recent windows per predicted class
        self.n_seen = 0
        self.n_adapted = 0
        self._since_update = 0

    # ------------------------------------------------------------------ use
    def transform(self, X: np.ndarray) -> np.ndarray:
        """Windows ``(n, channels, samples)`` as the current model takes them (gains applied)."""
        if self.gains is None:
            return X
        return (X * self.gains[None, :, None]).astype(X.dtype, copy=False)

    def update(self, X: np.ndarray, proba: np.ndarray | None = None) -> None:
        """Learn from windows ``X`` of the stream (unscaled, as they came) and adapt; ``proba`` (the
        current model's probabilities for them) are needed by ``"bn"`` only."""
        if self.method == "none" or len(X) == 0:
            return
        if self.method == "standardize":
            if self.reference is not None and X.shape[1] != len(self.reference):
                raise ValidationError(
                    f"adapt: the stream's windows have {X.shape[1]} channels, the model's quiet level "
                    f"{len(self.reference)} (another channel layout?)."
                )
            self.levels.extend(np.sqrt(np.mean(np.square(X, dtype=np.float64), axis=2)))
            self.n_seen += len(X)
            if self.n_seen >= self.min_windows:
                self._update_gains()
            return
        if proba is None:
            raise ValidationError("OnlineAdapter.update: adapt='bn' needs the model's probabilities (proba).")
        proba = np.asarray(proba)
        top = np.argmax(proba, axis=1)
        for x, k, p in zip(X, top, proba[np.arange(len(X)), top], strict=True):
            if not np.isfinite(p) or p < self.min_confidence:
                continue
            mem = self.memory.setdefault(self.classes[k].item(), deque(maxlen=self.per_class))
            mem.append(np.array(x, dtype=np.float32))
            self.n_seen += 1
            self._since_update += 1
        if self.n_seen >= self.min_windows and self._since_update >= self.update_every:
            self._update_bn()

    def _update_gains(self) -> None:
        from ..models.card import QUIET_PERCENTILE

        ref = self.reference
        if ref is None:
            return
        live = np.percentile(np.asarray(self.levels), QUIET_PERCENTILE, axis=0)
        ok = (live > 0) & (ref > 0) & np.isfinite(live)
        gains = np.ones_like(live)
        gains[ok] = ref[ok] / live[ok]
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
            "remembered": {str(c): len(m) for c, m in self.memory.items()} if self.method == "bn" else len(self.levels),
            "gains": None if self.gains is None else [round(float(g), 4) for g in self.gains],
        }


__all__ = ["OnlineAdapter"]

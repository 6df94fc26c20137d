"""Small stand-ins for the evaluation tests: hand-made windows and tiny, fast models."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from myovox.windows import Windows


def _flatten(X):
    return np.asarray(X).reshape(len(X), -1)


def flat_lda():
    """LDA on flattened windows (a fast stand-in for the registry's models)."""
    return make_pipeline(FunctionTransformer(_flatten), LinearDiscriminantAnalysis())


class Centroids(ClassifierMixin, BaseEstimator):
    """Nearest class centroid on per-channel means; ``fine_tune`` moves centroids to new data."""

    def __init__(self, random_state=None, valid_size=0.2):
        self.random_state = random_state
        self.valid_size = valid_size

    def _feat(self, X):
        return np.asarray(X).mean(axis=2)

    def fit(self, X, y):
        F = self._feat(X)
        self.classes_ = np.unique(y)
        self.centroids_ = np.stack([F[y == c].mean(axis=0) for c in self.classes_])
        self.n_fine_tunes_ = 0
        return self

    def predict(self, X):
        d = ((self._feat(X)[:, None, :] - self.centroids_[None]) ** 2).sum(-1)
        return self.classes_[np.argmin(d, axis=1)]

    def fine_tune(self, X, y, n_epochs=50, strategy="all", valid_size=0.3, lr=None):
        F = self._feat(X)
        for i, c in enumerate(self.classes_):
            if np.any(y == c):
                self.centroids_[i] = 0.2 * self.centroids_[i] + 0.8 * F[y == c].mean(axis=0)
        self.n_fine_tunes_ += 1
        self.last_fine_tune_ = {"n_epochs": n_epochs, "strategy": strategy, "valid_size": valid_size, "lr": lr}
        return self


def synth_windows(
    n_subjects=2,
    n_sessions=2,
    n_batches=3,
    n_per_class=4,
    n_classes=3,
    n_channels=4,
    n_times=20,
    conditions=(None,),
    session_shift=0.0,
    rest_extra=2,
    seed=0,
    sfreq=100.0,
):
    """Windows with meta subject/session/batch/condition/recording/start/stop; class c raises channel c."""
    rng = np.random.default_rng(seed)
    X, y, meta = [], [], {k: [] for k in ("subject", "session", "batch", "condition", "recording", "start", "stop")}
    rec = 0
    for s in range(1, n_subjects + 1):
        for cond in conditions:
            for sess in range(1, n_sessions + 1):
                shift = session_shift * (sess - 1)
                for b in range(1, n_batches + 1):
                    labels = []
                    for c in range(n_classes):
                        labels += [c] * (n_per_class * (rest_extra if c == 0 else 1))
                    rng.shuffle(labels)
                    for k, c in enumerate(labels):
                        x = rng.normal(size=(n_channels, n_times))
                        x[c % n_channels] += 2.0
                        x[(c + 1) % n_channels] += shift  # session shift moves the pattern
                        X.append(x)
                        y.append(c)
                        meta["subject"].append(f"S{s:02d}")
                        meta["session"].append(sess)
                        meta["batch"].append(b)
                        meta["condition"].append(cond if cond is not None else "vocalized")
                        meta["recording"].append(rec)
                        meta["start"].append(k * 2 * n_times)
                        meta["stop"].append(k * 2 * n_times + n_times)
                    rec += 1
    names = {i: ("rest" if i == 0 else f"w{i}") for i in range(n_classes)}
    return Windows(
        np.asarray(X),
        np.asarray(y),
        sfreq,
        label_names=names,
        groups=np.asarray(meta["recording"]),
        meta={k: np.asarray(v) for k, v in meta.items()},
    )


@pytest.fixture
def windows():
    return synth_windows()


@pytest.fixture
def make_windows_():
    """The ``synth_windows`` factory."""
    return synth_windows


@pytest.fixture
def lda():
    return flat_lda()


@pytest.fixture
def centroids():
    return Centroids()


def synth_dataset(
    n_subjects=2, n_sessions=2, n_batches=2, n_reps=2, n_words=3, sfreq=100.0, seed=0, conditions=("vocalized",)
):
    """A tiny event-mode Dataset: rest 1 s / word 1.5 s runs; word c bursts on channel c-1."""
    from myovox.dataset import Dataset
    from myovox.recording import Recording

    rng = np.random.default_rng(seed)
    recs = []
    for s in range(1, n_subjects + 1):
        for cond in conditions:
            for sess in range(1, n_sessions + 1):
                for b in range(1, n_batches + 1):
                    words = np.repeat(np.arange(1, n_words + 1), n_reps)
                    rng.shuffle(words)
                    chunks, labels = [], []
                    for w in words:
                        for lab, dur in ((0, 1.0), (int(w), 1.5)):
                            n = int(dur * sfreq)
                            x = 0.1 * rng.normal(size=(4, n))
                            if lab:
                                x[lab - 1] += np.sin(2 * np.pi * 30 * np.arange(n) / sfreq)
                            chunks.append(x)
                            labels.append(np.full(n, lab))
                    chunks.append(0.1 * rng.normal(size=(4, int(sfreq))))
                    labels.append(np.zeros(int(sfreq), dtype=int))
                    recs.append(
                        Recording(
                            np.concatenate(chunks, axis=1),
                            sfreq,
                            labels=np.concatenate(labels),
                            label_names={0: "rest", 1: "up", 2: "down", 3: "left"},
                            meta={"subject": f"S{s:02d}", "session": sess, "batch": b, "condition": cond},
                        )
                    )
    return Dataset(
        recs,
        "tiny",
        window_s=1.0,
        window_mode="event",
        info={"filter": {"highpass": 20.0, "notch": None}, "channels": None, "rest_label": 0},
    )


@pytest.fixture
def dataset():
    return synth_dataset()

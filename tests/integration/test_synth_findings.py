"""The synthetic generator reproduces SilentWear's findings with a simple classifier.

Per-channel log-RMS in 7 sub-windows of 1.4 s event windows + shrinkage LDA:
high within-session accuracy, a clear drop on a new session (electrode shift), recovery when one
batch of the new session is added to training, and silent below vocalized.
"""
from __future__ import annotations

import numpy as np
import pytest

from myovox.testing.synth import SynthConfig, generate_recording

KEPT = [0, 1, 2, 5, 3, 4, 7, 6, 8, 15, 9, 14, 10, 13]
WIN = 700  # 1.4 s at 500 Hz
N_SUB = 7


def _filter(data: np.ndarray, sfreq: float) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    sos = np.vstack([butter(4, 20, "highpass", fs=sfreq, output="sos"),
                     butter(2, [47.5, 52.5], "bandstop", fs=sfreq, output="sos")])
    return sosfiltfilt(sos, data.astype(np.float64), axis=1)


def _features(rec) -> tuple[np.ndarray, np.ndarray]:
    """Log-RMS features of one window per label run (starting at the run's first sample)."""
    x = _filter(rec.data[KEPT], rec.sfreq)
    starts, ys = [], []
    for a, _, lab in rec.label_runs():
        if a + WIN <= x.shape[1]:
            starts.append(a)
            ys.append(lab)
    idx = np.asarray(starts)[:, None] + np.arange(WIN)[None, :]
    w = x[:, idx].transpose(1, 0, 2)  # (n, ch, WIN)
    sub = w[:, :, : WIN // N_SUB * N_SUB].reshape(len(starts), len(KEPT), N_SUB, -1)
    feats = 0.5 * np.log(np.mean(sub ** 2, axis=-1) + 1e-6)
    return feats.reshape(len(starts), -1), np.asarray(ys)


def _balance_rest(X, y, rng):
    """Down-sample rest to the per-word count (training pools only, as the reference)."""
    rest = np.flatnonzero(y == 0)
    n_word = int(np.max(np.bincount(y)[1:]))
    keep = np.concatenate([np.flatnonzero(y != 0), rng.choice(rest, min(n_word, rest.size), replace=False)])
    return X[keep], y[keep]


def _score(train, test, seed=0) -> float:
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.concatenate([f[0] for f in train])
    y = np.concatenate([f[1] for f in train])
    X, y = _balance_rest(X, y, np.random.default_rng(seed))
    clf = make_pipeline(StandardScaler(), LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"))
    clf.fit(X, y)
    Xt = np.concatenate([f[0] for f in test])
    yt = np.concatenate([f[1] for f in test])
    return float(balanced_accuracy_score(yt, clf.predict(Xt)))


def measure(condition: str, *, n_sessions: int = 3, n_batches: int = 3, n_repetitions: int = 8,
            seed: int = 0, subject: int = 1, config: SynthConfig | None = None) -> dict[str, float]:
    """Within-session, inter-session and one-batch-recovery balanced accuracies."""
    cfg = (config or SynthConfig()).replace(n_repetitions=n_repetitions)
    F = {(s, b): _features(generate_recording(subject, s, b, condition, config=cfg, seed=seed))
         for s in range(1, n_sessions + 1) for b in range(1, n_batches + 1)}
    within, inter, inter_late, recovered = [], [], [], []
    for s in range(1, n_sessions + 1):
        for b in range(1, n_batches + 1):
            within.append(_score([F[s, o] for o in range(1, n_batches + 1) if o != b], [F[s, b]]))
        old = [F[o, b] for o in range(1, n_sessions + 1) if o != s for b in range(1, n_batches + 1)]
        inter.append(_score(old, [F[s, b] for b in range(1, n_batches + 1)]))
        late = [F[s, b] for b in range(2, n_batches + 1)]
        inter_late.append(_score(old, late))
        recovered.append(_score(old + [F[s, 1]], late))
    return {"within": float(np.mean(within)), "inter": float(np.mean(inter)),
            "inter_late": float(np.mean(inter_late)), "recovered": float(np.mean(recovered))}


@pytest.mark.slow
def test_synthetic_dataset_shows_the_reference_findings():
    voc = measure("vocalized")
    sil = measure("silent")
    print("vocalized", voc, "silent", sil)
    assert voc["within"] > 0.85
    assert voc["within"] - voc["inter"] >= 0.15
    assert voc["recovered"] - voc["inter_late"] >= 0.10
    assert sil["within"] < voc["within"]
    assert sil["inter"] < voc["inter"]
    assert sil["within"] > 0.5  # silent is harder but still learnable

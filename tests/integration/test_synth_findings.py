"""The synthetic generator reproduces SilentWear's findings with a simple classifier.

Per-channel log-RMS in 7 sub-windows of 1.4 s event windows (myovox.preprocessing, .windows and
.features) + shrinkage LDA:
high within-session accuracy, a clear drop on a new session (electrode shift), recovery when one
batch of the new session is added to training, and silent below vocalized. On the ``easy``
preset, whose words are clearly separable, so that each finding shows with a linear model and a
few repetitions; the ``reference`` preset's calibration against the reference's numbers is
``benchmarks/synth_calibration.py`` (and its quick run in tests/integration/test_synth_calibration.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from myovox.testing.synth import SynthConfig, generate_recording

WINDOW_S = 1.4
N_SUB = 7


def _features(rec) -> tuple[np.ndarray, np.ndarray]:
    """Log-RMS of 7 sub-windows per channel, one 1.4 s window per label run (SilentWear's rule)."""
    from myovox.features import rms, split_subwindows
    from myovox.preprocessing.pipeline import preprocess
    from myovox.windows import event_windows

    # SilentWear: 14 channels in model order, HP 20 Hz + 50 Hz band-stop, zero-phase
    w = event_windows(preprocess(rec, filter="silentwear", channels="silentwear"), WINDOW_S)
    feats = np.log(rms(split_subwindows(w.X, N_SUB)) + 1e-3)
    return feats.reshape(len(w), -1), w.y


def _balance_rest(X, y, rng):
    """Down-sample rest to the per-word count (training pools only, as the reference)."""
    rest = np.flatnonzero(y == 0)
    n_word = int(round(np.bincount(y)[1:].mean()))
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


def measure(
    condition: str,
    *,
    n_sessions: int = 3,
    n_batches: int = 3,
    n_repetitions: int = 8,
    seed: int = 0,
    subject: int = 1,
    config: SynthConfig | None = None,
) -> dict[str, float]:
    """Balanced accuracies (9 classes) of one subject, averaged over held-out sessions.

    ``within``: leave-one-batch-out inside each session. ``inter``: train on the other sessions,
    test on all batches of the held-out one. ``inter_late``: the same model tested on batches
    2.. of the held-out session; ``recovered``: trained on the other sessions plus batch 1 of the
    held-out one, tested on batches 2..; ``scratch``: trained on batch 1 alone.
    """
    cfg = (config or SynthConfig.preset("easy")).replace(n_repetitions=n_repetitions)
    F = {
        (s, b): _features(generate_recording(subject, s, b, condition, config=cfg, seed=seed))
        for s in range(1, n_sessions + 1)
        for b in range(1, n_batches + 1)
    }
    within, inter, inter_late, recovered, scratch = [], [], [], [], []
    for s in range(1, n_sessions + 1):
        for b in range(1, n_batches + 1):
            within.append(_score([F[s, o] for o in range(1, n_batches + 1) if o != b], [F[s, b]]))
        old = [F[o, b] for o in range(1, n_sessions + 1) if o != s for b in range(1, n_batches + 1)]
        inter.append(_score(old, [F[s, b] for b in range(1, n_batches + 1)]))
        late = [F[s, b] for b in range(2, n_batches + 1)]
        inter_late.append(_score(old, late))
        recovered.append(_score(old + [F[s, 1]], late))
        scratch.append(_score([F[s, 1]], late))
    return {
        "within": float(np.mean(within)),
        "inter": float(np.mean(inter)),
        "inter_late": float(np.mean(inter_late)),
        "recovered": float(np.mean(recovered)),
        "scratch": float(np.mean(scratch)),
    }


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

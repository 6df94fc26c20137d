"""``n_threads="auto"``: use the cores that other processes leave idle."""

import numpy as np
import pytest

import myovox.models.neural as neural


@pytest.mark.parametrize(("load", "expected"), [(0.0, 4), (1.2, 3), (3.0, 1), (9.0, 1)])
def test_auto_threads_follows_idle_cores(monkeypatch, load, expected):
    monkeypatch.setattr(neural.os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(neural.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(neural, "_CPU_SAMPLES", [])
    assert neural._auto_threads(4) == expected
    assert neural._auto_threads(1) == 1  # never above torch's setting


def test_auto_threads_without_loadavg(monkeypatch):
    def boom():
        raise OSError("no load average here")

    monkeypatch.setattr(neural.os, "getloadavg", boom)
    assert neural._auto_threads(3) == 3


def test_fit_records_threads_and_rejects_bad_values():
    pytest.importorskip("torch")
    X = np.random.default_rng(0).standard_normal((24, 4, 128)).astype(np.float32)
    y = np.arange(24) % 3
    clf = neural.SpeechNetClassifier(n_epochs=1, random_state=0, valid_size=0).fit(X, y)
    assert clf.get_params()["n_threads"] == "auto" and clf.n_threads_used_ >= 1
    with pytest.raises(ValueError, match="n_threads"):
        neural.SpeechNetClassifier(n_threads="many").fit(X, y)

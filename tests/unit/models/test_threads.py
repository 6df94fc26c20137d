"""``n_threads="auto"``: use the cores that other processes leave idle."""

import numpy as np
import pytest

import myovox.models.neural as neural


@pytest.mark.parametrize(("load", "expected"), [(0.0, 4), (1.2, 3), (3.0, 1), (9.0, 1)])
def test_auto_threads_follows_idle_cores(monkeypatch, load, expected):
    monkeypatch.setattr(neural.os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(neural, "_n_cores", lambda: 4)
    monkeypatch.setattr(neural, "_others_running_now", lambda: None)
    monkeypatch.setattr(neural, "_CPU_SAMPLES", [])
    assert neural._auto_threads(4) == expected
    assert neural._auto_threads(1) == 1  # never above torch's setting


@pytest.mark.parametrize(
    ("n_cores", "others_avg", "others_now", "expected"),
    [
        (2, 0.0, 0.0, 2),  # idle
        (2, 1.9, 0.0, 2),  # load average still holds past work (a finished job, this process's own)
        (2, 0.3, 1.0, 2),  # a brief task runnable at this instant
        (2, 1.0, 1.0, 1),  # another process keeps a core busy: no oversubscription
        (2, 3.0, 2.0, 1),
        (2, 0.4, None, 2),  # no snapshot (not Linux): the load average alone
        (2, 1.0, None, 1),
        (8, 2.2, 3.0, 6),
        (1, 0.0, 0.0, 1),
    ],
)
def test_choose_threads(n_cores, others_avg, others_now, expected):
    assert neural._choose_threads(8, n_cores, others_avg, others_now) == expected
    assert neural._choose_threads(1, n_cores, others_avg, others_now) == 1  # never above torch's setting


def test_auto_threads_on_an_idle_machine_ignores_a_stale_load_average(monkeypatch):
    """The 1-minute load average still shows work that ended; nothing else runs now: all cores."""
    monkeypatch.setattr(neural.os, "getloadavg", lambda: (1.8, 1.5, 1.0))
    monkeypatch.setattr(neural, "_n_cores", lambda: 2)
    monkeypatch.setattr(neural, "_others_running_now", lambda: 0.0)
    monkeypatch.setattr(neural, "_CPU_SAMPLES", [])
    assert neural._auto_threads(2) == 2


def test_others_running_now_reads_proc():
    import os

    value = neural._others_running_now()
    if not os.path.exists("/proc/loadavg"):
        assert value is None
    else:
        assert value is not None and value >= 0.0


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

import numpy as np
import pytest

from myovox import Recording, ValidationError, Windows


def _rec(n_ch=3, n_t=100):
    labels = np.zeros(n_t, int)
    labels[20:40] = 1
    labels[60:80] = 3
    return Recording(
        np.random.default_rng(0).normal(size=(n_ch, n_t)),
        500.0,
        labels=labels,
        meta={"subject": "S01", "source": "x.bio"},
    )


def test_recording_basics():
    r = _rec()
    assert r.n_channels == 3 and r.n_times == 100 and r.duration == pytest.approx(0.2)
    assert r.label_runs() == [(0, 20, 0), (20, 40, 1), (40, 60, 0), (60, 80, 3), (80, 100, 0)]
    assert r.class_counts() == {"rest": 3, "up": 1, "left": 1}
    assert "3 ch x 100 samples" in repr(r)
    p = r.pick(["Ch_2", 0])
    np.testing.assert_array_equal(p.data, r.data[[2, 0]])
    c = r.crop_samples(10, 50)
    assert c.n_times == 40 and c.meta["first_sample"] == 10


def test_recording_errors_name_the_problem():
    with pytest.raises(ValidationError, match="2-D"):
        Recording(np.zeros(5), 500)
    with pytest.raises(ValidationError, match="positive"):
        Recording(np.zeros((2, 5)), -1)
    with pytest.raises(ValidationError, match="one per sample"):
        Recording(np.zeros((2, 5)), 500, labels=np.zeros(4, int))
    with pytest.raises(ValidationError, match=r"does not exist.*Did you mean"):
        _rec().pick(["Ch_l"])
    with pytest.raises(ValidationError, match=r"x.bio"):
        _rec().pick([7])


def test_windows_select_and_concatenate():
    X = np.zeros((4, 2, 10))
    w = Windows(X, [0, 1, 1, 2], 100.0, meta={"session": [1, 1, 2, 2]})
    assert len(w.select(session=2)) == 2
    assert w.class_counts() == {"0": 1, "1": 2, "2": 1}
    both = Windows.concatenate([w, w.select(session=1)])
    assert len(both) == 6 and both.meta["session"].tolist() == [1, 1, 2, 2, 1, 1]
    with pytest.raises(ValidationError, match=r"Unknown window metadata key 'sesion'.*Did you mean 'session'"):
        w.select(sesion=1)
    with pytest.raises(ValidationError, match="shape"):
        Windows(X, [0, 1], 100.0)


def test_dataset_repr_is_short():
    """A dataset of many classes still reprs in one short line (issue 11)."""
    import numpy as np

    from myovox.dataset import Dataset
    from myovox.recording import Recording

    labels = np.repeat(np.arange(30), 10)
    rec = Recording(np.zeros((2, 300)), 100.0, None, labels, {i: f"class{i}" for i in range(30)})
    text = repr(Dataset([rec], "x"))
    assert "30 classes" in text and "class29" not in text and len(text) < 120

"""Training-time augmentation (issue 12): electrode shift, contact gains, timing and noise."""

from __future__ import annotations

import json

import numpy as np
import pytest

from myovox.adaptation import AUGMENTATIONS, augment_windows, parse_augment
from myovox.exceptions import ValidationError
from myovox.windows import Windows


def _windows(n=6, c=4, t=50):
    X = np.zeros((n, c, t), dtype=np.float32)
    for i in range(n):
        X[i, i % c] = np.sin(np.arange(t) / 3.0)  # one active channel per window
    meta = {"session": np.arange(n) % 2, "recording": np.arange(n)}
    return Windows(X, np.arange(n) % 3, 100.0, label_names={0: "rest", 1: "a", 2: "b"}, meta=meta)


def test_parse_augment():
    assert parse_augment("shift, time,shift") == ("shift", "time")
    assert parse_augment(["gain"]) == ("gain",) and parse_augment(None) == () and parse_augment("") == ()
    with pytest.raises(ValidationError, match=r"augment.*Did you mean 'shift'"):
        parse_augment("shfit")
    assert AUGMENTATIONS == ("shift", "gain", "time", "noise")


def test_copies_keep_labels_and_metadata():
    w = _windows()
    out = augment_windows(w, "shift,gain,time,noise", n_copies=2, random_state=0)
    assert len(out) == 3 * len(w) and out.X.dtype == np.float32
    np.testing.assert_array_equal(out.X[: len(w)], w.X)  # the originals come first, unchanged
    np.testing.assert_array_equal(out.y, np.tile(w.y, 3))
    np.testing.assert_array_equal(out.meta["session"], np.tile(w.meta["session"], 3))
    np.testing.assert_array_equal(out.meta["augmented"], np.repeat([0, 1, 2], len(w)))
    assert not np.array_equal(out.X[len(w) :], np.tile(w.X, (2, 1, 1)))
    again = augment_windows(w, "shift,gain,time,noise", n_copies=2, random_state=0)
    np.testing.assert_array_equal(again.X, out.X)  # reproducible


def test_each_kind_does_what_it_says():
    w = _windows()
    x0 = w.X[0]  # channel 0 active
    shifted = augment_windows(w, "shift", shift_max=0.9, random_state=1).X[len(w) :]
    for i in (1, 2):  # an inner channel active: its activity moves partly to one neighbour, none is lost
        active = np.flatnonzero(np.abs(shifted[i]).sum(axis=1) > 1e-6)
        assert len(active) == 2 and abs(active[1] - active[0]) == 1 and i in active
        np.testing.assert_allclose(shifted[i].sum(axis=0), w.X[i].sum(axis=0), atol=1e-5)
    assert np.abs(shifted).max() <= np.abs(w.X).max() + 1e-6  # interpolation never amplifies
    g = augment_windows(w, "gain", random_state=2).X[len(w)]
    ratio = g[0] / np.where(x0[0] == 0, 1, x0[0])
    assert np.allclose(ratio[x0[0] != 0], ratio[x0[0] != 0][0]) and not np.isclose(ratio[x0[0] != 0][0], 1)
    tm = augment_windows(w, "time", time_max_s=0.05, random_state=3).X[len(w) :]
    for i in range(len(w)):  # a circular shift by at most 5 samples
        assert any(np.allclose(tm[i], np.roll(w.X[i], s, axis=-1)) for s in range(-5, 6))
    nz = augment_windows(w, "noise", noise_level=0.1, random_state=4).X[len(w)]
    rms = np.sqrt(np.mean(x0[0] ** 2))
    assert 0.05 * rms < np.std(nz[0] - x0[0]) < 0.2 * rms
    np.testing.assert_array_equal(nz[1], x0[1])  # a silent channel gets no noise
    with pytest.raises(ValidationError, match="no augmentation kind"):
        augment_windows(w, "")


def test_cli_train_augment(tmp_path, capsys):
    from myovox.cli.main import main

    data = tmp_path / "data"
    synth = ["synth", str(data), "--subjects", "1", "--sessions", "1", "--batches", "1", "--repetitions", "2"]
    assert main([*synth, "--conditions", "vocalized", "--no-raw"]) == 0
    out = tmp_path / "model"
    args = ["train", str(data), "--model", "lda", "--out", str(out), "--augment", "shift,gain", "--augment-copies", "2"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Augmented the" in text and "2 cop(ies) (shift, gain)" in text
    card = json.loads((out / "model.json").read_text())
    assert card["training"]["augment"] == ["shift", "gain"] and card["training"]["augment_copies"] == 2
    assert main(["train", str(data), "--model", "lda", "--out", str(tmp_path / "m2"), "--augment", "warp"]) == 2
    assert "Invalid value for 'augment'" in capsys.readouterr().err
    assert not (tmp_path / "m2").exists()


def test_protocols_train_on_augmented_copies(make_windows_):
    from myovox.evaluation.engine import ModelSpec
    from myovox.evaluation.protocols import kfold

    class Counting:
        """A model that remembers how many windows it was fitted on."""

        def fit(self, X, y):
            self.n_fit_ = len(X)
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return np.full(len(X), self.classes_[0])

    def counting(**kw):
        return Counting()

    w = make_windows_(n_subjects=1)
    spec = ModelSpec(counting, augment=("gain", "noise"), augment_copies=2)
    assert spec.fit(w, 0).n_fit_ == 3 * len(w)
    res = kfold(w, model=counting, augment="shift,gain")
    assert res.params["augment"] == ["shift", "gain"] and res.params["augment_copies"] == 1
    with pytest.raises(ValidationError):
        kfold(w, model=counting, augment="rotate")

"""Label-free adaptation to a new session (issue 12): per-session standardisation and batch-norm re-estimation."""

from __future__ import annotations

import numpy as np
import pytest

from myovox.adaptation import ADAPT_METHODS, adapt, predict_adapted, session_scale, standardize_sessions
from myovox.exceptions import ValidationError
from myovox.windows import Windows


def _gained(w: Windows, session: int, gains: np.ndarray) -> Windows:
    """``w`` with the channels of one session multiplied by ``gains`` (a re-donned band's contacts)."""
    X = np.array(w.X, dtype=np.float64)
    idx = np.flatnonzero(w.meta["session"] == session)
    X[idx] *= gains[None, :, None]
    return Windows(X, w.y, w.sfreq, w.ch_names, w.label_names, w.groups, w.meta)


def test_session_scale_is_per_channel_rms_and_never_zero():
    X = np.zeros((3, 2, 4))
    X[:, 0] = 2.0
    np.testing.assert_allclose(session_scale(X), [2.0, 1.0])  # a flat channel keeps scale 1
    with pytest.raises(ValidationError, match="Expected windows"):
        session_scale(np.zeros((0, 2, 4)))


def test_standardize_sessions_uses_each_sessions_own_rms_and_no_labels(make_windows_):
    w = _gained(make_windows_(n_subjects=1), 2, np.array([4.0, 0.5, 1.0, 2.0]))
    out = standardize_sessions(w)
    for s in (1, 2):
        x = out.X[out.meta["session"] == s]
        np.testing.assert_allclose(np.sqrt(np.mean(x**2, axis=(0, 2))), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(out.y, w.y)
    assert out.X.dtype == np.float32 and all(np.array_equal(out.meta[k], v) for k, v in w.meta.items())
    # labels play no part: shuffled labels give the same windows
    shuffled = Windows(w.X, np.random.default_rng(0).permutation(w.y), w.sfreq, meta=w.meta)
    np.testing.assert_array_equal(standardize_sessions(shuffled).X, out.X)
    # one group when there is no session column (or by=None)
    whole = standardize_sessions(w, by=None).X
    np.testing.assert_allclose(np.sqrt(np.mean(whole.astype(np.float64) ** 2, axis=(0, 2))), 1.0, rtol=1e-5)


def test_standardize_removes_a_contact_gain_change_for_any_model(make_windows_, lda):
    w = _gained(make_windows_(n_subjects=1, n_per_class=6), 2, np.array([3.0, 0.3, 2.5, 0.4]))
    old, new = w.select(session=1), w.select(session=2)
    plain = np.mean(lda.fit(old.X, old.y).predict(new.X) == new.y)
    s = standardize_sessions(w)
    s_old, s_new = s.select(session=1), s.select(session=2)
    adapted = np.mean(lda.fit(s_old.X, s_old.y).predict(s_new.X) == s_new.y)
    assert adapted > plain + 0.1


@pytest.fixture(scope="module")
def speechnet_and_data():
    pytest.importorskip("torch")
    from myovox.models.neural import SpeechNetClassifier

    rng = np.random.default_rng(0)
    n, c, t = 90, 8, 128
    y = np.repeat(np.arange(3), n // 3)
    X = rng.normal(size=(n, c, t)).astype(np.float32)
    for k in range(3):
        X[y == k, k] *= 3.0
    model = SpeechNetClassifier(n_epochs=3, patience=None, valid_size=0.0, random_state=0, n_threads=1)
    model.fit(X, y)
    return model, X, y


def test_adapt_bn_needs_no_labels_and_leaves_the_model_untouched(speechnet_and_data):
    import torch

    model, X, _ = speechnet_and_data
    bns = [m for m in model.net_.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = [b.running_mean.clone() for b in bns]
    new = adapt(model, 5.0 * X + 2.0, "bn")  # a new day: every channel 5x louder, offset
    assert new is not model
    for b, m0 in zip(bns, before, strict=True):
        torch.testing.assert_close(b.running_mean, m0)  # the caller's model is unchanged
    moved = [m for m in new.net_.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert any(not torch.allclose(a.running_mean, b.running_mean) for a, b in zip(moved, bns, strict=True))
    # the adapted network sees the louder session as the original saw the original
    np.testing.assert_array_equal(
        adapt(model, X, "bn").predict(X), adapt(model, 5.0 * X + 2.0, "bn").predict(5.0 * X + 2.0)
    )
    assert adapt(model, X, "none") is model


def test_adapt_refuses_what_it_cannot_do(speechnet_and_data, lda, make_windows_):
    model, X, _ = speechnet_and_data
    with pytest.raises(ValidationError, match="3 channels, the model was trained on 8"):
        adapt(model, X[:, :3], "bn")
    w = make_windows_(n_subjects=1)
    with pytest.raises(ValidationError, match=r"needs a network with batch norm.*standardize"):
        adapt(lda.fit(w.X, w.y), w.X, "bn")
    with pytest.raises(ValidationError, match="acts on the windows"):
        adapt(model, X, "standardize")
    with pytest.raises(ValidationError, match="Invalid value for 'method'"):
        adapt(model, X, "batchnorm")
    assert ADAPT_METHODS == ("none", "standardize", "bn")


def test_predict_adapted_adapts_to_each_session_separately(speechnet_and_data):
    model, X, y = speechnet_and_data
    sess = np.repeat([1, 2], len(X) // 2)
    rng = np.random.default_rng(1)
    perm = rng.permutation(len(X))
    Xm = X[perm].copy()
    Xm[sess == 2] *= 4.0
    w = Windows(Xm, y[perm], 100.0, meta={"session": sess})
    pred = predict_adapted(model, w, "bn")
    for s in (1, 2):
        idx = sess == s
        np.testing.assert_array_equal(pred[idx], adapt(model, Xm[idx], "bn").predict(Xm[idx]))
    np.testing.assert_array_equal(predict_adapted(model, w, "none"), model.predict(Xm))


def test_inter_session_protocol_with_adapt(make_windows_, lda):
    from myovox.evaluation.protocols import inter_session

    w = _gained(make_windows_(n_subjects=1, n_per_class=6), 2, np.array([3.0, 0.3, 2.5, 0.4]))
    plain = inter_session(w, model=lda)
    std = inter_session(w, model=lda, adapt="standardize")
    assert std.params["adapt"] == "standardize" and plain.params["adapt"] == "none"
    assert std.mean > plain.mean + 0.1
    with pytest.raises(ValidationError, match="needs a network with batch norm"):
        inter_session(w, model=lda, adapt="bn")
    with pytest.raises(ValidationError, match="Invalid value for 'adapt'"):
        inter_session(w, model=lda, adapt="bnn")


def test_transfer_protocol_with_adapt_by(make_windows_, lda):
    from myovox.evaluation.protocols import transfer

    w = make_windows_(n_subjects=1, n_sessions=3, n_per_class=6)
    w = _gained(_gained(w, 2, np.array([3.0, 0.3, 2.5, 0.4])), 3, np.array([0.3, 3.0, 0.5, 2.0]))
    kw = {"model": lda, "train": {"session": 1}, "test": {"session": [2, 3]}}
    whole = transfer(w, adapt="standardize", **kw)
    per_day = transfer(w, adapt="standardize", adapt_by="session", **kw)
    assert per_day.mean > whole.mean  # two days with different gains: each by its own statistics


def test_cli_evaluate_adapt_options(tmp_path, capsys):
    from myovox.cli.main import main

    assert main(["evaluate", str(tmp_path), "--protocol", "kfold", "--model", "rf", "--adapt", "bn"]) == 2
    assert "--adapt applies to protocols 'inter_session' and 'transfer'" in capsys.readouterr().err
    rc = main(["evaluate", str(tmp_path), "--protocol", "inter_session", "--model", "rf", "--adapt-by", "day"])
    assert rc == 2 and "--adapt-by applies to protocol 'transfer' only" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path), "--protocol", "inter_session", "--model", "rf", "--adapt", "x"]) == 2


def test_first_part_takes_the_beginning_of_each_session_in_recording_order(make_windows_):
    from myovox.adaptation import first_part

    w = make_windows_(n_subjects=1, n_sessions=2, n_batches=4, n_per_class=2)
    first, rest = first_part(w, 0.25)
    assert len(np.intersect1d(first, rest)) == 0 and len(first) + len(rest) == len(w)
    # batch 1 of each session (a quarter) is the beginning; the rest is tested
    assert set(w.meta["batch"][first]) == {1} and set(w.meta["batch"][rest]) == {2, 3, 4}
    for s in (1, 2):
        assert np.sum(w.meta["session"][first] == s) == np.sum((w.meta["session"] == s) & (w.meta["batch"] == 1))
    # at least one window on each side, whatever the fraction
    tiny = w.subset(np.flatnonzero(w.meta["session"] == 1)[:2])
    f, r = first_part(tiny, 0.01)
    assert len(f) == 1 and len(r) == 1
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(ValidationError, match="fraction in"):
            first_part(w, bad)
    with pytest.raises(ValidationError, match="at least 2"):
        first_part(tiny.subset([0]), 0.5)


def test_standardize_with_a_reference_uses_only_the_reference_windows(make_windows_):
    w = _gained(make_windows_(n_subjects=1), 2, np.array([4.0, 0.5, 1.0, 2.0]))
    ref = w.subset(np.arange(0, len(w), 3))
    out = standardize_sessions(w, reference=ref)
    for s in (1, 2):
        scale = session_scale(ref.X[ref.meta["session"] == s])
        np.testing.assert_allclose(
            out.X[w.meta["session"] == s], w.X[w.meta["session"] == s] / scale[None, :, None], rtol=1e-5
        )
    with pytest.raises(ValidationError, match="no adaptation windows of session 2"):
        standardize_sessions(w, reference=ref.select(session=1))


def test_transfer_adapt_first_scores_every_method_on_the_same_rest(make_windows_, lda):
    from myovox.evaluation.protocols import transfer

    w = make_windows_(n_subjects=1, n_sessions=2, n_batches=4, n_per_class=4)
    w = _gained(w, 2, np.array([3.0, 0.3, 2.5, 0.4]))
    kw = {"model": lda, "train": {"session": 1}, "test": {"session": 2}, "adapt_by": "session"}
    whole = transfer(w, **kw)
    plain = transfer(w, adapt_first=0.25, **kw)
    std = transfer(w, adapt="standardize", adapt_first=0.25, **kw)
    n_test = {r["n_test"] for r in plain.folds} | {r["n_test"] for r in std.folds}
    assert len(n_test) == 1 and n_test.pop() < whole.folds[0]["n_test"]
    assert std.params["adapt_first"] == 0.25
    assert std.mean > plain.mean + 0.1  # the first quarter of the new day is enough to undo its gains


def test_cli_evaluate_adapt_first(tmp_path, capsys):
    from myovox.cli.main import main

    rc = main(["evaluate", str(tmp_path), "--protocol", "kfold", "--model", "rf", "--adapt-first", "0.2"])
    assert rc == 2 and "--adapt-first applies to protocols" in capsys.readouterr().err
    rc = main(["evaluate", str(tmp_path), "--protocol", "transfer", "--model", "rf", "--adapt-first", "1.5"])
    assert rc == 2 and "fraction in (0, 1)" in capsys.readouterr().err

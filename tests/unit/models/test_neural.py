import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402

from myovox.exceptions import ValidationError  # noqa: E402
from myovox.models.neural import SpeechNetClassifier  # noqa: E402


def _clf(**kw):
    params = dict(n_epochs=3, random_state=0, n_threads=1)
    params.update(kw)
    return SpeechNetClassifier(**params)


def test_fit_predict_shapes_and_history(windows):
    X, y = windows
    clf = _clf().fit(X, y)
    assert list(clf.classes_) == [0, 1, 2]
    proba = clf.predict_proba(X)
    assert proba.shape == (60, 3) and np.allclose(proba.sum(1), 1)
    assert set(clf.predict(X)) <= {0, 1, 2}
    assert clf.decision_function(X[:5]).shape == (5, 3)
    assert len(clf.history_) == 3
    assert {"train_loss", "valid_loss", "train_acc", "valid_acc", "lr"} <= set(clf.history_[0])
    assert 0.0 <= clf.score(X, y) <= 1.0


def test_string_labels_and_learning(windows):
    X, y = windows
    labels = np.array(["up", "down", "rest"])[y]
    clf = _clf(n_epochs=15, lr=3e-3, valid_size=0.0).fit(X, labels)
    assert set(clf.classes_) == {"up", "down", "rest"}
    assert clf.score(X, labels) > 0.6  # well above chance (1/3) on separable data


def test_same_seed_same_weights(windows):
    X, y = windows
    a, b = _clf().fit(X, y), _clf().fit(X, y)
    for (k, va), vb in zip(a.net_.state_dict().items(), b.net_.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k
    c = _clf(random_state=1).fit(X, y)
    assert not torch.equal(a.net_.classifier.weight, c.net_.classifier.weight)


def test_early_stopping_restores_a_copy_of_the_best_weights(windows, windows_factory):
    X, y = windows
    rng = np.random.RandomState(3)
    # validation labels unrelated to the data: validation loss rises while training fits
    Xv, yv = windows_factory(30, seed=5)[0], rng.randint(0, 3, 30)
    clf = _clf(n_epochs=12, lr=1e-2, patience=3, lr_patience=10).fit(X, y, X_valid=Xv, y_valid=yv)
    losses = [h["valid_loss"] for h in clf.history_]
    assert clf.best_epoch_ == int(np.argmin(losses)) + 1
    assert clf.best_epoch_ < len(clf.history_)  # the interesting case: best is not the last epoch
    logits = torch.from_numpy(clf.decision_function(Xv))
    final = float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(yv)))
    assert final == pytest.approx(min(losses), rel=1e-4)


def test_slow_and_fast_paths_train_alike(windows):
    X, y = windows
    a, b = _clf(n_epochs=1).fit(X, y), _clf(n_epochs=1, fast=False).fit(X, y)
    # one epoch: same data order and dropout; differences are float rounding through Adam
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=2e-3)


def test_fit_without_autograd_trains_as_with_it(windows, monkeypatch, c_kernels):
    # fit's step without autograd (the C kernels' whole-network step, its head and loss in C) against the same
    # fit with autograd (train_step declined): the same history and the same weights up to float rounding
    # carried through Adam, fine-tuning included
    from myovox.models import _network_c

    X, y = windows
    taken = []
    real = _network_c.Stepper.__call__
    monkeypatch.setattr(_network_c.Stepper, "__call__", lambda *args: taken.append(real(*args)) or taken[-1])
    a = _clf(n_epochs=2).fit(X, y)
    a.fine_tune(X[:20], y[:20], n_epochs=1)
    assert taken and all(step is not None for step in taken)  # every step of both went without autograd
    monkeypatch.setattr(SpeechNetClassifier, "_train_step", lambda self, xb, yb: None)
    b = _clf(n_epochs=2).fit(X, y)
    b.fine_tune(X[:20], y[:20], n_epochs=1)
    for ha, hb in zip(a.history_, b.history_, strict=True):
        assert ha.keys() == hb.keys() and ha["epoch"] == hb["epoch"] and ha["lr"] == hb["lr"]
        for k in ("train_loss", "valid_loss", "train_acc", "valid_acc"):
            assert ha[k] == pytest.approx(hb[k], rel=1e-4, abs=1e-6, nan_ok=True), k
    # Adam moves a weight by up to ~lr per step whatever its gradient's size: where a gradient is rounding noise
    # (a convolution's bias before batch norm) or near 0, its sign may differ between the two and the weight by
    # a few lr after the 5 steps here (measured: 1e-8 for most weights, up to 9e-4 for such ones)
    steps = int(a.net_.blocks[0][1].num_batches_tracked)
    for (k, va), vb in zip(a.net_.state_dict().items(), b.net_.state_dict().values(), strict=True):
        if va.is_floating_point():
            torch.testing.assert_close(va, vb, rtol=0, atol=2 * steps * a.lr, msg=lambda m, k=k: f"{k}: {m}")
        else:
            assert torch.equal(va, vb), k
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-3)


def test_history_sums_every_step_of_the_epoch(windows, monkeypatch):
    # the epoch's training loss and accuracy are summed after its steps: they must still be the mean of every
    # step's loss weighted by its batch (the last one shorter) and the share of its windows predicted right
    X, y = windows
    steps = []
    real = SpeechNetClassifier._train_step

    def step(self, xb, yb):
        out = real(self, xb, yb)
        if out is not None:
            steps.append((float(out[0]), int((out[1].argmax(1) == yb).sum()), len(yb)))
        return out

    monkeypatch.setattr(SpeechNetClassifier, "_train_step", step)
    clf = _clf(n_epochs=2, batch_size=7, valid_size=0.0).fit(X, y)
    if not steps:
        pytest.skip("no C compiler: fit's steps went through autograd")
    per_epoch = len(steps) // 2
    for epoch, row in enumerate(clf.history_):
        done = steps[epoch * per_epoch : (epoch + 1) * per_epoch]
        assert sum(n for _, _, n in done) == len(X) and done[-1][2] < 7
        assert row["train_loss"] == pytest.approx(sum(v * n for v, _, n in done) / len(X), rel=1e-6)
        assert row["train_acc"] == sum(c for _, c, _ in done) / len(X)


def test_clone_get_params_and_cross_val_score(windows):
    X, y = windows
    clf = _clf(n_epochs=1, net_params={"dropout": 0.25})
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and not hasattr(twin, "net_")
    scores = cross_val_score(_clf(n_epochs=1, valid_size=0.0), X, y, cv=2)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_predicting_changes_no_attribute(windows):
    # predict/predict_proba/decision_function must not change the estimator (scikit-learn's rule;
    # decision_function used to record the threads it ran with)
    X, y = windows
    clf = _clf(n_epochs=1).fit(X, y)
    before = {k: v for k, v in vars(clf).items() if k != "net_"}
    state = {k: v.clone() for k, v in clf.net_.state_dict().items()}
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        getattr(clf, method)(X[:7])
    assert vars(clf).keys() == before.keys() | {"net_"}
    assert all(vars(clf)[k] is before[k] for k in before)
    assert all(torch.equal(v, state[k]) for k, v in clf.net_.state_dict().items())
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X[:7])), clf.predict_proba(X[:7]), rtol=1e-6)


def test_random_state_accepts_ints_random_states_and_generators(windows):
    X, y = windows
    by_int = _clf(n_epochs=1).fit(X, y)
    by_rs = _clf(n_epochs=1, random_state=np.random.RandomState(0)).fit(X, y)
    by_gen = _clf(n_epochs=1, random_state=np.random.default_rng(0)).fit(X, y)
    for clf in (by_rs, by_gen):
        assert clf.predict_proba(X).shape == (60, 3)
    # a RandomState is drawn from: two instances seeded alike give the same weights
    again = _clf(n_epochs=1, random_state=np.random.RandomState(0)).fit(X, y)
    assert torch.equal(by_rs.net_.classifier.weight, again.net_.classifier.weight)
    assert by_int.get_params()["random_state"] == 0
    by_rs.fine_tune(X, y, n_epochs=1)  # fine-tuning draws from it too
    with pytest.raises(ValidationError, match="random_state"):
        _clf(random_state="seed").fit(X, y)


def test_n_features_in_and_two_d_windows(windows):
    X, y = windows
    clf = _clf(n_epochs=1).fit(X, y)
    assert (clf.n_features_in_, clf.n_channels_in_, clf.n_times_in_) == (14, 14, 200)
    one = _clf(n_epochs=1).fit(X[:, 0], y)  # 2-D: windows of one channel
    assert (one.n_features_in_, one.n_channels_in_, one.n_times_in_) == (200, 1, 200)
    assert one.predict(X[:5, 0]).shape == (5,) and one.predict(X[:5, :1]).shape == (5,)
    with pytest.raises(ValidationError, match="X has 199 features, but SpeechNetClassifier is expecting 200"):
        one.predict(X[:5, 0, :199])
    binary = _clf(n_epochs=1).fit(X[y < 2], y[y < 2])
    z = binary.decision_function(X[:6])  # scikit-learn's binary shape: classes_[1]'s logit minus classes_[0]'s
    assert z.shape == (6,)
    np.testing.assert_array_equal(binary.predict(X[:6]), binary.classes_[(z > 0).astype(int)])


def test_verbose_logs_epochs_and_shows_progress_on_a_terminal(windows, caplog, monkeypatch, capsys):
    import logging
    import sys

    from myovox._logging import logger

    X, y = windows
    old = logger.level
    with caplog.at_level(logging.DEBUG, logger="myovox"):
        _clf(n_epochs=2).fit(X, y)  # verbose=None: epoch lines at DEBUG
    assert [r.levelno for r in caplog.records if "epoch" in r.getMessage()] == [logging.DEBUG] * 2
    caplog.clear()
    logger.setLevel(logging.WARNING)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    clf = _clf(n_epochs=2, verbose=True).fit(X, y)  # verbose=True: INFO for the call, then restored
    assert [r.levelno for r in caplog.records if "epoch" in r.getMessage()] == [logging.INFO] * 2
    assert logger.level == logging.WARNING
    assert "SpeechNet" in capsys.readouterr().err  # the progress bar over epochs
    caplog.clear()
    clf.fine_tune(X, y, n_epochs=1, verbose=False)
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]
    logger.setLevel(old)
    assert repr(_clf(n_epochs=2)) == "SpeechNetClassifier(n_epochs=2, n_threads=1, random_state=0)"


def test_input_errors(windows):
    X, y = windows
    with pytest.raises(ValidationError, match="n_windows, n_channels, n_times"):
        _clf().fit(X[..., None], y)
    clf = _clf(n_epochs=1).fit(X, y)
    with pytest.raises(ValidationError, match="fitted on 14 channels, got 8"):
        clf.predict(X[:, :8])
    with pytest.warns(UserWarning, match="No validation split"):  # few-shot: trains on all windows
        _clf(n_epochs=1).fit(X[:4], y[:4])
    y_one = y.copy()
    y_one[0] = 7  # a class with a single window cannot be stratified
    with pytest.warns(UserWarning, match=r"class\(es\) \[7\]"):
        _clf(n_epochs=1).fit(X, y_one)
    with pytest.raises(ValidationError, match=r"Unknown SpeechNet parameter 'dropuot'.*'dropout'"):
        _clf(net_params={"dropuot": 0.1}).fit(X, y)
    with pytest.raises(ValidationError, match="strategy"):
        clf.fine_tune(X, y, strategy="everything")


def test_fine_tune_strategies(windows):
    X, y = windows
    X2 = X * 1.5 + 0.3  # a "new session": gain and offset changes
    base = _clf(n_epochs=2).fit(X, y)
    before = {k: v.clone() for k, v in base.net_.state_dict().items()}

    head = copy.deepcopy(base)
    head.fine_tune(X2, y, n_epochs=2, strategy="head")
    after = head.net_.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("classifier.") for k in changed)

    bn = copy.deepcopy(base)
    bn.fine_tune(X2, None, strategy="bn")
    after = bn.net_.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in changed)

    full = copy.deepcopy(base)
    n_hist = len(full.history_)
    assert full.fine_tune(X2, y, n_epochs=2, strategy="all", lr=1e-3) is full
    assert len(full.history_) == n_hist + 2
    assert not torch.equal(before["blocks.0.0.weight"], full.net_.state_dict()["blocks.0.0.weight"])
    with pytest.raises(ValidationError, match="not seen in fit"):
        full.fine_tune(X2, y + 10, n_epochs=1)


@pytest.mark.parametrize("standardize", [False, True])
def test_fit_trains_on_the_training_rows_only_and_validates_on_the_rest(windows, monkeypatch, standardize):
    # the validation split is kept as row indices (no copy of the windows): every epoch must still see each
    # training window exactly once and never a validation window, the validation pass the other windows, and the
    # standardisation the training windows' statistics
    from myovox.models import _network_c

    X, y = windows
    X = X + np.arange(len(X), dtype=X.dtype)[:, None, None] * 1e-3  # every window told apart by its mean
    trained, validated = [], []
    real_step, real_forward = SpeechNetClassifier._train_step, SpeechNetClassifier._forward

    def step(self, xb, yb):
        trained.append(xb.detach().clone())
        return real_step(self, xb, yb)

    def forward(self, xb):
        if not self.net_.training:
            validated.append(xb.detach().clone())
        return real_forward(self, xb)

    real_evaluate = _network_c.Stepper.evaluate

    def evaluate(self, xb, chunk):  # the validation pass within fit's loop (None: it falls back to _forward)
        logits = real_evaluate(self, xb, chunk)
        if logits is not None:
            validated.append(xb.detach().clone())
        return logits

    monkeypatch.setattr(SpeechNetClassifier, "_train_step", step)
    monkeypatch.setattr(SpeechNetClassifier, "_forward", forward)
    monkeypatch.setattr(_network_c.Stepper, "evaluate", evaluate)
    clf = _clf(n_epochs=2, valid_size=0.25, standardize=standardize).fit(X, y)
    shift = 0.0 if clf.mean_ is None else clf.mean_
    scale = 1.0 if clf.scale_ is None else clf.scale_

    def rows(batches):
        # which windows of X were given: each batch's windows mapped back to their rows by their values
        found = []
        for xb in batches:
            original = xb.numpy() * scale + shift
            for w in original:
                found.append(int(np.argmin(np.abs(X - w).reshape(len(X), -1).max(axis=1))))
        return found

    per_epoch = len(trained) // 2
    first, second = rows(trained[:per_epoch]), rows(trained[per_epoch:])
    valid = rows(validated)
    n_valid = int(np.ceil(0.25 * len(X)))
    assert sorted(first) == sorted(second) and len(set(first)) == len(first) == len(X) - n_valid
    assert sorted(valid[: len(valid) // 2]) == sorted(set(range(len(X))) - set(first))
    if standardize:
        expected = X[sorted(first)].mean(axis=(0, 2), keepdims=True)[0]
        np.testing.assert_allclose(clf.mean_, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("use_c", [True, False])
def test_adam_step_is_torch_s_adam(use_c, monkeypatch, request):
    # fit's direct Adam step over its one flat parameter: myovox's C kernel (the same update within a few
    # roundings) or, without the C kernels, torch's fused kernel called directly (bit for bit); learning-rate
    # changes by the scheduler and weight decay included; anything else keeps opt.step
    from myovox.models import _blocks_c
    from myovox.models._c import bindings
    from myovox.models.neural import _adam, _adam_step

    calls = []
    if use_c:
        request.getfixturevalue("c_kernels")
        real = bindings.adam
        monkeypatch.setattr(bindings, "adam", lambda **kw: calls.append(1) or real(**kw))
    else:
        monkeypatch.setattr(_blocks_c, "_c_ready", lambda *t: False)
    gen = torch.Generator().manual_seed(3)
    start = torch.randn(1000, generator=gen)
    grads = [torch.randn(1000, generator=gen) * 10.0 ** (i % 3 - 1) for i in range(6)]
    results = []
    for direct in (False, True):
        p = torch.nn.Parameter(start.clone())
        opt = _adam(torch, [p], 1e-3, 1e-2, fused=True)
        step = _adam_step(torch, opt) if direct else opt.step
        if direct:
            assert step != opt.step  # the direct path applies here
        for i, g in enumerate(grads):
            p.grad = g.clone()
            if i == 3:
                opt.param_groups[0]["lr"] = 1e-4  # as ReduceLROnPlateau does
            step()
        results.append((p.detach().clone(), {k: v.clone() for k, v in opt.state[p].items()}))
    (p0, s0), (p1, s1) = results
    assert len(calls) == (len(grads) - 1 if use_c else 0)  # the first step is opt.step's (it makes the state)
    assert s0.keys() == s1.keys() and torch.equal(s0["step"], s1["step"])
    if use_c:  # a few float roundings of each value, never a learning rate's worth
        torch.testing.assert_close(p1, p0, rtol=1e-6, atol=1e-7)
        for key in ("exp_avg", "exp_avg_sq"):  # relative to the largest: near 0, sums cancel
            torch.testing.assert_close(s1[key], s0[key], rtol=1e-6, atol=1e-6 * float(s0[key].abs().max()))
        assert not torch.equal(p1, start)
    else:
        assert torch.equal(p0, p1)
        for key in s0:
            assert torch.equal(s0[key], s1[key]), key
    two = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2))]
    for opt in (
        _adam(torch, two, 1e-3, 0.0, fused=True),  # two parameters
        _adam(torch, two[:1], 1e-3, 0.0, fused=False),  # not fused
        torch.optim.Adam(two[:1], lr=1e-3, amsgrad=True, fused=True),
        torch.optim.SGD(two[:1], lr=1e-3),
    ):
        assert _adam_step(torch, opt) == opt.step


def test_fit_on_a_read_only_array_warns_nothing_and_leaves_it_unchanged(windows):
    # fit keeps its validation split as row indices, so the caller's array itself becomes the tensor batches are
    # gathered from: a read-only one (a memory map, a protocol's windows) must not make torch warn about writes
    import warnings

    X, y = windows
    X = X.copy()
    before = X.copy()
    X.setflags(write=False)
    clf = SpeechNetClassifier(n_epochs=2, patience=None, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        clf.fit(X, y)
        clf.predict(X)
    assert np.array_equal(X, before)

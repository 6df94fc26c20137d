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
    for (k, va), vb in zip(a.net_.state_dict().items(), b.net_.state_dict().values()):
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


def test_clone_get_params_and_cross_val_score(windows):
    X, y = windows
    clf = _clf(n_epochs=1, net_params={"dropout": 0.25})
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and not hasattr(twin, "net_")
    scores = cross_val_score(_clf(n_epochs=1, valid_size=0.0), X, y, cv=2)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_relevant_sklearn_estimator_checks():
    # the full check_estimator feeds 2-D tables, which a windows-only CNN rejects by design;
    # the parameter-handling checks apply and pass
    from sklearn.utils import estimator_checks as ec

    est = SpeechNetClassifier()
    name = type(est).__name__
    ec.check_no_attributes_set_in_init(name, est)
    ec.check_parameters_default_constructible(name, est)
    ec.check_get_params_invariance(name, est)
    ec.check_set_params(name, est)


def test_input_errors(windows):
    X, y = windows
    with pytest.raises(ValidationError, match="n_windows, n_channels, n_times"):
        _clf().fit(X.reshape(60, -1), y)
    clf = _clf(n_epochs=1).fit(X, y)
    with pytest.raises(ValidationError, match="fitted on 14 channels, got 8"):
        clf.predict(X[:, :8])
    with pytest.warns(UserWarning, match="No validation split"):  # few-shot: trains on all windows
        _clf(n_epochs=1).fit(X[:4], y[:4])
    y_one = y.copy()
    y_one[0] = 7  # a class with a single window cannot be stratified
    with pytest.warns(UserWarning, match=r"class\(es\) \[7\]"):
        _clf(n_epochs=1).fit(X, y_one)
    with pytest.raises(ValidationError, match="Unknown SpeechNet parameter 'dropuot'.*'dropout'"):
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

import numpy as np
import pytest

from myovox.adaptation import fine_tune
from myovox.exceptions import ValidationError


def test_fine_tune_copies_and_passes_settings(make_windows_, centroids):
    w = make_windows_(n_subjects=1, session_shift=3.0)
    old, new = w.select(session=1), w.select(session=2)
    base = centroids.fit(old.X, old.y)
    before = base.centroids_.copy()
    tuned = fine_tune(base, new, strategy="head", n_epochs=7, lr=5e-4, valid_size=0.25)
    assert tuned is not base
    np.testing.assert_array_equal(base.centroids_, before)  # caller's model untouched
    assert base.n_fine_tunes_ == 0 and tuned.n_fine_tunes_ == 1
    assert tuned.last_fine_tune_ == {"n_epochs": 7, "strategy": "head", "valid_size": 0.25, "lr": 5e-4}
    assert np.mean(tuned.predict(new.X) == new.y) > np.mean(base.predict(new.X) == new.y)


def test_fine_tune_classical_retrains_on_old_and_new(make_windows_, lda):
    w = make_windows_(n_subjects=1)
    old, new = w.select(session=1), w.select(session=2)
    base = lda.fit(old.X, old.y)
    with pytest.raises(ValidationError, match="cannot be fine-tuned; pass old_windows"):
        fine_tune(base, new)
    new_model = fine_tune(base, new, old_windows=old)
    assert new_model is not base
    assert new_model[-1].n_features_in_ == base[-1].n_features_in_


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"strategy": "layer"}, "Invalid value for 'strategy'"),
        ({"n_epochs": 0}, "'n_epochs'"),
        ({"valid_size": 1.5}, "valid_size"),
    ],
)
def test_fine_tune_bad_arguments(make_windows_, centroids, kw, msg):
    w = make_windows_(n_subjects=1)
    base = centroids.fit(w.X, w.y)
    with pytest.raises(ValidationError, match=msg):
        fine_tune(base, w, **kw)


def test_fine_tune_real_speechnet_all_strategies(make_windows_):
    from myovox.models.registry import make_model

    w = make_windows_(n_subjects=1, n_times=130, n_channels=4)
    old, new = w.select(session=1), w.select(session=2)
    base = make_model("speechnet", sfreq=w.sfreq, n_channels=4, n_times=130, random_state=0, n_epochs=1, n_threads=1)
    base.fit(old.X, old.y)
    state = {k: v.clone() for k, v in base.net_.state_dict().items()} if hasattr(base, "net_") else None
    for strategy in ("all", "head", "bn"):
        tuned = fine_tune(base, new, strategy=strategy, n_epochs=1)
        assert tuned.predict(new.X).shape == (len(new),)
    if state is not None:
        for k, v in base.net_.state_dict().items():
            assert (v == state[k]).all(), k


def test_fine_tune_verbose_sets_the_level_for_the_call(make_windows_, centroids, caplog):
    import logging

    from myovox._logging import logger

    w = make_windows_(n_subjects=1)
    base = centroids.fit(w.X, w.y)
    old = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with caplog.at_level(logging.NOTSET, logger="myovox"):
            logger.setLevel(logging.WARNING)
            fine_tune(base, w, n_epochs=1)
            assert not [r for r in caplog.records if "Fine-tuning" in r.getMessage()]
            fine_tune(base, w, n_epochs=1, verbose=True)
            assert [r for r in caplog.records if "Fine-tuning" in r.getMessage()]
            assert logger.level == logging.WARNING  # restored after the call
    finally:
        logger.setLevel(old)

import numpy as np
import pytest

from myovox.exceptions import ValidationError
from myovox.models.registry import MODELS, make_model


def test_registry_names_and_errors():
    assert set(MODELS) == {"speechnet", "rf", "lda", "svm"}
    with pytest.raises(ValidationError, match="Did you mean 'speechnet'"):
        make_model("speechnt", sfreq=500.0)
    with pytest.raises(ValidationError, match=r"Unknown parameter 'n_epoch'.*'n_epochs'"):
        make_model("speechnet", sfreq=500.0, n_epoch=3)


def test_speechnet_params_are_routed():
    pytest.importorskip("torch")
    clf = make_model("speechnet", sfreq=500.0, n_channels=14, n_times=700, random_state=3, n_epochs=5, dropout=0.2)
    assert clf.n_epochs == 5 and clf.random_state == 3 and clf.net_params == {"dropout": 0.2}
    with pytest.raises(ValidationError, match="too short"):
        make_model("speechnet", sfreq=500.0, n_channels=14, n_times=20)


def test_classical_unknown_param():
    with pytest.raises(ValidationError, match=r"Unknown parameter 'n_estimator'.*'n_estimators'"):
        make_model("rf", sfreq=500.0, n_estimator=10)
    with pytest.raises(ValidationError, match=r"Unknown parameter 'gama'.*'gamma'"):
        make_model("svm", sfreq=500.0, gama=0.1)
    assert make_model("svm", sfreq=500.0, C=10.0).steps[-1][1].estimator.C == 10.0


@pytest.mark.parametrize("name", ["rf", "lda", "svm"])
def test_classical_pipelines_fit_and_predict(name, windows):
    X, y = windows
    model = make_model(name, sfreq=500.0, random_state=0, **({"n_estimators": 20} if name == "rf" else {}))
    model.fit(X[:45], y[:45])
    proba = model.predict_proba(X[45:])
    assert proba.shape == (15, 3) and np.allclose(proba.sum(1), 1)
    assert model.score(X, y) > 0.5  # separable synthetic classes

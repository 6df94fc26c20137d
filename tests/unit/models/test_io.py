import json

import numpy as np
import pytest

from myovox.exceptions import DataFormatError
from myovox.models.io import load_model, save_model

torch = pytest.importorskip("torch")


@pytest.fixture
def fitted(windows):
    from myovox.models.neural import SpeechNetClassifier

    X, y = windows
    labels = np.array(["a", "b", "c"])[y]
    return SpeechNetClassifier(n_epochs=2, random_state=0, standardize=True, n_threads=1).fit(X, labels), X


PREP = {"sfreq": 500.0, "window_s": 0.4, "ch_names": [f"Ch_{i}" for i in range(14)],
        "filter": {"highpass": 20.0, "order": 4, "notch": [47.5, 52.5]}}


def test_speechnet_round_trip(fitted, tmp_path):
    clf, X = fitted
    folder = save_model(clf, tmp_path / "m", preprocessing=PREP)
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "weights.npz"]
    model, side = load_model(folder)
    np.testing.assert_array_equal(model.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(model.predict(X), clf.predict(X))
    assert side["model"] == "speechnet" and side["sfreq"] == 500.0 and side["n_channels"] == 14
    assert side["label_map"] == {"0": "a", "1": "b", "2": "c"}
    assert side["preprocessing"]["filter"]["notch"] == [47.5, 52.5]
    assert model.get_params() == clf.get_params()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(clf, folder)
    save_model(clf, folder, overwrite=True)


def test_corrupt_or_incomplete_folders(fitted, tmp_path):
    clf, _ = fitted
    with pytest.raises(DataFormatError, match="does not exist"):
        load_model(tmp_path / "nothing")
    folder = save_model(clf, tmp_path / "m")
    (folder / "weights.npz").unlink()
    with pytest.raises(DataFormatError, match="weights.npz is missing"):
        load_model(folder)
    folder = save_model(clf, tmp_path / "m2")
    state = dict(np.load(folder / "weights.npz"))
    state["surprise"] = state.pop("classifier.bias")
    np.savez(folder / "weights.npz", **state)
    with pytest.raises(DataFormatError, match=r"missing keys \['classifier.bias'\].*unexpected keys \['surprise'\]"):
        load_model(folder)
    (folder / "weights.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="cannot be read"):
        load_model(folder)
    (folder / "model.json").write_text("{broken")
    with pytest.raises(DataFormatError, match="not valid JSON"):
        load_model(folder)
    folder = save_model(clf, tmp_path / "m3")
    side = json.loads((folder / "model.json").read_text())
    side["format_version"] = 99
    (folder / "model.json").write_text(json.dumps(side))
    with pytest.raises(DataFormatError, match="format_version 99"):
        load_model(folder)


def test_classical_round_trip(windows, tmp_path):
    from myovox.models.classical import make_classical

    X, y = windows
    model = make_classical("lda", sfreq=500.0).fit(X, y)
    folder = save_model(model, tmp_path / "lda", preprocessing={"sfreq": 500.0})
    loaded, side = load_model(folder)
    assert side["model"] == "lda"
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    (folder / "model.pkl").unlink()
    with pytest.raises(DataFormatError, match="model.pkl is missing"):
        load_model(folder)

"""Model folders: the model card, safe weights, no code from untrusted files (issue 10, finding 4)."""

import json
import os
import pickle

import numpy as np
import pytest

from myovox.exceptions import DataFormatError, ValidationError
from myovox.models.card import SCHEMA_VERSION, ModelCard, card_for
from myovox.models.io import load_model, read_card, save_model

CH = [f"Ch_{i}" for i in range(14)]
FILTER = {"highpass": 20.0, "hp_order": 4, "notch": 60.0}


@pytest.fixture
def fitted(windows):
    pytest.importorskip("torch")
    from myovox.models.neural import SpeechNetClassifier

    X, y = windows
    labels = np.array([0, 3, 5])[y]
    clf = SpeechNetClassifier(n_epochs=2, random_state=0, standardize=True, n_threads=1).fit(X, labels)
    return clf, X


def _card(model, **kw):
    return card_for(
        model, sfreq=500.0, ch_names=CH, label_map={0: "rest", 3: "left", 5: "forward"}, filter=FILTER, **kw
    )


def test_speechnet_round_trip(fitted, tmp_path):
    clf, X = fitted
    folder = save_model(clf, tmp_path / "m", _card(clf))
    assert sorted(p.name for p in folder.iterdir()) == [".myovox-manifest.json", "model.json", "weights.npz"]
    model, card = load_model(folder)
    np.testing.assert_array_equal(model.predict_proba(X), clf.predict_proba(X))
    assert card.model == "speechnet" and card.sfreq == 500.0 and card.n_channels == 14 and card.n_times == 200
    assert card.class_names() == ["rest", "left", "forward"] and card.filter["notch"] == 60.0
    assert model.get_params() == clf.get_params()
    with pytest.raises(ValidationError, match="pass --force"):
        save_model(clf, folder, _card(clf))
    save_model(clf, folder, _card(clf), force=True)


def test_card_json_round_trip_and_validation(fitted, tmp_path):
    clf, _ = fitted
    card = _card(clf, causal=True, step_s=0.1)
    again = ModelCard.from_dict(json.loads(card.to_json()))
    assert again == card
    d = json.loads(card.to_json())
    with pytest.raises(DataFormatError, match=r"unknown key\(s\) 'sfrq'.*Did you mean 'sfreq'"):
        ModelCard.from_dict({**d, "sfrq": 1})
    with pytest.raises(DataFormatError, match="schema version 99"):
        ModelCard.from_dict({**d, "schema_version": 99})
    with pytest.raises(DataFormatError, match="not a myovox model card"):
        ModelCard.from_dict({**d, "format": "other"})
    with pytest.raises(DataFormatError, match="lacks 'sfreq'"):
        ModelCard.from_dict({k: v for k, v in d.items() if k != "sfreq"})
    for key, value, msg in [
        ("sfreq", -500, "sfreq"),
        ("n_times", 201 + 5, "does not match"),
        ("ch_names", CH[:3], "one per channel|n_channels"),
        ("rest_label", "x", "rest_label"),
        ("normalization", {"mean": [0.0], "scale": [1.0]}, "normalization.mean"),
        ("classes", [0, 0, 1], "duplicates"),
        ("causal", "yes", "causal"),
    ]:
        with pytest.raises(DataFormatError, match=msg):
            ModelCard.from_dict({**d, key: value}, source="m/model.json")


def test_schema_1_sidecar_is_migrated(fitted, tmp_path):
    clf, X = fitted
    folder = save_model(clf, tmp_path / "m", _card(clf))
    card = json.loads((folder / "model.json").read_text())
    old = {
        "format": "myovox-model",
        "format_version": 1,
        "myovox_version": "0.1.0",
        "model": "speechnet",
        "estimator": card["estimator"],
        "classes": card["classes"],
        "classes_dtype": card["classes_dtype"],
        "label_map": {"0": 0, "1": 3, "2": 5},
        "params": card["params"],
        "speechnet_config": card["architecture"],
        "n_channels": 14,
        "n_times": 200,
        "mean": card["normalization"]["mean"],
        "scale": card["normalization"]["scale"],
        "sfreq": 500.0,
        "window_s": 0.4,
        "ch_names": CH,
        "preprocessing": {
            "sfreq": 500.0,
            "window_s": 0.4,
            "ch_names": CH,
            "filter": FILTER,
            "causal": True,
            "label_map": {"0": "rest", "3": "left", "5": "forward"},
            "rest_label": 0,
        },
    }
    (folder / "model.json").write_text(json.dumps(old))
    model, migrated = load_model(folder)
    assert migrated.schema_version == SCHEMA_VERSION and migrated.causal and migrated.label_map[3] == "left"
    np.testing.assert_array_equal(model.predict_proba(X), clf.predict_proba(X))


def test_corrupt_or_incomplete_folders(fitted, tmp_path):
    clf, _ = fitted
    with pytest.raises(DataFormatError, match="does not exist"):
        load_model(tmp_path / "nothing")
    folder = save_model(clf, tmp_path / "m", _card(clf))
    (folder / "weights.npz").unlink()
    with pytest.raises(DataFormatError, match=r"weights.npz is missing"):
        load_model(folder)
    folder = save_model(clf, tmp_path / "m2", _card(clf))
    state = dict(np.load(folder / "weights.npz"))
    state["surprise"] = state.pop("classifier.bias")
    np.savez(folder / "weights.npz", **state)
    with pytest.raises(DataFormatError, match=r"missing keys \['classifier.bias'\].*unexpected keys \['surprise'\]"):
        load_model(folder)
    state["classifier.bias"] = np.full_like(state.pop("surprise"), np.nan)
    np.savez(folder / "weights.npz", **state)
    with pytest.raises(DataFormatError, match="non-finite weights"):
        load_model(folder)
    (folder / "weights.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="cannot be read"):
        load_model(folder)
    (folder / "model.json").write_text("{broken")
    with pytest.raises(DataFormatError, match="not valid JSON"):
        load_model(folder)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("spatial_kernel", float("inf")),
        ("spatial_kernel", 2.5),
        ("n_times", "200"),
        ("pools", [8, None, 4]),
        ("temporal_filters", 16),
        ("dropout", True),
        ("n_classes", float("nan")),
    ],
)
def test_architecture_values_that_are_not_sizes_give_one_line(fitted, tmp_path, key, value):
    # found by the model-folder fuzzer: spatial_kernel=Infinity raised OverflowError from int()
    clf, _ = fitted
    folder = save_model(clf, tmp_path / "m", _card(clf))
    doc = json.loads((folder / "model.json").read_text())
    doc["architecture"][key] = value
    (folder / "model.json").write_text(json.dumps(doc))
    with pytest.raises(DataFormatError) as err:
        load_model(folder)
    assert "\n" not in str(err.value) and str(folder) in str(err.value)


def test_classical_round_trip_without_pickle(windows, tmp_path):
    from myovox.models.classical import make_classical

    X, y = windows
    for name in ("lda", "rf", "svm"):
        model = make_classical(name, sfreq=500.0).fit(X, y)
        folder = save_model(model, tmp_path / name, card_for(model, sfreq=500.0, ch_names=CH, n_times=200))
        assert (folder / "model.skops").is_file() and not (folder / "model.pkl").exists()
        loaded, card = load_model(folder)
        assert card.model == name
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


class _Payload:
    """Unpickling this writes a file: proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_malicious_pickle_is_never_run(windows, tmp_path, capsys):
    from myovox.cli.main import main
    from myovox.models.classical import make_classical

    X, y = windows
    model = make_classical("lda", sfreq=500.0).fit(X, y)
    folder = save_model(model, tmp_path / "m", card_for(model, sfreq=500.0, ch_names=CH, n_times=200))
    (folder / "model.skops").unlink()
    proof = tmp_path / "PWNED"
    (folder / "model.pkl").write_bytes(pickle.dumps(_Payload(str(proof))))
    with pytest.raises(DataFormatError, match="pickle, which runs code"):
        load_model(folder)
    assert main(["export", str(folder), "--format", "c", "--out", str(tmp_path / "e")]) == 2
    assert main(["stream", "--source", "replay:nothing.bio", "--model", str(folder)]) == 2
    assert main(["finetune", str(folder), str(tmp_path), "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "pickle" in err
    assert not proof.exists(), "the pickle's code ran"


def test_skops_with_untrusted_type_is_refused(windows, tmp_path):
    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from myovox.models.classical import make_classical

    X, y = windows
    model = make_classical("lda", sfreq=500.0).fit(X, y)
    folder = save_model(model, tmp_path / "m", card_for(model, sfreq=500.0, ch_names=CH, n_times=200))
    evil = Pipeline([("f", FunctionTransformer(os.system)), ("m", model)])  # never fitted nor run
    sio.dump(evil, folder / "model.skops")
    with pytest.raises(DataFormatError, match="does not trust"):
        load_model(folder)
    assert read_card(folder).model == "lda"

"""Fuzzing of model folders (issue 10, build item 8): a damaged or hostile model folder gives a model
that works or a one-line ``DataFormatError``, never another exception, never code from the files.

Mutations: model.json values replaced by random JSON (any key, nested too), keys dropped or added,
the text truncated; bytes of weights.npz / model.skops flipped, truncated or replaced.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from myovox.exceptions import DataFormatError, ValidationError
from myovox.models.card import card_for
from myovox.models.io import load_model, save_model

_FUZZ = settings(
    max_examples=int(os.environ.get("MYOVOX_FUZZ_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
    max_leaves=8,
)
CH = [f"Ch_{i}" for i in range(4)]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    from myovox.models.classical import make_classical

    root = tmp_path_factory.mktemp("fuzzm")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4, 200)).astype(np.float32)
    y = np.arange(30) % 3
    out = {}
    lda = make_classical("lda", sfreq=500.0).fit(X, y)
    out["lda"] = save_model(lda, root / "lda", card_for(lda, sfreq=500.0, ch_names=CH, n_times=200))
    try:
        from myovox.models.neural import SpeechNetClassifier

        net = SpeechNetClassifier(n_epochs=1, random_state=0, n_threads=1, valid_size=0).fit(X, y)
        out["speechnet"] = save_model(net, root / "net", card_for(net, sfreq=500.0, ch_names=CH))
    except ImportError:
        pass
    return out, X


def _check(folder: Path, X: np.ndarray) -> None:
    try:
        model, card = load_model(folder)
    except DataFormatError as err:
        msg = str(err)
        assert "\n" not in msg and str(folder) in msg, msg
        return
    if card.n_times == X.shape[2] and card.n_channels == X.shape[1]:
        assert np.isfinite(model.predict_proba(X)).all()
    from myovox.realtime.recognizer import Recognizer

    try:  # the live recogniser reads the same card (filter design, window, labels)
        Recognizer.from_saved(folder)
    except (ValidationError, DataFormatError) as err:
        message = str(err)
    else:
        return
    assert "\n" not in message


def _copy(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


@_FUZZ
@given(data=st.data())
def test_fuzz_model_json(folders, tmp_path, data):
    found, X = folders
    kind = data.draw(st.sampled_from(sorted(found)))
    folder = _copy(found[kind], tmp_path / "m")
    card = json.loads((folder / "model.json").read_text())
    op = data.draw(st.sampled_from(["replace", "drop", "add", "truncate", "nested"]))
    keys = sorted(card)
    if op == "replace":
        card[data.draw(st.sampled_from(keys))] = data.draw(JSON)
    elif op == "drop":
        card.pop(data.draw(st.sampled_from(keys)))
    elif op == "add":
        card[data.draw(st.text(min_size=1, max_size=10))] = data.draw(JSON)
    elif op == "nested":
        for key in ("architecture", "normalization", "filter", "label_map", "params"):
            if isinstance(card.get(key), dict) and card[key]:
                sub = sorted(card[key])
                card[key][data.draw(st.sampled_from(sub))] = data.draw(JSON)
                break
    text = json.dumps(card)
    if op == "truncate":
        text = text[: data.draw(st.integers(0, len(text) - 1))]
    (folder / "model.json").write_text(text)
    _check(folder, X)


@_FUZZ
@given(data=st.data())
def test_fuzz_weights_bytes(folders, tmp_path, data):
    found, X = folders
    kind = data.draw(st.sampled_from(sorted(found)))
    folder = _copy(found[kind], tmp_path / "m")
    path = folder / ("weights.npz" if kind == "speechnet" else "model.skops")
    blob = bytearray(path.read_bytes())
    op = data.draw(st.sampled_from(["flip", "truncate", "random"]))
    if op == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(blob) - 1))
            blob[i] ^= 1 << data.draw(st.integers(0, 7))
    elif op == "truncate":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    else:
        blob = bytearray(data.draw(st.binary(max_size=512)))
    path.write_bytes(bytes(blob))
    _check(folder, X)

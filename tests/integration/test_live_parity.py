"""Offline/online parity: a synthetic recording replayed through the live recogniser gives, window by
window, the predictions of the same model on the same causally filtered windows cut offline."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from myovox.models.neural import SpeechNetClassifier  # noqa: E402
from myovox.preprocessing.channels import SILENTWEAR_CHANNEL_ORDER, select_channels  # noqa: E402
from myovox.preprocessing.filters import design_filter, filter_causal  # noqa: E402
from myovox.realtime.recognizer import Recognizer  # noqa: E402
from myovox.streams.replay import ReplayStream  # noqa: E402
from myovox.testing.synth import SynthConfig, generate_recording  # noqa: E402
from myovox.windows import event_windows  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    cfg = SynthConfig(n_repetitions=3)
    design = design_filter(500.0)
    recs = []
    for batch in (1, 2):
        rec = select_channels(generate_recording(1, 1, batch, config=cfg, seed=0), SILENTWEAR_CHANNEL_ORDER)
        recs.append(rec.copy(data=filter_causal(rec.data, design)))
    w = event_windows(recs, 0.4)
    model = SpeechNetClassifier(n_epochs=3, random_state=0, n_threads=1).fit(w.X.astype(np.float32), w.y)
    return model, design, cfg


def test_replay_equals_offline_windows(trained):
    model, design, cfg = trained
    raw = select_channels(generate_recording(1, 2, 1, config=cfg, seed=0), SILENTWEAR_CHANNEL_ORDER)
    raw = raw.crop(0, 20.0)
    live = Recognizer(
        model,
        sfreq=500.0,
        window_s=0.4,
        step_s=0.1,
        ch_names=raw.ch_names,
        filter_design=design.to_dict(),
        label_names=cfg.label_names,
        keep_decisions=True,
    )
    # odd chunk size, so that window ends fall inside chunks
    live.run(ReplayStream(raw, chunk_s=0.046))
    filtered = filter_causal(raw.data, design)
    ends = np.arange(200, raw.n_times + 1, 50)
    X = np.stack([filtered[:, e - 200 : e] for e in ends]).astype(np.float32)
    offline = model.predict_proba(X)
    online = np.array(live.probas)
    assert online.shape == offline.shape
    np.testing.assert_allclose(online, offline, rtol=1e-4, atol=1e-5)
    assert (online.argmax(1) == offline.argmax(1)).all()
    assert [d.t_end for d in live.decisions] == pytest.approx(list(ends / 500.0))

"""What ``myovox serve --demo`` needs: a synthetic dataset, a live model trained on it, a participant.

:func:`prepare_demo` writes, into the data folder, ``demo-synth/`` (a small synthetic
SilentWear-format dataset: 1 subject, days 1-2, raw ``.bio`` files that the page can replay) and
``models/demo/`` (a SpeechNet trained on it for live use: causal filter, onset-shifted windows, as
``myovox train --live``). Both are reused when they are already there, so a second start is quick.

The participant (:meth:`DemoAssets.participant`) is the same synthetic subject on day 2 (a new
batch of a day the model knows: most commands are recognised) or day 3 (a new day, the band sits
elsewhere: fewer are, until the model is fine-tuned on a session recorded that day).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._logging import logger
from .._outputs import read_manifest
from ..exceptions import ValidationError
from .sources import DemoParticipant

__all__ = ["DEMO_DAYS", "DemoAssets", "prepare_demo"]

#: the participant's days the page offers: day -> (batch replayed while idle, description)
DEMO_DAYS: dict[int, tuple[int, str]] = {
    2: (3, "synthetic participant, day 2 (a new batch of a day the model knows)"),
    3: (1, "synthetic participant, day 3 (a new day: the band sits elsewhere)"),
}
_SYNTH = "demo-synth"
_MODEL = "demo"


@dataclass
class DemoAssets:
    """The demo's data and model, and how to make its participant."""

    synth_dir: Path
    model_dir: Path
    difficulty: str
    seed: int

    def config(self) -> Any:
        from ..testing.synth import SynthConfig

        return SynthConfig.preset(self.difficulty)

    def participant(self, day: int, *, speed: float = 1.0) -> DemoParticipant:
        """The synthetic participant on ``day`` (a key of :data:`DEMO_DAYS`)."""
        from ..testing.synth import generate_cued_recording, generate_recording

        if day not in DEMO_DAYS:
            raise ValidationError(f"Invalid demo day {day!r}: expected one of {sorted(DEMO_DAYS)}.")
        batch, label = DEMO_DAYS[day]
        cfg, seed = self.config(), self.seed
        n_cued = [0]

        def idle() -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return generate_recording(1, day, batch, config=cfg, seed=seed)

        def cued(protocol: Any) -> Any:
            from ..acquisition import CueProtocol

            # a new batch of that day for each recording; 2 s more so the participant outlives the protocol
            n_cued[0] += 1
            proto = CueProtocol(**{**protocol.to_dict(), "tail_s": protocol.tail_s + 2.0})
            return generate_cued_recording(proto, 1, day, 10 + n_cued[0], config=cfg, seed=seed)

        return DemoParticipant(idle, cued, label=f"demo:day{day} ({label})", speed=speed)


def prepare_demo(
    data_dir: str | Path,
    *,
    n_epochs: int = 15,
    n_repetitions: int = 4,
    difficulty: str = "easy",
    seed: int = 0,
    say: Callable[[str], None] | None = None,
) -> DemoAssets:
    """Write (or reuse) the demo's synthetic dataset and live model in ``data_dir``.

    Parameters
    ----------
    data_dir : path-like
        The dashboard's data folder.
    n_epochs : int
        SpeechNet training epochs (early stopping on).
    n_repetitions : int
        Repetitions of each word per batch (2 days x 2 batches).
    difficulty : {"easy", "reference", "hard"}
        Synthetic signal preset (:meth:`myovox.testing.synth.SynthConfig.preset`).
    seed : int
    say : callable | None
        Receives progress lines (default: the log).
    """
    from ..testing.synth import generate_dataset

    say = say or (lambda s: logger.info("%s", s))
    root = Path(data_dir)
    synth = root / _SYNTH
    if (read_manifest(synth) or {}).get("what") != "synthetic dataset":
        say(f"demo: synthesising a small dataset (1 subject, 2 days x 2 batches, {difficulty}) into {synth} ...")
        generate_dataset(
            synth,
            n_subjects=1,
            n_sessions=2,
            n_batches=2,
            conditions=("vocalized",),
            n_repetitions=n_repetitions,
            seed=seed,
            difficulty=difficulty,
            processed=False,
        )
    model_dir = root / "models" / _MODEL
    if not (model_dir / "model.json").is_file():
        t0 = time.perf_counter()
        say(f"demo: training a live SpeechNet on it ({n_epochs} epochs at most) into {model_dir} ...")
        _train(synth, model_dir, n_epochs=n_epochs, seed=seed)
        say(f"demo: model trained in {time.perf_counter() - t0:.0f} s")
    return DemoAssets(synth, model_dir, difficulty, seed)


def _train(synth: Path, model_dir: Path, *, n_epochs: int, seed: int) -> None:
    """A live model as ``myovox train --live`` makes it: causal filter, onset-shifted windows."""
    from ..datasets import load_dataset
    from ..models.card import card_from_training
    from ..models.io import save_model
    from ..models.registry import make_model
    from ..preprocessing.pipeline import dataset_windows
    from ..windows import LIVE_OFFSETS_S, downsample_rest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the synthetic files' lost packets are expected
        ds = load_dataset(synth, source="raw", filtered=False)
        w, ds = dataset_windows(ds, window_s=1.4, causal=True, offsets_s=LIVE_OFFSETS_S, return_dataset=True)
    train = downsample_rest(w, rest_label=0, random_state=seed)
    model = make_model(
        "speechnet",
        sfreq=w.sfreq,
        n_channels=w.n_channels,
        n_times=w.n_samples,
        random_state=seed,
        n_epochs=n_epochs,
        n_threads=1,
    )
    model.fit(train.X.astype(np.float32), train.y)
    card = card_from_training(
        model,
        w,
        ds,
        rest_label=0,
        training={
            "n_windows": len(train),
            "classes": train.class_counts(),
            "onset_offsets_s": list(LIVE_OFFSETS_S),
            "note": "myovox serve --demo",
        },
    )
    save_model(model, model_dir, card)

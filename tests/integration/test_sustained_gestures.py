"""End to end on tiny synthetic long holds: `myovox train --live --segment whole`, then `myovox stream --mode hold`."""

import json

import pytest

from myovox.cli.main import main
from myovox.evaluation.streaming import event_metrics, hold_durations
from myovox.io.bio import write_bio
from myovox.testing.holds import HoldConfig, generate_hold_dataset, generate_hold_recording
from myovox.testing.synth import SynthConfig

CFG = SynthConfig.preset("easy", words=("up", "down", "left"), start_s=2.0, tail_s=2.0)
HOLDS = HoldConfig(n_holds=3)


@pytest.fixture(scope="module")
def model_and_test(tmp_path_factory):
    root = tmp_path_factory.mktemp("holds")
    data = generate_hold_dataset(root / "data", n_batches=2, holds=HOLDS, config=CFG)
    args = ["-q", "train", str(data), "--model", "lda", "--live", "--segment", "whole", "--window", "1.0"]
    assert main([*args, "--out", str(root / "model")]) == 0
    test = generate_hold_recording(1, 1, 3, holds=HOLDS, config=CFG)
    return root / "model", test, write_bio(test, root / "test.bio", layout="old")


def test_the_model_card_says_how_it_was_trained(model_and_test):
    from myovox.models.io import read_card

    card = read_card(model_and_test[0])
    assert card.causal and card.training["segment"] == "whole" and card.training["segment_step_s"] == 0.2


def test_stream_hold_mode_gives_one_command_per_hold_with_its_duration(model_and_test, capsys):
    model, test, bio = model_and_test
    capsys.readouterr()
    assert main(["-q", "stream", "--source", f"replay:{bio}", "--model", str(model), "--mode", "hold"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    commands = [e for e in lines if e["type"] == "command"]
    ends = [e for e in lines if e["type"] == "hold_end"]
    assert commands and all(e["state"] == "start" for e in commands)
    # every hold that ended was started before, and no command fired while it was held
    open_hold = None
    for e in lines:
        if e["type"] == "command":
            assert open_hold is None
            open_hold = e
        else:
            assert open_hold is not None and e["label"] == open_hold["label"]
            assert e["t_start"] == open_hold["t_start"] and e["duration_s"] > 0
            open_hold = None
    assert len(ends) >= len(commands) - 1
    m = event_metrics(lines, test)
    assert m["n_cues"] == 9 and m["n_events"] == len(commands)
    assert m["recall"] >= 0.6 and m["precision"] >= 0.6
    h = hold_durations(lines, test)
    assert h["n_ended"] >= 5 and h["abs_error_s_median"] < 0.6


def test_hold_mode_fires_fewer_repeats_than_the_utterance_mode(model_and_test):
    from myovox.realtime.recognizer import Recognizer
    from myovox.streams.replay import ReplayStream

    model, test, _ = model_and_test
    scores = {}
    for mode in ("utterance", "hold"):
        r = Recognizer.from_saved(model, mode=mode)
        r.run(ReplayStream(test))
        scores[mode] = event_metrics(r.events, test)
    assert scores["hold"]["n_wrong_or_repeated"] <= scores["utterance"]["n_wrong_or_repeated"]
    assert scores["hold"]["n_events"] <= scores["utterance"]["n_events"]

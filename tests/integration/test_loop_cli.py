"""Issue 10, build item 2: the user's whole loop, through the command line only.

A simulated BioGAP-Ultra device serves packets on 127.0.0.1 TCP with 2 % packet loss and one stall
-> `myovox record` two guided sessions into a dataset folder -> `myovox info` shows subject and
sessions -> `myovox train` -> `myovox stream` from the device (commands recognised, loss reported)
-> `myovox record` a third session -> `myovox finetune` -> `myovox export --int8` -> the compiled C
library agrees with the NumPy integer reference.
"""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from myovox.cli.main import main

pytest.importorskip("torch")

SPEED = 10.0  # the device serves 10x real time: a 40 s protocol takes 4 s
PROTOCOL = {
    "words": ["up", "down", "left"],
    "repetitions": 6,
    "start_s": 1.5,
    "rest_s": 1.5,
    "cue_s": 2.0,
    "tail_s": 1.5,
    "seed": 0,
}


def _device(protocol_dict, session, batch, seed):
    from myovox.acquisition import CueProtocol
    from myovox.testing.device import SimulatedBioGAP
    from myovox.testing.synth import SynthConfig, generate_cued_recording

    # the participant: follows the protocol's cues; 2 s more at the end so the device outlives the protocol
    proto = CueProtocol(**{**protocol_dict, "tail_s": protocol_dict["tail_s"] + 2.0})
    # easy data: a model trained on 2 short sessions must recognise the third (recall >= 50 %)
    rec = generate_cued_recording(
        proto, subject=1, session=session, batch=batch, config=SynthConfig.preset("easy"), seed=seed
    )
    return SimulatedBioGAP(rec, loss=0.02, stall_at_s=6.0, stall_s=1.0, speed=SPEED, seed=seed), rec, proto


def _record(root, session, batch, seed):
    dev, _, _ = _device(PROTOCOL, session, batch, seed)
    protocol_file = root / "protocol.json"
    protocol_file.write_text(json.dumps(PROTOCOL))
    with dev:
        rc = main(
            [
                "-q",
                "record",
                "--source",
                dev.address,
                "--timeout",
                "3",
                "--protocol",
                str(protocol_file),
                "--out",
                str(root / "data"),
                "--subject",
                "S01",
                "--session",
                str(session),
                "--batch",
                str(batch),
                "--name",
                f"sess_{session}_batch_{batch}",
            ]
        )
    assert rc == 0
    return dev.stats


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    return tmp_path_factory.mktemp("loop")


def test_1_record_two_sessions(loop, capsys):
    for session in (1, 2):
        stats = _record(loop, session, 1, seed=session)
        assert stats.n_dropped_random > 0 and stats.n_dropped_stall > 0
    capsys.readouterr()
    assert main(["info", str(loop / "data"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dataset"] == "recorded" and info["subjects"] == ["S01"] and info["sessions"] == [1, 2]
    assert info["n_channels"] == [16]
    side = json.loads((loop / "data" / "sess_1_batch_1.json").read_text())
    assert side["status"] == "complete" and side["stream_stats"]["n_lost"] > 0


def test_2_train_on_the_recordings(loop):
    assert (
        main(
            [
                "-q",
                "train",
                str(loop / "data"),
                "--model",
                "speechnet",
                "--live",
                "--epochs",
                "40",
                "--out",
                str(loop / "model"),
            ]
        )
        == 0
    )
    card = json.loads((loop / "model" / "model.json").read_text())
    assert len(card["ch_names"]) == 16 and card["causal"] is True and card["training"]["sessions"] == [1, 2]


def test_3_stream_from_the_device(loop, capsys, caplog):
    dev, _rec, proto = _device(PROTOCOL, 2, 2, seed=22)  # a new batch of a known session
    capsys.readouterr()
    with dev, caplog.at_level(logging.INFO, logger="myovox"):
        rc = main(
            [
                "stream",
                "--source",
                dev.address,
                "--timeout",
                "3",
                "--model",
                str(loop / "model"),
                "--duration",
                str(proto.duration_s - 1.0),
            ]
        )
    assert rc == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    words = {int(lab): name for lab, name in proto.label_names.items()}
    sched = proto.schedule()
    hits = set()
    for ev in events:
        for k, (on, off, lab) in enumerate(sched):
            if ev["label"] == words[lab] and on - 0.5 <= ev["t_start"] + 0.7 <= off + 1.0:
                hits.add(k)
    recall = len(hits) / len(sched)
    assert recall >= 0.5, (recall, events)
    finished = [r.getMessage() for r in caplog.records if "stream finished" in r.getMessage()]
    stats = json.loads(finished[-1].split("stream finished: ", 1)[1])
    assert stats["n_missing_samples"] > 0 and stats["stream"]["packets_lost"] > 0  # reported, not hidden
    assert any("were lost" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


def test_4_record_a_third_session_and_finetune(loop):
    _record(loop, 3, 1, seed=3)
    assert (
        main(
            [
                "-q",
                "finetune",
                str(loop / "model"),
                str(loop / "data"),
                "--sessions",
                "3",
                "--epochs",
                "10",
                "--out",
                str(loop / "model_s3"),
            ]
        )
        == 0
    )
    card = json.loads((loop / "model_s3" / "model.json").read_text())
    assert card["training"]["fine_tuned"][0]["sessions"] == [3]


def test_5_export_int8_c_agrees_with_the_reference(loop):
    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no C compiler")
    from myovox.cli.export import calibration_windows
    from myovox.export.c_codegen import compile_harness, run_harness, run_harness_quantize
    from myovox.export.quantize import quantize_model
    from myovox.models.io import load_model

    assert (
        main(
            [
                "-q",
                "export",
                str(loop / "model_s3"),
                "--format",
                "c",
                "--int8",
                "--calibration",
                str(loop / "data"),
                "--out",
                str(loop / "c"),
            ]
        )
        == 0
    )
    model, card = load_model(loop / "model_s3")
    X = calibration_windows(str(loop / "data"), card).astype(np.float32)
    q = quantize_model(model, X)
    exe = compile_harness(loop / "c")
    Xq = run_harness_quantize(exe, X)
    np.testing.assert_array_equal(Xq, q.quantize_input(X))
    logits, _idx = run_harness(exe, Xq, q.n_classes)
    np.testing.assert_array_equal(logits, q.forward_int8(Xq))
    side = json.loads((loop / "c" / "model.json").read_text())
    assert side["ch_names"] == list(card.ch_names) and side["causal"] is True


def _tree(folder):
    """Every file under ``folder`` with its bytes (to show that nothing in it changed)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_6_every_output_folder_keeps_the_user_s_files(loop, capsys):
    # a participant's notes in each folder the loop wrote: recording another batch into the dataset keeps them,
    # and writing over a model or export folder with --force is refused (one line naming the file), not done
    notes = b"participant wore the band loosely on day 2\n"
    for name in ("data", "model", "model_s3", "c"):
        (loop / name / "notes.txt").write_bytes(notes)
    _record(loop, 3, 2, seed=32)
    assert (loop / "data" / "notes.txt").read_bytes() == notes
    assert (loop / "data" / "sess_3_batch_2.csv").exists() and (loop / "data" / "sess_3_batch_2.json").exists()
    commands = {
        "model": ["train", str(loop / "data"), "--model", "speechnet", "--live", "--epochs", "1"],
        "model_s3": ["finetune", str(loop / "model"), str(loop / "data"), "--sessions", "3", "--epochs", "1"],
        "c": ["export", str(loop / "model_s3"), "--format", "c", "--int8", "--calibration", str(loop / "data")],
    }
    for name, args in commands.items():
        before = _tree(loop / name)
        capsys.readouterr()
        rc = main(["-q", *args, "--out", str(loop / name), "--force"])
        err = capsys.readouterr().err.strip()
        assert rc != 0, name
        assert "notes.txt" in err and "did not write" in err and "Traceback" not in err, (name, err)
        assert len(err.splitlines()) == 1, (name, err)
        assert _tree(loop / name) == before, name  # nothing replaced, nothing deleted

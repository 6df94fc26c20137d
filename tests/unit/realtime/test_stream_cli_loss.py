"""`myovox stream` in-process: lossy replays and a lossy simulated device keep their commands; bad
options and sources give one-line errors."""

import json

import pytest

from myovox.cli.main import main


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from myovox.testing.synth import generate_dataset

    root = tmp_path_factory.mktemp("loss_cli")
    kw = dict(
        n_subjects=1, n_sessions=1, n_batches=1, conditions=("vocalized",), n_repetitions=6, seed=3, processed=False
    )
    clean = generate_dataset(root / "clean", **kw)
    lossy = generate_dataset(root / "lossy", packet_loss=0.03, **kw)
    assert main(["-q", "train", str(clean), "--model", "lda", "--causal", "--out", str(root / "model")]) == 0
    return root / "model", next((clean / "raw").rglob("*.bio")), next((lossy / "raw").rglob("*.bio"))


def _stream(capsys, model, source, *extra):
    capsys.readouterr()
    rc = main(["stream", "--source", source, "--model", str(model), *extra])
    cap = capsys.readouterr()
    return rc, [json.loads(x) for x in cap.out.splitlines()], cap.err


def _correct(events, bio):
    from myovox.evaluation.streaming import event_metrics
    from myovox.io import read_recording

    return event_metrics(events, read_recording(bio))["n_correct"]


@pytest.mark.filterwarnings("ignore:.*packet\\(s\\) lost")
def test_stream_cli_with_3_percent_packet_loss_keeps_its_commands(setup, capsys, caplog):
    model, clean, lossy = setup
    rc, ev_clean, _ = _stream(capsys, model, f"replay:{clean}")
    assert rc == 0
    caplog.clear()
    rc, ev_lossy, _ = _stream(capsys, model, f"replay:{lossy}")
    assert rc == 0
    n_clean, n_lossy = _correct(ev_clean, clean), _correct(ev_lossy, clean)  # true-time labels of the clean file
    assert n_clean >= 20
    assert n_lossy >= n_clean - 3, (n_clean, n_lossy)
    assert "were lost in" in caplog.text and '"n_lost": ' in caplog.text  # the loss is reported
    # the old handling (samples joined, gaps held) is far worse: the defaults matter
    _, ev_joined, _ = _stream(capsys, model, f"replay:{lossy}", "--no-fill-lost")
    _, ev_hold, _ = _stream(capsys, model, f"replay:{lossy}", "--gap-fill", "hold")
    assert _correct(ev_joined, clean) < n_lossy - 5 and _correct(ev_hold, clean) < n_lossy


def test_stream_cli_from_a_lossy_simulated_device(setup, capsys, caplog):
    from myovox.testing.device import SimulatedBioGAP

    model, clean, _ = setup
    with SimulatedBioGAP(clean, loss=0.02, stall_at_s=10.0, stall_s=1.0, speed=20.0) as dev:
        rc, events, err = _stream(capsys, model, dev.address, "--duration", str(dev.duration_s - 2))
    assert rc == 0, err
    _, ev_replay, _ = _stream(capsys, model, f"replay:{clean}", "--duration", str(dev.duration_s - 2))
    assert _correct(events, clean) >= _correct(ev_replay, clean) - 4
    assert "were lost in" in caplog.text and dev.stats.n_lost > 125


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--step", "-1"], "argument --step"),
        (["--step", "0"], "argument --step"),
        (["--timeout", "-2"], "argument --timeout"),
        (["--speed", "0"], "argument --speed"),
        (["--duration", "-5"], "argument --duration"),
        (["--refractory", "-1"], "argument --refractory"),
        (["--votes", "0"], "argument --votes"),
        (["--min-votes", "0"], "argument --min-votes"),
        (["--threshold", "1.5"], "argument --threshold"),
        (["--threshold", "-0.1"], "argument --threshold"),
        (["--max-missing", "1"], "argument --max-missing"),
        (["--gap-fill", "nan"], "argument --gap-fill"),
    ],
)
def test_stream_cli_refuses_impossible_options_in_one_line(setup, capsys, args, message):
    model, clean, _ = setup
    try:  # argparse exits with 2; main() may also turn that into a return value
        rc = main(["stream", "--source", f"replay:{clean}", "--model", str(model), *args])
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "\n".join(err)


def test_stream_cli_one_line_errors_for_votes_and_bad_sources(setup, capsys, tmp_path):
    model, clean, _ = setup
    rc, _, err = _stream(capsys, model, f"replay:{clean}", "--votes", "2", "--min-votes", "3")
    assert rc == 2 and "--min-votes (3) cannot exceed --votes (2)" in err and len(err.strip().splitlines()) == 1
    rc, _, err = _stream(capsys, model, "biogap:tcp://127.0.0.1:99999")
    assert rc == 2 and "port between 1 and 65535" in err and len(err.strip().splitlines()) == 1
    rc, events, err = _stream(capsys, model, f"biogap:{clean}")
    assert rc == 2 and not events and f"replay:{clean}" in err and len(err.strip().splitlines()) == 1


def test_stream_help_shows_defaults(capsys):
    try:
        main(["stream", "--help"])
    except SystemExit:
        pass
    out = " ".join(capsys.readouterr().out.split())
    for text in (
        "seconds between decisions (default 0.1)",
        "(default 0.6)",
        "(default 3)",
        "(default 2)",
        "(default 1.0)",
        "(default 0.25)",
        "(default repeat)",
    ):
        assert text in out, text


def test_stream_cli_reports_what_it_got_when_the_device_switches_off(setup, capsys, caplog):
    from myovox.testing.device import SimulatedBioGAP

    model, clean, _ = setup
    with SimulatedBioGAP(clean, loss=0.02, speed=None) as dev:
        caplog.clear()
        rc, events, err = _stream(capsys, model, dev.address, "--timeout", "0.3")
    errors = [ln for ln in err.strip().splitlines() if not ln.startswith(("INFO:", "WARNING:"))]  # log lines aside
    assert rc == 2 and "samples were received and kept" in err and len(errors) == 1
    assert events and "stream stopped early" in caplog.text and "were lost in" in caplog.text

"""The end-to-end demo behind ``myovox demo``: synthesise, evaluate, adapt, export, recognise live.

Steps (each writes into ``out_dir``):

1. ``data/``: a synthetic SilentWear-format dataset (raw ``.bio`` and processed ``.h5``).
2. ``global/``, ``inter_session/``, ``fine_tune/``: the reference's protocols with SpeechNet
   (results.json, folds.csv, report.md with plots).
3. ``model/``: a live model trained on sessions 1-2 with the *causal* filter (what a stream sees).
4. ``export/``: the int8 C99 library of that model, its parity checks and the MCU budget.
5. A live replay of a held-out session's raw ``.bio`` file through the recogniser; commands are
   logged as they fire and scored against the cues (``live_events.jsonl``, ``live_metrics.json``);
   then ``rest_minutes`` of continuous rest of the same session (swallows, coughs, head turns;
   :func:`myovox.testing.synth.generate_rest_recording`), where every command is a false
   activation (``rest_metrics.json``).
6. ``summary.md``: the numbers of every step.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._json import to_jsonable
from ._logging import logger
from ._outputs import output_folder, read_manifest
from .windows import LIVE_OFFSETS_S

_MARKER = ".myovox-demo"
_WHAT = "demo folder"
#: window start offsets (s) from each cue onset used to train the live model


def _pct(v: float | None) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{100 * v:.1f} %"


def run_demo(
    out_dir: str | Path = "myovox-demo",
    *,
    n_batches: int = 3,
    n_repetitions: int = 5,
    n_epochs: int = 40,
    ft_epochs: int = 30,
    window_s: float = 1.4,
    seed: int = 0,
    difficulty: str = "reference",
    rest_minutes: float = 10.0,
    force: bool = False,
    show: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the whole pipeline on a synthetic dataset; returns the headline numbers.

    Parameters
    ----------
    out_dir : path-like
        Output folder, written whole or not at all (:func:`myovox._outputs.output_folder`). A
        previous demo folder is replaced; any other non-empty folder needs ``force``, which
        replaces only a folder that myovox wrote (never one holding other files).
    n_batches, n_repetitions : int
        Batches per session (3 sessions, 1 subject, vocalized) and repetitions per word per batch.
    n_epochs, ft_epochs : int
        SpeechNet training and fine-tuning epochs (reference: 100 and 50, early stopping on).
    window_s : float
        Window length in seconds (reference: 1.4).
    seed : int
    difficulty : {"easy", "reference", "hard"}
        Signal-model preset of the synthetic data (:meth:`myovox.testing.synth.SynthConfig.preset`);
        ``"reference"`` is calibrated to the reference's published accuracies.
    rest_minutes : float
        Minutes of continuous rest replayed for false activations per hour (0: skip).
    force : bool
        Replace a non-empty folder that myovox wrote before.
    show : callable | None
        Receives human-readable progress lines (the CLI prints them).
    """
    from ._checks import check_option, check_positive
    from .testing.synth import DIFFICULTIES

    check_option("difficulty", difficulty, DIFFICULTIES)
    check_positive("rest_minutes", rest_minutes, allow_zero=True)
    say = show or (lambda s: logger.info("%s", s))
    final = Path(out_dir)
    # a previous demo folder is replaced without --force; either way only if myovox wrote all of it
    replace = force or (read_manifest(final) or {}).get("what") == _WHAT
    with output_folder(final, force=replace, what=_WHAT) as out:
        (out / _MARKER).write_text("made by myovox demo\n")
        summary = _run(
            out,
            final,
            say,
            n_batches=n_batches,
            n_repetitions=n_repetitions,
            n_epochs=n_epochs,
            ft_epochs=ft_epochs,
            window_s=window_s,
            seed=seed,
            difficulty=difficulty,
            rest_minutes=rest_minutes,
        )
    say(f"[6/6] done in {summary['wall_s']:.0f} s; summary in {final / 'summary.md'}")
    return summary


def _relocate(obj: Any, src: Path, dst: Path) -> Any:
    """``obj`` with paths under ``src`` (the temporary folder) moved to ``dst`` (the final one)."""
    if isinstance(obj, dict):
        return {k: _relocate(v, src, dst) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_relocate(v, src, dst) for v in obj)
    if isinstance(obj, (str, Path)):
        text, prefix = str(obj), str(src)
        if text == prefix or text.startswith(prefix + os.sep):
            return type(obj)(str(dst) + text[len(prefix) :])
    return obj


def _run(
    out: Path,
    final: Path,
    say: Callable[[str], None],
    *,
    n_batches: int,
    n_repetitions: int,
    n_epochs: int,
    ft_epochs: int,
    window_s: float,
    seed: int,
    difficulty: str,
    rest_minutes: float,
) -> dict[str, Any]:
    """The demo's steps, written into ``out`` (a temporary folder that becomes ``final``)."""
    from .datasets import load_dataset
    from .evaluation.protocols import run_protocol
    from .testing.synth import generate_dataset

    t_all = time.perf_counter()
    summary: dict[str, Any] = {
        "settings": dict(
            n_batches=n_batches,
            n_repetitions=n_repetitions,
            n_epochs=n_epochs,
            ft_epochs=ft_epochs,
            window_s=window_s,
            seed=seed,
            difficulty=difficulty,
            rest_minutes=rest_minutes,
        )
    }

    # 1. data --------------------------------------------------------------------------
    say(
        f"[1/6] synthesising 1 subject x 3 sessions x {n_batches} batches (vocalized, {n_repetitions} "
        f"repetitions of 8 words per batch, difficulty {difficulty}) ..."
    )
    data = generate_dataset(
        out / "data",
        n_subjects=1,
        n_sessions=3,
        n_batches=n_batches,
        conditions=("vocalized",),
        n_repetitions=n_repetitions,
        seed=seed,
        difficulty=difficulty,
    )
    ds = load_dataset(data, source="processed")
    s = ds.summary()
    say(
        f"      {s['n_recordings']} recordings, {s['n_channels'][0]} channels @ {s['sfreq'][0]:g} Hz, "
        f"{s['total_duration_s'] / 60:.1f} min, classes {s['classes']}"
    )
    summary["dataset"] = s

    # 2. protocols ----------------------------------------------------------------------
    mp = {"n_epochs": n_epochs, "n_threads": 1}
    results = {}
    for step, name, kw in (
        ("2a", "global", {}),
        ("2b", "inter_session", {}),
        ("2c", "fine_tune", {"test_sessions": [3], "ft_epochs": ft_epochs}),
    ):
        say(f"[{step}/6] {name} protocol with SpeechNet ({n_epochs} epochs max, early stopping) ...")
        t0 = time.perf_counter()
        res = run_protocol(name, ds, model="speechnet", window_s=window_s, model_params=mp, random_state=seed, **kw)
        res.dataset = _relocate(res.dataset, out, final)
        res.save(out / name)
        results[name] = res
        say(f"      balanced accuracy {_pct(res.mean)} ({time.perf_counter() - t0:.0f} s) -> {final / name}")
    curve = results["fine_tune"].curves
    summary["global"] = results["global"].mean
    summary["inter_session"] = results["inter_session"].mean
    summary["fine_tune_curve"] = curve
    for c in curve:
        say(
            f"      new session, batch {c['batch']} ({c['minutes']:.1f} min of new data seen): "
            f"FT {_pct(c['ft'])}  no-FT {_pct(c['no_ft'])}  scratch {_pct(c['scratch'])}"
        )

    # 3. live model (causal filter) -------------------------------------------------------
    say(
        "[3/6] training the live model on sessions 1-2 with the causal filter (onsets shifted by "
        f"{', '.join(f'{o:+g}' for o in LIVE_OFFSETS_S)} s) ..."
    )
    model_dir, train_X = _train_live_model(data, out / "model", window_s, mp, seed)

    # 4. export ---------------------------------------------------------------------------
    say("[4/6] exporting to int8 C99 and checking it against the float model ...")
    summary["export"] = _export(model_dir, out / "export", train_X, data, window_s, say, final / "export")

    # 5. live replay ------------------------------------------------------------------------
    say("[5/6] live replay of a held-out session (session 3, batch 1, raw .bio) through the recogniser:")
    summary["live"] = _live(model_dir, data, out, say)
    if rest_minutes > 0:
        say(f"      and {rest_minutes:g} min of continuous rest of session 3 (swallows, coughs, head turns):")
        summary["rest"] = _rest(model_dir, out, say, minutes=rest_minutes, difficulty=difficulty, seed=seed)

    # 6. summary ------------------------------------------------------------------------------
    summary["wall_s"] = round(time.perf_counter() - t_all, 1)
    summary = _relocate(summary, out, final)  # paths as they will be once the folder is in place
    (out / "summary.json").write_text(json.dumps(to_jsonable(summary), indent=1))
    (out / "summary.md").write_text(_markdown(summary))
    return summary


def _train_live_model(data: Path, model_dir: Path, window_s: float, mp: dict, seed: int):
    from .datasets import load_dataset
    from .models.card import card_from_training
    from .models.io import save_model
    from .models.registry import make_model
    from .preprocessing.pipeline import dataset_windows
    from .windows import downsample_rest

    ds = load_dataset(data, source="raw", filtered=False).select(session=[1, 2])
    # live windows slide over the stream, so train on onsets shifted by -0.2 .. +0.4 s as well
    w, ds = dataset_windows(ds, window_s=window_s, causal=True, offsets_s=LIVE_OFFSETS_S, return_dataset=True)
    train = downsample_rest(w, rest_label=0, random_state=seed)
    model = make_model(
        "speechnet", sfreq=w.sfreq, n_channels=w.n_channels, n_times=w.n_samples, random_state=seed, **mp
    )
    model.fit(train.X.astype(np.float32), train.y)
    rng = np.random.default_rng(seed)
    calib = train.X[rng.permutation(len(train))[:200]].astype(np.float32)
    card = card_from_training(
        model,
        w,
        ds,
        rest_label=0,
        training={"n_windows": len(train), "classes": train.class_counts(), "onset_offsets_s": list(LIVE_OFFSETS_S)},
    )
    save_model(model, model_dir, card, extra_files={"calibration.npz": {"X": calib}})
    return model_dir, calib


def _export(
    model_dir: Path, export_dir: Path, calib: np.ndarray, data: Path, window_s: float, say, shown_dir: Path
) -> dict:
    from .datasets import load_dataset
    from .export import export_model
    from .export.reference import compare_accuracy
    from .models.io import load_model
    from .preprocessing.pipeline import dataset_windows

    res = export_model(model_dir, export_dir, format="c", int8=True, calibration=calib, force=True, report=True)
    model, _ = load_model(model_dir)
    test = dataset_windows(
        load_dataset(data, source="raw", filtered=False).select(session=3), window_s=window_s, causal=True
    )
    from .export.quantize import quantize_model

    qmodel = quantize_model(model, calib)
    acc = compare_accuracy(model, qmodel, test.X.astype(np.float32), test.y)
    budget = res.get("budget") or {}
    est = budget.get("estimates", {})
    say(
        f"      held-out session 3: float {_pct(acc.get('float_balanced_accuracy'))}, int8 "
        f"{_pct(acc.get('int8_balanced_accuracy'))}, agreement {_pct(acc.get('agreement'))}"
    )
    if budget:
        host = (budget.get("host") or {}).get("latency_ms_median", float("nan"))
        say(
            f"      int8 C library: {budget['parameters']} parameters, flash {budget['flash_bytes']['total']} B, "
            f"activation RAM {budget['ram_bytes']['activation_buffers']} B, {budget['macs'] / 1e6:.2f} M MACs; "
            f"host {host:.2f} ms/window; GAP9 ESTIMATE {est['gap9']['latency_ms']:.2f} ms, "
            f"{est['gap9']['energy_uj']:.1f} uJ (budget.md in {shown_dir})"
        )
    return {"accuracy": acc, "budget": budget, "files": {k: str(v) for k, v in (res.get("files") or {}).items()}}


def _live(model_dir: Path, data: Path, out: Path, say) -> dict:
    from .evaluation.streaming import event_metrics
    from .exceptions import ValidationError
    from .io.bio import read_bio
    from .realtime.outputs import CallbackOutput, JsonLinesOutput
    from .realtime.recognizer import Recognizer
    from .streams.replay import ReplayStream

    bio = sorted((data / "raw").glob("S*/vocalized/sess_3_batch_1_*.bio"))[0]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = read_bio(bio, fill_lost="nan")
    labels, names = rec.labels, rec.label_names
    if labels is None or names is None:
        raise ValidationError(f"{bio} has no labels (cues); the live demo compares the events with them.")
    recog = Recognizer.from_saved(model_dir, step_s=0.1)

    def show_event(ev) -> None:
        truth = names.get(int(labels[min(int(ev.t_end * rec.sfreq), rec.n_times - 1)]), "?")
        say(f"      {ev.t_end:7.2f} s  {ev.label:<9} conf {ev.confidence:.2f}  (cue at that time: {truth})")

    stats = recog.run(
        ReplayStream(rec, chunk_s=0.04),
        outputs=[JsonLinesOutput(out / "live_events.jsonl"), CallbackOutput(show_event)],
    )
    m = event_metrics(recog.events, rec, rest_label=0, tolerance_s=1.0)
    say(
        f"      {m['n_events']} commands for {m['n_cues']} cues: precision {_pct(m['precision'])}, recall "
        f"{_pct(m['recall'])}, false activations {m['false_activations_per_hour']:.0f}/h, median latency from "
        f"cue onset {m['latency_s_median']:.2f} s"
    )
    m["stats"] = {k: v for k, v in stats.items() if k != "stream"}
    (out / "live_metrics.json").write_text(json.dumps(to_jsonable(m), indent=1))
    return m


def _rest(model_dir: Path, out: Path, say, *, minutes: float, difficulty: str, seed: int) -> dict:
    """False activations per hour on continuous synthetic rest (every command is one)."""
    from .evaluation.streaming import event_metrics
    from .realtime.recognizer import Recognizer
    from .streams.replay import ReplayStream
    from .testing.synth import SynthConfig, generate_rest_recording

    rec = generate_rest_recording(60.0 * minutes, 1, 3, config=SynthConfig.preset(difficulty), seed=seed)
    recog = Recognizer.from_saved(model_dir, step_s=0.1)
    stats = recog.run(ReplayStream(rec, chunk_s=0.04))
    m = event_metrics(recog.events, rec, rest_label=0)
    m["non_speech_events"] = {k: rec.meta[k] for k in ("n_swallows", "n_coughs", "n_head_turns")}
    m["events"] = [ev.label for ev in recog.events]
    m["stats"] = {k: v for k, v in stats.items() if k != "stream"}
    say(
        f"      {m['n_events']} commands in {minutes:g} min of rest with {m['non_speech_events']['n_swallows']} "
        f"swallows, {m['non_speech_events']['n_coughs']} coughs, {m['non_speech_events']['n_head_turns']} head "
        f"turns: {m['false_activations_per_hour']:.0f} false activations/h"
    )
    (out / "rest_metrics.json").write_text(json.dumps(to_jsonable(m), indent=1))
    return m


def _markdown(s: dict) -> str:
    lines = [
        "# myovox demo summary",
        "",
        f"Settings: {s['settings']}",
        "",
        "| step | result |",
        "|---|---|",
        f"| global (leave-one-batch-out) | {_pct(s['global'])} balanced accuracy |",
        f"| inter-session (leave-one-session-out) | {_pct(s['inter_session'])} |",
    ]
    for c in s["fine_tune_curve"]:
        lines.append(
            f"| fine-tune, new session batch {c['batch']} ({c['minutes']:.1f} min new data) | "
            f"FT {_pct(c['ft'])}, no-FT {_pct(c['no_ft'])}, scratch {_pct(c['scratch'])} |"
        )
    acc = s["export"]["accuracy"]
    lines.append(
        f"| int8 vs float (held-out session) | int8 {_pct(acc.get('int8_balanced_accuracy'))}, float "
        f"{_pct(acc.get('float_balanced_accuracy'))} |"
    )
    lv = s["live"]
    lines.append(
        f"| live replay (session 3, batch 1) | precision {_pct(lv['precision'])}, recall "
        f"{_pct(lv['recall'])}, {lv['false_activations_per_hour']:.0f} false activations/h |"
    )
    if "rest" in s:
        r, minutes = s["rest"], s["settings"]["rest_minutes"]
        lines.append(
            f"| continuous rest ({minutes:g} min, swallows/coughs/head turns) | {r['n_events']} commands, "
            f"{r['false_activations_per_hour']:.0f} false activations/h |"
        )
    lines += ["", f"Wall time: {s['wall_s']:.0f} s.", ""]
    return "\n".join(lines)

"""Train a model on a dataset and save it with its model card (filter, channels, window, labels)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..exceptions import ValidationError
from ..windows import SEGMENT_RECIPES
from ._types import add_force_argument, positive_float, positive_int
from .evaluate import add_augment_arguments, add_data_arguments, check_model_name, load, parse_key_values


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset folder, a dataset card (.yaml) beside one, or a recording file")
    p.add_argument("--model", required=True, help="speechnet, rf, lda or svm")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument(
        "--window",
        type=positive_float,
        default=None,
        metavar="S",
        help="window length in seconds (default: the dataset's)",
    )
    p.add_argument("--sessions", nargs="+", default=None, metavar="S", help="only these sessions")
    p.add_argument("--epochs", type=positive_int, default=None, help="training epochs of neural models")
    p.add_argument(
        "--causal", action="store_true", help="filter causally (as a live stream is filtered) instead of zero-phase"
    )
    p.add_argument(
        "--live",
        action="store_true",
        help="train for `myovox stream`: causal filtering, and windows also 0.2 s before and 0.2/0.4 s "
        "after each onset (live windows slide past the cues)",
    )
    p.add_argument(
        "--segment",
        choices=SEGMENT_RECIPES,
        default="onset",
        help="training windows: onset (one per cue onset, also shifted with --live) or whole (every "
        "--segment-step seconds through each labelled segment, from 0.2 s before its onset with --live: for "
        "sustained gestures, whose live windows also meet the middle of the hold) (default onset)",
    )
    p.add_argument(
        "--segment-step",
        type=positive_float,
        default=0.2,
        metavar="S",
        help="stride of --segment whole in seconds (default 0.2)",
    )
    add_augment_arguments(p)
    add_force_argument(p, "a model folder")
    p.add_argument(
        "--param",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="model parameter, repeatable (e.g. --param standardize=true)",
    )
    add_data_arguments(p)


def select(dataset: Any, condition: str | None, subjects: Any, sessions: Any):
    """The dataset restricted to a condition, subjects and sessions (values compared as strings)."""
    crit: dict[str, Any] = {}
    if condition is not None:
        crit["condition"] = condition
    for key, vals in (("subject", subjects), ("session", sessions)):
        if vals is not None:
            wanted = {str(v) for v in vals}
            crit[key] = lambda v, wanted=wanted: str(v) in wanted
    ds = dataset.select(**crit) if crit else dataset
    if len(ds) == 0:
        raise ValidationError(
            f"No recordings of {dataset.name!r} match condition={condition!r}, subjects={subjects}, "
            f"sessions={sessions}; subjects: {dataset.meta_values('subject')}, "
            f"sessions: {dataset.meta_values('session')}."
        )
    return ds


def check_windows(windows: Any, what: str) -> None:
    """One-line error when no windows could be cut (e.g. a window longer than every recording)."""
    if len(windows) == 0:
        raise ValidationError(
            f"No {what} windows of {windows.window_s:g} s fit in the data (recordings or trials are "
            "shorter); choose a shorter --window."
        )
    if len(windows.classes) < 2:
        raise ValidationError(
            f"The {what} windows hold one class only ({windows.class_counts()}); a classifier needs "
            "at least two (record more repetitions or more words)."
        )


def run(args: argparse.Namespace) -> int:
    model_name = check_model_name(args.model)
    params: dict[str, Any] = parse_key_values(args.param, "--param", lists=False)
    if args.epochs is not None:
        from ..models.classical import CLASSICAL_MODELS

        if model_name in CLASSICAL_MODELS:
            raise ValidationError(f"--epochs does not apply to model {model_name!r} (no training epochs).")
        params["n_epochs"] = args.epochs
    from .._outputs import check_output_folder
    from ..adaptation.augment import augment_windows, parse_augment
    from ..models.card import card_from_training
    from ..models.io import save_model
    from ..models.registry import make_model
    from ..preprocessing.pipeline import dataset_windows
    from ..windows import LIVE_OFFSETS_S, downsample_rest

    augment = parse_augment(args.augment)
    out = Path(args.out)
    check_output_folder(out, force=args.force, what="model folder")  # before hours of training
    causal = args.causal or args.live
    offsets = LIVE_OFFSETS_S if args.live else (0.0,)
    ds = load(args.dataset, args.kind, raw_signal=causal, resample=args.resample, short_trials=args.short_trials)
    ds = select(ds, args.condition, args.subjects, args.sessions)
    windows, ds = dataset_windows(
        ds,
        window_s=args.window,
        causal=causal,
        offsets_s=offsets,
        return_dataset=True,
        segment=args.segment,
        step_s=args.segment_step,
    )
    check_windows(windows, "training")
    rest = ds.info.get("rest_label", 0)
    train = downsample_rest(windows, rest_label=rest, random_state=args.seed)
    n_original, classes = len(train), train.class_counts()
    if augment:
        train = augment_windows(train, augment, n_copies=args.augment_copies, random_state=args.seed)
    model = make_model(
        model_name,
        sfreq=windows.sfreq,
        n_channels=windows.n_channels,
        n_times=windows.n_samples,
        random_state=args.seed,
        **params,
    )
    model.fit(train.X, train.y)
    card = card_from_training(
        model,
        windows,
        ds,
        rest_label=rest,
        training={
            "condition": args.condition,
            "n_windows": n_original,
            "classes": classes,
            "onset_offsets_s": list(offsets),
            "segment": args.segment,
            **({"segment_step_s": args.segment_step} if args.segment == "whole" else {}),
            "augment": list(augment),
            "augment_copies": args.augment_copies if augment else 0,
        },
    )
    save_model(model, out, card, force=args.force)
    if augment:
        print(
            f"Augmented the {n_original} training windows with {args.augment_copies} cop(ies) ({', '.join(augment)})."
        )
    print(
        f"Trained {model_name} on {len(train)} windows ({windows.window_s:g} s, {windows.n_channels} channels, "
        f"{len(train.classes)} classes) of {ds.name!r}."
    )
    print(f"Saved the model and its model card to {out}")
    return 0

"""Run an evaluation protocol on a dataset and write results.json, folds.csv and a report.

Protocols: global (leave-one-batch-out), inter_session (leave-one-session-out; several --window
values give a window sweep; --adapt for label-free adaptation), train_from_scratch, fine_tune,
fewshot (--k 1 2 5), kfold, leave_one_out (--by KEY), transfer (--train KEY=VALUE --test KEY=VALUE).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..adaptation.augment import AUGMENTATIONS
from ..adaptation.label_free import ADAPT_METHODS
from ..datasets import ADAPTERS
from ..evaluation.protocols import PROTOCOL_NAMES
from ..exceptions import ValidationError
from ..models.classical import CLASSICAL_MODELS
from ..windows import SHORT_TRIALS
from ._types import add_force_argument, open_fraction, positive_float, positive_int


# ---------------------------------------------------------------------------- shared helpers
def _scalar(value: str) -> Any:
    """``"3"`` -> 3, ``"0.5"`` -> 0.5, ``"true"`` -> True, anything else stays a string."""
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def parse_key_values(items: Sequence[str] | None, flag: str, *, lists: bool = True) -> dict[str, Any]:
    """``["session=1", "day=1,2,3"]`` -> ``{"session": 1, "day": [1, 2, 3]}``.

    Numbers become ints/floats; with ``lists``, comma-separated values and repeated keys give lists.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ValidationError(f"Invalid value for '{flag}': expected KEY=VALUE (e.g. session=1), got {item!r}.")
        if not lists:
            out[key] = _scalar(value)
            continue
        vals = [_scalar(v.strip()) for v in value.split(",") if v.strip()]
        if key in out:
            prev = out[key] if isinstance(out[key], list) else [out[key]]
            vals = prev + vals
        out[key] = vals[0] if len(vals) == 1 else vals
    return out


def check_model_name(name: str) -> str:
    """Validate a model name against the registry (did-you-mean on typos)."""
    from .._checks import check_option
    from ..models.registry import MODELS

    return check_option("model", name, list(MODELS))


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", default=None, help=f"dataset adapter ({', '.join(ADAPTERS)}); auto-detected")
    p.add_argument("--condition", default=None, help="only this condition (e.g. silent); default: each separately")
    p.add_argument("--subjects", nargs="+", default=None, metavar="S", help="only these subjects")
    p.add_argument("--seed", type=int, default=0, help="random seed (splits, rest down-sampling, models)")
    p.add_argument(
        "--resample",
        type=positive_float,
        default=None,
        metavar="HZ",
        help="resample every recording to this rate (polyphase) before filtering",
    )
    p.add_argument(
        "--short-trials",
        choices=SHORT_TRIALS,
        default=None,
        help="one-trial-per-file data: drop trials shorter than the window (default) or pad them "
        "with each channel's mean; either way they are counted",
    )


def load(
    path: str,
    kind: str | None,
    *,
    raw_signal: bool = False,
    resample: float | None = None,
    short_trials: str | None = None,
):
    """Load a dataset; ``raw_signal`` asks for unfiltered data (for causal filtering); ``resample``
    and ``short_trials`` set the conditioning of its windows (``Dataset.info``)."""
    from ..datasets import load_dataset

    if not Path(path).exists():
        raise ValidationError(f"Dataset path {path} does not exist.")
    ds = load_dataset(path, kind=kind, raw_signal=raw_signal or resample is not None)
    if resample is not None:
        ds.info["resample"] = float(resample)
    if short_trials is not None:
        ds.info["short_trials"] = short_trials
    return ds


def load_for_model(path: str, kind: str | None, card: Any, *, short_trials: str | None = None):
    """Load a dataset as a model with ``card`` needs it: raw signals for a causally filtered model,
    resampled to the model's rate when the data have another one."""
    ds = load(path, kind, raw_signal=bool(card.causal), short_trials=short_trials)
    rates = {float(r.sfreq) for r in ds.recordings}
    if rates != {float(card.sfreq)}:
        from .._logging import logger

        logger.warning("resampling %s (%s Hz) to the model's %g Hz", path, sorted(rates), card.sfreq)
        ds = load(path, kind, raw_signal=True, resample=float(card.sfreq), short_trials=short_trials)
    return ds


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip())


# ---------------------------------------------------------------------------- the subcommand
def add_augment_arguments(p: argparse.ArgumentParser) -> None:
    """``--augment KINDS`` and ``--augment-copies N``: augmented copies of the training windows."""
    p.add_argument(
        "--augment",
        default=None,
        metavar="KINDS",
        help=f"add augmented copies of the training windows, any of {','.join(AUGMENTATIONS)} (comma-separated): "
        "electrode shift along the band, contact gains, timing, noise",
    )
    p.add_argument(
        "--augment-copies",
        type=positive_int,
        default=1,
        metavar="N",
        help="augmented copies per training window (default 1)",
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset folder, a dataset card (.yaml) beside one, or a recording file")
    p.add_argument("--protocol", required=True, help=f"one of {', '.join(PROTOCOL_NAMES)}")
    p.add_argument("--model", required=True, help="speechnet, rf, lda or svm")
    p.add_argument(
        "--window",
        type=positive_float,
        nargs="+",
        default=None,
        metavar="S",
        help="window length(s) in seconds (several: window sweep, inter_session only)",
    )
    p.add_argument(
        "--by",
        default=None,
        help="leave_one_out: metadata key (session, batch, day, phase, subject...); fewshot: the session key "
        "(default session)",
    )
    p.add_argument("--train", action="append", default=None, metavar="KEY=VALUE", help="transfer: training selection")
    p.add_argument("--test", action="append", default=None, metavar="KEY=VALUE", help="transfer: test selection")
    p.add_argument("--folds", type=positive_int, default=5, help="kfold: number of folds")
    p.add_argument("--epochs", type=positive_int, default=None, help="training epochs of neural models")
    p.add_argument("--strategy", default="all", help="fine_tune, fewshot: all | head | bn (default all)")
    p.add_argument("--ft-epochs", type=positive_int, default=50, help="fine_tune, fewshot: fine-tuning epochs")
    p.add_argument(
        "--k",
        type=positive_int,
        nargs="+",
        default=None,
        metavar="K",
        help="fewshot: labelled windows per class of the new session (default 1 2 5)",
    )
    p.add_argument("--repeats", type=positive_int, default=1, help="fewshot: random draws of the k windows")
    p.add_argument(
        "--test-sessions",
        nargs="+",
        default=None,
        metavar="S",
        help="fine_tune, fewshot: hold out only these sessions (default: each in turn)",
    )
    p.add_argument(
        "--adapt",
        choices=ADAPT_METHODS,
        default=None,
        help="inter_session, transfer: label-free adaptation to the unlabelled test session (standardize: "
        "each session's channels by its own RMS, any model; bn: re-estimate SpeechNet's batch-norm statistics)",
    )
    p.add_argument(
        "--adapt-by",
        default=None,
        metavar="KEY",
        help="transfer: adapt to each value of this metadata key separately (e.g. day); default: the whole test",
    )
    p.add_argument(
        "--adapt-first",
        type=open_fraction,
        default=None,
        metavar="FRACTION",
        help="inter_session, transfer: adapt on this first fraction of each test session (recording order) and "
        "score the rest, every --adapt method alike; default: the whole test session (transductive)",
    )
    p.add_argument(
        "--train-sessions",
        nargs="+",
        default=None,
        metavar="S",
        help="fewshot: train the base model on these sessions only (default: all but the held-out one)",
    )
    add_augment_arguments(p)
    p.add_argument("--out", default=None, help="output folder (default myovox-results/PROTOCOL-MODEL)")
    p.add_argument("--jobs", type=positive_int, default=1, help="parallel processes over folds")
    add_force_argument(p, "an --out folder")
    p.add_argument("--no-report", action="store_true", help="write results.json and folds.csv only")
    p.add_argument(
        "--param",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="model parameter, repeatable (e.g. --param standardize=true --param n_threads=1)",
    )
    add_data_arguments(p)


def run(args: argparse.Namespace) -> int:
    from ..evaluation.protocols import resolve_protocol

    protocol = resolve_protocol(args.protocol)
    model = check_model_name(args.model)
    options: dict[str, Any] = {"n_jobs": args.jobs, "subjects": args.subjects}
    if args.augment:
        options.update(augment=args.augment, augment_copies=args.augment_copies)
    if protocol == "leave_one_out":
        if not args.by:
            raise ValidationError("Protocol 'leave_one_out' needs --by KEY (e.g. --by session).")
        options["by"] = args.by
    elif protocol == "fewshot":
        options.update(k=args.k or [1, 2, 5], repeats=args.repeats)
        if args.by:
            options["by"] = args.by
    elif args.by:
        raise ValidationError(f"--by applies to protocols 'leave_one_out' and 'fewshot' only, not {protocol!r}.")
    if protocol != "fewshot" and (args.k or args.repeats != 1 or args.train_sessions):
        raise ValidationError(f"--k/--repeats/--train-sessions apply to protocol 'fewshot' only, not {protocol!r}.")
    if protocol == "transfer":
        train, test = parse_key_values(args.train, "--train"), parse_key_values(args.test, "--test")
        if not train or not test:
            raise ValidationError("Protocol 'transfer' needs --train KEY=VALUE and --test KEY=VALUE.")
        options.update(train=train, test=test)
    elif args.train or args.test:
        raise ValidationError(f"--train/--test apply to protocol 'transfer' only, not {protocol!r}.")
    if args.adapt is not None:
        if protocol not in ("inter_session", "transfer"):
            raise ValidationError(f"--adapt applies to protocols 'inter_session' and 'transfer', not {protocol!r}.")
        options["adapt"] = args.adapt
    if args.adapt_first is not None:
        if protocol not in ("inter_session", "transfer"):
            raise ValidationError(
                f"--adapt-first applies to protocols 'inter_session' and 'transfer', not {protocol!r}."
            )
        options["adapt_first"] = args.adapt_first
    if args.adapt_by is not None:
        if protocol != "transfer":
            raise ValidationError(f"--adapt-by applies to protocol 'transfer' only, not {protocol!r}.")
        options["adapt_by"] = args.adapt_by
    if protocol == "kfold":
        options["n_splits"] = args.folds
    if protocol in ("fine_tune", "fewshot"):
        options.update(strategy=args.strategy, ft_epochs=args.ft_epochs, test_sessions=args.test_sessions)
        if protocol == "fewshot" and args.train_sessions:
            options["train_sessions"] = args.train_sessions
    elif args.test_sessions:
        raise ValidationError(f"--test-sessions applies to protocols 'fine_tune' and 'fewshot' only, not {protocol!r}.")
    model_params: dict[str, Any] = parse_key_values(args.param, "--param", lists=False)
    if args.epochs is not None:
        if model in CLASSICAL_MODELS:  # no training epochs
            raise ValidationError(f"--epochs does not apply to model {model!r} (no training epochs).")
        model_params["n_epochs"] = args.epochs
    window: float | None = None
    if args.window and len(args.window) > 1:
        if protocol != "inter_session":
            raise ValidationError(
                f"Several --window values (a window sweep) apply to protocol 'inter_session' only, not {protocol!r}."
            )
        options["window_sweep"] = list(args.window)
    elif args.window:
        window = args.window[0]

    from .._outputs import check_output_folder
    from ..evaluation import run_protocol

    out = Path(args.out) if args.out else Path("myovox-results") / f"{protocol}-{model}"
    check_output_folder(out, force=args.force, what="results folder")  # before any training
    dataset = load(args.dataset, args.kind, resample=args.resample, short_trials=args.short_trials)
    result = run_protocol(
        protocol,
        dataset,
        model=model,
        window_s=window,
        condition=args.condition,
        random_state=args.seed,
        model_params=model_params or None,
        **options,
    )
    paths = result.save(out, report=not args.no_report, force=args.force)
    print(result.summary())
    print(f"Wrote {', '.join(sorted(p.name for p in paths.values()))} to {out}")
    return 0

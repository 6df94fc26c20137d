"""Train a model on a dataset and save it with its preprocessing sidecar (filter, channels, window, labels)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..exceptions import ValidationError
from .evaluate import _CLASSICAL, add_data_arguments, check_model_name, load, parse_key_values


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset folder (or a recording file)")
    p.add_argument("--model", required=True, help="speechnet, rf, lda or svm")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--window", type=float, default=None, metavar="S", help="window length in seconds")
    p.add_argument("--sessions", nargs="+", default=None, metavar="S", help="only these sessions")
    p.add_argument("--epochs", type=int, default=None, help="training epochs of neural models")
    p.add_argument("--causal", action="store_true",
                   help="filter causally (as a live stream is filtered) instead of zero-phase")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    p.add_argument("--param", action="append", default=None, metavar="KEY=VALUE",
                   help="model parameter, repeatable (e.g. --param standardize=true)")
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
        raise ValidationError(f"No recordings of {dataset.name!r} match condition={condition!r}, subjects={subjects}, "
                              f"sessions={sessions}; subjects: {dataset.meta_values('subject')}, "
                              f"sessions: {dataset.meta_values('session')}.")
    return ds


def sidecar(ds: Any, windows: Any, rest_label: int) -> dict[str, Any]:
    """The preprocessing a live or later user must repeat: filter design, channels, window, labels."""
    from ..preprocessing.pipeline import resolve_filter

    pre = ds.info.get("preprocessing", {})
    design = resolve_filter(pre.get("filter", ds.info.get("filter", "silentwear")), windows.sfreq)
    return {
        "sfreq": windows.sfreq,
        "filter": None if design is None else design.to_dict(),
        "causal": bool(pre.get("causal", False)),
        "channels": list(windows.ch_names),
        "ch_names": list(windows.ch_names),
        "channel_selection": pre.get("channels"),
        "window_s": windows.window_s,
        "n_samples": windows.n_samples,
        "window_mode": ds.window_mode,
        "label_map": {int(k): v for k, v in (windows.label_names or {}).items()},
        "rest_label": rest_label,
        "dataset": ds.name,
    }


def save(save_model: Any, model: Any, out: Path, pre: dict, overwrite: bool) -> None:
    """``save_model`` with a one-line user error when the folder is not empty."""
    try:
        save_model(model, out, preprocessing=pre, overwrite=overwrite)
    except FileExistsError as err:
        raise ValidationError(f"{err} (use --overwrite)") from None


def run(args: argparse.Namespace) -> int:
    model_name = check_model_name(args.model)
    params: dict[str, Any] = parse_key_values(args.param, "--param", lists=False)
    if args.epochs is not None:
        if model_name in _CLASSICAL:
            raise ValidationError(f"--epochs does not apply to model {model_name!r} (no training epochs).")
        params["n_epochs"] = args.epochs
    from ..models.io import save_model
    from ..models.registry import make_model
    from ..preprocessing.pipeline import preprocess_dataset
    from ..windows import downsample_rest, make_windows

    ds = select(load(args.dataset, args.kind, raw_signal=args.causal), args.condition, args.subjects,
                args.sessions)
    ds = preprocess_dataset(ds, causal=args.causal)
    windows = make_windows(ds, window_s=args.window)
    rest = ds.info.get("rest_label", 0)
    train = downsample_rest(windows, rest_label=rest, random_state=args.seed)
    model = make_model(model_name, sfreq=windows.sfreq, n_channels=windows.n_channels, n_times=windows.n_samples,
                       random_state=args.seed, **params)
    model.fit(train.X, train.y)
    pre = sidecar(ds, windows, rest)
    pre["trained_on"] = {"subjects": ds.meta_values("subject"), "sessions": ds.meta_values("session"),
                         "condition": args.condition, "n_windows": len(train), "classes": train.class_counts()}
    out = Path(args.out)
    save(save_model, model, out, pre, args.overwrite)
    print(f"Trained {model_name} on {len(train)} windows ({windows.window_s:g} s, {windows.n_channels} channels, "
          f"{len(train.classes)} classes) of {ds.name!r}.")
    print(f"Saved the model and its preprocessing sidecar to {out}")
    return 0

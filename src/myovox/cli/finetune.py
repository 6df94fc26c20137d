"""Fine-tune a saved model on new labelled data (e.g. a new session) and save the adapted copy."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..exceptions import ValidationError
from .evaluate import add_data_arguments, load, print_table


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir", help="folder written by `myovox train`")
    p.add_argument("dataset", help="dataset folder with the new labelled data")
    p.add_argument("--out", required=True, help="folder for the fine-tuned model")
    p.add_argument("--strategy", default="all", help="all (reference) | head | bn")
    p.add_argument("--epochs", type=int, default=50, help="fine-tuning epochs (default 50, as the reference)")
    p.add_argument("--sessions", nargs="+", default=None, metavar="S", help="only these sessions")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    add_data_arguments(p)


def run(args: argparse.Namespace) -> int:
    from .._checks import check_option
    from ..adaptation import FINE_TUNE_STRATEGIES

    check_option("strategy", args.strategy, FINE_TUNE_STRATEGIES)
    if not Path(args.model_dir).is_dir():
        raise ValidationError(f"Model folder {args.model_dir} does not exist.")
    from ..adaptation import fine_tune
    from ..evaluation.metrics import balanced_accuracy
    from ..models.io import load_model, save_model
    from ..preprocessing.pipeline import preprocess_dataset
    from ..windows import downsample_rest, make_windows
    from .train import save, select

    model, side = load_model(args.model_dir)
    pre: dict[str, Any] = dict(side.get("preprocessing", side) if isinstance(side, dict) else {})
    ds = select(load(args.dataset, args.kind, raw_signal=bool(pre.get("causal", False))), args.condition,
                args.subjects, args.sessions)
    channels = pre.get("channels")
    ds = preprocess_dataset(ds, filter=pre.get("filter", "silentwear"), causal=bool(pre.get("causal", False)),
                            channels=channels if channels else ds.info.get("channels"))
    windows = make_windows(ds, window_s=pre.get("window_s"))
    if pre.get("n_samples") not in (None, windows.n_samples):
        raise ValidationError(f"The model expects {pre['n_samples']}-sample windows, the data give {windows.n_samples}.")
    rest = pre.get("rest_label", ds.info.get("rest_label", 0))
    data = downsample_rest(windows, rest_label=rest, random_state=args.seed)
    before = balanced_accuracy(windows.y, model.predict(windows.X))
    if not hasattr(model, "fine_tune"):
        raise ValidationError(f"{type(model).__name__} cannot be fine-tuned; retrain it with `myovox train` on old + "
                              "new data, or use a neural model (speechnet).")
    tuned = fine_tune(model, data, strategy=args.strategy, n_epochs=args.epochs)
    after = balanced_accuracy(windows.y, tuned.predict(windows.X))
    pre["fine_tuned"] = {"strategy": args.strategy, "epochs": args.epochs, "n_windows": len(data),
                         "dataset": str(args.dataset), "subjects": ds.meta_values("subject"),
                         "sessions": ds.meta_values("session")}
    out = Path(args.out)
    save(save_model, tuned, out, pre, args.overwrite)
    print_table([("", "balanced accuracy (%)"), ("before fine-tuning", f"{100 * before:.1f}"),
                 ("after (on the fine-tuning data)", f"{100 * after:.1f}")])
    print("The 'after' score is measured on the data used for fine-tuning; use `myovox evaluate --protocol "
          "fine_tune` for a held-out estimate.")
    print(f"Saved the fine-tuned model ({args.strategy}, {args.epochs} epochs, {len(data)} windows) to {out}")
    return 0

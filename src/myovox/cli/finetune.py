"""Fine-tune a saved model on new labelled data (e.g. a new session) and save the adapted copy."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..exceptions import ValidationError
from ._types import add_force_argument, positive_int
from .evaluate import add_data_arguments, load_for_model, print_table


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir", help="folder written by `myovox train`")
    p.add_argument("dataset", help="dataset folder with the new labelled data (e.g. a `myovox record` folder)")
    p.add_argument("--out", required=True, help="folder for the fine-tuned model")
    p.add_argument("--strategy", default="all", help="all (reference) | head | bn")
    p.add_argument("--epochs", type=positive_int, default=50, help="fine-tuning epochs (the reference's 50)")
    p.add_argument("--sessions", nargs="+", default=None, metavar="S", help="only these sessions")
    add_force_argument(p, "a model folder")
    p.add_argument(
        "--trust-pickle",
        action="store_true",
        help="open a model.pkl of myovox 0.1 (a pickle runs code: only for models you made)",
    )
    add_data_arguments(p)


def run(args: argparse.Namespace) -> int:
    from .._checks import check_option
    from ..adaptation import FINE_TUNE_STRATEGIES

    check_option("strategy", args.strategy, FINE_TUNE_STRATEGIES)
    from .._outputs import check_output_folder
    from ..adaptation import fine_tune
    from ..evaluation.metrics import balanced_accuracy
    from ..models.card import model_windows
    from ..models.io import load_model, save_model
    from ..windows import downsample_rest
    from .train import check_windows, select

    out = Path(args.out)
    check_output_folder(out, force=args.force, what="model folder")
    model, card = load_model(args.model_dir, trust_pickle=args.trust_pickle)
    if not hasattr(model, "fine_tune"):
        raise ValidationError(
            f"{type(model).__name__} cannot be fine-tuned; retrain it with `myovox train` on old + "
            "new data, or use a neural model (speechnet)."
        )
    if args.resample is not None and args.resample != card.sfreq:
        raise ValidationError(
            f"--resample {args.resample:g}: the model was trained at {card.sfreq:g} Hz; new data are resampled "
            "to the model's rate automatically."
        )
    ds = load_for_model(args.dataset, args.kind, card, short_trials=args.short_trials)
    ds = select(ds, args.condition, args.subjects, args.sessions)
    windows = model_windows(ds, card, source=str(args.dataset))
    check_windows(windows, "fine-tuning")
    data = downsample_rest(windows, rest_label=card.rest_label, random_state=args.seed)
    unknown = sorted(set(windows.classes.tolist()) - set(card.classes))
    if unknown:
        raise ValidationError(
            f"{args.dataset} has labels the model does not know ({unknown}); the model predicts {list(card.classes)}."
        )
    before = balanced_accuracy(windows.y, model.predict(windows.X))
    tuned = fine_tune(model, data, strategy=args.strategy, n_epochs=args.epochs)
    after = balanced_accuracy(windows.y, tuned.predict(windows.X))
    history = list(card.training.get("fine_tuned") or [])
    history.append(
        {
            "strategy": args.strategy,
            "epochs": args.epochs,
            "n_windows": len(data),
            "dataset": str(args.dataset),
            "subjects": ds.meta_values("subject"),
            "sessions": ds.meta_values("session"),
        }
    )
    new_card = card.replace(
        training={**card.training, "fine_tuned": history}, best_epoch=getattr(tuned, "best_epoch_", card.best_epoch)
    )
    save_model(tuned, out, new_card, force=args.force)
    print_table(
        [
            ("", "balanced accuracy (%)"),
            ("before fine-tuning", f"{100 * before:.1f}"),
            ("after (on the fine-tuning data)", f"{100 * after:.1f}"),
        ]
    )
    print(
        "The 'after' score is measured on the data used for fine-tuning; use `myovox evaluate --protocol "
        "fine_tune` for a held-out estimate."
    )
    print(f"Saved the fine-tuned model ({args.strategy}, {args.epochs} epochs, {len(data)} windows) to {out}")
    return 0

"""Markdown report with PNG plots (matplotlib, Agg backend) for a :class:`~.results.Result`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._logging import logger

if TYPE_CHECKING:  # pragma: no cover
    from .results import Result


def _pct(v: Any) -> str:
    return "n/a" if v is None or not math.isfinite(float(v)) else f"{100 * float(v):.1f}"


def summed_confusion(result: Result, normalize: bool = True) -> np.ndarray | None:
    """Confusion matrix summed over folds (first window length of a sweep), rows normalised to 1."""
    mats = [
        np.asarray(f["confusion"], dtype=float)
        for f in result.folds
        if f.get("confusion") is not None and (not result.sweep or f.get("window_s") == result.sweep[0]["window_s"])
    ]
    mats = [m for m in mats if m.ndim == 2 and m.size]
    if not mats or len({m.shape for m in mats}) != 1:
        return None
    cm = np.sum(mats, axis=0)
    if normalize:
        tot = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, tot, out=np.zeros_like(cm), where=tot > 0)
    return cm


def _plots(result: Result, out: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    paths: dict[str, Path] = {}
    cm = summed_confusion(result)
    if cm is not None:
        names = [result.label_names.get(int(c), str(c)) for c in result.labels] or [str(i) for i in range(len(cm))]
        n = len(cm)
        fig, ax = plt.subplots(figsize=(1.2 + 0.55 * n, 1.0 + 0.5 * n))
        im = ax.imshow(cm, vmin=0, vmax=1, cmap="Blues")
        ax.set_xticks(range(n), names, rotation=45, ha="right")
        ax.set_yticks(range(n), names)
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    f"{cm[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if cm[i, j] > 0.5 else "black",
                )
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{result.protocol} / {result.model}: confusion (row-normalised, all folds)")
        fig.colorbar(im, ax=ax, fraction=0.046)
        fig.tight_layout()
        paths["confusion.png"] = out / "confusion.png"
        fig.savefig(paths["confusion.png"], dpi=110)
        plt.close(fig)
    if result.curves and result.protocol == "fewshot":
        fig, ax = plt.subplots(figsize=(6, 4))
        ks = [c["k"] for c in result.curves]
        for key, label, style in (
            ("adapted", "adapted", "o-"),
            ("no_adaptation", "no adaptation", "s--"),
            ("scratch", "from scratch", "^:"),
        ):
            ax.plot(ks, [100 * c[key] for c in result.curves], style, label=label)
        ax.set_xscale("log")
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("labelled windows per class of the new session (k)")
        ax.set_ylabel("balanced accuracy (%)")
        ax.set_title(f"{result.model}: few-shot adaptation to a new session")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        paths["fewshot_curve.png"] = out / "fewshot_curve.png"
        fig.savefig(paths["fewshot_curve.png"], dpi=110)
        plt.close(fig)
    elif result.curves:
        idx = sorted({c["batch_index"] for c in result.curves})
        fig, ax = plt.subplots(figsize=(6, 4))
        retrained = any("retrain" in n for n in result.notes)
        for key, label, style in (
            ("ft", "retrained on old + new" if retrained else "fine-tuned", "o-"),
            ("no_ft", "no fine-tuning", "s--"),
            ("scratch", "from scratch", "^:"),
        ):
            xs, ys = [], []
            for b in idx:
                rows = [c for c in result.curves if c["batch_index"] == b]
                vals = [c[key] for c in rows if c[key] is not None and math.isfinite(c[key])]
                if vals:
                    xs.append(float(np.mean([c["minutes"] for c in rows])))
                    ys.append(100 * float(np.mean(vals)))
            if xs:
                ax.plot(xs, ys, style, label=label)
        ax.set_xlabel("minutes of new-session data used")
        ax.set_ylabel("balanced accuracy (%)")
        ax.set_title(f"{result.model}: adapting to a new session")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        paths["finetune_curves.png"] = out / "finetune_curves.png"
        fig.savefig(paths["finetune_curves.png"], dpi=110)
        plt.close(fig)
    if result.sweep:
        w = [r["window_s"] for r in result.sweep]
        fig, ax1 = plt.subplots(figsize=(6, 4))
        ax1.errorbar(
            w,
            [100 * r["mean"] for r in result.sweep],
            yerr=[100 * (r["std"] or 0) for r in result.sweep],
            fmt="o-",
            color="C0",
            capsize=3,
        )
        ax1.set_xlabel("window length (s)")
        ax1.set_ylabel("balanced accuracy (%)", color="C0")
        ax2 = ax1.twinx()
        ax2.plot(w, [r["itr_mean"] for r in result.sweep], "s--", color="C1")
        ax2.set_ylabel("ITR (bit/min)", color="C1")
        ax1.set_title(f"{result.protocol} / {result.model}: window length")
        fig.tight_layout()
        paths["window_sweep.png"] = out / "window_sweep.png"
        fig.savefig(paths["window_sweep.png"], dpi=110)
        plt.close(fig)
    return paths


def write_report(result: Result, out_dir: str | Path, *, plots: bool = True) -> dict[str, Path]:
    """Write ``report.md`` (tables) and its PNG plots into ``out_dir``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if plots:
        try:
            paths.update(_plots(result, out))
        except ImportError as err:  # matplotlib is an optional extra
            logger.warning("No plots in the report: matplotlib is missing (pip install 'myovox[report]'): %s", err)
    lines = [f"# {result.protocol} — {result.model}", ""]
    ds = result.dataset or {}
    if ds:
        lines += [
            f"Dataset: `{ds.get('dataset', '?')}` ({ds.get('n_recordings', '?')} recordings, "
            f"{ds.get('sfreq', '?')} Hz, {ds.get('n_channels', '?')} channels).",
            "",
        ]
    lines += [
        f"**{result.metric.replace('_', ' ')}: {_pct(result.mean)} ± {_pct(result.std)} %** "
        f"(mean ± std over {len(result.per_subject)} subject(s) of per-subject means; over the "
        f"folds: {_pct(result.fold_mean)} ± {_pct(result.fold_std)} %).",
        "",
    ]
    if result.per_condition:
        lines += ["| condition | mean (%) | std (%) | subjects |", "|---|---|---|---|"]
        lines += [
            f"| {c} | {_pct(r['mean'])} | {_pct(r['std'])} | {r['n_subjects']} |"
            for c, r in result.per_condition.items()
        ]
        lines.append("")
    lines += ["## Per subject", "", "| subject | mean (%) |", "|---|---|"]
    lines += [f"| {s} | {_pct(v)} |" for s, v in result.per_subject.items()]
    lines.append("")
    if result.sweep:
        lines += ["## Window length", "", "| window (s) | mean (%) | std (%) | ITR (bit/min) |", "|---|---|---|---|"]
        lines += [
            f"| {r['window_s']:g} | {_pct(r['mean'])} | {_pct(r['std'])} | {r['itr_mean']:.1f} |" for r in result.sweep
        ]
        lines += ["", "![window sweep](window_sweep.png)" if "window_sweep.png" in paths else "", ""]
    if result.curves and result.protocol == "fewshot":
        lines += [
            "## Few-shot adaptation to a new session",
            "",
            "| k per class | adapted (%) | no adaptation (%) | from scratch (%) | runs |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {c['k']} | {_pct(c['adapted'])} | {_pct(c['no_adaptation'])} | {_pct(c['scratch'])} | {c['n']} |"
            for c in result.curves
        ]
        lines += ["", "![few-shot curve](fewshot_curve.png)" if "fewshot_curve.png" in paths else "", ""]
    elif result.curves:
        lines += [
            "## Adapting to a new session",
            "",
            "| subject | condition | batch | minutes before | fine-tuned (%) | no FT (%) | scratch (%) |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {c['subject']} | {c.get('condition') or ''} | {c['batch']} | {c['minutes']:.1f} | "
            f"{_pct(c['ft'])} | {_pct(c['no_ft'])} | {_pct(c['scratch'])} |"
            for c in result.curves
        ]
        lines += ["", "![fine-tuning curves](finetune_curves.png)" if "finetune_curves.png" in paths else "", ""]
    lines += [
        "## Folds",
        "",
        "| fold | subject | condition | window (s) | train | test | bal. acc. (%) | acc. (%) "
        "| macro F1 | ITR (bit/min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in result.folds:
        lines.append(
            f"| {f.get('fold')} | {f.get('subject')} | {f.get('condition') or ''} | {f.get('window_s', 0):g} "
            f"| {f.get('n_train')} | {f.get('n_test')} | {_pct(f.get('balanced_accuracy'))} | "
            f"{_pct(f.get('accuracy'))} | {f.get('macro_f1', float('nan')):.3f} | "
            f"{f.get('itr_bits_per_min', float('nan')):.1f} |"
        )
    lines.append("")
    if "confusion.png" in paths:
        lines += ["## Confusion matrix", "", "![confusion](confusion.png)", ""]
    if result.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    if result.params:
        lines += ["## Parameters", "", "```", *[f"{k}: {v}" for k, v in result.params.items()], "```", ""]
    if result.timing:
        lines += ["Timing: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timing.items()), ""]
    paths["report.md"] = out / "report.md"
    paths["report.md"].write_text("\n".join(lines))
    return paths


__all__ = ["summed_confusion", "write_report"]

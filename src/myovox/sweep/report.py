"""``sweep-report``: the evaluation report's tables and plots across a whole results store.

A *cell* is everything a unit is but its subject and seed (dataset, protocol and its options,
condition, window length, model and its parameters, adaptation, augmentation). Each cell's score is
the mean ± std over subjects of per-subject means, each subject's value first averaged over the
seeds (the convention of every protocol's headline, :func:`myovox.evaluation.metrics.summarize`).
Written: ``report.md`` and ``report.html`` (the same tables, the plots inline), ``cells.csv``,
``subjects.csv`` and PNG plots: an overview per dataset, window-length curves, label-free adaptation
bars, fine-tuning curves and few-shot curves, wherever the sweep varied them.
"""

from __future__ import annotations

import html
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .._logging import logger
from .store import ResultsStore

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: columns that identify a cell (a unit without its subject and seed)
CELL_COLUMNS = ("dataset", "protocol", "variant", "condition", "window_s", "model", "adapt", "augment")

__all__ = ["CELL_COLUMNS", "cell_table", "subject_table", "write_sweep_report"]


def _pct(v: Any) -> str:
    return "n/a" if v is None or not math.isfinite(float(v)) else f"{100 * float(v):.1f}"


def _options_text(options: dict[str, Any]) -> str:
    """``{"train": {"session": "A"}, "k": [1, 2]}`` -> ``"k=[1,2] train=session:A"``."""
    parts = []
    for k in sorted(options):
        v = options[k]
        if isinstance(v, dict):
            text = ",".join(f"{a}:{_short(b)}" for a, b in v.items())
        else:
            text = _short(v)
        parts.append(f"{k}={text}")
    return " ".join(parts)


def _short(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(map(str, v)) + "]"
    return str(v)


def _model_text(model: str, params: dict[str, Any]) -> str:
    return model + ("(" + ", ".join(f"{k}={v}" for k, v in sorted(params.items())) + ")" if params else "")


def subject_table(store: ResultsStore | str | os.PathLike) -> pd.DataFrame:
    """One row per subject (x condition) of every current finished unit: its cell, subject, seed and score.

    ``score`` is the unit's per-subject headline (balanced accuracy), ``itr`` the mean ITR (bit/min)
    of that subject's folds; a unit run on several conditions gives one row per condition.
    """
    import pandas as pd

    st = store if isinstance(store, ResultsStore) else ResultsStore(store, create=False)
    idx = st.index()
    if not len(idx):
        return pd.DataFrame(columns=[*CELL_COLUMNS, "subject", "seed", "score", "itr", "key"])
    current = set(idx.loc[(idx["status"] == "done") & ~idx["superseded"].astype(bool), "key"])
    rows = []
    for rec in st.records("done"):
        if rec["key"] not in current:
            continue
        unit, res = rec["unit"], rec.get("result") or {}
        folds = res.get("folds") or []
        windows = sorted({f.get("window_s") for f in folds if f.get("window_s") is not None})
        window = unit.get("window_s") if unit.get("window_s") is not None else (windows[0] if windows else None)
        augment = unit.get("augment")
        base = {
            "dataset": unit["dataset"]["name"],
            "protocol": unit["protocol"],
            "variant": _options_text(unit.get("options") or {}),
            "window_s": float("nan") if window is None else float(window),
            "model": _model_text(unit["model"], unit.get("model_params") or {}),
            "adapt": unit.get("adapt") or "none",
            "augment": f"{augment}x{unit.get('augment_copies', 1)}" if augment else "none",
            "seed": unit["seed"],
            "key": rec["key"],
        }
        for name, score in (res.get("per_subject") or {}).items():
            subject, _, cond = str(name).partition("/")
            condition = unit.get("condition") or cond or "-"
            sub_folds = [
                f for f in folds if str(f.get("subject")) == subject and (not cond or str(f.get("condition")) == cond)
            ]
            itr = [f.get("itr_bits_per_min") for f in sub_folds if f.get("itr_bits_per_min") is not None]
            rows.append(
                {
                    **base,
                    "condition": condition,
                    "subject": subject,
                    "score": float("nan") if score is None else float(score),
                    "itr": float(np.mean(itr)) if itr else float("nan"),
                }
            )
    return pd.DataFrame(rows, columns=[*CELL_COLUMNS, "subject", "seed", "score", "itr", "key"])


def _std0(values: Any) -> float:
    """Population std (ddof 0, as :func:`myovox.evaluation.metrics.summarize`) of the finite values; NaN if none."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    return float(np.std(arr)) if arr.size else float("nan")


def cell_table(store: ResultsStore | str | os.PathLike) -> pd.DataFrame:
    """One row per cell: ``mean``/``std`` over subjects (of seed-averaged scores), ``n_subjects``,
    ``n_seeds``, ``n_units``, ``seed_std`` (std over seeds of the subject mean) and ``itr``."""
    import pandas as pd

    sub = subject_table(store)
    cols = list(CELL_COLUMNS)
    out_cols = [*cols, "mean", "std", "n_subjects", "n_seeds", "n_units", "seed_std", "itr"]
    if not len(sub):
        return pd.DataFrame(columns=out_cols)
    sub = sub.fillna({"window_s": -1.0})  # NaN never groups
    per_subject = sub.groupby([*cols, "subject"], dropna=False).agg(score=("score", "mean"), itr=("itr", "mean"))
    cells = per_subject.groupby(cols, dropna=False).agg(
        mean=("score", "mean"), std=("score", _std0), n_subjects=("score", "size"), itr=("itr", "mean"),
    )  # fmt: skip
    per_seed = sub.groupby([*cols, "seed"], dropna=False)["score"].mean().groupby(cols, dropna=False)
    extra = pd.DataFrame(
        {
            "n_seeds": per_seed.size(),
            "seed_std": per_seed.agg(_std0),
            "n_units": sub.groupby(cols, dropna=False)["key"].nunique(),
        }
    )
    table = cells.join(extra).reset_index()
    table["window_s"] = table["window_s"].where(table["window_s"] >= 0, np.nan)
    return table[out_cols].sort_values(cols, na_position="first").reset_index(drop=True)


# ============================================================================ plots
def _slug(*parts: Any) -> str:
    text = "_".join(str(p) for p in parts if p not in (None, "", "-"))
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text).strip("-_")[:120] or "plot"


def _words(*parts: Any) -> str:
    """The non-empty parts, separated by spaces (a condition ``"-"`` is none)."""
    return " ".join(str(p) for p in parts if p not in (None, "", "-"))


def _line_label(row: Any, varying: list[str]) -> str:
    bits = [str(row["model"])]
    for k in varying:
        if row[k] not in ("none", "-") and not (isinstance(row[k], float) and math.isnan(row[k])):
            bits.append(f"{k} {row[k]}")
    return ", ".join(bits)


def _plots(
    cells: pd.DataFrame, curves: dict[str, list[dict[str, Any]]], out: Path
) -> dict[str, list[tuple[str, Path]]]:
    from .._checks import require

    matplotlib = require("matplotlib", "the plots of sweep-report")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    made: dict[str, list[tuple[str, Path]]] = {}

    def save(fig: Any, name: str, kind: str, dataset: str) -> None:
        path = out / f"{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        made.setdefault(kind, []).append((dataset, path))

    for dataset, dcells in cells.groupby("dataset", sort=True):
        # overview: one bar per cell at the first window length of each protocol
        labels, means, stds = [], [], []
        for _, r in dcells.iterrows():
            w = "" if math.isnan(r["window_s"]) else f" {r['window_s']:g}s"
            extra = "".join(f" {k}={r[k]}" for k in ("adapt", "augment") if r[k] != "none")
            cond = "" if r["condition"] == "-" else f" {r['condition']}"
            labels.append(f"{r['protocol']} {r['variant']}{cond}{w} | {r['model']}{extra}".replace("  ", " "))
            means.append(100 * r["mean"])
            stds.append(100 * (0 if math.isnan(r["std"]) else r["std"]))
        fig, ax = plt.subplots(figsize=(8, 0.6 + 0.32 * len(labels)))
        ypos = np.arange(len(labels))
        ax.barh(ypos, means, xerr=stds, color="C0", alpha=0.8, capsize=2)
        ax.set_yticks(ypos, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("balanced accuracy (%), mean ± std over subjects")
        ax.set_title(f"{dataset}: every cell of the sweep")
        ax.grid(axis="x", alpha=0.3)
        save(fig, _slug("overview", dataset), "overview", str(dataset))
        for (protocol, variant, condition), pc in dcells.groupby(["protocol", "variant", "condition"], sort=True):
            windows = sorted({w for w in pc["window_s"] if not math.isnan(w)})
            others = ["adapt", "augment"]
            if len(windows) >= 2:
                fig, ax = plt.subplots(figsize=(6, 4))
                for _, g in pc.groupby(["model", *others], sort=True):
                    g = g.dropna(subset=["window_s"]).sort_values("window_s")
                    ax.errorbar(
                        g["window_s"], 100 * g["mean"], yerr=100 * g["std"].fillna(0), fmt="o-", capsize=3,
                        label=_line_label(g.iloc[0], others),
                    )  # fmt: skip
                ax.set_xlabel("window length (s)")
                ax.set_ylabel("balanced accuracy (%)")
                ax.set_title(f"{_words(dataset, '/', protocol, variant, condition)}: window length")
                ax.grid(alpha=0.3)
                ax.legend(fontsize=7)
                save(fig, _slug("window", dataset, protocol, variant, condition), "window", str(dataset))
            adapts = sorted(set(pc["adapt"]))
            if len(adapts) >= 2:
                groups = list(pc.groupby(["model", "window_s", "augment"], sort=True, dropna=False))
                fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(groups) + 2), 4))
                width = 0.8 / len(adapts)
                for j, a in enumerate(adapts):
                    ys, es = [], []
                    for _, g in groups:
                        r = g[g["adapt"] == a]
                        ys.append(100 * r["mean"].iloc[0] if len(r) else np.nan)
                        es.append(100 * r["std"].fillna(0).iloc[0] if len(r) else 0)
                    ax.bar(np.arange(len(groups)) + j * width, ys, width, yerr=es, capsize=2, label=f"adapt {a}")
                names = [
                    f"{m}" + ("" if math.isnan(w) else f" {w:g}s") + ("" if aug == "none" else f" {aug}")
                    for (m, w, aug) in (cast(tuple, k) for k, _ in groups)
                ]
                ax.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, names, rotation=20, ha="right", fontsize=8)
                ax.set_ylabel("balanced accuracy (%)")
                ax.set_title(f"{_words(dataset, '/', protocol, variant, condition)}: label-free adaptation")
                ax.grid(axis="y", alpha=0.3)
                ax.legend(fontsize=7)
                save(fig, _slug("adapt", dataset, protocol, variant, condition), "adapt", str(dataset))
    for name, rows in sorted(curves.items()):
        kind, dataset = name.split("|", 1)
        fig, ax = plt.subplots(figsize=(6, 4))
        by_model: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_model.setdefault(row["model"], []).append(row)
        for i, (model, rs) in enumerate(sorted(by_model.items())):
            xkey, keys = (
                ("k", ("adapted", "no_adaptation", "scratch"))
                if kind == "fewshot"
                else ("x", ("ft", "no_ft", "scratch"))
            )
            xs = sorted({r[xkey] for r in rs})
            for key, style in zip(keys, ("o-", "s--", "^:"), strict=True):
                ys = [np.nanmean([r[key] for r in rs if r[xkey] == x and r[key] is not None] or [np.nan]) for x in xs]
                if np.isfinite(ys).any():
                    ax.plot(xs, 100 * np.asarray(ys), style, color=f"C{i}", label=f"{model}: {key}")
        if kind == "fewshot":
            ax.set_xlabel("labelled windows per class of the new session (k)")
        else:
            ax.set_xlabel("new-session batches seen before testing")
        ax.set_ylabel("balanced accuracy (%)")
        ax.set_title(
            f"{dataset}: {'few-shot' if kind == 'fewshot' else 'fine-tuning'} curves (mean over subjects, seeds)"
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        short = "finetune" if kind == "fine_tune" else kind
        save(fig, _slug(short, dataset), short, dataset)
    return made


def _curves(store: ResultsStore, current: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Fine-tuning and few-shot curve rows of the current units, by ``"<kind>|<dataset>"``."""
    out: dict[str, list[dict[str, Any]]] = {}
    for rec in store.records("done"):
        if rec["key"] not in current:
            continue
        unit, res = rec["unit"], rec.get("result") or {}
        kind = unit["protocol"]
        if kind not in ("fine_tune", "fewshot") or not res.get("curves"):
            continue
        model = _model_text(unit["model"], unit.get("model_params") or {})
        for c in res["curves"]:
            row = {"model": model, **c}
            if kind == "fine_tune":
                row["x"] = int(c.get("batch_index", 0)) - 1
            out.setdefault(f"{kind}|{unit['dataset']['name']}", []).append(row)
    return out


# ============================================================================ the report
def write_sweep_report(
    store: ResultsStore | str | os.PathLike, out: str | os.PathLike | None = None, *, plots: bool = True
) -> dict[str, Path]:
    """Write the report of a results store: ``report.md``, ``report.html``, ``cells.csv``, ``subjects.csv``, PNGs.

    Parameters
    ----------
    store : ResultsStore | path-like
        The results store (it must exist).
    out : path-like | None
        Output folder (default ``STORE/report``). It is written whole or not at all and replaces
        only a folder that myovox wrote before (its manifest), never one holding other files.
    plots : bool
        Also draw the PNG plots (needs matplotlib, the ``report`` extra).

    Returns
    -------
    dict
        Paths written, by file name.
    """
    from .._outputs import output_folder

    st = store if isinstance(store, ResultsStore) else ResultsStore(store, create=False)
    final = Path(out) if out is not None else st.path / "report"
    idx = st.index()
    cells = cell_table(st)
    subjects = subject_table(st)
    current = set(idx.loc[(idx["status"] == "done") & ~idx["superseded"].astype(bool), "key"]) if len(idx) else set()
    curves = _curves(st, current)
    with output_folder(final, force=True, what="sweep report folder") as tmp:
        made: dict[str, list[tuple[str, Path]]] = {}
        if plots and len(cells):
            try:
                made = _plots(cells, curves, tmp)
            except ImportError as err:
                logger.warning("sweep-report: no plots (%s)", err)
        cells.to_csv(tmp / "cells.csv", index=False)
        subjects.to_csv(tmp / "subjects.csv", index=False)
        md, page = _documents(st, idx, cells, curves, made)
        (tmp / "report.md").write_text(md, encoding="utf-8")
        (tmp / "report.html").write_text(page, encoding="utf-8")
        names = sorted(p.name for p in tmp.iterdir())
    return {name: final / name for name in names}


def _documents(
    st: ResultsStore,
    idx: pd.DataFrame,
    cells: pd.DataFrame,
    curves: dict[str, list[dict[str, Any]]],
    made: dict[str, list[tuple[str, Path]]],
) -> tuple[str, str]:
    """The Markdown report and the HTML page (same content)."""
    n_done = int((idx["status"] == "done").sum()) if len(idx) else 0
    n_failed = int((idx["status"] == "failed").sum()) if len(idx) else 0
    n_super = int(idx["superseded"].astype(bool).sum()) if len(idx) else 0
    total_s = float(idx["total_s"].dropna().sum()) if len(idx) else 0.0
    intro = (
        f"Store `{st.path}`: {n_done} finished units, {n_failed} failed"
        + (f", {n_super} superseded by a run on changed data (not shown)" if n_super else "")
        + f"; {total_s / 60:.1f} min of unit time. Each cell: balanced accuracy, mean ± std over subjects of "
        "per-subject means (each first averaged over the seeds); `seed std` is the std over seeds of the "
        "subject mean."
    )
    head = ["protocol", "options", "condition", "window (s)", "model", "adapt", "augment", "bal. acc. (%)"]
    head += ["subjects", "seeds", "seed std (%)", "ITR (bit/min)"]
    md = ["# Sweep report", "", intro, ""]
    hp = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Sweep report</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:75em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:.25em .6em;font-size:.9em}th{background:#f0f0f0}"
        "img{max-width:100%;margin:.5em 0}</style></head><body>",
        "<h1>Sweep report</h1>",
        f"<p>{_html_inline(intro)}</p>",
    ]
    for dataset, dcells in cells.groupby("dataset", sort=True):
        md += [f"## {dataset}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        hp += [
            f"<h2>{html.escape(str(dataset))}</h2>",
            "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>",
        ]
        for _, r in dcells.iterrows():
            row = [
                r["protocol"],
                r["variant"] or "",
                "" if r["condition"] == "-" else r["condition"],
                "default" if math.isnan(r["window_s"]) else f"{r['window_s']:g}",
                r["model"],
                r["adapt"],
                r["augment"],
                f"{_pct(r['mean'])} ± {_pct(r['std'])}",
                str(int(r["n_subjects"])),
                str(int(r["n_seeds"])),
                _pct(r["seed_std"]),
                "n/a" if not math.isfinite(r["itr"]) else f"{r['itr']:.1f}",
            ]
            md.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
            hp.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
        md.append("")
        hp.append("</table>")
        for kind, title in (
            ("overview", "Every cell"),
            ("window", "Window length"),
            ("adapt", "Label-free adaptation"),
            ("finetune", "Fine-tuning curves"),
            ("fewshot", "Few-shot curves"),
        ):
            mine = [p for d, p in made.get(kind, []) if d == str(dataset)]
            if not mine:
                continue
            md += [f"### {title}", ""] + [f"![{p.stem}]({p.name})" for p in mine] + [""]
            hp += [f"<h3>{title}</h3>"] + [
                f"<img src='{html.escape(p.name)}' alt='{html.escape(p.stem)}'>" for p in mine
            ]
    if curves:
        md += ["## Adaptation curves (mean over subjects and seeds)", ""]
        hp += ["<h2>Adaptation curves (mean over subjects and seeds)</h2>"]
        for name, rows in sorted(curves.items()):
            kind, dataset = name.split("|", 1)
            xkey, keys = (
                ("k", ("adapted", "no_adaptation", "scratch"))
                if kind == "fewshot"
                else ("x", ("ft", "no_ft", "scratch"))
            )
            xname = "k per class" if kind == "fewshot" else "new batches seen"
            table = [[xname, "model", *[f"{k} (%)" for k in keys]]]
            for model in sorted({r["model"] for r in rows}):
                for x in sorted({r[xkey] for r in rows if r["model"] == model}):
                    sel = [r for r in rows if r["model"] == model and r[xkey] == x]
                    vals = [[r[k] for r in sel if r.get(k) is not None] for k in keys]
                    table.append([str(x), model, *[_pct(np.nanmean(v)) if v else "n/a" for v in vals]])
            md += [f"### {dataset}: {kind}", "", "| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
            md += ["| " + " | ".join(r) + " |" for r in table[1:]] + [""]
            hp += [f"<h3>{html.escape(dataset)}: {kind}</h3><table>"]
            hp += ["<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in table[0]) + "</tr>"]
            hp += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in table[1:]] + [
                "</table>"
            ]
    if n_failed:
        md += ["## Failed units", "", "| unit | attempts | error |", "|---|---|---|"]
        hp += ["<h2>Failed units</h2><table><tr><th>unit</th><th>attempts</th><th>error</th></tr>"]
        for rec in st.records("failed"):
            err = rec.get("error") or {}
            text = f"{err.get('type')}: {err.get('message')}"
            md.append(f"| {rec.get('label')} | {len(rec.get('attempts') or [])} | {text.replace('|', '/')[:300]} |")
            hp.append(
                f"<tr><td>{html.escape(str(rec.get('label')))}</td><td>{len(rec.get('attempts') or [])}</td>"
                f"<td>{html.escape(text[:300])}</td></tr>"
            )
        md.append("")
        hp.append("</table>")
    md += ["Tables as CSV: `cells.csv` (one row per cell), `subjects.csv` (one row per subject, seed and cell).", ""]
    hp += ["<p>Tables as CSV: <a href='cells.csv'>cells.csv</a>, <a href='subjects.csv'>subjects.csv</a>.</p>"]
    hp.append("</body></html>")
    return "\n".join(md), "\n".join(hp) + "\n"


def _html_inline(text: str) -> str:
    """Markdown's inline code to HTML (everything else escaped)."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))

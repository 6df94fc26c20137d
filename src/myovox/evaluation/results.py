"""``Result``: what an evaluation protocol returns, and how it is saved (JSON, CSV, report)."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._json import to_jsonable

#: per-fold columns written to folds.csv, in this order (confusion stays in results.json)
FOLD_COLUMNS = (
    "fold",
    "subject",
    "condition",
    "window_s",
    "n_train",
    "n_test",
    "balanced_accuracy",
    "accuracy",
    "macro_f1",
    "itr_bits_per_min",
    "fit_s",
)


def _jsonable(obj: Any) -> Any:
    """Turn numpy scalars/arrays, tuples, paths and NaN into JSON-safe values (NaN -> None)."""
    return to_jsonable(obj)


@dataclass
class Result:
    """Outcome of one protocol run.

    Attributes
    ----------
    protocol, model, metric : str
        ``metric`` is the headline score (``"balanced_accuracy"``).
    mean, std : float
        Mean ± std over subjects of the per-subject means (see :func:`~.metrics.summarize`).
    fold_mean, fold_std : float
        Mean ± std (ddof 0) over the folds behind the headline (the spread a single-subject
        dataset reports).
    folds : list of dict
        One row per fold: ``fold``, ``subject``, ``condition``, ``window_s``, ``n_train``,
        ``n_test``, ``balanced_accuracy``, ``accuracy``, ``macro_f1``, ``itr_bits_per_min``,
        ``confusion`` (rows true, columns predicted, in ``labels`` order), ``fit_s``.
    per_subject : dict
        Subject (``"S01"`` or ``"S01/silent"`` when conditions are run separately) -> mean score.
    curves : list of dict
        Fine-tuning curves: ``subject``, ``condition``, ``batch``, ``minutes`` (new data seen
        before testing on this batch), ``ft``, ``no_ft``, ``scratch``.
    sweep : list of dict
        Window sweep: ``window_s``, ``mean``, ``std``, ``itr_mean`` (bit/min), ``per_subject``.
    per_condition : dict
        Condition -> {``mean``, ``std``, ``n_subjects``} when several conditions were run.
    labels, label_names : list of int, dict
        Class order of the confusion matrices and their names.
    params, timing, dataset : dict
        Arguments of the run, seconds spent, and the dataset summary.
    notes : list of str
        Caveats (e.g. that a non-neural model was retrained instead of fine-tuned).
    """

    protocol: str
    model: str
    metric: str = "balanced_accuracy"
    mean: float = float("nan")
    std: float = float("nan")
    fold_mean: float = float("nan")
    fold_std: float = float("nan")
    folds: list[dict] = field(default_factory=list)
    per_subject: dict[str, float] = field(default_factory=dict)
    curves: list[dict] = field(default_factory=list)
    sweep: list[dict] = field(default_factory=list)
    per_condition: dict[str, dict] = field(default_factory=dict)
    labels: list[int] = field(default_factory=list)
    label_names: dict[int, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ views
    def __repr__(self) -> str:
        """One line: protocol, model, headline mean ± std and how many folds and subjects (not every fold)."""
        pct = (
            "n/a"
            if self.mean is None or not math.isfinite(self.mean)
            else (
                f"{100 * self.mean:.1f} ± {100 * self.std:.1f} %"
                if self.std is not None and math.isfinite(self.std)
                else f"{100 * self.mean:.1f} %"
            )
        )
        extra = f", {len(self.sweep)} window lengths" if self.sweep else ""
        return (
            f"<Result | {self.protocol}, {self.model}: {self.metric} {pct}, {len(self.folds)} folds, "
            f"{len(self.per_subject)} subject(s){extra}>"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of every field (NaN becomes None)."""
        return _jsonable(asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        """Inverse of :meth:`to_dict` (None scores come back as NaN)."""
        d = dict(d)
        for k in ("mean", "std", "fold_mean", "fold_std"):
            d[k] = float("nan") if d.get(k) is None else float(d[k])
        d["label_names"] = {int(k): v for k, v in (d.get("label_names") or {}).items()}
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def load(cls, path: str | Path) -> Result:
        """Read a ``results.json`` (or the folder holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / "results.json"
        return cls.from_dict(json.loads(path.read_text()))

    def summary(self) -> str:
        """A few lines: headline score, per subject, sweep and curves in short."""
        pct = lambda v: "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.1f}"  # noqa: E731
        n = len(self.per_subject)
        over = f"{n} subject x condition run(s)" if self.per_condition else f"{n} subject(s)"
        lines = [
            f"{self.protocol} | model {self.model} | {self.metric}: {pct(self.mean)} ± "
            f"{pct(self.std)} % over {over}, {len(self.folds)} folds "
            f"(fold spread {pct(self.fold_mean)} ± {pct(self.fold_std)} %)"
        ]
        for cond, row in self.per_condition.items():
            lines.append(f"  {cond}: {pct(row['mean'])} ± {pct(row['std'])} % ({row['n_subjects']} subjects)")
        for subj, v in self.per_subject.items():
            lines.append(f"  {subj}: {pct(v)} %")
        for row in self.sweep:
            lines.append(
                f"  window {row['window_s']:g} s: {pct(row['mean'])} ± {pct(row['std'])} %, "
                f"ITR {row['itr_mean']:.1f} bit/min"
            )
        if self.curves and self.protocol == "fewshot":
            for c in self.curves:
                lines.append(
                    f"  k={c['k']} per class: adapted {pct(c['adapted'])}, no adaptation {pct(c['no_adaptation'])}, "
                    f"scratch {pct(c['scratch'])} %"
                )
        elif self.curves:
            by_batch: dict[Any, list[dict]] = {}
            for c in self.curves:
                by_batch.setdefault(c["batch_index"], []).append(c)
            for b, rows in sorted(by_batch.items()):

                def m(k: str, rows: list[dict] = rows) -> float:
                    vals = [r[k] for r in rows if r[k] is not None and math.isfinite(r[k])]
                    return float(np.mean(vals)) if vals else float("nan")

                lines.append(
                    f"  new batch {b} ({np.mean([r['minutes'] for r in rows]):.1f} min before): "
                    f"ft {pct(m('ft'))}, no-ft {pct(m('no_ft'))}, scratch {pct(m('scratch'))} %"
                )
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    # ------------------------------------------------------------------ files
    def save(self, out_dir: str | Path, *, report: bool = True, force: bool = False) -> dict[str, Path]:
        """Write ``results.json``, ``folds.csv`` and (``report=True``) ``report.md`` with PNG plots.

        The folder is written whole or not at all (:func:`myovox._outputs.output_folder`).

        Parameters
        ----------
        out_dir : path-like
            Output folder; it must be missing or empty unless ``force``.
        report : bool
            Also write ``report.md`` and its plots.
        force : bool
            Replace a folder that myovox wrote before (never one holding other files).

        Returns
        -------
        dict
            The paths written, by name.
        """
        from .._outputs import output_folder

        final = Path(out_dir)
        with output_folder(final, force=force, what="results folder") as out:
            paths = self._write(out, report)
        return {name: final / p.relative_to(out) for name, p in paths.items()}

    def _write(self, out: Path, report: bool) -> dict[str, Path]:
        paths: dict[str, Path] = {}
        paths["results.json"] = out / "results.json"
        paths["results.json"].write_text(json.dumps(self.to_dict(), indent=1))
        paths["folds.csv"] = out / "folds.csv"
        with open(paths["folds.csv"], "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(FOLD_COLUMNS)
            for row in self.folds:
                writer.writerow([_csv_cell(row.get(k)) for k in FOLD_COLUMNS])
        if self.curves:
            paths["curves.csv"] = out / "curves.csv"
            keys = list(self.curves[0])
            with open(paths["curves.csv"], "w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(keys)
                for row in self.curves:
                    writer.writerow([_csv_cell(row.get(k)) for k in keys])
        if report:
            from .report import write_report

            paths.update(write_report(self, out))
        return paths


def _csv_cell(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return "" if not math.isfinite(v) else f"{float(v):.6g}"
    if isinstance(v, np.generic):
        return v.item()
    return "" if v is None else v


__all__ = ["FOLD_COLUMNS", "Result"]

"""`sweep-report`: tables (mean ± std over subjects per cell), window-length and adaptation curves, HTML."""

from __future__ import annotations

import numpy as np
import pytest

from myovox.cli.main import main
from myovox.sweep import load_config, run_sweep
from myovox.sweep.report import cell_table, subject_table


@pytest.fixture(scope="module")
def swept(synth_data, tmp_path_factory):
    import yaml

    root = tmp_path_factory.mktemp("report")
    cfg = {
        "name": "report-test",
        "datasets": [{"path": str(synth_data), "name": "synth"}],
        "models": ["lda"],
        "seeds": [0, 1],
        "grids": [
            {"protocols": ["inter_session"], "windows": [1.0, 1.4], "adapt": ["none", "standardize"]},
            {
                "protocols": [
                    {"name": "fine_tune", "options": {"scratch": False}},
                    {"name": "fewshot", "options": {"k": [1, 2]}},
                ]
            },
        ],
    }
    path = root / "grid.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    store = root / "store"
    summary = run_sweep(load_config(path), store, n_workers=2)
    assert summary.failed == 0 and summary.done == 2 * 2 * (2 * 2 + 2)
    return store


def test_cells_are_mean_and_std_over_subjects_of_seed_means(swept):
    sub = subject_table(swept)
    cells = cell_table(swept)
    assert len(cells) == 2 * 2 + 2  # inter_session: 2 windows x 2 adapt; fine_tune; fewshot
    assert set(cells["n_subjects"]) == {2} and set(cells["n_seeds"]) == {2} and set(cells["n_units"]) == {4}
    row = cells[(cells["protocol"] == "inter_session") & (cells["adapt"] == "standardize") & (cells["window_s"] == 1.0)]
    assert len(row) == 1
    mine = sub[(sub["protocol"] == "inter_session") & (sub["adapt"] == "standardize") & (sub["window_s"] == 1.0)]
    per_subject = mine.groupby("subject")["score"].mean()
    assert row["mean"].iloc[0] == pytest.approx(per_subject.mean())
    assert row["std"].iloc[0] == pytest.approx(np.std(per_subject.to_numpy()))


def test_report_files(swept, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["-q", "sweep-report", str(swept), "--out", str(out)]) == 0
    assert "6 cells" in capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    assert {"report.md", "report.html", "cells.csv", "subjects.csv"} <= names
    pngs = sorted(n for n in names if n.endswith(".png"))
    kinds = {n.split("_")[0] for n in pngs}
    assert kinds == {"overview", "window", "adapt", "finetune", "fewshot"}, pngs
    md = (out / "report.md").read_text()
    for part in ("## synth", "### Window length", "### Label-free adaptation", "## Adaptation curves", "± "):
        assert part in md, part
    assert all(f"({p})" in md for p in pngs)  # every plot is shown in the report
    page = (out / "report.html").read_text()
    assert page.count("<img") == len(pngs) and "<table>" in page and "inter_session" in page
    # run again: the report folder (written by myovox) is replaced; a folder of someone else's is not
    assert main(["-q", "sweep-report", str(swept), "--out", str(out)]) == 0
    (out / "mine.txt").write_text("x")
    assert main(["-q", "sweep-report", str(swept), "--out", str(out)]) == 2
    assert (out / "mine.txt").exists()

"""Render a sweep's results store: the protocol tables (mean ± std over subjects per cell), window-length
curves and adaptation curves across the whole sweep, as Markdown + PNG and an HTML page.

Written into STORE/report (or --out): report.md, report.html, cells.csv (one row per cell), subjects.csv
(one row per subject, seed and cell) and the plots. The folder is replaced whole; a folder holding files
that myovox did not write is refused.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="a results store written by `myovox sweep`")
    p.add_argument("--out", default=None, help="output folder (default: STORE/report)")
    p.add_argument("--no-plots", action="store_true", help="tables only (no matplotlib needed)")


def run(args: argparse.Namespace) -> int:
    from ..sweep import ResultsStore, write_sweep_report
    from ..sweep.report import cell_table

    store = ResultsStore(args.store, create=False)
    paths = write_sweep_report(store, args.out, plots=not args.no_plots)
    cells = cell_table(store)
    print(f"{len(cells)} cells from {store.path}")
    out = next(iter(paths.values())).parent if paths else args.out
    print(f"Wrote {', '.join(sorted(paths))} to {out}")
    return 0

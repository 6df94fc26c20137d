"""Run the benchmarks and print one table: measure, baseline, ours, ratio (> 1: myovox is better).

Baselines are measured in the same run on the same machine. ``--json`` prints a JSON list of
objects with the keys name, unit, baseline, ours, ratio.
"""

from __future__ import annotations

import argparse
import json
import math
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="a run of a minute or two")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmark groups")
    p.add_argument("--out", help="also write the JSON list to this file")


def _fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def run(args: argparse.Namespace) -> int:
    import importlib

    from .._checks import check_option
    from .._logging import logger
    from ..bench import MODULES, peak_rss_mb

    groups = args.only or list(MODULES)
    for g in groups:
        check_option("--only", g, MODULES)
    rows: list[dict] = []
    for g in groups:
        logger.info("benchmark %s ...", g)
        mod = importlib.import_module(f"myovox.bench.{g}")
        try:
            group_rows = mod.run(quick=args.quick)
        except Exception as exc:  # noqa: BLE001 - one failing group must not lose the others' measurements
            logger.error("benchmark %s failed: %s: %s", g, type(exc).__name__, exc)
            rows.append(
                {
                    "name": f"{g}_failed",
                    "unit": "",
                    "baseline": float("nan"),
                    "ours": float("nan"),
                    "ratio": float("nan"),
                    "error": f"{type(exc).__name__}: {exc}",
                }
            )
            continue
        for row in group_rows:
            row = {
                k: (float(v) if hasattr(v, "__float__") and not isinstance(v, (str, bool)) else v)
                for k, v in row.items()
            }
            rows.append(row)
            logger.info(
                "  %s: baseline %s, ours %s, ratio %s %s",
                row["name"],
                _fmt(row["baseline"]),
                _fmt(row["ours"]),
                _fmt(row["ratio"]),
                row.get("unit", ""),
            )
    rows.append(
        {
            "name": "bench_peak_rss_mb",
            "unit": "MiB",
            "baseline": float("nan"),
            "ours": peak_rss_mb(),
            "ratio": float("nan"),
        }
    )
    clean = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(clean, fh, indent=1)
    if args.json:
        json.dump(clean, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    w = max(len(r["name"]) for r in rows)
    print(f"{'measure':<{w}}  {'unit':<12} {'baseline':>12} {'ours':>12} {'ratio':>8}")
    for r in rows:
        print(
            f"{r['name']:<{w}}  {r.get('unit', ''):<12} {_fmt(r['baseline']):>12} {_fmt(r['ours']):>12} "
            f"{_fmt(r['ratio']):>8}"
        )
    return 0

"""benchmarks/bench_features.py runs (quick) and returns well-formed rows with equal values."""
from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_features.py"


def test_bench_features_quick():
    spec = importlib.util.spec_from_file_location("bench_features", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.run(quick=True)
    assert [r["name"] for r in rows] == ["rf_features_windows_per_s", "classic_features_windows_per_s"]
    for r in rows:
        assert r["unit"] == "windows/s" and r["equal"] is True
        assert r["baseline"] > 0 and r["ours"] > r["baseline"]  # vectorised must beat the loops
        assert abs(r["ratio"] - r["ours"] / r["baseline"]) < 0.1 * r["ratio"]

"""The features benchmark runs (quick) and returns well-formed rows whose fast and loop values are equal.

Speed itself is reported by `myovox bench`, never asserted here (machines are noisy)."""

from __future__ import annotations


def test_bench_features_quick():
    from myovox.bench.features import run

    rows = run(quick=True)
    assert [r["name"] for r in rows] == ["rf_features_windows_per_s", "classic_features_windows_per_s"]
    for r in rows:
        assert r["unit"] == "windows/s" and r["equal"] is True
        assert r["baseline"] > 0 and r["ours"] > 0
        assert abs(r["ratio"] - r["ours"] / r["baseline"]) < 0.01 * r["ratio"]  # rounded values

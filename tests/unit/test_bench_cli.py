"""Smoke test of ``myovox bench``: one cheap group, toy sizes, JSON keys (no timing assertions)."""

import json

from myovox.cli.main import main


def test_bench_features_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MYOVOX_BENCH_TINY", "1")
    out = tmp_path / "bench.json"
    rc = main(["bench", "--only", "features", "--quick", "--json", "--out", str(out)])
    assert rc in (0, None)
    rows = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text()) == rows
    names = {r["name"] for r in rows}
    assert {"rf_features_windows_per_s", "classic_features_windows_per_s", "bench_peak_rss_mb"} <= names
    for r in rows:
        assert {"name", "unit", "baseline", "ours", "ratio"} <= set(r)
    feat = [r for r in rows if r["name"].endswith("features_windows_per_s")]
    assert all(r["equal"] is True and r["ours"] > 0 and r["baseline"] > 0 for r in feat)


def test_bench_rejects_unknown_group(monkeypatch, capsys):
    monkeypatch.setenv("MYOVOX_BENCH_TINY", "1")
    assert main(["bench", "--only", "featurez"]) != 0
    assert "Did you mean 'features'" in capsys.readouterr().err

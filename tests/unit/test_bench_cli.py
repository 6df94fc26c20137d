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


def test_bench_inference_int8_c_vs_onnxruntime_rows(tmp_path, capsys):
    """The int8-C-against-onnxruntime rows (names scripts depend on) in --quick, one per shape, with the
    MAC-bound fraction and the int8 peak it assumes."""
    import pytest

    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    rc = main(["bench", "--only", "inference", "--quick", "--json", "--out", str(tmp_path / "b.json")])
    assert rc in (0, None)
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    main_row = rows["int8_c_vs_onnxruntime_ms"]
    assert main_row["shape"] == "14x700" and main_row["unit"] == "ms"
    assert main_row["ratio"] > 0 and main_row["baseline"] > 0 and main_row["ours"] > 0
    for shape in ("8x280", "16x1000"):
        assert rows[f"int8_c_vs_onnxruntime_ms_{shape}"]["shape"] == shape
    assert {"int8_peak_macs_per_s", "int8_mac_bound_fraction", "c_flags", "min_ms"} <= set(main_row)


def test_bench_training_grid_rows(tmp_path, monkeypatch, capsys):
    """The training grid's row names (scripts depend on them): --quick keeps 8x280, 14x700 and 16x1000."""
    import pytest

    pytest.importorskip("torch")
    from myovox.bench import training

    monkeypatch.setenv("MYOVOX_BENCH_TINY", "1")
    rc = main(["bench", "--only", "training", "--quick", "--json", "--out", str(tmp_path / "b.json")])
    assert rc in (0, None)
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert "speechnet_train_windows_per_s" in rows
    for c, t in ((8, 280), (14, 700), (16, 1000)):
        row = rows[f"speechnet_train_windows_per_s_{c}x{t}"]
        assert row["shape"] == f"{c}x{t}" and row["unit"] == "windows/s"
        assert row["baseline"] > 0 and row["ours"] > 0 and row["ratio"] > 0 and row["threads"] in (1, 2)
    cells = training.grid_cells()
    assert len(cells) == 25 and {(2, 200), (8, 280), (14, 700), (16, 1000)} <= set(cells)
    assert set(training.QUICK_CELLS) <= set(cells) and training.grid_cells(quick=True) == list(training.QUICK_CELLS)

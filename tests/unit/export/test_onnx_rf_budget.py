"""ONNX (float and QDQ), emlearn random forest and the MCU budget."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from myovox.exceptions import ExportError

pytest.importorskip("onnxruntime")


def test_onnx_float_parity_dynamic_batch(trained_net, task, tmp_path):
    from myovox.export.fold import torch_logits
    from myovox.export.onnx import export_onnx_float, run_onnx

    info = export_onnx_float(trained_net, tmp_path / "m.onnx", check_inputs=task.Xte[:32])
    assert info["max_abs_error"] < 1e-4 and info["argmax_agreement"] == 1.0
    for n in (1, 7):  # dynamic batch
        out = run_onnx(tmp_path / "m.onnx", task.Xte[:n])
        np.testing.assert_allclose(out, torch_logits(trained_net, task.Xte[:n]), atol=1e-4)


def test_onnx_qdq_agrees_with_reference(qmodel, task, tmp_path):
    import onnx

    from myovox.export.onnx import export_onnx_qdq

    info = export_onnx_qdq(qmodel, tmp_path / "q.onnx", check_inputs=task.Xte)
    ops = {n.op_type for n in onnx.load(str(tmp_path / "q.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv", "Gemm"} <= ops
    # same integers on every CPU (u8 x u8 kernels, test_onnx_saturation.py); only onnxruntime's
    # float32 requantisation can differ from the reference's fixed point, by one step where a
    # value lies within float32 precision of a half step, and such a step can propagate
    assert info["exact_agreement"] >= 0.9
    assert info["argmax_agreement"] >= 0.95
    assert info["max_logit_error"] <= 4 * info["logit_scale"]  # a few int8 steps at most


def test_emlearn_random_forest_parity(tmp_path):
    if importlib.util.find_spec("emlearn") is None:  # importing emlearn itself would change numpy.seterr
        pytest.skip("emlearn is not installed (extra: export)")
    from sklearn.ensemble import RandomForestClassifier

    from myovox.export.emlearn_rf import check_random_forest_parity, export_random_forest

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 12)).astype(np.float32)
    y = np.array(["up", "down", "rest"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)]
    rf = RandomForestClassifier(15, random_state=0).fit(X[:200], y[:200])
    info = export_random_forest(rf, tmp_path / "rf.h", name="rf")
    assert info["n_features"] == 12 and (tmp_path / "rf.h").exists()
    res = check_random_forest_parity(rf, tmp_path / "rf.h", X[200:], name="rf")
    assert res["agreement"] == 1.0 and res["n"] == 100
    np.testing.assert_array_equal(res["c_pred"], rf.predict(X[200:]))
    with pytest.raises(ExportError, match="expected a C identifier"):
        export_random_forest(rf, tmp_path / "x.h", name="bad-name")
    with pytest.raises(ExportError, match="RandomForest"):
        export_random_forest(object(), tmp_path / "x.h")


def test_budget_report_reference_network():
    torch = pytest.importorskip("torch")
    from myovox.export.budget import budget_markdown, budget_report
    from myovox.export.quantize import quantize_model
    from myovox.models.speechnet import SpeechNet

    torch.manual_seed(0)
    net = SpeechNet(14, 400, 9).eval()
    X = np.random.default_rng(0).normal(size=(8, 14, 400)).astype(np.float32)
    rep = budget_report(quantize_model(net, X), measure_host=False, inference_rate_hz=2.0)
    assert rep["macs"] == 2_143_968
    g = rep["estimates"]["gap9"]
    assert g["latency_ms"] == pytest.approx(2.47 * 2_143_968 / 2.14e6)
    assert g["energy_uj"] == pytest.approx(63.9 * 2_143_968 / 2.14e6)
    assert "ESTIMATE" in g["assumption"]
    b = rep["estimates"]["battery"]
    assert b["life_h"] == pytest.approx(150 * 3.7 / (20.5 + b["inference_power_mw"]))
    assert 26 < b["life_h"] < 28  # the reference: > 27 h on 150 mAh at 20.5 mW
    assert rep["flash_bytes"]["weights"] == 15_281 - (8 + 16 + 16 + 32 + 32 + 9)
    assert rep["ram_bytes"]["activation_buffers"] == 2 * max(rep["ram_bytes"]["activation_sizes"][1:])
    md = budget_markdown(rep)
    assert "| MACs per inference | 2,143,968" in md and "Estimates (not measurements)" in md
    assert rep["host"] is None


def test_budget_measures_host_latency(qmodel, c_build):
    from myovox.export.budget import budget_report

    rep = budget_report(qmodel, c_dir=c_build.dir, reps=20)
    assert 0 < rep["host"]["latency_ms_median"] < 500
    with pytest.raises(ValueError, match="inference_rate_hz"):
        budget_report(qmodel, measure_host=False, inference_rate_hz=0)

"""export_model (Python API) and `myovox export` (CLI, in-process) on a saved model folder."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from myovox.exceptions import ExportError

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model_dir(trained_net, task, tmp_path_factory):
    from myovox.models import io
    from myovox.models.card import card_for
    from myovox.models.neural import SpeechNetClassifier

    clf = SpeechNetClassifier(n_epochs=1, net_params={})
    clf.net_ = copy.deepcopy(trained_net)
    clf.classes_ = np.array([0, 1, 2])
    clf.mean_ = clf.scale_ = None
    clf.n_channels_in_, clf.n_times_in_ = task.Xtr.shape[1:]
    d = tmp_path_factory.mktemp("models") / "tiny"
    card = card_for(
        clf, sfreq=500.0, ch_names=["a", "b", "c", "d"], label_map={0: "up", 1: "down", 2: "rest"}, rest_label=2
    )
    io.save_model(clf, d, card, extra_files={"calibration.npz": {"X": task.Xtr[:100]}})
    return d


def test_export_model_c_with_report(trained_net, task, tmp_path):
    from myovox.export import export_model

    res = export_model(trained_net, tmp_path / "c", format="c", calibration=task.Xtr, report=True)
    for key in ("header", "source", "sidecar", "budget_json", "budget_md"):
        assert (tmp_path / "c" / res["files"][key].split("/")[-1]).exists()
    assert res["budget"]["host"]["latency_ms_median"] > 0
    with pytest.raises(ExportError, match=r"already exists.*force"):
        export_model(trained_net, tmp_path / "c", format="c", calibration=task.Xtr)
    with pytest.raises(ExportError, match="calibration"):
        export_model(trained_net, tmp_path / "c2", format="c")
    with pytest.raises(ExportError, match="int8 library only"):
        export_model(trained_net, tmp_path / "c3", format="c", int8=False)
    with pytest.raises(ValueError, match="Did you mean 'onnx'"):
        export_model(trained_net, tmp_path / "c4", format="onx")


def test_export_model_onnx_int8(trained_net, task, tmp_path):
    from myovox.export import export_model

    res = export_model(trained_net, tmp_path / "o", format="onnx", int8=True, calibration=task.Xtr)
    assert res["onnx_float_check"]["max_abs_error"] < 1e-4
    assert res["onnx_int8_check"]["argmax_agreement"] >= 0.95
    side = json.loads((tmp_path / "o" / "model.json").read_text())
    assert side["format"] == "myovox-onnx" and "input_scale" in side["int8"]


def test_cli_export_from_model_folder(model_dir, task, tmp_path, capsys):
    from myovox.cli.main import main
    from myovox.export.c_codegen import compile_harness, run_harness
    from myovox.models.io import load_model

    out = tmp_path / "c"
    assert main(["export", str(model_dir), "--format", "c", "--out", str(out), "--report"]) == 0
    side = json.loads((out / "model.json").read_text())
    assert side["sfreq"] == 500.0 and side["label_map"] == {"0": "up", "1": "down", "2": "rest"}
    assert (out / "budget.md").read_text().startswith("# MCU budget")
    # the exported library predicts what the saved model predicts (int8 vs float, easy task)
    model, _ = load_model(model_dir)
    from myovox.export.quantize import quantize_model

    q = quantize_model(model, task.Xtr[:100])
    _, cls = run_harness(compile_harness(out), q.quantize_input(task.Xte[:60]), 3)
    assert np.mean(cls == model.predict(task.Xte[:60])) >= 0.95
    # existing output folder: one-line error, exit status 2
    capsys.readouterr()
    assert main(["export", str(model_dir), "--format", "c", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and "--force" in err and len(err.splitlines()) == 1
    assert main(["export", str(model_dir), "--format", "c", "--out", str(out), "--force"]) == 0


def test_cli_onnx_with_calibration_file(model_dir, task, tmp_path):
    from myovox.cli.main import main

    np.save(tmp_path / "cal.npy", task.Xtr[:50])
    out = tmp_path / "o"
    assert (
        main(
            [
                "export",
                str(model_dir),
                "--format",
                "onnx",
                "--int8",
                "--calibration",
                str(tmp_path / "cal.npy"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (out / "model.onnx").exists() and (out / "model_int8_qdq.onnx").exists()
    bad = tmp_path / "bad.npy"
    np.save(bad, task.Xtr[:5, :, :50])
    assert (
        main(["export", str(model_dir), "--format", "c", "--calibration", str(bad), "--out", str(tmp_path / "b")]) == 2
    )


def test_cli_export_report_cortex_m_targets(model_dir, tmp_path, capsys):
    """`--target` chooses the Cortex-M builds measured for --report; the report says when none is measured."""
    from myovox.cli.main import main
    from myovox.export.cortex_m import arm_toolchain_missing

    out = tmp_path / "none"
    assert main(["export", str(model_dir), "--out", str(out), "--report", "--target", "none"]) == 0
    rep = json.loads((out / "budget.json").read_text())
    assert rep["cortex_m"]["rows"] == [] and rep["cortex_m"]["reason"] == "not requested"
    assert "not measured (not requested)" in (out / "budget.md").read_text()
    assert "Cortex-M: not measured (not requested)" in capsys.readouterr().out
    assert main(["export", str(model_dir), "--out", str(tmp_path / "x"), "--target", "cortex-m4"]) == 2
    assert "--target needs --report" in capsys.readouterr().err
    assert main(["export", str(model_dir), "--out", str(tmp_path / "x"), "--report", "--target", "auto", "none"]) == 2
    assert "stand alone" in capsys.readouterr().err
    if arm_toolchain_missing() is not None:
        pytest.skip(f"no Cortex-M toolchain: {arm_toolchain_missing()}")
    out = tmp_path / "m4"
    assert main(["export", str(model_dir), "--out", str(out), "--report", "--target", "cortex-m4"]) == 0
    rows = json.loads((out / "budget.json").read_text())["cortex_m"]["rows"]
    assert [r["target"] for r in rows] == ["cortex-m4"] and rows[0]["bit_exact"] and rows[0]["quantize_bit_exact"]
    assert "Cortex-M4F (QEMU mps2-an386) -O2 (measured): bit-exact yes" in capsys.readouterr().out
    md = (out / "budget.md").read_text()
    assert "MEASURED" in md and "| Cortex-M4F | `-O2` | arm-dsp |" in md

"""The int8 C library on Arm Cortex-M4F/M7 (cross-compiled, run under QEMU): bit-exact with the NumPy
reference for every build, and the measurements (flash, RAM, stack, instructions) of the budget report.

The builds need ``arm-none-eabi-gcc``, newlib and ``qemu-system-arm`` (CI installs them, .ci/run); without
them those tests skip, naming what is missing. Parsing and the report's labels are tested everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest

from myovox.exceptions import ExportError
from myovox.export.cortex_m import arm_toolchain_missing

_MISSING = arm_toolchain_missing()
needs_arm = pytest.mark.skipif(_MISSING is not None, reason=f"no Cortex-M toolchain: {_MISSING}")


def _float_windows(qmodel, X: np.ndarray) -> np.ndarray:
    """Float windows with NaN/inf, huge values, exact rounding ties and their neighbours."""
    X = X[:3].copy()
    X[0, 0, :5] = [np.nan, np.inf, -np.inf, 1e30, -1e30]
    X[1] = (np.arange(X[1].size).reshape(X[1].shape) - X[1].size / 2) * 0.25 * qmodel.input_scale
    X[2] = np.nextafter(X[1], np.float32(np.inf))
    return X.astype(np.float32)


# ---------------------------------------------------------------- everywhere (no toolchain needed)
_MAP = """Archive member included to satisfy reference by file (symbol)

/lib/libc_nano.a(lib_a-memset.o)
                              build/myovox_model.o (memset)
/lib/libgcc.a(_helper.o)
                              /lib/libc_nano.a(lib_a-memset.o) (__helper)
/lib/libc_nano.a(lib_a-strlen.o)
                              build/mcu_harness.o (strlen)

Discarded input sections

 .text          0x00000000        0x0 build/myovox_model.o

Memory Configuration

Linker script and memory map

.text           0x00000000     0x1000
 *(.isr_vector)
 .isr_vector    0x00000000       0x40 build/mcu_startup.o
 .text.mv_conv  0x00000040      0x300 build/myovox_model.o
 .text.myovox_infer
                0x00000340      0x100 build/myovox_model.o
                0x00000340                myovox_infer
 .text          0x00000440       0xa2 /lib/libc_nano.a(lib_a-memset.o)
 .text          0x000004e4       0x10 /lib/libgcc.a(_helper.o)
 .text          0x000004f4       0x20 /lib/libc_nano.a(lib_a-strlen.o)
 .rodata.L0_W   0x00000514       0x80 build/myovox_model.o
 .rodata.mv_vec
                0x00000594      0x400 build/myovox_vectors.o
 *fill*         0x00000994        0x2

.data           0x20000000        0x8 load address 0x00000998
 .data.x        0x20000000        0x4 build/myovox_model.o
 .data.h        0x20000004        0x4 build/mcu_harness.o

.bss            0x20000008      0x210 load address 0x000009a0
 .bss.myovox_buf_a
                0x20000008      0x100 build/myovox_model.o
 .bss.mv_acc    0x20000108       0x10 build/myovox_model.o
 .bss.mv_line   0x20000118      0x100 build/mcu_harness.o

.stack          0x20000218     0x8000
"""

_CI = """graph: { title: "myovox_model.c"
node: { title: "myovox_infer" label: "myovox_infer\\nm.c:1:1\\n40 bytes (static)" }
node: { title: "mv_conv" label: "mv_conv\\nm.c:2:1\\n96 bytes (static)" }
node: { title: "mv_gap" label: "mv_gap\\nm.c:3:1\\n16 bytes (static)" }
node: { title: "memset" label: "__builtin_memset\\n<built-in>" shape : ellipse }
edge: { sourcename: "myovox_infer" targetname: "mv_conv" label: "m.c:9:5" }
edge: { sourcename: "myovox_infer" targetname: "mv_gap" label: "m.c:9:6" }
edge: { sourcename: "mv_conv" targetname: "memset" label: "m.c:9:7" }
}
"""


def test_map_sizes_count_the_library_and_what_it_pulls_in(tmp_path):
    from myovox.export.cortex_m import map_sizes

    (tmp_path / "app.map").write_text(_MAP)
    got = map_sizes(tmp_path / "app.map")
    # code: mv_conv + myovox_infer + memset + the libgcc helper memset pulls in (not strlen: the harness's)
    assert got["code"] == 0x300 + 0x100 + 0xA2 + 0x10
    assert got["rodata"] == 0x80 and got["data"] == 4 and got["bss"] == 0x110
    assert got["flash"] == got["code"] + got["rodata"] + 4 and got["ram"] == 4 + 0x110
    (tmp_path / "bad.map").write_text("not a map")
    with pytest.raises(ExportError, match="not a GNU ld map"):
        map_sizes(tmp_path / "bad.map")


def test_static_stack_is_the_deepest_call_path(tmp_path):
    from myovox.export.cortex_m import static_stack

    (tmp_path / "m.ci").write_text(_CI)
    st = static_stack(tmp_path / "m.ci")
    assert st == {"bytes": 40 + 96, "external": ["memset"]}
    (tmp_path / "r.ci").write_text(_CI.replace('targetname: "memset"', 'targetname: "myovox_infer"'))
    with pytest.raises(ExportError, match="Recursion"):
        static_stack(tmp_path / "r.ci")


def test_missing_toolchain_is_named_and_reported(monkeypatch, qmodel, tmp_path):
    from myovox.export.budget import budget_markdown, budget_report
    from myovox.export.cortex_m import find_arm_toolchain

    monkeypatch.setenv("MYOVOX_ARM_GCC", str(tmp_path / "no-such-gcc"))
    assert "arm-none-eabi-gcc not found" in (arm_toolchain_missing() or "")
    with pytest.raises(ExportError, match="apt-get install gcc-arm-none-eabi"):
        find_arm_toolchain()
    rep = budget_report(qmodel, measure_host=False)  # cortex_m="auto": says why not, measures nothing
    assert rep["cortex_m"]["status"] == "not measured" and "not found" in rep["cortex_m"]["reason"]
    kinds = {f["kind"] for f in rep["figures"]}
    assert kinds == {"exact", "measured", "estimated"}
    md = budget_markdown(rep)
    assert "not measured (arm-none-eabi-gcc not found" in md and "CMSIS-NN" in md
    with pytest.raises(ExportError, match="Cannot build for Cortex-M"):
        budget_report(qmodel, measure_host=False, cortex_m="cortex-m4")
    with pytest.raises(ValueError, match="Did you mean 'cortex-m4'"):
        budget_report(qmodel, measure_host=False, cortex_m=["cortex-m44"])


def test_report_labels_every_figure(qmodel):
    from myovox.export.budget import budget_markdown, budget_report

    rep = budget_report(qmodel, measure_host=False, cortex_m=None)
    for f in rep["figures"]:
        assert f["kind"] in {"exact", "measured", "estimated"} and f["how"]
        if f["kind"] == "estimated":
            assert "ESTIMATE" in f["how"]
    est = {f["quantity"] for f in rep["figures"] if f["kind"] == "estimated"}
    assert any("cycles" in q for q in est) and any("energy" in q for q in est) and any("battery" in q for q in est)
    md = budget_markdown(rep)
    assert md.index("## Exact") < md.index("## Measured") < md.index("## Estimates (not measurements)")
    assert "not measured (not requested)" in md


# ---------------------------------------------------------------- on the Arm instruction set (QEMU)
@needs_arm
def test_tiny_model_bit_exact_on_every_build(qmodel, task, adversarial, tmp_path):
    """Cortex-M4F and M7, -O2 and -Os, the Arm DSP path and the portable C: the same logits, classes and
    input quantisation as the reference, and plausible measurements."""
    from myovox.export.cortex_m import measure_cortex_m

    Xq = np.concatenate([qmodel.quantize_input(task.Xte[:6]), adversarial(qmodel.input_shape)])
    rows = measure_cortex_m(
        qmodel,
        Xq,
        X_float=_float_windows(qmodel, task.Xte),
        opts=("-O2", "-Os"),
        kernels=("arm-dsp", "portable"),
        work_dir=tmp_path,
    )
    assert len(rows) == 8
    arena = max(qmodel.activation_sizes()[1:])
    by = {(r["target"], r["opt"], r["kernels"]): r for r in rows}
    for r in rows:
        assert r["bit_exact"] and r["quantize_bit_exact"], r
        assert r["n_windows"] == len(Xq) and r["n_quantize_windows"] == 3
        assert r["flash_bytes"]["total"] > qmodel.flash_bytes()["total"]
        assert r["ram_bytes"]["static"] >= 2 * arena
        assert 0 < r["stack_bytes"] <= r["stack_bytes_static"] + 64  # + memset's frame, outside the call graph
        assert r["macs"] < r["instructions_per_inference"] < 40 * r["macs"]
        assert r["elf_bytes"]["text"] > r["flash_bytes"]["total"]
    for t in ("cortex-m4", "cortex-m7"):
        for o in ("-O2", "-Os"):
            dsp, portable = by[(t, o, "arm-dsp")], by[(t, o, "portable")]
            assert dsp["instructions_per_inference"] < 0.7 * portable["instructions_per_inference"]


@needs_arm
def test_harness_prints_labels_and_every_api_function_is_linked(qmodel, task, tmp_path):
    from myovox.export.c_codegen import generate_c
    from myovox.export.cortex_m import build_elf, run_elf, write_mcu_project

    generate_c(qmodel, tmp_path / "c", harness=False)
    Xq = qmodel.quantize_input(task.Xte[:3])
    project = write_mcu_project(tmp_path / "c", tmp_path / "mcu", Xq)  # no float windows
    built = build_elf(project, "cortex-m7", "-Os", "portable")
    out = run_elf(built["elf"], "cortex-m7")
    cls = int(np.argmax(qmodel.forward_int8(Xq)[0]))
    assert out["first_label"] == int(qmodel.classes[cls])
    assert out["first_name"] == {0: "up", 1: "down", 2: "rest"}[int(qmodel.classes[cls])]
    assert out["quantized"].shape == (0, 0) and out["stack_size"] == 32768
    syms = built["map"].read_text()
    for fn in ("myovox_quantize_input", "myovox_infer", "myovox_class_label", "myovox_class_name"):
        assert f" {fn}\n" in syms
    with pytest.raises(ExportError, match="int8 windows"):
        write_mcu_project(tmp_path / "c", tmp_path / "m2", Xq.astype(np.int16))
    with pytest.raises(ValueError, match="Invalid value for 'target'"):
        build_elf(project, "cortex-m0")


@needs_arm
def test_reference_shape_bit_exact(adversarial, tmp_path):
    """The reference SpeechNet (14 x 700, 9 classes): the Arm DSP build at -O2 on the M4F and the portable
    build at -Os on the M7, on calibration-like, saturated and alternating windows."""
    torch = pytest.importorskip("torch")
    from myovox.export.cortex_m import measure_cortex_m
    from myovox.export.quantize import quantize_model
    from myovox.models.speechnet import SpeechNet

    torch.manual_seed(0)
    net = SpeechNet(14, 700, 9).eval()
    X = np.random.default_rng(0).normal(size=(12, 14, 700)).astype(np.float32)
    q = quantize_model(net, X)
    Xq = np.concatenate([q.quantize_input(X[:2]), adversarial(q.input_shape)[:4]])
    rows = measure_cortex_m(q, Xq, targets=("cortex-m4",), work_dir=tmp_path / "a")
    rows += measure_cortex_m(q, Xq, targets=("cortex-m7",), opts=("-Os",), kernels=("portable",), work_dir=tmp_path)
    assert all(r["bit_exact"] for r in rows), rows
    assert rows[0]["macs"] == 3_711_968 and rows[0]["instructions_per_mac"] < 4.0


@needs_arm
def test_unusual_layers_take_every_dsp_branch(unusual_model, tmp_path):
    """The network of every layer shape the kernels branch on (4-tap groups with remainders, padding along
    channels, pooling along both axes, odd lengths): the Arm DSP build gives the reference's bits."""
    from myovox.export.cortex_m import measure_cortex_m

    q, Xq = unusual_model
    rows = measure_cortex_m(q, Xq, targets=("cortex-m4",), kernels=("arm-dsp", "portable"), work_dir=tmp_path)
    assert [r["bit_exact"] for r in rows] == [True, True], rows


@needs_arm
def test_requantisation_shifts_around_the_high_word_shortcut(shift_model, tmp_path):
    """The Arm path requantises shifts n > 32 from the product's high word and n <= 32 as the portable C does:
    per-channel shifts 1, 31, 32, 33, 45 and 62 (a zero multiplier among them) give the reference's bits."""
    from myovox.export.cortex_m import measure_cortex_m

    q, Xq = shift_model
    rows = measure_cortex_m(q, Xq, targets=("cortex-m4",), kernels=("arm-dsp", "portable"), work_dir=tmp_path)
    assert [r["bit_exact"] for r in rows] == [True, True], rows


@needs_arm
def test_input_quantiser_with_contraction_allowed(qmodel, task, tmp_path):
    """GNU C with -ffp-contract=fast may fuse multiply-adds on the FPU of a Cortex-M4F/M7: the quantiser's
    float32 steps (subtract, multiply, NaN check, clamp, round half away from zero) still give the
    reference's bits, at and next to the rounding ties."""
    from myovox.export.c_codegen import generate_c
    from myovox.export.cortex_m import build_elf, run_elf, write_mcu_project

    X = task.Xte[:8].copy()
    ties = (np.random.default_rng(3).integers(-120, 120, X[:4].shape) + 0.5) * qmodel.input_scale
    X[:4] = ties.astype(np.float32)
    X[4:8] = np.nextafter(X[:4], np.float32(np.inf))
    X = np.concatenate([X, _float_windows(qmodel, task.Xte)])
    generate_c(qmodel, tmp_path / "c", harness=False)
    project = write_mcu_project(tmp_path / "c", tmp_path / "mcu", qmodel.quantize_input(task.Xte[:2]), X)
    for target in ("cortex-m4", "cortex-m7"):
        built = build_elf(project, target, "-O2", extra_flags=("-std=gnu99", "-ffp-contract=fast"))
        out = run_elf(built["elf"], target)
        np.testing.assert_array_equal(out["quantized"], qmodel.quantize_input(X).reshape(len(X), -1))
        np.testing.assert_array_equal(out["logits"], qmodel.forward_int8(qmodel.quantize_input(task.Xte[:2])))

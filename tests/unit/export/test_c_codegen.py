"""The generated C99 library: strict compilation and bit-exact agreement with the NumPy reference."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from myovox.exceptions import ExportError
from myovox.export.c_codegen import CFLAGS, compile_harness, generate_c, run_harness, run_harness_quantize, time_harness


def test_strict_flags_and_no_malloc(c_build):
    assert {"-std=c99", "-Wall", "-Wextra", "-Werror", "-O2"} <= set(CFLAGS)
    src = c_build.paths["source"].read_text()
    hdr = c_build.paths["header"].read_text()
    assert "malloc(" not in src and "malloc" not in hdr and "static int8_t myovox_buf_a[" in src
    assert "int myovox_infer(const int8_t *in, int8_t *out);" in hdr
    assert "void myovox_quantize_input(const float *x, int8_t *q);" in hdr
    assert "static const int8_t L0_W[" in src
    assert "#define MYOVOX_INPUT_ZERO_POINT 0" in hdr and '"down"' in src


def test_bit_exact_on_test_windows(c_build, qmodel, task):
    Xq = qmodel.quantize_input(task.Xte)
    logits, cls = run_harness(c_build.exe, Xq, qmodel.n_classes)
    ref = qmodel.forward_int8(Xq)
    np.testing.assert_array_equal(logits, ref)
    np.testing.assert_array_equal(cls, ref.argmax(axis=1))


def test_bit_exact_on_adversarial_int8_inputs(c_build, qmodel):
    rng = np.random.default_rng(5)
    shape = (12, *qmodel.input_shape)
    Xq = rng.integers(-128, 128, shape).astype(np.int8)
    Xq[0], Xq[1], Xq[2] = 127, -128, 0  # saturated and silent windows
    Xq[3, :, ::2], Xq[3, :, 1::2] = 127, -128
    logits, _cls = run_harness(c_build.exe, Xq, qmodel.n_classes)
    np.testing.assert_array_equal(logits, qmodel.forward_int8(Xq))


def test_input_quantisation_bit_exact(c_build, qmodel, task):
    X = task.Xte[:6].copy()
    X[0, 0, :5] = [np.nan, np.inf, -np.inf, 1e30, -1e30]
    # exact ties of the rounding rule and values around them
    X[1] = (np.arange(X[1].size).reshape(X[1].shape) - X[1].size / 2) * 0.25 * qmodel.input_scale
    X[2] = np.nextafter(X[1], np.float32(np.inf))
    got = run_harness_quantize(c_build.exe, X)
    np.testing.assert_array_equal(got, qmodel.quantize_input(X))
    assert got[0, 0, 0] == 0 and got[0, 0, 1] == 127 and got[0, 0, 2] == -128


def test_sidecar_and_timing(c_build, qmodel):
    side = json.loads(c_build.paths["sidecar"].read_text())
    assert side["input_shape"] == list(qmodel.input_shape)
    assert side["label_map"] == {"0": "up", "1": "down", "2": "rest"}
    assert side["sfreq"] == 500.0 and side["c_activation_buffers"] == 2
    assert side["input_scale"] == pytest.approx(qmodel.input_scale)
    t = time_harness(c_build.exe, qmodel.quantize_input(np.zeros((1, *qmodel.input_shape))), reps=20)
    assert 0 < t["min_s"] <= t["median_s"] < 0.5


def test_existing_output_folder_needs_force(qmodel, tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(ExportError, match="force"):
        generate_c(qmodel, tmp_path)
    paths = generate_c(qmodel, tmp_path, force=True)
    assert paths["header"].exists()


def test_null_input_returns_error(c_build, tmp_path):
    main = tmp_path / "null_test.c"
    main.write_text(
        '#include "myovox_model.h"\n#include <stddef.h>\n'
        "int main(void) { int8_t o[MYOVOX_N_CLASSES]; myovox_quantize_input(NULL, NULL);\n"
        "  return myovox_infer(NULL, o) == MYOVOX_ERR_NULL ? 0 : 1; }\n"
    )
    exe = tmp_path / "null_test"
    cc = subprocess.run(
        ["gcc", *CFLAGS, "-I", str(c_build.dir), "-o", str(exe), str(main), str(c_build.paths["source"])],
        capture_output=True,
        text=True,
    )
    assert cc.returncode == 0, cc.stderr
    assert subprocess.run([str(exe)]).returncode == 0


def test_compile_needs_generated_sources(tmp_path):
    with pytest.raises(ExportError, match="missing"):
        compile_harness(tmp_path)


@pytest.mark.parametrize(
    "flags",
    [
        ("-O0",),
        ("-O3", "-ffp-contract=fast"),
        ("-O3", "-march=x86-64-v2"),
        ("-O3", "-march=native", "-std=gnu99", "-ffp-contract=fast"),
    ],
    ids=["O0", "O3-contract", "x86-64-v2", "native-gnu99"],
)
def test_bit_exact_across_compiler_flags(c_build, qmodel, task, flags, tmp_path):
    """The int8 network is integer arithmetic and the input quantiser float32 operations written as
    the reference does them: the same bits at every optimisation level and target (issue 10,
    finding 7), including values exactly at and next to the quantiser's rounding ties."""
    import platform
    import shutil

    if any(f.startswith("-march=x86") for f in flags) and platform.machine().lower() not in {"x86_64", "amd64"}:
        pytest.skip("x86-64 target")
    c_dir = tmp_path / "c"
    shutil.copytree(c_build.dir, c_dir)
    try:
        exe = compile_harness(c_dir, extra_flags=flags)
    except ExportError as err:
        pytest.skip(f"this compiler does not take {' '.join(flags)}: {err}")
    X = task.Xte[:40].copy()
    rng = np.random.default_rng(3)
    ties = (rng.integers(-120, 120, X[:10].shape) + 0.5) * qmodel.input_scale
    X[:10] = ties.astype(np.float32)
    X[10:20] = np.nextafter(X[:10], np.float32(np.inf))
    got = run_harness_quantize(exe, X)
    np.testing.assert_array_equal(got, qmodel.quantize_input(X))
    logits, _ = run_harness(exe, got, qmodel.n_classes)
    np.testing.assert_array_equal(logits, qmodel.forward_int8(got))

"""The C training kernels built for other instruction sets compute the same training step (``benchmarks/
cross_arch.py``): the driver run outside Python reproduces the library's own results bit for bit on this
machine, and builds for the portable x86 baselines and for ARMv8-A (under QEMU user mode) agree with them
within float rounding (different vector widths sum in different orders)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

TOLERANCE = 2e-5  # relative to each output's largest magnitude; measured up to 2.2e-6 (docs/benchmarks.md)


@pytest.fixture(scope="module")
def case(benchmark_script, c_kernels) -> tuple[Any, dict[str, Any]]:
    script = benchmark_script("cross_arch")
    return script, script.reference((3, 200), 4)


def _cpu_has(*flags: str) -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return all(f in line.split() for f in flags)


def _agrees(row: dict[str, Any], bitwise: bool) -> None:
    for key in ("features", "gradients", "running_stats", "eval"):
        rel, same = row[key]
        assert same if bitwise else rel <= TOLERANCE, (row["target"], key, rel)
    assert row["counts_equal"]


def test_the_driver_makes_the_library_s_calls_bit_for_bit(case, tmp_path) -> None:
    script, ref = case
    _agrees(script.run_target(ref, "native", tmp_path), bitwise=True)


@pytest.mark.parametrize(("target", "flags"), [("x86-64-v2", ("sse4_2",)), ("x86-64-v3", ("avx2", "fma"))])
def test_portable_x86_builds_agree_within_rounding(case, tmp_path, target, flags) -> None:
    if not _cpu_has(*flags):
        pytest.skip(f"this CPU cannot run {target} code")
    script, ref = case
    _agrees(script.run_target(ref, target, tmp_path), bitwise=False)


def test_an_aarch64_build_agrees_within_rounding(case, tmp_path) -> None:
    script, ref = case
    missing = [tool for tool in (script.AARCH64_CC, script.AARCH64_QEMU) if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (Debian: gcc-aarch64-linux-gnu qemu-user)")
    row = script.run_target(ref, "aarch64", tmp_path)
    _agrees(row, bitwise=False)
    assert row["raw"] != b""


@pytest.mark.parametrize("target", ["x86-64-v2", "aarch64"])
def test_no_comparison_is_lowered_one_lane_at_a_time(case, target) -> None:
    # where a vector is two of the target's registers (SSE-only x86, NEON), GCC compares and selects vectors
    # wider than a register one lane at a time, with scalar compares and branches; the kernels compare on
    # register halves there (kernels.c: gt_f, lt_i, select_i), and no new comparison may bring that back
    import subprocess

    script, _ = case
    from myovox.models import _c

    if target == "aarch64":
        if shutil.which(script.AARCH64_CC) is None:
            pytest.skip(f"{script.AARCH64_CC} not installed (Debian: gcc-aarch64-linux-gnu)")
        cmd = [script.AARCH64_CC]
    else:
        cmd = [_c.build_info()["compiler"], f"-march={target}"]
    version = subprocess.run([cmd[0], "--version"], capture_output=True, text=True).stdout
    if "Free Software Foundation" not in version:  # the warning below is GCC's
        pytest.skip(f"{cmd[0]} is not GCC")
    proc = subprocess.run(
        [*cmd, *script._ARITH_FLAGS, "-fopenmp", "-Wvector-operation-performance", "-c", str(_c._SOURCE)]
        + ["-o", "/dev/null"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "vector condition will be expanded piecewise" not in proc.stderr, proc.stderr[-2000:]

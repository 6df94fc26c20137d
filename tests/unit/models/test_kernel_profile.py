"""``benchmarks/kernel_profile.py`` keeps working as ``kernels.c`` changes: it rewrites the source (a timer
around every kernel call inside the whole-network functions), so a renamed anchor or kernel would break it
silently; here its rewrite is checked on the real source and one short run is made."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from myovox.models import _c

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "benchmarks" / "kernel_profile.py"  # also run as a script below


def test_every_kernel_the_network_calls_is_timed(benchmark_script) -> None:
    source = _c._SOURCE.read_text()
    instrumented, names = benchmark_script("kernel_profile")._instrumented(source)
    network = source[source.index("#define TAB_HEAD") :]
    called = set(re.findall(r"\b(myovox_\w+)\(", network)) - {"myovox_net_fwd", "myovox_net_eval", "myovox_net_bwd"}
    called = {n for n in called if "threads" not in n}
    assert called and called <= set(names)
    for name in names:
        assert f"#define {name}(...)" in instrumented
    # the kernels themselves are unchanged: the timers come after their definitions
    assert instrumented.index("#define myovox_conv1d(...)") > instrumented.index("int myovox_conv1d(")


def test_a_short_run_prints_the_table(tmp_path: Path, c_kernels: object) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--shapes", "2x200", "--steps", "3", "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| `conv1d` |" in proc.stdout
    assert "the whole step" in proc.stdout

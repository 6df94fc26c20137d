"""The fast int8 kernels of host builds (issue 15): every path (AVX-512, AVX2, SSE4, SSE2, plain C, and the
compact kernels of microcontrollers) gives the NumPy integer reference's bits, at the reference shape and
others, on unusual layers and on every requantisation shift."""

from __future__ import annotations

import platform
import shutil

import numpy as np
import pytest

from myovox.export.c_codegen import compile_harness, generate_c, run_harness

pytestmark = pytest.mark.skipif(not (shutil.which("gcc") or shutil.which("cc")), reason="no C compiler")

_X86 = platform.machine().lower() in {"x86_64", "amd64"}


def _cpu_has(flag: str) -> bool:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            return any(flag in line.split() for line in fh if line.startswith("flags"))
    except OSError:
        return False


#: path -> compiler flags; x86 targets are skipped elsewhere, and where this CPU cannot run them
PATHS = {
    "native": ("-O3", "-march=native"),
    "avx2": ("-O3", "-march=x86-64-v3"),
    "sse4": ("-O3", "-march=x86-64-v2"),
    "sse2": ("-O3",),
    "plain-c": ("-O3", "-DMYOVOX_PORTABLE"),
    "plain-c-O2": ("-O2", "-march=native", "-DMYOVOX_PORTABLE"),
    "compact": ("-O2", "-DMYOVOX_COMPACT"),
}


def _runnable(path: str) -> bool:
    if path in ("avx2", "sse4", "sse2") and not _X86:
        return False
    return not (path == "avx2" and not _cpu_has("avx2"))


def _check_every_path(q, Xq: np.ndarray, tmp_path, paths=tuple(PATHS)) -> list[str]:
    src = tmp_path / "src"
    generate_c(q, src)
    ref = q.forward_int8(Xq)
    done = []
    for name in paths:
        if not _runnable(name):
            continue
        d = tmp_path / name
        shutil.copytree(src, d)
        exe = compile_harness(d, extra_flags=PATHS[name])
        logits, cls = run_harness(exe, Xq, q.n_classes)
        np.testing.assert_array_equal(logits, ref, err_msg=f"path {name}")
        np.testing.assert_array_equal(cls, ref.argmax(axis=1), err_msg=f"path {name}")
        done.append(name)
    return done


@pytest.mark.parametrize("shape", [(14, 700), (8, 280), (4, 200), (16, 1000)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_speechnet_bit_exact_on_every_path(shape, quantized, tmp_path):
    torch = pytest.importorskip("torch")
    from myovox.models.speechnet import SpeechNet

    torch.manual_seed(0)
    net = SpeechNet(*shape, 9).eval()
    q, Xq = quantized(net, np.random.default_rng(0).normal(size=(16, *shape)).astype(np.float32))
    done = _check_every_path(q, Xq, tmp_path)
    assert {"native", "plain-c", "compact"} <= set(done)


def test_unusual_layers_on_every_path(unusual_model, tmp_path):
    q, Xq = unusual_model
    assert len(_check_every_path(q, Xq, tmp_path)) >= 4


def test_one_channel_column_kernel_on_every_path(quantized, tmp_path):
    """A one-channel input with a kernel along electrodes only (a pair of one real and one zero channel),
    max-pooling along electrodes."""
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(2)
    net = nn.Sequential(
        nn.Conv2d(1, 3, (2, 1)),
        nn.ReLU(),
        nn.MaxPool2d((2, 1)),
        nn.Conv2d(3, 5, (1, 4), padding=(0, 1)),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(5, 2),
    ).eval()
    q, Xq = quantized(net, np.random.default_rng(2).normal(size=(16, 5, 33)).astype(np.float32))
    assert len(_check_every_path(q, Xq, tmp_path)) >= 4


def test_requantisation_shifts_on_every_path(shift_model, tmp_path):
    """The vector paths requantise shifts n > 32 from the product's high word and n <= 32 lane by lane:
    per-channel shifts 1, 31, 32, 33, 45 and 62 (a zero multiplier among them) give the reference's bits."""
    q, Xq = shift_model
    assert len(_check_every_path(q, Xq, tmp_path)) >= 4


def test_host_ram_in_sidecar(qmodel, tmp_path):
    import json

    paths = generate_c(qmodel, tmp_path / "c")
    side = json.loads(paths["sidecar"].read_text())
    assert side["c_fast_ram_bytes"] >= 2 * side["c_arena_bytes_per_buffer"]
    src = paths["source"].read_text()
    assert "#if MYOVOX_FAST" in src and "mv_fconv(" in src and "mv_conv(in" in src

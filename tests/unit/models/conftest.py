"""Tiny synthetic windows for the model tests (class-dependent bursts on a few channels)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


def load_benchmark(name: str) -> Any:
    """``benchmarks/<name>.py`` as a module (the scripts are not a package), for tests of their functions."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def c_kernels() -> Any:
    """myovox's C kernel library; the test skips where it cannot be built (no compiler), and fails in CI, which has
    a compiler and must test the kernels."""
    import os

    from myovox.models import _c

    lib = _c.kernels()
    if lib is None:
        if os.environ.get("CI"):
            pytest.fail("myovox's C kernels could not be built; CI has a C compiler and must test them")
        pytest.skip("no C compiler (or MYOVOX_C_KERNELS=0): the C kernels are not built here")
    return lib


@pytest.fixture(scope="session")
def benchmark_script():
    """:func:`load_benchmark`, for the tests of the scripts under ``benchmarks/``."""
    return load_benchmark


def make_windows(n: int = 60, n_channels: int = 14, n_times: int = 200, n_classes: int = 3, seed: int = 0):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % n_classes
    X = rng.randn(n, n_channels, n_times).astype(np.float32)
    t = np.arange(n_times)
    for c in range(n_classes):
        X[y == c, c % n_channels] += 3.0 * np.sin(2 * np.pi * (c + 1) * t / 40.0).astype(np.float32)
    return X, y


@pytest.fixture
def windows():
    return make_windows()


@pytest.fixture
def windows_factory():
    return make_windows

"""Tiny synthetic windows for the model tests (class-dependent bursts on a few channels)."""

from __future__ import annotations

import numpy as np
import pytest


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

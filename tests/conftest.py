"""Shared fixtures: where ../shared lives, with skips (and reasons) where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MYOVOX_SHARED", ROOT.parent / "shared"))


def _need(path: Path, what: str) -> Path:
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing at {path}; CI must have ../shared beside the checkout")
        pytest.skip(f"{what} not found at {path} (set MYOVOX_SHARED to the shared folder)")
    return path


@pytest.fixture(scope="session")
def silentwear_fixtures() -> Path:
    """../shared/fixtures/silentwear (files written by the reference system's software)."""
    return _need(SHARED / "fixtures" / "silentwear", "SilentWear fixtures")


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """../shared/datasets (real recordings by other people)."""
    return _need(SHARED / "datasets", "shared datasets")


@pytest.fixture(scope="session")
def somach_dir(datasets_dir: Path) -> Path:
    return _need(datasets_dir / "somach-silent-speech", "somach-silent-speech dataset")


@pytest.fixture(scope="session")
def mateus_dir(datasets_dir: Path) -> Path:
    return _need(datasets_dir / "mateus-subvocal", "mateus-subvocal dataset")


@pytest.fixture(scope="session")
def longterm_dir(datasets_dir: Path) -> Path:
    return _need(datasets_dir / "longterm-armband", "longterm-armband dataset")


@pytest.fixture(autouse=True)
def _numpy_error_state_is_left_alone():
    """A test (or a library it imports, e.g. emlearn) must not change numpy's global error handling:
    that would break unrelated later tests with FloatingPointError."""
    import numpy as np

    before = np.geterr()
    yield
    after = np.geterr()
    if after != before:
        np.seterr(**before)
        pytest.fail(f"numpy.seterr changed during this test: {before} -> {after}")

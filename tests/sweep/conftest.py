"""Shared fixtures of the sweep tests: a tiny synthetic dataset and a configuration writer."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    """2 subjects x 2 sessions x 2 batches, silent only, 2 repetitions per word (processed .h5 only)."""
    from myovox.testing.synth import generate_dataset

    root = tmp_path_factory.mktemp("sweep-data")
    return generate_dataset(
        root / "synth", n_subjects=2, n_sessions=2, n_batches=2, conditions=("silent",), n_repetitions=2, raw=False
    )


@pytest.fixture
def own_data(synth_data, tmp_path) -> Path:
    """A copy of the synthetic dataset that a test may change."""
    return Path(shutil.copytree(synth_data, tmp_path / "own-data"))


@pytest.fixture
def write_config(tmp_path) -> Callable[..., Path]:
    """``write_config(data, name="sweep", **keys)``: a sweep YAML beside the test's files; returns its path."""

    def write(data: Path, name: str = "sweep", **keys: Any) -> Path:
        cfg: dict[str, Any] = {
            "name": name,
            "datasets": [{"path": str(data), "name": "synth"}],
            "protocols": [{"name": "kfold", "options": {"n_splits": 2}}],
            "models": ["lda"],
            "seeds": [0],
        }
        cfg.update(keys)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        return path

    return write

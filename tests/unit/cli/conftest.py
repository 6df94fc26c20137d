"""Shared helpers of the CLI tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from myovox.cli.main import main


@pytest.fixture(scope="session")
def record_session() -> Callable[..., int]:
    """``record_session(bio, out, name, repetitions=..., extra=())`` runs ``myovox record`` from a replayed
    ``.bio`` with a short two-word protocol (1 s start, rest, cue and tail) and returns the exit code."""

    def run(
        bio: Path,
        out: Path,
        name: str,
        *,
        repetitions: int = 3,
        timing_s: float = 1.0,
        quiet: bool = True,
        extra: Sequence[str] = (),
    ) -> int:
        proto = Path(out).parent / f"{name}-protocol.json"
        timing = dict.fromkeys(("start_s", "rest_s", "cue_s", "tail_s"), timing_s)
        proto.write_text(json.dumps({"words": ["up", "down"], "repetitions": repetitions, **timing}))
        args = ["record", "--source", f"replay:{bio}", "--protocol", str(proto), "--out", str(out), "--name", name]
        return main((["-q"] if quiet else []) + args + list(extra))

    return run

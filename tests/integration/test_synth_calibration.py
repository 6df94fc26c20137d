"""The quick variant of ``benchmarks/synth_calibration.py`` (issue 16) runs and shows the reference's findings.

The full calibration (4 subjects at the reference's sizes, SpeechNet with the reference recipe) is
a benchmark, not a test; this runs its ``--quick`` variant with the random forest on the
``reference`` preset and checks the direction of every finding: a new session costs accuracy,
silent speech is harder than vocalized, and adapting on one new batch recovers some of it. The
``easy`` preset, by contrast, is far too easy for the reference's bands.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "synth_calibration.py"


def _run(tmp_path: Path, difficulty: str) -> dict:
    out = tmp_path / f"{difficulty}.json"
    cmd = [sys.executable, str(SCRIPT), "--quick", "--models", "rf", "--difficulty", difficulty, "--json", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| rf | vocalized |" in proc.stdout and "| rf | silent |" in proc.stdout
    return {r["condition"]: r for r in json.loads(out.read_text())["rows"]}


@pytest.mark.slow
def test_quick_calibration_shows_the_reference_findings(tmp_path):
    rows = _run(tmp_path, "reference")
    voc, sil = rows["vocalized"], rows["silent"]
    for r in (voc, sil):
        assert 0.3 < r["inter_session"] < r["global"] - 0.05 < 0.95  # a new session costs accuracy
        assert r["recovery"] > 0.03  # one batch of the new session recovers some of it
    assert sil["global"] < voc["global"] and sil["inter_session"] < voc["inter_session"]
    easy = _run(tmp_path, "easy")
    assert easy["vocalized"]["global"] > voc["global"] + 0.05

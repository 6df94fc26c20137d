"""The user guide's Python examples run as written (docs/guide/*.md, every ```python block, in order)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _pages_with_code() -> list[Path]:
    return sorted(p for p in GUIDE.glob("*.md") if BLOCK.search(p.read_text(encoding="utf-8")))


def test_guide_has_examples() -> None:
    assert _pages_with_code(), f"no ```python block found in {GUIDE}"


@pytest.mark.parametrize("page", _pages_with_code(), ids=lambda p: p.name)
def test_guide_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")  # the guide trains SpeechNet
    monkeypatch.chdir(tmp_path)  # the examples write data/, results/, model/ where they run
    namespace: dict = {"__name__": "__guide__"}
    text = page.read_text(encoding="utf-8")
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start(1)) + 1
        code = compile(match.group(1), f"{page}:{line}", "exec")
        exec(code, namespace)  # a failing block's traceback names the page and its line

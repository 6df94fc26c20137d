"""`import myovox` must stay light: no torch, pandas, matplotlib, pylsl or brainflow."""

import json
import subprocess
import sys

HEAVY = ["torch", "pandas", "matplotlib", "pylsl", "brainflow", "sklearn", "tables", "h5py", "onnx", "mne"]


def test_import_myovox_is_light():
    code = (
        "import sys, json, myovox, myovox.io, myovox.datasets, myovox.cli.main; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_library_never_imports_the_cli():
    """One-way layers: the command line sits on top; no library module imports it (issue 10)."""
    import ast
    from pathlib import Path

    import myovox

    root = Path(myovox.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] == "cli":
            continue
        depth = len(rel.parts) - 1  # package depth of the module
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                if node.level:  # relative: resolve against the module's package
                    base = list(rel.parts[:-1])[: max(depth - (node.level - 1), 0)]
                    mod = ".".join(["myovox", *base, *([mod] if mod else [])])
                if mod == "myovox.cli" or mod.startswith("myovox.cli."):
                    offenders.append(f"{rel}: from {mod} import ...")
            elif isinstance(node, ast.Import):
                offenders += [f"{rel}: import {a.name}" for a in node.names if a.name.startswith("myovox.cli")]
    assert not offenders, offenders


def test_layers_are_one_way():
    """The import contracts of pyproject.toml ([tool.importlinter]) hold: each stage imports only the
    stages below it, nothing but the CLI imports the CLI, private modules stay in their package."""
    import shutil
    from pathlib import Path

    import pytest

    pytest.importorskip("importlinter", reason="import-linter is not installed (pip install 'myovox[test]')")
    root = Path(__file__).resolve().parents[2]
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if exe is None:
        pytest.skip("the lint-imports command is not on the PATH")
    out = subprocess.run(
        [exe, "--no-cache", "--no-logo", str(root / "pyproject.toml")], cwd=root, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_missing_dependency_names_an_existing_extra():
    """Every extra that an error message tells users to install exists in pyproject.toml."""
    from pathlib import Path

    import pytest

    from myovox._checks import _EXTRAS

    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert sorted(set(_EXTRAS.values()) - set(extras)) == []

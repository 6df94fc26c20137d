"""`import myovox` must stay light: no torch, pandas, matplotlib, pylsl or brainflow."""
import json
import subprocess
import sys

HEAVY = ["torch", "pandas", "matplotlib", "pylsl", "brainflow", "sklearn", "tables", "h5py", "onnx", "mne"]


def test_import_myovox_is_light():
    code = ("import sys, json, myovox, myovox.io, myovox.datasets, myovox.cli.main; "
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
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

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

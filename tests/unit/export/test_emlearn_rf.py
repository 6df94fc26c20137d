import subprocess
import sys


def test_importing_emlearn_keeps_numpy_error_state():
    """emlearn.bayes sets numpy.seterr(all='raise') at import; our import must undo it (fresh process)."""
    code = (
        "import numpy as np; before = np.geterr(); "
        "from myovox.export.emlearn_rf import _import_emlearn; _import_emlearn(); "
        "import emlearn.bayes; print(np.geterr() == before)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True"

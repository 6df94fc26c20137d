"""Same seed, same weights, also across fresh processes with two threads (no timing-dependent kernel choice)."""

import subprocess
import sys

CODE = """
import hashlib, numpy as np
from myovox.models.neural import SpeechNetClassifier
rng = np.random.default_rng(0)
X = rng.normal(size=(96, 14, 200)).astype(np.float32); y = np.repeat(np.arange(3), 32)
X[y == 1, 3:6, 50:100] *= 3; X[y == 2, 8:10, 100:150] *= 3
m = SpeechNetClassifier(n_epochs=3, random_state=0, n_threads=2).fit(X, y)
print(hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in m.net_.parameters())).hexdigest())
"""


def test_training_is_bitwise_reproducible_across_processes():
    runs = [
        subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()[-1]
        for _ in range(2)
    ]
    assert runs[0] == runs[1]

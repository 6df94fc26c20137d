"""Fixtures of the export tests: one tiny SpeechNet trained once per session on an easy task."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

N_CH, N_T, N_CLS = 4, 128, 3
NET_KW = dict(temporal_filters=(4, 8, 8), temporal_kernels=(4, 8, 4), pools=(4, 2, 2), spatial_filters=(8, 8))


def make_task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise windows with a class-specific sine burst on a class-specific channel (easy)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLS, n)
    X = rng.normal(0, 1, (n, N_CH, N_T)).astype(np.float32)
    t = np.arange(N_T)
    for i in range(n):
        f = (4, 11, 23)[y[i]]
        X[i, y[i] % N_CH] += 2.0 * np.sin(2 * np.pi * f * t / N_T + rng.uniform(0, 6.28))
    return X, y


@pytest.fixture(scope="session")
def task():
    Xtr, ytr = make_task(300, 0)
    Xte, yte = make_task(240, 1)
    return SimpleNamespace(Xtr=Xtr, ytr=ytr, Xte=Xte, yte=yte)


@pytest.fixture(scope="session")
def trained_net(task):
    torch = pytest.importorskip("torch")
    from myovox.models.speechnet import SpeechNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = SpeechNet(N_CH, N_T, N_CLS, **NET_KW)
        opt = torch.optim.Adam(net.parameters(), 1e-2)
        rng = np.random.default_rng(0)
        X, y = torch.from_numpy(task.Xtr), torch.from_numpy(task.ytr)
        for _ in range(6):
            net.train()
            perm = torch.from_numpy(rng.permutation(len(X)))
            for b in range(0, len(X), 32):
                idx = perm[b : b + 32]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(X[idx]), y[idx]).backward()
                opt.step()
    return net.eval()


@pytest.fixture(scope="session")
def qmodel(trained_net, task):
    from myovox.export.quantize import quantize_model

    return quantize_model(
        trained_net, task.Xtr, label_names={0: "up", 1: "down", 2: "rest"}, meta={"sfreq": 500.0, "window_s": N_T / 500}
    )


@pytest.fixture(scope="session")
def c_build(qmodel, tmp_path_factory):
    """The generated C library and its harness, compiled once (skips without a C compiler)."""
    import shutil

    if not (shutil.which("gcc") or shutil.which("cc")):
        pytest.skip("no C compiler")
    from myovox.export.c_codegen import compile_harness, generate_c

    out = tmp_path_factory.mktemp("c_lib")
    paths = generate_c(qmodel, out, force=True)
    exe = compile_harness(out)
    return SimpleNamespace(dir=out, exe=exe, paths=paths)

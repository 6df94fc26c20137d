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


def adversarial_windows(shape: tuple[int, ...], seed: int = 5) -> np.ndarray:
    """Saturated, silent and alternating int8 windows plus a random one (the kernels' edge cases)."""
    rng = np.random.default_rng(seed)
    Xq = rng.integers(-128, 128, (5, *shape)).astype(np.int8)
    Xq[0], Xq[1], Xq[2] = 127, -128, 0
    Xq[3, :, ::2], Xq[3, :, 1::2] = 127, -128
    return Xq


@pytest.fixture
def adversarial():
    """The :func:`adversarial_windows` factory."""
    return adversarial_windows


def quantized_with_edges(net, X: np.ndarray, n_real: int = 4) -> tuple:
    """``net`` quantised on ``X``, and its test windows: ``n_real`` of ``X`` plus the adversarial ones."""
    from myovox.export.quantize import quantize_model

    q = quantize_model(net, X)
    return q, np.concatenate([q.quantize_input(X[:n_real]), adversarial_windows(q.input_shape)])


@pytest.fixture
def quantized():
    """The :func:`quantized_with_edges` factory."""
    return quantized_with_edges


@pytest.fixture
def unusual_model():
    """A network with every layer shape the int8 kernels branch on, quantised, and its test windows:
    a one-channel input with an odd 2-D kernel (pairs of columns, a padded tap), padding along both axes,
    odd channel counts (a zero channel completes the last pair), pooling along both axes with remainders,
    kernels of 5, 7, 3, 21 and 1 taps (4-tap groups with remainders, none, more than four groups), average
    pooling after a padded-row layout (compaction), odd lengths."""
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(1, 4, (3, 5), padding=(1, 2)),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d((2, 3)),
        nn.Conv2d(4, 7, (1, 7), padding=(0, 3)),
        nn.ReLU(),
        nn.Conv2d(7, 5, (3, 1), padding=(1, 0)),
        nn.BatchNorm2d(5),
        nn.ReLU(),
        nn.Conv2d(5, 6, (2, 3), padding=(0, 1)),
        nn.ReLU(),
        nn.Conv2d(6, 4, (1, 21), padding=(0, 10)),
        nn.ReLU(),
        nn.AvgPool2d((1, 2)),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    ).eval()
    return quantized_with_edges(net, np.random.default_rng(1).normal(size=(24, 6, 61)).astype(np.float32))


@pytest.fixture
def shift_model():
    """A hand-built int8 model whose requantisation shifts are 1, 31, 32, 33, 45 and 62 (a zero multiplier
    among them): every kernel path must requantise shifts above 32 from the product's high word and the
    others lane by lane as the reference does. Returns the model and its test windows."""
    from myovox.export.reference import QConv, QDense, QGap, QuantizedModel

    rng = np.random.default_rng(7)
    mult = np.array([0, 2**30, 2**30 + 12345, 2**31 - 1, 1518500250, 2**31 - 7], dtype=np.int32)
    conv = QConv(
        weight=rng.integers(-3, 4, (6, 1, 1, 8)).astype(np.int8),
        bias=rng.integers(-50, 50, 6).astype(np.int32),
        mult=mult,
        shift=np.array([1, 31, 32, 33, 45, 62]),
        padding=(0, 4),
        pool=(1, 2),
        relu=False,
        in_zp=-5,
        out_scale=1.0,
        out_zp=-3,
        weight_scale=np.ones(6),
    )
    gap = QGap(mult=2**30, shift=34, in_zp=-3, out_scale=1.0, out_zp=2, n_positions=40)
    dense = QDense(
        weight=rng.integers(-20, 21, (3, 6)).astype(np.int8),
        bias=np.zeros(3, np.int32),
        mult=np.full(3, 2**30, np.int32),
        shift=np.array([30, 33, 36]),
        relu=False,
        in_zp=2,
        out_scale=1.0,
        out_zp=0,
        weight_scale=np.ones(3),
    )
    q = QuantizedModel([conv, gap, dense], (2, 80), 1.0, 0, 1.0, 0, np.arange(3))
    Xq = np.concatenate([rng.integers(-40, 40, (4, 2, 80)).astype(np.int8), adversarial_windows((2, 80))])
    assert len(np.unique(q.forward_int8(Xq, return_all=True)[1][0])) > 20  # not all saturated
    return q, Xq


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

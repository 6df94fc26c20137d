"""SpeechNet training speed: a straightforward PyTorch loop vs ``SpeechNetClassifier.fit``.

The baseline is how the reference trains: the Conv2d SpeechNet in eager mode, a ``DataLoader``
over a ``TensorDataset`` (batch 32, shuffled), Adam with weight decay, cross-entropy, and a
validation pass through a ``DataLoader`` of batch 32 after every epoch. Ours is
:meth:`myovox.models.neural.SpeechNetClassifier.fit` with the same recipe (batch 32, same split
sizes, early stopping off so both run the same number of epochs). Both run in the same process,
interleaved, best of ``repeat``; the unit is training windows per second (validation time
included in both).

Run as a script (``python benchmarks/bench_training.py [--quick]``) or call ``run(quick)``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

N_CHANNELS, N_TIMES, N_CLASSES = 14, 700, 9


def _baseline(X: np.ndarray, y: np.ndarray, n_epochs: int, seed: int = 0) -> float:
    """Seconds for ``n_epochs`` of the straightforward loop (80/20 split as in fit)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from myovox.models.speechnet import SpeechNet

    torch.manual_seed(seed)
    n_train = int(len(X) * 0.8)
    xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    train = DataLoader(TensorDataset(xt[:n_train], yt[:n_train]), batch_size=32, shuffle=True)
    valid = DataLoader(TensorDataset(xt[n_train:], yt[n_train:]), batch_size=32)
    t0 = time.perf_counter()
    net = SpeechNet(N_CHANNELS, N_TIMES, N_CLASSES)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.1, patience=2)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(n_epochs):
        net.train()
        for xb, yb in train:
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
        net.eval()
        total = 0.0
        with torch.no_grad():
            for xb, yb in valid:
                total += float(loss_fn(net(xb), yb)) * len(yb)
        sched.step(total / (len(X) - n_train))
    return time.perf_counter() - t0


def _ours(X: np.ndarray, y: np.ndarray, n_epochs: int, **kw) -> float:
    from myovox.models.neural import SpeechNetClassifier

    clf = SpeechNetClassifier(n_epochs=n_epochs, patience=None, valid_size=0.2, random_state=0, **kw)
    t0 = time.perf_counter()
    clf.fit(X, y)
    return time.perf_counter() - t0


def run(quick: bool = False, repeat: int | None = None) -> list[dict]:
    """Measure training throughput on random 14 x 700 windows; return one table row (plus a detail row)."""
    import torch

    rng = np.random.default_rng(0)
    n = 160 if quick else 640
    n_epochs = 1 if quick else 2
    repeat = repeat or (2 if quick else 3)
    X = rng.standard_normal((n, N_CHANNELS, N_TIMES), dtype=np.float32)
    y = np.arange(n) % N_CLASSES
    n_train = int(n * 0.8)
    _ours(X[:64], y[:64], 1)  # warm-up: imports, allocator
    base, ours, plain = np.inf, np.inf, np.inf
    for _ in range(repeat):  # interleaved so that load from other processes hits both alike
        base = min(base, _baseline(X, y.astype(np.int64), n_epochs))
        ours = min(ours, _ours(X, y, n_epochs))
        plain = min(plain, _ours(X, y, n_epochs, fast=False))
    rate = lambda s: n_train * n_epochs / s  # noqa: E731
    info = dict(n_windows=n, n_epochs=n_epochs, threads=torch.get_num_threads())
    return [
        dict(name="speechnet_train_windows_per_s", unit="windows/s", baseline=rate(base), ours=rate(ours),
             ratio=base / ours, **info),
        dict(name="speechnet_train_windows_per_s_fast_off", unit="windows/s", baseline=rate(base), ours=rate(plain),
             ratio=base / plain, **info),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for row in run(quick=args.quick):
        print(f"{row['name']:42s} baseline {row['baseline']:8.1f}  ours {row['ours']:8.1f} {row['unit']}"
              f"  x{row['ratio']:.2f}")


if __name__ == "__main__":
    main()

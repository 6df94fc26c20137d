"""SpeechNet training speed: a straightforward PyTorch loop vs ``SpeechNetClassifier.fit``.

The baseline is how the reference trains: the Conv2d SpeechNet in eager mode, a ``DataLoader``
over a ``TensorDataset`` (batch 32, shuffled), Adam with weight decay, cross-entropy, and a
validation pass through a ``DataLoader`` of batch 32 after every epoch, with torch's default
thread count. Ours is :meth:`myovox.models.neural.SpeechNetClassifier.fit` with its defaults
(fast path, ``n_threads="auto"``: the cores other processes leave idle) and the same recipe (batch 32, 80/20 split, early stopping off so both
run the same epochs). Everything runs in one process, interleaved, ``repeat`` times; rows hold
the medians. The unit is training windows per second (validation time included in both).

Rows: ``speechnet_train_windows_per_s`` (the headline, baseline as a user would run it),
``..._vs_1thread_baseline`` (both pinned to one thread: what the fast path alone buys)
and ``..._fast_off`` (our trainer with ``fast=False``).
"""
from __future__ import annotations

import time

import numpy as np

from . import median_of, tiny

N_CHANNELS, N_TIMES, N_CLASSES = 14, 700, 9


def _baseline(X: np.ndarray, y: np.ndarray, n_epochs: int, threads: int | None = None, seed: int = 0) -> float:
    """Seconds for ``n_epochs`` of the straightforward loop (80/20 split as in fit)."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from ..models.speechnet import SpeechNet

    old = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        n_train = int(len(X) * 0.8)
        xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        train = DataLoader(TensorDataset(xt[:n_train], yt[:n_train]), batch_size=32, shuffle=True)
        valid = DataLoader(TensorDataset(xt[n_train:], yt[n_train:]), batch_size=32)
        t0 = time.perf_counter()
        net = SpeechNet(X.shape[1], X.shape[2], N_CLASSES)
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
    finally:
        torch.set_num_threads(old)


def _ours(X: np.ndarray, y: np.ndarray, n_epochs: int, **kw) -> float:
    from ..models.neural import SpeechNetClassifier

    clf = SpeechNetClassifier(n_epochs=n_epochs, patience=None, valid_size=0.2, random_state=0, **kw)
    t0 = time.perf_counter()
    clf.fit(X, y)
    return time.perf_counter() - t0


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


def _pin_allocator(threshold: int) -> bool:
    """Fix glibc's mmap threshold (bytes) and its trim threshold (twice that); False where that is
    not possible (not glibc).

    By default glibc raises the threshold to the size of the largest mapped block freed so far,
    so whether a 10 MB activation is a fresh mapping (page-faulted on first write) or reused heap
    memory depends on what the process did before: on the 2-core machine measured, the baseline's
    throughput moved between ~800 and ~1,300 windows/s from one run to the next that way. A fixed
    threshold makes both sides see the same allocator in every repeat.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, int(threshold))
                    and libc.mallopt(_M_TRIM_THRESHOLD, 2 * int(threshold)))
    except (OSError, AttributeError):
        return False


def run(quick: bool = False, repeat: int | None = None) -> list[dict]:
    """Measure training throughput on random 14 x 700 windows; return table rows (medians).

    glibc's mmap threshold is pinned at 256 MiB (trim threshold 512 MiB) while this runs (see
    :func:`_pin_allocator`) and left at 32 MiB (64 MiB), the largest values glibc's own
    adjustment reaches, afterwards.
    """
    pinned = _pin_allocator(256 * 1024 * 1024)
    try:
        return _run(quick, repeat, pinned)
    finally:
        if pinned:
            _pin_allocator(32 * 1024 * 1024)


def _run(quick: bool, repeat: int | None, pinned: bool) -> list[dict]:
    import torch

    rng = np.random.default_rng(0)
    n_times = N_TIMES
    if tiny():
        n, n_epochs, repeat, n_times = 64, 1, 1, 128
    else:
        n = 320 if quick else 640
        n_epochs = 1 if quick else 2
        repeat = repeat or (3 if quick else 5)
    X = rng.standard_normal((n, N_CHANNELS, n_times), dtype=np.float32)
    y = np.arange(n) % N_CLASSES
    yl = y.astype(np.int64)
    n_train = int(n * 0.8)
    _ours(X[:64], y[:64], 1)  # warm-up: imports, allocator
    _baseline(X[:64], yl[:64], 1)
    base, base1, ours, ours1, plain = [], [], [], [], []
    for _ in range(repeat):  # interleaved so that load from other processes hits all alike
        base.append(_baseline(X, yl, n_epochs))
        ours.append(_ours(X, y, n_epochs))
        base1.append(_baseline(X, yl, n_epochs, threads=1))
        ours1.append(_ours(X, y, n_epochs, n_threads=1))
        plain.append(_ours(X, y, n_epochs, fast=False))
    b, b1, o, o1, p = (median_of(v) for v in (base, base1, ours, ours1, plain))
    rate = lambda s: n_train * n_epochs / s  # noqa: E731
    info = dict(n_windows=n, n_epochs=n_epochs, n_times=n_times, repeat=repeat,
                default_threads=torch.get_num_threads(), allocator_pinned=pinned)
    return [
        dict(name="speechnet_train_windows_per_s", unit="windows/s", baseline=rate(b), ours=rate(o),
             ratio=b / o, note="baseline: DataLoader + Conv2d SpeechNet, torch default threads", **info),
        dict(name="speechnet_train_windows_per_s_vs_1thread_baseline", unit="windows/s", baseline=rate(b1),
             ours=rate(o1), ratio=b1 / o1, note="both pinned to 1 thread: what the fast path alone buys", **info),
        dict(name="speechnet_train_windows_per_s_fast_off", unit="windows/s", baseline=rate(b), ours=rate(p),
             ratio=b / p, note="ours with fast=False (auto threads)", **info),
    ]

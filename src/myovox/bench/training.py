"""SpeechNet training speed: a straightforward PyTorch loop vs ``SpeechNetClassifier.fit``.

The baseline is how the reference trains: the Conv2d SpeechNet in eager mode, a ``DataLoader``
over a ``TensorDataset`` (batch 32, shuffled), Adam with weight decay, cross-entropy, and a
validation pass through a ``DataLoader`` of batch 32 after every epoch, with torch's default
thread count. Ours is :meth:`myovox.models.neural.SpeechNetClassifier.fit` with its defaults
(fast path, ``n_threads="auto"``: the cores other processes leave idle) and the same recipe
(batch 32, 80/20 split, early stopping off so both run the same epochs). Everything runs in one
process; each comparison alternates baseline and ours ``repeat`` times; rows hold the medians
of the throughputs, and the ratio is the median of the ratios of adjacent (paired) runs, which
a drift in the machine's speed during the run affects least. The unit is training windows per
second (validation time included in both).

Rows: ``speechnet_train_windows_per_s`` (the headline, baseline as a user would run it),
``..._vs_1thread_baseline`` (both pinned to one thread: what the fast path alone buys),
``..._fast_off`` (our trainer with ``fast=False``) and ``..._2_folds_at_once`` (two trainings
at once in two worker processes of one thread each, as a protocol run with ``n_jobs=2`` trains
its folds, against the baseline's trainings one after the other).

Shape grid (issue 15): ``speechnet_train_windows_per_s_<C>x<T>`` for every cell of
:data:`GRID_CHANNELS` x :data:`GRID_TIMES` (batch 32), both sides pinned to 2 threads (one on a
1-core machine), baseline and ours alternating at each cell; ``--quick`` measures only
:data:`QUICK_CELLS`. :func:`grid` measures any cells at any thread count;
``benchmarks/train_grid.py`` prints the whole grid at 1 and 2 threads, native and AVX2 builds.
"""

from __future__ import annotations

import time

import numpy as np

from . import median_of, tiny

N_CHANNELS, N_TIMES, N_CLASSES = 14, 700, 9

#: channel counts and window lengths (samples) of the training grid
GRID_CHANNELS = (2, 4, 8, 14, 16)
GRID_TIMES = (200, 280, 400, 700, 1000)
#: the cells ``--quick`` measures (a small shape, the reference shape, the largest)
QUICK_CELLS = ((8, 280), (14, 700), (16, 1000))


def grid_cells(quick: bool = False) -> list[tuple[int, int]]:
    """``(n_channels, n_times)`` of the grid rows: every cell, or :data:`QUICK_CELLS`."""
    if quick:
        return list(QUICK_CELLS)
    return [(c, t) for c in GRID_CHANNELS for t in GRID_TIMES]


def grid(
    cells: list[tuple[int, int]],
    threads: int,
    *,
    n: int = 480,
    n_epochs: int = 2,
    repeat: int = 5,
    seed: int = 0,
) -> list[dict]:
    """Training throughput per cell, baseline and ours pinned to ``threads``, alternating ``repeat`` times.

    Each cell: random windows ``(n, C, T)``, 9 classes, batch 32, the 80/20 split of ``fit``; one
    short warm-up of each side at the cell's shape (oneDNN builds its kernels per shape), then
    baseline and ours in turn. Rows as :func:`run`'s: medians of the throughputs, the ratio the
    median of paired ratios; ``name`` is ``speechnet_train_windows_per_s_<C>x<T>``.
    """
    rows = []
    rng = np.random.default_rng(seed)
    n_train = int(n * 0.8)
    for c, t in cells:
        X = rng.standard_normal((n, c, t), dtype=np.float32)
        y = np.arange(n) % N_CLASSES
        yl = y.astype(np.int64)
        _ours(X[:64], y[:64], 1, n_threads=threads)
        _baseline(X[:64], yl[:64], 1, threads=threads)
        base, ours = [], []
        for _ in range(repeat):
            base.append(_baseline(X, yl, n_epochs, threads=threads))
            ours.append(_ours(X, y, n_epochs, n_threads=threads))
        rate = lambda s: n_train * n_epochs / s  # noqa: E731
        rows.append(
            dict(
                name=f"speechnet_train_windows_per_s_{c}x{t}",
                unit="windows/s",
                baseline=rate(median_of(base)),
                ours=rate(median_of(ours)),
                ratio=median_of([u / v for u, v in zip(base, ours, strict=True)]),
                note=f"batch 32, both pinned to {threads} thread(s); baseline: DataLoader + Conv2d SpeechNet",
                shape=f"{c}x{t}",
                n_channels=c,
                n_times=t,
                threads=threads,
                n_windows=n,
                n_epochs=n_epochs,
                repeat=repeat,
            )
        )
    return rows


def _grid_threads() -> int:
    from ..models.neural import _n_cores  # the CPUs this process may run on: one definition

    return max(1, min(2, _n_cores()))


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


def _ours_in_worker(X: np.ndarray, y: np.ndarray, n_epochs: int) -> float:
    """One training on one thread in a worker process, with the allocator pinned as in the parent."""
    _pin_allocator(256 * 1024 * 1024)
    return _ours(X, y, n_epochs, n_threads=1)


def _folds_at_once(X: np.ndarray, y: np.ndarray, n_epochs: int, n_folds: int) -> float:
    """Wall seconds of ``n_folds`` trainings run at once in worker processes, one thread each.

    This is what the protocols do with ``n_jobs=n_folds`` (joblib's process pool, data sent to
    each worker); the pool is warm (started by an earlier call), as in a protocol's later folds.
    """
    from joblib import Parallel, delayed

    t0 = time.perf_counter()
    Parallel(n_jobs=n_folds)(delayed(_ours_in_worker)(X, y, n_epochs) for _ in range(n_folds))
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
        return bool(
            libc.mallopt(_M_MMAP_THRESHOLD, int(threshold)) and libc.mallopt(_M_TRIM_THRESHOLD, 2 * int(threshold))
        )
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
        n = 320 if quick else 960
        n_epochs = 1 if quick else 3
        repeat = repeat or (3 if quick else 7)
    X = rng.standard_normal((n, N_CHANNELS, n_times), dtype=np.float32)
    y = np.arange(n) % N_CLASSES
    yl = y.astype(np.int64)
    n_train = int(n * 0.8)
    _ours(X[:64], y[:64], 1)  # warm-up: imports, allocator
    _baseline(X[:64], yl[:64], 1)
    base, base1, ours, ours1, plain = [], [], [], [], []
    # each comparison interleaved (so that load from other processes hits both sides alike), one
    # after the other (switching thread counts between runs disturbs the thread pool)
    for _ in range(repeat):
        base.append(_baseline(X, yl, n_epochs))
        ours.append(_ours(X, y, n_epochs))
    for _ in range(repeat):
        plain.append(_ours(X, y, n_epochs, fast=False))
    for _ in range(repeat):
        base1.append(_baseline(X, yl, n_epochs, threads=1))
        ours1.append(_ours(X, y, n_epochs, n_threads=1))
    n_folds = 2
    _folds_at_once(X[:64], y[:64], 1, n_folds)  # warm-up: start the workers
    together = [_folds_at_once(X, y, n_epochs, n_folds) for _ in range(repeat)]
    if tiny():
        grid_rows = grid(grid_cells(quick), _grid_threads(), n=40, n_epochs=1, repeat=1)
    else:
        grid_rows = grid(
            grid_cells(quick), _grid_threads(), n=240 if quick else 480, n_epochs=1 if quick else 2, repeat=repeat
        )
    b, b1, o, o1, p = (median_of(v) for v in (base, base1, ours, ours1, plain))
    t2 = median_of(together)
    rate = lambda s: n_train * n_epochs / s  # noqa: E731
    info = dict(
        n_windows=n,
        n_epochs=n_epochs,
        n_times=n_times,
        repeat=repeat,
        default_threads=torch.get_num_threads(),
        allocator_pinned=pinned,
    )
    return [
        dict(
            name="speechnet_train_windows_per_s",
            unit="windows/s",
            baseline=rate(b),
            ours=rate(o),
            ratio=median_of([u / v for u, v in zip(base, ours, strict=False)]),
            note="baseline: DataLoader + Conv2d SpeechNet, torch default threads",
            **info,
        ),
        dict(
            name="speechnet_train_windows_per_s_vs_1thread_baseline",
            unit="windows/s",
            baseline=rate(b1),
            ours=rate(o1),
            ratio=median_of([u / v for u, v in zip(base1, ours1, strict=False)]),
            note="both pinned to 1 thread: what the fast path alone buys",
            **info,
        ),
        dict(
            name="speechnet_train_windows_per_s_fast_off",
            unit="windows/s",
            baseline=rate(b),
            ours=rate(p),
            ratio=b / p,
            note="ours with fast=False (auto threads)",
            **info,
        ),
        dict(
            name="speechnet_train_windows_per_s_2_folds_at_once",
            unit="windows/s",
            baseline=rate(b),
            ours=n_folds * rate(t2),
            ratio=n_folds * b / t2,
            note="ours: 2 trainings at once in 2 worker processes, 1 thread each (protocols with n_jobs=2); "
            "baseline: the trainings one after the other",
            **info,
        ),
        *grid_rows,
    ]

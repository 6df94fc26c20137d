"""Protocol wall time: global + inter-session + one fine-tuning curve on a synthetic dataset.

Data: :func:`myovox.testing.synth.generate_dataset`, one subject, vocalized, 3 sessions of
``n_batches`` batches, 1.4 s windows. The three protocols (``global``, ``inter_session`` and
``fine_tune`` on session 3) run with SpeechNet and the reference recipe (Adam, batch 32, LR
schedule, early stopping with patience 10); the epoch caps are given in the row names, as the
benchmark must finish in minutes on a 2-core machine.

Baseline: the same protocols, same seeds, with the straightforward trainer (``fast=False``,
torch's default thread count). Ours: :class:`~myovox.models.neural.SpeechNetClassifier` defaults
(fast path with the C kernels, ``n_threads="auto"``), folds one after the other (``n_jobs=1``:
with 5 + 3 + 1 folds on 2 cores, two worker processes did not shorten the run, measured). Both
run in this process, baseline first; peak resident memory of ours is sampled while it runs
(``baseline`` column: that of the baseline run).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time

from . import rss_mb, tiny


class _PeakRSS:
    """Sample this process's resident memory every ``interval`` seconds; ``peak`` in MiB."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval, self.peak = interval, rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> _PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def _protocols(ds, model_params: dict, ft_epochs: int, seed: int = 0) -> dict[str, float]:
    """Wall seconds of each protocol (and their scores, to check both runs agree in kind)."""
    from ..evaluation.protocols import run_protocol

    out: dict[str, float] = {}
    for name, kw in (
        ("global", {}),
        ("inter_session", {}),
        ("fine_tune", {"test_sessions": [3], "ft_epochs": ft_epochs, "scratch": False}),
    ):
        t0 = time.perf_counter()
        res = run_protocol(
            name, ds, model="speechnet", window_s=1.4, model_params=model_params, random_state=seed, **kw
        )
        out[name] = time.perf_counter() - t0
        out[f"{name}_score"] = float(res.mean)
    return out


def run(
    quick: bool = False,
    n_batches: int | None = None,
    n_repetitions: int | None = None,
    n_epochs: int | None = None,
    ft_epochs: int | None = None,
) -> list[dict]:
    """Time the three protocols for the baseline and myovox; return table rows."""
    from ..datasets import load_dataset
    from ..testing.synth import generate_dataset

    if tiny():
        defaults = (2, 4, 1, 1)
    elif quick:
        defaults = (2, 5, 3, 2)
    else:
        defaults = (5, 20, 8, 5)
    nb, reps, ne, fe = (
        v if v is not None else d
        for v, d in zip((n_batches, n_repetitions, n_epochs, ft_epochs), defaults, strict=False)
    )
    with tempfile.TemporaryDirectory() as tmp:
        data = generate_dataset(
            os.path.join(tmp, "data"),
            n_subjects=1,
            n_sessions=3,
            n_batches=nb,
            conditions=("vocalized",),
            n_repetitions=reps,
            seed=0,
            raw=False,
            difficulty="easy",  # a speed benchmark: the same data as its earlier rows
        )
        ds = load_dataset(data, source="processed")
        with _PeakRSS() as mem_base:
            base = _protocols(ds, {"n_epochs": ne, "fast": False, "n_threads": None}, fe)
        with _PeakRSS() as mem_ours:
            ours = _protocols(ds, {"n_epochs": ne}, fe)
    tag = f"3x{nb}_batches_{reps}reps_{ne}ep_ft{fe}ep"
    total_b = sum(base[k] for k in ("global", "inter_session", "fine_tune"))
    total_o = sum(ours[k] for k in ("global", "inter_session", "fine_tune"))
    rows = [
        dict(
            name=f"protocol_{k}_wall_s_{tag}",
            unit="s",
            baseline=base[k],
            ours=ours[k],
            ratio=base[k] / ours[k],
            baseline_score=base[f"{k}_score"],
            ours_score=ours[f"{k}_score"],
        )
        for k in ("global", "inter_session", "fine_tune")
    ]
    rows.append(
        dict(name=f"protocol_total_wall_s_{tag}", unit="s", baseline=total_b, ours=total_o, ratio=total_b / total_o)
    )
    rows.append(
        dict(
            name=f"protocol_peak_rss_mb_{tag}",
            unit="MiB",
            baseline=mem_base.peak,
            ours=mem_ours.peak,
            ratio=mem_base.peak / mem_ours.peak if mem_ours.peak else float("nan"),
        )
    )
    return rows

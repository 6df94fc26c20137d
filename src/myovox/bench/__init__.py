"""Benchmarks behind ``myovox bench``: each module has ``run(quick: bool) -> list[dict]``.

Every row has ``name``, ``unit``, ``baseline``, ``ours`` and ``ratio`` (> 1 means myovox is
better), with the baseline measured in the same run on the same machine.
"""

from __future__ import annotations

import os

#: benchmark modules in the order ``myovox bench`` runs them
MODULES = ("features", "training", "inference", "streaming", "protocol")


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux /proc; 0.0 where unavailable)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def tiny() -> bool:
    """True when ``MYOVOX_BENCH_TINY`` is set (non-empty, not ``0``): toy sizes for smoke tests only."""
    return os.environ.get("MYOVOX_BENCH_TINY", "") not in ("", "0")


def median_of(values: list[float]) -> float:
    """Median of repeated measurements (robust to the load of a shared machine)."""
    import statistics

    return float(statistics.median(values))

"""Sweeps: a grid of evaluation runs (datasets x subjects x conditions x protocols x windows x models x
adaptation x seeds) run as independent units on local processes or a Ray cluster, into a results store
that resumes where it stopped and never recomputes a finished unit.

Importing this package is light (numpy only); pandas, Ray and matplotlib load when used.

>>> from myovox.sweep import load_config, run_sweep, ResultsStore, write_sweep_report  # doctest: +SKIP
>>> summary = run_sweep(load_config("sweep.yaml"), "results/", backend="ray")  # doctest: +SKIP
>>> ResultsStore("results/").index()  # a pandas DataFrame, one row per unit  # doctest: +SKIP
>>> write_sweep_report("results/")  # doctest: +SKIP
"""

from .backends import BACKENDS, LocalBackend, RayBackend
from .config import DatasetEntry, Grid, ModelEntry, ProtocolEntry, SweepConfig, load_config, plan_units
from .fingerprint import HASH_MODES, config_hash, dataset_fingerprint
from .report import write_sweep_report
from .runner import SweepProgress, SweepSummary, default_store, run_sweep
from .store import INDEX_COLUMNS, STORE_MARKER, ResultsStore, compare_stores, outcome
from .unit import DatasetRef, Unit, execute_unit

__all__ = [
    "BACKENDS",
    "HASH_MODES",
    "INDEX_COLUMNS",
    "STORE_MARKER",
    "DatasetEntry",
    "DatasetRef",
    "Grid",
    "LocalBackend",
    "ModelEntry",
    "ProtocolEntry",
    "RayBackend",
    "ResultsStore",
    "SweepConfig",
    "SweepProgress",
    "SweepSummary",
    "Unit",
    "compare_stores",
    "config_hash",
    "dataset_fingerprint",
    "default_store",
    "execute_unit",
    "load_config",
    "outcome",
    "plan_units",
    "run_sweep",
    "write_sweep_report",
]

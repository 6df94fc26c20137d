"""Run a sweep: a grid of evaluation runs from a YAML file, one unit per training, into a results store.

The grid (datasets x subjects x conditions x protocols x window lengths x models and their parameters
x label-free adaptation x augmentation x seeds) is expanded into units, each one protocol run on one
subject (and condition). Units run on local worker processes (default) or on Ray (--backend ray: a
private local Ray instance, or a cluster with --address auto / HOST:PORT). Every finished unit is
recorded at once under a hash of its configuration and of its input data: an interrupted sweep
resumes where it stopped, a finished unit is never run again, a changed configuration or changed data
is. A failed unit is retried (--retries), then recorded as failed with its error. The configuration's
keys are documented in `docs/guide/sweeps.md`; `myovox sweep-report STORE` renders the results.
"""

from __future__ import annotations

import argparse

from ._types import nonneg_int, positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="the sweep configuration (YAML)")
    p.add_argument("--backend", choices=("local", "ray"), default="local", help="where units run")
    p.add_argument(
        "--address",
        default=None,
        help="--backend ray: the cluster to join ('auto', HOST:PORT or ray://HOST:PORT); default: start a "
        "private local Ray instance with --workers CPUs",
    )
    p.add_argument(
        "--store",
        default=None,
        help="results store folder (default: the configuration's 'store', else myovox-sweeps/<config name>)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="units running at once (default: this machine's CPUs; Ray: the cluster's CPUs)",
    )
    p.add_argument(
        "--retries",
        type=nonneg_int,
        default=None,
        help="attempts after the first before a unit is recorded as failed (default: the configuration's, 2)",
    )
    p.add_argument(
        "--retry-failed", action="store_true", help="also run again the units an earlier run recorded as failed"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="list how many units the grid has and how many are left; run nothing"
    )


def run(args: argparse.Namespace) -> int:
    from ..sweep import ResultsStore, default_store, load_config, plan_units, run_sweep

    config = load_config(args.config)
    if args.backend == "local" and args.address is not None:
        from ..exceptions import ValidationError

        raise ValidationError("--address applies to --backend ray only.")
    store = ResultsStore(args.store if args.store is not None else default_store(config))
    if args.dry_run:
        units = plan_units(config, store)
        done, failed = store.done_keys(), store.failed_keys()
        n_done = sum(u.key in done for u in units)
        n_failed = sum(u.key in failed and u.key not in done for u in units)
        print(
            f"{config.name}: {len(units)} units; {n_done} in {store.path}, {n_failed} failed before, "
            f"{len(units) - n_done - n_failed} left"
        )
        for u in units:
            state = "done" if u.key in done else "failed" if u.key in failed else "left"
            print(f"  {u.key[:12]}  {state:6s}  {u.label()}")
        return 0
    summary = run_sweep(
        config,
        store,
        backend=args.backend,
        address=args.address,
        n_workers=args.workers,
        retries=args.retries,
        retry_failed=args.retry_failed,
    )
    print(summary)
    if summary.failed:
        print(
            f"{summary.failed} unit(s) failed; their errors are in {store.path / 'failed'} "
            "and in `myovox sweep-report`."
        )
        return 1
    return 0

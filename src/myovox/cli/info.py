"""Describe a recording file or a dataset folder: channels, rate, duration, classes, subjects, lost packets."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "path", help="a recording file (.bio, .h5, .csv, .edf, .xdf, .npz), a dataset folder or a dataset card (.yaml)"
    )
    from ..datasets import ADAPTERS

    p.add_argument("--kind", default=None, help=f"dataset adapter ({', '.join(ADAPTERS)}); auto-detected by default")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def describe(path: str, kind: str | None = None) -> dict[str, Any]:
    """The facts ``myovox info`` prints, as a dict (JSON-ready)."""
    from ..datasets import load_dataset

    ds = load_dataset(path, kind=kind)
    out = ds.summary()
    names = {tuple(r.ch_names) for r in ds}
    out["channels"] = list(next(iter(names))) if len(names) == 1 else "differ between recordings"
    durations = [r.duration for r in ds]
    if durations:
        out["duration_s"] = {"min": round(min(durations), 3), "max": round(max(durations), 3)}
    n_lost = n_gaps = 0
    n_nonfinite = 0
    for r in ds:
        lost = r.meta.get("lost_packets") or []
        n_gaps += len(lost)
        n_lost += sum(int(g.get("n_lost", 1)) if isinstance(g, dict) else 1 for g in lost)
        n_nonfinite += r.n_nonfinite()
    out["lost_packets"] = {"packets": n_lost, "gaps": n_gaps}
    unchecked = sum(int(r.meta.get("n_packets_unchecked") or 0) for r in ds)
    if unchecked:
        out["lost_packets"]["unchecked_packets"] = unchecked  # no (or a truncated) counter
    out["nonfinite_samples"] = n_nonfinite
    units = sorted({str(r.meta["units"]) for r in ds if r.meta.get("units")})
    if units:
        out["units"] = units
    if len(ds) == 1:
        rec = ds[0]
        out["source"] = rec.source
        out["n_times"] = rec.n_times
        out["filtered"] = rec.meta.get("filtered", False)
    for key in ("window_s", "window_mode"):
        out[key] = getattr(ds, key)
    return out


def _text(info: dict[str, Any]) -> str:
    lines = []
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "none"
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        lines.append(f"{key + ':':<20}{value}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    info = describe(args.path, args.kind)
    # flushed here, so that a closed pipe (`| head`) raises inside main(), which treats it as no error
    print(json.dumps(info, indent=2, default=str) if args.json else _text(info), flush=True)
    return 0

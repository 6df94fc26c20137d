"""Convert a recording between formats (.bio, .h5, .csv, .csv.gz, .edf, .bdf, .npz; .xdf read only)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="recording file to read")
    p.add_argument("output", help="file to write; the format follows its ending unless --format is given")
    p.add_argument("--format", default=None, help="output format (bio, h5, csv, csv.gz, edf, bdf, npz)")
    p.add_argument("--input-format", default=None, help="input format when its ending does not tell")
    p.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")


def run(args: argparse.Namespace) -> int:
    from .._logging import logger
    from ..exceptions import ValidationError
    from ..io import _format_of, read_recording, write_recording

    src, dst = Path(args.input), Path(args.output)
    if not src.exists():
        raise ValidationError(f"{src} does not exist.")
    _format_of(dst, args.format)  # an unknown output format fails before reading the input
    if dst.exists() and not args.force:
        raise ValidationError(f"{dst} exists; pass --force to replace it.")
    if dst.resolve() == src.resolve():
        raise ValidationError(f"Input and output are the same file ({src}).")
    rec = read_recording(src, format=args.input_format)
    out = write_recording(rec, dst, format=args.format, overwrite=args.force)
    logger.info("read %r", rec)
    print(f"wrote {out} ({rec.n_channels} channels x {rec.n_times} samples at {rec.sfreq:g} Hz"
          f"{', labelled' if rec.labels is not None else ''})")
    return 0

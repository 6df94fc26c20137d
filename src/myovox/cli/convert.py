"""Convert a recording between formats (.bio, .h5, .csv, .csv.gz, .edf, .bdf, .npz; .xdf read only).

Conversion is lossless by default: every channel, every sample, the labels and the packet-loss
information (lost-packet records, per-packet counter, timestamps and triggers) are written where
the target format can hold them (.npz, .h5 and .csv with its .json sidecar hold everything; EDF/BDF
hold channels, samples at 16/24-bit resolution, labels and lost-packet gaps as annotations). When
the target cannot hold something the conversion is refused with a message naming it, unless
--allow-lossy is given. Channel selection (--channels) and SilentWear's trim (--trim) happen only
when asked for. The written file is read back and compared before the summary is printed.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="recording file to read")
    p.add_argument("output", help="file to write; the format follows its ending unless --format is given")
    p.add_argument(
        "--format",
        default=None,
        help="output format (bio, h5, csv, csv.gz, edf, bdf, npz); default: from the ending of OUTPUT",
    )
    p.add_argument(
        "--input-format",
        default=None,
        help="input format when its ending does not tell (default: from the ending of INPUT)",
    )
    p.add_argument(
        "--channels",
        default=None,
        metavar="LIST",
        help="write only these channels, in this order: comma-separated names or 0-based indices, "
        "or 'silentwear' for SilentWear's 14 kept channels (Ch_11 and Ch_12 dropped) "
        "(default: all channels)",
    )
    p.add_argument(
        "--trim",
        action="store_true",
        help="keep only [first cue - 1 s, last cue + 1 s), as SilentWear's processed files do "
        "(default: keep every sample)",
    )
    p.add_argument(
        "--allow-lossy",
        action="store_true",
        help="write even when the output format cannot hold everything (what is dropped is "
        "named in a warning) (default: refuse)",
    )
    p.add_argument("--force", action="store_true", help="replace OUTPUT if it exists (default: refuse)")


def _fmt_key(dst: Path, fmt: str | None) -> str:
    from ..io import FORMATS

    if fmt is not None:
        return fmt.lower().lstrip(".")
    name = dst.name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix.lstrip(".")
    return ""


def _channels(rec, spec: str) -> list[str]:
    from ..exceptions import ValidationError
    from ..io.silentwear_h5 import KEPT_CHANNELS

    if spec.strip().lower() == "silentwear":
        return list(KEPT_CHANNELS)
    out: list[str] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            raise ValidationError(f"Invalid value for '--channels': empty name in {spec!r}.")
        if part not in rec.ch_names and part.lstrip("-").isdigit():
            i = int(part)
            if not 0 <= i < rec.n_channels:
                raise ValidationError(
                    f"Invalid value for '--channels': index {i} does not exist ({rec.n_channels} channels)."
                )
            part = rec.ch_names[i]
        out.append(part)
    return out


def _lost(rec) -> list[tuple[int, int]]:
    out = []
    for g in rec.meta.get("lost_packets") or []:
        if isinstance(g, dict):
            out.append((int(g.get("emg_sample_index_after_gap", -1)), int(g.get("n_lost", 0))))
    return out


def _compare(rec, back, fmt: str, lossy: bool) -> list[str]:
    """Differences between what was meant to be written and what reads back."""
    import numpy as np

    diffs = []
    if back.data.shape != rec.data.shape:
        return [f"shape {back.n_channels} x {back.n_times} instead of {rec.n_channels} x {rec.n_times}"]
    if not lossy and tuple(back.ch_names) != tuple(rec.ch_names):
        diffs.append("channel names")
    if not np.isclose(back.sfreq, rec.sfreq, rtol=1e-6):
        diffs.append(f"sampling rate {back.sfreq:g} Hz instead of {rec.sfreq:g} Hz")
    a, b = np.asarray(rec.data, np.float64), np.asarray(back.data, np.float64)
    if fmt in ("edf", "bdf"):
        from ..io.edf import quantisation_step

        tol = 0.5 * quantisation_step(rec, bdf=fmt == "bdf")[:, None] * (1 + 1e-6) + 1e-9 * np.abs(a)
        fin = np.isfinite(a)
        if np.any(np.abs(np.where(fin, a - b, 0.0)) > tol):
            diffs.append("sample values beyond half a quantisation step")
    elif not np.array_equal(a, b, equal_nan=True):
        diffs.append("sample values")
    if (rec.labels is None) != (back.labels is None) or (
        rec.labels is not None and not np.array_equal(rec.labels, back.labels)
    ):
        diffs.append("labels")
    if not lossy and _lost(rec) != _lost(back):
        diffs.append("lost-packet records")
    return diffs


def run(args: argparse.Namespace) -> int:
    from .._logging import logger
    from ..exceptions import DataFormatError, ValidationError
    from ..io import crop, dropped_by, format_of, read_recording, write_recording
    from ..io.silentwear_h5 import trim_bounds

    src, dst = Path(args.input), Path(args.output)
    if not src.exists():
        raise ValidationError(f"{src} does not exist.")
    format_of(dst, args.format)  # an unknown output format fails before reading the input
    fmt = _fmt_key(dst, args.format)
    if dst.exists() and not args.force:
        raise ValidationError(f"{dst} exists; pass --force to replace it.")
    if dst.resolve() == src.resolve():
        raise ValidationError(f"Input and output are the same file ({src}).")
    rec = read_recording(src, format=args.input_format)
    logger.info("read %r", rec)

    options: dict = {}
    if args.channels is not None:
        rec = rec.pick(_channels(rec, args.channels))
    expected = rec
    if args.trim:
        if rec.labels is None:
            raise ValidationError(f"--trim needs labels (cues), and {src} has none.")
        start, stop = trim_bounds(rec.labels, rec.sfreq)
        if fmt in ("h5", "hdf5"):
            options["trim"] = True  # SilentWear filters the whole recording, then trims
            expected = crop(rec, start, stop)
        elif (start, stop) != (0, rec.n_times):
            rec = crop(rec, start, stop)
            expected = rec

    dropped = dropped_by(expected, fmt, str(dst))
    if dropped:
        what = "; ".join(dropped)
        if not args.allow_lossy:
            raise ValidationError(
                f"{dst} ({fmt}) cannot hold {what}; pass --allow-lossy to write it without them, "
                "or write .npz, .h5 or .csv, which hold everything."
            )
        logger.warning("DataLossWarning: %s: dropped %s (--allow-lossy).", dst, what)

    out = write_recording(rec, dst, format=args.format, overwrite=args.force, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the input's warnings were shown once already
        back = read_recording(out, format=args.format)
    diffs = _compare(expected, back, fmt, lossy=bool(dropped))
    if diffs:
        out.unlink()  # never leave a file that does not hold what was read
        raise DataFormatError(
            f"{out} was written but read back with different {', '.join(diffs)}, so it was "
            "removed; please report this as a bug."
        )
    n_lost = sum(n for _, n in _lost(back))
    extra = (", labelled" if back.labels is not None else "") + (
        f", {n_lost} lost packet(s) recorded" if n_lost else ""
    )
    print(f"wrote {out} ({back.n_channels} channels x {back.n_times} samples at {back.sfreq:g} Hz{extra})")
    return 0

"""Write, show or check a dataset card (``myovox-dataset.yaml``) that makes any folder loadable.

  myovox card init DIR --layout 'S{subject}/day{session}/R_{rep}_C_{label}_EMG.csv' --sfreq 1000 \\
      --labels 0=rest 1=up 2=down
  myovox card init DIR --template longterm-armband --output longterm.yaml   # a card beside a read-only folder
  myovox card show DIR|CARD.yaml
  myovox card check DIR|CARD.yaml

`init` loads the folder with the new card before writing it (a pattern that matches nothing, or
a file that cannot be read, fails and nothing is written), then writes DIR/myovox-dataset.yaml
(or, with --output, the card file FILE with `root` pointing at DIR) and nothing else. Afterwards
`myovox info DIR`, `myovox train DIR ...` and `myovox evaluate DIR ...` (or CARD.yaml) read the
folder through the card. --template starts from a card shipped with myovox (the shared datasets'),
and the options given override its keys.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..exceptions import ValidationError
from ..windows import SHORT_TRIALS
from ._types import add_force_argument, positive_float


def _template_names() -> list[str]:
    from ..datasets.card import template_names

    return template_names()


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="card_command", metavar="ACTION")
    init = sub.add_parser(
        "init", help="write DIR/myovox-dataset.yaml (or --output FILE) after loading the folder with it"
    )
    init.add_argument("dir", help="the dataset folder")
    init.add_argument(
        "--template",
        choices=_template_names(),
        default=None,
        metavar="NAME",
        help=f"start from a card shipped with myovox ({', '.join(_template_names())}); DIR is then the "
        "dataset's root folder as distributed, and the options below override the template's keys",
    )
    init.add_argument(
        "--output",
        default=None,
        metavar="FILE",
        help="write the card to FILE (*.yaml, *.yml), with 'root' pointing at DIR, instead of "
        "DIR/myovox-dataset.yaml: for a folder you cannot or should not write into",
    )
    where = init.add_mutually_exclusive_group()
    where.add_argument(
        "--layout",
        metavar="PATTERN",
        help="file path pattern relative to DIR with {field} placeholders and * wildcards, "
        "e.g. 'S{subject}/day{session}/R_{rep}_C_{label}_EMG.csv' ({label}: the trial's label)",
    )
    where.add_argument("--index", metavar="CSV", help="a CSV in DIR with a 'file' column and metadata columns")
    init.add_argument(
        "--sfreq",
        type=positive_float,
        default=None,
        metavar="HZ",
        help="sampling rate in Hz (required without a template)",
    )
    init.add_argument(
        "--labels",
        nargs="+",
        metavar="V=NAME",
        help="label value -> name, e.g. 0=rest 1=up or '0=rest,1=up' (a bare NAME is its own value)",
    )
    init.add_argument(
        "--label-codes",
        choices=["value", "order"],
        default=None,
        help="classes of the labels: value (integer values kept, default) or order (numbered 0, 1, ... in the "
        "order of --labels, the rest label first)",
    )
    rest = init.add_mutually_exclusive_group()
    rest.add_argument("--rest-label", metavar="V", help="the label value that means rest")
    rest.add_argument(
        "--no-rest-label", action="store_true", help="no label means rest (e.g. a SILENCE class that is a command)"
    )
    init.add_argument("--label-column", metavar="COL", help="per-sample label column (name or 0-based index)")
    init.add_argument("--time-column", metavar="COL", help="time column to drop (name or 0-based index)")
    init.add_argument("--channels", nargs="+", metavar="NAME", help="channel names (or one comma list)")
    init.add_argument("--columns", nargs="+", metavar="COL", help="columns to read as channels (names or indices)")
    init.add_argument(
        "--format", choices=["csv", "npy"], default=None, help="file format (default csv: also .txt, .gz)"
    )
    init.add_argument(
        "--header", choices=["auto", "yes", "no"], default=None, help="text files start with names (default auto)"
    )
    init.add_argument("--delimiter", default=None, help="field separator (default: sniffed; 'whitespace' allowed)")
    init.add_argument(
        "--orientation",
        choices=["samples_by_channels", "channels_by_samples"],
        default=None,
        help="rows are samples (default) or channels",
    )
    init.add_argument(
        "--mains", type=int, choices=[50, 60], default=None, help="mains frequency (notch filter; default 50)"
    )
    init.add_argument("--highpass", type=positive_float, default=None, metavar="HZ", help="high-pass (default 20 Hz)")
    init.add_argument("--lowpass", type=positive_float, default=None, metavar="HZ", help="low-pass (default none)")
    init.add_argument("--units", default=None, help="units of the samples (e.g. uV)")
    init.add_argument("--window", type=positive_float, default=None, metavar="S", help="window length in seconds")
    init.add_argument("--window-mode", choices=["trial", "event"], default=None, help="default: inferred")
    init.add_argument("--name", default=None, help="dataset name (default: the folder's name)")
    init.add_argument(
        "--resample", type=positive_float, default=None, metavar="HZ", help="resample to this rate before filtering"
    )
    init.add_argument(
        "--short-trials",
        choices=SHORT_TRIALS,
        default=None,
        help="trials shorter than the window: drop (default) or pad with each channel's mean; counted either way",
    )
    init.add_argument(
        "--meta",
        nargs="+",
        metavar="KEY=VALUE",
        help="metadata of every recording, e.g. subject=S01 'session=day{day}' ({field}: a layout field)",
    )
    add_force_argument(init, "an existing dataset card")
    for name, help_ in (("show", "print the card and a summary"), ("check", "load the folder and print a summary")):
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("dir", help="the dataset folder (or its myovox-dataset.yaml, or a card file CARD.yaml)")


def _split_list(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def parse_labels(values: list[str] | None) -> dict[str, str] | None:
    """``["0=rest", "1=up"]`` or ``["0=rest,1=up"]`` -> ``{"0": "rest", "1": "up"}``; a bare ``up`` maps to itself."""
    items = _split_list(values)
    if items is None:
        return None
    out: dict[str, str] = {}
    for item in items:
        value, sep, name = item.partition("=")
        value, name = value.strip(), (name.strip() if sep else value.strip())
        if not value or not name:
            raise ValidationError(f"Invalid value for '--labels': expected VALUE=NAME, got {item!r}.")
        if value in out:
            raise ValidationError(f"Invalid value for '--labels': label value {value!r} is given twice.")
        out[value] = name
    return out


def _column(value: str | None) -> str | int | None:
    if value is None:
        return None
    return int(value) if value.strip().isdigit() else value


def parse_meta(values: list[str] | None) -> dict[str, str] | None:
    """``["subject=S01", "session=day{day}"]`` -> ``{"subject": "S01", "session": "day{day}"}``."""
    if values is None:
        return None
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"Invalid value for '--meta': expected KEY=VALUE, got {item!r}.")
        out[key.strip()] = value.strip()
    return out


def card_from_args(args: argparse.Namespace, template: Any = None) -> Any:
    """The :class:`~myovox.datasets.card.DatasetCard` that ``card init``'s options describe.

    With ``template`` (a card), the options given replace its keys (``--highpass``/``--lowpass`` and
    ``--meta`` are merged into its ``filter`` and ``meta``).
    """
    from ..datasets.card import DatasetCard

    base: dict[str, Any] = template.to_dict() if template is not None else {}
    given: dict[str, Any] = {}
    filt: dict[str, float | None] = dict(base.get("filter") or {})
    if args.highpass is not None:
        filt["highpass"] = args.highpass
    if args.lowpass is not None:
        filt["lowpass"] = args.lowpass
    given["filter"] = filt or None
    if args.layout is not None or args.index is not None:
        given.update(layout=args.layout, index=args.index)
    columns = _split_list(args.columns)
    if columns is not None:
        given["columns"] = [c for c in map(_column, columns) if c is not None]
    if args.header is not None:
        given["header"] = "auto" if args.header == "auto" else args.header == "yes"
    delimiter = args.delimiter
    if delimiter is not None and delimiter.lower() in ("tab", "\\t"):
        delimiter = "\t"
    if args.no_rest_label:
        given["rest_label"] = False
    meta = parse_meta(args.meta)
    if meta:
        given["meta"] = {**(base.get("meta") or {}), **meta}
    for key, value in (
        ("sfreq", args.sfreq),
        ("format", args.format),
        ("channels", _split_list(args.channels)),
        ("delimiter", delimiter),
        ("orientation", args.orientation),
        ("label_column", _column(args.label_column)),
        ("time_column", _column(args.time_column)),
        ("labels", parse_labels(args.labels)),
        ("label_codes", args.label_codes),
        ("rest_label", args.rest_label),
        ("units", args.units),
        ("mains", args.mains),
        ("window_s", args.window),
        ("window_mode", args.window_mode),
        ("name", args.name),
        ("resample", args.resample),
        ("short_trials", args.short_trials),
    ):
        if value is not None:
            given[key] = value
    data = {**base, **given}
    if data.get("layout") is None and data.get("index") is None:
        raise ValidationError("one of the arguments --layout --index is required (or --template NAME).")
    if data.get("sfreq") is None:
        raise ValidationError("the argument --sfreq is required (or --template NAME).")
    data = {k: v for k, v in data.items() if v is not None}
    card = DatasetCard.from_dict(data, source=None if template is None else f"template {args.template}")
    card.source = None  # not read from a file: the name above only labels validation errors
    return card


def _short(values: list[Any], n: int = 6) -> str:
    shown = ", ".join(map(str, values[:n]))
    return shown + (f", ... ({len(values)} in all)" if len(values) > n else "")


def summary(ds: Any) -> str:
    """One paragraph: files, subjects, sessions, classes, channels, rate, windows."""
    s = ds.summary()
    parts = [f"{s['n_recordings']} files"]
    for key in ("subjects", "sessions", "conditions"):
        if s.get(key):
            parts.append(f"{len(s[key])} {key} ({_short(s[key])})")
    classes = s["classes"]
    if classes:
        parts.append(f"{len(classes)} classes ({_short([f'{k}: {v}' for k, v in classes.items()])})")
    else:
        parts.append("no labels")
    chans = {tuple(r.ch_names) for r in ds}
    names = list(next(iter(chans))) if len(chans) == 1 else []
    parts.append(f"{_short(s['n_channels'])} channels" + (f" ({_short(names, 8)})" if names else ""))
    parts.append(f"{_short([f'{v:g}' for v in s['sfreq']])} Hz")
    rest = ds.info.get("rest_label")
    rest_text = "no rest label" if rest is None else f"rest label {rest}"
    mode = "one window per file" if ds.window_mode == "trial" else "one window per label run"
    return f"{ds.name}: " + ", ".join(parts) + f"; {rest_text}; {ds.window_s:g} s windows, {mode}."


def run(args: argparse.Namespace) -> int:
    from ..datasets import folder
    from ..datasets.card import CARD_FILE, DatasetCard

    action = getattr(args, "card_command", None)
    if action is None:
        raise ValidationError("Missing action: use `myovox card init|show|check DIR` (see myovox card --help).")
    path = Path(args.dir)
    if action != "init" and folder.is_card_file(path):  # a card file (inside its folder or beside it)
        card = DatasetCard.read(path)
        ds = folder.load(path)
    else:
        root = path.parent if path.is_file() and path.name == CARD_FILE else path
        if not root.is_dir():
            raise ValidationError(f"{root} is not a folder.")
        if action == "init":
            return _init(args, root)
        card = DatasetCard.read(root)
        ds = folder.load(root)
    if action == "show":
        print(f"# {card.source}\n{card.dumps()}", flush=True)
        print(summary(ds), flush=True)
    else:
        print(f"OK {card.source}: {summary(ds)}", flush=True)
    return 0


def _init(args: argparse.Namespace, root: Path) -> int:
    from ..datasets import folder
    from ..datasets.card import CARD_FILE, DatasetCard, root_for

    template = DatasetCard.template(args.template) if args.template else None
    card = card_from_args(args, template)
    if args.output is not None:
        target = Path(args.output)
        if target.suffix.lower() not in (".yaml", ".yml"):
            raise ValidationError(f"Invalid value for '--output': {target} must end in .yaml or .yml.")
        if target.exists() and target.is_dir():
            raise ValidationError(f"Invalid value for '--output': {target} is a folder; give a file name (*.yaml).")
        if not target.parent.is_dir():
            raise ValidationError(f"Invalid value for '--output': the folder {target.parent} does not exist.")
        card.root = root_for(root, target)
    else:
        target = root / CARD_FILE
    if target.exists() and not args.force:
        raise ValidationError(f"{target} already exists; pass --force to replace it.")
    ds = folder.load(root, card=card)  # fails (writing nothing) when the card does not fit the folder
    try:
        written = card.save(target, force=args.force)
    except ValidationError as err:
        if args.output is None:
            raise ValidationError(f"{err} Write the card beside the folder with --output CARD.yaml.") from None
        raise
    print(f"Wrote {written}. {summary(ds)}", flush=True)
    return 0

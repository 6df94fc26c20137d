"""Bridges to MNE-Python (``io`` extra): ``to_mne`` and ``from_mne``.

MNE keeps signals in volts. ``to_mne`` converts known units (``V``, ``mV``, ``uV``, ``0.1 uV``,
``nV``) to volts and says so in ``raw.info["description"]`` (a small JSON header also holding
the label map and metadata), so ``from_mne`` gives back the original units. Labels become
annotations: one per non-zero label run, described by the label's name.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .._checks import require
from .._logging import logger
from ..exceptions import ValidationError
from ..recording import SILENTWEAR_LABELS, Recording

#: volts per unit
UNIT_SCALE: dict[str, float] = {
    "v": 1.0,
    "volt": 1.0,
    "volts": 1.0,
    "mv": 1e-3,
    "uv": 1e-6,
    "µv": 1e-6,
    "μv": 1e-6,
    "microvolts": 1e-6,
    "0.1 uv": 1e-7,
    "0.1uv": 1e-7,
    "nv": 1e-9,
}
_TAG = "myovox:"


def unit_scale(units: str | None) -> float | None:
    """Volts per unit of ``units`` (None when unknown)."""
    if units is None:
        return None
    return UNIT_SCALE.get(str(units).strip().lower())


def to_mne(recording: Recording, *, ch_type: str = "emg") -> Any:
    """Return ``recording`` as an :class:`mne.io.RawArray` (data in volts when the units are known).

    Parameters
    ----------
    recording : Recording
    ch_type : str
        MNE channel type of every channel.
    """
    mne = require("mne", "MNE conversion")
    units = recording.meta.get("units")
    scale = unit_scale(units)
    if scale is None:
        logger.warning(
            "%s: units %r unknown; passing values to MNE unscaled (MNE expects volts)", recording.source, units
        )
    info = mne.create_info(list(recording.ch_names), recording.sfreq, ch_types=ch_type)
    header = {
        "units": units,
        "scale": scale,
        "label_names": {str(k): v for k, v in (recording.label_names or {}).items()},
        "meta": {k: v for k, v in recording.meta.items() if isinstance(v, (str, int, float, bool))},
    }
    info["description"] = _TAG + json.dumps(header)
    raw = mne.io.RawArray(recording.data * (scale or 1.0), info, verbose="error")
    if recording.labels is not None:
        names = recording.label_names or {}
        runs = [(a, b, lab) for a, b, lab in recording.label_runs() if lab != 0]
        if runs:
            raw.set_annotations(
                mne.Annotations(
                    onset=[a / recording.sfreq for a, _, _ in runs],
                    duration=[(b - a) / recording.sfreq for a, b, _ in runs],
                    description=[str(names.get(lab, lab)) for _, _, lab in runs],
                )
            )
    return raw


def from_mne(raw: Any, *, units: str = "uV", picks: Any = None) -> Recording:
    """Return an MNE Raw as a :class:`Recording`.

    Parameters
    ----------
    raw : mne.io.BaseRaw
    units : str
        Units of the returned data when ``raw`` was not made by :func:`to_mne` (which restores
        the original units): one of ``V``, ``mV``, ``uV``, ``0.1 uV``, ``nV``.
    picks : str | list | None
        Channels to keep (MNE's ``picks``); default all data channels.
    """
    require("mne", "MNE conversion")
    header: dict[str, Any] = {}
    desc = raw.info.get("description") or ""
    if desc.startswith(_TAG):
        try:
            header = json.loads(desc[len(_TAG) :])
        except json.JSONDecodeError:
            logger.warning("raw.info['description'] has a damaged myovox header; ignoring it")
    if header.get("scale"):
        scale, out_units = float(header["scale"]), header.get("units")
    elif header and header.get("scale") is None and "units" in header:
        scale, out_units = 1.0, header.get("units")  # was passed through unscaled
    else:
        known = unit_scale(units)
        if known is None:
            raise ValidationError(f"Invalid value for 'units': expected one of V, mV, uV, 0.1 uV, nV, got {units!r}.")
        scale, out_units = known, units
    if picks is not None:
        raw = raw.copy().pick(picks)
    data = raw.get_data() / scale
    ch_names = list(raw.ch_names)
    sfreq = float(raw.info["sfreq"])
    meta: dict[str, Any] = dict(header.get("meta") or {})
    if out_units is not None:
        meta["units"] = out_units
    meta.setdefault(
        "source", str(raw.filenames[0]) if getattr(raw, "filenames", None) and raw.filenames[0] else "<mne>"
    )
    label_names = {int(k): v for k, v in (header.get("label_names") or {}).items()} or dict(SILENTWEAR_LABELS)
    labels = None
    ann = raw.annotations
    if len(ann):
        by_name = {v: k for k, v in label_names.items()}
        nxt = max(label_names) + 1
        labels = np.zeros(data.shape[1], dtype=np.int64)
        first = raw.first_samp / sfreq if ann.orig_time is not None else 0.0
        for onset, duration, d in zip(ann.onset, ann.duration, ann.description, strict=False):
            if duration <= 0:
                continue
            if d not in by_name:
                if d.lstrip("-").isdigit():
                    by_name[d] = int(d)
                else:
                    by_name[d], nxt = nxt, nxt + 1
                label_names.setdefault(by_name[d], d)
            a = int(round((onset - first) * sfreq))
            b = int(round((onset - first + duration) * sfreq))
            labels[max(a, 0) : min(b, len(labels))] = by_name[d]
    return Recording(data, sfreq, ch_names, labels, label_names if labels is not None else None, meta)


__all__ = ["UNIT_SCALE", "from_mne", "to_mne", "unit_scale"]

"""Preprocessing of recordings and datasets: trim to the cue period, select channels, filter.

What was done is written to ``meta["preprocessing"]`` of every output recording, and
``meta["filtered"]`` is set to True once a recording has been filtered.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_option, check_positive
from .._logging import logger
from ..exceptions import DataQualityWarning, ValidationError
from ..recording import Recording
from .channels import select_channels
from .filters import FilterDesign, design_filter, filter_causal, filter_zero_phase

if TYPE_CHECKING:  # pragma: no cover
    from ..dataset import Dataset

__all__ = ["dataset_windows", "preprocess", "preprocess_dataset", "resolve_filter", "trim_to_cues"]

_FROM_INFO = object()  # sentinel: take the value from dataset.info


def trim_to_cues(recording: Recording, margin_s: float = 1.0) -> Recording:
    """Keep samples ``[first nonzero label - margin, last nonzero label + margin)``, as SilentWear's h5.

    With 500 Hz and ``margin_s=1`` this keeps 500 samples before the first cue and the 500 samples
    that start at the last cue sample (the last cue sample + 499 more), clipped to the recording.
    A recording without any nonzero label is returned unchanged (with a warning in the log).
    """
    margin_s = check_positive("margin_s", margin_s, "margin in seconds", allow_zero=True)
    if recording.labels is None:
        raise ValidationError(f"Cannot trim {recording.source} to its cues: it has no labels.")
    cue = np.flatnonzero(recording.labels != 0)
    if cue.size == 0:
        logger.warning("trim_to_cues: %s has no nonzero label; kept whole.", recording.source)
        return recording
    m = int(round(margin_s * recording.sfreq))
    start = max(int(cue[0]) - m, 0)
    stop = min(int(cue[-1]) + m, recording.n_times)
    return recording.crop_samples(start, stop)


def resolve_filter(filter: Any, sfreq: float) -> FilterDesign | None:
    """Turn a filter specification into a :class:`FilterDesign` for ``sfreq`` (or None).

    ``filter`` may be a FilterDesign (its rate must equal ``sfreq``), a dict of
    :func:`design_filter` keyword arguments (``sfreq`` optional), ``"silentwear"`` (the defaults)
    or None (no filtering).
    """
    if filter is None:
        return None
    if isinstance(filter, FilterDesign):
        if abs(filter.sfreq - sfreq) > 1e-9 * sfreq:
            raise ValidationError(
                f"Filter designed for {filter.sfreq:g} Hz cannot filter a {sfreq:g} Hz recording; "
                "pass a dict of design_filter arguments to design it per recording."
            )
        return filter
    if isinstance(filter, str):
        check_option("filter", filter.lower(), ["silentwear"])
        return design_filter(sfreq)
    if isinstance(filter, Mapping):
        kw = dict(filter)
        kw.pop("sos", None)
        if "sfreq" in kw and abs(float(kw["sfreq"]) - sfreq) > 1e-9 * sfreq:
            raise ValidationError(f"Filter dict is for {kw['sfreq']} Hz but the recording is sampled at {sfreq:g} Hz.")
        kw["sfreq"] = sfreq
        return FilterDesign.from_dict(kw)
    raise ValidationError(
        f"Invalid value for 'filter': expected a FilterDesign, a dict of design_filter arguments, "
        f"'silentwear' or None, got {type(filter).__name__}."
    )


def _interpolate_nonfinite(data: np.ndarray) -> tuple[np.ndarray, int]:
    bad = ~np.isfinite(data)
    n_bad = int(bad.sum())
    if not n_bad:
        return data, 0
    out = data.astype(np.float64, copy=True)
    t = np.arange(data.shape[1])
    for c in np.flatnonzero(bad.any(axis=1)):  # only channels with gaps
        good = ~bad[c]
        if not good.any():
            out[c] = 0.0
        else:
            out[c, bad[c]] = np.interp(t[bad[c]], t[good], out[c, good])
    return out, n_bad


def preprocess(
    recording: Recording,
    *,
    filter: Any = "silentwear",
    channels: Sequence[str | int] | str | None = None,
    causal: bool = False,
    nan_policy: str = "raise",
    resample: float | None = None,
) -> Recording:
    """Select channels, resample and filter one recording.

    Parameters
    ----------
    recording : Recording
    filter : FilterDesign | dict | "silentwear" | None
        The filter (see :func:`resolve_filter`). Recordings with ``meta["filtered"] == True`` (e.g.
        SilentWear's ``Ch_i_filt`` columns) are not filtered again.
    channels : sequence of str or int | "silentwear" | None
        Channels to keep, in this order; None keeps all.
    causal : bool
        False: zero-phase over the whole recording (SilentWear, offline). True: causal, started in
        steady state (what a live stream sees).
    nan_policy : "raise" | "interpolate"
        Non-finite samples raise ``ValidationError`` or are linearly interpolated (with a
        ``DataQualityWarning``) before filtering.
    resample : float | None
        Target rate in Hz (polyphase, :func:`myovox.preprocessing.resample.resample_recording`),
        applied before filtering, so the filter is designed for the new rate. None keeps the rate.

    Returns
    -------
    Recording
        A new recording; ``meta["preprocessing"]`` says what was done.
    """
    check_option("nan_policy", nan_policy, ["raise", "interpolate"])
    out = select_channels(recording, channels)
    info: dict[str, Any] = {"channels": list(out.ch_names) if channels is not None else None}
    if resample is not None and resample != out.sfreq:
        if recording.meta.get("filtered") is True:
            raise ValidationError(
                f"{recording.source} is already filtered; resample the raw signal (SilentWear: filtered=False)."
            )
        if nan_policy == "interpolate":
            data0, _ = _interpolate_nonfinite(out.data)
            out = out.copy(data=data0)
        from .resample import resample_recording

        info["resampled_from"] = float(out.sfreq)
        out = resample_recording(out, float(resample))
    design = resolve_filter(filter, out.sfreq)
    meta = dict(out.meta)
    data = out.data
    if design is None or design.is_identity:
        info["filter"], info["filter_mode"] = None, "none"
    elif recording.meta.get("filtered") is True:
        if causal:
            raise ValidationError(
                f"{recording.source} is already filtered (zero-phase); causal filtering needs the raw signal "
                "(SilentWear datasets: load with filtered=False)."
            )
        info["filter"], info["filter_mode"] = None, "already_filtered"
        logger.debug("preprocess: %s is already filtered; not filtered again.", recording.source)
    else:
        n_bad = 0
        if nan_policy == "interpolate":
            data, n_bad = _interpolate_nonfinite(data)
            if n_bad:
                warnings.warn(
                    f"{recording.source}: {n_bad} NaN/inf samples linearly interpolated before filtering.",
                    DataQualityWarning,
                    stacklevel=2,
                )
        fn = filter_causal if causal else filter_zero_phase
        data = fn(data, design, axis=-1, source=recording.source)
        d = design.to_dict()
        d.pop("sos")
        info["filter"], info["filter_mode"] = d, ("causal" if causal else "zero_phase")
        info["n_interpolated"] = n_bad
        meta["filtered"] = True
    meta["preprocessing"] = info
    return out.copy(data=data, meta=meta)


def band_power_outside(recordings: Sequence[Recording], design: FilterDesign, *, max_recordings: int = 5) -> float:
    """Share of the signal power above 1 Hz that lies outside the filter's pass band.

    Welch spectra of up to ``max_recordings`` recordings (mean over channels); power below 1 Hz
    (offsets, drift) and within 3 Hz of the mains frequency and its harmonics is left out of both
    sums, so that only what could be information counts. ``nan`` when nothing is left.
    """
    from scipy.signal import welch

    removed = total = 0.0
    for r in list(recordings)[:max_recordings]:
        data = np.asarray(r.data, dtype=np.float64)
        data = data[:, np.all(np.isfinite(data), axis=0)]
        if data.shape[1] < 16:
            continue
        f, p = welch(data - data.mean(axis=1, keepdims=True), fs=r.sfreq, nperseg=min(256, data.shape[1]), axis=-1)
        p = p.mean(axis=0)
        keep = f >= 1.0
        if design.notch is not None:
            for k in range(1, int(f[-1] // design.notch) + 1):
                keep &= np.abs(f - k * design.notch) > 3.0
        lo = design.highpass or 0.0
        hi = design.lowpass or np.inf
        outside = keep & ((f < lo) | (f > hi))
        removed += float(p[outside].sum())
        total += float(p[keep].sum())
    return removed / total if total > 0 else float("nan")


#: Share of the signal power (above 1 Hz, mains left out) outside the pass band that draws a warning.
BAND_WARNING = 0.5


def preprocess_dataset(
    dataset: Dataset,
    *,
    causal: bool = False,
    filter: Any = _FROM_INFO,
    channels: Any = _FROM_INFO,
    nan_policy: Any = _FROM_INFO,
    resample: Any = _FROM_INFO,
) -> Dataset:
    """Preprocess every recording of a dataset with the dataset's own settings.

    Uses ``dataset.info["filter"]`` (a dict of :func:`design_filter` arguments, or None for no
    filtering; SilentWear's filter when the key is absent) and ``dataset.info["channels"]`` (a channel
    order, or None/absent for all channels) and ``dataset.info["nan_policy"]`` (default ``"raise"``),
    and ``dataset.info["resample"]`` (a target rate in Hz, or None), unless
    ``filter``/``channels``/``nan_policy``/``resample`` are given. Recordings with
    ``meta["filtered"] == True`` are not filtered again. With ``dataset.info["check_band"]`` (set
    by loaders whose filter is a default, not chosen for the data), a ``DataQualityWarning`` says
    when the pass band leaves out more than half the signal power above 1 Hz
    (:func:`band_power_outside`).

    Returns
    -------
    Dataset
        A new dataset; ``info["preprocessing"]`` holds the settings used.
    """
    from ..dataset import Dataset

    if filter is _FROM_INFO:
        filter = dataset.info.get("filter", "silentwear")
    if channels is _FROM_INFO:
        channels = dataset.info.get("channels")
    if nan_policy is _FROM_INFO:  # datasets with lost samples (guided recordings) say "interpolate"
        nan_policy = dataset.info.get("nan_policy", "raise")
    if resample is _FROM_INFO:
        resample = dataset.info.get("resample")
    if dataset.recordings and filter is not None and dataset.info.get("check_band"):
        # a default band checked against the data: a 20 Hz high-pass on a 0.5-40 Hz device removes most of it
        first = dataset.recordings[0]
        rate = float(resample) if resample is not None else first.sfreq
        design = resolve_filter(filter, rate)
        raw = [r for r in dataset.recordings if r.meta.get("filtered") is not True and r.sfreq == first.sfreq]
        if design is not None and not design.is_identity and raw and resample is None:
            share = band_power_outside(raw, design)
            if share > BAND_WARNING:
                band = f"{design.highpass or 0:g}-{design.lowpass or rate / 2:g} Hz"
                msg = (
                    f"{dataset.name}: the filter's pass band {band} leaves out {100 * share:.0f} % of the signal "
                    f"power above 1 Hz (e.g. {first.source}); set the dataset's filter band to fit the data."
                )
                logger.warning(msg)
                warnings.warn(msg, DataQualityWarning, stacklevel=2)
    recs = [
        preprocess(r, filter=filter, channels=channels, causal=causal, nan_policy=nan_policy, resample=resample)
        for r in dataset.recordings
    ]
    info = dict(dataset.info)
    info["preprocessing"] = {
        "filter": filter.to_dict() if isinstance(filter, FilterDesign) else filter,
        "channels": None if channels is None else (channels if isinstance(channels, str) else list(channels)),
        "causal": bool(causal),
        "resample": resample,
        "n_already_filtered": sum(r.meta["preprocessing"]["filter_mode"] == "already_filtered" for r in recs),
    }
    logger.info(
        "Preprocessed %d recordings of %r (%s filtering).",
        len(recs),
        dataset.name,
        "causal" if causal else "zero-phase",
    )
    return Dataset(recs, dataset.name, dataset.root, dataset.window_s, dataset.window_mode, info)


def dataset_windows(
    dataset: Dataset,
    *,
    window_s: float | None = None,
    causal: bool = False,
    offsets_s: Sequence[float] = (0.0,),
    filter: Any = _FROM_INFO,
    channels: Any = _FROM_INFO,
    nan_policy: Any = _FROM_INFO,
    preprocess: bool = True,
    return_dataset: bool = False,
    segment: str = "onset",
    step_s: float = 0.2,
) -> Any:
    """The Dataset -> preprocess -> windows chain, in one call (train, evaluate, fine-tune, export use it).

    Parameters
    ----------
    dataset : Dataset
        Loaded, unprocessed recordings.
    window_s : float | None
        Window length in seconds (None: ``dataset.window_s``).
    causal : bool
        Filter causally (as a live stream is filtered) instead of zero-phase.
    offsets_s : sequence of float
        Onset offsets of event windows (see :func:`myovox.windows.make_windows`); ignored for
        trial datasets only when it is the default ``(0.0,)``.
    filter, channels, nan_policy
        As in :func:`preprocess_dataset` (default: the dataset's own settings).
    preprocess : bool
        False cuts windows from the recordings as they are (already preprocessed).
    return_dataset : bool
        Also return the preprocessed dataset (its ``info["preprocessing"]`` feeds a model card).
    segment : {"onset", "whole"}
        Training-window recipe of event datasets (:data:`myovox.windows.SEGMENT_RECIPES`): one
        window per onset offset, or windows every ``step_s`` seconds through each labelled
        segment (sustained gestures; see :func:`myovox.windows.make_windows`).
    step_s : float
        Stride of ``segment="whole"``.

    Returns
    -------
    Windows | (Windows, Dataset)
    """
    from ..windows import make_windows

    ds = dataset
    if preprocess:
        ds = preprocess_dataset(dataset, causal=causal, filter=filter, channels=channels, nan_policy=nan_policy)
    offsets = tuple(offsets_s) if getattr(ds, "window_mode", "event") == "event" else (0.0,)
    w = make_windows(ds, window_s=window_s, offsets_s=offsets, segment=segment, step_s=step_s)
    return (w, ds) if return_dataset else w

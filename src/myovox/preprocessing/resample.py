"""Polyphase resampling of recordings to a target rate (another device, another lab's rate)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .._checks import check_positive
from .._logging import logger
from ..exceptions import ValidationError
from ..recording import Recording


def resample_ratio(sfreq_in: float, sfreq_out: float, *, max_denominator: int = 1000) -> tuple[int, int]:
    """``(up, down)`` with ``sfreq_in * up / down == sfreq_out`` (to a relative 1e-9).

    Raises ``ValidationError`` when no ratio with ``down <= max_denominator`` is that close (a
    ratio that is "not rational enough": polyphase filtering would need huge filters).
    """
    check_positive("sfreq", sfreq_in)
    check_positive("resample", sfreq_out)
    frac = Fraction(sfreq_out / sfreq_in).limit_denominator(max_denominator)
    if frac.numerator == 0 or abs(sfreq_in * frac - sfreq_out) > 1e-9 * sfreq_out:
        raise ValidationError(
            f"Cannot resample {sfreq_in:g} Hz to {sfreq_out:g} Hz: the ratio is not a fraction with a "
            f"denominator <= {max_denominator} (closest {frac.numerator}/{frac.denominator}); choose a nearby rate."
        )
    return frac.numerator, frac.denominator


def resample_recording(recording: Recording, sfreq: float, *, max_denominator: int = 1000) -> Recording:
    """``recording`` at ``sfreq`` Hz: polyphase filtering of the signal, nearest sample for labels.

    The anti-aliasing filter is scipy's Kaiser-windowed FIR of :func:`scipy.signal.resample_poly`;
    the signal is extended linearly at both ends (``padtype="line"``), so DC offsets and slow drift
    do not ring at the edges. Non-finite samples are refused (interpolate them first).

    Parameters
    ----------
    recording : Recording
    sfreq : float
        Target rate in Hz.
    max_denominator : int
        Largest denominator of the up/down ratio (see :func:`resample_ratio`).

    Returns
    -------
    Recording
        A new recording; ``meta["resampled_from"]`` is the original rate. The same object when the
        rate is already ``sfreq``.
    """
    up, down = resample_ratio(recording.sfreq, sfreq, max_denominator=max_denominator)
    if up == down:
        return recording
    from scipy.signal import resample_poly

    data = np.asarray(recording.data)
    if not np.all(np.isfinite(data)):
        raise ValidationError(
            f"{recording.source}: non-finite samples cannot be resampled; interpolate them first (nan_policy)."
        )
    out = resample_poly(data.astype(np.float64), up, down, axis=-1, padtype="line").astype(data.dtype, copy=False)
    n_out = out.shape[-1]
    labels = None
    if recording.labels is not None:
        # the label of the input sample at (or just before) each output sample's time
        src = np.minimum((np.arange(n_out) * down) // up, recording.n_times - 1)
        labels = np.asarray(recording.labels)[src]
    meta = dict(recording.meta)
    meta["resampled_from"] = float(recording.sfreq)
    logger.debug("resampled %s from %g to %g Hz (%d/%d)", recording.source, recording.sfreq, sfreq, up, down)
    return Recording(out, float(sfreq), recording.ch_names, labels, recording.label_names, meta)

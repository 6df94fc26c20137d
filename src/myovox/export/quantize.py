"""int8 post-training quantisation of a BN-folded SpeechNet-like network.

Weights are symmetric int8 per output channel, biases int32, activations int8 with scales
calibrated on training windows; the arithmetic is defined in :mod:`myovox.export.reference`.

Choice of activation scheme: the input window is quantised *symmetrically* (zero point 0: EMG
after high-pass filtering is centred on zero, zero padding stays exact and the MCU quantiser is a
single multiply), every later activation *asymmetrically* (after ReLU the zero point is -128, so
the whole int8 range covers ``[0, max]`` instead of wasting the negative half).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._checks import check_option
from .._logging import logger
from ..exceptions import ExportError
from . import fold as F
from .reference import INT32_MAX, INT32_MIN, QAvgPool, QConv, QDense, QGap, QuantizedModel, quantize_multiplier


def _range(values: np.ndarray, method: str, percentile: float) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 0.0
    if method == "minmax":
        return float(v.min()), float(v.max())
    if v.size > 2_000_000:  # subsample huge calibration sets deterministically
        v = v[:: v.size // 2_000_000 + 1]
    return float(np.percentile(v, 100 - percentile)), float(np.percentile(v, percentile))


def asymmetric_params(lo: float, hi: float) -> tuple[float, int]:
    """``(scale, zero_point)`` of an int8 tensor covering ``[lo, hi]`` (extended to include 0)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= 0:
        return 1.0, 0
    scale = (hi - lo) / 255.0
    zp = int(np.clip(round(-128 - lo / scale), -128, 127))
    return float(scale), zp


def symmetric_params(lo: float, hi: float) -> tuple[float, int]:
    """``(scale, 0)`` of a symmetric int8 tensor covering ``[-max|.|, max|.|]``."""
    a = max(abs(lo), abs(hi))
    return (float(a / 127.0) if a > 0 else 1.0), 0


def _weights_per_channel(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = np.abs(w.reshape(w.shape[0], -1)).max(axis=1).astype(np.float64)
    scale = np.where(flat > 0, flat / 127.0, 1.0)
    q = np.clip(np.round(w / scale.reshape(-1, *([1] * (w.ndim - 1)))), -127, 127).astype(np.int8)
    return q, scale


def _bias(b: np.ndarray, scale: np.ndarray, name: str) -> np.ndarray:
    q = np.round(b.astype(np.float64) / scale)
    if np.any(q > INT32_MAX) or np.any(q < INT32_MIN):
        logger.warning("%s: int32 bias saturated; the layer has tiny weights and huge biases.", name)
    return np.clip(q, INT32_MIN, INT32_MAX).astype(np.int32)


def _mults(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = [quantize_multiplier(r) for r in np.atleast_1d(real)]
    return (np.array([p[0] for p in pairs], dtype=np.int32), np.array([p[1] for p in pairs], dtype=np.int8))


def quantize_model(
    model: Any,
    calibration: Any,
    *,
    method: str = "percentile",
    percentile: float = 99.99,
    input_symmetric: bool = True,
    classes: Any = None,
    label_names: dict | None = None,
    meta: dict | None = None,
    check: bool = True,
) -> QuantizedModel:
    """Quantise a trained network to int8 with post-training calibration.

    Parameters
    ----------
    model : SpeechNet | nn.Sequential | SpeechNetClassifier | FoldedNet
        Trained network (BN is folded here) or an already folded one.
    calibration : array (n_windows, n_channels, n_times)
        Training windows (float, as the model sees them) used to set activation ranges.
    method : {"percentile", "minmax"}
        Range estimate per tensor: min/max, or the ``percentile`` / ``100 - percentile``
        percentiles (robust to rare spikes).
    percentile : float
        Upper percentile used by ``method="percentile"`` (50 < p <= 100).
    input_symmetric : bool
        Quantise the input with zero point 0 (default) or asymmetrically.
    classes : array | None
        Label of each output index (default: ``model.classes_`` when present, else ``0..n-1``).
    label_names : dict | None
        Label -> name, carried into the C library and sidecar.
    meta : dict | None
        JSON-able sidecar information (sfreq, window, channel order, filter design, ...).
    check : bool
        Compare the folded network with the torch model on the calibration windows.

    Returns
    -------
    QuantizedModel
    """
    check_option("method", method, ["percentile", "minmax"])
    if not (50 < float(percentile) <= 100):
        raise ExportError(f"Invalid value for 'percentile': expected 50 < p <= 100, got {percentile!r}.")
    if isinstance(model, F.FoldedNet):
        folded = model
    else:
        shape = None
        net = getattr(model, "net_", model)
        if not hasattr(net, "get_config"):
            X0 = np.asarray(calibration)
            if X0.ndim == 3:
                shape = X0.shape[1:]
        Xc = None
        if check:
            Xc = F.check_windows(calibration, _shape_of(model, shape), "calibration")[:64].astype(np.float32)
            mu, sd = input_standardization(model)
            if mu is not None and sd is not None:  # both or neither (input_standardization)
                Xc = ((Xc - mu[:, None]) / sd[:, None]).astype(np.float32)
        folded = F.fold_model(model, shape, check_inputs=Xc)
    X = F.check_windows(calibration, folded.input_shape, "calibration").astype(np.float32)
    mean, std = input_standardization(model)
    if mean is not None and std is not None:  # both or neither (input_standardization)
        X = ((X - mean[:, None]) / std[:, None]).astype(np.float32)
    if classes is None:
        classes = getattr(model, "classes_", None)
    classes = np.arange(folded.n_classes) if classes is None else np.asarray(classes)
    if classes.shape != (folded.n_classes,):
        raise ExportError(f"Invalid 'classes': expected {folded.n_classes} labels, got {classes.shape}.")

    _, outs = folded.forward(X, return_all=True)
    lo, hi = _range(X, method, percentile)
    in_scale, in_zp = symmetric_params(lo, hi) if input_symmetric else asymmetric_params(lo, hi)
    logger.info("int8 calibration on %d windows (%s): input scale %.4g, zero point %d", len(X), method, in_scale, in_zp)

    ops: list = []
    s_in, zp_in = in_scale, in_zp
    for op, out in zip(folded.ops, outs, strict=False):
        if isinstance(op, F.AvgPool):
            k = op.kernel[0] * op.kernel[1]
            m, n = quantize_multiplier(1.0 / k)
            ops.append(QAvgPool(op.kernel, m, n, zp_in, s_in, name=op.name))
            continue
        s_out, zp_out = asymmetric_params(*_range(out, method, percentile))
        if isinstance(op, F.GlobalAvgPool):
            n_pos = int(np.prod(outs[len(ops) - 1].shape[2:])) if ops else int(np.prod(folded.input_shape))
            m, n = quantize_multiplier(s_in / (s_out * n_pos))
            ops.append(QGap(m, n, zp_in, s_out, zp_out, n_pos, name=op.name))
        else:
            wq, ws = _weights_per_channel(op.weight)
            bq = _bias(op.bias, s_in * ws, op.name)
            mult, shift = _mults(s_in * ws / s_out)
            if isinstance(op, F.Conv):
                ops.append(
                    QConv(wq, bq, mult, shift, op.padding, op.pool, op.relu, zp_in, s_out, zp_out, ws, name=op.name)
                )
            else:
                ops.append(QDense(wq, bq, mult, shift, op.relu, zp_in, s_out, zp_out, ws, name=op.name))
        s_in, zp_in = s_out, zp_out
    if label_names is None and meta and isinstance(meta.get("label_map"), dict):
        label_names = meta["label_map"]
    return QuantizedModel(
        ops,
        folded.input_shape,
        in_scale,
        in_zp,
        s_in,
        zp_in,
        classes,
        {int(k) if str(k).lstrip("-").isdigit() else k: str(v) for k, v in (label_names or {}).items()} or None,
        dict(meta or {}),
        mean,
        std,
    )


def _shape_of(model: Any, shape: Any) -> tuple[int, int]:
    if shape is not None:
        return tuple(shape)
    cfg = F._unwrap(model).get_config()
    return (int(cfg["n_channels"]), int(cfg["n_times"]))


def input_standardization(model: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per-channel ``(mean, std)`` a fitted wrapper applies before its network, else ``(None, None)``."""
    mean = getattr(model, "mean_", None)
    scale = getattr(model, "scale_", None)
    if mean is None or scale is None:
        return None, None
    return (np.asarray(mean, np.float32).reshape(-1), np.asarray(scale, np.float32).reshape(-1))

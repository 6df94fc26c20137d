"""NumPy integer reference executor: this module DEFINES myovox's int8 arithmetic.

The generated C library (:mod:`myovox.export.c_codegen`) must agree with it bit for bit, and the
int8 ONNX graph (:mod:`myovox.export.onnx`) carries the same integers, stored as uint8 ``q + 128``
with zero points shifted alike, so that onnxruntime's kernels multiply them exactly on every CPU.

Conventions
-----------
* A real value ``r`` of a tensor with ``(scale, zero_point)`` is ``r = scale * (q - zero_point)``,
  ``q`` in int8 ``[-128, 127]``.
* Weights: int8 symmetric per output channel (zero point 0, range ``[-127, 127]``).
  Biases: int32 with scale ``input_scale * weight_scale[c]``, zero point 0.
* Input window: symmetric (zero point 0) by default; intermediate activations and logits:
  asymmetric (zero point from the calibrated range, ``-128`` after ReLU), as in TFLite int8.
* Accumulators: int32, ``acc = bias[c] + sum(w * (x - x_zero_point))``; padded positions
  contribute nothing (they hold the real value 0).
* Requantisation with an int32 fixed-point multiplier ``m`` (Q31, ``m`` in ``[2^30, 2^31)``) and
  a right shift ``n`` (1..62) approximating the real multiplier ``M = m * 2^-n``:
  ``p = acc * m`` (int64) and ``r = floor((p + 2^(n-1)) / 2^n)`` (round half up, single rounding,
  as TFLite/CMSIS-NN's single-rounding variant), then ``y = saturate_int8(r + out_zero_point)``,
  and with a fused ReLU ``y = max(y, out_zero_point)``.
* Max pooling on int8 after requantisation (exact, quantisation is monotonic); kernel == stride,
  floor mode.
* Average pooling: int32 sum of ``(x - zp)`` over the kernel, requantised with ``M = 1 / k``
  to the input's scale and zero point.
* Global average pooling: int32 sum of ``(x - zp)`` over all positions, requantised with
  ``M = s_in / (s_out * n_positions)``.
* Linear head: as a convolution with a 1x1 kernel; outputs int8 logits. The predicted class is
  the first index of the largest int8 logit.
* Input quantisation (float32): ``r = x * (1/scale)`` in float32, NaN -> 0, clipped to
  ``[-1000, 1000]``, rounded half away from zero, ``+ zero_point``, saturated to int8.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..exceptions import ExportError
from .fold import check_windows

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


# ---------------------------------------------------------------- arithmetic primitives
def quantize_multiplier(real: float) -> tuple[int, int]:
    """Return ``(m, n)`` with ``m`` an int32 in ``[2^30, 2^31)`` and ``real ~= m * 2^-n``, ``1 <= n <= 62``."""
    real = float(real)
    if not np.isfinite(real) or real < 0:
        raise ExportError(f"Cannot represent requantisation multiplier {real!r}.")
    if real == 0.0:
        return 0, 1
    mant, exp = np.frexp(real)  # real = mant * 2^exp, mant in [0.5, 1)
    m = int(round(float(mant) * 2**31))
    if m == 2**31:
        m //= 2
        exp += 1
    n = 31 - int(exp)
    if n > 62:  # too small to matter: the product rounds to 0 anyway
        return 0, 1
    if n < 1:
        raise ExportError(f"Requantisation multiplier {real:.4g} is too large (>= 2^30); check the calibration data.")
    return m, n


def requantize(acc: np.ndarray, mult: np.ndarray | int, shift: np.ndarray | int) -> np.ndarray:
    """``floor((acc * mult + 2^(shift-1)) / 2^shift)`` in int64 (see the module docstring)."""
    acc = np.asarray(acc, dtype=np.int64)
    mult = np.asarray(mult, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    p = acc * mult
    return (p + (np.int64(1) << (shift - 1))) >> shift


def saturate_int8(v: np.ndarray, lo: int = -128) -> np.ndarray:
    """Clip to ``[lo, 127]`` and cast to int8."""
    return np.clip(v, lo, 127).astype(np.int8)


def input_inv_scales(n_channels: int, scale: float, std: np.ndarray | None = None) -> np.ndarray:
    """float32 per-channel factors ``1 / (std[c] * scale)`` applied to ``x - mean[c]`` before rounding."""
    sc = np.full(n_channels, np.float32(scale), dtype=np.float32)
    if std is not None:
        sc = (np.asarray(std, dtype=np.float32).reshape(n_channels) * sc).astype(np.float32)
    return (np.float32(1.0) / sc).astype(np.float32)


def quantize_input_array(
    X: np.ndarray, scale: float, zero_point: int, mean: np.ndarray | None = None, std: np.ndarray | None = None
) -> np.ndarray:
    """Quantise float windows exactly as ``myovox_quantize_input`` does in C (float32 arithmetic).

    ``r = (x - mean[c]) * inv[c]`` with ``inv`` from :func:`input_inv_scales` (``mean = 0`` and
    ``std = 1`` when the model has no input standardisation), then as in the module docstring.
    """
    X = np.asarray(X, dtype=np.float32)
    c = X.shape[-2]
    inv = input_inv_scales(c, scale, std)[:, None]
    mu = (np.zeros(c, np.float32) if mean is None else np.asarray(mean, np.float32).reshape(c))[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        r = (X - mu) * inv
        r = np.where(np.isnan(r), np.float32(0), r)
        r = np.clip(r, np.float32(-1000), np.float32(1000)).astype(np.float32)
        half = np.float32(0.5)
        t = np.where(r >= 0, np.trunc(r + half), np.trunc(r - half)).astype(np.int64)
    return saturate_int8(t + int(zero_point))


def _check_acc(acc: np.ndarray, name: str) -> None:
    if acc.size and (acc.max() > INT32_MAX or acc.min() < INT32_MIN):
        raise ExportError(f"{name}: int32 accumulator overflow; the calibration ranges are inconsistent.")


# ---------------------------------------------------------------- quantised ops
@dataclass
class QConv:
    """int8 convolution with folded BN, fused ReLU clamp and int8 max-pool."""

    weight: np.ndarray  # int8 (out, in, kh, kw)
    bias: np.ndarray  # int32 (out,)
    mult: np.ndarray  # int32 (out,)
    shift: np.ndarray  # int (out,)
    padding: tuple[int, int]
    pool: tuple[int, int]
    relu: bool
    in_zp: int
    out_scale: float
    out_zp: int
    weight_scale: np.ndarray  # float (out,), for ONNX/QDQ and reporting
    name: str = ""
    kind: str = field(default="conv", init=False)


@dataclass
class QAvgPool:
    kernel: tuple[int, int]
    mult: int
    shift: int
    zp: int
    scale: float
    name: str = ""
    kind: str = field(default="avgpool", init=False)


@dataclass
class QGap:
    mult: int
    shift: int
    in_zp: int
    out_scale: float
    out_zp: int
    n_positions: int
    name: str = ""
    kind: str = field(default="gap", init=False)


@dataclass
class QDense:
    weight: np.ndarray  # int8 (out, in)
    bias: np.ndarray  # int32
    mult: np.ndarray
    shift: np.ndarray
    relu: bool
    in_zp: int
    out_scale: float
    out_zp: int
    weight_scale: np.ndarray
    name: str = ""
    kind: str = field(default="dense", init=False)


def conv_int8(x: np.ndarray, op: QConv) -> np.ndarray:
    """int8 (N, C, H, W) -> int8 (N, O, H', W') for a :class:`QConv`."""
    xs = x.astype(np.float64) - op.in_zp  # exact: |values| << 2^53
    ph, pw = op.padding
    if ph or pw:
        xs = np.pad(xs, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _c, h, w = xs.shape
    o, _, kh, kw = op.weight.shape
    ho, wo = h - kh + 1, w - kw + 1
    wf = op.weight.astype(np.float64)
    acc = np.zeros((n, o, ho, wo), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            acc += np.einsum("oc,nchw->nohw", wf[:, :, i, j], xs[:, :, i : i + ho, j : j + wo], optimize=True)
    acc = acc.astype(np.int64) + op.bias.astype(np.int64)[None, :, None, None]
    _check_acc(acc, op.name)
    r = requantize(acc, op.mult[None, :, None, None], op.shift[None, :, None, None]) + op.out_zp
    y = saturate_int8(r, op.out_zp if op.relu else -128)
    kh_p, kw_p = op.pool
    if (kh_p, kw_p) != (1, 1):
        hp, wp = ho // kh_p, wo // kw_p
        y = y[:, :, : hp * kh_p, : wp * kw_p].reshape(n, o, hp, kh_p, wp, kw_p).max(axis=(3, 5))
    return y


def avgpool_int8(x: np.ndarray, op: QAvgPool) -> np.ndarray:
    kh, kw = op.kernel
    n, c, h, w = x.shape
    ho, wo = h // kh, w // kw
    s = (x[:, :, : ho * kh, : wo * kw].astype(np.int64) - op.zp).reshape(n, c, ho, kh, wo, kw).sum(axis=(3, 5))
    return saturate_int8(requantize(s, op.mult, op.shift) + op.zp)


def gap_int8(x: np.ndarray, op: QGap) -> np.ndarray:
    s = (x.astype(np.int64) - op.in_zp).reshape(x.shape[0], x.shape[1], -1).sum(axis=2)
    _check_acc(s, op.name)
    return saturate_int8(requantize(s, op.mult, op.shift) + op.out_zp)


def dense_int8(x: np.ndarray, op: QDense) -> np.ndarray:
    xs = x.reshape(x.shape[0], -1).astype(np.int64) - op.in_zp
    acc = xs @ op.weight.astype(np.int64).T + op.bias.astype(np.int64)
    _check_acc(acc, op.name)
    r = requantize(acc, op.mult[None, :], op.shift[None, :]) + op.out_zp
    return saturate_int8(r, op.out_zp if op.relu else -128)


#: the integer kernel of each op kind (op: QConv, QAvgPool, QGap or QDense, matching the key)
_RUN: dict[str, Callable[[np.ndarray, Any], np.ndarray]] = {
    "conv": conv_int8,
    "avgpool": avgpool_int8,
    "gap": gap_int8,
    "dense": dense_int8,
}


# ---------------------------------------------------------------- the model
@dataclass
class QuantizedModel:
    """An int8 network and the parameters that map floats to and from it.

    Attributes
    ----------
    ops : list of QConv | QAvgPool | QGap | QDense
    input_shape : (n_channels, n_times)
    input_scale, input_zero_point : float, int
    output_scale, output_zero_point : float, int
        Of the int8 logits.
    classes : array
        Label of each output index (``classes_`` of the wrapper, else ``arange``).
    label_names : dict int -> str | None
    meta : dict
        Sidecar information (sfreq, window_s, channel order, filter design, ...), JSON-able.
    input_mean, input_std : array (n_channels,) | None
        Per-channel standardisation the network expects (the wrapper's ``standardize``); it is
        applied inside the input quantisation, so the C library takes raw windows.
    """

    ops: list
    input_shape: tuple[int, int]
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    classes: np.ndarray
    label_names: dict | None = None
    meta: dict = field(default_factory=dict)
    input_mean: np.ndarray | None = None
    input_std: np.ndarray | None = None

    @property
    def n_classes(self) -> int:
        return int(self.ops[-1].weight.shape[0])

    def quantize_input(self, X: Any) -> np.ndarray:
        """Float windows (n, n_channels, n_times) -> int8, exactly as the C library does."""
        X = check_windows(X, self.input_shape, "X")
        return quantize_input_array(X, self.input_scale, self.input_zero_point, self.input_mean, self.input_std)

    def forward_int8(self, Xq: np.ndarray, *, return_all: bool = False) -> Any:
        """int8 windows (n, n_channels, n_times) -> int8 logits (n, n_classes)."""
        Xq = np.asarray(Xq)
        if Xq.dtype != np.int8:
            raise ExportError(f"forward_int8 needs int8 input, got {Xq.dtype}.")
        x = check_windows(Xq, self.input_shape, "Xq")[:, None]
        outs = []
        for op in self.ops:
            x = _RUN[op.kind](x, op)
            outs.append(x)
        return (x, outs) if return_all else x

    def decision_function(self, X: Any) -> np.ndarray:
        """Dequantised logits (n, n_classes) for float windows."""
        q = self.forward_int8(self.quantize_input(X)).astype(np.float64)
        return (q - self.output_zero_point) * self.output_scale

    def predict_index(self, X: Any) -> np.ndarray:
        """Output index (first largest int8 logit) for float windows."""
        return np.argmax(self.forward_int8(self.quantize_input(X)), axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels for float windows (quantise the input, run the integer network)."""
        return np.asarray(self.classes)[self.predict_index(X)]

    def activation_sizes(self) -> list[int]:
        """Number of int8 values of the input and of every op's output for one window."""
        from .fold import op_output_shape

        sizes = [int(np.prod(self.input_shape))]
        shape: tuple[int, ...] = (1, *self.input_shape)
        for op in self.ops:
            shape = op_output_shape(_FloatView(op), shape)
            sizes.append(int(np.prod(shape)))
        return sizes

    def n_parameters(self) -> int:
        return int(sum(op.weight.size + op.bias.size for op in self.ops if op.kind in ("conv", "dense")))

    def flash_bytes(self) -> dict[str, int]:
        """Bytes of constants: int8 weights, int32 biases, requantisation params (int32 m + int8 n)."""
        w = b = r = 0
        for op in self.ops:
            if op.kind in ("conv", "dense"):
                w += op.weight.size
                b += 4 * op.bias.size
                r += 5 * op.mult.size
            else:
                r += 5
        return {"weights": w, "biases": b, "requant": r, "total": w + b + r}


def _FloatView(op: Any) -> Any:
    """Adapter so that fold.op_output_shape can size quantised ops."""
    from . import fold

    if op.kind == "conv":
        return fold.Conv(op.weight, op.bias, op.padding, op.relu, op.pool)
    if op.kind == "avgpool":
        return fold.AvgPool(op.kernel)
    if op.kind == "gap":
        return fold.GlobalAvgPool()
    return fold.Dense(op.weight, op.bias, op.relu)


def compare_accuracy(model: Any, qmodel: QuantizedModel, X: Any, y: ArrayLike) -> dict[str, float]:
    """Balanced accuracy of the float model and of its int8 version on ``(X, y)``.

    Parameters
    ----------
    model : SpeechNet-like nn.Module | fitted wrapper with ``predict``
        For a bare network, output index ``i`` is the label ``qmodel.classes[i]``.
    qmodel : QuantizedModel
    X : array (n, n_channels, n_times)
    y : labels

    Returns
    -------
    dict
        ``float_balanced_accuracy``, ``int8_balanced_accuracy``, ``drop_points`` (float - int8, in
        percentage points), ``agreement`` (fraction of equal predictions), ``n``.
    """
    from sklearn.metrics import balanced_accuracy_score

    X = check_windows(X, qmodel.input_shape, "X").astype(np.float32)
    labels = np.asarray(y)
    if labels.shape != (X.shape[0],):
        raise ExportError(f"Invalid shape for 'y': expected ({X.shape[0]},), got {labels.shape}.")
    if hasattr(model, "predict") and hasattr(model, "classes_"):
        pf = np.asarray(model.predict(X))
    else:
        from .fold import torch_logits

        logits = torch_logits(model, X)
        pf = np.asarray(qmodel.classes)[np.argmax(logits, axis=1)]
    pq = qmodel.predict(X)
    fa = float(balanced_accuracy_score(labels, pf))
    qa = float(balanced_accuracy_score(labels, pq))
    return {
        "float_balanced_accuracy": fa,
        "int8_balanced_accuracy": qa,
        "drop_points": 100.0 * (fa - qa),
        "agreement": float(np.mean(pf == pq)),
        "n": int(len(labels)),
    }

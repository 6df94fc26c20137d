"""ONNX export: the float network (torch exporter, dynamic batch) and an int8 QDQ graph.

The QDQ graph puts QuantizeLinear/DequantizeLinear pairs with myovox's calibrated scales around
the input and every activation, and DequantizeLinear on the weights (per output channel) and
int32 biases. It carries exactly the integers of the reference (:mod:`myovox.export.reference`)
and of the C library; onnxruntime requantises in float32 (half to even) where the reference uses
a fixed-point multiplier (half up), so the two can differ by one step where a value lies within
float32 precision of a half step (not seen on the test sets), and agreement is reported.

Why the graph is stored as **u8 x u8** (every activation and weight tensor uint8, shifted by
+128; the reference's int8 values are ``q_u8 - 128`` with zero points shifted alike, so every
product ``(x - x_zp) * (w - w_zp)`` and every accumulator is the same integer):

* On x86, onnxruntime rewrites int8 QDQ activations to uint8 (its ``QDQS8ToU8Transformer``; x86
  prefers u8 activations), so an int8-weight graph runs as **u8 x s8**. Without VNNI (AVX2 or
  AVX-512 without VNNI, e.g. AMD Zen 3, older Xeons) its u8 x s8 kernels multiply with
  ``vpmaddubsw``, which adds each pair of neighbouring products ``a0*w0 + a1*w1`` into a
  *saturating int16*: with ``a`` up to 255 and ``|w|`` up to 127 a pair reaches 64,770 and is
  clipped to 32,767. myovox's first layer saturates on ordinary data (the symmetric input has
  its zero at u8 128, the folded weights use the full +-127): on an AVX2 machine its logits were
  up to 14 steps from the reference. With VNNI (``vpdpbusd``) the same graph is exact, which is
  why it passed on AVX-512 VNNI machines.
* Remedies considered: 7-bit weights (``|w| <= 64``: a pair stays <= 2*255*64 = 32,640) cost
  one bit of weight resolution and change the reference and the C library; narrower
  activations (``2*a*max|w| < 2^15``) cost activation resolution; int8 activations alone do not
  help on x86 (rewritten to uint8 as above); the session option ``session.x64quantprecision``
  only protects sessions that set it, not the users of the file.
* u8 x u8 costs nothing in accuracy and leaves the reference and the C library untouched:
  onnxruntime has no u8 x s8 kernel to pick for it, and its u8 x u8 kernels widen both operands
  to 16 bits before multiplying (``vpmovzxbw`` + ``vpmaddwd`` on SSE/AVX2/AVX-512,
  ``vpdpbuud`` with AVX-VNNI-INT8, ``udot`` on ARM), so every product and pair sum is exact in
  int32 (at most 2*255*255 = 130,050). It is somewhat slower than u8 x s8 on x86, which does
  not matter for a network of this size (the deployment target is the C library).

``tests/unit/export/test_onnx_saturation.py`` emulates the saturating pairwise kernel in NumPy
on the exported model's weights and activation ranges, so the property is checked on every CPU.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import require
from .._logging import logger
from ..exceptions import ExportError
from .fold import check_windows
from .reference import QuantizedModel

DEFAULT_OPSET = 17


def run_onnx(path: str | os.PathLike, X: Any) -> np.ndarray:
    """Run an exported model with onnxruntime (CPU, one thread) on float windows; returns logits."""
    ort = require("onnxruntime", "running ONNX models")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.asarray(sess.run(None, {name: np.asarray(X, dtype=np.float32)})[0])


def export_onnx_float(
    model: Any,
    path: str | os.PathLike,
    *,
    input_shape: tuple[int, int] | None = None,
    opset: int = DEFAULT_OPSET,
    check_inputs: Any = None,
    atol: float = 1e-4,
) -> dict:
    """Export the float network to ONNX (input ``x`` (batch, n_channels, n_times) -> ``logits``).

    Parameters
    ----------
    model : SpeechNet | nn.Module | SpeechNetClassifier
    path : path of the ``.onnx`` file
    input_shape : (n_channels, n_times) | None
        Default from ``get_config()``.
    opset : int
        ONNX opset (17 works with the installed onnx/onnxruntime offline).
    check_inputs : array | None
        Windows on which onnxruntime is compared with torch; ``ExportError`` above ``atol``
        (relative to the logit range).

    Returns
    -------
    dict
        ``path``, ``opset``, and with ``check_inputs``: ``max_abs_error``, ``argmax_agreement``.
    """
    import torch

    require("onnx", "ONNX export")
    from .fold import _unwrap, layer_sequence

    net = _unwrap(model)
    layer_sequence(net)  # names unsupported layers before torch does
    if input_shape is None:
        cfg = net.get_config() if hasattr(net, "get_config") else {}
        if "n_channels" not in cfg:
            raise ExportError("input_shape=(n_channels, n_times) is needed for a model without get_config().")
        input_shape = (cfg["n_channels"], cfg["n_times"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from .quantize import input_standardization

    mean, std = input_standardization(model)
    module = net if mean is None or std is None else _Standardized(net, mean, std)  # both or neither
    was = net.training
    net.eval()
    try:
        dummy = torch.zeros(1, *input_shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (dummy,),
                str(path),
                dynamo=False,
                opset_version=int(opset),
                input_names=["x"],
                output_names=["logits"],
                dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
            )
        info: dict[str, Any] = {"path": str(path), "opset": int(opset)}
        if check_inputs is not None:
            X = check_windows(check_inputs, input_shape, "check_inputs").astype(np.float32)
            with torch.no_grad():
                ref = module(torch.from_numpy(X)).numpy()
            got = run_onnx(path, X)
            err = float(np.max(np.abs(ref - got)))
            info["max_abs_error"] = err
            info["argmax_agreement"] = float(np.mean(ref.argmax(1) == got.argmax(1)))
            if err > atol * max(1.0, float(np.abs(ref).max())):
                raise ExportError(f"onnxruntime differs from torch by {err:.3g} on the check windows.")
            logger.info("ONNX float parity: max |logit error| %.3g", err)
    finally:
        net.train(was)
    return info


def _Standardized(net: Any, mean: np.ndarray, std: np.ndarray) -> Any:
    """``net`` preceded by the wrapper's per-channel standardisation (so the ONNX takes raw windows)."""
    import torch

    class Standardized(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("mean", torch.from_numpy(np.asarray(mean, np.float32).reshape(1, -1, 1)))
            self.register_buffer("std", torch.from_numpy(np.asarray(std, np.float32).reshape(1, -1, 1)))

        def forward(self, x: Any) -> Any:
            return self.net((x - self.mean) / self.std)

    return Standardized().eval()


#: Added to every int8 value (activations, weights and their zero points) to store it as uint8.
U8_OFFSET = 128


def to_u8(q: np.ndarray) -> np.ndarray:
    """int8 values as the uint8 values ``q + 128`` of the QDQ graph (same real values with the zero point + 128)."""
    q = np.asarray(q)
    if q.dtype != np.int8:
        raise ExportError(f"Expected int8 values, got {q.dtype}.")
    return (q.astype(np.int16) + U8_OFFSET).astype(np.uint8)


def build_qdq_graph(qmodel: QuantizedModel, *, opset: int = DEFAULT_OPSET) -> Any:
    """An ``onnx.ModelProto`` of the int8 network in QDQ form (float in, float logits out).

    All quantised tensors are stored as uint8 (``int8 + 128``, zero points alike): see the module
    docstring for why (exact products in every onnxruntime kernel, on every CPU).
    """
    onnx = require("onnx", "ONNX export")
    from onnx import TensorProto, helper, numpy_helper

    inits: list = []
    nodes: list = []

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def qdq(x: str, scale: float, zp: int, tag: str) -> str:
        s = const(f"{tag}_scale", np.array(scale, np.float32))
        z = const(f"{tag}_zp", np.array(int(zp) + U8_OFFSET, np.uint8))
        nodes.append(helper.make_node("QuantizeLinear", [x, s, z], [f"{tag}_q"]))
        nodes.append(helper.make_node("DequantizeLinear", [f"{tag}_q", s, z], [f"{tag}_dq"]))
        return f"{tag}_dq"

    def dq_weights(tag: str, w: np.ndarray, ws: np.ndarray, b: np.ndarray, s_in: float) -> tuple[str, str]:
        wn = const(f"{tag}_w", to_u8(w))
        wsn = const(f"{tag}_w_scale", ws.astype(np.float32))
        wzn = const(f"{tag}_w_zp", np.full(len(ws), U8_OFFSET, np.uint8))
        nodes.append(helper.make_node("DequantizeLinear", [wn, wsn, wzn], [f"{tag}_w_dq"], axis=0))
        bn = const(f"{tag}_b", b.astype(np.int32))
        bsn = const(f"{tag}_b_scale", (s_in * ws).astype(np.float32))
        bzn = const(f"{tag}_b_zp", np.zeros(len(ws), np.int32))
        nodes.append(helper.make_node("DequantizeLinear", [bn, bsn, bzn], [f"{tag}_b_dq"], axis=0))
        return f"{tag}_w_dq", f"{tag}_b_dq"

    c, t = qmodel.input_shape
    x_in = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", c, t])
    x0 = "x"
    if qmodel.input_mean is not None:
        mu = const("in_mean", np.asarray(qmodel.input_mean, np.float32).reshape(1, c, 1))
        sd = const("in_std", np.asarray(qmodel.input_std, np.float32).reshape(1, c, 1))
        nodes.append(helper.make_node("Sub", ["x", mu], ["x_c"]))
        nodes.append(helper.make_node("Div", ["x_c", sd], ["x_s"]))
        x0 = "x_s"
    nodes.append(helper.make_node("Unsqueeze", [x0, const("axes1", np.array([1], np.int64))], ["x4"]))
    cur = qdq("x4", qmodel.input_scale, qmodel.input_zero_point, "input")
    s_in = qmodel.input_scale
    rank4 = True
    for i, op in enumerate(qmodel.ops):
        tag = f"l{i}"
        if op.kind == "conv":
            w, b = dq_weights(tag, op.weight, op.weight_scale, op.bias, s_in)
            ph, pw = op.padding
            kh, kw = op.weight.shape[2:]
            nodes.append(
                helper.make_node("Conv", [cur, w, b], [f"{tag}_conv"], kernel_shape=[kh, kw], pads=[ph, pw, ph, pw])
            )
            cur = f"{tag}_conv"
            if op.relu:
                nodes.append(helper.make_node("Relu", [cur], [f"{tag}_relu"]))
                cur = f"{tag}_relu"
            cur = qdq(cur, op.out_scale, op.out_zp, f"{tag}_out")
            if op.pool != (1, 1):
                nodes.append(
                    helper.make_node(
                        "MaxPool", [cur], [f"{tag}_pool"], kernel_shape=list(op.pool), strides=list(op.pool)
                    )
                )
                cur = qdq(f"{tag}_pool", op.out_scale, op.out_zp, f"{tag}_pool")
            s_in = op.out_scale
        elif op.kind == "avgpool":
            nodes.append(
                helper.make_node(
                    "AveragePool", [cur], [f"{tag}_avg"], kernel_shape=list(op.kernel), strides=list(op.kernel)
                )
            )
            cur = qdq(f"{tag}_avg", op.scale, op.zp, f"{tag}_out")
        elif op.kind == "gap":
            nodes.append(helper.make_node("GlobalAveragePool", [cur], [f"{tag}_gap"]))
            nodes.append(helper.make_node("Flatten", [f"{tag}_gap"], [f"{tag}_flat"], axis=1))
            cur = qdq(f"{tag}_flat", op.out_scale, op.out_zp, f"{tag}_out")
            s_in = op.out_scale
            rank4 = False
        else:
            w, b = dq_weights(tag, op.weight, op.weight_scale, op.bias, s_in)
            if rank4:
                nodes.append(helper.make_node("Flatten", [cur], [f"{tag}_flat"], axis=1))
                cur = f"{tag}_flat"
                rank4 = False
            nodes.append(helper.make_node("Gemm", [cur, w, b], [f"{tag}_gemm"], transB=1))
            cur = f"{tag}_gemm"
            if op.relu:
                nodes.append(helper.make_node("Relu", [cur], [f"{tag}_relu"]))
                cur = f"{tag}_relu"
            cur = qdq(cur, op.out_scale, op.out_zp, f"{tag}_out")
            s_in = op.out_scale
    nodes.append(helper.make_node("Identity", [cur], ["logits"]))
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", qmodel.n_classes])
    graph = helper.make_graph(nodes, "myovox_int8_qdq", [x_in], [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", int(opset))], producer_name="myovox")
    model.ir_version = min(model.ir_version, 8)
    onnx.checker.check_model(model)
    return model


def export_onnx_qdq(
    qmodel: QuantizedModel, path: str | os.PathLike, *, check_inputs: Any = None, opset: int = DEFAULT_OPSET
) -> dict:
    """Write the int8 QDQ ONNX graph and, with ``check_inputs``, compare it with the reference.

    Returns
    -------
    dict
        ``path``, and with ``check_inputs``: ``argmax_agreement`` (onnxruntime vs the integer
        reference), ``exact_agreement`` (fraction of windows whose int8 logits are all equal),
        ``max_logit_error`` (dequantised, same units as the float logits), ``logit_scale`` (one
        int8 step of the logits).
    """
    onnx = require("onnx", "ONNX export")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(build_qdq_graph(qmodel, opset=opset), str(path))
    info: dict[str, Any] = {"path": str(path), "opset": int(opset)}
    if check_inputs is not None:
        X = check_windows(check_inputs, qmodel.input_shape, "check_inputs").astype(np.float32)
        got = run_onnx(path, X)
        ref = qmodel.decision_function(X)
        info["argmax_agreement"] = float(np.mean(got.argmax(1) == ref.argmax(1)))
        steps = np.abs(got.astype(np.float64) - ref) / qmodel.output_scale
        info["exact_agreement"] = float(np.mean(np.all(steps < 0.5, axis=1)))
        info["max_logit_error"] = float(np.max(np.abs(got - ref)))
        info["logit_scale"] = float(qmodel.output_scale)
        logger.info(
            "ONNX QDQ vs integer reference: argmax agreement %.3f, max logit error %.3g (%.1f steps)",
            info["argmax_agreement"],
            info["max_logit_error"],
            info["max_logit_error"] / qmodel.output_scale,
        )
    return info

"""Turn a trained SpeechNet-like torch network into a flat list of float operations with
BatchNorm folded into the preceding convolution.

The folded graph (:class:`FoldedNet`) is plain NumPy: it is what the int8 quantiser calibrates
on, what the ONNX QDQ and C exporters walk, and it is checked against the torch model.

Supported structure: a module with ``blocks`` (Sequentials of Conv2d, BatchNorm2d, ReLU,
MaxPool2d/AvgPool2d), ``pool`` (AdaptiveAvgPool2d(1)), ``dropout`` and ``classifier`` (Linear), as in
:class:`myovox.models.speechnet.SpeechNet`, or a flat ``nn.Sequential`` of the same layers
(plus ``Flatten``). Anything else raises :class:`~myovox.exceptions.ExportError` naming the layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._logging import logger
from ..exceptions import ExportError

_SUPPORTED = (
    "Conv2d",
    "BatchNorm2d",
    "ReLU",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "Dropout",
    "Flatten",
    "Identity",
    "Linear",
)


@dataclass
class Conv:
    """Conv2d (+ folded BN) (+ ReLU) (+ max-pool of kernel == stride), NCHW, float32."""

    weight: np.ndarray  # (out, in, kh, kw)
    bias: np.ndarray  # (out,)
    padding: tuple[int, int]
    relu: bool = False
    pool: tuple[int, int] = (1, 1)
    name: str = ""
    kind: str = field(default="conv", init=False)


@dataclass
class AvgPool:
    """Average pooling with kernel == stride, no padding (floor mode)."""

    kernel: tuple[int, int]
    name: str = ""
    kind: str = field(default="avgpool", init=False)


@dataclass
class GlobalAvgPool:
    """Mean over all spatial positions, output (batch, channels)."""

    name: str = ""
    kind: str = field(default="gap", init=False)


@dataclass
class Dense:
    """Fully connected layer, float32 weight (out, in)."""

    weight: np.ndarray
    bias: np.ndarray
    relu: bool = False
    name: str = ""
    kind: str = field(default="dense", init=False)


Op = Conv | AvgPool | GlobalAvgPool | Dense


@dataclass
class FoldedNet:
    """A BN-folded float network as NumPy operations.

    Attributes
    ----------
    ops : list of Conv | AvgPool | GlobalAvgPool | Dense
    input_shape : tuple (n_channels, n_times)
        Shape of one window, as the network sees it (viewed as (1, n_channels, n_times)).
    n_classes : int
    """

    ops: list[Op]
    input_shape: tuple[int, int]
    n_classes: int

    def shapes(self) -> list[tuple[int, ...]]:
        """Output shape (without batch) of every op, input first."""
        shape: tuple[int, ...] = (1, *self.input_shape)
        out = [shape]
        for op in self.ops:
            shape = op_output_shape(op, shape)
            out.append(shape)
        return out

    def forward(self, X: np.ndarray, *, return_all: bool = False) -> Any:
        """Float32 forward pass; ``X`` (batch, n_channels, n_times) -> logits (batch, n_classes).

        With ``return_all`` also return the list of every op's output (for calibration).
        """
        x = check_windows(X, self.input_shape, "X")[:, None].astype(np.float32)
        outs = []
        for op in self.ops:
            x = _float_op(op, x)
            outs.append(x)
        return (x, outs) if return_all else x


def check_windows(X: Any, input_shape: tuple[int, int], name: str = "X") -> np.ndarray:
    """Return ``X`` as a float array of shape ``(n, *input_shape)``, raising ``ExportError`` otherwise."""
    X = np.asarray(X)
    if X.ndim == 2 and X.shape == tuple(input_shape):
        X = X[None]
    if X.ndim != 3 or X.shape[1:] != tuple(input_shape) or X.shape[0] < 1:
        raise ExportError(
            f"Invalid shape for {name!r}: expected (n_windows, {input_shape[0]}, {input_shape[1]}), got {X.shape}."
        )
    if not np.issubdtype(X.dtype, np.number):
        raise ExportError(f"Invalid dtype for {name!r}: expected numbers, got {X.dtype}.")
    return X


def op_output_shape(op: Op, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Output shape (without batch) of ``op`` for an input of ``shape``."""
    if isinstance(op, Conv):
        c, h, w = shape
        o, i, kh, kw = op.weight.shape
        if i != c:
            raise ExportError(f"{op.name}: expects {i} input channels, got {c}.")
        ho, wo = h + 2 * op.padding[0] - kh + 1, w + 2 * op.padding[1] - kw + 1
        ho, wo = ho // op.pool[0], wo // op.pool[1]
        if ho < 1 or wo < 1:
            raise ExportError(f"{op.name}: input {shape} is too small for this layer.")
        return (o, ho, wo)
    if isinstance(op, AvgPool):
        c, h, w = shape
        return (c, h // op.kernel[0], w // op.kernel[1])
    if isinstance(op, GlobalAvgPool):
        return (shape[0],)
    if isinstance(op, Dense):
        n = int(np.prod(shape))
        if op.weight.shape[1] != n:
            raise ExportError(f"{op.name}: expects {op.weight.shape[1]} inputs, got {n}.")
        return (op.weight.shape[0],)
    raise ExportError(f"Unknown op {op!r}.")


def conv2d_float(x: np.ndarray, w: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    """Cross-correlation NCHW x OIHW (no bias), float32, by summing over kernel taps."""
    ph, pw = padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _c, h, wd = x.shape
    o, _, kh, kw = w.shape
    ho, wo = h - kh + 1, wd - kw + 1
    out = np.zeros((n, o, ho, wo), dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("oc,nchw->nohw", w[:, :, i, j], x[:, :, i : i + ho, j : j + wo], optimize=True)
    return out


def pool2d(x: np.ndarray, kernel: tuple[int, int], how: str) -> np.ndarray:
    """Max or sum pooling (kernel == stride, floor mode) over the last two axes."""
    kh, kw = kernel
    if (kh, kw) == (1, 1):
        return x
    n, c, h, w = x.shape
    ho, wo = h // kh, w // kw
    x = x[:, :, : ho * kh, : wo * kw].reshape(n, c, ho, kh, wo, kw)
    return x.max(axis=(3, 5)) if how == "max" else x.sum(axis=(3, 5))


def _float_op(op: Op, x: np.ndarray) -> np.ndarray:
    if isinstance(op, Conv):
        y = conv2d_float(x, op.weight, op.padding) + op.bias[None, :, None, None]
        if op.relu:
            y = np.maximum(y, 0)
        return pool2d(y, op.pool, "max").astype(np.float32)
    if isinstance(op, AvgPool):
        return (pool2d(x, op.kernel, "sum") / (op.kernel[0] * op.kernel[1])).astype(np.float32)
    if isinstance(op, GlobalAvgPool):
        return x.mean(axis=(2, 3)).astype(np.float32)
    if isinstance(op, Dense):
        y = x.reshape(x.shape[0], -1) @ op.weight.T + op.bias
        return (np.maximum(y, 0) if op.relu else y).astype(np.float32)
    raise ExportError(f"Unknown op {op!r}.")


# ---------------------------------------------------------------- torch -> ops
def _unwrap(model: Any) -> Any:
    """The torch module inside a fitted sklearn wrapper (``net_``) or the module itself."""
    net = getattr(model, "net_", None)
    if net is not None:
        return net
    try:
        from torch import nn
    except ImportError:  # pragma: no cover - torch is needed to get here anyway
        is_module = False
    else:
        is_module = isinstance(model, nn.Module)
    if not is_module:
        raise ExportError(
            f"Cannot export a {type(model).__name__}: expected a torch SpeechNet-like "
            "nn.Module or a fitted SpeechNetClassifier (with net_)."
        )
    return model


def layer_sequence(model: Any) -> list[tuple[str, Any]]:
    """Leaf layers of a SpeechNet-like network in execution order, as ``(name, module)``.

    Raises ``ExportError`` naming every unsupported layer.
    """
    from torch import nn

    net = _unwrap(model)
    if all(hasattr(net, a) for a in ("blocks", "pool", "classifier")):
        roots = [("blocks", net.blocks), ("pool", net.pool)]
        if hasattr(net, "dropout"):
            roots.append(("dropout", net.dropout))
        roots.append(("classifier", net.classifier))
    elif isinstance(net, nn.Sequential):
        roots = [("", net)]
    else:
        raise ExportError(
            f"Cannot export {type(net).__name__}: expected a SpeechNet-like module "
            "(blocks, pool, classifier) or an nn.Sequential."
        )
    leaves: list[tuple[str, Any]] = []

    def walk(prefix: str, mod: Any) -> None:
        children = list(mod.named_children())
        if isinstance(mod, (nn.Sequential, nn.ModuleList)) and children:
            for n, c in children:
                walk(f"{prefix}.{n}" if prefix else n, c)
        elif isinstance(mod, (nn.Sequential, nn.ModuleList)):
            return
        else:
            leaves.append((prefix, mod))

    for name, mod in roots:
        walk(name, mod)
    bad = [f"{n} ({type(m).__name__})" for n, m in leaves if type(m).__name__ not in _SUPPORTED]
    if bad:
        raise ExportError(f"Unsupported layers for export: {', '.join(bad)}; supported are {', '.join(_SUPPORTED)}.")
    return leaves


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def fold_model(
    model: Any,
    input_shape: tuple[int, int] | None = None,
    *,
    check_inputs: np.ndarray | None = None,
    atol: float = 1e-4,
) -> FoldedNet:
    """Fold BatchNorm into the preceding convolution and return the network as NumPy ops.

    Parameters
    ----------
    model : SpeechNet | nn.Sequential | SpeechNetClassifier
        Trained network (evaluated in eval mode; the model itself is not modified).
    input_shape : (n_channels, n_times) | None
        Window shape; default from ``model.get_config()``.
    check_inputs : array (n, n_channels, n_times) | None
        When given, the folded NumPy forward pass is compared with the torch model on these
        windows and ``ExportError`` is raised when they differ by more than ``atol`` (relative to
        the logit range).
    atol : float
        Tolerance of that check.

    Returns
    -------
    FoldedNet
    """
    from torch import nn

    net = _unwrap(model)
    leaves = layer_sequence(net)
    if input_shape is None:
        cfg = net.get_config() if hasattr(net, "get_config") else {}
        if "n_channels" not in cfg or "n_times" not in cfg:
            raise ExportError("input_shape=(n_channels, n_times) is needed for a model without get_config().")
        input_shape = (int(cfg["n_channels"]), int(cfg["n_times"]))
    input_shape = (int(input_shape[0]), int(input_shape[1]))

    ops: list[Op] = []
    last: Op | None = None  # the op a following BN/ReLU/pool attaches to

    def f32(t: Any) -> np.ndarray:
        return t.detach().cpu().numpy().astype(np.float32).copy()

    for name, m in leaves:
        kind = type(m).__name__
        if isinstance(m, nn.Conv2d):
            bad = []
            if _pair(m.stride) != (1, 1):
                bad.append(f"stride {m.stride}")
            if _pair(m.dilation) != (1, 1):
                bad.append(f"dilation {m.dilation}")
            if m.groups != 1:
                bad.append(f"groups {m.groups}")
            if isinstance(m.padding, str) or m.padding_mode != "zeros":
                bad.append(f"padding {m.padding!r}/{m.padding_mode}")
            if bad:
                raise ExportError(f"Unsupported Conv2d settings in {name}: {', '.join(bad)}.")
            bias = f32(m.bias) if m.bias is not None else np.zeros(m.out_channels, np.float32)
            last = Conv(f32(m.weight), bias, _pair(m.padding), name=name)
            ops.append(last)
        elif isinstance(m, nn.BatchNorm2d):
            if not (isinstance(last, Conv) and not last.relu and last.pool == (1, 1)):
                raise ExportError(f"{name} (BatchNorm2d) must directly follow a Conv2d to be folded.")
            mean = f32(m.running_mean) if m.running_mean is not None else 0.0
            var = f32(m.running_var) if m.running_var is not None else 1.0
            gamma = f32(m.weight) if m.weight is not None else 1.0
            beta = f32(m.bias) if m.bias is not None else 0.0
            scale = (gamma / np.sqrt(np.asarray(var, np.float64) + m.eps)).astype(np.float32)
            scale = np.broadcast_to(scale, (last.weight.shape[0],)).astype(np.float32)
            last.weight = (last.weight * scale[:, None, None, None]).astype(np.float32)
            last.bias = ((last.bias - mean) * scale + beta).astype(np.float32)
        elif isinstance(m, nn.ReLU):
            if isinstance(last, (Conv, Dense)) and not last.relu and getattr(last, "pool", (1, 1)) == (1, 1):
                last.relu = True
            else:
                raise ExportError(f"{name} (ReLU) must follow a Conv2d/BatchNorm2d or Linear.")
        elif isinstance(m, nn.MaxPool2d):
            k = _pair(m.kernel_size)
            s = _pair(m.stride if m.stride is not None else m.kernel_size)
            if s != k or _pair(m.padding) != (0, 0) or _pair(m.dilation) != (1, 1) or m.ceil_mode or m.return_indices:
                raise ExportError(
                    f"Unsupported MaxPool2d settings in {name}: only stride == kernel, "
                    "no padding, no dilation, floor mode."
                )
            if k == (1, 1):
                continue
            if isinstance(last, Conv) and last.pool == (1, 1):
                last.pool = k
            else:
                raise ExportError(f"{name} (MaxPool2d) must follow a Conv2d block.")
        elif isinstance(m, nn.AvgPool2d):
            k = _pair(m.kernel_size)
            s = _pair(m.stride if m.stride is not None else m.kernel_size)
            if s != k or _pair(m.padding) != (0, 0) or m.ceil_mode or m.divisor_override:
                raise ExportError(f"Unsupported AvgPool2d settings in {name}: only stride == kernel, no padding.")
            if k != (1, 1):
                last = AvgPool(k, name=name)
                ops.append(last)
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            if _pair(m.output_size) != (1, 1):
                raise ExportError(f"{name} (AdaptiveAvgPool2d) must have output size 1, got {m.output_size}.")
            last = GlobalAvgPool(name=name)
            ops.append(last)
        elif isinstance(m, nn.Linear):
            b = f32(m.bias) if m.bias is not None else np.zeros(m.out_features, np.float32)
            last = Dense(f32(m.weight), b, name=name)
            ops.append(last)
        elif kind in ("Dropout", "Flatten", "Identity"):
            continue  # identity at inference (Dense flattens)
        else:  # pragma: no cover - layer_sequence already rejected it
            raise ExportError(f"Unsupported layer {name} ({kind}).")
    if not ops or not isinstance(ops[-1], Dense):
        raise ExportError("The network must end with a Linear classifier.")
    folded = FoldedNet(ops, input_shape, int(ops[-1].weight.shape[0]))
    folded.shapes()  # checks that the layers chain

    if check_inputs is not None:
        X = check_windows(check_inputs, input_shape, "check_inputs").astype(np.float32)
        ref = torch_logits(net, X)
        got = folded.forward(X)
        err = float(np.max(np.abs(ref - got)))
        logit_scale = max(1.0, float(np.max(np.abs(ref))))
        logger.debug("BN folding: max logit difference %.3g over %d windows", err, len(X))
        if err > atol * logit_scale:
            raise ExportError(
                f"Folded network differs from the torch model by {err:.3g} (> {atol * logit_scale:.3g}); "
                "the model's forward does not follow the SpeechNet-like structure."
            )
    return folded


def torch_logits(net: Any, X: np.ndarray) -> np.ndarray:
    """Logits of a torch network in eval mode for windows (n, C, T); a plain Sequential gets (n, 1, C, T)."""
    import torch

    net = _unwrap(net)
    x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    if not hasattr(net, "blocks"):
        x = x[:, None]
    was = net.training
    net.eval()
    try:
        with torch.no_grad():
            return net(x).numpy()
    finally:
        net.train(was)


def count_parameters(folded: FoldedNet) -> int:
    """Parameters of the folded network (weights and biases)."""
    n = 0
    for op in folded.ops:
        if isinstance(op, (Conv, Dense)):
            n += op.weight.size + op.bias.size
    return int(n)


def count_macs(folded: FoldedNet) -> int:
    """Multiply-accumulates of one inference of the folded network (convolutions and dense layers)."""
    macs = 0
    shape: tuple[int, ...] = (1, *folded.input_shape)
    for op in folded.ops:
        if isinstance(op, Conv):
            o, i, kh, kw = op.weight.shape
            _, h, w = shape
            ho, wo = h + 2 * op.padding[0] - kh + 1, w + 2 * op.padding[1] - kw + 1
            macs += o * ho * wo * i * kh * kw
        elif isinstance(op, Dense):
            macs += op.weight.size
        shape = op_output_shape(op, shape)
    return int(macs)

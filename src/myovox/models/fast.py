"""Fast CPU forward/backward for :class:`~myovox.models.speechnet.SpeechNet`, same mathematics.

:func:`fast_forward` computes exactly what ``net(x)`` computes (outputs, parameter gradients and
batch-norm running statistics, up to float rounding) with ``net``'s own parameter tensors, so
saving, loading and export see a plain SpeechNet. Where the time goes on a small CPU, and what
this module does about it:

* The temporal blocks are ``Conv2d`` with ``(1, k)`` kernels, i.e. 1-D convolutions along each
  electrode's row. They run as ``conv1d`` over ``(batch * n_channels, filters, time)``; batch
  norm over ``(batch, rows, time)`` of the 2-D layout is batch norm over axes ``(0, 2)`` here.
* Most of the reference's time is spent on elementwise work over the large first-block output
  (batch norm, ReLU, max-pool and their backward passes over ``32 x 8 x 14 x 701`` values).
  Batch norm followed by ReLU is, per filter, a monotone map ``v -> relu(a * (v - mean) + beta)``
  (increasing when ``a = gamma / sqrt(var + eps) >= 0``, decreasing otherwise), so max-pooling
  after it equals applying it after max-pooling ``sign(a) * z``. Statistics still come from the
  full convolution output; only pooled values are normalised. The backward pass is written by
  hand (:class:`_TemporalBlock`): batch-norm's gradient is ``c1 * G + c2 + c3 * z`` per filter,
  where ``G`` is the pooled gradient scattered back to the arg-max positions.
* The first block (one input row, the data itself; :class:`_FirstBlock`) never materialises its
  ``N x F x T`` output: batch-norm statistics of the full convolution output follow exactly from
  the first and second moments of the shifted input (float64, ``k x k`` numbers), the pooled
  maxima come from one matrix product of the input windows of each pooling window with a
  Toeplitz form of the kernels, and the weight gradient is the arg-max part (one matrix product)
  plus a closed form for the dense part of batch norm's gradient.
* DC offsets (raw microvolt data can sit 1e3-1e5 times above the signal): the first block shifts
  each padded row, padding included, by the row's mean, so that ``z = conv1d(xp - c) + c sum(w) + b``
  adds one constant per row; its float32 products, maxima and arg-max sums are then of the
  signal's size, and the constants (``c sum(w) + b - mean``, ``c sum(G)``) are added in double.
  Batch norm sees the pooled values minus the batch mean, and its gradient's constant part
  ``c2' = -sum(G) / m`` is taken from the same sums as the arg-max part, so that offset-sized
  terms cancel in double. The block's outputs and gradients then match float64 autograd to
  ~1e-6 whatever the offset (``test_fast.py``), where float32 autograd's weight gradient drifts
  with it (4e-4 at 1e4 times the signal).
* Elementwise steps run in place over contiguous memory and in float arithmetic: on this class of
  machine fresh megabyte-sized temporaries (page faults) and boolean masks cost more than the
  arithmetic.
* ``conv1d``'s weight gradient for a single input row is slow in oneDNN; where the generic block
  meets one, it is a small batched matrix product over unfolded input instead.
* The gradients of the other temporal convolutions have three forms (aten's backward, 2-D
  kernels on time-major copies, forward convolutions with flipped kernels / the batch as the
  reduction axis); oneDNN's speed differs by up to 1.5x between them depending on the shapes.
  One fixed form is used, so that training is reproducible (:func:`_conv_grads`).
* The first block's moments are lag dot products of the flattened padded input with small
  end corrections (:func:`_shifted_moments`), its weight gradient gathers the ``k`` samples
  under each arg-max instead of scattering into a dense product, and its 10 MB product goes to
  a kept per-thread buffer (:func:`_workspace`).
* Evaluation runs in chunks of 32 windows (larger batches outgrow the caches).

**C kernels** (``_c/kernels.c``, built on first use by :mod:`myovox.models._c` and called through
:mod:`myovox.models._c.bindings`, where each kernel's prototype is declared once; PyTorch
formulation above where no C compiler is available, or with ``use_c=False``). After the steps
above, most of the remaining time was oneDNN's backward of block 2 (2.3 ms per batch of 32
against 0.4 ms for its forward on the machine measured), the first block's Toeplitz product and
hundreds of small tensor operations. :class:`_FirstBlockC` and :class:`_TemporalBlockC` do the
same mathematics with:

* the first block's convolution, max-pool and arg-max as a direct vectorised convolution per
  row (of the row shifted by its mean, as above), its input moments (shifted by each row's mean,
  then exact in float64) and batch-norm statistics in the same pass, and its weight gradient as
  a correlation per row;
* batch norm's statistics, running averages, normalisation + ReLU and the coefficients of its
  gradient in C, one pass each, instead of ~30 tensor operations per block;
* the temporal convolutions of blocks 2 and 3 and their input gradients (a convolution of ``dz``,
  written with zero margins by the kernel that forms it, with the flipped kernels) as one direct
  convolution kernel in two forms chosen by shape, with the same results: vectorised over output
  channels, 12 output samples register-blocked (1.7-2.8x oneDNN's AVX2 kernels, about as fast as
  its AVX-512 ones, on the machine measured in the second session), and, with AVX, vectorised over
  output samples (8-float vectors, pieces of the output rows; 4 channels x 3 vectors), which saves
  moving the results into rows (~15 % of the other form) and is 1.1-1.5x faster on the longer rows
  (kernels.c says where each is used);
* every temporal weight gradient in C, vectorised over filters with 8 lags in registers, rows
  summed in fixed chunks of 32 (float) and the chunks in order (double);
* the signed max-pool (batch norm with a negative scale pools the minimum) in one C pass;
* OpenMP over rows, sharing torch's runtime (one thread pool, ``torch.set_num_threads``); sums
  over rows are taken in row order from per-row partial sums, so results do not depend on the
  thread count.

The only difference from the reference is on measure-zero ties: with ``gamma`` exactly 0 the
reference's max-pool picks the first of equal values while this picks the arg-max of ``z``;
gradients through ReLU at 0 are 0 in both.

**Spatial blocks** (training): one autograd function for both spatial blocks and the average
pooling (:mod:`myovox.models._blocks_spatial`), instead of ~40 small module operations and oneDNN
calls: C kernels (convolutions vectorised over output filters in a time-major layout, reading the
temporal blocks' output in place through strides; batch norm for that layout), or matrix products
in a time-major layout with a hand-written backward where the C kernels are not available.

**The whole network in one C call per direction** (:mod:`myovox.models._network_c`): where every
block fits the C kernels, the kernel sequence above runs as one C function per direction over one
workspace per direction (bitwise the per-block functions' results, without their ~35 calls and ~30
tensor operations per block and direction, which dominated small windows' steps): one autograd node
here, a whole training step without autograd in ``fit`` (``train_step``), and evaluation without
autograd with the running statistics (each window's output depends on that window only).

Modules: this one chooses per block and runs the network (:func:`fast_forward`, evaluation
mode included); :mod:`myovox.models._blocks_torch` holds the PyTorch formulation's autograd
functions, :mod:`myovox.models._blocks_c` those on the C kernels,
:mod:`myovox.models._blocks_spatial` the spatial blocks', :mod:`myovox.models._network_c` the
whole network's, :mod:`myovox.models._c` the kernels' source, build and bindings.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ._blocks_c import _C_FIRST_MAX_KERNEL, _c_ready, _first_eval_c, _FirstBlockC, _TemporalBlockC
from ._blocks_spatial import fits_spatial_head, spatial_head
from ._blocks_torch import _FirstBlock, _pair, _pooled_windows, _row_offsets, _row_shift, _TemporalBlock
from ._network_c import fits, network_eval, network_features

__all__ = ["fast_forward", "supports_fast"]


def supports_fast(net: nn.Module) -> bool:
    """True when ``net`` has SpeechNet's block structure that :func:`fast_forward` handles."""
    blocks = getattr(net, "blocks", None)
    if blocks is None or not hasattr(net, "classifier"):
        return False
    for block in blocks:
        if len(block) != 4:
            return False
        conv, bn, act, pool = block
        if not (
            isinstance(conv, nn.Conv2d)
            and isinstance(bn, nn.BatchNorm2d)
            and isinstance(act, nn.ReLU)
            and isinstance(pool, nn.MaxPool2d)
        ):
            return False
        if conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.groups != 1 or conv.bias is None:
            return False
        if bn.momentum is None or not bn.affine or not bn.track_running_stats:
            return False
        ks = _pair(pool.kernel_size)
        if _pair(pool.stride) != ks or _pair(pool.padding) != (0, 0) or pool.ceil_mode or ks[0] != 1:
            return False
    return True


def _is_temporal(conv: nn.Conv2d, pool: int = 2) -> bool:
    """True for a block the temporal path runs: a ``(1, k)`` kernel without padding across rows.

    A ``(1, 1)`` kernel without pooling (the spatial blocks for 1 or 2 channels, where the spatial kernel
    is 1 row high) is left to the generic 2-D path: per-row it is a temporal block of kernel 1, but the
    temporal path's autograd function for it took ~0.6 ms per block and step (forward and backward) where
    the plain convolution, batch norm and ReLU take ~0.25 ms (2 x 200, batch 32, on the machine measured).
    """
    if tuple(conv.kernel_size) == (1, 1) and pool == 1:
        return False
    return conv.kernel_size[0] == 1 and conv.padding[0] == 0


def _temporal_eval(h: torch.Tensor, conv: Any, bn: Any, pool: int, use_c: bool = False) -> torch.Tensor:
    # conv: nn.Conv2d, bn: nn.BatchNorm2d with running statistics (typed Any: torch declares them optional)
    w = conv.weight.squeeze(2)
    a = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    if h.shape[1] == 1 and pool > 1 and use_c and conv.kernel_size[1] <= _C_FIRST_MAX_KERNEL and _c_ready(h):
        return _first_eval_c(h[:, 0], conv, bn, pool)
    if h.shape[1] == 1 and pool > 1:
        sign1 = torch.where(a >= 0, 1.0, -1.0).to(h.dtype)
        shift = _row_shift(h[:, 0])  # as in training (_FirstBlock): signal-sized float arithmetic
        _, zmax, _ = _pooled_windows(h[:, 0], w[:, 0], None, sign1, conv.padding[1], pool, shift=shift)
        zc = zmax * sign1[:, None] + _row_offsets(
            shift, w[:, 0], conv.bias, bn.running_mean, zmax.shape[1] // h.shape[0]
        )
        out = torch.relu(a[:, None] * zc + bn.bias[:, None])
        return out.view(w.shape[0], h.shape[0], -1).transpose(0, 1)
    z = F.conv1d(h, w, conv.bias, padding=conv.padding[1])
    sign = torch.where(a >= 0, 1.0, -1.0).to(z.dtype)[None, :, None]
    zsel = sign * F.max_pool1d(z * sign, pool) if pool > 1 else z
    return torch.relu(a[None, :, None] * (zsel - bn.running_mean[None, :, None]) + bn.bias[None, :, None])


_EVAL_CHUNK = 32  # windows per evaluation pass


def fast_forward(net: nn.Module, x: torch.Tensor, use_c: bool = True, fused: bool = True) -> torch.Tensor:
    """Logits of ``net`` for ``x`` ``(batch, n_channels, n_times)``, numerically equal to ``net(x)``.

    Uses ``net``'s parameters and buffers (in training mode, batch-norm running statistics are
    updated exactly as ``net(x)`` would). Falls back to ``net(x)`` for structures it does not know.
    ``use_c=False`` keeps to the PyTorch formulation even where the C kernels are available;
    ``fused=False`` runs the C kernels block by block in training too (bitwise the same results).
    """
    if not supports_fast(net):
        return net(x)
    mod: Any = net  # SpeechNet's structure (checked above); torch types module attributes loosely
    if x.dim() == 4:
        x = x[:, 0]
    b, c, t = x.shape
    if not mod.training and b > _EVAL_CHUNK:
        # windows are independent in evaluation; larger batches outgrow the caches (per window,
        # 256 at once took 2.2x and 128 1.7x the time of 64 at once on the machine measured, and
        # with the C kernels 64 at once about 1.15x the time of 32)
        return torch.cat([fast_forward(net, x[i : i + _EVAL_CHUNK], use_c, fused) for i in range(0, b, _EVAL_CHUNK)])
    if use_c and fused and (mod.training or not torch.is_grad_enabled()) and _c_ready() and fits(list(mod.blocks), x):
        # the whole network in C: one autograd node in training, no autograd in evaluation
        features = network_features if mod.training else network_eval
        return mod.classifier(mod.dropout(features(list(mod.blocks), x)))
    h = x.reshape(b * c, 1, t)
    spatial_from = len(mod.blocks)
    for i, block in enumerate(mod.blocks):
        conv, bn, _, pool = block
        p = _pair(pool.kernel_size)[1]
        if not _is_temporal(conv, p):
            spatial_from = i
            break
        if mod.training and h.shape[1] == 1 and p > 1 and not h.requires_grad:
            first = (
                _FirstBlockC if use_c and conv.kernel_size[1] <= _C_FIRST_MAX_KERNEL and _c_ready(h) else _FirstBlock
            )
            h = first.apply(
                h[:, 0],
                conv.weight.squeeze(2)[:, 0],
                conv.bias,
                bn.weight,
                bn.bias,
                bn.running_mean,
                bn.running_var,
                bn.num_batches_tracked,
                conv.padding[1],
                p,
                float(bn.momentum),
                float(bn.eps),
            )
        elif mod.training:
            block_fn = _TemporalBlockC if use_c and p > 1 and _c_ready(h) else _TemporalBlock
            h = block_fn.apply(
                h,
                conv.weight.squeeze(2),
                conv.bias,
                bn.weight,
                bn.bias,
                bn.running_mean,
                bn.running_var,
                bn.num_batches_tracked,
                conv.padding[1],
                p,
                float(bn.momentum),
                float(bn.eps),
            )
        else:
            h = _temporal_eval(h, conv, bn, p, use_c)
    spatial = list(mod.blocks)[spatial_from:]
    positions = b * h.shape[2] * (c - spatial[0][0].kernel_size[0] + 1) if spatial else 0
    if mod.training and spatial_from > 0 and spatial and fits_spatial_head(spatial, positions):
        # training only: its matrix products round differently for different batch sizes, and a window's
        # prediction must not depend on the windows evaluated with it (the modules' convolutions do not)
        h = h.contiguous()
        return mod.classifier(mod.dropout(spatial_head(h, b, c, spatial, use_c=use_c and _c_ready(h))))
    nf, tf = h.shape[1], h.shape[2]
    h = h.reshape(b, c, nf, tf).transpose(1, 2)
    for block in spatial:
        conv, bn, _, pool = block
        h = F.conv2d(h, conv.weight, conv.bias, padding=conv.padding)
        h = F.batch_norm(h, bn.running_mean, bn.running_var, bn.weight, bn.bias, mod.training, bn.momentum, bn.eps)
        if mod.training:
            bn.num_batches_tracked.add_(1)
        h = F.relu(h)
        if _pair(pool.kernel_size) != (1, 1):
            h = F.max_pool2d(h, pool.kernel_size)
    h = h.mean(dim=(2, 3))
    return mod.classifier(mod.dropout(h))

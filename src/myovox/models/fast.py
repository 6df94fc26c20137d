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
* ``conv1d``'s weight gradient for a single input row (block 1) is slow in oneDNN; it is a small
  batched matrix product over unfolded input instead.

The only difference from the reference is on measure-zero ties: with ``gamma`` exactly 0 the
reference's max-pool picks the first of equal values while this picks the arg-max of ``z``;
gradients through ReLU at 0 are 0 in both.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

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
        if not (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
                and isinstance(act, nn.ReLU) and isinstance(pool, nn.MaxPool2d)):
            return False
        if conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.groups != 1 or conv.bias is None:
            return False
        if bn.momentum is None or not bn.affine or not bn.track_running_stats:
            return False
        ks = _pair(pool.kernel_size)
        if _pair(pool.stride) != ks or _pair(pool.padding) != (0, 0) or pool.ceil_mode or ks[0] != 1:
            return False
    return True


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)  # type: ignore[return-value]


def _is_temporal(conv: nn.Conv2d) -> bool:
    return conv.kernel_size[0] == 1 and conv.padding[0] == 0


def _channel_var_mean(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # biased variance and mean over axes (0, 2): two-pass per-row moments (simple contiguous
    # reductions are ~5x faster than var_mean's Welford kernel here), then the exact
    # pooled-variance combination of equally long rows
    m = z.mean(2, keepdim=True)
    d = z - m
    v = (d * d).mean(2)
    m = m[:, :, 0]
    mean = m.mean(0)
    return (v + (m - mean) ** 2).mean(0), mean


class _TemporalBlock(torch.autograd.Function):
    """conv1d -> BatchNorm (batch statistics) -> ReLU -> max-pool, with a hand-written backward."""

    @staticmethod
    def forward(ctx, h, weight, bias, gamma, beta, running_mean, running_var, num_batches,
                pad: int, pool: int, momentum: float, eps: float):
        z = F.conv1d(h, weight, bias, padding=pad)          # (N, F, T)
        var, mean = _channel_var_mean(z)
        m = z.shape[0] * z.shape[2]
        running_mean.mul_(1.0 - momentum).add_(mean, alpha=momentum)
        running_var.mul_(1.0 - momentum).add_(var * (m / max(m - 1, 1)), alpha=momentum)
        num_batches.add_(1)
        invstd = torch.rsqrt(var + eps)
        a = gamma * invstd
        sign = torch.where(a >= 0, 1.0, -1.0).to(z.dtype)[None, :, None]
        flip = bool((sign < 0).any())
        if pool > 1:  # arg-max positions are recovered in backward (max-pool's index output is slow)
            zs = F.max_pool1d(z * sign if flip else z, pool)
            zsel = zs * sign if flip else zs
        else:
            zsel = z
        u = a[None, :, None] * (zsel - mean[None, :, None]) + beta[None, :, None]
        out = torch.relu(u)
        ctx.save_for_backward(h, weight, z, zsel, sign, mean, invstd, gamma, out)
        ctx.pad, ctx.pool, ctx.m, ctx.flip = pad, pool, m, flip
        return out

    @staticmethod
    def backward(ctx, go):
        h, weight, z, zsel, sign, mean, invstd, gamma, out = ctx.saved_tensors
        gu = go * (out > 0)
        dbeta = gu.sum(dim=(0, 2))
        xhat_sel = (zsel - mean[None, :, None]) * invstd[None, :, None]
        dgamma = (gu * xhat_sel).sum(dim=(0, 2))
        c1 = gamma * invstd
        c3 = -c1 * dgamma * invstd / ctx.m
        c2 = -c1 * dbeta / ctx.m - c3 * mean
        # dL/dz = c1 * scatter(gu) + c2 + c3 * z, per filter
        dz = z * c3[None, :, None]
        dz.add_(c2[None, :, None])
        if ctx.pool > 1:
            g = gu * c1[None, :, None]
            n, f, tp = g.shape
            zv = z[:, :, : tp * ctx.pool].unflatten(2, (tp, ctx.pool))
            hit = zv == zsel.unsqueeze(3)
            if int(hit.sum()) == g.numel():  # exactly one arg-max per window: no ties, no NaN
                dz[:, :, : tp * ctx.pool].unflatten(2, (tp, ctx.pool)).addcmul_(hit.to(g.dtype), g.unsqueeze(3))
            else:  # ties: max-pool's own first-index rule, as the reference
                _, idx = F.max_pool1d(z * sign if ctx.flip else z, ctx.pool, return_indices=True)
                dz.scatter_add_(2, idx, g)
        else:
            dz.add_(gu * c1[None, :, None])
        dh = dw = db = None
        need_h, need_w, need_b = ctx.needs_input_grad[0], ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        if need_b:
            db = dz.sum(dim=(0, 2))
        if h.shape[1] == 1 and need_w and not need_h:
            # single input row: weight gradient as a batched product over unfolded input (oneDNN is slow here)
            k = weight.shape[2]
            u = F.pad(h[:, 0], (ctx.pad, ctx.pad)).unfold(1, k, 1)[:, : dz.shape[2]].contiguous()  # (N, T, k)
            dw = torch.bmm(dz, u).sum(0).unsqueeze(1)
        elif need_h or need_w:
            dh, dw, _ = torch.ops.aten.convolution_backward(
                dz, h, weight, None, [1], [ctx.pad], [1], False, [0], 1, [need_h, need_w, False])
        return dh, dw, db, dgamma, dbeta, None, None, None, None, None, None, None


def _temporal_eval(h: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d, pool: int) -> torch.Tensor:
    w = conv.weight.squeeze(2)
    z = F.conv1d(h, w, conv.bias, padding=conv.padding[1])
    a = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    sign = torch.where(a >= 0, 1.0, -1.0).to(z.dtype)[None, :, None]
    zsel = sign * F.max_pool1d(z * sign, pool) if pool > 1 else z
    return torch.relu(a[None, :, None] * (zsel - bn.running_mean[None, :, None]) + bn.bias[None, :, None])


def fast_forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Logits of ``net`` for ``x`` ``(batch, n_channels, n_times)``, numerically equal to ``net(x)``.

    Uses ``net``'s parameters and buffers (in training mode, batch-norm running statistics are
    updated exactly as ``net(x)`` would). Falls back to ``net(x)`` for structures it does not know.
    """
    if not supports_fast(net):
        return net(x)
    if x.dim() == 4:
        x = x[:, 0]
    b, c, t = x.shape
    h = x.reshape(b * c, 1, t)
    spatial_from = len(net.blocks)
    for i, block in enumerate(net.blocks):
        conv, bn, _, pool = block
        if not _is_temporal(conv):
            spatial_from = i
            break
        p = _pair(pool.kernel_size)[1]
        if net.training:
            h = _TemporalBlock.apply(h, conv.weight.squeeze(2), conv.bias, bn.weight, bn.bias, bn.running_mean,
                                     bn.running_var, bn.num_batches_tracked, conv.padding[1], p,
                                     float(bn.momentum), float(bn.eps))
        else:
            h = _temporal_eval(h, conv, bn, p)
    nf, tf = h.shape[1], h.shape[2]
    h = h.reshape(b, c, nf, tf).transpose(1, 2)
    for block in list(net.blocks)[spatial_from:]:
        conv, bn, _, pool = block
        h = F.conv2d(h, conv.weight, conv.bias, padding=conv.padding)
        h = F.batch_norm(h, bn.running_mean, bn.running_var, bn.weight, bn.bias, net.training, bn.momentum, bn.eps)
        if net.training:
            bn.num_batches_tracked.add_(1)
        h = F.relu(h)
        if _pair(pool.kernel_size) != (1, 1):
            h = F.max_pool2d(h, pool.kernel_size)
    h = h.mean(dim=(2, 3))
    return net.classifier(net.dropout(h))

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

**C kernels** (``_kernels.c``, built on first use by :mod:`myovox.models._ckernels`; PyTorch
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
* for long kernels (block 2) the input gradient as a forward convolution of ``dz`` padded in
  place (``dz`` is written with its margins by the kernel that forms it) with the flipped
  kernels, as interleaved strided convolutions where the layer has fewer than 16 input
  channels (:func:`_input_grad`), and the weight gradient in C, register-blocked over 4 input
  rows x 4 filters and vectorised over the lag;
* OpenMP over rows, sharing torch's runtime (one thread pool, ``torch.set_num_threads``); sums
  over rows are taken in row order from per-row partial sums, so results do not depend on the
  thread count.

The only difference from the reference is on measure-zero ties: with ``gamma`` exactly 0 the
reference's max-pool picks the first of equal values while this picks the arg-max of ``z``;
gradients through ReLU at 0 are 0 in both.
"""
from __future__ import annotations

import threading
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import _ckernels as _ck

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


# conv1d's backward pass, written three ways; oneDNN's speed depends strongly on the shapes and
# memory layout (on one 2-core AVX-512 machine block 2's took 5.4 ms as aten's backward, 4.0 ms as
# forward convolutions and 3.5 ms as 2-D kernels on time-major copies; block 3's ~0.5 ms in all),
# so one of them is used for every shape (:data:`CONV_GRAD_FORM`).
#: The form used (index into ``[aten, channels_last, as_forward]``). It is fixed, not timed per run:
#: the forms round differently, and a timed choice made two-thread trainings with the same seed
#: differ from run to run. ``channels_last`` was the fastest for block 2 and as fast as the others
#: for block 3 where measured (see above).
CONV_GRAD_FORM: int = 1

#: Temporal kernels at least this long take their weight gradient from the C kernel (``_kernels.c``).
_C_DW_MIN_KERNEL = 16


def _choose_form(key: tuple, options: list) -> Any:
    return options[CONV_GRAD_FORM]()


def _conv_grads(dz: torch.Tensor, h: torch.Tensor, weight: torch.Tensor, pad: int, need_h: bool,
                need_w: bool) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Gradients of ``conv1d(h, weight, padding=pad)`` (stride 1) w.r.t. ``h`` and ``weight``."""
    k, t = weight.shape[2], h.shape[2]
    mask = [need_h, need_w, False]

    def aten() -> tuple:
        return torch.ops.aten.convolution_backward(dz, h, weight, None, [1], [pad], [1], False, [0], 1, mask)[:2]

    def channels_last() -> tuple:  # the 2-D kernels on (N, C, 1, T) stored time-major
        cl = torch.channels_last
        dh, dw, _ = torch.ops.aten.convolution_backward(
            dz.unsqueeze(2).contiguous(memory_format=cl), h.unsqueeze(2).contiguous(memory_format=cl),
            weight.unsqueeze(2), None, [1, 1], [0, pad], [1, 1], False, [0, 0], 1, mask)
        # contiguous: the caller's elementwise steps and copies are several times slower on a transposed layout
        return (dh[:, :, 0].contiguous() if need_h else None), (dw[:, :, 0].contiguous() if need_w else None)

    def as_forward() -> tuple:
        dh = dw = None
        if need_h:  # full correlation with the flipped, transposed kernels
            w_t = weight.flip(2).transpose(0, 1).contiguous()
            dh = F.conv1d(dz, w_t, padding=k - 1)[:, :, pad:pad + t]
        if need_w:  # batch as the reduction axis: dW[f, c, j] = sum_n,t dz[n,f,t] h[n,c,t+j]
            hp = F.pad(h, (pad, pad)).transpose(0, 1)
            dw = F.conv1d(hp, dz.transpose(0, 1)).transpose(0, 1)[:, :, :k].contiguous()
        return dh, dw

    key = (tuple(dz.shape), tuple(weight.shape), pad, need_h, need_w, torch.get_num_threads())
    return _choose_form(key, [aten, channels_last, as_forward])


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
            tp = g.shape[2]
            # arg-max positions as a float 0/1 mask over contiguous memory (a broadcast comparison
            # against the pooled maxima, or a boolean mask, costs twice as much here)
            head = z[:, :, : tp * ctx.pool]
            hit = zsel.repeat_interleave(ctx.pool, dim=2)
            torch.eq(head, hit, out=hit)
            if int(hit.sum()) == g.numel():  # exactly one arg-max per window: no ties, no NaN
                dz[:, :, : tp * ctx.pool].addcmul_(g.repeat_interleave(ctx.pool, dim=2), hit)
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
        else:
            dh, dw = _conv_grads(dz, h, weight, ctx.pad, need_h, need_w)
        return dh, dw, db, dgamma, dbeta, None, None, None, None, None, None, None


_WORKSPACE_MAX = 8 * 1024 * 1024  # values (32 MiB of float32)
_LOCAL = threading.local()


def _workspace(slot: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A scratch tensor reused across calls in this thread (up to ``_WORKSPACE_MAX`` values).

    The C allocator maps every fresh block of this size afresh and the first writes page-fault:
    on the machine measured, a 10 MB product took 1.8 ms into a fresh tensor and 0.8 ms into a
    kept one. Callers must not let the result escape the call that asked for it.
    """
    numel = 1
    for d in shape:
        numel *= d
    if numel > _WORKSPACE_MAX:
        return torch.empty(shape, dtype=dtype)
    bufs = getattr(_LOCAL, "bufs", None)
    if bufs is None:
        bufs = _LOCAL.bufs = {}
    key = (slot, torch.is_inference_mode_enabled())  # inference tensors cannot be written outside
    buf = bufs.get(key)
    if buf is None or buf.numel() < numel or buf.dtype != dtype:
        buf = bufs[key] = torch.empty(numel, dtype=dtype)
    return buf[:numel].view(shape)


def _row_shift(x: torch.Tensor) -> torch.Tensor:
    """Each row's mean (float): the shift that keeps the first block's float arithmetic signal-sized."""
    return x.mean(1, dtype=torch.float64).to(x.dtype)


def _pooled_windows(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, sign: torch.Tensor,
                    pad: int, pool: int, shift: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Max-pooled ``sign * conv1d(x)`` of a single-row input as one matrix product.

    Each pooled output sees ``L = pool + k - 1`` input samples; a Toeplitz matrix ``(pool * F, L)``
    gives all ``pool`` convolution outputs of every filter at once. Returns the input windows
    ``(R, L)`` (``R = N * n_pooled``), the maxima ``(F, R)`` and their positions ``(F, R)`` as
    floats (filter-major, so that every step below runs over contiguous memory).

    With ``shift`` (one value per row), the padded rows are shifted by it *including their
    padding*: then ``z = conv1d(xp - shift) + shift * sum(w) + b`` with the same constant at every
    position of a row, so the arg-max is unchanged and the maxima (and returned windows) are those
    of the shifted rows, without the bias (the caller adds each row's constant in double).
    """
    n, t = x.shape
    f, k = weight.shape
    length = pool + k - 1
    t_out = t + 2 * pad - k + 1
    tp = t_out // pool
    xp = F.pad(x, (pad, pad))
    if shift is not None:
        xp = xp - shift[:, None]
    xw = xp.unfold(1, length, pool)[:, :tp].reshape(n * tp, length)
    ws = weight * sign[:, None]
    toe = weight.new_zeros(pool, f, length)
    for j in range(pool):
        toe[j, :, j:j + k] = ws
    # the bias is added to the maxima only (addmm would first copy it into the whole product); the
    # product goes to a kept buffer up to _WORKSPACE_MAX values (a fresh one of this size is mapped
    # and page-faulted on every call by the C allocator: 1.8 instead of 0.8 ms per batch of 32)
    zs = _workspace("products", (pool * f, n * tp), x.dtype)
    torch.mm(toe.view(pool * f, length), xw.t(), out=zs)
    zs = zs.view(pool, f, n * tp)
    # running maximum over the pool positions (a reduction over a short inner axis is slow), in
    # place and in float arithmetic (fresh megabyte temporaries and boolean masks cost more than
    # the arithmetic here). Positions only grow, so "strictly greater -> j" is max(idx, j * gt):
    # the first index wins ties, as in max-pool.
    zmax = zs[0].clone()
    idx = torch.zeros_like(zmax)
    gt = torch.empty_like(zmax)
    for j in range(1, pool):
        torch.gt(zs[j], zmax, out=gt)
        torch.maximum(idx, gt.mul_(j), out=idx)
        torch.maximum(zmax, zs[j], out=zmax)
    if bias is not None:
        zmax.add_((bias * sign)[:, None])
    return xw, zmax, idx


def _row_offsets(shift: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, centre: torch.Tensor,
                 tp: int) -> torch.Tensor:
    """``shift[r] * sum(w_f) + b_f - centre_f`` per filter and pooled output ``(F, N * tp)``, in double
    then float: what turns the maxima of the shifted rows into values relative to ``centre``."""
    off = (shift.double()[None, :] * weight.detach().double().sum(1)[:, None]
           + (bias.detach().double() - centre.double())[:, None])
    return off.to(weight.dtype).repeat_interleave(tp, dim=1)


def _shifted_moments(x: torch.Tensor, k: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums ``s1[i]`` of ``u_i`` and ``s2[i, j]`` of ``u_i * u_j`` (float64), ``u_i`` = zero-padded rows shifted by ``i``.

    ``u_i`` covers columns ``i .. i + t_out - 1`` of each padded row. Lag-``l`` products of the
    whole flattened array are one dot product each (pairs across two rows always meet a padding
    zero, since ``l <= k - 1 <= 2 * pad``); the few columns at both ends outside a shift's range
    are subtracted from small Gram matrices.
    """
    xd = F.pad(x, (pad, pad)).double()
    width = xd.shape[1]
    t_out = width - k + 1
    if k - 1 > 2 * pad:  # rows could meet without a padding zero between them: direct sums
        s1d = torch.stack([xd[:, i:i + t_out].sum() for i in range(k)])
        s2d = xd.new_empty(k, k)
        for i in range(k):
            for j in range(i, k):
                s2d[i, j] = s2d[j, i] = (xd[:, i:i + t_out] * xd[:, j:j + t_out]).sum()
        return s1d, s2d
    flat = xd.view(-1)
    lag = [float(torch.dot(flat[:flat.numel() - l], flat[l:])) for l in range(k)]
    col = xd.sum(0)
    total = float(col.sum())
    lead = xd[:, :k]
    tail = xd[:, t_out:]
    g_lead = (lead.t() @ lead).tolist()
    g_tail = (tail.t() @ tail).tolist() if tail.shape[1] else []
    col_l = col.tolist()
    s1 = [total - sum(col_l[:i]) - sum(col_l[i + t_out:]) for i in range(k)]
    s2 = [[0.0] * k for _ in range(k)]
    for i in range(k):
        for j in range(i, k):
            l = j - i
            v = lag[l] - sum(g_lead[a][a + l] for a in range(i))
            v -= sum(g_tail[a - t_out][a + l - t_out] for a in range(i + t_out, width - l))
            s2[i][j] = s2[j][i] = v
    return torch.tensor(s1, dtype=torch.float64), torch.tensor(s2, dtype=torch.float64)


class _FirstBlock(torch.autograd.Function):
    """First temporal block on a single input row (the data): no input gradient is needed.

    Batch-norm statistics of the full convolution output come from the first and second moments
    of the unfolded input (float64), so the ``N x F x T`` output is never materialised: the
    forward pass computes only the pooled maxima (one matrix product) and the weight gradient is
    the arg-max part (a matrix product) plus a closed form for the dense part ``c2 + c3 * z`` of
    batch norm's gradient.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, gamma, beta, running_mean, running_var, num_batches,
                pad: int, pool: int, momentum: float, eps: float):
        n, t = x.shape
        f, k = weight.shape
        t_out = t + 2 * pad - k + 1
        m = n * t_out
        # s1[i] = sum of u_i, s2[i, j] = sum of u_i * u_j, with u_i the input shifted by i samples
        s1, s2 = _shifted_moments(x, k, pad)
        mu = s1 / m
        wd, bd = weight.double(), bias.double()
        mean_d = wd @ mu + bd
        var_d = (((wd @ (s2 / m - torch.outer(mu, mu))) * wd).sum(1)).clamp_min(0.0)
        mean, var = mean_d.to(x.dtype), var_d.to(x.dtype)
        running_mean.mul_(1.0 - momentum).add_(mean, alpha=momentum)
        running_var.mul_(1.0 - momentum).add_(var * (m / max(m - 1, 1)), alpha=momentum)
        num_batches.add_(1)
        invstd = torch.rsqrt(var + eps)
        a = gamma * invstd
        sign = torch.where(a >= 0, 1.0, -1.0).to(x.dtype)
        # rows shifted by their means (with their padding): float arithmetic on signal-sized
        # values, and the pooled values relative to the batch mean, zc = zsel - mean, with the
        # offset-sized constants in double (a DC offset of 1e4 times the signal would otherwise
        # leave float32 values only 1e-3 of the signal apart)
        shift = _row_shift(x)
        xw, zmax, idx = _pooled_windows(x, weight, None, sign, pad, pool, shift=shift)
        zc = zmax * sign[:, None] + _row_offsets(shift, weight, bias, mean_d, zmax.shape[1] // n)
        out = torch.relu(a[:, None] * zc + beta[:, None])   # (F, R)
        ctx.save_for_backward(xw, idx, zc, invstd, gamma, out, s1, s2, weight, bias, shift, mean_d)
        ctx.pool, ctx.m, ctx.k = pool, m, k
        return out.view(f, n, -1).transpose(0, 1).contiguous()  # (N, F, n_pooled)

    @staticmethod
    def backward(ctx, go):
        xw, idx, zc, invstd, gamma, out, s1, s2, weight, bias, shift, mean_d = ctx.saved_tensors
        m, k = ctx.m, ctx.k
        f, r = out.shape
        gu = go.transpose(0, 1).reshape(f, r) * (out > 0)
        dbeta = gu.sum(1)
        dgamma = (gu * (zc * invstd[:, None])).sum(1)
        c1 = gamma * invstd
        c3 = -c1 * dgamma * invstd / m
        g = gu * c1[:, None]
        # dL/dz = G + c2' + c3 * (z - mean) with c2' = -sum(G) / m, taken from the same sums of G
        # as the arg-max part below, so that their offset-sized terms cancel in double
        gsum = g.view(f, shift.shape[0], -1).sum(2, dtype=torch.float64)   # (F, N)
        c2p = -gsum.sum(1) / m
        dw = db = None
        if ctx.needs_input_grad[1]:
            # arg-max part: G times the k input samples under the selected position of each
            # pooling window, gathered ((F, R, k), no dense scatter) and reduced by one batched
            # product; on the shifted rows (xw), plus shift * sum(G) per row in double
            index = torch.add(idx.long().unsqueeze(2), torch.arange(k), out=_workspace("index", (f, r, k), torch.int64))
            under = torch.gather(xw.unsqueeze(0).expand(f, r, xw.shape[1]), 2, index,
                                 out=_workspace("under", (f, r, k), xw.dtype))
            dws = torch.bmm(g.unsqueeze(1), under)[:, 0].double() + (gsum @ shift.double())[:, None]
            # dense part: sum over all positions of (c2' + c3 (z - mean)) u = c2' s1 + c3 (s2 w + (b - mean) s1)
            c3d, wd, bd = c3.double(), weight.double(), bias.double()
            dense = c2p[:, None] * s1[None] + c3d[:, None] * (wd @ s2 + (bd - mean_d)[:, None] * s1[None])
            dw = (dws + dense).to(weight.dtype)
        if ctx.needs_input_grad[2]:
            db = (c1.double() * dbeta.double() + c2p * m).to(weight.dtype)  # 0 up to rounding, as batch norm makes it
        return None, dw, db, dgamma, dbeta, None, None, None, None, None, None, None


def _sign_of(gamma: torch.Tensor) -> torch.Tensor:
    # sign of batch norm's slope gamma / sqrt(var + eps): the square root is positive
    return torch.where(gamma >= 0, 1.0, -1.0).to(gamma.dtype).contiguous()


def _c(name: str, *args: Any) -> Any:
    """Call C kernel ``name``; tensors are passed by address and kept alive for the call.

    Every tensor must be contiguous (outputs are written in place): a silent copy would lose
    the results, and a temporary freed before the call would hand C a dangling pointer. A
    non-zero return code raises (``MemoryError`` when the kernel could not allocate).
    """
    for a in args:
        if isinstance(a, torch.Tensor) and not a.is_contiguous():
            raise ValueError(f"{name}: tensor arguments must be contiguous")
    ptrs = [a.data_ptr() if isinstance(a, torch.Tensor) else a for a in args]
    _ck.sync_threads(torch.get_num_threads())
    rc = getattr(_ck.kernels(), name)(*ptrs)  # args (the tensors) stay referenced until it returns
    if rc:  # kernels that can fail return 0 on success
        if rc == -1:
            raise MemoryError(f"myovox's C kernel {name} could not allocate its work buffers.")
        raise RuntimeError(f"myovox's C kernel {name} failed with code {rc}"
                           + (" (first temporal kernel longer than 64 samples)." if rc == -2 else "."))
    return rc


def _c_ready(*tensors: torch.Tensor) -> bool:
    """True when the C kernels are available and every tensor is contiguous float32 on the CPU."""
    return (_ck.kernels() is not None
            and all(t.dtype == torch.float32 and t.device.type == "cpu" and t.is_contiguous() for t in tensors))


def _c_bn_relu(zsel: torch.Tensor, mean: torch.Tensor, a: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """``relu(a * (zsel - mean) + beta)`` per filter of ``zsel`` ``(N, F, tp)``, in one C pass."""
    n, f, tp = zsel.shape
    out = torch.empty_like(zsel)
    _c("myovox_bn_relu", zsel, n, f, tp, mean.contiguous(), a.contiguous(), beta.detach().contiguous(), out)
    return out


def _c_bn_train(mean_d: torch.Tensor, var_d: torch.Tensor, m: int, gamma: torch.Tensor, beta: torch.Tensor,
                running_mean: torch.Tensor, running_var: torch.Tensor, num_batches: torch.Tensor, momentum: float,
                eps: float, zsel: torch.Tensor, centred: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch norm in training mode from batch statistics, in C: ``(out, mean, invstd)``.

    Updates the running statistics exactly as torch's batch norm does (unbiased variance) and
    maps the pooled values ``zsel`` through batch norm and ReLU (``centred``: ``zsel`` already
    holds the values minus the batch mean, as the first block's kernel writes them).
    """
    f = mean_d.shape[0]
    mean, invstd, a = (torch.empty(f, dtype=zsel.dtype) for _ in range(3))
    _c("myovox_bn_train_stats", mean_d, var_d, f, m, gamma.detach().contiguous(), eps, momentum, running_mean,
       running_var, num_batches, mean, invstd, a)
    return _c_bn_relu(zsel, torch.zeros_like(mean) if centred else mean, a, beta), mean, invstd


def _c_bn_relu_bwd(go, out, zsel, mean, invstd, gamma, m: int):
    """Batch norm + ReLU's backward on pooled values, in one C pass: ``(g, dbeta, dgamma, c2, c3, db)``.

    ``g = gamma * invstd * go * (out > 0)`` is the arg-max part of the gradient before max-pool's
    scatter; ``dL/dz = scatter(g) + c2 + c3 * z`` per filter; ``db`` is the gradient of the bias
    of the convolution before batch norm (see ``_kernels.c``).
    """
    n, f, tp = out.shape
    go = go.contiguous()
    g = torch.empty_like(out)
    dbeta, dgamma, c2, c3, db = (torch.empty(f, dtype=out.dtype) for _ in range(5))
    _c("myovox_bn_relu_bwd", go, out, zsel, n, f, tp, mean, invstd, gamma.detach().contiguous(), m, g,
       dbeta, dgamma, c2, c3, db)
    return g, dbeta, dgamma, c2, c3, db


class _FirstBlockC(torch.autograd.Function):
    """:class:`_FirstBlock` with every step in C (``_kernels.c``), same mathematics.

    The pooled maxima come from a direct convolution per row (no Toeplitz product), batch-norm
    statistics from input moments, the arg-max part of the weight gradient from a gather-and-sum
    per row; the ``(N, F, n_pooled)`` output is written in place.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, gamma, beta, running_mean, running_var, num_batches,
                pad: int, pool: int, momentum: float, eps: float):
        n, t = x.shape
        f, k = weight.shape
        tp = (t + 2 * pad - k + 1) // pool
        w, b = weight.detach().contiguous(), bias.detach().contiguous()
        zsel = x.new_empty(n, f, tp)
        idx = torch.empty(n, f, tp, dtype=torch.int32)
        # s1[i] = sum of u_i, s2[i, j] = sum of u_i * u_j, with u_i the input shifted by i samples
        s1, s2 = torch.empty(k, dtype=torch.float64), torch.empty(k, k, dtype=torch.float64)
        mean_d, var_d = torch.empty(f, dtype=torch.float64), torch.empty(f, dtype=torch.float64)
        crow = x.new_empty(n)  # each row's shift (its mean): the kernels work on signal-sized values
        _c("myovox_first_fwd", x, n, t, w, b, _sign_of(gamma.detach()), f, k, pad, pool, tp, zsel, idx, s1, s2,
           mean_d, var_d, crow)
        m = n * (t + 2 * pad - k + 1)
        # zsel holds the pooled values minus the batch mean (exact offsets in double, _kernels.c)
        out, mean, invstd = _c_bn_train(mean_d, var_d, m, gamma, beta, running_mean, running_var, num_batches,
                                        momentum, eps, zsel, centred=True)
        ctx.save_for_backward(x, idx, zsel, invstd, gamma, out, s1, s2, w, b, crow, mean_d)
        ctx.pool, ctx.m, ctx.k, ctx.pad = pool, m, k, pad
        return out

    @staticmethod
    def backward(ctx, go):
        x, idx, zsel, invstd, gamma, out, s1, s2, w, b, crow, mean_d = ctx.saved_tensors
        n, t = x.shape
        f, tp = out.shape[1], out.shape[2]
        g, dbeta, dgamma, _, c3, db = _c_bn_relu_bwd(go, out, zsel, torch.zeros_like(invstd), invstd, gamma, ctx.m)
        dw = None
        if ctx.needs_input_grad[1]:
            dw = torch.empty(f, ctx.k, dtype=x.dtype)
            _c("myovox_first_dw", x, n, t, g, idx, f, ctx.k, ctx.pad, ctx.pool, tp, s1, s2, w, b, crow, mean_d, c3,
               dw)
        return None, dw, db if ctx.needs_input_grad[2] else None, dgamma, dbeta, None, None, None, None, None, None, None


def _input_grad(dz: torch.Tensor, weight: torch.Tensor, t_in: int, phases: int) -> torch.Tensor:
    """Input gradient of a stride-1 conv1d from ``dz`` padded for the full correlation.

    ``dh[s] = sum_j dz_padded[s + j] * w[::-1][j]`` (a forward convolution with the flipped,
    transposed kernels). With ``phases > 1`` the outputs ``s = phases * u + p`` are computed as
    one stride-``phases`` convolution whose output channels are (phase, channel), kernels shifted
    by ``p`` taps, then interleaved: the same sums, in more output channels.
    """
    wt = weight.flip(2).transpose(0, 1)                                # (C, F, k)
    if phases == 1:
        return F.conv1d(dz[:, :, :t_in + wt.shape[2] - 1], wt.contiguous())
    c, f, k = wt.shape
    wp = wt.new_zeros(phases, c, f, k + phases - 1)
    for p in range(phases):
        wp[p, :, :, p:p + k] = wt
    n_out = -(-t_in // phases)
    o = F.conv1d(dz[:, :, :phases * n_out + k + phases - 2], wp.view(phases * c, f, k + phases - 1), stride=phases)
    o = o[:, :, :n_out]
    return o.view(dz.shape[0], phases, c, n_out).permute(0, 2, 3, 1).reshape(dz.shape[0], c, phases * n_out)[
        :, :, :t_in].contiguous()


class _TemporalBlockC(torch.autograd.Function):
    """:class:`_TemporalBlock` with batch norm's statistics and gradients and the weight gradient in C.

    Forward: oneDNN's convolution and max-pool, then one C pass for the statistics and one for
    batch norm + ReLU. Backward: one C pass for batch norm + ReLU, one that writes
    ``dz = c3 * z + c2`` plus the pooled gradient at each window's arg-max (found as the first
    position equal to the pooled value: max-pool's own tie rule), then the convolution's gradients.
    """

    @staticmethod
    def forward(ctx, h, weight, bias, gamma, beta, running_mean, running_var, num_batches,
                pad: int, pool: int, momentum: float, eps: float):
        z = F.conv1d(h, weight, bias, padding=pad).contiguous()          # (N, F, T)
        n, f, tz = z.shape
        sign = _sign_of(gamma.detach())
        flip = bool((sign < 0).any())
        zsel = F.max_pool1d(z * sign[None, :, None] if flip else z, pool)
        if flip:
            zsel.mul_(sign[None, :, None])
        zsel = zsel.contiguous()
        mean_d, var_d = torch.empty(f, dtype=torch.float64), torch.empty(f, dtype=torch.float64)
        _c("myovox_pool_stats", z, n, f, tz, mean_d, var_d)
        m = n * tz
        out, mean, invstd = _c_bn_train(mean_d, var_d, m, gamma, beta, running_mean, running_var, num_batches,
                                        momentum, eps, zsel)
        ctx.save_for_backward(h, weight, z, zsel, mean, invstd, gamma, out)
        ctx.pad, ctx.pool, ctx.m = pad, pool, m
        return out

    @staticmethod
    def backward(ctx, go):
        h, weight, z, zsel, mean, invstd, gamma, out = ctx.saved_tensors
        n, f, tz = z.shape
        tp = zsel.shape[2]
        g, dbeta, dgamma, c2, c3, db = _c_bn_relu_bwd(go, out, zsel, mean, invstd, gamma, ctx.m)
        k, pad = weight.shape[2], ctx.pad
        need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        # long kernels (block 2: most of the network's arithmetic): the input gradient as a forward
        # convolution of dz padded in place with the flipped kernels, the weight gradient in C.
        # oneDNN's own backward took 2.3 ms against 0.8 + 0.8 ms this way for block 2 on the
        # machine measured, but was faster for block 3's short rows and kernels.
        margin = k - 1 - pad
        in_c = k >= _C_DW_MIN_KERNEL and margin >= 0 and h.is_contiguous()
        t_in, c_in = h.shape[2], h.shape[1]
        # oneDNN vectorises over output channels: with fewer than 16 the input gradient runs as
        # `phases` interleaved stride-`phases` convolutions stacked as output channels (measured
        # 0.6 against 0.8 ms for block 2's 8 channels), which needs `extra` zeros at the end of dz
        phases = max(1, 16 // c_in) if in_c and need_h else 1
        n_out = -(-t_in // phases)
        extra = (phases * n_out + k + phases - 2) - (tz + 2 * margin) if phases > 1 else 0
        extra = max(extra, 0)
        stride = tz + 2 * margin + extra
        dz = z.new_empty(n, f, stride) if in_c else torch.empty_like(z)
        _c("myovox_pool_bwd", z, n, f, tz, zsel, g, c2, c3, ctx.pool, tp, dz, margin if in_c else 0, extra)
        dh = dw = None
        if in_c:
            if need_h:
                dh = _input_grad(dz, weight, t_in, phases)
            if need_w:
                dwd = torch.empty(weight.shape, dtype=torch.float64)
                _c("myovox_conv_dw", h, dz, stride, margin, n, c_in, t_in, f, tz, k, pad, dwd)
                dw = dwd.to(weight.dtype)
        elif need_h or need_w:
            dh, dw = _conv_grads(dz, h, weight, pad, need_h, need_w)
        return dh, dw, db if ctx.needs_input_grad[2] else None, dgamma, dbeta, None, None, None, None, None, None, None


def _first_eval_c(x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d, pool: int) -> torch.Tensor:
    """The first block in evaluation mode (running statistics) with the C kernels."""
    n, t = x.shape
    w = conv.weight.detach().squeeze(2)[:, 0].contiguous()
    f, k = w.shape
    pad = conv.padding[1]
    tp = (t + 2 * pad - k + 1) // pool
    zsel = x.new_empty(n, f, tp)
    idx = torch.empty(n, f, tp, dtype=torch.int32)
    s1, s2 = torch.empty(k, dtype=torch.float64), torch.empty(k, k, dtype=torch.float64)
    mean_d, var_d = torch.empty(f, dtype=torch.float64), torch.empty(f, dtype=torch.float64)
    _c("myovox_first_fwd", x, n, t, w, conv.bias.detach().contiguous(), _sign_of(bn.weight.detach()), f, k,
       pad, pool, tp, zsel, idx, s1, s2, mean_d, var_d, x.new_empty(n))
    a = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    # zsel is relative to this batch's mean: zsel + mean - running_mean, the offsets in double
    return _c_bn_relu(zsel, (bn.running_mean.double() - mean_d).to(x.dtype).contiguous(), a, bn.bias)


def _temporal_eval(h: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d, pool: int,
                   use_c: bool = False) -> torch.Tensor:
    w = conv.weight.squeeze(2)
    a = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    if h.shape[1] == 1 and pool > 1 and use_c and conv.kernel_size[1] <= 64 and _c_ready(h):
        return _first_eval_c(h[:, 0], conv, bn, pool)
    if h.shape[1] == 1 and pool > 1:
        sign1 = torch.where(a >= 0, 1.0, -1.0).to(h.dtype)
        shift = _row_shift(h[:, 0])  # as in training (_FirstBlock): signal-sized float arithmetic
        _, zmax, _ = _pooled_windows(h[:, 0], w[:, 0], None, sign1, conv.padding[1], pool, shift=shift)
        zc = zmax * sign1[:, None] + _row_offsets(shift, w[:, 0], conv.bias, bn.running_mean,
                                                  zmax.shape[1] // h.shape[0])
        out = torch.relu(a[:, None] * zc + bn.bias[:, None])
        return out.view(w.shape[0], h.shape[0], -1).transpose(0, 1)
    z = F.conv1d(h, w, conv.bias, padding=conv.padding[1])
    a = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    sign = torch.where(a >= 0, 1.0, -1.0).to(z.dtype)[None, :, None]
    zsel = sign * F.max_pool1d(z * sign, pool) if pool > 1 else z
    return torch.relu(a[None, :, None] * (zsel - bn.running_mean[None, :, None]) + bn.bias[None, :, None])


_EVAL_CHUNK = 32  # windows per evaluation pass


def fast_forward(net: nn.Module, x: torch.Tensor, use_c: bool = True) -> torch.Tensor:
    """Logits of ``net`` for ``x`` ``(batch, n_channels, n_times)``, numerically equal to ``net(x)``.

    Uses ``net``'s parameters and buffers (in training mode, batch-norm running statistics are
    updated exactly as ``net(x)`` would). Falls back to ``net(x)`` for structures it does not know.
    ``use_c=False`` keeps to the PyTorch formulation even where the C kernels are available.
    """
    if not supports_fast(net):
        return net(x)
    if x.dim() == 4:
        x = x[:, 0]
    b, c, t = x.shape
    if not net.training and b > _EVAL_CHUNK:
        # windows are independent in evaluation; larger batches outgrow the caches (per window,
        # 256 at once took 2.2x and 128 1.7x the time of 64 at once on the machine measured, and
        # with the C kernels 64 at once about 1.15x the time of 32)
        return torch.cat([fast_forward(net, x[i:i + _EVAL_CHUNK], use_c) for i in range(0, b, _EVAL_CHUNK)])
    h = x.reshape(b * c, 1, t)
    spatial_from = len(net.blocks)
    for i, block in enumerate(net.blocks):
        conv, bn, _, pool = block
        if not _is_temporal(conv):
            spatial_from = i
            break
        p = _pair(pool.kernel_size)[1]
        if net.training and h.shape[1] == 1 and p > 1 and not h.requires_grad:
            first = _FirstBlockC if use_c and conv.kernel_size[1] <= 64 and _c_ready(h) else _FirstBlock
            h = first.apply(h[:, 0], conv.weight.squeeze(2)[:, 0], conv.bias, bn.weight, bn.bias,
                                  bn.running_mean, bn.running_var, bn.num_batches_tracked, conv.padding[1], p,
                                  float(bn.momentum), float(bn.eps))
        elif net.training:
            block_fn = _TemporalBlockC if use_c and p > 1 and _c_ready(h) else _TemporalBlock
            h = block_fn.apply(h, conv.weight.squeeze(2), conv.bias, bn.weight, bn.bias, bn.running_mean,
                                     bn.running_var, bn.num_batches_tracked, conv.padding[1], p,
                                     float(bn.momentum), float(bn.eps))
        else:
            h = _temporal_eval(h, conv, bn, p, use_c)
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

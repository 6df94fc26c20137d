"""SpeechNet's temporal blocks in the fast path's PyTorch formulation (autograd functions).

:class:`_TemporalBlock` (conv1d -> batch norm -> ReLU -> max-pool, with a hand-written backward)
and :class:`_FirstBlock` (the first block on the data itself, from input moments and one matrix
product), with their helpers. The mathematics, and why it is written this way, is described in
:mod:`myovox.models.fast`; :mod:`myovox.models._blocks_c` does the same steps with the C kernels.
"""

from __future__ import annotations

import threading
from typing import Any

import torch
import torch.nn.functional as F


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


def _choose_form(key: tuple, options: list) -> Any:
    return options[CONV_GRAD_FORM]()


def _conv_grads(
    dz: torch.Tensor, h: torch.Tensor, weight: torch.Tensor, pad: int, need_h: bool, need_w: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Gradients of ``conv1d(h, weight, padding=pad)`` (stride 1) w.r.t. ``h`` and ``weight``."""
    k, t = weight.shape[2], h.shape[2]
    mask = [need_h, need_w, False]

    def aten() -> tuple:
        return torch.ops.aten.convolution_backward(dz, h, weight, None, [1], [pad], [1], False, [0], 1, mask)[:2]

    def channels_last() -> tuple:  # the 2-D kernels on (N, C, 1, T) stored time-major
        cl = torch.channels_last
        dh, dw, _ = torch.ops.aten.convolution_backward(
            dz.unsqueeze(2).contiguous(memory_format=cl),
            h.unsqueeze(2).contiguous(memory_format=cl),
            weight.unsqueeze(2),
            None,
            [1, 1],
            [0, pad],
            [1, 1],
            False,
            [0, 0],
            1,
            mask,
        )
        # contiguous: the caller's elementwise steps and copies are several times slower on a transposed layout
        return (dh[:, :, 0].contiguous() if need_h else None), (dw[:, :, 0].contiguous() if need_w else None)

    def as_forward() -> tuple:
        dh = dw = None
        if need_h:  # full correlation with the flipped, transposed kernels
            w_t = weight.flip(2).transpose(0, 1).contiguous()
            dh = F.conv1d(dz, w_t, padding=k - 1)[:, :, pad : pad + t]
        if need_w:  # batch as the reduction axis: dW[f, c, j] = sum_n,t dz[n,f,t] h[n,c,t+j]
            hp = F.pad(h, (pad, pad)).transpose(0, 1)
            dw = F.conv1d(hp, dz.transpose(0, 1)).transpose(0, 1)[:, :, :k].contiguous()
        return dh, dw

    key = (tuple(dz.shape), tuple(weight.shape), pad, need_h, need_w, torch.get_num_threads())
    return _choose_form(key, [aten, channels_last, as_forward])


class _TemporalBlock(torch.autograd.Function):
    """conv1d -> BatchNorm (batch statistics) -> ReLU -> max-pool, with a hand-written backward."""

    @staticmethod
    def forward(
        ctx: Any,
        h: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        gamma: torch.Tensor,
        beta: torch.Tensor,
        running_mean: torch.Tensor,
        running_var: torch.Tensor,
        num_batches: torch.Tensor,
        pad: int,
        pool: int,
        momentum: float,
        eps: float,
    ) -> torch.Tensor:
        z = F.conv1d(h, weight, bias, padding=pad)  # (N, F, T)
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
    def backward(ctx: Any, go: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
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


def _pooled_windows(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    sign: torch.Tensor,
    pad: int,
    pool: int,
    shift: torch.Tensor | None = None,
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
        toe[j, :, j : j + k] = ws
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


def _row_offsets(
    shift: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, centre: torch.Tensor, tp: int
) -> torch.Tensor:
    """``shift[r] * sum(w_f) + b_f - centre_f`` per filter and pooled output ``(F, N * tp)``, in double
    then float: what turns the maxima of the shifted rows into values relative to ``centre``."""
    off = (
        shift.double()[None, :] * weight.detach().double().sum(1)[:, None]
        + (bias.detach().double() - centre.double())[:, None]
    )
    return off.to(weight.dtype).repeat_interleave(tp, dim=1)


def _shifted_moments(x: torch.Tensor, k: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums ``s1[i]`` of ``u_i`` and ``s2[i, j]`` of ``u_i * u_j`` (float64), ``u_i``: padded rows shifted by ``i``.

    ``u_i`` covers columns ``i .. i + t_out - 1`` of each padded row. Lag-``s`` products of the
    whole flattened array are one dot product each (pairs across two rows always meet a padding
    zero, since ``s <= k - 1 <= 2 * pad``); the few columns at both ends outside a shift's range
    are subtracted from small Gram matrices.
    """
    xd = F.pad(x, (pad, pad)).double()
    width = xd.shape[1]
    t_out = width - k + 1
    if k - 1 > 2 * pad:  # rows could meet without a padding zero between them: direct sums
        s1d = torch.stack([xd[:, i : i + t_out].sum() for i in range(k)])
        s2d = xd.new_empty(k, k)
        for i in range(k):
            for j in range(i, k):
                s2d[i, j] = s2d[j, i] = (xd[:, i : i + t_out] * xd[:, j : j + t_out]).sum()
        return s1d, s2d
    flat = xd.view(-1)
    lag = [float(torch.dot(flat[: flat.numel() - s], flat[s:])) for s in range(k)]
    col = xd.sum(0)
    total = float(col.sum())
    lead = xd[:, :k]
    tail = xd[:, t_out:]
    g_lead = (lead.t() @ lead).tolist()
    g_tail = (tail.t() @ tail).tolist() if tail.shape[1] else []
    col_l = col.tolist()
    s1 = [total - sum(col_l[:i]) - sum(col_l[i + t_out :]) for i in range(k)]
    s2 = [[0.0] * k for _ in range(k)]
    for i in range(k):
        for j in range(i, k):
            s = j - i
            v = lag[s] - sum(g_lead[a][a + s] for a in range(i))
            v -= sum(g_tail[a - t_out][a + s - t_out] for a in range(i + t_out, width - s))
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
    def forward(
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        gamma: torch.Tensor,
        beta: torch.Tensor,
        running_mean: torch.Tensor,
        running_var: torch.Tensor,
        num_batches: torch.Tensor,
        pad: int,
        pool: int,
        momentum: float,
        eps: float,
    ) -> torch.Tensor:
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
        out = torch.relu(a[:, None] * zc + beta[:, None])  # (F, R)
        ctx.save_for_backward(xw, idx, zc, invstd, gamma, out, s1, s2, weight, bias, shift, mean_d)
        ctx.pool, ctx.m, ctx.k = pool, m, k
        return out.view(f, n, -1).transpose(0, 1).contiguous()  # (N, F, n_pooled)

    @staticmethod
    def backward(ctx: Any, go: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
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
        gsum = g.view(f, shift.shape[0], -1).sum(2, dtype=torch.float64)  # (F, N)
        c2p = -gsum.sum(1) / m
        dw = db = None
        if ctx.needs_input_grad[1]:
            # arg-max part: G times the k input samples under the selected position of each
            # pooling window, gathered ((F, R, k), no dense scatter) and reduced by one batched
            # product; on the shifted rows (xw), plus shift * sum(G) per row in double
            index = torch.add(idx.long().unsqueeze(2), torch.arange(k), out=_workspace("index", (f, r, k), torch.int64))
            under = torch.gather(
                xw.unsqueeze(0).expand(f, r, xw.shape[1]), 2, index, out=_workspace("under", (f, r, k), xw.dtype)
            )
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


def _pair(v: Any) -> tuple[int, int]:
    """A module's size argument (an int or a pair) as a pair."""
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


_PER_BLOCK = 7  # tensors per block passed to the fast path's functions: see _block_tensors


def _block_tensors(blocks: list[Any]) -> tuple[tuple[torch.Tensor, ...], tuple[tuple[float, float], ...]]:
    """Each block's weight, bias, gamma, beta, running mean, running variance and count (:data:`_PER_BLOCK`
    tensors), and its batch norm's ``(momentum, eps)``."""
    tensors: list[torch.Tensor] = []
    meta = []
    for conv, bn, _, _ in blocks:
        tensors += [conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.num_batches_tracked]
        meta.append((float(bn.momentum), float(bn.eps)))
    return tuple(tensors), tuple(meta)

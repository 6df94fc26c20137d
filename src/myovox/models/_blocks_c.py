"""SpeechNet's temporal blocks on the C kernels (autograd functions of the fast path).

:class:`_FirstBlockC` and :class:`_TemporalBlockC` do the mathematics of
:mod:`myovox.models._blocks_torch`'s blocks with the fused kernels of ``_c/kernels.c``, called
through :mod:`myovox.models._c.bindings` by keyword (each kernel's prototype is declared once
there). :func:`_c_ready` says where they can run; :mod:`myovox.models.fast` chooses.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from . import _c as _ck
from ._blocks_torch import _conv_grads, _sign_of
from ._c import bindings as _k

#: Temporal kernels at least this long take their weight gradient from the C kernel (``_c/kernels.c``).
_C_DW_MIN_KERNEL = 16
#: The longest first-block kernel the C first-block kernels handle (``myovox_first_fwd`` returns -2 beyond).
_C_FIRST_MAX_KERNEL = 64


def _c_ready(*tensors: torch.Tensor) -> bool:
    """True when the C kernels are available and every tensor is contiguous float32 on the CPU."""
    return _ck.kernels() is not None and all(
        t.dtype == torch.float32 and t.device.type == "cpu" and t.is_contiguous() for t in tensors
    )


def _c_bn_relu(zsel: torch.Tensor, mean: torch.Tensor, a: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """``relu(a * (zsel - mean) + beta)`` per filter of ``zsel`` ``(N, F, tp)``, in one C pass."""
    n, f, tp = zsel.shape
    out = torch.empty_like(zsel)
    _k.bn_relu(
        zsel=zsel, N=n, F=f, tp=tp, mean=mean.contiguous(), a=a.contiguous(), beta=beta.detach().contiguous(), out=out
    )
    return out


def _c_bn_train(
    mean_d: torch.Tensor,
    var_d: torch.Tensor,
    m: int,
    gamma: torch.Tensor,
    beta: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    num_batches: torch.Tensor,
    momentum: float,
    eps: float,
    zsel: torch.Tensor,
    centred: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch norm in training mode from batch statistics, in C: ``(out, mean, invstd)``.

    Updates the running statistics exactly as torch's batch norm does (unbiased variance) and
    maps the pooled values ``zsel`` through batch norm and ReLU (``centred``: ``zsel`` already
    holds the values minus the batch mean, as the first block's kernel writes them).
    """
    f = mean_d.shape[0]
    mean, invstd, a = (torch.empty(f, dtype=zsel.dtype) for _ in range(3))
    _k.bn_train_stats(
        mean_d=mean_d,
        var_d=var_d,
        F=f,
        m=m,
        gamma=gamma.detach().contiguous(),
        eps=eps,
        momentum=momentum,
        running_mean=running_mean,
        running_var=running_var,
        num_batches=num_batches,
        mean=mean,
        invstd=invstd,
        a=a,
    )
    return _c_bn_relu(zsel, torch.zeros_like(mean) if centred else mean, a, beta), mean, invstd


def _c_bn_relu_bwd(
    go: torch.Tensor,
    out: torch.Tensor,
    zsel: torch.Tensor,
    mean: torch.Tensor,
    invstd: torch.Tensor,
    gamma: torch.Tensor,
    m: int,
) -> tuple[torch.Tensor, ...]:
    """Batch norm + ReLU's backward on pooled values, in one C pass: ``(g, dbeta, dgamma, c2, c3, db)``.

    ``g = gamma * invstd * go * (out > 0)`` is the arg-max part of the gradient before max-pool's
    scatter; ``dL/dz = scatter(g) + c2 + c3 * z`` per filter; ``db`` is the gradient of the bias
    of the convolution before batch norm (see ``_c/kernels.c``).
    """
    n, f, tp = out.shape
    go = go.contiguous()
    g = torch.empty_like(out)
    dbeta, dgamma, c2, c3, db = (torch.empty(f, dtype=out.dtype) for _ in range(5))
    _k.bn_relu_bwd(
        go=go,
        out=out,
        zsel=zsel,
        N=n,
        F=f,
        tp=tp,
        mean=mean,
        invstd=invstd,
        gamma=gamma.detach().contiguous(),
        m=m,
        g=g,
        dbeta=dbeta,
        dgamma=dgamma,
        c2=c2,
        c3=c3,
        db=db,
    )
    return g, dbeta, dgamma, c2, c3, db


class _FirstBlockC(torch.autograd.Function):
    """:class:`_FirstBlock` with every step in C (``_c/kernels.c``), same mathematics.

    The pooled maxima come from a direct convolution per row (no Toeplitz product), batch-norm
    statistics from input moments, the arg-max part of the weight gradient from a gather-and-sum
    per row; the ``(N, F, n_pooled)`` output is written in place.
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
        tp = (t + 2 * pad - k + 1) // pool
        w, b = weight.detach().contiguous(), bias.detach().contiguous()
        zsel = x.new_empty(n, f, tp)
        idx = torch.empty(n, f, tp, dtype=torch.int32)
        # s1[i] = sum of u_i, s2[i, j] = sum of u_i * u_j, with u_i the input shifted by i samples
        s1, s2 = torch.empty(k, dtype=torch.float64), torch.empty(k, k, dtype=torch.float64)
        mean_d, var_d = torch.empty(f, dtype=torch.float64), torch.empty(f, dtype=torch.float64)
        crow = x.new_empty(n)  # each row's shift (its mean): the kernels work on signal-sized values
        _k.first_fwd(
            x=x,
            n_rows=n,
            T=t,
            w=w,
            bias=b,
            sign=_sign_of(gamma.detach()),
            F=f,
            k=k,
            pad=pad,
            pool=pool,
            tp=tp,
            zsel=zsel,
            idx=idx,
            s1=s1,
            s2=s2,
            mean=mean_d,
            var=var_d,
            crow=crow,
        )
        m = n * (t + 2 * pad - k + 1)
        # zsel holds the pooled values minus the batch mean (exact offsets in double, _c/kernels.c)
        out, _, invstd = _c_bn_train(
            mean_d, var_d, m, gamma, beta, running_mean, running_var, num_batches, momentum, eps, zsel, centred=True
        )
        ctx.save_for_backward(x, idx, zsel, invstd, gamma, out, s1, s2, w, b, crow, mean_d)
        ctx.pool, ctx.m, ctx.k, ctx.pad = pool, m, k, pad
        return out

    @staticmethod
    def backward(ctx: Any, go: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, idx, zsel, invstd, gamma, out, s1, s2, w, b, crow, mean_d = ctx.saved_tensors
        n, t = x.shape
        f, tp = out.shape[1], out.shape[2]
        g, dbeta, dgamma, _, c3, db = _c_bn_relu_bwd(go, out, zsel, torch.zeros_like(invstd), invstd, gamma, ctx.m)
        dw = None
        if ctx.needs_input_grad[1]:
            dw = torch.empty(f, ctx.k, dtype=x.dtype)
            _k.first_dw(
                x=x,
                n_rows=n,
                T=t,
                g=g,
                idx=idx,
                F=f,
                k=ctx.k,
                pad=ctx.pad,
                pool=ctx.pool,
                tp=tp,
                s1=s1,
                s2=s2,
                w=w,
                bias=b,
                crow=crow,
                mean=mean_d,
                c3=c3,
                dw=dw,
            )
        return (
            None,
            dw,
            db if ctx.needs_input_grad[2] else None,
            dgamma,
            dbeta,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        )


def _input_grad(dz: torch.Tensor, weight: torch.Tensor, t_in: int, phases: int) -> torch.Tensor:
    """Input gradient of a stride-1 conv1d from ``dz`` padded for the full correlation.

    ``dh[s] = sum_j dz_padded[s + j] * w[::-1][j]`` (a forward convolution with the flipped,
    transposed kernels). With ``phases > 1`` the outputs ``s = phases * u + p`` are computed as
    one stride-``phases`` convolution whose output channels are (phase, channel), kernels shifted
    by ``p`` taps, then interleaved: the same sums, in more output channels.
    """
    wt = weight.flip(2).transpose(0, 1)  # (C, F, k)
    if phases == 1:
        return F.conv1d(dz[:, :, : t_in + wt.shape[2] - 1], wt.contiguous())
    c, f, k = wt.shape
    wp = wt.new_zeros(phases, c, f, k + phases - 1)
    for p in range(phases):
        wp[p, :, :, p : p + k] = wt
    n_out = -(-t_in // phases)
    o = F.conv1d(dz[:, :, : phases * n_out + k + phases - 2], wp.view(phases * c, f, k + phases - 1), stride=phases)
    o = o[:, :, :n_out]
    return (
        o.view(dz.shape[0], phases, c, n_out)
        .permute(0, 2, 3, 1)
        .reshape(dz.shape[0], c, phases * n_out)[:, :, :t_in]
        .contiguous()
    )


class _TemporalBlockC(torch.autograd.Function):
    """:class:`_TemporalBlock` with batch norm's statistics and gradients and the weight gradient in C.

    Forward: oneDNN's convolution and max-pool, then one C pass for the statistics and one for
    batch norm + ReLU. Backward: one C pass for batch norm + ReLU, one that writes
    ``dz = c3 * z + c2`` plus the pooled gradient at each window's arg-max (found as the first
    position equal to the pooled value: max-pool's own tie rule), then the convolution's gradients.
    """

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
        z = F.conv1d(h, weight, bias, padding=pad).contiguous()  # (N, F, T)
        n, f, tz = z.shape
        sign = _sign_of(gamma.detach())
        flip = bool((sign < 0).any())
        zsel = F.max_pool1d(z * sign[None, :, None] if flip else z, pool)
        if flip:
            zsel.mul_(sign[None, :, None])
        zsel = zsel.contiguous()
        mean_d, var_d = torch.empty(f, dtype=torch.float64), torch.empty(f, dtype=torch.float64)
        _k.pool_stats(z=z, N=n, F=f, n=tz, mean=mean_d, var=var_d)
        m = n * tz
        out, mean, invstd = _c_bn_train(
            mean_d, var_d, m, gamma, beta, running_mean, running_var, num_batches, momentum, eps, zsel
        )
        ctx.save_for_backward(h, weight, z, zsel, mean, invstd, gamma, out)
        ctx.pad, ctx.pool, ctx.m = pad, pool, m
        return out

    @staticmethod
    def backward(ctx: Any, go: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
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
        _k.pool_bwd(
            z=z,
            n_rows=n,
            F=f,
            Tz=tz,
            zsel=zsel,
            g=g,
            c2=c2,
            c3=c3,
            pool=ctx.pool,
            tp=tp,
            dz=dz,
            margin=margin if in_c else 0,
            extra=extra,
        )
        dh = dw = None
        if in_c:
            if need_h:
                dh = _input_grad(dz, weight, t_in, phases)
            if need_w:
                dwd = torch.empty(weight.shape, dtype=torch.float64)
                _k.conv_dw(
                    h=h,
                    dz=dz,
                    dz_stride=stride,
                    dz_offset=margin,
                    N=n,
                    C=c_in,
                    T=t_in,
                    F=f,
                    Tz=tz,
                    k=k,
                    pad=pad,
                    dw=dwd,
                )
                dw = dwd.to(weight.dtype)
        elif need_h or need_w:
            dh, dw = _conv_grads(dz, h, weight, pad, need_h, need_w)
        return dh, dw, db if ctx.needs_input_grad[2] else None, dgamma, dbeta, None, None, None, None, None, None, None


def _first_eval_c(x: torch.Tensor, conv: Any, bn: Any, pool: int) -> torch.Tensor:
    # conv: nn.Conv2d, bn: nn.BatchNorm2d with running statistics (typed Any: torch declares them optional)
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
    _k.first_fwd(
        x=x,
        n_rows=n,
        T=t,
        w=w,
        bias=conv.bias.detach().contiguous(),
        sign=_sign_of(bn.weight.detach()),
        F=f,
        k=k,
        pad=pad,
        pool=pool,
        tp=tp,
        zsel=zsel,
        idx=idx,
        s1=s1,
        s2=s2,
        mean=mean_d,
        var=var_d,
        crow=x.new_empty(n),
    )
    a = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    # zsel is relative to this batch's mean: zsel + mean - running_mean, the offsets in double
    return _c_bn_relu(zsel, (bn.running_mean.double() - mean_d).to(x.dtype).contiguous(), a, bn.bias)

"""SpeechNet's temporal blocks on the C kernels (autograd functions of the fast path).

:class:`_FirstBlockC` and :class:`_TemporalBlockC` do the mathematics of
:mod:`myovox.models._blocks_torch`'s blocks with the fused kernels of ``_c/kernels.c``, called
through :mod:`myovox.models._c.bindings` by keyword (each kernel's prototype is declared once
there). :func:`_c_ready` says where they can run; :mod:`myovox.models.fast` chooses.
"""

from __future__ import annotations

from typing import Any

import torch

from . import _c as _ck
from ._blocks_torch import _conv_grads, _sign_of
from ._c import bindings as _k

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


def _c_conv1d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    pad: int,
    t_out: int | None = None,
) -> torch.Tensor:
    """``conv1d(x, weight, bias, padding=pad)`` (stride 1) by the C kernel: ``(N, F, t_out)``.

    ``t_out`` defaults to the convolution's output length; a longer one reads zeros past the end of ``x``.
    """
    n, c, t = x.shape
    f, _, k = weight.shape
    t_out = t + 2 * pad - k + 1 if t_out is None else t_out
    out = x.new_empty(n, f, t_out)
    b = weight.new_zeros(f) if bias is None else bias.detach().contiguous()
    _k.conv1d(
        x=x,
        N=n,
        C=c,
        x_stride=t,
        T=t,
        pad=pad,
        w=weight.detach().contiguous(),
        bias=b,
        F=f,
        k=k,
        Tout=t_out,
        out=out,
        out_stride=t_out,
    )
    return out


class _TemporalBlockC(torch.autograd.Function):
    """:class:`_TemporalBlock` with the convolutions, batch norm's statistics and gradients in C.

    Forward: the C convolution (``myovox_conv1d``), max-pool, then one C pass for the statistics and
    one for batch norm + ReLU. Backward: one C pass for batch norm + ReLU, one that writes
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
        z = _c_conv1d(h, weight, bias, pad)  # (N, F, T)
        n, f, tz = z.shape
        zsel = z.new_empty(n, f, tz // pool)
        idx = torch.empty(n, f, tz // pool, dtype=torch.int32)
        mean_d, var_d = torch.empty(f, dtype=torch.float64), torch.empty(f, dtype=torch.float64)
        sign = _sign_of(gamma.detach())
        pooled = dict(sign=sign, pool=pool, tp=tz // pool, zsel=zsel, idx=idx)
        _k.pool_fwd(z=z, N=n, F=f, n=tz, **pooled, mean=mean_d, var=var_d)
        m = n * tz
        out, mean, invstd = _c_bn_train(
            mean_d, var_d, m, gamma, beta, running_mean, running_var, num_batches, momentum, eps, zsel
        )
        ctx.save_for_backward(h, weight, z, zsel, idx, mean, invstd, gamma, out)
        ctx.pad, ctx.pool, ctx.m = pad, pool, m
        return out

    @staticmethod
    def backward(ctx: Any, go: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        h, weight, z, zsel, idx, mean, invstd, gamma, out = ctx.saved_tensors
        n, f, tz = z.shape
        tp = zsel.shape[2]
        g, dbeta, dgamma, c2, c3, db = _c_bn_relu_bwd(go, out, zsel, mean, invstd, gamma, ctx.m)
        k, pad = weight.shape[2], ctx.pad
        need_h, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        # dz is written with `margin` zeros on each side, so that the input gradient is one valid
        # convolution of it with the flipped, transposed kernels (the C kernel: 1.2 ms against oneDNN's
        # 1.8 ms as a forward convolution for block 2 at 14 x 700 on the machine measured); the weight
        # gradient in C as well (block 2: 0.9 against 2.0 ms, block 3: 0.3 against 0.45)
        margin = k - 1 - pad
        in_c = margin >= 0 and h.is_contiguous()
        t_in = h.shape[2]
        dz = z.new_empty(n, f, tz + 2 * margin) if in_c else torch.empty_like(z)
        _k.pool_bwd(
            z=z,
            n_rows=n,
            F=f,
            Tz=tz,
            idx=idx,
            g=g,
            c2=c2,
            c3=c3,
            pool=ctx.pool,
            tp=tp,
            dz=dz,
            margin=margin if in_c else 0,
            extra=0,
        )
        dh = dw = None
        if not in_c:
            if need_h or need_w:
                dh, dw = _conv_grads(dz, h, weight, pad, need_h, need_w)
        else:
            if need_h:
                dh = _c_conv1d(dz, weight.detach().flip(2).transpose(0, 1), None, 0, t_out=t_in)
            if need_w:
                dw = torch.empty(weight.shape, dtype=weight.dtype)
                _k.conv_dw(
                    h=h,
                    dz=dz,
                    dz_stride=tz + 2 * margin,
                    dz_offset=margin,
                    N=n,
                    C=h.shape[1],
                    T=t_in,
                    F=f,
                    Tz=tz,
                    k=k,
                    pad=pad,
                    dw=dw,
                )
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

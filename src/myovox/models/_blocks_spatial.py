"""SpeechNet's spatial blocks and global average pooling as one autograd function (fast path).

The spatial blocks are ``Conv2d`` with ``(k, 1)`` kernels (across electrodes, per time step),
batch norm, ReLU and no pooling, then the network averages over electrodes and time. Their
arithmetic is small (7 M multiply-adds for 14 x 700 windows, batch 32) but, as modules, they
cost ~20 tensor operations and oneDNN calls each way, a fixed cost that dominates small shapes.
:class:`_SpatialHead` does the same mathematics in a time-major layout ``(batch * time,
electrodes, filters)`` where the window of ``k`` electrodes under a kernel is contiguous memory:
each convolution is one matrix product of an overlapping (strided) view, batch norm + ReLU a few
whole-tensor operations, and the backward pass is written by hand (aten's batch-norm backward, the input gradient as one
product of the zero-padded output gradient's windows with the flipped kernels).

:class:`_SpatialHeadC` does the same on the C kernels (``myovox_spatial_*`` in ``_c/kernels.c``), reading the
temporal output in place; :func:`spatial_head` chooses.

Batch-norm running statistics are updated exactly as ``nn.BatchNorm2d`` does (momentum, unbiased
variance, ``num_batches_tracked``). Training mode only: a matrix product over the whole batch rounds
differently for different batch sizes, and in evaluation a window's output must not depend on the
windows evaluated with it.
"""

from __future__ import annotations

from typing import Any

import torch

from ._blocks_torch import _PER_BLOCK, _block_tensors
from ._c import bindings as _k

__all__ = ["fits_spatial_head", "spatial_head"]

_SAVED = 6  # tensors per block saved for the backward pass: input, kernel matrix, z, batch mean, 1 / std, output


#: The most positions (windows x time steps x electrode positions of the first spatial block's output) for
#: which :func:`spatial_head` is used. It removes a fixed cost (same-process A/B of training steps, batch 32,
#: 2 threads, on the machine measured: 1.17-1.19x at 2 x 200, 1.07-1.08x at 8 x 280, 1.00-1.03x at 1,280
#: positions (8 x 1000, 14 x 700)); beyond, oneDNN's convolutions catch up (0.98-0.99x at 16 x 1000, 2,560).
MAX_POSITIONS = 1500


def fits_spatial_head(blocks: list[Any], n_positions: int | None = None) -> bool:
    """True when every block is a ``(k, 1)`` convolution without padding followed by a ``(1, 1)`` pool, and
    the first block's output has at most :data:`MAX_POSITIONS` positions (``n_positions``, when given)."""
    if n_positions is not None and n_positions > MAX_POSITIONS:
        return False
    for conv, _, _, pool in blocks:
        ks = pool.kernel_size
        if (
            conv.kernel_size[1] != 1
            or tuple(conv.padding) != (0, 0)
            or tuple(ks if isinstance(ks, tuple) else (ks,)) not in ((1,), (1, 1))
        ):
            return False
    return True


def _time_major(h: torch.Tensor, b: int, c: int) -> torch.Tensor:
    """``(b * c, F, T)`` temporal output -> ``(b * T, c, F)``."""
    _, f, t = h.shape
    return h.view(b, c, f, t).permute(0, 3, 1, 2).reshape(b * t, c, f)


def _windows(x: torch.Tensor, k: int) -> torch.Tensor:
    """``(rows * (R - k + 1), k * C)``: the ``k`` electrodes under each kernel position, ``(j, c)`` order."""
    rows, r, c = x.shape
    return x.as_strided((rows, r - k + 1, k * c), (r * c, c, 1)).reshape(-1, k * c)


def _kernel_matrix(weight: torch.Tensor) -> torch.Tensor:
    """Conv2d weight ``(O, C, k, 1)`` -> ``(O, k * C)`` in the windows' ``(j, c)`` order."""
    o, c, k, _ = weight.shape
    return weight[..., 0].permute(0, 2, 1).reshape(o, k * c)


def _flipped_kernel_matrix(wm: torch.Tensor, k: int, c: int) -> torch.Tensor:
    """``(k * O, C)``, row ``(j, o)`` the tap ``k - 1 - j`` of filter ``o`` (from :func:`_kernel_matrix`'s)."""
    o = wm.shape[0]
    return wm.view(o, k, c).flip(1).transpose(0, 1).reshape(k * o, c)


def spatial_head(h: torch.Tensor, b: int, c: int, blocks: list[Any], use_c: bool = False) -> torch.Tensor:
    """Training-mode spatial blocks + average pooling (autograd): ``(b, filters)``.

    ``use_c``: with the C kernels (:class:`_SpatialHeadC`; ``h`` contiguous float32), else matrix products.
    """
    tensors, meta = _block_tensors(blocks)
    return (_SpatialHeadC if use_c else _SpatialHead).apply(h, b, c, meta, *tensors)


class _SpatialHead(torch.autograd.Function):
    """Spatial blocks (training mode) + average pooling over electrodes and time, one autograd node."""

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, b: int, c: int, meta: tuple, *tensors: torch.Tensor) -> torch.Tensor:
        t = h.shape[2]
        x = _time_major(h, b, c)
        saved: list[torch.Tensor] = []
        for i, (momentum, eps) in enumerate(meta):
            weight, bias, gamma, beta, running_mean, running_var, count = tensors[i * _PER_BLOCK : (i + 1) * _PER_BLOCK]
            k = weight.shape[2]
            rows, r, _ = x.shape
            wm = _kernel_matrix(weight.detach())
            z = torch.addmm(bias.detach(), _windows(x, k), wm.t())  # (rows * r', O)
            # aten's batch norm on the (positions, filters) matrix: one pass for the statistics and the
            # running averages (as nn.BatchNorm2d's), one for the output (2-6x faster here than the same
            # steps as separate tensor operations)
            y, mean, invstd = torch.native_batch_norm(
                z, gamma.detach(), beta.detach(), running_mean, running_var, True, momentum, eps
            )
            count.add_(1)
            y = y.relu_()
            saved += [x, wm, z, mean, invstd, y]
            x = y.view(rows, r - k + 1, -1)
        ctx.save_for_backward(*saved, *tensors)
        ctx.meta, ctx.b, ctx.c, ctx.t = meta, b, c, t
        return x.view(b, t, -1, x.shape[2]).mean(dim=(1, 2))

    @staticmethod
    def backward(ctx: Any, go: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        n_blocks = len(ctx.meta)
        saved = ctx.saved_tensors
        acts, tensors = saved[: _SAVED * n_blocks], saved[_SAVED * n_blocks :]
        b, c, t = ctx.b, ctx.c, ctx.t
        grads: list[torch.Tensor | None] = [None] * len(tensors)
        y_last = acts[_SAVED * n_blocks - 1]
        r_last = y_last.shape[0] // (b * t)
        dy = (go / (t * r_last))[:, None, None, :].expand(b, t, r_last, go.shape[1]).reshape(y_last.shape)
        for i, (_, eps) in reversed(list(enumerate(ctx.meta))):
            x, wm, z, mean, invstd, y = acts[_SAVED * i : _SAVED * (i + 1)]
            gamma, running_mean, running_var = (tensors[i * _PER_BLOCK + j] for j in (2, 4, 5))
            rows, r, ci = x.shape
            k = wm.shape[1] // ci
            dz, dgamma, dbeta = torch.ops.aten.native_batch_norm_backward(
                dy * (y > 0), z, gamma.detach(), running_mean, running_var, mean, invstd, True, eps, [True, True, True]
            )
            cols = _windows(x, k)
            grads[i * _PER_BLOCK] = (dz.t() @ cols).view(-1, k, ci).permute(0, 2, 1).unsqueeze(3)
            grads[i * _PER_BLOCK + 1] = dz.sum(0)
            grads[i * _PER_BLOCK + 2] = dgamma
            grads[i * _PER_BLOCK + 3] = dbeta
            if k == 1:
                dy = dz @ wm
            else:  # the full correlation: dz zero-padded by k - 1 electrodes, windows times the flipped kernels
                dzp = torch.nn.functional.pad(dz.view(rows, r - k + 1, -1), (0, 0, k - 1, k - 1))
                dy = _windows(dzp, k) @ _flipped_kernel_matrix(wm, k, ci)
        f = dy.shape[1]
        dh = dy.view(b, t, c, f).permute(0, 2, 3, 1).reshape(b * c, f, t)
        return (dh, None, None, None, *grads)


class _SpatialHeadC(torch.autograd.Function):
    """:class:`_SpatialHead` on the C kernels (``myovox_spatial_fwd`` / ``_bwd``, batch norm's in C).

    The first block reads the temporal blocks' ``(b * c, F, T)`` output in place through strides (no
    time-major copy); each block writes ``z`` and its output time-major, ``(b, T, rows, filters)``.
    Batch norm's statistics and running averages are the temporal blocks' kernel's; its normalisation +
    ReLU and their backward have kernels of their own for this layout.
    """

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, b: int, c: int, meta: tuple, *tensors: torch.Tensor) -> torch.Tensor:
        f, t = h.shape[1], h.shape[2]
        x, r, ch = h, c, f
        strides = (c * f * t, 1, f * t, t)  # (window, time, electrode, filter) of the temporal output
        saved: list[torch.Tensor] = []
        geometry = []
        for i, (momentum, eps) in enumerate(meta):
            weight, bias, gamma, beta, running_mean, running_var, count = tensors[i * _PER_BLOCK : (i + 1) * _PER_BLOCK]
            o, k = weight.shape[0], weight.shape[2]
            rz = r - k + 1
            z = h.new_empty(b, t, rz, o)
            mean_d, var_d = torch.empty(o, dtype=torch.float64), torch.empty(o, dtype=torch.float64)
            w = weight.detach()
            _k.spatial_fwd(
                x=x, B=b, T=t, R=r, C=ch, sb=strides[0], st=strides[1], sr=strides[2], sc=strides[3],
                w=w, bias=bias.detach(), O=o, k=k, z=z, mean=mean_d, var=var_d,
            )  # fmt: skip
            m = b * t * rz
            mean, invstd, a = (h.new_empty(o) for _ in range(3))
            _k.bn_train_stats(
                mean_d=mean_d, var_d=var_d, F=o, m=m, gamma=gamma.detach(), eps=eps, momentum=momentum,
                running_mean=running_mean, running_var=running_var, num_batches=count, mean=mean, invstd=invstd, a=a,
            )  # fmt: skip
            y = torch.empty_like(z)
            _k.spatial_bn_relu(z=z, n=m, O=o, mean=mean, a=a, beta=beta.detach(), y=y)
            saved += [x, z, mean, invstd, y]
            geometry.append((r, ch, strides))
            x, r, ch = y, rz, o
            strides = (t * rz * o, rz * o, o, 1)
        ctx.save_for_backward(*saved, *tensors)
        ctx.meta, ctx.geometry, ctx.b, ctx.t = meta, geometry, b, t
        out = h.new_empty(b, ch)
        _k.spatial_mean(y=x, B=b, npos=t * r, O=ch, out=out)
        return out

    @staticmethod
    def backward(ctx: Any, go: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        n_blocks = len(ctx.meta)
        saved = ctx.saved_tensors
        acts, tensors = saved[: 5 * n_blocks], saved[5 * n_blocks :]
        b, t = ctx.b, ctx.t
        grads: list[torch.Tensor | None] = [None] * len(tensors)
        y_last = acts[-1]
        dy = torch.empty_like(y_last)
        _k.spatial_mean_bwd(go=go.contiguous(), B=b, npos=t * y_last.shape[2], O=y_last.shape[3], dy=dy)
        for i in reversed(range(n_blocks)):
            x, z, mean, invstd, y = acts[5 * i : 5 * (i + 1)]
            weight, gamma = tensors[i * _PER_BLOCK], tensors[i * _PER_BLOCK + 2]
            r, ch, strides = ctx.geometry[i]
            o, k = weight.shape[0], weight.shape[2]
            m = z.numel() // o  # positions
            dz = torch.empty_like(z)
            dbeta, dgamma, dbias = (z.new_empty(o) for _ in range(3))
            _k.spatial_bn_bwd(
                go=dy, y=y, z=z, B=b, npos=m // b, O=o, mean=mean, invstd=invstd, gamma=gamma.detach(), dz=dz,
                dbeta=dbeta, dgamma=dgamma, db=dbias,
            )  # fmt: skip
            dw = torch.empty_like(weight)
            dx = x.new_empty(x.shape)  # the input's layout (the temporal output's for the first block)
            _k.spatial_bwd(
                x=x, B=b, T=t, R=r, C=ch, sb=strides[0], st=strides[1], sr=strides[2], sc=strides[3],
                w=weight.detach(), O=o, k=k, dz=dz, dw=dw, dx=dx,
                db=strides[0], dt=strides[1], dr=strides[2], dc=strides[3],
            )  # fmt: skip
            grads[i * _PER_BLOCK : i * _PER_BLOCK + 4] = [dw, dbias, dgamma, dbeta]
            dy = dx
        return (dy, None, None, None, *grads)

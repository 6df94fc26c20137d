"""SpeechNet's blocks on the C kernels as one C call per direction (fast path).

The per-block autograd functions (:class:`~myovox.models._blocks_c._FirstBlockC`,
:class:`~myovox.models._blocks_c._TemporalBlockC`, :class:`~myovox.models._blocks_spatial._SpatialHeadC`)
spent most of a small window's training step outside their kernels: at 2 channels x 200 samples, batch 32,
~35 kernel calls and ~30 tensor allocations, views, casts and checks per block and direction, four autograd
nodes, against ~0.4 ms of kernel arithmetic per step (the machine measured). Here the same kernels run in the
same order on the same values, so the results are bitwise those of the per-block functions, but

* the sequence is one C function per direction (``myovox_net_fwd``, ``myovox_net_bwd``, ``myovox_net_eval`` in
  ``_c/kernels.c``), called with a table of addresses: parameters, gradients and the regions of one workspace
  tensor per direction, laid out once per shape (:class:`_Plan`, cached; the workspaces themselves kept per
  thread between the calls of :func:`train_step` and :func:`network_eval`, see :func:`_scratch`);
* :class:`_NetworkC` makes the whole network up to the average pooling one autograd node, its gradients
  written by the kernels into one buffer and returned as views of it;
* :func:`train_step` is a whole training step without autograd: the blocks as above, dropout's mask drawn as
  aten draws it, the linear head, the loss and their gradients in one more C call (``myovox_head_step``), the
  kernels writing straight into each parameter's ``.grad``: what ``fit`` runs (its :class:`Stepper`);
* :func:`network_eval` is the forward pass with the running statistics, without autograd: each window's result
  depends only on that window, as the modules' does.

:func:`fits` says where this applies (SpeechNet's structure within the C kernels' limits);
:mod:`myovox.models.fast` and ``fit`` choose.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ._blocks_c import _C_FIRST_MAX_KERNEL, _c_ready
from ._blocks_torch import _PER_BLOCK, _block_tensors, _pair
from ._c import bindings as _k

__all__ = ["Stepper", "fits", "network_eval", "network_features", "train_step"]

_ALIGN = 64  # bytes: each workspace region starts on a cache line
_SCRATCH = threading.local()  # this thread's workspaces kept between calls (see _scratch)
_SCRATCH_MAX = 64 * 1024 * 1024  # bytes kept per thread and direction; larger workspaces are allocated per call
_PLANS: OrderedDict[tuple, _Plan] = OrderedDict()
_PLANS_LOCK = threading.Lock()
_MAX_PLANS = 16


@dataclass(frozen=True)
class _Temporal:
    """A temporal block's geometry: ``n`` rows of ``c`` channels x ``t`` samples in, ``f`` filters of ``k``
    taps (padding ``pad``), ``tz`` convolution outputs per row, ``tp`` after max-pooling by ``pool``."""

    n: int
    c: int
    t: int
    f: int
    k: int
    pad: int
    pool: int

    @property
    def tz(self) -> int:
        return self.t + 2 * self.pad - self.k + 1

    @property
    def tp(self) -> int:
        return self.tz // self.pool

    @property
    def margin(self) -> int:  # zeros on each side of dz: the input gradient is one valid convolution of it
        return self.k - 1 - self.pad


@dataclass(frozen=True)
class _Spatial:
    """A spatial block's geometry: ``b`` windows x ``t`` time steps x ``r`` electrode rows x ``c`` filters in
    (element strides ``strides`` of window, time, row, filter), ``o`` filters of ``k`` rows out."""

    b: int
    t: int
    r: int
    c: int
    o: int
    k: int
    strides: tuple[int, int, int, int]

    @property
    def rz(self) -> int:
        return self.r - self.k + 1

    @property
    def npos(self) -> int:
        return self.t * self.rz


class _Layout:
    """Byte offsets of named regions in one workspace."""

    def __init__(self) -> None:
        self.offsets: dict[str, int] = {}
        self.size = 0

    def add(self, name: str, count: int, itemsize: int = 4) -> None:
        start = -(-self.size // _ALIGN) * _ALIGN
        self.offsets[name] = start
        self.size = start + count * itemsize


class _Plan:
    """Geometry, workspace layouts and constants of one network shape (see :func:`_plan`)."""

    def __init__(self, first: _Temporal, temporal: list[_Temporal], spatial: list[_Spatial]) -> None:
        self.first, self.temporal, self.spatial = first, temporal, spatial
        fwd, bwd = _Layout(), _Layout()
        n, f0 = first.n, first.f
        for name, count, size in (("zsel0", n * f0 * first.tp, 4), ("idx0", n * f0 * first.tp, 4)):
            fwd.add(name, count, size)
        fwd.add("s1", first.k, 8)
        fwd.add("s2", first.k * first.k, 8)
        fwd.add("crow", n)
        fwd.add("out0", n * f0 * first.tp)
        bwd.add("g0", n * f0 * first.tp)
        for i, blk in enumerate([first, *temporal]):
            for name, size in (("mean_d", 8), ("var_d", 8), ("mean", 4), ("invstd", 4), ("a", 4)):
                fwd.add(f"{name}{i}", blk.f, size)
            bwd.add(f"c2_{i}", blk.f)
            bwd.add(f"c3_{i}", blk.f)
            bwd.add(f"dout{i}", blk.n * blk.f * blk.tp)  # the gradient of the block's output
            if i:
                fwd.add(f"z{i}", blk.n * blk.f * blk.tz)
                fwd.add(f"zsel{i}", blk.n * blk.f * blk.tp)
                fwd.add(f"idx{i}", blk.n * blk.f * blk.tp)  # int32
                fwd.add(f"out{i}", blk.n * blk.f * blk.tp)
                bwd.add(f"g{i}", blk.n * blk.f * blk.tp)
                bwd.add(f"dz{i}", blk.n * blk.f * (blk.tz + 2 * blk.margin))
        for j, sp in enumerate(spatial):
            count = sp.b * sp.npos * sp.o
            for name, size in (("mean_d", 8), ("var_d", 8), ("mean", 4), ("invstd", 4), ("a", 4)):
                fwd.add(f"s{name}{j}", sp.o, size)
            fwd.add(f"sz{j}", count)
            fwd.add(f"sy{j}", count)
            bwd.add(f"sdy{j}", count)
            bwd.add(f"sdz{j}", count)
        n_zeros = max(blk.f for blk in [first, *temporal]) + max((blk.c for blk in temporal), default=0)
        fwd.add("zeros", n_zeros)
        for i, blk in enumerate([first, *temporal]):
            fwd.add(f"sign{i}", blk.f)
            if i:
                bwd.add(f"flip{i}", blk.c * blk.f * blk.k)
        self.fwd, self.bwd = fwd, bwd
        self._table(n_zeros)

    def _table(self, n_zeros: int) -> None:
        """The argument table of ``myovox_net_fwd`` / ``_bwd`` (its layout is documented in ``_c/kernels.c``):
        which entries are forward or backward workspace regions (and their offsets), parameters, gradients."""
        first, temporal, spatial = self.first, self.temporal, self.spatial
        names: list[tuple[str, str | int]] = [("x", 0), ("feats", 0), ("fwd", "zeros"), ("go", 0)]
        regions = [
            (["zsel0", "idx0", "s1", "s2", "crow", "out0", "mean_d0", "var_d0", "mean0", "invstd0", "a0", "sign0"],
             ["g0", "c2_0", "c3_0", "dout0"]),
        ]  # fmt: skip
        for i in range(1, len(temporal) + 1):
            fwd = ["z", "zsel", "out", "mean_d", "var_d", "mean", "invstd", "a", "sign", "idx"]
            regions.append(
                ([f"{r}{i}" for r in fwd], [f"g{i}", f"c2_{i}", f"c3_{i}", f"dout{i}", f"dz{i}", f"flip{i}"])
            )
        for j in range(len(spatial)):
            fwd = ["sz", "sy", "smean_d", "svar_d", "smean", "sinvstd", "sa"]
            regions.append(([f"{r}{j}" for r in fwd], [f"sdy{j}", f"sdz{j}"]))
        for i, (fwd_names, bwd_names) in enumerate(regions):
            names += [("param", _PER_BLOCK * i + q) for q in range(_PER_BLOCK)]
            names += [("grad", 4 * i + q) for q in range(4)]
            names += [("fwd", r) for r in fwd_names] + [("bwd", r) for r in bwd_names]
        index = {kind: [i for i, (k, _) in enumerate(names) if k == kind] for kind in ("fwd", "bwd", "param", "grad")}
        self.tab_len = len(names)
        self.fwd_slots = np.array(index["fwd"], dtype=np.int64)
        self.fwd_offsets = np.array([self.fwd.offsets[str(names[i][1])] for i in index["fwd"]], dtype=np.int64)
        self.bwd_slots = np.array(index["bwd"], dtype=np.int64)
        self.bwd_offsets = np.array([self.bwd.offsets[str(names[i][1])] for i in index["bwd"]], dtype=np.int64)
        self.param_slots = np.array(index["param"], dtype=np.int64)  # in the order of the blocks' tensors
        self.grad_slots = np.array(index["grad"], dtype=np.int64)
        geo = [1 + len(temporal), len(spatial), n_zeros]
        geo += [first.n, first.t, first.f, first.k, first.pad, first.pool, first.tz, first.tp]
        for blk in temporal:
            geo += [blk.n, blk.c, blk.t, blk.f, blk.k, blk.pad, blk.pool, blk.tz, blk.tp, blk.margin]
        for sp in spatial:
            geo += [sp.b, sp.t, sp.r, sp.c, sp.o, sp.k, sp.npos, *sp.strides]
        self.geo = torch.tensor(geo, dtype=torch.int64)
        self._hyper: dict[tuple, torch.Tensor] = {}

    def point(
        self,
        t: np.ndarray,
        *,
        fwd: int | None = None,
        bwd: int | None = None,
        params: tuple[torch.Tensor, ...] | None = None,
        grads: list[int] | None = None,
    ) -> None:
        """Write into the argument table ``t`` (an int64 array) the regions of the forward / backward workspace
        starting at address ``fwd`` / ``bwd``, the blocks' tensors ``params`` and the gradient addresses ``grads``;
        what is ``None`` stays as it is."""
        if fwd is not None:
            t[self.fwd_slots] = self.fwd_offsets + fwd
        if bwd is not None:
            t[self.bwd_slots] = self.bwd_offsets + bwd
        if params is not None:
            t[self.param_slots] = [p.data_ptr() for p in params]
        if grads is not None:
            t[self.grad_slots] = grads

    def hyper(self, meta: tuple[tuple[float, float], ...]) -> torch.Tensor:
        """Batch norm's ``(momentum, eps)`` of every block, as ``myovox_net_fwd`` reads them (cached)."""
        h = self._hyper.get(meta)
        if h is None:
            h = self._hyper[meta] = torch.tensor([v for pair in meta for v in pair], dtype=torch.float64)
        return h


def _plan(b: int, c: int, t: int, blocks: list[Any]) -> _Plan:
    """The (cached) plan for ``b`` windows of ``c`` x ``t`` through ``blocks`` (checked by :func:`fits`)."""
    shapes = tuple((tuple(conv.weight.shape), tuple(conv.padding), _pool(pool)) for conv, _, _, pool in blocks)
    key = (b, c, t, shapes)
    with _PLANS_LOCK:  # fits may run in several threads at once
        plan = _PLANS.get(key)
        if plan is not None:
            _PLANS.move_to_end(key)
            return plan
    temporal: list[_Temporal] = []
    n, ch, tt = b * c, 1, t
    spatial_from = _n_temporal(blocks)
    for conv, _, _, pool in blocks[:spatial_from]:
        blk = _Temporal(n, ch, tt, conv.out_channels, conv.kernel_size[1], conv.padding[1], _pool(pool))
        temporal.append(blk)
        ch, tt = blk.f, blk.tp
    spatial: list[_Spatial] = []
    r = c
    strides = (c * ch * tt, 1, ch * tt, tt)  # (window, time, row, filter) of the temporal output (b * c, F, T)
    for conv, _, _, _ in blocks[spatial_from:]:
        sp = _Spatial(b, tt, r, ch, conv.out_channels, conv.kernel_size[0], strides)
        spatial.append(sp)
        r, ch = sp.rz, sp.o
        strides = (tt * r * ch, r * ch, ch, 1)
    plan = _Plan(temporal[0], temporal[1:], spatial)
    with _PLANS_LOCK:
        _PLANS[key] = plan
        if len(_PLANS) > _MAX_PLANS:
            _PLANS.popitem(last=False)
    return plan


def _pool(pool: Any) -> int:
    return _pair(pool.kernel_size)[1]


def _n_temporal(blocks: list[Any]) -> int:
    """How many blocks are temporal: they come first, each a ``(1, k)`` kernel followed by pooling (the spatial
    blocks after them pool by 1)."""
    n = 0
    while n < len(blocks) and blocks[n][0].kernel_size[0] == 1 and _pool(blocks[n][3]) != 1:
        n += 1
    return n


def fits(blocks: list[Any], x: torch.Tensor) -> bool:
    """True when :func:`network_features` handles ``blocks`` (SpeechNet's, checked by ``fast.supports_fast``)
    for ``x`` ``(b, c, t)``: temporal blocks that all pool (the first's kernel at most 64 taps), then at least
    one spatial block; ``x`` and the parameters float32 on the CPU (the parameters contiguous), ``x`` not
    requiring a gradient."""
    if x.dtype != torch.float32 or x.device.type != "cpu" or x.requires_grad or x.dim() != 3 or len(blocks) > 64:
        return False
    for conv, bn, _, _ in blocks:
        for p in (conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var):
            if p.dtype != torch.float32 or p.device.type != "cpu" or not p.is_contiguous():
                return False
    n_temporal, t = _n_temporal(blocks), x.shape[2]
    if n_temporal < 1 or n_temporal == len(blocks) or blocks[0][0].kernel_size[1] > _C_FIRST_MAX_KERNEL:
        return False
    for conv, _, _, pool in blocks[:n_temporal]:
        if conv.padding[0] != 0 or conv.kernel_size[1] - 1 - conv.padding[1] < 0:
            return False
        t = (t + 2 * conv.padding[1] - conv.kernel_size[1] + 1) // _pool(pool)
        if t < 1:  # too short a window: left to the modules (and their error)
            return False
    c = x.shape[1]
    for conv, _, _, pool in blocks[n_temporal:]:
        if conv.kernel_size[1] != 1 or tuple(conv.padding) != (0, 0) or conv.kernel_size[0] > c:
            return False
        if _pair(pool.kernel_size) != (1, 1):
            return False
        c = c - conv.kernel_size[0] + 1
    return True


def network_features(blocks: list[Any], x: torch.Tensor) -> torch.Tensor:
    """Training-mode blocks + average pooling (autograd, one node): ``(b, filters)`` for ``x`` ``(b, c, t)``.

    Updates the batch-norm running statistics as the modules do. Call :func:`fits` first.
    """
    b, c, t = x.shape
    tensors, meta = _block_tensors(blocks)
    return _NetworkC.apply(x.reshape(b * c, t).contiguous(), _plan(b, c, t, blocks), meta, *tensors)


def train_step(net: Any, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``zero_grad(); loss = cross_entropy(net(x), y); loss.backward()`` for a SpeechNet in training mode, without
    autograd.

    The blocks run on the kernels as in :func:`network_features` (the running statistics bitwise those of the
    autograd path); dropout's mask is drawn as aten's dropout draws it (the same random numbers); the linear
    head, the cross-entropy loss (mean over the targets other than -100) and their gradients are one C call,
    within float rounding of what autograd computes (~1e-7 relative; not bitwise: aten's matrix products sum in
    their own order). Before, they were the dozen aten operations autograd runs, bitwise its results, at
    ~0.3 ms per step at 14 x 700 (each small operation took 10-40 us after the kernels had evicted its code and
    data from the caches; the machine measured). The kernels write the gradients into ``.grad`` of the
    parameters that require one (made where missing): they replace what was there, as after ``zero_grad()``
    (no accumulation). Returns ``(loss, logits)`` (no graph), or ``None`` where the step does not apply (the
    caller then uses autograd): no C kernels, a structure :func:`fits` does not accept, a head other than dropout
    + a float32 ``nn.Linear`` on the blocks' features, targets other than a vector of class indices, an
    existing gradient that is not contiguous float32. A target outside the classes raises ``IndexError`` (as
    cross-entropy does, after the forward pass). A training loop makes one :class:`Stepper` instead (the same
    step, its checks made once per window shape).
    """
    return Stepper(net)(x, y)


class _Tables:
    """A forward call's argument table for one window shape, kept from one call to the next with its features
    buffer: only the input's, the parameters' and (where it moved) the workspace's addresses are written per
    call (allocating and filling the tables at every step took ~0.25 ms of a ~6.5 ms step at 14 x 700, the
    machine measured: small operations run slowly between kernels that have evicted their code and data from
    the caches)."""

    def __init__(self, plan: _Plan, tensors: tuple, meta: tuple) -> None:
        self.plan, self.tensors, self.hyper = plan, tensors, plan.hyper(meta)
        self.feats = torch.empty(plan.spatial[-1].b, plan.spatial[-1].o)
        self.tab = torch.zeros(plan.tab_len, dtype=torch.int64)
        self.t = self.tab.numpy()
        self.t[1] = self.feats.data_ptr()
        self.ws_at = -1  # the workspace's address in the table (read at every call: see _scratch)

    def point_forward(self, xr: torch.Tensor) -> torch.Tensor:
        """Point the table at ``xr`` (rows, contiguous), the parameters and this thread's forward workspace,
        which it returns (to be kept alive over the call)."""
        ws = _scratch("fwd", self.plan.fwd.size)
        moved = ws.data_ptr() != self.ws_at
        self.ws_at = ws.data_ptr()
        self.plan.point(self.t, fwd=self.ws_at if moved else None, params=self.tensors)
        self.t[0] = xr.data_ptr()
        return ws


class _StepSetup(_Tables):
    """What :class:`Stepper`'s training steps on one window shape share: the forward table (above), the
    parameters that get gradients, the head's table and the buffers between the C calls."""

    def __init__(self, plan: _Plan, tensors: tuple, meta: tuple, targets: list, head: Any) -> None:
        super().__init__(plan, tensors, meta)
        self.targets = targets
        self.dims = torch.tensor([plan.spatial[-1].b, head.in_features, head.out_features], dtype=torch.int64)
        self.g_feats, self.noise = torch.empty_like(self.feats), torch.empty_like(self.feats)
        self.head_tab = torch.zeros(10, dtype=torch.int64)
        self.h = self.head_tab.numpy()
        self.t[3] = self.g_feats.data_ptr()
        self.h[0], self.h[7] = self.feats.data_ptr(), self.g_feats.data_ptr()
        self.wsb_at = -1


class Stepper:
    """:func:`train_step` for one network over the steps of a training loop (``fit``'s).

    What does not change from one step to the next is looked up once per window shape: whether the structure
    fits the kernels (:func:`fits`, the head), the blocks' tensors, the plan, which parameters are trained, the
    argument tables and the buffers between the C calls (at 14 x 700 ~0.65 ms of Python per step otherwise, a
    tenth of the step, on the machine measured). The network's modules and parameter tensors must stay those of
    the first step (their values and addresses may change: the addresses are read at every step, as are the
    training mode, the dropout rate and the gradients, which may be replaced or removed between steps). One
    thread at a time: the buffers are the Stepper's.
    """

    def __init__(self, net: Any) -> None:
        self.net = net
        head, drop = getattr(net, "classifier", None), getattr(net, "dropout", None)
        self._ok = isinstance(head, torch.nn.Linear) and isinstance(drop, torch.nn.Dropout) and head.bias is not None
        self.head: Any = head  # checked by self._ok before any use
        self.drop: Any = drop
        self._shapes: dict[tuple[int, ...], _StepSetup | None] = {}  # per window shape
        self._chunks: dict[tuple[int, ...], _Tables | None] = {}  # per evaluation chunk shape
        self._grads: list[torch.Tensor | None] = []  # the gradients of the last step, checked once each

    def _setup(self, x: torch.Tensor) -> _StepSetup | None:
        """What a step on windows shaped as ``x`` needs, or ``None`` where the kernels do not take them."""
        blocks = list(self.net.blocks)
        if not (_c_ready() and fits(blocks, x)):
            return None
        b, c, t = x.shape
        plan, head = _plan(b, c, t, blocks), self.head
        for p in (head.weight, head.bias):
            if p.dtype != torch.float32 or p.device.type != "cpu" or not p.is_contiguous():
                return None
        if head.in_features != plan.spatial[-1].o:  # left to the modules (and their error)
            return None
        tensors, meta = _block_tensors(blocks)
        targets = [p for i in range(0, len(tensors), _PER_BLOCK) for p in tensors[i : i + 4]]
        return _StepSetup(plan, tensors, meta, [*targets, head.weight, head.bias], head)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        head, drop = self.head, self.drop
        if not (
            self._ok
            and self.net.training
            and y.dtype == torch.int64
            and y.dim() == 1
            and y.shape[0] == x.shape[0]
            and x.dtype == torch.float32
            and x.device.type == "cpu"
            and not x.requires_grad
            and x.dim() == 3
        ):
            return None
        key = tuple(x.shape)
        if key not in self._shapes:
            self._shapes[key] = self._setup(x)
        s = self._shapes[key]
        if s is None:
            return None
        targets, plan = s.targets, s.plan
        grads = [p.grad if p.requires_grad else None for p in targets]
        if len(grads) != len(self._grads) or any(g is not h for g, h in zip(grads, self._grads, strict=True)):
            for g in grads:
                if g is not None and (g.dtype != torch.float32 or g.device.type != "cpu" or not g.is_contiguous()):
                    return None
        # where the gradients go: each trained parameter's .grad (made if missing), a scratch buffer for frozen
        # ones, each its own region, so that no kernel ever finds two of its outputs at one address (batch norm's
        # backward once read dbeta and dgamma back from a shared one)
        n_frozen = sum(p.numel() for p in targets if not p.requires_grad)
        scratch = torch.empty(n_frozen) if n_frozen else None  # none to make when everything trains (fit's case)
        spare = 0 if scratch is None else scratch.data_ptr()
        grad_at = []
        for i, p in enumerate(targets):
            if p.requires_grad:
                g = grads[i]
                if g is None:
                    p.grad = grads[i] = g = torch.empty_like(p, memory_format=torch.contiguous_format)  # all written
                grad_at.append(g.data_ptr())
            else:
                grad_at.append(spare)
                spare += 4 * p.numel()
        self._grads = grads
        b, c, t = key
        xr, y = x.reshape(b * c, t).contiguous(), y.contiguous()
        ws, wsb = s.point_forward(xr), _scratch("bwd", plan.bwd.size)
        moved = wsb.data_ptr() != s.wsb_at
        s.wsb_at = wsb.data_ptr()
        plan.point(s.t, bwd=s.wsb_at if moved else None, grads=grad_at[:-2])
        # dropout's mask as aten's dropout draws it on the CPU (a Bernoulli mask scaled by 1 / (1 - p)); no random
        # number is drawn by the forward pass, so drawing it first gives the same mask
        noise = None
        if drop.training and drop.p > 0:
            noise = s.noise
            if drop.p >= 1:
                noise.zero_()
            else:
                noise.bernoulli_(1 - drop.p).div_(1 - drop.p)
        logits, loss = s.feats.new_empty(b, head.out_features), s.feats.new_empty(())
        h = s.h
        h[1:7] = (
            0 if noise is None else noise.data_ptr(),
            head.weight.data_ptr(),
            head.bias.data_ptr(),
            y.data_ptr(),
            logits.data_ptr(),
            loss.data_ptr(),
        )
        h[8:] = grad_at[-2:]
        _k.net_fwd(geo=plan.geo, hyper=s.hyper, tab=s.tab)
        try:
            _k.head_step(dims=s.dims, tab=s.head_tab)
        except RuntimeError:  # a target out of range (the only other failure, memory, is a MemoryError)
            bad = y[(y != -100) & ((y < 0) | (y >= head.out_features))]
            raise IndexError(f"Target {int(bad[0])} is out of bounds.") from None
        _k.net_bwd(geo=plan.geo, tab=s.tab)
        del ws, wsb, xr, scratch  # kept alive up to here: the tables point into them
        return loss, logits

    def evaluate(self, x: torch.Tensor, chunk: int) -> torch.Tensor | None:
        """The evaluation-mode network's logits for ``x`` ``(b, c, t)``, ``chunk`` windows per C call: bitwise what
        :func:`~myovox.models.fast.fast_forward` gives with the same chunks (:func:`network_eval`, then the head),
        with the argument tables kept per chunk shape as in the training steps. ``None`` where that does not apply
        (the network in training mode, gradients enabled, a structure or input the kernels do not take)."""
        if not (
            self._ok
            and not self.net.training
            and not torch.is_grad_enabled()
            and x.dtype == torch.float32
            and x.device.type == "cpu"
            and x.dim() == 3
        ):
            return None
        out = []
        for i in range(0, x.shape[0], chunk):
            xb = x[i : i + chunk]
            b, c, t = key = tuple(xb.shape)
            if key not in self._chunks:
                blocks = list(self.net.blocks)
                ok = _c_ready() and fits(blocks, xb)
                self._chunks[key] = _Tables(_plan(b, c, t, blocks), *_block_tensors(blocks)) if ok else None
            s = self._chunks[key]
            if s is None:
                return None
            xr = xb.reshape(b * c, t).contiguous()
            ws = s.point_forward(xr)
            _k.net_eval(geo=s.plan.geo, hyper=s.hyper, tab=s.tab)
            del ws, xr
            out.append(self.head(self.drop(s.feats)))  # as fast_forward: dropout (evaluation mode) and the head
        return out[0] if len(out) == 1 else torch.cat(out)


def network_eval(blocks: list[Any], x: torch.Tensor) -> torch.Tensor:
    """Evaluation-mode blocks + average pooling, without autograd: ``(b, filters)`` for ``x`` ``(b, c, t)``.

    Running statistics; each window's output depends on that window only. Call :func:`fits` first, under
    ``torch.no_grad()`` or ``torch.inference_mode()``.
    """
    b, c, t = x.shape
    tensors, meta = _block_tensors(blocks)
    xr = x.reshape(b * c, t).contiguous()
    feats, _, _ = _forward_kernels(xr, _plan(b, c, t, blocks), meta, tensors, training=False, reuse=True)
    return feats


def _scratch(kind: str, nbytes: int) -> torch.Tensor:
    """This thread's ``kind`` workspace (``"fwd"`` or ``"bwd"``), at least ``nbytes`` long, kept between calls.

    A step's intermediates are megabytes (~9 MB each way at 14 x 700, batch 32); allocated afresh at every step,
    whether glibc hands back the pages of the last step or fresh ones (each faulting on first touch) depends on
    its heap's history: at 16 x 200, ~450-1,500 page faults and ~40 % more time per step than with the same
    pages again (measured; the benchmarks pin the allocator, so they did not show it). Kept per thread, so
    that trainings in several threads never share one; at most :data:`_SCRATCH_MAX` bytes each (a training step
    at batch 32 needs 16 MB forward at 16 x 1000; an evaluation batch of 256 windows of 14 x 700, 77 MB, is
    allocated per call, as before). Every region is written before it is read, as with fresh memory.
    """
    if nbytes > _SCRATCH_MAX:
        return torch.empty(nbytes, dtype=torch.uint8)
    buffers = getattr(_SCRATCH, "buffers", None)
    if buffers is None:
        buffers = _SCRATCH.buffers = {}
    buf = buffers.get(kind)
    if buf is None or buf.numel() < nbytes:
        buffers[kind] = None  # the old one freed before the new one is made
        buf = buffers[kind] = torch.empty(nbytes, dtype=torch.uint8)
    return buf


def _forward_kernels(
    x: torch.Tensor,
    plan: _Plan,
    meta: tuple,
    tensors: tuple[torch.Tensor, ...],
    training: bool = True,
    reuse: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The forward pass on the kernels (one C call): ``(features (b, filters), workspace, argument table)``.

    ``training``: batch statistics, the running statistics updated, the table and workspace then serve
    :func:`_backward_kernels`; else the running statistics (evaluation). ``reuse``: the workspace is this
    thread's kept one (:func:`_scratch`), for callers that are done with it before their next call (not the
    autograd node, whose workspace waits for its backward pass).
    """
    ws = _scratch("fwd", plan.fwd.size) if reuse else torch.empty(plan.fwd.size, dtype=torch.uint8)
    feats = x.new_empty(plan.spatial[-1].b, plan.spatial[-1].o)
    tab = torch.empty(plan.tab_len, dtype=torch.int64)
    t = tab.numpy()
    plan.point(t, fwd=ws.data_ptr(), params=tensors)
    t[0], t[1] = x.data_ptr(), feats.data_ptr()
    (_k.net_fwd if training else _k.net_eval)(geo=plan.geo, hyper=plan.hyper(meta), tab=tab)
    return feats, ws, tab


def _backward_kernels(plan: _Plan, tab: torch.Tensor, go: torch.Tensor, grad_at: list[int]) -> None:
    """Backward on the kernels (one C call) for the features' gradient ``go``, after :func:`_forward_kernels`
    (whose workspace, input and parameters the caller keeps alive): writes the parameter gradients, four per
    block (weight, bias, gamma, beta) in block order, at the addresses ``grad_at`` (contiguous float32 memory of
    each parameter's size, kept referenced by the caller)."""
    wsb = _scratch("bwd", plan.bwd.size)  # used within this call only
    go = go.contiguous()
    t = tab.numpy()
    plan.point(t, bwd=wsb.data_ptr(), grads=grad_at)
    t[3] = go.data_ptr()
    _k.net_bwd(geo=plan.geo, tab=tab)


class _NetworkC(torch.autograd.Function):
    """Temporal blocks, spatial blocks and average pooling in training mode, one autograd node (see the module)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, plan: _Plan, meta: tuple, *tensors: torch.Tensor) -> torch.Tensor:
        feats, ws, tab = _forward_kernels(x, plan, meta, tensors)
        ctx.save_for_backward(x, ws, tab, *tensors)
        ctx.plan = plan
        return feats

    @staticmethod
    def backward(ctx: Any, go: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        _x, _ws, tab, *tensors = ctx.saved_tensors  # the table points into the input and the workspace
        # the parameter gradients in one buffer, returned as views of it
        sizes = [p.numel() for i in range(0, len(tensors), _PER_BLOCK) for p in tensors[i : i + 4]]
        gbuf = torch.empty(sum(sizes))
        grad_at, at = [], gbuf.data_ptr()
        for n in sizes:
            grad_at.append(at)
            at += 4 * n
        _backward_kernels(ctx.plan, tab, go, grad_at)
        views = gbuf.split(sizes)
        grads: list[torch.Tensor | None] = []
        for i in range(len(tensors) // _PER_BLOCK):
            block = tensors[i * _PER_BLOCK : i * _PER_BLOCK + 4]
            grads += [views[4 * i + q].view(p.shape) for q, p in enumerate(block)] + [None, None, None]
        return (None, None, None, *grads)

import copy
import re

import pytest

torch = pytest.importorskip("torch")

from myovox.models.fast import fast_forward, supports_fast  # noqa: E402
from myovox.models.speechnet import SpeechNet  # noqa: E402

F = torch.nn.functional


@pytest.fixture(params=[False, True], ids=["torch", "c"])
def use_c(request):
    """Both formulations of the fast path: PyTorch only, and with the C kernels."""
    if request.param:
        request.getfixturevalue("c_kernels")
    return request.param


def _pair(n_channels=14, n_times=300, seed=0):
    torch.manual_seed(seed)
    net = SpeechNet(n_channels, n_times, 5, dropout=0.0)
    with torch.no_grad():  # include negative batch-norm scales (the pooling-order trick must handle them)
        for block in net.blocks:
            block[1].weight.uniform_(-1.0, 1.0)
            block[1].bias.uniform_(-0.5, 0.5)
    return net, copy.deepcopy(net)


def _rounding_sensitivity(ref, x, y, draws=4, rel=2e-6):
    """How far each parameter's gradient moves when ``ref``'s convolution outputs are perturbed at float32
    rounding size (relative ``rel``, ``draws`` times): the gradient's conditioning at this input.

    Max-pool windows whose two largest values are closer than rounding, and ReLU inputs that close to 0, are
    decided by the summation order: the plain PyTorch network itself moves by up to 3e-2 of the largest
    gradient under 1e-6 relative noise on one convolution's output for some inputs (8 x 280 and 14 x 700,
    batch 32), and by ~1e-6 for most. Two correct float32 formulations may differ by as much.
    """
    gen = torch.Generator().manual_seed(0)
    moved = {name: 0.0 for name, _ in ref.named_parameters()}
    base = {name: p.grad.detach().clone() for name, p in ref.named_parameters()}
    for _ in range(draws):
        net = copy.deepcopy(ref)
        net.zero_grad()
        hooks = [
            m.register_forward_hook(lambda _m, _i, o: o * (1 + rel * torch.randn(o.shape, generator=gen)))
            for m in net.modules()
            if isinstance(m, torch.nn.Conv2d)
        ]
        with torch.random.fork_rng():  # dropout, if any, draws the same masks as the reference's pass
            F.cross_entropy(net(x), y).backward()
        for h in hooks:
            h.remove()
        for name, p in net.named_parameters():
            moved[name] = max(moved[name], float((p.grad - base[name]).abs().max()))
    return moved


def _conditioned_batch(ref, batch, n_channels, n_times, n_classes, tries=6):
    """A random batch ``(x, y)`` at which ``ref``'s gradients are well-conditioned, if one of ``tries`` is.

    Some random batches hold a near-tie that moves a gradient by a third of its scale under rounding-sized
    noise (it depends on the CPU's summation order); comparing two float32 formulations there says nothing.
    """
    best = None
    for _ in range(tries):
        x = torch.randn(batch, n_channels, n_times) * 1.5 + 0.3
        y = torch.randint(0, n_classes, (batch,))
        net = copy.deepcopy(ref)
        net.zero_grad()
        F.cross_entropy(net(x), y).backward()
        top = max(float(p.grad.abs().max()) for p in net.parameters())
        moved = _rounding_sensitivity(net, x, y)
        worst = max(
            moved[name] / max(float(p.grad.abs().max()), 1e-3 * top)
            for name, p in net.named_parameters()
            if not (name.startswith("blocks.") and name.endswith(".0.bias"))
        )
        if best is None or worst < best[0]:
            best = (worst, x, y)
        if worst < 3e-3:
            break
    return best[1], best[2]


def _assert_grads_close(ref, fast, x=None, y=None):
    # Tolerance 1e-2 of each gradient's scale, or 3x how far the reference's own gradient moves under
    # rounding-sized perturbations where that is more (_rounding_sensitivity: with ``x`` and ``y``, the batch
    # the gradients are of). Float rounding alone gives ~1e-5 here, but two float32 formulations may route a
    # pooled gradient to different positions where a max-pool window's two largest values are closer than
    # their rounding (a near-tie; which windows are near-ties depends on the CPU's summation order); a wrong
    # formula changes a gradient by O(1) whatever the input.
    top = max(float(p.grad.abs().max()) for p in ref.parameters())
    moved = _rounding_sensitivity(ref, x, y) if x is not None else {}
    for (name, p_ref), (_, p_fast) in zip(ref.named_parameters(), fast.named_parameters(), strict=True):
        if name.startswith("blocks.") and name.endswith(".0.bias"):
            # a convolution bias right before batch norm has a true gradient of 0: both are float noise
            assert float(p_ref.grad.abs().max()) < 1e-2 * top and float(p_fast.grad.abs().max()) < 1e-2 * top
            continue
        scale = max(float(p_ref.grad.abs().max()), 1e-3 * top)
        tol = max(1e-2 * scale, 3.0 * moved.get(name, 0.0))
        assert tol <= 0.2 * scale, f"{name}: the reference's gradient is too ill-conditioned at this input to compare"
        assert float((p_ref.grad - p_fast.grad).abs().max()) <= tol, name


def _check_step(ref, fast, x, y, use_c=True, rtol=1e-4, atol=1e-5):
    """One training step of both networks: equal outputs and gradients."""
    out_ref, out_fast = ref(x), fast_forward(fast, x, use_c=use_c)
    torch.testing.assert_close(out_fast, out_ref, rtol=rtol, atol=atol)
    F.cross_entropy(out_ref, y).backward()
    F.cross_entropy(out_fast, y).backward()
    _assert_grads_close(ref, fast, x, y)


@pytest.mark.parametrize(("n_channels", "n_times"), [(14, 300), (8, 257), (3, 128)])
def test_fast_path_matches_reference_in_training(n_channels, n_times, use_c):
    ref, fast = _pair(n_channels, n_times)
    assert supports_fast(fast)
    x = torch.randn(16, n_channels, n_times) * 2.0 + 0.5
    y = torch.randint(0, 5, (16,))
    for _ in range(2):  # two steps: running statistics accumulate identically
        ref.zero_grad()
        fast.zero_grad()
        _check_step(ref, fast, x, y, use_c=use_c)
    for (name, b_ref), (_, b_fast) in zip(ref.named_buffers(), fast.named_buffers(), strict=True):
        torch.testing.assert_close(b_fast, b_ref, rtol=1e-5, atol=1e-6, msg=name)


def test_fast_path_matches_reference_in_eval(use_c):
    ref, fast = _pair()
    x = torch.randn(4, 14, 300)
    ref.train()
    ref(x)  # non-trivial running statistics
    fast.load_state_dict(ref.state_dict())
    ref.eval()
    fast.eval()
    with torch.no_grad():
        torch.testing.assert_close(fast_forward(fast, x, use_c=use_c), ref(x), rtol=1e-4, atol=1e-5)
        xl = torch.randn(150, 14, 300)  # more windows than one evaluation chunk
        torch.testing.assert_close(fast_forward(fast, xl, use_c=use_c), ref(xl), rtol=1e-4, atol=1e-5)


def test_fast_path_falls_back_for_unknown_structures():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 2))
    assert not supports_fast(net)
    x = torch.randn(2, 2, 3)
    torch.testing.assert_close(fast_forward(net, x), net(x))


def test_fast_path_handles_ties_like_max_pool(use_c):
    # constant stretches give equal values inside pooling windows: the first index must win
    ref, fast = _pair(14, 300)
    x = torch.randn(8, 14, 300)
    x[:, :, 40:200] = 1.0
    y = torch.randint(0, 5, (8,))
    F.cross_entropy(ref(x), y).backward()
    F.cross_entropy(fast_forward(fast, x, use_c=use_c), y).backward()
    _assert_grads_close(ref, fast)  # exact ties, by construction: no allowance for near-ties


def _first_block_grads(x, w, b, gamma, beta, go, pad, pool, formulation):
    """Output, parameter gradients and running statistics of the first temporal block alone.

    ``formulation``: ``"float64"`` (plain autograd in double: the exact answer for these float32
    inputs), ``"float32"`` (plain autograd), or the fast path's ``"torch"`` / ``"c"`` block.
    """
    from myovox.models import _blocks_c, _blocks_torch

    dt = torch.float64 if formulation == "float64" else torch.float32
    x, go = x.to(dt), go.to(dt)
    w, b, gamma, beta = (p.to(dt).clone().requires_grad_(True) for p in (w, b, gamma, beta))
    rm, rv = torch.zeros(w.shape[0], dtype=dt), torch.ones(w.shape[0], dtype=dt)
    if formulation in ("float64", "float32"):
        z = F.conv1d(x[:, None], w[:, None], b, padding=pad)
        out = F.max_pool1d(F.relu(F.batch_norm(z, rm, rv, gamma, beta, True, 0.1, 1e-5)), pool)
    else:
        block = _blocks_c._FirstBlockC if formulation == "c" else _blocks_torch._FirstBlock
        out = block.apply(x, w, b, gamma, beta, rm, rv, torch.zeros((), dtype=torch.long), pad, pool, 0.1, 1e-5)
    (out * go).sum().backward()
    return {
        "out": out.detach(),
        "weight": w.grad,
        "gamma": gamma.grad,
        "beta": beta.grad,
        "running_mean": rm,
        "running_var": rv,
    }


@pytest.mark.parametrize("dc", [0.0, 1e3, 1e4, 1e5])
def test_first_block_with_dc_offset_matches_float64_autograd(use_c, dc):
    # The first block's statistics come from input moments and its pooled values from shifted
    # rows (fast.py); a DC offset far above the signal, as in raw microvolt data, must cost no
    # precision. The reference is autograd in float64 on the same float32 inputs, not in float32:
    # float32 autograd sums products of offset-sized values, and its weight gradient drifts with
    # the offset (about 5e-5 of its scale at 1e3 and 4e-4 at 1e4 where measured) and with the
    # CPU's summation order (oneDNN's AVX2 and AVX-512 kernels block the sums differently: the
    # whole-network check against it failed by 2 % on an AVX2 machine). The fast block works on
    # signal-sized float32 values with the offsets in double, so its error is that of float32
    # sums over the m = 112 * 301 positions whatever the offset (measured <= 1.1e-6 of each
    # quantity's scale on AVX-512, for every offset here); 1e-5 (about 80 float32 epsilons) holds
    # for any summation order and still fails an error that grows with the offset.
    g = torch.Generator().manual_seed(0)
    n, t, f, k, pad, pool = 112, 300, 8, 4, 2, 8
    x = torch.randn(n, t, generator=g) + dc
    w, b = torch.randn(f, k, generator=g) * 0.5, torch.randn(f, generator=g) * 0.1
    gamma, beta = torch.rand(f, generator=g) * 2 - 1, torch.randn(f, generator=g) * 0.3  # both signs of a
    go = torch.randn(n, f, (t + 2 * pad - k + 1) // pool, generator=g)
    exact = _first_block_grads(x, w, b, gamma, beta, go, pad, pool, "float64")
    got = _first_block_grads(x, w, b, gamma, beta, go, pad, pool, "c" if use_c else "torch")
    for name, ref in exact.items():
        err = float((got[name].double() - ref).abs().max()) / float(ref.abs().max())
        assert err <= 1e-5, f"{name}: {err:.2e} of its scale at DC offset {dc:g}"


def test_network_forward_with_dc_offset_matches_float64(use_c):
    # the whole network in training mode with a DC offset 60x the signal: outputs and the first
    # block's running statistics against float64 (gradients further down are compared above for
    # the first block alone: behind it, a DC-dominated input makes max-pool windows near-ties,
    # whose arg-max, and so the routed gradient, is decided by rounding in any formulation)
    ref, fast = _pair(14, 300)
    x = torch.randn(8, 14, 300) * 50.0 + 3000.0
    exact = copy.deepcopy(ref).double()
    out64 = exact(x.double()).detach()
    out = fast_forward(fast, x, use_c=use_c).detach()
    scale = float(out64.abs().max())
    assert float((out.double() - out64).abs().max()) <= 1e-5 * scale
    for name in ("running_mean", "running_var"):
        a, e = getattr(fast.blocks[0][1], name).double(), getattr(exact.blocks[0][1], name)
        assert float((a - e).abs().max()) <= 1e-6 * float(e.abs().max()), name


@pytest.mark.parametrize("option", [0, 1, 2])
def test_every_conv_gradient_form_matches_reference(monkeypatch, option):
    # the PyTorch formulation's convolution gradients have three forms (one fixed for
    # reproducibility; the C path uses them for short kernels): check each on every block
    from myovox.models import _blocks_torch

    monkeypatch.setattr(_blocks_torch, "CONV_GRAD_FORM", option)
    ref, fst = _pair(6, 200)
    x = torch.randn(8, 6, 200)
    y = torch.randint(0, 5, (8,))
    _check_step(ref, fst, x, y, use_c=False)


@pytest.mark.parametrize(("k", "pad"), [(4, 2), (5, 2), (3, 1), (1, 0), (16, 8), (7, 3), (6, 1)])
def test_shifted_moments_equal_direct_sums(k, pad):
    from myovox.models._blocks_torch import _shifted_moments

    x = torch.randn(5, 40) * 3.0 + 10.0
    xd = F.pad(x, (pad, pad)).double()
    t_out = xd.shape[1] - k + 1
    s1, s2 = _shifted_moments(x, k, pad)
    for i in range(k):
        assert float(s1[i]) == pytest.approx(float(xd[:, i : i + t_out].sum()), rel=1e-12)
        for j in range(k):
            direct = float((xd[:, i : i + t_out] * xd[:, j : j + t_out]).sum())
            assert float(s2[i, j]) == pytest.approx(direct, rel=1e-12)


def test_eval_under_inference_mode_then_training(use_c):
    # scratch buffers made under inference mode must not be written in training afterwards
    _, fst = _pair(4, 128)
    x = torch.randn(6, 4, 128)
    fst.eval()
    with torch.inference_mode():
        fast_forward(fst, x, use_c=use_c)
    fst.train()
    F.cross_entropy(fast_forward(fst, x, use_c=use_c), torch.zeros(6, dtype=torch.long)).backward()
    assert all(p.grad is not None for p in fst.parameters())


def test_fused_adam_makes_the_same_updates_as_default_adam():
    from myovox.models.neural import _adam

    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(7))]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    opt_a = _adam(torch, a, 1e-2, 1e-4, fused=True)
    opt_b = _adam(torch, b, 1e-2, 1e-4, fused=False)
    for _ in range(20):
        grads = [torch.randn_like(p) for p in a]
        for p, q, g in zip(a, b, grads, strict=True):
            p.grad, q.grad = g.clone(), g.clone()
        opt_a.step()
        opt_b.step()
    for p, q in zip(a, b, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_flat_parameters_make_the_same_updates_and_give_the_storage_back():
    # fit's fast path trains the parameters as views of one buffer (one fused Adam update for all of them)
    from myovox.models.neural import _adam, _flat_parameters

    torch.manual_seed(0)
    net_a = SpeechNet(4, 120, 3, dropout=0.0)
    net_b = copy.deepcopy(net_a)
    opt_b = _adam(torch, list(net_b.parameters()), 1e-2, 1e-4, fused=True)
    x, y = torch.randn(8, 4, 120), torch.randint(0, 3, (8,))
    with _flat_parameters(torch, list(net_a.parameters())) as (flat, grads):
        opt_a = _adam(torch, flat, 1e-2, 1e-4, fused=True)
        for _ in range(5):
            grads.zero_()
            opt_b.zero_grad(set_to_none=True)
            F.cross_entropy(fast_forward(net_a, x), y).backward()
            F.cross_entropy(fast_forward(net_b, x), y).backward()
            opt_a.step()
            opt_b.step()
    for (name, p), q in zip(net_a.named_parameters(), net_b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)
        assert p.grad is None and p.is_contiguous()
        assert p.untyped_storage().nbytes() == p.numel() * p.element_size(), name  # its own storage again


@pytest.mark.parametrize(
    ("kernels", "pools", "n_times"),
    [
        ((5, 17, 3), (4, 2, 2), 231),
        ((2, 24, 9), (3, 5, 2), 250),
        ((7, 32, 16), (8, 4, 1), 400),
        ((20, 5, 3), (3, 2, 2), 263),
        ((37, 4, 2), (5, 2, 2), 301),
    ],
)
def test_c_kernels_match_reference_for_other_shapes(kernels, pools, n_times, c_kernels):
    # odd and even kernels, pools that leave a tail, kernels beyond one vector of lags (the first block's too:
    # its weight gradient takes the lags a vector at a time, 8 or 16 lanes)
    torch.manual_seed(1)
    ref = SpeechNet(6, n_times, 4, temporal_kernels=kernels, pools=pools, dropout=0.0)
    with torch.no_grad():
        for block in ref.blocks:
            block[1].weight.uniform_(-1.0, 1.0)
    fst = copy.deepcopy(ref)
    x = torch.randn(12, 6, n_times)
    y = torch.randint(0, 4, (12,))
    _check_step(ref, fst, x, y)


# The shape classes of the training grid (`myovox bench`, rows speechnet_train_windows_per_s_<C>x<T>): a few
# training steps of the fast path against the reference module: the same outputs, gradients and updates at every
# step, and the same running statistics after the steps, to float tolerance. Each step starts both from the
# reference's weights: a near-tie at one step (see _rounding_sensitivity) would otherwise move the two trajectories
# apart by more than rounding. SGD with momentum and weight decay, not Adam: Adam's first steps are sign steps
# (g / |g|), which turn float noise in a gradient that is ~0 (a convolution bias before batch norm, a dead ReLU
# channel) into a full step of either sign; the fused Adam that fit uses is compared with the default one in
# test_fused_adam_makes_the_same_updates_as_default_adam.
GRID_CLASSES = [(2, 200), (8, 280), (14, 700), (16, 1000)]


@pytest.mark.parametrize(("n_channels", "n_times"), GRID_CLASSES, ids=[f"{c}x{t}" for c, t in GRID_CLASSES])
def test_fast_training_steps_match_plain_pytorch(n_channels, n_times, use_c):
    torch.manual_seed(n_channels * 1000 + n_times)
    ref = SpeechNet(n_channels, n_times, 9, dropout=0.0)
    fast = copy.deepcopy(ref)
    assert supports_fast(fast)
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    opt_fast = torch.optim.SGD(fast.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    for batch in (32, 32, 7):  # two full batches of 32 and an epoch's short last batch
        x, y = _conditioned_batch(ref, batch, n_channels, n_times, 9)
        with torch.no_grad():
            for p_ref, p_fast in zip(ref.parameters(), fast.parameters(), strict=True):
                p_fast.copy_(p_ref)
        before = [p.detach().clone() for p in ref.parameters()]
        opt_ref.zero_grad()
        opt_fast.zero_grad()
        _check_step(ref, fast, x, y, use_c=use_c, atol=1e-4)
        opt_ref.step()
        opt_fast.step()
        with torch.no_grad():  # the updates (momentum included) agree as the gradients do
            steps = [(p - p0).abs().max() for p, p0 in zip(ref.parameters(), before, strict=True)]
            top = float(max(steps))
            for (name, p_ref), p_fast, moved in zip(ref.named_parameters(), fast.parameters(), steps, strict=True):
                if not (name.startswith("blocks.") and name.endswith(".0.bias")):
                    tol = 0.2 * max(float(moved), 1e-3 * top)  # the most _assert_grads_close lets pass
                    assert float((p_ref - p_fast).abs().max()) <= tol, name
    for (name, b_ref), (_, b_fast) in zip(ref.named_buffers(), fast.named_buffers(), strict=True):
        torch.testing.assert_close(b_fast, b_ref, rtol=1e-4, atol=1e-5, msg=name)
    ref.eval()
    fast.eval()
    with torch.no_grad():
        x = torch.randn(40, n_channels, n_times)
        torch.testing.assert_close(fast_forward(fast, x, use_c=use_c), ref(x), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(("n_channels", "n_times", "batch"), [(2, 5, 8), (8, 3, 16), (14, 5, 32), (16, 9, 7)])
def test_spatial_head_matches_the_modules(n_channels, n_times, batch):
    # the spatial blocks + average pooling as one autograd node (used in training up to MAX_POSITIONS positions),
    # at any size, in float64: outputs, input and parameter gradients and running statistics as the modules'
    from myovox.models._blocks_spatial import spatial_head

    torch.manual_seed(n_channels)
    net = SpeechNet(n_channels, 300, 5).double()
    ref_blocks, blocks = list(net.blocks)[3:], copy.deepcopy(list(net.blocks)[3:])
    h = torch.randn(batch * n_channels, 16, n_times, dtype=torch.float64, requires_grad=True)
    h2 = h.detach().clone().requires_grad_(True)
    z = h.view(batch, n_channels, 16, n_times).transpose(1, 2)
    for block in ref_blocks:
        z = block(z)
    ref = z.mean(dim=(2, 3))
    out = spatial_head(h2, batch, n_channels, blocks)
    torch.testing.assert_close(out, ref, rtol=1e-10, atol=1e-12)
    go = torch.randn_like(ref)
    ref.backward(go)
    out.backward(go)
    torch.testing.assert_close(h2.grad, h.grad, rtol=1e-9, atol=1e-12)
    for m_ref, m in zip(ref_blocks, blocks, strict=True):
        for (name, p_ref), (_, p) in zip(m_ref.named_parameters(), m.named_parameters(), strict=True):
            torch.testing.assert_close(p.grad, p_ref.grad, rtol=1e-9, atol=1e-10, msg=name)
        for (name, b_ref), (_, b) in zip(m_ref.named_buffers(), m.named_buffers(), strict=True):
            torch.testing.assert_close(b, b_ref, rtol=1e-12, atol=0, msg=name)


@pytest.mark.parametrize(
    ("n_channels", "n_times", "batch", "filters"),
    [(2, 5, 8, (32, 32)), (8, 3, 16, (20, 7)), (14, 5, 32, (32, 32)), (16, 9, 7, (9,))],
)
def test_spatial_head_on_c_kernels_matches_the_modules(n_channels, n_times, batch, filters, c_kernels):
    # the C kernels' spatial head (float32, read from the temporal output in place through strides) against the
    # modules in float64: outputs, input and parameter gradients, running statistics
    from myovox.models._blocks_spatial import spatial_head

    torch.manual_seed(n_channels)
    net = SpeechNet(n_channels, 300, 5, spatial_filters=filters)
    for block in list(net.blocks)[3:]:  # batch norm with slopes of both signs
        torch.nn.init.uniform_(block[1].weight, -1.0, 1.0)
    ref_blocks, blocks = copy.deepcopy(list(net.blocks)[3:]), list(net.blocks)[3:]
    for block in ref_blocks:
        block.double()
    h = torch.randn(batch * n_channels, 16, n_times, requires_grad=True)
    h64 = h.detach().double().requires_grad_(True)
    z = h64.view(batch, n_channels, 16, n_times).transpose(1, 2)
    for block in ref_blocks:
        z = block(z)
    ref = z.mean(dim=(2, 3))
    out = spatial_head(h, batch, n_channels, blocks, use_c=True)
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    go = torch.randn_like(out)
    ref.backward(go.double())
    out.backward(go)
    torch.testing.assert_close(h.grad.double(), h64.grad, rtol=1e-4, atol=1e-6)
    for m_ref, m in zip(ref_blocks, blocks, strict=True):
        scale = float(m_ref[0].weight.grad.abs().max())
        for (name, p_ref), (_, p) in zip(m_ref.named_parameters(), m.named_parameters(), strict=True):
            # the convolution's bias gradient is ~0 (batch norm follows): compared on the weights' scale
            atol = 1e-5 * scale if name == "0.bias" else 1e-6
            torch.testing.assert_close(p.grad.double(), p_ref.grad, rtol=1e-4, atol=atol, msg=name)
        for (name, b_ref), (_, b) in zip(m_ref.named_buffers(), m.named_buffers(), strict=True):
            torch.testing.assert_close(b.double(), b_ref.double(), rtol=1e-5, atol=1e-7, msg=name)


FUSED_SHAPES = [
    (2, 200, {}),
    (1, 120, {}),
    (8, 280, {"spatial_filters": (20, 7)}),
    (5, 301, {"temporal_kernels": (5, 9, 3), "pools": (4, 3, 2)}),
    (3, 150, {"spatial_filters": (9,)}),
    (14, 300, {}),
    (16, 1000, {}),
    (4, 200, {"temporal_filters": (8,), "temporal_kernels": (4,), "pools": (8,)}),  # one temporal block
    (6, 240, {"temporal_filters": (4, 6, 5, 7), "temporal_kernels": (3, 5, 4, 2), "pools": (2, 2, 3, 2)}),
]


@pytest.mark.parametrize(("n_channels", "n_times", "config"), FUSED_SHAPES)
def test_fused_network_is_bitwise_the_block_by_block_kernels(n_channels, n_times, config, monkeypatch, c_kernels):
    # the whole network as one autograd node calls the same kernels on the same values as the per-block
    # autograd functions: outputs, every gradient and the running statistics are bitwise equal, for a full batch
    # and a short one (the per-block path made to run its spatial head in C at any size)
    from myovox.models import _blocks_spatial

    monkeypatch.setattr(_blocks_spatial, "MAX_POSITIONS", 10**9)
    torch.manual_seed(n_channels * 7 + n_times)
    net = SpeechNet(n_channels, n_times, 9, **config).train()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, -1.0, 1.0)
            torch.nn.init.normal_(m.bias)
    for batch in (32, 7):
        x, y = torch.randn(batch, n_channels, n_times), torch.randint(0, 9, (batch,))
        results = []
        for fused in (False, True):
            torch.manual_seed(1)  # the same dropout mask
            net.zero_grad(set_to_none=True)
            state = copy.deepcopy(net.state_dict())
            out = fast_forward(net, x, fused=fused)
            F.cross_entropy(out, y).backward()
            results.append(
                [out.detach()] + [p.grad.clone() for p in net.parameters()] + list(net.state_dict().values())
            )
            if not fused:
                results[-1] = [t.clone() for t in results[-1]]
                net.load_state_dict(state)
        for a, b in zip(*results, strict=True):
            assert torch.equal(a, b)


def test_fused_network_with_frozen_blocks_and_two_graphs_at_once(c_kernels):
    # frozen parameters get no gradient; two forward passes before their backward passes each keep their own
    # intermediate values (one workspace per call)
    torch.manual_seed(3)
    net = SpeechNet(4, 200, 5).train()
    for p in net.blocks[0].parameters():
        p.requires_grad_(False)
    x1, x2 = torch.randn(6, 4, 200), torch.randn(6, 4, 200)
    separate = []
    for x in (x1, x2):
        net.zero_grad(set_to_none=True)
        torch.manual_seed(0)
        fast_forward(net, x).square().sum().backward()
        separate.append([None if p.grad is None else p.grad.clone() for p in net.parameters()])
    net.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    out1 = fast_forward(net, x1)
    torch.manual_seed(0)
    out2 = fast_forward(net, x2)
    out2.square().sum().backward()
    second = [None if p.grad is None else p.grad.clone() for p in net.parameters()]
    net.zero_grad(set_to_none=True)
    out1.square().sum().backward()
    first = [None if p.grad is None else p.grad.clone() for p in net.parameters()]
    for got, want in ((first, separate[0]), (second, separate[1])):
        for g, w in zip(got, want, strict=True):
            assert (g is None) == (w is None)
            assert g is None or torch.equal(g, w)  # the same kernels on the same values
    assert all(p.grad is None for p in net.blocks[0].parameters())


def test_fused_network_applies_only_where_it_can():
    from myovox.models._network_c import fits

    net = SpeechNet(4, 200, 5)
    x = torch.randn(3, 4, 200)
    assert fits(list(net.blocks), x)
    assert not fits(list(net.blocks), x.double())
    assert not fits(list(net.blocks), x.clone().requires_grad_(True))
    assert not fits(list(SpeechNet(4, 200, 5, pools=(8, 1, 4)).blocks), x)  # a temporal block without pooling
    assert not fits(list(SpeechNet(4, 200, 5, spatial_filters=()).blocks), x)  # no spatial block
    assert not fits(list(SpeechNet(4, 200, 5, temporal_kernels=(65, 16, 8)).blocks), x)  # first kernel > 64
    assert not fits(list(net.blocks), x[:, :, :60])  # too short for the pooling: the modules say so


@pytest.mark.parametrize(("n_channels", "n_times", "config"), FUSED_SHAPES)
def test_fused_network_in_evaluation_matches_the_modules_window_by_window(n_channels, n_times, config, c_kernels):
    # evaluation without autograd runs the whole network in C: the modules' outputs, and each window's output
    # does not depend on the windows evaluated with it (up to the first block's float offset, ~1e-7)
    torch.manual_seed(n_channels + n_times)
    net = SpeechNet(n_channels, n_times, 9, **config)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, -1.0, 1.0)
            torch.nn.init.normal_(m.bias)
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    net.eval()
    x = torch.randn(19, n_channels, n_times)
    with torch.no_grad():
        out = fast_forward(net, x)
        torch.testing.assert_close(out, net(x), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(fast_forward(net, x, fused=False), out, rtol=1e-5, atol=1e-6)
        for i in (0, 7, 18):
            torch.testing.assert_close(fast_forward(net, x[i : i + 1]), out[i : i + 1], rtol=1e-6, atol=1e-6)


def _assert_step_close(loss, logits, net, loss2, logits2, twin, where=""):
    # the C head against aten's: within float rounding (its sums run in another order). Each gradient is compared
    # with a tolerance relative to its own largest value (a sum of many products: absolute, not per element);
    # the convolutions' biases, followed by batch norm, have a gradient of 0 up to rounding noise, which must
    # stay far below the other gradients on both sides
    torch.testing.assert_close(loss2, loss.detach(), rtol=1e-6, atol=1e-7, msg=f"loss {where}")
    torch.testing.assert_close(logits2, logits.detach(), rtol=1e-5, atol=1e-6, msg=f"logits {where}")
    assert not loss2.requires_grad
    named = [(name, p, q) for (name, p), q in zip(net.named_parameters(), twin.parameters(), strict=True)]
    top = max(float(p.grad.abs().max()) for _, p, _ in named if p.grad is not None)
    for name, p, q in named:
        assert (p.grad is None) == (q.grad is None), (where, name)
        if p.grad is None:
            continue
        if re.fullmatch(r"blocks\.\d+\.0\.bias", name):
            assert max(float(p.grad.abs().max()), float(q.grad.abs().max())) < 1e-5 * top, (where, name)
            continue
        scale = float(p.grad.abs().max()) + 1e-30
        torch.testing.assert_close(
            q.grad, p.grad, rtol=0, atol=2e-5 * scale, msg=lambda m, name=name: f"{name} {where}: {m}"
        )


@pytest.mark.parametrize(("n_channels", "n_times", "config"), FUSED_SHAPES[:4])
def test_training_step_without_autograd_is_the_autograd_step(n_channels, n_times, config, c_kernels):
    # fit's step: the blocks on the kernels, dropout's mask as aten draws it, head, loss and their gradients in C;
    # two steps (the second writes over existing gradients, as after zero_grad), frozen blocks (the first, and
    # one in the middle whose batch-norm coefficients still carry the gradient below it), dropout active: the
    # loss, the logits and the gradients within float rounding of autograd's, the running statistics bitwise
    from myovox.models._network_c import train_step

    torch.manual_seed(n_channels + 2 * n_times)
    net = SpeechNet(n_channels, n_times, 9, **config).train()
    for i in (0, len(net.blocks) - 2):
        for p in net.blocks[i].parameters():
            p.requires_grad_(False)
    for m in net.modules():  # batch norm with slopes and offsets of both signs
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(m.weight, -1.0, 1.0)
            torch.nn.init.normal_(m.bias)
    twin = copy.deepcopy(net)
    x, y = torch.randn(32, n_channels, n_times), torch.randint(0, 9, (32,))
    for step in range(2):
        net.zero_grad(set_to_none=False)
        torch.manual_seed(step)
        logits = fast_forward(net, x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        torch.manual_seed(step)
        loss2, logits2 = train_step(twin, x, y)
        _assert_step_close(loss, logits, net, loss2, logits2, twin, f"step {step}")
    for (name, a), b in zip(net.state_dict().items(), twin.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    twin.eval()
    assert train_step(twin, x, y) is None  # evaluation mode: not a training step
    twin.train()
    assert train_step(twin, x, y.float()) is None  # not class indices
    assert train_step(twin, x.double(), y) is None


def test_one_stepper_over_changing_steps_is_the_autograd_step(c_kernels):
    # fit's loop makes one Stepper (its checks once per window shape): between its steps the gradients are
    # removed (zero_grad(set_to_none=True)) or replaced, a block is frozen and thawed, the batch shrinks (an
    # epoch's last batch), the dropout rate changes; each step must still be autograd's (within rounding, the
    # weights kept equal between steps), and a step it cannot take (evaluation mode, a non-contiguous gradient)
    # must leave everything as it was
    from myovox.models._network_c import Stepper

    torch.manual_seed(3)
    net = SpeechNet(6, 240, 9).train()
    twin = copy.deepcopy(net)
    stepper = Stepper(twin)
    x, y = torch.randn(32, 6, 240), torch.randint(0, 9, (32,))

    def change(m, step):
        if step == 1:
            m.zero_grad(set_to_none=True)
        if step == 2:
            for p in m.blocks[1].parameters():
                p.requires_grad_(False)
                p.grad = None
        if step == 3:
            for p in m.blocks[1].parameters():
                p.requires_grad_(True)
        if step == 4:
            m.dropout.p = 0.2
        if step == 5:
            m.classifier.weight.grad = torch.zeros_like(m.classifier.weight)  # a new gradient tensor

    for step, b in enumerate((32, 32, 32, 20, 32, 20, 32)):
        change(net, step)
        change(twin, step)
        net.zero_grad(set_to_none=False)
        torch.manual_seed(step)
        logits = fast_forward(net, x[:b])  # no update between steps: the weights stay the same on both sides
        loss = F.cross_entropy(logits, y[:b])
        loss.backward()
        torch.manual_seed(step)
        loss2, logits2 = stepper(x[:b], y[:b])
        _assert_step_close(loss, logits, net, loss2, logits2, twin, f"step {step}")
    before = copy.deepcopy(twin.state_dict())
    grads = [None if p.grad is None else p.grad.clone() for p in twin.parameters()]
    twin.eval()
    assert stepper(x, y) is None
    twin.train()
    twin.classifier.weight.grad = torch.zeros(twin.classifier.weight.shape[::-1]).t()  # not contiguous
    assert stepper(x, y) is None
    twin.classifier.weight.grad = grads[-2]
    for (k, v), w in zip(twin.state_dict().items(), before.values(), strict=True):
        assert torch.equal(v, w), k
    for p, g in zip(twin.parameters(), grads, strict=True):
        assert (p.grad is None) == (g is None) and (g is None or torch.equal(p.grad, g))


def test_a_stepper_follows_its_thread_s_workspaces_when_they_move(c_kernels):
    # the Stepper keeps its argument tables between steps, pointing into this thread's kept workspaces; a larger
    # step or evaluation elsewhere in the thread replaces them (the old ones freed): its next step must point at
    # the new ones, and train as a fresh Stepper does
    from myovox.models import _network_c
    from myovox.models._network_c import Stepper, network_eval, train_step

    torch.manual_seed(6)
    net = SpeechNet(4, 200, 9, dropout=0.0).train()
    twin = copy.deepcopy(net)
    stepper = Stepper(net)
    x, y = torch.randn(8, 4, 200), torch.arange(8) % 9
    stepper(x, y)
    big = SpeechNet(16, 1000, 9).train()
    train_step(big, torch.randn(32, 16, 1000), torch.arange(32) % 9)  # both workspaces outgrown
    with torch.no_grad():
        network_eval(list(big.eval().blocks), torch.randn(32, 16, 1000))
    loss, logits = stepper(x, y)
    kept = _network_c._SCRATCH.buffers
    setup = stepper._shapes[tuple(x.shape)]
    plan, table = setup.plan, setup.t
    assert (table[plan.fwd_slots] == plan.fwd_offsets + kept["fwd"].data_ptr()).all()
    assert (table[plan.bwd_slots] == plan.bwd_offsets + kept["bwd"].data_ptr()).all()
    train_step(twin, x, y)  # the same first step on the twin, then the step compared
    loss2, logits2 = train_step(twin, x, y)
    assert torch.equal(loss, loss2) and torch.equal(logits, logits2)
    for p, q in zip(net.parameters(), twin.parameters(), strict=True):
        assert torch.equal(p.grad, q.grad)


def test_a_stepper_s_evaluation_is_fast_forward_s_bit_for_bit(c_kernels):
    # fit's validation pass runs through its loop's Stepper (the argument tables kept per chunk shape): the
    # logits must be fast_forward's, bit for bit, for whole and partial chunks and after the weights change;
    # in training mode or with gradients on it declines (None) and fit falls back to the modules' path
    from myovox.models._network_c import Stepper

    torch.manual_seed(4)
    net = SpeechNet(6, 240, 9).eval()
    stepper = Stepper(net)
    x = torch.randn(70, 6, 240)
    for round_ in range(2):
        with torch.inference_mode():
            for b, chunk in ((70, 32), (32, 32), (5, 32), (70, 16)):  # fast_forward itself splits at 32
                ours = stepper.evaluate(x[:b], chunk)
                parts = [fast_forward(net, x[i : min(i + chunk, b)]) for i in range(0, b, chunk)]
                assert torch.equal(ours, torch.cat(parts)), (round_, b, chunk)
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.01 * torch.randn_like(p))
    with torch.inference_mode():
        net.train()
        assert stepper.evaluate(x, 32) is None
        net.eval()
    assert stepper.evaluate(x, 32) is None  # gradients enabled


@pytest.mark.parametrize("ignored", [(), (0, 5, 31), tuple(range(32))])
def test_training_step_head_ignores_targets_of_minus_100_and_refuses_others_out_of_range(ignored, c_kernels):
    # the C head's loss is cross-entropy's: windows labelled -100 are not counted (all of them: a NaN loss and zero
    # gradients, as aten); a label outside the classes raises IndexError as cross_entropy does
    from myovox.models._network_c import train_step

    torch.manual_seed(5)
    net = SpeechNet(4, 200, 9, dropout=0.0).train()
    twin = copy.deepcopy(net)
    x, y = torch.randn(32, 4, 200), torch.randint(0, 9, (32,))
    y[list(ignored)] = -100
    logits = fast_forward(net, x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    loss2, logits2 = train_step(twin, x, y)
    if len(ignored) == 32:
        assert torch.isnan(loss) and torch.isnan(loss2)
        for p, q in zip(net.parameters(), twin.parameters(), strict=True):
            assert float(p.grad.abs().max()) == 0.0 and float(q.grad.abs().max()) == 0.0
    else:
        _assert_step_close(loss, logits, net, loss2, logits2, twin, f"{len(ignored)} ignored")
    for bad in (9, -1):
        y[3] = bad
        with pytest.raises(IndexError, match=f"Target {bad} is out of bounds"):
            train_step(twin, x, y)
        with pytest.raises(IndexError, match=f"Target {bad} is out of bounds"):
            F.cross_entropy(fast_forward(net, x), y)


def test_training_steps_keep_one_workspace_per_thread_and_threads_never_share_it(c_kernels):
    # train_step and network_eval reuse this thread's workspaces (no fresh, page-faulting megabytes per step):
    # the same buffers from one step to the next, and steps in two threads at once give what each gives alone
    import threading

    from myovox.models import _network_c
    from myovox.models._network_c import network_eval, train_step

    def made(seed: int) -> tuple:  # made before any thread starts: torch's random generator is one per process
        torch.manual_seed(seed)
        return SpeechNet(6, 240, 9, dropout=0.0).train(), torch.randn(16, 6, 240), torch.arange(16) % 9

    def run(case: tuple, out: list) -> None:
        net, x, y = copy.deepcopy(case)
        for _ in range(3):
            train_step(net, x, y)
        with torch.no_grad():
            out.append([p.grad.clone() for p in net.parameters()] + [network_eval(list(net.eval().blocks), x)])
        out.append({k: v.data_ptr() for k, v in _network_c._SCRATCH.buffers.items()})

    cases = [made(1), made(2)]
    alone = [[], []]
    for case, out in zip(cases, alone, strict=True):
        run(case, out)
    kept = dict(_network_c._SCRATCH.buffers)
    run(cases[0], [])
    assert {k: v.data_ptr() for k, v in _network_c._SCRATCH.buffers.items()} == {
        k: v.data_ptr() for k, v in kept.items()
    }  # the same memory again
    together = [[], []]
    threads = [threading.Thread(target=run, args=(case, out)) for case, out in zip(cases, together, strict=True)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert set(together[0][1].values()).isdisjoint(together[1][1].values())  # each thread its own
    for a, b in zip(alone, together, strict=True):
        for u, v in zip(a[0], b[0], strict=True):
            assert torch.equal(u, v)
    # a workspace beyond the cap is the call's own, and the kept one stays
    kept = _network_c._SCRATCH.buffers["fwd"]
    big = _network_c._scratch("fwd", _network_c._SCRATCH_MAX + 1)
    assert big.numel() == _network_c._SCRATCH_MAX + 1 and _network_c._SCRATCH.buffers["fwd"] is kept

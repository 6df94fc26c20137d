"""The C kernels behind the fast SpeechNet path: build, cache, fallback and thread independence.

Their numerical agreement with the reference network is tested in test_fast.py.
"""

import copy
import logging
import os

import pytest

torch = pytest.importorskip("torch")

from myovox.models import _blocks_c, fast  # noqa: E402
from myovox.models import _c as _ckernels  # noqa: E402
from myovox.models._c import bindings as ck  # noqa: E402
from myovox.models.speechnet import SpeechNet  # noqa: E402

F = torch.nn.functional


@pytest.fixture
def fresh_kernels(monkeypatch, tmp_path):
    """An empty kernel cache and no loaded library; the loaded one is restored afterwards."""
    saved = dict(_ckernels._STATE)
    _ckernels._STATE.clear()
    monkeypatch.setenv("MYOVOX_CACHE_DIR", str(tmp_path / "cache"))
    yield tmp_path / "cache"
    _ckernels._STATE.clear()
    _ckernels._STATE.update(saved)


def _lib_or_skip():
    lib = _ckernels.kernels()
    if lib is None:
        if os.environ.get("CI"):
            pytest.fail("myovox's C kernels could not be built; CI has a C compiler and must test them")
        pytest.skip("no C compiler: the C kernels are not built here")
    return lib


def test_kernels_are_built_once_into_the_cache(fresh_kernels):
    _lib_or_skip()
    built = sorted(fresh_kernels.glob("kernels-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    _ckernels._STATE.clear()
    assert _ckernels.kernels() is not None
    assert sorted(fresh_kernels.glob("kernels-*.so")) == built and built[0].stat().st_mtime_ns == stamp
    assert not list(fresh_kernels.glob("*.so.tmp*")) and len(list(fresh_kernels.iterdir())) == 1


def test_disabled_kernels_fall_back_to_the_torch_formulation(fresh_kernels, monkeypatch):
    monkeypatch.setenv("MYOVOX_C_KERNELS", "0")
    assert _ckernels.kernels() is None
    torch.manual_seed(0)
    net = SpeechNet(4, 200, 3, dropout=0.0)
    ref = copy.deepcopy(net)
    x = torch.randn(5, 4, 200)
    torch.testing.assert_close(fast.fast_forward(net, x), ref(x), rtol=1e-4, atol=1e-5)
    for (name, b_fast), (_, b_ref) in zip(net.named_buffers(), ref.named_buffers(), strict=True):
        torch.testing.assert_close(b_fast, b_ref, rtol=1e-5, atol=1e-6, msg=name)


def test_a_failing_compiler_gives_a_warning_and_the_fallback(fresh_kernels, monkeypatch, caplog):
    monkeypatch.setenv("CC", "false")
    with caplog.at_level(logging.WARNING, logger="myovox"):
        assert _ckernels.kernels() is None
    assert "Could not build myovox's C kernels" in caplog.text and "false failed" in caplog.text
    assert not list(fresh_kernels.glob("*.so"))  # no half-written library left behind


def _run_kernels(n_threads: int) -> dict:
    """Every kernel once on fixed random inputs with ``n_threads`` threads; outputs by name."""
    old = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        g = torch.Generator().manual_seed(0)
        out = {}
        x = torch.randn(37, 300, generator=g) * 3 + 1
        w, b, sign = torch.randn(8, 4, generator=g), torch.randn(8, generator=g), torch.tensor([1.0, -1.0] * 4)
        tp = (300 + 4 - 4 + 1) // 8
        zsel, idx = torch.empty(37, 8, tp), torch.empty(37, 8, tp, dtype=torch.int32)
        s1, s2 = torch.empty(4, dtype=torch.float64), torch.empty(4, 4, dtype=torch.float64)
        mean_d, var_d = torch.empty(8, dtype=torch.float64), torch.empty(8, dtype=torch.float64)
        crow = torch.empty(37)
        assert (
            ck.first_fwd(
                x=x,
                n_rows=37,
                T=300,
                w=w,
                bias=b,
                sign=sign,
                F=8,
                k=4,
                pad=2,
                pool=8,
                tp=tp,
                zsel=zsel,
                idx=idx,
                s1=s1,
                s2=s2,
                mean=mean_d,
                var=var_d,
                crow=crow,
            )
            == 0
        )
        out.update(zsel=zsel, idx=idx, s1=s1, s2=s2, mean_d=mean_d, var_d=var_d, crow=crow)
        gr = torch.randn(37, 8, tp, generator=g)
        c3 = torch.randn(8, generator=g)
        dw1 = torch.empty(8, 4)
        assert (
            ck.first_dw(
                x=x,
                n_rows=37,
                T=300,
                g=gr,
                idx=idx,
                F=8,
                k=4,
                pad=2,
                pool=8,
                tp=tp,
                s1=s1,
                s2=s2,
                w=w,
                bias=b,
                crow=crow,
                mean=mean_d,
                c3=c3,
                dw=dw1,
            )
            == 0
        )
        out["first_dw"] = dw1
        h, dz = torch.randn(37, 8, 60, generator=g), torch.randn(37, 16, 61, generator=g)
        dw2 = torch.empty(16, 8, 16)
        assert ck.conv_dw(h=h, dz=dz, dz_stride=61, dz_offset=0, N=37, C=8, T=60, F=16, Tz=61, k=16, pad=8, dw=dw2) == 0
        out["conv_dw"] = dw2
        out["conv1d"] = _blocks_c._c_conv1d(h, torch.randn(16, 8, 16, generator=g), torch.randn(16, generator=g), 8)
        out["conv1d_phases"] = _blocks_c._c_conv1d(dz, torch.randn(8, 16, 16, generator=g), None, 0, t_out=46)
        pm, pv = torch.empty(16, dtype=torch.float64), torch.empty(16, dtype=torch.float64)
        pz, pi = torch.empty(37, 16, 15), torch.empty(37, 16, 15, dtype=torch.int32)
        sg = torch.where(torch.arange(16) % 3 == 0, -1.0, 1.0)
        assert ck.pool_fwd(z=dz, N=37, F=16, n=61, sign=sg, pool=4, tp=15, zsel=pz, idx=pi, mean=pm, var=pv) == 0
        out.update(pool_mean=pm, pool_var=pv, pool_zsel=pz, pool_idx=pi)
        o = torch.relu(torch.randn(37, 8, tp, generator=g))
        ones = torch.ones(8)
        out["bn_relu_bwd"] = _blocks_c._c_bn_relu_bwd(gr, o, zsel, ones * 0.1, ones * 2.0, ones, 37 * 300)
        # a spatial block: 19 windows x 7 steps x 6 rows x 5 filters in, 11 filters of 3 rows out
        hs, ws = torch.randn(19 * 6, 5, 7, generator=g), torch.randn(11, 5, 3, 1, generator=g)
        strides = dict(sb=6 * 5 * 7, st=1, sr=5 * 7, sc=7)
        zs, sm, sv = (
            torch.empty(19, 7, 4, 11),
            torch.empty(11, dtype=torch.float64),
            torch.empty(11, dtype=torch.float64),
        )
        geometry = dict(x=hs, B=19, T=7, R=6, C=5, **strides, w=ws, O=11, k=3)
        assert ck.spatial_fwd(**geometry, bias=torch.randn(11, generator=g), z=zs, mean=sm, var=sv) == 0
        dzs, dws, dxs = torch.randn(19, 7, 4, 11, generator=g), torch.empty(11, 5, 3, 1), torch.empty_like(hs)
        assert ck.spatial_bwd(**geometry, dz=dzs, dw=dws, dx=dxs, db=6 * 5 * 7, dt=1, dr=5 * 7, dc=7) == 0
        ys, parts = torch.relu(zs), [torch.empty(11) for _ in range(3)]
        dzb, sones = torch.empty_like(zs), torch.ones(11)
        assert ck.spatial_bn_bwd(
            go=dzs, y=ys, z=zs, B=19, npos=28, O=11, mean=sones * 0.1, invstd=sones * 2.0, gamma=sones, dz=dzb,
            dbeta=parts[0], dgamma=parts[1], db=parts[2],
        ) == 0  # fmt: skip
        out.update(spatial_z=zs, spatial_mean=sm, spatial_var=sv, spatial_dw=dws, spatial_dx=dxs)
        out.update(spatial_dz=dzb, spatial_bn=tuple(parts))
        return out
    finally:
        torch.set_num_threads(old)


def test_kernel_results_do_not_depend_on_the_thread_count():
    # sums over rows are taken in row order from per-row values: bitwise equal for any split
    _lib_or_skip()
    one, two = _run_kernels(1), _run_kernels(2)
    for name in one:
        a, b = one[name], two[name]
        for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,), strict=True):
            assert torch.equal(u, v), name


def test_conv_weight_gradient_kernel_matches_aten():
    _lib_or_skip()
    torch.manual_seed(2)
    for n, c, t, f, ksize, pad in [(9, 3, 40, 5, 16, 8), (4, 8, 33, 16, 20, 6), (6, 5, 25, 7, 3, 1)]:
        h = torch.randn(n, c, t)
        weight = torch.randn(f, c, ksize)
        tz = t + 2 * pad - ksize + 1
        dz = torch.randn(n, f, tz)
        dw = torch.empty(f, c, ksize)
        assert (
            ck.conv_dw(h=h, dz=dz, dz_stride=tz, dz_offset=0, N=n, C=c, T=t, F=f, Tz=tz, k=ksize, pad=pad, dw=dw) == 0
        )
        ref = torch.ops.aten.convolution_backward(
            dz.double(), h.double(), weight.double(), None, [1], [pad], [1], False, [0], 1, [False, True, False]
        )[1]
        torch.testing.assert_close(dw.double(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("f", [16, 13, 1])  # blocks of 4 filters; 4 + 4 + 3 + 2; one
def test_conv_weight_gradient_forms_take_the_same_sums(f):
    # conv_dw vectorises over the lags for 9-16 taps (AVX builds) and over the filters for up to 8, each sum in
    # the same order (rows in chunks, then samples): a 16-tap kernel's first 8 lags are bitwise those of an 8-tap
    # kernel whose gradient rows are the 16-tap ones followed by zeros (each added zero product leaves a sum as it
    # is); 45 windows: two chunks of rows
    _lib_or_skip()
    g = torch.Generator().manual_seed(f)
    n, c, t, pad = 45, 3, 40, 6
    h = torch.randn(n, c, t, generator=g)
    tz16, tz8 = t + 2 * pad - 15, t + 2 * pad - 7
    dz16 = torch.randn(n, f, tz16, generator=g)
    dz8 = torch.cat([dz16, torch.zeros(n, f, tz8 - tz16)], dim=2)
    dw16, dw8 = torch.empty(f, c, 16), torch.empty(f, c, 8)
    for dz, tz, k, dw in ((dz16, tz16, 16, dw16), (dz8, tz8, 8, dw8)):
        assert ck.conv_dw(h=h, dz=dz, dz_stride=tz, dz_offset=0, N=n, C=c, T=t, F=f, Tz=tz, k=k, pad=pad, dw=dw) == 0
    assert torch.equal(dw16[:, :, :8], dw8)


@pytest.mark.parametrize(
    ("n", "c", "t", "f", "ksize", "pad", "t_out"),
    [
        (9, 8, 87, 16, 16, 8, None),  # block 2 forward (14 x 700): 16 filters, 88 samples (3 blocks of 24 + 16)
        (9, 16, 22, 16, 8, 4, None),  # block 3 forward: 23 samples, one block of 3 vectors, the last short
        (9, 16, 102, 8, 16, 0, 87),  # block 2's input gradient: 8 outputs
        (5, 16, 29, 4, 8, 0, 22),  # 4 outputs: one block of channels
        (5, 3, 50, 3, 5, 1, None),  # 3 outputs (a block of 4 channels, one unused), odd everything
        (4, 2, 13, 24, 7, 3, None),  # 6 blocks of channels, a row shorter than one vector (13 samples)
        (3, 4, 20, 5, 5, 0, 30),  # t_out past the input: zeros are read
        (2, 5, 48, 6, 1, 0, None),  # one tap; 48 samples: exactly two blocks of 24
        (3, 1, 9, 1, 9, 4, None),  # one input and one output channel, 9 samples (a vector and one more)
    ],
)
def test_conv1d_kernel_matches_conv1d(n, c, t, f, ksize, pad, t_out):
    _lib_or_skip()
    g = torch.Generator().manual_seed(n * 100 + t)
    x, weight = torch.randn(n, c, t, generator=g), torch.randn(f, c, ksize, generator=g)
    bias = torch.randn(f, generator=g)
    out = _blocks_c._c_conv1d(x, weight, bias, pad, t_out=t_out)
    full = t + 2 * pad - ksize + 1
    ref = F.conv1d(F.pad(x.double(), (0, max(0, (t_out or full) - full))), weight.double(), bias.double(), padding=pad)
    assert out.shape == (n, f, t_out or full)
    # float32 sums of c * ksize products
    torch.testing.assert_close(out.double(), ref[:, :, : out.shape[2]], rtol=1e-5, atol=1e-6 * c * ksize)


@pytest.mark.parametrize("n", [43, 150])  # 150: at least 16 windows per row for every pool (the lanes' path)
def test_max_pool_kernels_match_max_pool1d_with_signs(n):
    # the signed max-pool of the temporal blocks' forward pass: a negative batch-norm scale pools the minimum;
    # in training with max_pool1d's arg-max (the first position on ties) and the batch statistics in the same pass
    _lib_or_skip()
    g = torch.Generator().manual_seed(5)
    z = torch.randn(7, 6, n, generator=g)
    z[:, :, 8:16] = 0.25  # exact ties
    z[:, :, 20:24] = torch.tensor([0.0, -0.0, 0.0, -0.0])  # signed zeros compare equal: ties too
    sign = torch.tensor([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
    for pool in (1, 3, 4, 8):
        tp = n // pool
        zsel, zsel_t = torch.empty(7, 6, tp), torch.empty(7, 6, tp)
        idx = torch.full((7, 6, tp), -1, dtype=torch.int32)
        mean_d, var_d = torch.empty(6, dtype=torch.float64), torch.empty(6, dtype=torch.float64)
        ck.max_pool(z=z, N=7, F=6, n=n, sign=sign, pool=pool, tp=tp, zsel=zsel)
        ck.pool_fwd(z=z, N=7, F=6, n=n, sign=sign, pool=pool, tp=tp, zsel=zsel_t, idx=idx, mean=mean_d, var=var_d)
        ref, ref_idx = F.max_pool1d(z * sign[None, :, None], pool, return_indices=True)
        ref = ref * sign[None, :, None]
        assert torch.equal(zsel, ref) and torch.equal(zsel_t, ref)
        assert torch.equal(idx.long() + torch.arange(tp) * pool, ref_idx)  # positions inside each window
        torch.testing.assert_close(mean_d, z.double().mean(dim=(0, 2)), rtol=1e-6, atol=1e-7)


def test_wrong_arguments_are_refused_before_any_call():
    _lib_or_skip()
    z = torch.randn(4, 10).t()
    d = torch.empty(1, dtype=torch.float64)
    pooled = dict(sign=torch.ones(1), pool=2, tp=2, zsel=torch.empty(10, 1, 2), idx=torch.empty(10, 1, 2).int())
    with pytest.raises(ValueError, match="contiguous"):
        ck.pool_fwd(z=z, N=10, F=1, n=4, **pooled, mean=d, var=d)
    with pytest.raises(TypeError, match="'mean' must be a float64 tensor"):  # C would read doubles from floats
        ck.pool_fwd(z=z.contiguous(), N=10, F=1, n=4, **pooled, mean=torch.empty(1), var=d)
    with pytest.raises(TypeError, match="'idx' must be a int32 tensor"):  # nor int32 positions from floats
        ck.pool_fwd(z=z.contiguous(), N=10, F=1, n=4, **{**pooled, "idx": torch.empty(10, 1, 2)}, mean=d, var=d)
    with pytest.raises(TypeError, match=r"missing argument.s. var; unknown argument.s. variance"):
        ck.pool_fwd(z=z.contiguous(), N=10, F=1, n=4, **pooled, mean=d, variance=d)
    with pytest.raises(TypeError):  # keywords only: no positional list whose order could drift
        ck.pool_fwd(z.contiguous(), 10, 1, 4, d, d)


def test_first_block_kernels_longer_than_64_use_the_torch_formulation():
    _lib_or_skip()
    torch.manual_seed(0)
    ref = SpeechNet(3, 400, 3, temporal_kernels=(65, 8, 4), pools=(2, 2, 2), dropout=0.0)
    x = torch.randn(4, 3, 400)
    torch.testing.assert_close(fast.fast_forward(ref, x), ref(x), rtol=1e-4, atol=1e-5)


def test_pool_statistics_equal_torch_batch_statistics():
    _lib_or_skip()
    z = torch.randn(23, 5, 41, dtype=torch.float32) * 4.0 + 100.0
    mean_d, var_d = torch.empty(5, dtype=torch.float64), torch.empty(5, dtype=torch.float64)
    zsel, idx = torch.empty(23, 5, 10), torch.empty(23, 5, 10, dtype=torch.int32)
    kw = dict(sign=torch.ones(5), pool=4, tp=10, zsel=zsel, idx=idx)
    assert ck.pool_fwd(z=z, N=23, F=5, n=41, **kw, mean=mean_d, var=var_d) == 0
    zd = z.double()
    torch.testing.assert_close(mean_d, zd.mean(dim=(0, 2)), rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(var_d, zd.var(dim=(0, 2), unbiased=False), rtol=1e-6, atol=1e-6)


def test_kernel_threads_follow_torch():
    # one OpenMP runtime with torch (or synced at each call where the runtimes differ)
    lib = _lib_or_skip()
    old = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            _ckernels.sync_threads(torch.get_num_threads())
            assert lib.myovox_max_threads() == (n if _ckernels._STATE["openmp"] else 1)
    finally:
        torch.set_num_threads(old)


def test_a_failing_kernel_raises_a_clear_error():
    _lib_or_skip()
    x, w = torch.randn(2, 100), torch.randn(3, 65)  # a first-block kernel longer than 64
    empty = torch.empty(0)
    with pytest.raises(RuntimeError, match=r"myovox_first_fwd failed with code -2 .*longer than 64"):
        ck.first_fwd(
            x=x,
            n_rows=2,
            T=100,
            w=w,
            bias=torch.zeros(3),
            sign=torch.ones(3),
            F=3,
            k=65,
            pad=32,
            pool=2,
            tp=1,
            zsel=empty,
            idx=empty.int(),
            s1=empty.double(),
            s2=empty.double(),
            mean=empty.double(),
            var=empty.double(),
            crow=empty,
        )


def test_march_is_chosen_by_the_environment(monkeypatch):
    monkeypatch.delenv("MYOVOX_C_MARCH", raising=False)
    assert _ckernels.march_flags() == ["-march=native"]  # one definition for every host C build (models.march)
    monkeypatch.setenv("MYOVOX_C_MARCH", "x86-64-v2")
    assert _ckernels.march_flags() == ["-march=x86-64-v2"]
    monkeypatch.setenv("MYOVOX_C_MARCH", "none")
    assert _ckernels.march_flags() == []
    monkeypatch.setenv("MYOVOX_C_MARCH", "native; rm -rf /")
    with pytest.raises(ValueError, match="MYOVOX_C_MARCH"):
        _ckernels.march_flags()


def _train_steps(use_c: bool, steps: int = 3) -> dict:
    """A few SGD steps of a small SpeechNet through the fast path: final parameters and buffers."""
    torch.manual_seed(0)
    net = SpeechNet(6, 240, 3, dropout=0.0)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(12, 6, 240, generator=g) * 2.0 + 0.3, torch.randint(0, 3, (12,), generator=g)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(fast.fast_forward(net, x, use_c=use_c), y).backward()
        opt.step()
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _assert_state_close(a: dict, b: dict, what: str) -> None:
    # three SGD steps in float32: the formulations differ by rounding (~1e-6 of each tensor per
    # step, measured 1.2e-7 between builds) and, where a max-pool window is a near-tie at rounding
    # level, by a rerouted pooled gradient (~1e-3 of a gradient, times the learning rate here);
    # 1e-3 of each tensor's scale covers both on any CPU and still fails a wrong formula
    for name in a:
        if a[name].dtype.is_floating_point:
            scale = max(float(a[name].abs().max()), 1e-3)
            assert float((a[name] - b[name]).abs().max()) <= 1e-3 * scale, f"{what}: {name}"
        else:
            assert torch.equal(a[name], b[name]), f"{what}: {name}"


@pytest.mark.parametrize("march", ["native", "x86-64-v2"])
def test_native_and_portable_builds_train_like_pytorch(march, monkeypatch):
    """CI builds the kernels for this CPU and for the portable x86-64-v2 baseline, and both train
    like the PyTorch formulation (within rounding: builds differ in vector width and FMA)."""
    import platform
    import shutil

    if march != "native" and platform.machine().lower() not in {"x86_64", "amd64"}:
        pytest.skip(f"-march={march} is an x86-64 target")
    if not (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")):
        if os.environ.get("CI"):
            pytest.fail("CI has a C compiler and must test the C kernels")
        pytest.skip("no C compiler")
    saved = dict(_ckernels._STATE)
    monkeypatch.setenv("MYOVOX_C_MARCH", march)
    _ckernels._STATE.clear()
    try:
        info = _ckernels.build_info()
        if info is None or f"-march={march}" not in info["flags"]:
            if os.environ.get("CI") and march == "native":
                pytest.fail(f"the C kernels could not be built for -march={march}")
            pytest.skip(f"this compiler cannot build -march={march}")
        with_c = _train_steps(use_c=True)
    finally:
        _ckernels._STATE.clear()
        _ckernels._STATE.update(saved)
    _assert_state_close(_train_steps(use_c=False), with_c, f"C kernels (-march={march}) vs PyTorch formulation")


def test_portable_and_native_builds_agree(monkeypatch):
    """The two builds' kernels agree within float rounding on the same inputs (and each is
    independent of the thread count, test above); they need not agree bit for bit."""
    import platform

    if platform.machine().lower() not in {"x86_64", "amd64"}:
        pytest.skip("x86-64 targets")
    saved = dict(_ckernels._STATE)
    results = {}
    try:
        for march in ("native", "x86-64-v2"):
            monkeypatch.setenv("MYOVOX_C_MARCH", march)
            _ckernels._STATE.clear()
            info = _ckernels.build_info()
            if info is None or f"-march={march}" not in info["flags"]:
                pytest.skip(f"-march={march} cannot be built here")
            results[march] = _run_kernels(1)
    finally:
        _ckernels._STATE.clear()
        _ckernels._STATE.update(saved)
    for name, a in results["native"].items():
        b = results["x86-64-v2"][name]
        if name == "bn_relu_bwd":  # its last output, the bias gradient before batch norm, is 0 + rounding noise
            a, b = a[:-1], b[:-1]
        for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,), strict=True):
            if u.dtype.is_floating_point:
                torch.testing.assert_close(u, v, rtol=1e-5, atol=1e-5 * max(float(u.abs().max()), 1.0), msg=name)
            else:
                assert torch.equal(u, v), name

"""BN folding, int8 quantisation and the integer reference."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from myovox.exceptions import ExportError  # noqa: E402
from myovox.export.fold import count_macs, count_parameters, fold_model  # noqa: E402
from myovox.export.quantize import quantize_model  # noqa: E402
from myovox.export.reference import compare_accuracy, quantize_input_array, quantize_multiplier, requantize  # noqa: E402
from myovox.models.speechnet import SpeechNet  # noqa: E402

N_CH, N_T = 4, 128  # as in conftest.py


def _random_bn_net(seed=0, n_ch=14, n_t=400):
    torch.manual_seed(seed)
    net = SpeechNet(n_ch, n_t, 9)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return net.eval()


def test_fold_matches_torch_and_counts():
    net = _random_bn_net()
    X = np.random.default_rng(0).normal(size=(5, 14, 400)).astype(np.float32)
    folded = fold_model(net, check_inputs=X)
    with torch.no_grad():
        ref = net(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(folded.forward(X), ref, rtol=1e-4, atol=1e-4)
    assert count_macs(folded) == net.count_macs() == 2_143_968
    # 15,489 float parameters minus the 2 x 104 BatchNorm affine parameters that folding removes
    # (the reference paper quotes 13,217 "folded"; a plain fold cannot reach that number)
    assert count_parameters(folded) == 15_489 - 2 * (8 + 16 + 16 + 32 + 32) == 15_281
    assert [op.kind for op in folded.ops] == ["conv"] * 5 + ["gap", "dense"]
    assert folded.ops[0].pool == (1, 8) and folded.ops[0].relu


def test_unsupported_layers_are_named():
    seq = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, (1, 3)),
        torch.nn.GELU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.LSTM(4, 4),
        torch.nn.Linear(4, 2),
    )
    with pytest.raises(ExportError, match=r"1 \(GELU\).*4 \(LSTM\)"):
        fold_model(seq, (2, 20))


def test_unsupported_settings_and_orders():
    strided = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, (1, 3), stride=2), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Linear(4, 2)
    )
    with pytest.raises(ExportError, match="stride"):
        fold_model(strided, (2, 20))
    bn_first = torch.nn.Sequential(
        torch.nn.BatchNorm2d(1), torch.nn.Conv2d(1, 4, (1, 3)), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Linear(4, 2)
    )
    with pytest.raises(ExportError, match=r"BatchNorm2d.*follow a Conv2d"):
        fold_model(bn_first, (2, 20))
    with pytest.raises(ExportError, match="torch"):
        fold_model(object(), (2, 20))


def test_sequential_with_avgpool_is_exported_exactly():
    torch.manual_seed(1)
    seq = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, (1, 5), padding=(0, 2)),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.AvgPool2d((1, 4)),
        torch.nn.Conv2d(4, 6, (2, 1)),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(6, 3),
    ).eval()
    X = np.random.default_rng(1).normal(size=(20, 3, 32)).astype(np.float32)
    q = quantize_model(seq, X)
    assert [op.kind for op in q.ops] == ["conv", "avgpool", "conv", "gap", "dense"]
    with torch.no_grad():
        ref = seq(torch.from_numpy(X)[:, None]).numpy()
    np.testing.assert_allclose(fold_model(seq, (3, 32)).forward(X), ref, atol=1e-5)
    assert np.mean(q.decision_function(X).argmax(1) == ref.argmax(1)) >= 0.9


@pytest.mark.parametrize("seed", range(3))
def test_requantize_is_round_half_up_of_the_exact_product(seed):
    rng = np.random.default_rng(seed)
    acc = rng.integers(-(2**31), 2**31 - 1, 2000, dtype=np.int64)
    acc[:4] = [0, -1, 2**31 - 1, -(2**31)]
    real = float(rng.uniform(1e-6, 3.0))
    m, n = quantize_multiplier(real)
    assert 2**30 <= m < 2**31 and 1 <= n <= 62
    assert abs(m * 2.0**-n - real) <= real * 2**-30
    got = requantize(acc, m, n)
    # exact rational arithmetic with Python ints: floor(acc*m / 2^n + 1/2)
    want = [(int(a) * m + (1 << (n - 1))) >> n for a in acc]
    assert got.tolist() == want
    # ties round up: 3 * 0.5 = 1.5 -> 2, -1.5 -> -1
    m, n = quantize_multiplier(0.5)
    assert requantize(np.array([3, -3]), m, n).tolist() == [2, -1]


def test_quantize_input_rounding_and_saturation():
    x = np.array([[[0.5, -0.5, 1.49, 2.5, -2.5, 1e9, -1e9, np.nan]]], np.float32)
    q = quantize_input_array(x, 1.0, 0)
    assert q.tolist() == [[[1, -1, 1, 3, -3, 127, -128, 0]]]
    assert quantize_input_array(x, 1.0, -128)[0, 0, 0] == -127


def test_quantized_model_structure(qmodel):
    conv = qmodel.ops[0]
    assert conv.weight.dtype == np.int8 and conv.weight.min() >= -127
    assert conv.bias.dtype == np.int32 and conv.mult.dtype == np.int32
    # per-output-channel symmetric: every channel uses its full range
    assert np.all(np.abs(conv.weight.reshape(len(conv.weight), -1)).max(axis=1) == 127)
    assert qmodel.input_zero_point == 0  # symmetric input
    assert all(op.out_zp == -128 for op in qmodel.ops if op.kind == "conv")  # post-ReLU: asymmetric
    assert qmodel.activation_sizes()[0] == N_CH * N_T
    fb = qmodel.flash_bytes()
    assert fb["total"] == fb["weights"] + fb["biases"] + fb["requant"] > 0


def test_int8_accuracy_within_one_point(trained_net, qmodel, task):
    res = compare_accuracy(trained_net, qmodel, task.Xte, task.yte)
    assert res["float_balanced_accuracy"] > 0.9, res  # the task is easy: training worked
    assert res["drop_points"] <= 1.0, res
    assert res["agreement"] >= 0.97


def test_calibration_shape_and_options_are_checked(trained_net, task):
    with pytest.raises(ExportError, match=rf"expected \(n_windows, {N_CH}, {N_T}\), got \(10, {N_CH}, 99\)"):
        quantize_model(trained_net, task.Xtr[:10, :, :99])
    with pytest.raises(ValueError, match="method"):
        quantize_model(trained_net, task.Xtr[:10], method="kl")
    with pytest.raises(ExportError, match="percentile"):
        quantize_model(trained_net, task.Xtr[:10], percentile=30)


def test_wrapper_standardisation_goes_into_input_quantisation(trained_net, task):
    rng = np.random.default_rng(3)
    mean = rng.normal(0, 5, (N_CH, 1)).astype(np.float32)
    scale = rng.uniform(2, 10, (N_CH, 1)).astype(np.float32)

    class FakeWrapper:
        classes_ = np.array([10, 20, 30])
        net_ = trained_net
        mean_, scale_ = mean, scale

        def predict(self, X):
            with torch.no_grad():
                z = self.net_(torch.from_numpy(((X - mean) / scale).astype(np.float32))).numpy()
            return self.classes_[z.argmax(1)]

    raw_tr = task.Xtr * scale + mean  # what the wrapper sees
    raw_te = task.Xte * scale + mean
    q = quantize_model(FakeWrapper(), raw_tr)
    assert q.input_mean is not None and q.classes.tolist() == [10, 20, 30]
    res = compare_accuracy(FakeWrapper(), q, raw_te, FakeWrapper.classes_[task.yte])
    assert res["drop_points"] <= 1.0 and res["agreement"] >= 0.97

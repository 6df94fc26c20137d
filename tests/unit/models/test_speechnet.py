import pytest

torch = pytest.importorskip("torch")

from myovox.exceptions import ValidationError  # noqa: E402
from myovox.models.speechnet import SpeechNet, count_parameters, spatial_kernel_for  # noqa: E402


def test_reference_parameter_count_and_output_shape():
    net = SpeechNet(14, 700, 9)
    assert count_parameters(net) == 15489
    assert net(torch.zeros(3, 14, 700)).shape == (3, 9)
    assert net.count_macs() == pytest.approx(3.71e6, rel=0.01)


@pytest.mark.parametrize(("n_channels", "kernel"), [(14, 7), (8, 4), (4, 2), (2, 1)])
def test_spatial_kernel_rule_and_forward(n_channels, kernel):
    assert spatial_kernel_for(n_channels) == kernel
    net = SpeechNet(n_channels, 400, 5)
    assert net(torch.randn(2, n_channels, 400)).shape == (2, 5)


def test_config_round_trip_and_strict_loading():
    net = SpeechNet(8, 300, 4, dropout=0.3)
    twin = SpeechNet.from_config(net.get_config())
    twin.load_state_dict_strict(net.state_dict())
    state = dict(net.state_dict())
    state["extra.weight"] = state.pop("classifier.weight")
    with pytest.raises(ValidationError, match=r"missing keys.*classifier.weight.*unexpected keys.*extra.weight"):
        twin.load_state_dict_strict(state)

import pytest
import torch

from brainseg.config import ModelConfig
from brainseg.models import UNet, create_model
from brainseg.models.registry import count_parameters


@pytest.mark.parametrize("size", [32, 64, 96, 128])
def test_output_is_one_logit_per_pixel(size):
    model = UNet(features=4, depth=3).eval()
    out = model(torch.rand(2, 3, size, size))
    assert out.shape == (2, 1, size, size)


def test_no_sigmoid_inside():
    model = UNet(features=4, depth=2).eval()
    with torch.no_grad():
        model.head.bias.fill_(5.0)
    assert model(torch.zeros(1, 3, 16, 16)).min() > 1.0


def test_parameter_count_matches_the_reference_unet():
    # Buda's 32-feature U-Net has 7.76M parameters; ours with transposed convs matches it.
    assert count_parameters(UNet(features=32, depth=4)) == 7_763_041
    assert count_parameters(create_model(ModelConfig(features=16, depth=4))) == 1_942_577


def test_indivisible_input_is_a_clear_error():
    with pytest.raises(ValueError, match="divisible by 8"):
        UNet(features=4, depth=3)(torch.zeros(1, 3, 30, 30))


def test_dropout_is_configurable():
    drops = [
        m
        for m in UNet(features=4, depth=2, dropout=0.4).modules()
        if isinstance(m, torch.nn.Dropout2d)
    ]
    assert drops and max(d.p for d in drops) == pytest.approx(0.4)
    assert not [
        m
        for m in UNet(features=4, depth=2, dropout=0.0).modules()
        if isinstance(m, torch.nn.Dropout2d)
    ]

"""Known-value tests: hand-computed expectations for each loss."""

import math

import pytest
import torch

from brainseg.config import LossConfig, validate_config
from brainseg.errors import BrainsegError
from brainseg.losses import create_loss

BIG = 50.0  # sigmoid(50) == 1 in float32


def _dice(name="dice", smooth=1.0):
    return create_loss(LossConfig(name=name, smooth=smooth))


def test_perfect_prediction_scores_zero():
    target = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    logits = torch.where(target > 0, BIG, -BIG)
    assert float(_dice()(logits, target)) == pytest.approx(0.0, abs=1e-6)


def test_seed_formula_known_value():
    # p = 0.5 everywhere on 4 pixels, y has 2 ones: 1 - (2*1 + s)/(2 + 2 + s)
    target = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    logits = torch.zeros_like(target)
    for smooth in (1.0, 100.0):
        expected = 1 - (2 * 1.0 + smooth) / (2 + 2 + smooth)
        assert float(_dice(smooth=smooth)(logits, target)) == pytest.approx(expected, rel=1e-5)


def test_empty_target_and_empty_prediction_scores_zero():
    target = torch.zeros(2, 1, 4, 4)
    assert float(_dice()(torch.full_like(target, -BIG), target)) == pytest.approx(0, abs=1e-6)


def _one_right_one_wrong() -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, target): slice 1 perfect (2 px), slice 2 all wrong (2 px predicted, none true)."""
    target = torch.zeros(2, 1, 2, 2)
    target[0, 0, 0] = 1
    logits = torch.full_like(target, -BIG)
    logits[0, 0, 0] = BIG
    logits[1, 0, 1] = BIG
    return logits, target


def test_dice_pools_the_batch():
    # pooled: 1 - (2*2 + 1) / (2 + 4 + 1)
    logits, target = _one_right_one_wrong()
    assert float(_dice()(logits, target)) == pytest.approx(1 - 5 / 7, rel=1e-5)


def test_dice_bce_adds_bce():
    target = torch.tensor([[[[1.0, 0.0]]]])
    logits = torch.zeros_like(target)
    dice = 1 - (2 * 0.5 + 1) / (1 + 1 + 1)
    assert float(_dice("dice_bce")(logits, target)) == pytest.approx(dice + math.log(2), rel=1e-5)
    assert float(_dice("bce")(logits, target)) == pytest.approx(math.log(2), rel=1e-5)


def test_unknown_loss():
    with pytest.raises(BrainsegError, match="loss.name"):
        validate_config({"loss": {"name": "focal"}})

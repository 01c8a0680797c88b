"""Segmentation losses on logits, built from MONAI where it fits.

- ``dice``: the Dice-coefficient loss of Buda et al.'s LGG U-Net,
  ``1 - (2 * sum(y * p) + smooth) / (sum(y) + sum(p) + smooth)`` over the whole batch, where
  ``p = sigmoid(logits)``. An all-empty batch with an all-empty prediction scores loss 0.
- ``dice_bce``: that Dice loss plus binary cross-entropy (pixel-wise, stable on empty slices).
- ``bce``: binary cross-entropy alone.
"""

from __future__ import annotations

import torch
from torch import nn

from brainseg.config import LossConfig


class DiceBCELoss(nn.Module):
    def __init__(
        self,
        smooth: float = 1.0,
        dice_weight: float = 1.0,
        bce_weight: float = 1.0,
    ):
        super().__init__()
        from monai.losses import DiceLoss

        # batch=True pools the whole batch: the Dice-coefficient loss above
        self.dice = DiceLoss(sigmoid=True, batch=True, smooth_nr=smooth, smooth_dr=smooth)
        self.bce = nn.BCEWithLogitsLoss()
        self.dice_weight, self.bce_weight = dice_weight, bce_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits, target = logits.float(), target.float()
        loss = logits.new_zeros(())
        if self.dice_weight:
            loss = loss + self.dice_weight * self.dice(logits, target)
        if self.bce_weight:
            loss = loss + self.bce_weight * self.bce(logits, target)
        return loss


def create_loss(loss_cfg: LossConfig) -> nn.Module:
    """The loss a config's ``loss`` section names."""
    weights = {"dice": (1.0, 0.0), "dice_bce": (1.0, 1.0), "bce": (0.0, 1.0)}[loss_cfg.name]
    return DiceBCELoss(loss_cfg.smooth, *weights)

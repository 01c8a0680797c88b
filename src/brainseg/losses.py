"""Segmentation losses on logits, built from MONAI where it fits.

- ``dice``: the seed's Dice-coefficient loss,
  ``1 - (2 * sum(y * p) + smooth) / (sum(y) + sum(p) + smooth)`` over the whole batch, where
  ``p = sigmoid(logits)``. An all-empty batch with an all-empty prediction scores loss 0.
- ``dice_bce``: that Dice loss plus binary cross-entropy (pixel-wise, stable on empty slices).
- ``bce``: binary cross-entropy alone.

With ``dice_per_slice``, the Dice term is computed per slice and averaged, so that a small
lesion counts as much as a large one (a lever for small lesions; pooled is the default).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from brainseg.errors import BrainsegError

LOSSES = ("dice", "dice_bce", "bce")


class DiceBCELoss(nn.Module):
    def __init__(
        self,
        smooth: float = 1.0,
        dice_weight: float = 1.0,
        bce_weight: float = 1.0,
        per_slice: bool = False,
    ):
        super().__init__()
        from monai.losses import DiceLoss

        # batch=True pools the whole batch, exactly the seed's formula; per slice, each
        # slice's Dice loss is averaged (MONAI's batch=False with reduction "mean").
        self.dice = DiceLoss(sigmoid=True, batch=not per_slice, smooth_nr=smooth, smooth_dr=smooth)
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


def create_loss(loss_cfg: dict[str, Any]) -> nn.Module:
    name, smooth = loss_cfg["name"], float(loss_cfg.get("smooth", 1.0))
    per_slice = bool(loss_cfg.get("dice_per_slice", False))
    if name == "dice":
        return DiceBCELoss(smooth, 1.0, 0.0, per_slice)
    if name == "dice_bce":
        return DiceBCELoss(smooth, 1.0, 1.0, per_slice)
    if name == "bce":
        return DiceBCELoss(smooth, 0.0, 1.0)
    raise BrainsegError(f"loss.name must be one of {LOSSES}, not '{name}'")

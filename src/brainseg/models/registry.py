"""The model registry: ``model.arch`` in a config names a builder here.

Adding an architecture is one module with a ``build_<name>(model_cfg, in_channels)``
function and one line in ``ARCHITECTURES``. ``members`` > 1 wraps several of one
architecture into a logit-averaging ensemble (made by ``brainseg bundle``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from brainseg.config import ModelConfig
from brainseg.models.monai_nets import build_basicunet, build_segresnet
from brainseg.models.unet import build_unet

# The network reads the three sequences (pre-contrast, FLAIR, post-contrast)
IN_CHANNELS = 3
ARCHITECTURES: dict[str, Callable[[ModelConfig, int], nn.Module]] = {
    "unet": build_unet,  # the project's own U-Net (the shipped model)
    "basicunet": build_basicunet,  # MONAI BasicUNet
    "segresnet": build_segresnet,  # MONAI SegResNet
}
# The smallest input side each architecture accepts is a multiple of this.
SIZE_MULTIPLE = {"basicunet": 16, "segresnet": 8}


class Ensemble(nn.Module):
    """Several models of one architecture whose logits are averaged: one module, so that
    checkpoints, bundles and the ONNX export treat an ensemble like a single model.

    With ``resolutions`` (one side length per member, trained at different sizes), each
    member gets the input area-averaged to its own side, as the preprocessing would have
    given it, and its probabilities are brought back to the input size bilinearly, as
    ``predict`` does; the probabilities are averaged (what ``brainseg cv-ensemble``
    measures out of fold) and returned as logits.

    With ``gate`` (probability ensembles only), the other members run only on the slices
    where the first member's probability reaches ``gate`` somewhere, and count as 0
    elsewhere: there the mean stays under ``gate / members``, so only pixels the others
    alone would have carried past 0.5 are lost. It spares the costly members the
    slices without lesion (about 60% of a volume)."""

    def __init__(
        self,
        members: list[nn.Module],
        resolutions: list[int] | None = None,
        gate: float | None = None,
    ):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.resolutions = list(resolutions) if resolutions else None
        self.gate = gate

    def _member_probs(self, member: nn.Module, side: int | None, x: torch.Tensor) -> torch.Tensor:
        size = tuple(x.shape[-2:])
        if side is None or size == (side, side):
            return torch.sigmoid(member(x))
        logits = member(F.interpolate(x, size=(side, side), mode="area"))
        return F.interpolate(torch.sigmoid(logits), size=size, mode="bilinear")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resolutions is None and self.gate is None:
            return torch.stack([member(x) for member in self.members]).mean(dim=0)
        sides = self.resolutions or [None] * len(self.members)
        first = self._member_probs(self.members[0], sides[0], x)
        total = first
        if self.gate is None:
            for member, side in zip(self.members[1:], sides[1:], strict=True):
                total = total + self._member_probs(member, side, x)
        else:
            # the slices that pass, gathered; the others' probabilities scattered back
            chosen = torch.nonzero(first.flatten(1).amax(dim=1) >= self.gate).flatten()
            picked = x.index_select(0, chosen)
            rest = torch.zeros_like(picked[:, :1])
            for member, side in zip(self.members[1:], sides[1:], strict=True):
                rest = rest + self._member_probs(member, side, picked)
            total = total.index_add(0, chosen, rest)
        mean = (total / len(self.members)).clamp(1e-7, 1 - 1e-7)
        return torch.log(mean) - torch.log1p(-mean)


def create_model(model_cfg: ModelConfig) -> nn.Module:
    """Build the network described by a config's ``model`` section."""
    build = ARCHITECTURES[model_cfg.arch]
    if model_cfg.members == 1:
        return build(model_cfg, IN_CHANNELS)
    members = [build(model_cfg, IN_CHANNELS) for _ in range(model_cfg.members)]
    return Ensemble(members, model_cfg.member_resolutions, model_cfg.member_gate)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

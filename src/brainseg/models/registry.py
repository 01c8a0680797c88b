"""The model registry: ``model.arch`` in a config names a builder here.

Adding an architecture is one module with a ``build_<name>(model_cfg, in_channels)``
function and one line in ``ARCHITECTURES``. ``members`` > 1 wraps several of one
architecture into a logit-averaging ensemble (made by ``brainseg bundle``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from brainseg.errors import BrainsegError
from brainseg.models.monai_nets import build_basicunet, build_segresnet
from brainseg.models.unet import build_unet

ARCHITECTURES: dict[str, Callable[[dict[str, Any], int], nn.Module]] = {
    "unet": build_unet,  # the project's own U-Net (the shipped model)
    "basicunet": build_basicunet,  # MONAI BasicUNet
    "segresnet": build_segresnet,  # MONAI SegResNet
}
# The smallest input side each architecture accepts is a multiple of this.
SIZE_MULTIPLE = {"basicunet": 16, "segresnet": 8}


class Ensemble(nn.Module):
    """Several models of one architecture whose logits are averaged: one module, so that
    checkpoints, bundles and the ONNX export treat an ensemble like a single model."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x) for member in self.members]).mean(dim=0)


def create_model(model_cfg: dict[str, Any]) -> nn.Module:
    """Build the network described by a config's ``model`` section."""
    arch = model_cfg.get("arch", "unet")
    if arch not in ARCHITECTURES:
        raise BrainsegError(f"model.arch must be one of {sorted(ARCHITECTURES)}, not '{arch}'")
    build = ARCHITECTURES[arch]
    in_channels = int(model_cfg.get("in_channels", 3))
    members = int(model_cfg.get("members", 1))
    if members == 1:
        return build(model_cfg, in_channels)
    return Ensemble([build(model_cfg, in_channels) for _ in range(members)])


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

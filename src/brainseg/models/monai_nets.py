"""MONAI's networks in 2D, selectable by ``model.arch`` (``basicunet``, ``segresnet``).

Both return logits, like the project's U-Net. ``features`` is the first level's width;
deeper levels double it as MONAI's defaults do. ``depth`` is fixed by each network (four
poolings for BasicUNet, three for SegResNet), so inputs must be divisible by 16 or 8.
"""

from __future__ import annotations

from torch import nn

from brainseg.config import ModelConfig


def build_basicunet(model_cfg: ModelConfig, in_channels: int) -> nn.Module:
    from monai.networks.nets import BasicUNet

    f = model_cfg.features
    return BasicUNet(
        spatial_dims=2,
        in_channels=in_channels,
        out_channels=1,
        features=(f, f, 2 * f, 4 * f, 8 * f, f),
        dropout=model_cfg.dropout,
    )


def build_segresnet(model_cfg: ModelConfig, in_channels: int) -> nn.Module:
    from math import gcd

    from monai.networks.nets import SegResNet

    features = model_cfg.features
    return SegResNet(
        spatial_dims=2,
        init_filters=features,
        in_channels=in_channels,
        out_channels=1,
        dropout_prob=model_cfg.dropout or None,
        # MONAI's default is 8 groups, which needs a multiple of 8 features
        norm=("GROUP", {"num_groups": gcd(features, 8)}),
    )

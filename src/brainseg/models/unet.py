"""The project's U-Net in plain PyTorch: it returns logits (no sigmoid inside).

Encoder: (conv 3x3, batch norm, ReLU) x 2, then 2x2 max-pool, doubling the width each level.
Decoder: 2x2 transposed-conv upsampling, concatenation with the encoder features of the same
level (skip connection), then the same conv block. Dropout sits in the deeper blocks.
A 1x1 conv head gives one logit per pixel. Inputs must be divisible by 2**depth.
"""

from __future__ import annotations

import torch
from torch import nn

from brainseg.config import ModelConfig


class ConvBlock(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int, dropout: float = 0.0):
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        ]
        if dropout > 0:
            layers.append(nn.Dropout2d(dropout))
        layers += [
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        ]
        super().__init__(*layers)


class UNet(nn.Module):
    """U-Net with configurable base width (``features``) and number of poolings (``depth``)."""

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 1,
        features: int = 32,
        depth: int = 4,
        dropout: float = 0.1,
    ):
        super().__init__()
        if depth < 1 or features < 1:
            raise ValueError("depth and features must be at least 1")
        self.depth = depth
        widths = [features * 2**i for i in range(depth + 1)]
        # Dropout grows towards the bottleneck, where over-fitting happens.
        drops = [dropout * i / depth for i in range(depth + 1)]
        self.encoders = nn.ModuleList()
        previous = in_channels
        for width, drop in zip(widths[:-1], drops[:-1], strict=True):
            self.encoders.append(ConvBlock(previous, width, drop))
            previous = width
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = ConvBlock(widths[-2], widths[-1], drops[-1])
        self.upsamplers = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in reversed(range(depth)):
            self.upsamplers.append(nn.ConvTranspose2d(widths[level + 1], widths[level], 2, 2))
            self.decoders.append(ConvBlock(widths[level] * 2, widths[level], drops[level]))
        self.head = nn.Conv2d(features, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        factor = 2**self.depth
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(
                f"input size {tuple(x.shape[-2:])} must be divisible by {factor} (2**depth)"
            )
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, decoder, skip in zip(self.upsamplers, self.decoders, reversed(skips), strict=True):
            x = decoder(torch.cat([up(x), skip], dim=1))
        return self.head(x)


def build_unet(model_cfg: ModelConfig, in_channels: int) -> UNet:
    """The registry's builder for ``arch: unet``."""
    return UNet(
        in_channels=in_channels,
        out_channels=1,
        features=model_cfg.features,
        depth=model_cfg.depth,
        dropout=model_cfg.dropout,
    )

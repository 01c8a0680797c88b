"""Intensities: the one rescale into 0..255 and the per-volume normalisation.

Slices stay uint8 in memory (training keeps the whole dataset that way), and normalisation
is a per-channel multiplier applied on the batch:

- ``scale255``: the seed's fixed division by 255.
- ``volume``: divide each channel by its 99th percentile over the non-zero (head) pixels of
  the whole volume. LGG volumes differ several-fold in brightness; this brings a dark volume
  into the same range as a bright one. For a lone slice the slice is the volume.
"""

from __future__ import annotations

import numpy as np

from brainseg.errors import BrainsegError

MODES = ("scale255", "volume")


def to_uint8(channel: np.ndarray) -> np.ndarray:
    """One channel of a volume (any shape, any numeric type) into uint8: kept as it is if
    already uint8, else negative values clipped to 0 and divided by the 99.9th percentile of
    the positive voxels of the whole volume (so scanner units do not matter)."""
    if channel.dtype == np.uint8:
        return channel
    if channel.dtype == bool:
        return channel.astype(np.uint8) * 255
    with np.errstate(over="ignore", invalid="ignore"):
        data = np.nan_to_num(channel.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    data = np.clip(data, 0, None)
    positive = data[data > 0]
    top = float(np.percentile(positive, 99.9)) if positive.size else 0.0
    if top <= 0:
        return np.zeros(data.shape, np.uint8)
    return np.clip(np.round(data / top * 255), 0, 255).astype(np.uint8)


def channel_scales(images: np.ndarray, mode: str) -> np.ndarray:
    """Multipliers (C,) float32 for a volume ``images`` (S, H, W, C) or a slice (H, W, C)."""
    channels = images.shape[-1]
    if mode == "scale255":
        return np.full(channels, 1 / 255, np.float32)
    if mode != "volume":
        raise BrainsegError(f"normalization must be one of {MODES}, not '{mode}'")
    flat = images.reshape(-1, channels)
    scales = np.empty(channels, np.float32)
    for c in range(channels):
        values = flat[:, c]
        values = values[values > 0]
        p99 = float(np.percentile(values, 99)) if values.size >= 16 else 0.0
        scales[c] = 1.0 / p99 if p99 >= 1.0 else 1 / 255
    return scales


def normalize(images, scales):
    """``images`` (N, C, H, W) times per-sample ``scales`` (N, C) or per-volume ``scales``
    (C,): the network's input. Works on numpy arrays and torch tensors alike, so training and
    inference share this one definition."""
    if scales.ndim == 1:
        scales = scales[None]
    return images * scales[:, :, None, None]

"""Intensities: the one rescale into 0..255 and the per-volume normalisation.

Slices stay uint8 in memory (training keeps the whole dataset that way), and normalisation
is a per-channel multiplier applied on the batch:

- ``scale255``: a fixed division by 255, as the original LGG U-Net (Buda et al.) scales.
- ``volume``: divide each channel by its 99th percentile over the non-zero (head) pixels of
  the whole volume. LGG volumes differ several-fold in brightness; this brings a dark volume
  into the same range as a bright one. For a lone slice the slice is the volume.
"""

from __future__ import annotations

import numpy as np

BACKGROUND_FRACTION = 0.1  # a constant value on this share of voxels is the background


def background_value(data: np.ndarray) -> float | None:
    """The constant background of a volume, if it has one: the volume's minimum or its
    corner value, whichever covers more voxels, when that is at least 10% of them
    (skull-stripped, z-scored and masked volumes). Both candidates move with any affine
    change of the intensities, so the choice does not depend on units."""
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return None
    corner = data.flat[0]
    candidates = {float(finite.min())}
    if np.isfinite(corner):
        candidates.add(float(corner))
    counts = {value: int(np.count_nonzero(finite == value)) for value in candidates}
    value = max(counts, key=counts.get)
    return value if counts[value] >= BACKGROUND_FRACTION * finite.size else None


def to_uint8(channel: np.ndarray) -> np.ndarray:
    """One channel of a volume (any shape, any numeric type, any units) into uint8 that does
    not depend on the units: kept as it is if already uint8; else the constant background
    (``background_value``) and NaN become 0, and the other voxels map linearly from their
    0.5th percentile (1) to their 99.9th (255). Scanner units, int16 or float, z-scored
    volumes with negative values, background at 0 or at the minimum all give the same
    result for the same anatomy: any affine change a*v + b (a > 0) of the input leaves the
    output unchanged."""
    if channel.dtype == np.uint8:
        return channel
    if channel.dtype == bool:
        return channel.astype(np.uint8) * 255
    with np.errstate(over="ignore", invalid="ignore"):
        data = channel.astype(np.float32)
    data[~np.isfinite(data)] = np.nan
    background = background_value(data)
    foreground = np.isfinite(data)
    if background is not None:
        foreground &= data != background
    values = data[foreground]
    if values.size == 0:
        return np.zeros(data.shape, np.uint8)
    low, high = (float(v) for v in np.percentile(values, [0.5, 99.9]))
    if high <= low:
        return np.where(foreground, np.uint8(255), np.uint8(0)).astype(np.uint8)
    scaled = 1 + (np.nan_to_num(data, nan=low) - low) * (254 / (high - low))
    out = np.clip(np.round(scaled), 1, 255).astype(np.uint8)
    out[~foreground] = 0
    return out


def channel_scales(images: np.ndarray, mode: str) -> np.ndarray:
    """Multipliers (C,) float32 for a volume ``images`` (S, H, W, C) or a slice (H, W, C)."""
    channels = images.shape[-1]
    if mode == "scale255":  # the config's DataConfig.normalization checked the choice
        return np.full(channels, 1 / 255, np.float32)
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

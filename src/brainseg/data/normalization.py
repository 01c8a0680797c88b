"""Intensity normalisation as a per-channel multiplier, so slices can stay uint8 in memory.

- ``scale255``: the seed's fixed division by 255.
- ``volume``: divide each channel by its 99th percentile over the non-zero (head) pixels of
  the whole volume. LGG volumes differ several-fold in brightness; this brings a dark volume
  into the same range as a bright one. For a lone slice the slice is the volume.
"""

from __future__ import annotations

import numpy as np

from brainseg.errors import BrainsegError

MODES = ("scale255", "volume")


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

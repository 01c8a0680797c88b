"""A rough brain mask from a FLAIR slice by classic morphology (nothing to download): the
head is what stands clearly above the background, holes filled; eroding it by the
thickness of scalp and skull and keeping the largest part leaves the brain, which is then
grown back a little and smoothed.

It is good enough to imitate skull-stripped inputs (BraTS and most research pipelines
strip the skull) in training, and to make such inputs from the Kaggle data for measuring;
it is not a clinical brain extraction.
"""

from __future__ import annotations

import numpy as np

SKULL_MM = 9.0  # scalp plus skull, eroded away
REGROW_MM = 2.0


def _disk(radius: int) -> np.ndarray:
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius


def brain_mask(flair: np.ndarray, pixel_mm: float) -> np.ndarray:
    """(H, W) or (N, H, W) FLAIR (any scale) -> bool brain mask of the same shape."""
    from scipy import ndimage

    if flair.ndim == 3:
        return np.stack([brain_mask(s, pixel_mm) for s in flair])
    values = np.asarray(flair, np.float32)
    top = float(np.percentile(values, 99)) if values.size else 0.0
    if top <= 0:
        return np.zeros(values.shape, bool)
    head = ndimage.binary_fill_holes(values > 0.12 * top)
    radius = max(1, int(round(SKULL_MM / pixel_mm)))
    core = ndimage.binary_erosion(head, _disk(radius), border_value=0)
    labels, count = ndimage.label(core)
    if count == 0:
        return np.zeros(values.shape, bool)
    sizes = ndimage.sum_labels(core, labels, index=np.arange(1, count + 1))
    brain = labels == (1 + int(np.argmax(sizes)))
    grow = max(1, int(round(REGROW_MM / pixel_mm)))
    brain = ndimage.binary_dilation(brain, _disk(grow)) & head
    return ndimage.binary_fill_holes(brain)

"""Separable resizing in numpy, so inference needs no torch (the ONNX engine starts fast).

``area_matrix`` reproduces torch's ``interpolate(mode="area")`` (adaptive average pooling)
and ``bilinear_matrix`` its ``mode="bilinear", align_corners=False``; both are checked against
torch in the tests.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=32)
def area_matrix(size_in: int, size_out: int) -> np.ndarray:
    """(out, in) weights: each output averages the input cells of its adaptive-pool window."""
    weights = np.zeros((size_out, size_in), np.float32)
    for i in range(size_out):
        start = (i * size_in) // size_out
        end = -((-(i + 1) * size_in) // size_out)  # ceil
        weights[i, start:end] = 1.0 / (end - start)
    return weights


@lru_cache(maxsize=32)
def bilinear_matrix(size_in: int, size_out: int) -> np.ndarray:
    """(out, in) weights of linear interpolation with half-pixel centres."""
    weights = np.zeros((size_out, size_in), np.float32)
    scale = size_in / size_out
    for i in range(size_out):
        src = max((i + 0.5) * scale - 0.5, 0.0)
        low = min(int(np.floor(src)), size_in - 1)
        high = min(low + 1, size_in - 1)
        frac = src - low
        weights[i, low] += 1 - frac
        weights[i, high] += frac
    return weights


def resize(batch: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    """Resize (N, C, H, W) float32 to (N, C, *size) with 'area' or 'bilinear'."""
    h, w = batch.shape[-2:]
    if (h, w) == tuple(size):
        return batch
    make = area_matrix if mode == "area" else bilinear_matrix
    rows, cols = make(h, size[0]), make(w, size[1])
    # Two batched matmuls (BLAS): faster than the equivalent einsum (docs/performance.md).
    return (rows @ batch.astype(np.float32, copy=False) @ cols.T).astype(np.float32, copy=False)

"""Shared figure helpers: a headless backend and atomic PNG writes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from brainseg.fileio import write_bytes


def save_figure(fig, out: str | Path, dpi: int = 110) -> None:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    write_bytes(out, buffer.getvalue())


def overlay(flair: np.ndarray, true: np.ndarray | None, pred: np.ndarray | None) -> np.ndarray:
    """RGB uint8 picture of a FLAIR slice with ground truth in green, prediction in red and
    their overlap in yellow (alpha 0.5)."""
    gray = flair.astype(np.float32)
    if gray.max() > 0:
        gray = gray / np.percentile(gray, 99.5).clip(1) * 255
    rgb = np.repeat(gray.clip(0, 255)[..., None], 3, axis=2)
    colour = np.zeros_like(rgb)
    layer = np.zeros(rgb.shape[:2], bool)
    if true is not None:
        colour[true > 0] += (0, 255, 0)
        layer |= true > 0
    if pred is not None:
        colour[pred > 0] += (255, 0, 0)
        layer |= pred > 0
    colour = colour.clip(0, 255)
    rgb[layer] = 0.5 * rgb[layer] + 0.5 * colour[layer]
    return rgb.astype(np.uint8)

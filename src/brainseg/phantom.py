"""A deterministic brain-like phantom with a lesion: the synthetic dataset's patients and
the viewer's bundled examples.

Each volume has a skull ring, tissue texture and noise, with three channels that differ the
way pre-contrast, FLAIR and post-contrast do, and one lesion: an irregular blob, bright in
FLAIR, running over neighbouring slices, so some slices have no lesion. Volume brightness
varies between patients, as it does in the real data.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
    return field / (field.std() + 1e-8)


def synth_patient(
    rng: np.random.Generator, slices: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """One phantom volume: images (S, H, W, 3) uint8 and masks (S, H, W) uint8 in {0, 255}."""
    z = np.linspace(-1, 1, slices)[:, None, None]
    y = np.linspace(-1, 1, size)[None, :, None]
    x = np.linspace(-1, 1, size)[None, None, :]
    ax, ay = rng.uniform(0.62, 0.75), rng.uniform(0.72, 0.85)
    scale = np.sqrt(np.clip(1 - z**2 * 0.8, 0.05, 1))  # head narrows towards the ends
    r = np.sqrt((x / (ax * scale)) ** 2 + (y / (ay * scale)) ** 2)
    brain = r < 0.9
    skull = (r >= 0.93) & (r < 1.05)
    texture = _smooth_noise(rng, (slices, size // 4, size // 4), 1.5)
    texture = ndimage.zoom(texture, (1, 4, 4), order=1)[:, :size, :size]

    # The lesion: an ellipsoid with a noisy boundary, centred inside one hemisphere.
    c = rng.uniform([-0.3, -0.35, -0.35], [0.3, 0.35, 0.35])
    radii = rng.uniform([0.25, 0.12, 0.12], [0.5, 0.3, 0.3])
    d = ((z - c[0]) / radii[0]) ** 2 + ((y - c[1]) / radii[1]) ** 2 + ((x - c[2]) / radii[2]) ** 2
    wobble = ndimage.zoom(_smooth_noise(rng, (slices, size // 8, size // 8), 1.0), (1, 8, 8))
    lesion = (d + 0.25 * wobble[:, :size, :size] < 1.0) & brain

    base = np.where(brain, 0.45 + 0.08 * texture, 0.0)
    pre = base + np.where(lesion, -0.08, 0) + np.where(skull, 0.25, 0)
    flair = base * 0.9 + np.where(lesion, 0.35 + 0.05 * texture, 0) + np.where(skull, 0.1, 0)
    post = base + np.where(lesion, 0.05, 0) + np.where(skull, 0.45, 0)
    volume = np.stack([pre, flair, post], axis=-1)
    volume += rng.normal(0, 0.03, volume.shape) * (volume > 0)
    brightness = rng.uniform(0.45, 1.0)  # some volumes are much darker than others
    images = np.clip(volume * brightness * 255 / 0.9, 0, 255).astype(np.uint8)
    masks = lesion.astype(np.uint8) * 255
    return images, masks

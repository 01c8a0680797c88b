"""Deterministic synthetic LGG-like data in the Kaggle layout, for the demo and tests.

Each patient is a brain-like phantom volume: a skull ring, tissue texture and noise, with
three channels that differ the way pre-contrast, FLAIR and post-contrast do. Each has one
lesion: an irregular blob, bright in FLAIR, running over neighbouring slices, so some slices
have no lesion. Volume brightness varies between patients, as it does in the real data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from brainseg.errors import BrainsegError


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


def write_synthetic_dataset(
    out: str | Path, patients: int = 12, slices: int = 16, seed: int = 0, size: int = 256
) -> list[str]:
    """Write ``patients`` phantom volumes as TIFF pairs under ``out``; return patient names."""
    import tifffile

    if patients < 1 or slices < 1:
        raise BrainsegError("synth: --patients and --slices must be at least 1")
    if size < 32 or size % 16:
        raise BrainsegError("synth: --size must be a multiple of 16, at least 32")
    out = Path(out)
    rng = np.random.default_rng(seed)
    names = []
    for index in range(patients):
        name = f"SYN_{'AB'[index % 2]}{'CD'[index // 2 % 2]}_{index + 1:04d}_20000101"
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        images, masks = synth_patient(rng, slices, size)
        for k in range(slices):
            tifffile.imwrite(folder / f"{name}_{k + 1}.tif", images[k], photometric="rgb")
            tifffile.imwrite(folder / f"{name}_{k + 1}_mask.tif", masks[k])
        names.append(name)
    return names

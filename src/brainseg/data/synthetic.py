"""Deterministic synthetic LGG-like data in the Kaggle layout, for the demo and tests: one
phantom volume per patient (``brainseg.phantom``), written as TIFF slice and mask pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainseg.errors import BrainsegError
from brainseg.phantom import synth_patient


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

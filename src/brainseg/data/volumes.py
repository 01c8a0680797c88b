"""Decode every slice once into uint8 arrays held in memory, validating as we go.

One pass both loads the data and finds every problem: an image with no mask or a mask
with no image, unreadable or truncated files, size and channel mismatches, and masks that
are not binary. An optional on-disk cache (``.npz`` per patient, keyed by file names,
sizes and modification times) skips decoding on later runs.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainseg.data.discovery import PatientFiles, SlicePair, discover
from brainseg.errors import BrainsegError, DataProblemsError, Problem
from brainseg.fileio import atomic_write
from brainseg.io.images import ImageReadError, read_image
from brainseg.io.volume import Volume


@dataclass
class Patient:
    """One labelled patient of the dataset: slices stacked in slice order. images
    (S, H, W, 3) uint8 in the Kaggle channel order, masks (S, H, W) uint8 in {0, 1}."""

    patient: str
    stems: list[str]
    images: np.ndarray
    masks: np.ndarray

    @property
    def tumor_slices(self) -> np.ndarray:
        return self.masks.reshape(len(self.masks), -1).any(axis=1)

    def image_volume(self) -> Volume:
        """The images as the I/O layer's ``Volume`` (what predict reads from the same folder)."""
        return Volume.from_slices(self.images, self.patient, self.stems)

    def flair_only_volume(self) -> Volume:
        """The FLAIR in every channel: what prediction builds for a FLAIR-only scan."""
        return Volume.from_slices(self.images[..., [1, 1, 1]], self.patient, self.stems)


def _problem(path: Path | str, text: str) -> Problem:
    return Problem(str(path), text)


def _load_pair(pair: SlicePair) -> tuple[np.ndarray | None, np.ndarray | None, list[Problem]]:
    """A slice's image (H, W, 3) uint8 and binary mask (H, W) uint8, or its problems."""
    if pair.image is None:
        return None, None, [_problem(pair.mask, "mask has no matching image")]
    if pair.mask is None:
        return None, None, [_problem(pair.image, "image has no matching mask")]
    problems: list[Problem] = []
    image = _checked(pair.image, _image_pixels, problems)
    mask = _checked(pair.mask, _mask_pixels, problems)
    if image is not None and mask is not None and image.shape[:2] != mask.shape[:2]:
        problems.append(
            _problem(
                pair.mask,
                f"mask size {mask.shape[1]}x{mask.shape[0]} differs from image "
                f"{image.shape[1]}x{image.shape[0]}",
            )
        )
    if problems:
        return None, None, problems
    return image, mask, []


def _checked(path: Path, convert, problems: list[Problem]) -> np.ndarray | None:
    """The file decoded and converted, or None with its problem added."""
    try:
        return convert(read_image(path))
    except ImageReadError as exc:
        problems.append(_problem(path, str(exc)))
        return None


def _image_pixels(image: np.ndarray) -> np.ndarray:
    """An 8-bit slice of 1 or 3 channels as (H, W, 3); ImageReadError says what is wrong."""
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels not in (1, 3):
        raise ImageReadError(f"unexpected channel count {channels} (want 3)")
    if image.dtype != np.uint8:
        raise ImageReadError(f"expected 8-bit pixels, found {image.dtype}")
    if channels == 1:
        image = np.repeat(image[..., None] if image.ndim == 2 else image, 3, axis=2)
    return image


def _mask_pixels(mask: np.ndarray) -> np.ndarray:
    """A binary mask (0/1 or 0/255, in one or identical channels) as (H, W) of 0 and 1."""
    if mask.ndim == 3:
        if not (mask.shape[2] == 1 or (mask == mask[..., :1]).all()):
            raise ImageReadError(f"mask has {mask.shape[2]} differing channels")
        mask = mask[..., 0]
    values = np.unique(mask)
    top = 1 if values.max(initial=0) <= 1 else 255
    if not np.isin(values, (0, top)).all():
        shown = ", ".join(str(v) for v in values[:6])
        raise ImageReadError(f"mask is not binary (values {shown})")
    return (mask > 127).astype(np.uint8) if top == 255 else mask.astype(np.uint8)


def _cache_key(patient: PatientFiles) -> str:
    digest = hashlib.sha1()
    for pair in patient.slices:
        for path in (pair.image, pair.mask):
            if path is not None:
                stat = path.stat()
                digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def _load_patient(patient: PatientFiles, cache_dir: Path | None) -> tuple[Patient | None, list]:
    cache_file = None
    if cache_dir is not None:
        cache_file = cache_dir / f"{patient.name}-{_cache_key(patient)}.npz"
        if cache_file.exists():
            try:
                with np.load(cache_file) as npz:
                    return Patient(
                        patient.name, list(npz["stems"]), npz["images"], npz["masks"]
                    ), []
            except (OSError, ValueError, KeyError):
                pass  # corrupt cache entry: decode again
    images, masks, stems, problems = [], [], [], []
    for pair in patient.slices:
        image, mask, found = _load_pair(pair)
        problems += found
        if image is not None:
            images.append(image)
            masks.append(mask)
            stems.append(pair.stem)
    shapes = {img.shape for img in images}
    if len(shapes) > 1:
        first = images[0].shape
        for img, stem in zip(images, stems, strict=True):
            if img.shape != first:
                problems.append(
                    _problem(patient.folder / stem, f"slice size {img.shape} differs from {first}")
                )
    if problems:
        return None, problems
    volume = Patient(patient.name, stems, np.stack(images), np.stack(masks))
    if cache_file is not None:
        arrays = {"stems": np.array(stems), "images": volume.images, "masks": volume.masks}
        try:
            atomic_write(cache_file, lambda f: np.savez(f, **arrays))
        except Exception:
            pass  # the cache is an optimisation; never fail a run over it
    return volume, []


def load_volumes(
    root: str | Path, cache_dir: str | Path | None = None, patients: list[str] | None = None
) -> tuple[list[Patient], list[dict[str, str]]]:
    """Decode the dataset (or the named patients) once; return (volumes, problems)."""
    found, problems = discover(root)
    if patients is not None:
        wanted = set(patients)
        missing = wanted - {p.name for p in found}
        problems += [_problem(Path(root) / name, "patient folder not found") for name in missing]
        found = [p for p in found if p.name in wanted]
    cache = Path(cache_dir) if cache_dir else None
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda p: _load_patient(p, cache), found))
    volumes = []
    for volume, patient_problems in results:
        problems += patient_problems
        if volume is not None:
            volumes.append(volume)
    return volumes, problems


def load_clean_volumes(root: str | Path, cache_dir: str | Path | None = None, patients=None):
    """Like :func:`load_volumes` but refuses data with any problem."""
    volumes, problems = load_volumes(root, cache_dir, patients)
    if problems:
        raise DataProblemsError(problems)
    return volumes


def calibration_volumes(
    data: str | Path, candidates: list[str] | None = None, patients: int = 8, seed: int = 0
) -> list[Volume]:
    """Up to ``patients`` patients of a labelled dataset, drawn with ``seed`` (from
    ``candidates``, e.g. a split's training patients, or from all), as image volumes: what
    the INT8 export is calibrated on."""
    names = sorted(p.name for p in discover(data)[0])
    if candidates is not None:
        names = [n for n in names if n in set(candidates)]
    if not names:
        raise BrainsegError(f"{data}: no patients to calibrate on")
    chosen = np.random.default_rng(seed).permutation(names)[:patients].tolist()
    return [v.image_volume() for v in load_clean_volumes(data, patients=chosen)]

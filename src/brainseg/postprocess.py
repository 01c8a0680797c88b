"""Post-processing of binary masks, selected by a spec such as ``close+lcc``.

- ``close``: the original LGG U-Net's step, uint8 then a morphological closing with a 5x5
  ellipse (OpenCV's ``getStructuringElement(MORPH_ELLIPSE, (5, 5))``), per slice.
- ``lcc``: keep the largest 3D connected component of the patient's volume (Buda et al.).
- ``lcc2d``: keep the largest connected component in each slice.
- ``small`` or ``small:N``: remove 3D components smaller than N voxels (default 100).
- ``rel`` or ``rel:P``: remove 3D components smaller than P% of the largest one (default 10).
  Unlike ``lcc`` it keeps a true lesion when a false positive is larger, and keeps
  multifocal lesions.
- ``none``: nothing.
Steps run left to right. Whether each helps is measured on validation patients
(``brainseg evaluate``), and the default is the winner there, never on test.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from brainseg.errors import BrainsegError

ELLIPSE_5X5 = np.array(
    [[0, 0, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 1, 0, 0]], bool
)
STEPS = ("none", "close", "lcc", "lcc2d", "small", "rel")
ABLATION = ("none", "close", "lcc", "close+lcc", "lcc2d", "small", "rel:10", "rel:25")


def close_slices(masks: np.ndarray) -> np.ndarray:
    """Closing with the 5x5 ellipse on each slice of (S, H, W) masks; no border erosion."""
    pad = 5
    padded = np.pad(masks.astype(np.uint8), ((0, 0), (pad, pad), (pad, pad)))
    structure = ELLIPSE_5X5[None]
    closed = ndimage.binary_closing(padded, structure=structure)
    return closed[:, pad:-pad, pad:-pad]


def _components(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected components (full connectivity) and their sizes; the background's size is 0."""
    labels, _ = ndimage.label(masks, structure=np.ones((3,) * masks.ndim))
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels, sizes


def _keep_components(labels: np.ndarray, keep: np.ndarray) -> np.ndarray:
    keep[0] = False
    return keep[labels]


def largest_component(masks: np.ndarray, per_slice: bool = False) -> np.ndarray:
    if per_slice:
        return np.stack([largest_component(m[None])[0] for m in masks]) if len(masks) else masks
    labels, sizes = _components(masks)
    if len(sizes) <= 2:  # at most one component
        return masks.astype(bool)
    return labels == int(np.argmax(sizes))


def remove_small(masks: np.ndarray, min_voxels: int) -> np.ndarray:
    labels, sizes = _components(masks)
    return _keep_components(labels, sizes >= min_voxels)


def remove_relatively_small(masks: np.ndarray, percent: int) -> np.ndarray:
    """Drop 3D components under ``percent``% of the largest component's size."""
    labels, sizes = _components(masks)
    return _keep_components(labels, sizes * 100 >= sizes.max() * percent)


def parse_spec(spec: str) -> list[tuple[str, int | None]]:
    steps = []
    for part in (spec or "none").split("+"):
        name, _, arg = part.strip().partition(":")
        if name not in STEPS:
            choices = ", ".join(STEPS)
            raise BrainsegError(f"unknown post-processing '{part}' (choose from {choices})")
        if arg and not arg.isdigit():
            raise BrainsegError(f"post-processing '{part}': the argument must be a number")
        steps.append((name, int(arg) if arg else None))
    return steps


def apply_postprocess(masks: np.ndarray, spec: str) -> np.ndarray:
    """Apply a spec to one patient's (S, H, W) binary masks (a single slice: S = 1)."""
    out = np.asarray(masks, bool)
    for name, arg in parse_spec(spec):
        if name == "close":
            out = close_slices(out)
        elif name == "lcc":
            out = largest_component(out)
        elif name == "lcc2d":
            out = largest_component(out, per_slice=True)
        elif name == "small":
            out = remove_small(out, arg or 100)
        elif name == "rel":
            out = remove_relatively_small(out, 10 if arg is None else arg)
    return out

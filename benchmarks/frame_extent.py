"""How much of the 256 x 256 Kaggle frame the head and the brain span, per patient: the
measurement behind not building a brain-centred crop (docs/cross-validation.md).

    python benchmarks/frame_extent.py --data ../shared/data/lgg/kaggle_3m

The head is the FLAIR above a tenth of its 99th percentile, the brain the morphological mask
of ``preprocessing/brainmask.py``; each is the union over a patient's slices, and its
extent the larger side of its bounding box, in pixels.
"""

from __future__ import annotations

import argparse

import numpy as np

from brainseg.data.volumes import load_clean_volumes
from brainseg.preprocessing.brainmask import brain_mask
from brainseg.preprocessing.geometry import FRAME_PIXEL_MM


def extent(mask: np.ndarray) -> int:
    """Larger side, in pixels, of the bounding box of a 2D mask (0 when empty)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return 0
    return int(max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    heads, brains = [], []
    for volume in load_clean_volumes(args.data):
        flair = volume.images[..., 1]
        heads.append(extent((flair > 0.1 * np.percentile(flair, 99)).any(axis=0)))
        brains.append(extent(brain_mask(flair, FRAME_PIXEL_MM).any(axis=0)))
    size = volume.images.shape[1]
    for name, values in (("head", heads), ("brain", brains)):
        p5, p50, p95 = np.percentile(values, [5, 50, 95])
        print(
            f"{name}: {len(values)} patients, extent in pixels of {size}: median {p50:.0f}, "
            f"5th percentile {p5:.0f}, 95th {p95:.0f}; crop factor {size / p50:.2f}"
        )


if __name__ == "__main__":
    main()

"""How much of the 256 x 256 Kaggle frame the head and the brain span, per patient: the
measurement behind not building a brain-centred crop (docs/cross-validation.md).

    python benchmarks/frame_extent.py --data ../shared/data/lgg/kaggle_3m

The head's extent is what the frame itself measures (``geometry.head_extent_mm``: the
maximum projection above a tenth of its 99th percentile), the brain's that of the union of
``preprocessing/brainmask.py``'s masks over a patient's slices; each the larger side of its
bounding box, in pixels.
"""

from __future__ import annotations

import argparse

import numpy as np

from brainseg.data.volumes import load_clean_volumes
from brainseg.preprocessing.brainmask import brain_mask
from brainseg.preprocessing.geometry import FRAME_PIXEL_MM, head_extent_mm


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    heads, brains = [], []
    for volume in load_clean_volumes(args.data):
        flair = volume.images[..., 1]
        brain = brain_mask(flair, FRAME_PIXEL_MM).astype(np.float32)
        heads.append(max(head_extent_mm(flair, (1.0, 1.0))))  # (1, 1) mm: in pixels
        brains.append(max(head_extent_mm(brain, (1.0, 1.0))))
    size = volume.images.shape[1]
    for name, values in (("head", heads), ("brain", brains)):
        p5, p50, p95 = np.percentile(values, [5, 50, 95])
        print(
            f"{name}: {len(values)} patients, extent in pixels of {size}: median {p50:.0f}, "
            f"5th percentile {p5:.0f}, 95th {p95:.0f}; crop factor {size / p50:.2f}"
        )


if __name__ == "__main__":
    main()

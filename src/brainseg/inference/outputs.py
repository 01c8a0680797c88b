"""What a segmentation becomes: the mask PNG, the overlay PNG, the NIfTI mask, the DICOM-SEG
and the summary row, built the same way for ``brainseg predict`` (files and
``predictions.csv``) and for the service (its answers and their JSON)."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainseg.io.volume import Volume
from brainseg.io.writers import mask_nifti_bytes, mask_png_bytes, overlay, png_bytes


def mask_png(mask: np.ndarray) -> bytes:
    """A binary (H, W) mask as an 8-bit PNG of 0 and 255."""
    return mask_png_bytes(mask)


def overlay_png(flair: np.ndarray, mask: np.ndarray) -> bytes:
    """The FLAIR slice with the mask in red."""
    return png_bytes(overlay(flair, None, mask))


def nifti_mask(masks: np.ndarray, volume: Volume) -> bytes:
    """(S, H, W) masks as a gzipped NIfTI on the volume's own grid and header."""
    return mask_nifti_bytes(masks, volume)


def dicom_seg(masks: np.ndarray, volume: Volume, model: dict[str, Any]) -> tuple[bytes, list]:
    """The DICOM-SEG of a DICOM volume's masks, and the notes on its source header."""
    from brainseg.io.dicom_seg import dicom_seg_bytes

    return dicom_seg_bytes(masks, volume.slice_files, model)


def lesion_summary(masks: np.ndarray | list[np.ndarray], volume: Volume) -> dict[str, Any]:
    """Slices, lesion voxels, whether there is a lesion and its volume (mm3 and ml, empty
    where the geometry is unknown): the columns every case's row has."""
    voxels = int(sum(int(np.asarray(m).sum()) for m in masks))
    mm3 = volume.voxel_mm3
    return {
        "slices": int(sum(len(m) for m in masks)) if isinstance(masks, list) else len(masks),
        "lesion_pixels": voxels,
        "lesion_present": voxels > 0,
        "lesion_mm3": round(voxels * mm3, 3) if mm3 else "",
        "lesion_ml": round(voxels * mm3 / 1000, 4) if mm3 else "",
    }


def joined_notes(*notes: str) -> str:
    """QC notes as one field, as ``predictions.csv`` and the service's ``qc`` hold them."""
    return "; ".join(n for n in notes if n)

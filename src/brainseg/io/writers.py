"""Output encodings: masks as PNG slices (0 and 255) or as a NIfTI volume on the input's
grid, probabilities as NIfTI, and the overlay picture (FLAIR, truth, prediction) that
predict, the service and the reports show. Bytes only: ``brainseg.fileio`` writes them
atomically, ``brainseg.inference.outputs`` says which a segmentation gets."""

from __future__ import annotations

import gzip
import io

import numpy as np

from brainseg.io.volume import Volume


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


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


def mask_png_bytes(mask: np.ndarray) -> bytes:
    """A binary (H, W) mask as an 8-bit PNG holding 0 and 255."""
    return png_bytes(np.asarray(mask, bool).astype(np.uint8) * 255)


def mask_nifti_bytes(masks: np.ndarray, reference: Volume) -> bytes:
    """(S, H, W) masks as gzipped uint8 NIfTI bytes on the reference volume's grid: its
    affine, with qform and sform set (the source's codes kept, or 1 when it had none)."""
    return _nifti_bytes(np.asarray(masks, np.uint8), reference)


def probability_nifti_bytes(probabilities: np.ndarray, reference: Volume) -> bytes:
    """(S, H, W) tumour probabilities as a float32 NIfTI on the reference volume's grid."""
    return _nifti_bytes(np.asarray(probabilities, np.float32), reference)


def _nifti_bytes(values: np.ndarray, reference: Volume) -> bytes:
    import nibabel as nib

    data = np.ascontiguousarray(values.transpose(2, 1, 0))  # (X, Y, Z)
    affine = reference.affine
    result = nib.Nifti1Image(data, affine)
    result.header.set_data_dtype(values.dtype)
    header = reference.header
    qcode = int(header["qform_code"]) if header is not None and "qform_code" in header else 0
    scode = int(header["sform_code"]) if header is not None and "sform_code" in header else 0
    result.set_qform(affine, code=qcode or 1)
    result.set_sform(affine, code=scode or 1)
    return gzip.compress(result.to_bytes(), compresslevel=6, mtime=0)

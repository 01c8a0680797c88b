"""Writers: masks as PNG slices (0 and 255) or as a NIfTI volume on the input's grid.

All writes are atomic (``brainseg.fileio``): a kill never leaves half a file behind.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np

from brainseg.fileio import write_bytes
from brainseg.io.volume import Volume


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


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


def write_nifti_mask(masks: np.ndarray, reference: Volume, out: str | Path) -> None:
    write_bytes(out, mask_nifti_bytes(masks, reference))


def write_nifti_probabilities(probabilities: np.ndarray, reference: Volume, out) -> None:
    write_bytes(out, probability_nifti_bytes(probabilities, reference))


def write_png_mask(mask: np.ndarray, out: str | Path) -> None:
    write_bytes(out, mask_png_bytes(mask))

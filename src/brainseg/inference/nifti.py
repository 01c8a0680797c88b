"""NIfTI volumes in and out.

Voxel ``[i, j, k]`` is column i, row j of slice k (the usual convention when 2D slices are
stacked, as ITK-SNAP and 3D Slicer show them), so slice k as an image is ``data[:, :, k].T``.
A 4D volume's last axis holds the sequences (pre-contrast, FLAIR, post-contrast); a 3D
volume is FLAIR only and is copied into all three channels. Intensities are rescaled per
volume and channel into 0..255 (uint8 data is kept as it is), so scanner units do not matter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainseg.data.imageio import MAX_PIXELS
from brainseg.errors import BrainsegError
from brainseg.fileio import write_bytes

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path: str | Path) -> bool:
    name = str(path).lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def nifti_stem(path: str | Path) -> str:
    name = Path(path).name
    return name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else Path(name).stem


def _rescale_channel(channel: np.ndarray) -> np.ndarray:
    if channel.dtype == np.uint8:
        return channel
    with np.errstate(over="ignore", invalid="ignore"):
        data = np.nan_to_num(channel.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    data = np.clip(data, 0, None)
    positive = data[data > 0]
    top = float(np.percentile(positive, 99.9)) if positive.size else 0.0
    if top <= 0:
        return np.zeros(data.shape, np.uint8)
    return np.clip(np.round(data / top * 255), 0, 255).astype(np.uint8)


def load_nifti(path: str | Path):
    """Return (slices (S, H, W, 3) uint8, nibabel image) for a 3D or 4D NIfTI volume."""
    import nibabel as nib

    path = Path(path)
    try:
        image = nib.load(str(path))
        shape = image.shape
    except Exception as exc:
        raise BrainsegError(f"{path}: not a readable NIfTI file ({type(exc).__name__})") from None
    if len(shape) not in (3, 4) or 0 in shape:
        raise BrainsegError(f"{path}: expected a 3D or 4D volume with no empty axis, got {shape}")
    if shape[0] * shape[1] > MAX_PIXELS or np.prod(shape) > 64 * MAX_PIXELS:
        raise BrainsegError(f"{path}: volume too large ({'x'.join(map(str, shape))})")
    if len(shape) == 4 and shape[3] not in (1, 3):
        raise BrainsegError(f"{path}: 4D volume must hold 1 or 3 sequences, found {shape[3]}")
    try:
        data = np.asarray(image.dataobj)
    except Exception as exc:
        raise BrainsegError(f"{path}: voxel data unreadable ({type(exc).__name__})") from None
    if data.ndim == 3:
        data = data[..., None]
    if not (np.issubdtype(data.dtype, np.number) or data.dtype == bool):
        raise BrainsegError(f"{path}: voxel type {data.dtype} is not numeric")
    channels = [_rescale_channel(data[..., c]) for c in range(data.shape[3])]
    if len(channels) == 1:
        channels = channels * 3
    volume = np.stack(channels, axis=-1)  # (X, Y, Z, 3)
    slices = np.ascontiguousarray(volume.transpose(2, 1, 0, 3))  # (Z, rows=Y, cols=X, 3)
    return slices, image


def mask_nifti_bytes(masks: np.ndarray, reference) -> bytes:
    """(S, H, W) masks as gzipped uint8 NIfTI bytes, with the reference's spatial shape and
    affine, and qform and sform set (their codes kept, or 1 when the reference had none)."""
    import gzip

    import nibabel as nib

    data = np.ascontiguousarray(np.asarray(masks, np.uint8).transpose(2, 1, 0))  # (X, Y, Z)
    affine = reference.affine
    result = nib.Nifti1Image(data, affine)
    result.header.set_data_dtype(np.uint8)
    header = reference.header
    qcode = int(header["qform_code"]) if "qform_code" in header else 0
    scode = int(header["sform_code"]) if "sform_code" in header else 0
    result.set_qform(affine, code=qcode or 1)
    result.set_sform(affine, code=scode or 1)
    return gzip.compress(result.to_bytes(), compresslevel=6, mtime=0)


def save_mask_nifti(masks: np.ndarray, reference, out: str | Path) -> None:
    """Write (S, H, W) masks as a gzipped NIfTI file, atomically."""
    write_bytes(out, mask_nifti_bytes(masks, reference))


def voxel_mm3(reference) -> float | None:
    zooms = reference.header.get_zooms()[:3]
    volume = float(np.prod(zooms))
    return volume if np.isfinite(volume) and volume > 0 else None

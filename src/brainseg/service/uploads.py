"""Upload handling: sniff the content (never trust names), decode in a private temp folder
that is always removed, and turn every failure into a 4xx-worthy message."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np

from brainseg.data.discovery import is_mask_name, slice_number
from brainseg.data.imageio import IMAGE_SUFFIXES, ImageReadError, as_rgb, read_image

MAX_ZIP_ENTRIES = 512
MAX_ZIP_BYTES = 512 * 1024 * 1024


class UploadError(ValueError):
    """Bad upload; ``status`` is the HTTP code to answer with."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def sniff(data: bytes) -> str:
    """Content kind from magic bytes: png, jpg, tif, nii, nii.gz, zip or unknown."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tif"
    if data.startswith(b"\x1f\x8b"):
        return "nii.gz"
    if len(data) >= 348 and data[344:348] in (b"n+1\x00", b"ni1\x00"):
        return "nii"
    if len(data) >= 4 and int.from_bytes(data[:4], "little") in (348, 540):
        return "nii"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    return "unknown"


def decode_image(data: bytes) -> np.ndarray:
    """One uploaded slice as (H, W, 3) uint8."""
    kind = sniff(data)
    if kind not in ("png", "jpg", "tif"):
        raise UploadError("expected a PNG, JPEG or TIFF image", status=415)
    with tempfile.TemporaryDirectory(prefix="brainseg-") as folder:
        path = Path(folder) / f"upload.{kind}"
        path.write_bytes(data)
        try:
            return as_rgb(read_image(path))
        except ImageReadError as exc:
            raise UploadError(f"image could not be decoded: {exc}") from None


def decode_nifti(data: bytes):
    """(slices (S, H, W, 3) uint8, nibabel image) from NIfTI bytes."""
    from brainseg.errors import BrainsegError
    from brainseg.inference.nifti import load_nifti

    kind = sniff(data)
    with tempfile.TemporaryDirectory(prefix="brainseg-") as folder:
        path = Path(folder) / f"upload.{kind}"
        path.write_bytes(data)
        try:
            slices, image = load_nifti(path)
            image = type(image)(np.asarray(image.dataobj), image.affine, image.header)
        except BrainsegError as exc:
            raise UploadError(str(exc).split(": ", 1)[-1]) from None
        except Exception:
            raise UploadError("NIfTI voxel data could not be read") from None
    return slices, image


def decode_zip(data: bytes) -> tuple[list[str], np.ndarray]:
    """One patient's slices from a zip in the Kaggle naming; masks inside are skipped.
    Entry names are only used to order slices and name outputs, never as paths."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [e for e in archive.infolist() if not e.is_dir()]
    except (zipfile.BadZipFile, OSError):
        raise UploadError("zip archive is damaged") from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise UploadError(f"zip holds more than {MAX_ZIP_ENTRIES} files", status=413)
    if sum(e.file_size for e in entries) > MAX_ZIP_BYTES:
        raise UploadError("zip expands beyond the size limit", status=413)
    slices = []
    for entry in entries:
        name = PurePosixPath(entry.filename.replace("\\", "/")).name
        path = Path(name)
        if name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if is_mask_name(path):
            continue
        slices.append((slice_number(path.stem), path.stem, entry))
    if not slices:
        raise UploadError("zip holds no image slices")
    slices.sort(key=lambda s: (s[0] is None, s[0] or 0, s[1]))
    images = []
    for _, stem, entry in slices:
        try:
            images.append(decode_image(archive.read(entry)))
        except UploadError as exc:
            raise UploadError(f"{stem}: {exc}", exc.status) from None
        except (zipfile.BadZipFile, OSError, RuntimeError):
            raise UploadError(f"{stem}: damaged zip entry") from None
    if len({img.shape for img in images}) > 1:
        raise UploadError("slices in the zip differ in size")
    return [s[1] for s in slices], np.stack(images)

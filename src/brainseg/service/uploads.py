"""Upload handling: sniff the content (never trust names), decode it through the same
readers as ``brainseg predict`` in a private temp folder that is always removed, and turn
every input problem into a 4xx-worthy message."""

from __future__ import annotations

import io
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from brainseg.errors import BrainsegError
from brainseg.io.naming import is_slice_input, slice_order_key
from brainseg.io.readers import InputItem, NiftiReader, Problem, SliceImageReader
from brainseg.io.volume import Volume

MAX_ZIP_ENTRIES = 512
MAX_ZIP_BYTES = 512 * 1024 * 1024
IMAGE_KINDS = ("png", "jpg", "tif")
VOLUME_KINDS = ("nii", "nii.gz", "zip")


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


def _read_slices(folder: Path, files: list[Path]) -> tuple[list[Volume], list[Problem]]:
    reader = SliceImageReader()
    volumes, problems = reader.read(InputItem(reader, folder, Path(), files))
    # Name problems by the uploaded name, not by the private temp path.
    return volumes, [(Path(file).name, reason) for file, reason in problems]


def decode_image(data: bytes) -> Volume:
    """One uploaded slice as a one-slice volume."""
    kind = sniff(data)
    if kind not in IMAGE_KINDS:
        raise UploadError("expected a PNG, JPEG or TIFF image", status=415)
    with tempfile.TemporaryDirectory(prefix="brainseg-") as folder:
        path = Path(folder) / f"upload.{kind}"
        path.write_bytes(data)
        volumes, problems = _read_slices(Path(folder), [path])
    if problems:
        raise UploadError(f"image could not be decoded: {problems[0][1]}")
    return volumes[0]


def decode_volume(data: bytes) -> tuple[list[Volume], list[Problem]]:
    """A NIfTI volume, or a zip of one patient's slices (grouped by size, as ``predict``
    does), as volumes plus one problem per unusable zip entry."""
    kind = sniff(data)
    if kind not in VOLUME_KINDS:
        raise UploadError("expected a NIfTI volume (.nii, .nii.gz) or a zip of slices", 415)
    with tempfile.TemporaryDirectory(prefix="brainseg-") as folder:
        if kind == "zip" and _holds_dicom(data):
            return _read_dicom_zip(data, Path(folder)), []
        if kind == "zip":
            files = _extract_slices(data, Path(folder))
            volumes, problems = _read_slices(Path(folder), files)
            if not volumes:
                reasons = "; ".join(f"{name}: {reason}" for name, reason in problems[:3])
                raise UploadError(f"no usable slices in the zip ({reasons})")
            return volumes, problems
        path = Path(folder) / f"upload.{kind}"
        path.write_bytes(data)
        reader = NiftiReader()
        try:
            volumes, problems = reader.read(InputItem(reader, path, Path(), [path]))
        except BrainsegError as exc:
            raise UploadError(str(exc).split(": ", 1)[-1]) from None
        for volume in volumes:
            volume.source = "upload.nii.gz"
        return volumes, problems


def _entries(data: bytes) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [e for e in archive.infolist() if not e.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UploadError("zip archive is damaged") from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise UploadError(f"zip holds more than {MAX_ZIP_ENTRIES} files", status=413)
    if sum(e.file_size for e in entries) > MAX_ZIP_BYTES:
        raise UploadError("zip expands beyond the size limit", status=413)
    return archive, entries


def _holds_dicom(data: bytes) -> bool:
    """Any entry that starts like a DICOM Part 10 file ('DICM' at byte 128)."""
    archive, entries = _entries(data)
    for entry in entries[:MAX_ZIP_ENTRIES]:
        try:
            with archive.open(entry) as f:
                if f.read(132)[128:132] == b"DICM":
                    return True
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError, zlib.error):
            continue
    return False


def _read_dicom_zip(data: bytes, folder: Path) -> list[Volume]:
    """A zipped DICOM series (or study): read like ``predict`` reads a DICOM folder. The
    slices' headers are kept in memory (``slice_files``) for a DICOM-SEG answer."""
    import pydicom

    from brainseg.io.dicom import dicom_studies
    from brainseg.io.inputs import read_item

    archive, entries = _entries(data)
    files = []
    for index, entry in enumerate(entries):
        target = folder / f"entry{index:05d}"  # entry names are never used as paths
        try:
            target.write_bytes(archive.read(entry))
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, EOFError, zlib.error):
            raise UploadError(f"{PurePosixPath(entry.filename).name}: damaged zip entry") from None
        files.append(target)
    items, problems = dicom_studies(folder, files)
    if problems or len(items) != 1:
        reasons = "; ".join(reason for _, reason in problems[:2]) or "no DICOM image series"
        if len(items) > 1:
            reasons = f"the zip holds {len(items)} studies; upload one"
        raise UploadError(f"DICOM zip unusable: {reasons}")
    try:
        (volume,), _ = read_item(items[0])
    except BrainsegError as exc:
        raise UploadError(str(exc).replace(str(folder) + "/", "")) from None
    volume.slice_files = [pydicom.dcmread(f, stop_before_pixels=True) for f in volume.slice_files]
    volume.source = "upload.zip"
    return [volume]


def _extract_slices(data: bytes, folder: Path) -> list[Path]:
    """Write the zip's image slices (masks and our outputs skipped) into ``folder`` under
    their base names, in slice order. Entry names are never used as paths."""
    archive, entries = _entries(data)
    chosen: dict[str, zipfile.ZipInfo] = {}
    for entry in entries:
        name = PurePosixPath(entry.filename.replace("\\", "/")).name
        if is_slice_input(Path(name)):
            if name in chosen:
                raise UploadError(f"zip holds two slices named {name}")
            chosen[name] = entry
    if not chosen:
        raise UploadError("zip holds no image slices")
    files = []
    for name in sorted(chosen, key=lambda n: slice_order_key(Path(n).stem)):
        try:
            content = archive.read(chosen[name])
        except (
            zipfile.BadZipFile,
            OSError,
            RuntimeError,
            ValueError,
            EOFError,
            zlib.error,
            NotImplementedError,
        ):
            raise UploadError(f"{Path(name).stem}: damaged zip entry") from None
        target = folder / name
        target.write_bytes(content)
        files.append(target)
    return files


def decode_case(uploads: list[tuple[str, bytes]]) -> Volume:
    """One case from several NIfTI uploads named by sequence (``*_flair``, ``*_t1``,
    ``*_t1ce``...: the rules of ``brainseg predict``; a lone unnamed file is the FLAIR).
    The upload names only choose the sequence; they are never used as paths."""
    from brainseg.io.cases import case_sequences, read_case
    from brainseg.io.sequences import FLAIR, IGNORED, LABEL, T2, sequence_of

    if not uploads:
        raise UploadError("no files: upload the FLAIR, and optionally T1 and T1c")
    with tempfile.TemporaryDirectory(prefix="brainseg-") as folder:
        paths, names = [], {}
        for index, (name, data) in enumerate(uploads):
            base = PurePosixPath(name.replace("\\", "/")).name or f"file{index}"
            kind = sniff(data)
            if kind not in ("nii", "nii.gz"):
                raise UploadError(f"{base}: expected a NIfTI file (.nii, .nii.gz)", status=415)
            sequence = sequence_of(base)
            if sequence is None and len(uploads) == 1:
                sequence = FLAIR
            if sequence in (None, LABEL, T2, IGNORED):
                continue  # labels, unused sequences and unnamed extras are skipped
            path = Path(folder) / f"upload{index}_{sequence}.{kind}"
            path.write_bytes(data)
            paths.append(path)
            names[path.name] = base
        sequences, problems = case_sequences(paths)
        if problems:
            reason = problems[0][1]
            for private, public in names.items():
                reason = reason.replace(private, public)
            raise UploadError(reason.replace("case folder", "case"))
        try:
            volume = read_case(sequences, "upload")
        except BrainsegError as exc:
            message = str(exc)
            for private, public in names.items():
                message = message.replace(str(Path(folder) / private), public)
            raise UploadError(message) from None
    return volume

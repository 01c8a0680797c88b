"""Readers: each input format is one class, found through ``READERS`` by what it accepts.

``brainseg.io.inputs`` turns command-line paths into work items (``InputItem``) and reads
them with the reader each names. Adding a format means one ``Reader`` subclass (here or in
its own module, as ``cases`` does), listed in ``READERS``, and a test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from brainseg.errors import BrainsegError, Problem
from brainseg.io.images import MAX_PIXELS, ImageReadError, read_image, slice_channels
from brainseg.io.naming import is_nifti, is_slice_input, nifti_stem
from brainseg.io.volume import Volume, frame_affine


class InputError(BrainsegError):
    """A whole input cannot be used; the message names the file and the reason."""

    exit_code = 2

    def __init__(self, path: str | Path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


@dataclass
class InputItem:
    """One unit of work: ``files`` in slice order, read by ``reader``; outputs go to
    ``--out/rel``."""

    reader: Reader
    source: Path
    rel: Path
    files: list[Path] = field(default_factory=list)
    sequences: dict[str, Path] = field(default_factory=dict)  # a case: file per sequence
    warnings: list[str] = field(default_factory=list)  # for QC: how the input was chosen

    @property
    def kind(self) -> str:
        return self.reader.kind

    @property
    def name(self) -> str:
        """What the outputs are named after: the case folder, or the file without suffix."""
        return self.source.name if self.sequences else nifti_stem(self.source)


class Reader:
    """Base class. ``group_by_folder``: the accepted files of one folder form one item."""

    kind = "?"
    group_by_folder = False

    def accepts(self, path: Path) -> bool:
        raise NotImplementedError

    def read(self, item: InputItem) -> tuple[list[Volume], list[Problem]]:
        raise NotImplementedError


class NiftiReader(Reader):
    """A 3D volume (FLAIR) or a 4D one whose last axis holds pre-contrast, FLAIR and
    post-contrast. Voxel [i, j, k] is column i, row j of slice k."""

    kind = "nifti"

    def accepts(self, path: Path) -> bool:
        return is_nifti(path)

    def read(self, item: InputItem) -> tuple[list[Volume], list[Problem]]:
        return [read_nifti(item.source)], []


def read_nifti(path: str | Path) -> Volume:
    import nibabel as nib

    path = Path(path)
    try:
        image = nib.load(str(path))
        shape = image.shape
    except Exception as exc:
        raise InputError(path, f"not a readable NIfTI file ({type(exc).__name__})") from None
    if len(shape) not in (3, 4) or 0 in shape:
        raise InputError(path, f"expected a 3D or 4D volume with no empty axis, got {shape}")
    if shape[0] * shape[1] > MAX_PIXELS or np.prod(shape) > 64 * MAX_PIXELS:
        raise InputError(path, f"volume too large ({'x'.join(map(str, shape))})")
    if len(shape) == 4 and shape[3] not in (1, 3):
        raise InputError(path, f"4D volume must hold 1 or 3 sequences, found {shape[3]}")
    try:
        data = np.asarray(image.dataobj)
    except Exception as exc:
        raise InputError(path, f"voxel data unreadable ({type(exc).__name__})") from None
    if not (np.issubdtype(data.dtype, np.number) or data.dtype == bool):
        raise InputError(path, f"voxel type {data.dtype} is not numeric")
    _check_affine(path, image)
    if data.ndim == 3:
        data = data[..., None]
    channels = ("t1", "flair", "t1c") if data.shape[3] == 3 else ("flair",)
    slices = np.ascontiguousarray(data.transpose(2, 1, 0, 3))  # (Z, rows=Y, cols=X, C)
    return Volume(slices, np.asarray(image.affine, float), channels, str(path), header=image.header)


def _check_affine(path: Path, image) -> None:
    """Refuse a volume whose voxel-to-world mapping is missing or unusable: its mask could
    not be placed, nor the volume turned into the training frame."""
    header = image.header
    codes = [int(header.get(key, 0)) for key in ("qform_code", "sform_code") if key in header]
    if codes and not any(codes):
        raise InputError(
            path,
            "no orientation in the header (qform_code and sform_code are 0); "
            "rewrite it with its affine set (e.g. nibabel, dcm2niix)",
        )
    affine = np.asarray(image.affine, float)
    if not np.isfinite(affine).all() or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise InputError(path, "the affine is singular or not finite; voxels cannot be placed")


class SliceImageReader(Reader):
    """2D slices (TIFF, PNG, JPEG): a folder's slices in slice-number order form one volume
    when they share a size; slices of differing sizes are segmented one by one."""

    kind = "image"
    group_by_folder = True

    def accepts(self, path: Path) -> bool:
        return is_slice_input(path)

    def read(self, item: InputItem) -> tuple[list[Volume], list[Problem]]:
        arrays, names, problems = [], [], []
        for file in item.files:
            try:
                array, channels = slice_channels(read_image(file))
            except ImageReadError as exc:
                problems.append(Problem(str(file), str(exc)))
                continue
            arrays.append((array, channels, file))
        if not arrays:
            return [], problems
        same = len({(a.shape, a.dtype, c) for a, c, _ in arrays}) == 1
        groups = [arrays] if same else [[a] for a in arrays]
        volumes = []
        for group in groups:
            stack = np.stack([a for a, _, _ in group])
            names = [f.stem for _, _, f in group]
            source = str(item.source if same else group[0][2])
            volumes.append(
                Volume(stack, frame_affine(), group[0][1], source, names, geometry=False)
            )
        return volumes, problems


# Tried in order; the first reader that accepts a file gets it (``brainseg.io.inputs``).
READERS: list[Reader] = [NiftiReader(), SliceImageReader()]


def reader_for(path: Path) -> Reader | None:
    return next((r for r in READERS if r.accepts(path)), None)

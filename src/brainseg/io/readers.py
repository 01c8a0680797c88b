"""Readers: each input format is one class, found through ``READERS`` by what it accepts.

``find_inputs`` turns command-line paths into work items: a NIfTI file is one item; image
slices are grouped by folder (one patient's slices form one volume, so that 3D
post-processing sees the whole patient) and a lone image file is an item of its own.
``read_item`` decodes an item into volumes plus one (file, problem) line per bad file.
Adding a format means one ``Reader`` subclass here, listed in ``READERS``, and a test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from brainseg.errors import BrainsegError
from brainseg.io.images import MAX_PIXELS, ImageReadError, read_image, slice_channels
from brainseg.io.naming import is_nifti, is_slice_input, slice_order_key
from brainseg.io.volume import Volume, frame_affine

Problem = tuple[str, str]  # (file, what is wrong)


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

    @property
    def kind(self) -> str:
        return self.reader.kind


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
    if data.ndim == 3:
        data = data[..., None]
    channels = ("t1", "flair", "t1c") if data.shape[3] == 3 else ("flair",)
    slices = np.ascontiguousarray(data.transpose(2, 1, 0, 3))  # (Z, rows=Y, cols=X, C)
    return Volume(slices, np.asarray(image.affine, float), channels, str(path), header=image.header)


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
                problems.append((str(file), str(exc)))
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


# Tried in order; the first reader that accepts a file gets it.
READERS: list[Reader] = [NiftiReader(), SliceImageReader()]


def reader_for(path: Path) -> Reader | None:
    return next((r for r in READERS if r.accepts(path)), None)


def find_inputs(inputs: list[str | Path]) -> tuple[list[InputItem], list[Problem]]:
    """Work items for files and folders (searched recursively), and the paths that give none."""
    items: list[InputItem] = []
    problems: list[Problem] = []
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            problems.append((str(path), "no such file or folder"))
        elif path.is_dir():
            found = _scan_folder(path)
            if not found:
                problems.append((str(path), "folder holds no images or NIfTI volumes"))
            items += found
        elif (reader := reader_for(path)) is not None:
            items.append(InputItem(reader, path, Path(), [path]))
        else:
            problems.append((str(path), f"unsupported file type '{path.suffix or path.name}'"))
    return items, problems


def _scan_folder(root: Path) -> list[InputItem]:
    items, groups = [], {}
    for file in sorted(root.rglob("*")):
        if not file.is_file() or (reader := reader_for(file)) is None:
            continue
        if reader.group_by_folder:
            groups.setdefault((file.parent, id(reader)), (reader, []))[1].append(file)
        else:
            items.append(InputItem(reader, file, file.parent.relative_to(root), [file]))
    for (folder, _), (reader, files) in sorted(groups.items(), key=lambda kv: kv[0][0]):
        files = sorted(files, key=lambda f: slice_order_key(f.stem))
        items.append(InputItem(reader, folder, folder.relative_to(root), files))
    return items


def read_item(item: InputItem) -> tuple[list[Volume], list[Problem]]:
    """Decode one work item; a problem with the whole item raises ``InputError``."""
    return item.reader.read(item)

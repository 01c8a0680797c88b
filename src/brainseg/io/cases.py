"""Case folders: one NIfTI file per sequence, read as one multi-sequence ``Volume``.

A folder is a case when at least one of its NIfTI files is named for a sequence
(``brainseg.io.sequences``): ``case/case_flair.nii.gz``, ``case_t1.nii.gz``,
``case_t1ce.nii.gz``, ``case_seg.nii.gz``. Label files and sequences the model does not use
(T2, ...) are skipped. The FLAIR is required and defines the grid: the other sequences are
resampled onto it through their affines (trilinear), so they may come on other grids, and
the mask is written on the FLAIR's own grid and affine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainseg.io.readers import InputError, InputItem, Problem, Reader, read_nifti
from brainseg.io.sequences import FLAIR, T1, T1C, sequence_of
from brainseg.io.volume import Volume

CASE_SEQUENCES = (FLAIR, T1, T1C)
MIN_OVERLAP = 0.5  # a sequence must cover at least half of the FLAIR's voxels


def case_sequences(files: list[Path]) -> tuple[dict[str, Path], list[Problem]]:
    """The case's file per sequence, and one problem per rule it breaks (none: usable)."""
    found: dict[str, list[Path]] = {}
    for file in files:
        sequence = sequence_of(file)
        if sequence in CASE_SEQUENCES:
            found.setdefault(sequence, []).append(file)
    problems: list[Problem] = []
    folder = str(files[0].parent) if files else "?"
    for sequence, paths in found.items():
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            problems.append(Problem(folder, f"two or more {sequence.upper()} files ({names})"))
    if FLAIR not in found:
        named = ", ".join(sorted(found)) or "none"
        problems.append(
            Problem(folder, f"case folder has no FLAIR file (sequences found: {named})")
        )
    return {s: paths[0] for s, paths in found.items()}, problems


class CaseReader(Reader):
    """One case: the FLAIR plus any pre- and post-contrast T1 (``item.sequences``)."""

    kind = "case"

    def accepts(self, path: Path) -> bool:
        return False  # cases are found per folder (brainseg.io.inputs), never per file

    def read(self, item: InputItem) -> tuple[list[Volume], list[Problem]]:
        return [read_case(item.sequences, item.source)], []


def read_case(sequences: dict[str, Path], source: str | Path) -> Volume:
    """The sequences on the FLAIR's grid as one volume with channels (flair[, t1][, t1c])."""
    flair = _single(read_nifti(sequences[FLAIR]), sequences[FLAIR])
    others = {
        name: (_single(read_nifti(sequences[name]), sequences[name]), sequences[name])
        for name in (T1, T1C)
        if name in sequences
    }
    return on_flair_grid(flair, others, str(source))


def on_flair_grid(flair: Volume, others: dict[str, tuple[Volume, Path]], source: str) -> Volume:
    """One volume of the FLAIR and the other sequences (each with the path that names it in
    messages), resampled onto the FLAIR's grid where theirs differs."""
    arrays, channels, notes = [flair.array[..., 0]], [FLAIR], list(flair.notes)
    for name, (other, path) in others.items():
        if other.shape == flair.shape and np.allclose(other.affine, flair.affine, atol=1e-3):
            arrays.append(other.array[..., 0])
        else:
            arrays.append(resample_onto(other, flair, path))
            notes.append(f"{name} resampled onto the FLAIR grid")
        channels.append(name)
    volume = Volume(
        np.stack(arrays, axis=-1), flair.affine, tuple(channels), source, header=flair.header
    )
    volume.notes, volume.slice_files = notes, list(flair.slice_files)
    volume.warnings = list(flair.warnings)
    return volume


def _single(volume: Volume, path: Path) -> Volume:
    if volume.array.shape[3] != 1:
        raise InputError(path, "a sequence file must hold one 3D volume, not a 4D stack")
    return volume


def resample_onto(moving: Volume, fixed: Volume, path: Path) -> np.ndarray:
    """``moving``'s single channel sampled at ``fixed``'s voxel centres (S, H, W) float32;
    voxels outside ``moving``'s field of view are NaN (background to the intensity rescale)."""
    from scipy.ndimage import affine_transform

    # voxel (col, row, slice) of fixed -> world -> voxel of moving
    mapping = np.linalg.inv(moving.affine) @ fixed.affine
    src = np.ascontiguousarray(moving.array[..., 0].transpose(2, 1, 0), np.float32)
    shape = fixed.shape[::-1]  # (cols, rows, slices)
    out = affine_transform(
        src, mapping[:3, :3], mapping[:3, 3], output_shape=shape, order=1, cval=np.nan
    )
    coverage = float(np.isfinite(out).mean())
    if coverage < MIN_OVERLAP:
        raise InputError(
            path,
            f"does not overlap the FLAIR in space (covers {coverage:.0%} of it); "
            "check that both files come from the same session",
        )
    return out.transpose(2, 1, 0)

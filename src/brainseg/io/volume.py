"""``Volume``: what every reader returns and every later stage consumes.

A volume is a stack of 2D slices with its geometry: ``array`` is (S, H, W, C), slice, row,
column and channel, with values exactly as stored (any numeric type; the preprocessing turns
them into network input). ``affine`` maps a voxel index (column, row, slice) to world
millimetres in RAS+ (NIfTI's convention), so slice k as an image is ``array[k]``.

A 2D image has no geometry of its own: it gets the training frame's affine (columns toward
the patient's left, rows toward posterior, slices toward superior) with ``geometry=False``,
and nothing is reported in millimetres for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The Kaggle LGG slices are in the standard axial display: image columns run toward the
# patient's left, rows toward posterior, slice numbers toward superior.
TRAINING_FRAME_AXES = ("L", "P", "S")


def frame_affine(spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """The affine of the training frame with the given (column, row, slice) spacing in mm."""
    return np.diag([-spacing[0], -spacing[1], spacing[2], 1.0])


@dataclass
class Volume:
    """Voxels (S, H, W, C), their affine, the sequence of each channel and where they came
        from. ``slice_names`` name per-slice outputs; ``header`` keeps the source NIfTI header so
        masks are written with the same geometry codes; ``notes`` say what a reader changed (e.g.
    a sequence resampled onto the FLAIR grid) for the quality-control record."""

    array: np.ndarray
    affine: np.ndarray
    channels: tuple[str, ...]
    source: str
    slice_names: list[str] = field(default_factory=list)
    geometry: bool = True
    header: Any = None
    notes: list[str] = field(default_factory=list)  # what a reader did that QC should report
    warnings: list[str] = field(default_factory=list)  # what QC must warn of (a doubtful FLAIR)
    # DICOM: the file behind each slice (or its header, read into memory)
    slice_files: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.array.ndim != 4 or self.array.shape[3] != len(self.channels):
            raise ValueError(f"array {self.array.shape} does not hold channels {self.channels}")
        if not self.slice_names:
            self.slice_names = [f"slice_{k + 1}" for k in range(self.array.shape[0])]

    @classmethod
    def from_slices(
        cls, slices: np.ndarray, source: str = "array", names: list[str] | None = None
    ) -> Volume:
        """A volume from stacked slices (S, H, W) FLAIR or (S, H, W, 3) in the Kaggle order
        (pre-contrast, FLAIR, post-contrast), placed in the training frame."""
        from brainseg.io.images import RGB_SEQUENCES

        if slices.ndim == 3:
            slices = slices[..., None]
        channels = RGB_SEQUENCES if slices.shape[-1] == 3 else ("flair",)
        return cls(slices, frame_affine(), channels, source, list(names or []), geometry=False)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(slices, rows, columns)."""
        return tuple(self.array.shape[:3])

    @property
    def spacing(self) -> tuple[float, float, float]:
        """(column, row, slice) voxel size in mm, from the affine."""
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))

    @property
    def voxel_mm3(self) -> float | None:
        """Voxel volume in mm^3, or None where the geometry is not known."""
        if not self.geometry:
            return None
        volume = float(abs(np.linalg.det(self.affine[:3, :3])))
        return volume if np.isfinite(volume) and volume > 0 else None

    @property
    def orientation(self) -> str:
        """Axis codes of (column, row, slice), e.g. ``LPS`` for the training frame."""
        import nibabel as nib

        return "".join(nib.aff2axcodes(self.affine))

"""Geometry: bring a volume into the training frame from its affine, and a mask back.

The training frame is the Kaggle LGG display: axial slices whose image columns run toward
the patient's left, rows toward posterior and slice numbers toward superior (axis codes
``LPS``), 256 x 256 pixels of about 0.9 mm showing the whole head.

``to_frame`` does, for a volume with geometry (NIfTI, DICOM):

1. **reorientation** by axis permutation and flips (nibabel's orientation tools): any
   storage order (RAS, LAS, sagittal, coronal...) becomes ``LPS``; a sagittal or coronal
   acquisition is thereby resliced to axial. An oblique volume goes along its nearest axes
   (and QC says so);
2. **in-plane resampling** to 0.9 mm pixels on a 256 x 256 grid centred on the head, with a
   triangle filter as wide as the pixel ratio (linear when upsampling, anti-aliased when
   downsampling). A volume already at 0.9 mm (within 2%) on a 256 grid is left as it is.

Slices keep their own thickness: the model is 2D. ``from_frame`` maps frame-sized outputs
back onto the input's own grid, the exact inverse of step 1 and the matching inverse
interpolation of step 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from brainseg.io.volume import Volume

FRAME_AXES = ("L", "P", "S")
FRAME_PIXEL_MM = 0.9
FRAME_SIZE = 256
SPACING_TOLERANCE = 0.02
KAGGLE_EXTENT_MM = 225.0  # median head extent in the Kaggle frames (0.1 x p99 threshold)
HEAD_EXTENT_MM = (195.0, 240.0)  # a whole head, as in the Kaggle frames: kept at 0.9 mm
EXTENT_SCALE = (0.5, 1.3)  # the most "extent" framing zooms a volume in or out
OBLIQUE_DEGREES = 5.0
_PLANES = {"S": "axial", "I": "axial", "L": "sagittal", "R": "sagittal"}


@dataclass
class FrameMapping:
    """How one volume was brought into the frame, so that outputs can go back."""

    input_axes: str  # e.g. "RAS"
    acquisition: str  # "axial", "sagittal" or "coronal": the plane of the stored slices
    spacing: tuple[float, float, float]  # input (column, row, slice) spacing in mm
    obliquity_deg: float
    transform: np.ndarray  # nibabel orientation transform input -> frame
    reoriented_shape: tuple[int, int, int]  # (slices, rows, cols) after reorientation
    reoriented_spacing: tuple[float, float, float]  # (col, row, slice) mm after it
    centre: tuple[float, float] | None  # (row, col) in reoriented pixels; None: not resampled
    extent_mm: float = 0.0  # largest in-plane size of the signal (head or brain)
    frame_mm: float = FRAME_PIXEL_MM  # pixel size of the frame this volume was put on

    @property
    def resliced(self) -> bool:
        return self.acquisition != "axial"

    @property
    def resampled(self) -> bool:
        return self.centre is not None


def _orientation(volume: Volume):
    import nibabel.orientations as nio

    ornt = nio.io_orientation(volume.affine)
    transform = nio.ornt_transform(ornt, nio.axcodes2ornt(FRAME_AXES))
    return ornt, transform


def _obliquity(affine: np.ndarray) -> float:
    from nibabel.affines import obliquity

    return float(np.degrees(np.max(np.abs(obliquity(affine)))))


def _apply(array: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Reorient (S, H, W, ...) slices with a nibabel transform over (col, row, slice)."""
    import nibabel.orientations as nio

    xyz = np.swapaxes(array, 0, 2)  # (W=col, H=row, S=slice, ...)
    return np.ascontiguousarray(np.swapaxes(nio.apply_orientation(xyz, transform), 0, 2))


def _head_centre(flair: np.ndarray) -> tuple[float, float]:
    """(row, col) centre of the head's bounding box in the maximum projection."""
    projection = flair.max(axis=0).astype(np.float32)
    top = float(np.percentile(projection, 99)) if projection.size else 0.0
    rows, cols = np.nonzero(projection > 0.1 * top) if top > 0 else ([], [])
    if len(rows) == 0:
        return (projection.shape[0] - 1) / 2, (projection.shape[1] - 1) / 2
    return (rows.min() + rows.max()) / 2, (cols.min() + cols.max()) / 2


def head_extent_mm(flair: np.ndarray, spacing_rc: tuple[float, float]) -> tuple[float, float]:
    """In-plane (rows, cols) size in mm of the head's bounding box (0 if none)."""
    projection = flair.max(axis=0).astype(np.float32)
    top = float(np.percentile(projection, 99)) if projection.size else 0.0
    rows, cols = np.nonzero(projection > 0.1 * top) if top > 0 else ([], [])
    if len(rows) == 0:
        return 0.0, 0.0
    return (
        float(rows.max() - rows.min() + 1) * spacing_rc[0],
        float(cols.max() - cols.min() + 1) * spacing_rc[1],
    )


@lru_cache(maxsize=64)
def _triangle_matrix(size_in: int, size_out: int, step: float, start: float) -> np.ndarray:
    """(out, in) weights: output i samples input coordinate ``start + i * step`` with a
    triangle filter of half-width max(1, step); outside the input the weight is zero."""
    coords = start + step * np.arange(size_out)
    width = max(1.0, abs(step))
    grid = np.arange(size_in)
    weights = np.clip(1 - np.abs(coords[:, None] - grid[None, :]) / width, 0, None)
    inside = (coords >= -0.5) & (coords <= size_in - 0.5)
    totals = weights.sum(axis=1, keepdims=True)
    weights = np.where(totals > 0, weights / np.where(totals > 0, totals, 1), 0)
    return (weights * inside[:, None]).astype(np.float32)


def _resample(slices: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(S, H, W[, C]) float -> (S, rows.shape[0], cols.shape[0][, C]) separably."""
    x = slices.astype(np.float32, copy=False)
    if x.ndim == 4:
        x = x.transpose(0, 3, 1, 2)
        return (rows @ x @ cols.T).transpose(0, 2, 3, 1)
    return rows @ x @ cols.T


def to_frame(
    volume: Volume, slices: np.ndarray, framing: str = "spacing"
) -> tuple[np.ndarray, FrameMapping]:
    """``slices`` (S, H, W, C) uint8 on ``volume``'s grid, in the model's channel order (FLAIR
    in channel 1) -> uint8 slices in the training frame, and the mapping back.

    ``framing``: ``spacing`` puts every volume at the frame's 0.9 mm pixels (physical size
    kept); ``extent`` does the same for a whole head (signal 195-240 mm across, as in the
    Kaggle frames) but scales anything else, such as a skull-stripped brain, so that its
    signal spans what a Kaggle head spans (225 mm; measured in docs/own-scans.md)."""
    import nibabel.orientations as nio

    ornt, transform = _orientation(volume)
    codes = nio.ornt2axcodes(ornt)
    acquisition = _PLANES.get(codes[2], "coronal")
    reoriented = _apply(slices, transform)
    spacing = volume.spacing
    # spacing follows its axis: frame axis j comes from the input axis i with ornt[i, 0] == j
    order = np.argsort(ornt[:, 0])
    new_spacing = tuple(float(spacing[int(i)]) for i in order)
    mapping = FrameMapping(
        "".join(codes),
        acquisition,
        spacing,
        _obliquity(volume.affine),
        transform,
        tuple(reoriented.shape[:3]),
        new_spacing,
        None,
        max(head_extent_mm(reoriented[..., 1], (new_spacing[1], new_spacing[0]))),
    )
    col_mm, row_mm = new_spacing[0], new_spacing[1]
    h, w = reoriented.shape[1:3]
    close = all(abs(s / FRAME_PIXEL_MM - 1) <= SPACING_TOLERANCE for s in (col_mm, row_mm))
    if framing == "extent" and not HEAD_EXTENT_MM[0] <= mapping.extent_mm <= HEAD_EXTENT_MM[1]:
        scale = float(np.clip(mapping.extent_mm / KAGGLE_EXTENT_MM, *EXTENT_SCALE))
        mapping.frame_mm = FRAME_PIXEL_MM * scale
        close = False
    if close and (h, w) == (FRAME_SIZE, FRAME_SIZE):
        return reoriented, mapping
    mapping.centre = _head_centre(reoriented[..., 1])
    rows, cols = _forward_matrices(mapping)
    framed = np.clip(np.round(_resample(reoriented, rows, cols)), 0, 255).astype(np.uint8)
    return framed, mapping


def _forward_matrices(mapping: FrameMapping) -> tuple[np.ndarray, np.ndarray]:
    """Frame pixel -> reoriented input coordinate, for rows and columns."""
    (_, h, w), (col_mm, row_mm, _) = mapping.reoriented_shape, mapping.reoriented_spacing
    centre_r, centre_c = mapping.centre
    half = (FRAME_SIZE - 1) / 2
    step_r, step_c = mapping.frame_mm / row_mm, mapping.frame_mm / col_mm
    rows = _triangle_matrix(h, FRAME_SIZE, step_r, centre_r - half * step_r)
    cols = _triangle_matrix(w, FRAME_SIZE, step_c, centre_c - half * step_c)
    return rows, cols


def from_frame(values: np.ndarray, mapping: FrameMapping) -> np.ndarray:
    """Frame outputs (S, 256, 256) float -> (S, H, W) float32 on the input's own grid."""
    values = np.asarray(values, np.float32)
    if mapping.resampled:
        (_, h, w), (col_mm, row_mm, _) = mapping.reoriented_shape, mapping.reoriented_spacing
        centre_r, centre_c = mapping.centre
        half = (FRAME_SIZE - 1) / 2
        step_r, step_c = row_mm / mapping.frame_mm, col_mm / mapping.frame_mm
        rows = _triangle_matrix(FRAME_SIZE, h, step_r, half - centre_r * step_r)
        cols = _triangle_matrix(FRAME_SIZE, w, step_c, half - centre_c * step_c)
        values = _resample(values, rows, cols)
    import nibabel.orientations as nio

    source = nio.axcodes2ornt(tuple(mapping.input_axes))
    return _apply(values, nio.ornt_transform(nio.axcodes2ornt(FRAME_AXES), source))

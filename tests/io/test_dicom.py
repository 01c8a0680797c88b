"""DICOM in, DICOM-SEG out: series built with pydicom from real LGG slices (uint16 with
scanner-like scaling, shuffled names and instance numbers) give the NIfTI path's masks for
axial, sagittal and oblique storage, and the DICOM-SEG points at the right instances."""

from __future__ import annotations

import csv

import nibabel as nib
import numpy as np
import pytest

from brainseg.cli import main
from tests.conftest import dice3d, world_mask
from tests.io.dicom_series import stored_values, uid, write_series

FRAME = np.array([[-0.9, 0, 0, 115.0], [0, -0.9, 0, 115.0], [0, 0, 3.0, -30.0], [0, 0, 0, 1]])


def _rotation(degrees: float) -> np.ndarray:
    t = np.radians(degrees)
    r = np.eye(4)
    r[1:3, 1:3] = [[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]
    return r


def _storage(volume: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """(S, H, W) slices in the frame -> the same scan stored axially, sagittally or
    obliquely: (slices, affine) as a scanner would write them."""
    image = nib.Nifti1Image(np.ascontiguousarray(volume.transpose(2, 1, 0)), FRAME)
    if how == "sagittal":
        image = image.as_reoriented(np.array([[2, 1], [1, -1], [0, 1]], float))
    affine = image.affine if how != "oblique" else _rotation(15) @ image.affine
    return np.asarray(image.dataobj).transpose(2, 1, 0), affine


@pytest.mark.parametrize("how", ["axial", "sagittal", "oblique"])
def test_dicom_series_matches_nifti_and_writes_a_seg(lgg_patient, how, tmp_path):
    import highdicom as hd

    scanner = lgg_patient.images.astype(np.float32) * 12.0 + 50.0
    study = tmp_path / "dicom" / "study"
    expected_uids = None
    descriptions = {1: "AX FLAIR", 0: "T1 SE pre", 2: "T1 SE POST GAD"}
    for channel, series in ((1, 2), (0, 3), (2, 4)):
        slices, affine = _storage(scanner[..., channel], how)
        uids = write_series(
            study / f"s{series}", slices, affine, descriptions[channel], 7, series, seed=series
        )
        if channel == 1:
            expected_uids, flair_slices, flair_affine = uids, slices, affine
    # the NIfTI path on the same pixels: the three sequences as a 4D volume
    nifti = tmp_path / "nifti"
    nifti.mkdir()
    stack = np.stack([stored_values(_storage(scanner[..., c], how)[0]) for c in (0, 1, 2)], -1)
    nib.save(nib.Nifti1Image(stack.transpose(2, 1, 0, 3), flair_affine), nifti / "case.nii.gz")
    out_d, out_n = tmp_path / "out_d", tmp_path / "out_n"
    assert main(["predict", str(tmp_path / "dicom"), "--out", str(out_d)]) == 0
    assert main(["predict", str(nifti), "--out", str(out_n)]) == 0
    from_dicom, from_nifti = (
        world_mask(out_d / "study_pred.nii.gz"),
        world_mask(out_n / "case_pred.nii.gz"),
    )
    assert from_dicom.shape == from_nifti.shape
    assert dice3d(from_dicom, from_nifti) >= 0.99, how
    assert from_dicom.any()
    with open(out_d / "predictions.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert row["kind"] == "dicom" and row["sequences"] == "flair+t1+t1c"
    assert float(row["lesion_ml"]) > 0 and len(row["model_sha256"]) == 64
    # DICOM-SEG: one segment, a frame per source slice, each on its own instance
    seg = hd.seg.segread(out_d / "study_seg.dcm")
    assert seg.SegmentSequence[0].SegmentLabel == "FLAIR abnormality"
    assert seg.SegmentSequence[0].SegmentAlgorithmType == "AUTOMATIC"
    mask = nib.load(out_d / "study_pred.nii.gz")
    mask_slices = np.asarray(mask.dataobj).transpose(2, 1, 0).astype(bool)  # series order
    pixels = seg.pixel_array.reshape(-1, *mask_slices.shape[1:]).astype(bool)
    assert len(pixels) == len(expected_uids) == len(mask_slices)
    positions = [np.asarray(p) for p in _source_positions(flair_slices, flair_affine)]
    for frame, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        source = item.DerivationImageSequence[0].SourceImageSequence[0]
        k = expected_uids.index(source.ReferencedSOPInstanceUID)
        frame_position = np.asarray(item.PlanePositionSequence[0].ImagePositionPatient, float)
        assert np.allclose(frame_position, positions[k], atol=1e-3)
        # the frame holds the mask of the slice it references (the volume is in normal order)
        order = np.argsort([p @ np.cross(*_directions(flair_affine)) for p in positions])
        assert np.array_equal(pixels[frame], mask_slices[list(order).index(k)])


def _directions(affine):
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine
    return lps[:3, 0] / np.linalg.norm(lps[:3, 0]), lps[:3, 1] / np.linalg.norm(lps[:3, 1])


def _source_positions(slices, affine):
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine
    return [(lps @ [0, 0, k, 1])[:3] for k in range(len(slices))]


def test_study_uid_helper_is_stable():
    assert uid(1, 2) == uid(1, 2) != uid(1, 3)

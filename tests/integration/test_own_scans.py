"""Users' own scans, on real LGG patients written as NIfTI: the same scan stored in any
orientation or intensity units gives the same mask in world space, case folders are read
by their sequence names, and the QC record says what was unusual."""

from __future__ import annotations

import csv

import nibabel as nib
import numpy as np

from brainseg.cli import main
from tests.conftest import dice3d, world_mask

FRAME = np.array([[-0.9, 0, 0, 115.0], [0, -0.9, 0, 115.0], [0, 0, 3.0, -30.0], [0, 0, 0, 1]])


def _nifti(channel: np.ndarray, affine=FRAME) -> nib.Nifti1Image:
    return nib.Nifti1Image(np.ascontiguousarray(channel.transpose(2, 1, 0)), affine)


def _rows(out):
    with open(out / "predictions.csv") as f:
        return list(csv.DictReader(f))


def test_orientation_and_units_variants_agree_in_world_space(lgg_patient, tmp_path):
    flair = lgg_patient.images[..., 1].astype(np.float32)
    canonical = _nifti(flair * 9.1 + 30)
    variants = {
        "frame": canonical,
        "ras": canonical.as_reoriented(np.array([[0, -1], [1, -1], [2, 1]], float)),
        "sagittal": canonical.as_reoriented(np.array([[2, 1], [1, -1], [0, 1]], float)),
        # z-scored (negative values) on a constant background, stored as float
        "zscored": _nifti(np.where(flair > 0, (flair - flair.mean()) / flair.std(), 0)),
        "int16": _nifti((flair * 7 - 300).astype(np.int16)),
    }
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name, image in variants.items():
        nib.save(image, inputs / f"{name}.nii.gz")
    out = tmp_path / "out"
    assert main(["predict", str(inputs), "--out", str(out)]) == 0
    masks = {name: world_mask(out / f"{name}_pred.nii.gz") for name in variants}
    reference = masks["frame"]
    truth = lgg_patient.masks.transpose(2, 1, 0).astype(bool)
    assert dice3d(reference, truth) > 0.5  # FLAIR alone still finds this lesion
    for name, mask in masks.items():
        assert dice3d(mask, reference) >= 0.98, name
    rows = {r["input"].rsplit("/", 1)[-1]: r for r in _rows(out)}
    assert rows["ras.nii.gz"]["orientation"] == "RAS"
    assert rows["sagittal.nii.gz"]["acquisition"] == "sagittal"
    assert "resliced to axial" in rows["sagittal.nii.gz"]["warnings"]
    assert "FLAIR only" in rows["frame.nii.gz"]["warnings"]
    assert "negative values" in rows["zscored.nii.gz"]["intensity"]


def test_case_folder_with_sequences_and_label(lgg_patient, tmp_path):
    case = tmp_path / "cases" / "Case_007"
    case.mkdir(parents=True)
    images = lgg_patient.images.astype(np.float32) * 3.3
    nib.save(_nifti(images[..., 1]), case / "Case_007_flair.nii.gz")
    nib.save(_nifti(images[..., 0]), case / "Case_007_t1.nii.gz")
    # post-contrast on another grid: 1 mm in-plane, shifted; resampled onto the FLAIR
    shifted = FRAME.copy()
    shifted[:3, 3] += [2.0, -1.5, 0.0]
    nib.save(_nifti(images[..., 2], shifted), case / "Case_007_t1ce.nii.gz")
    nib.save(_nifti(lgg_patient.masks.astype(np.uint8)), case / "Case_007_seg.nii.gz")
    nib.save(_nifti(images[..., 1]), case / "Case_007_t2.nii.gz")
    out = tmp_path / "out"
    assert main(["predict", str(tmp_path / "cases"), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["Case_007_pred.nii.gz", "predictions.csv"]
    (row,) = _rows(out)
    assert row["kind"] == "case" and row["sequences"] == "flair+t1+t1c"
    assert "t1c resampled onto the FLAIR grid" in row["notes"]
    assert "FLAIR only" not in row["warnings"]
    mask = nib.load(out / "Case_007_pred.nii.gz")
    assert mask.shape == lgg_patient.masks.transpose(2, 1, 0).shape
    assert np.allclose(mask.affine, FRAME)
    truth = lgg_patient.masks.transpose(2, 1, 0).astype(bool)
    assert dice3d(np.asarray(mask.dataobj).astype(bool), truth) > 0.6

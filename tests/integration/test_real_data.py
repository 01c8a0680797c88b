"""Integration tests on the real LGG data in ../shared (skipped, with the reason, if absent).

Counts are never hard-coded: patients may be added to ../shared later.
"""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from brainseg.cli import main
from brainseg.models.files import SHIPPED_MODEL
from tests.conftest import real_data_or_skip


def _independent_counts(root):
    patients = [p for p in root.iterdir() if p.is_dir() and p.name != "lgg-mri-segmentation"]
    masks = [m for p in patients for m in p.glob("*_mask.tif")]
    tumour = sum(1 for m in masks if np.asarray(Image.open(m)).any())
    return len(patients), len(masks), tumour


def test_inspect_real_data(capsys):
    root = real_data_or_skip()
    assert main(["inspect", "--data", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    patients, slices, tumour = _independent_counts(root)
    assert (report["patients"], report["slices"], report["tumor_slices"]) == (
        patients,
        slices,
        tumour,
    )
    assert report["problems"] == [] and report["image_sizes"] == ["256x256"]
    assert report["channels"] == [3]


def test_real_split_is_patient_disjoint_and_reproducible(tmp_path):
    root = real_data_or_skip()
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["split", "--data", str(root), "--out", str(a), "--seed", "42"]) == 0
    assert main(["split", "--data", str(root), "--out", str(b), "--seed", "42"]) == 0
    assert a.read_bytes() == b.read_bytes()
    split = json.loads(a.read_text())
    sets = [set(split[k]) for k in ("train", "val", "test")]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert sum(len(s) for s in sets) == _independent_counts(root)[0]


def test_committed_split_matches_the_data():
    root = real_data_or_skip()
    from pathlib import Path

    split = json.loads(
        (Path(__file__).resolve().parents[2] / "splits" / "lgg_seed42.json").read_text()
    )
    names = {p.name for p in root.iterdir() if p.is_dir()}
    assert set(split["train"] + split["val"] + split["test"]) <= names


def test_nifti_prediction_matches_tiff_prediction(tmp_path):
    root = real_data_or_skip()
    if not SHIPPED_MODEL.exists():
        pytest.skip("no shipped model in this checkout")
    from brainseg.data.volumes import load_volumes

    patient = sorted(p for p in root.iterdir() if p.is_dir())[0]
    volume = load_volumes(root, patients=[patient.name])[0][0]
    # 4D NIfTI (column, row, slice, 3 sequences) in scanner-like float units, with the
    # affine of the training frame: 0.9 x 0.9 x 3 mm, columns toward L, rows toward P
    data = volume.images.transpose(2, 1, 0, 3).astype(np.float32) * 11.7 + 40.0
    affine = np.array([[-0.9, 0, 0, 120.0], [0, -0.9, 0, 110.0], [0, 0, 3.0, -40.0], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "patient.nii.gz")
    out_nifti, out_tiff = tmp_path / "n", tmp_path / "t"
    assert main(["predict", str(tmp_path / "patient.nii.gz"), "--out", str(out_nifti)]) == 0
    assert main(["predict", str(patient), "--out", str(out_tiff)]) == 0
    from_nifti = np.asarray(nib.load(out_nifti / "patient_pred.nii.gz").dataobj).transpose(2, 1, 0)
    from_tiff = np.stack(
        [np.asarray(Image.open(out_tiff / f"{s}_pred.png")) > 0 for s in volume.stems]
    )
    both = from_nifti.astype(bool).sum() + from_tiff.sum()
    dice = 1.0 if both == 0 else 2 * (from_nifti.astype(bool) & from_tiff).sum() / both
    assert dice >= 0.99

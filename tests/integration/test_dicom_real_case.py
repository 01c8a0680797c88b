"""A real external glioma case as a scanner's DICOM study would hold it: a 5 mm axial FLAIR
series with anonymised headers (PatientSex 0000, a retired name form, a zero birth date,
an over-long StudyID, missing type-2 attributes), beside a post-contrast 3D T1 and a T2.
The shipped model segments it from DICOM as from NIfTI, the FLAIR is the FLAIR whatever
lies beside it, and the DICOM-SEG is valid (dciodvfy-clean where dicom3tools is here)."""

from __future__ import annotations

import csv
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from brainseg.cli import main
from tests.conftest import dice3d, world_mask
from tests.io.dicom_series import FLAIR, MPRAGE, T2_FSE, write_series
from tests.io.test_dicom_real_headers import ANONYMISED, LIBRARY_NOISE, _dciodvfy_errors

CASES = Path(__file__).resolve().parents[2].parent / "shared/data/external/brats_dev"
STEP = 5  # every 5th 1 mm slice: a 5 mm axial series, as clinical FLAIRs are


def _case(index: int) -> Path:
    if not CASES.is_dir():
        pytest.skip(f"external cases not found at {CASES} (needs ../shared beside the repo)")
    return sorted(CASES.iterdir())[index]


def _series(path: Path):
    """Every STEP-th slice of a NIfTI volume: (slices, affine) as write_series takes them."""
    image = nib.as_closest_canonical(nib.load(path))
    data = np.asarray(image.dataobj, np.float32)[:, :, ::STEP]
    affine = image.affine.copy()
    affine[:3, 2] *= STEP
    return data.transpose(2, 1, 0), affine


def _predict(root, out, capsys):
    code = main(["predict", str(root), "--out", str(out)])
    err = capsys.readouterr().err
    for noise in LIBRARY_NOISE:
        assert noise not in err, err
    with open(out / "predictions.csv") as f:
        (row,) = list(csv.DictReader(f))
    return code, row


@pytest.mark.realdata
@pytest.mark.parametrize("index", [0, 1, 2])
def test_real_case_as_an_anonymised_dicom_study(tmp_path, capsys, index):
    case = _case(index)
    flair, affine = _series(case / f"{case.name}_flair.nii.gz")
    t1c, _ = _series(case / f"{case.name}_t1ce.nii.gz")
    truth, _ = _series(case / f"{case.name}_seg.nii.gz")
    scale = {"slope": 0.001, "intercept": -10.0}  # z-scored values as uint16 with rescaling
    study = tmp_path / "study"
    write_series(
        study / "flair", flair, affine, "AX FLAIR", 1, 401, header=FLAIR | ANONYMISED, **scale
    )
    # the NIfTI of the same pixels, and its truth on the same grid
    nifti = tmp_path / "nifti"
    nifti.mkdir()
    stored = np.round((flair + 10.0) / 0.001) * 0.001 - 10.0
    nib.save(nib.Nifti1Image(stored.transpose(2, 1, 0), affine), nifti / "case.nii.gz")
    truth_path = tmp_path / "truth.nii.gz"
    nib.save(nib.Nifti1Image((truth > 0).astype(np.uint8).transpose(2, 1, 0), affine), truth_path)

    code, row = _predict(study, tmp_path / "out_dicom", capsys)
    assert code == 0 and row["sequences"] == "flair" and not row["error"]
    assert main(["predict", str(nifti), "--out", str(tmp_path / "out_nifti")]) == 0
    from_dicom = world_mask(next((tmp_path / "out_dicom").rglob("*_pred.nii.gz")))
    from_nifti = world_mask(tmp_path / "out_nifti" / "case_pred.nii.gz")
    assert np.array_equal(from_dicom, from_nifti)
    score = dice3d(from_dicom, world_mask(truth_path))
    assert score > 0.45, score  # whole-tumour truth: a necrotic core is no FLAIR abnormality
    seg = next((tmp_path / "out_dicom").rglob("*_seg.dcm"))
    assert _dciodvfy_errors(seg) == []
    assert "PatientSex '0000' is not M, F or O" in row["notes"]

    # a T2 and a post-contrast 3D T1 beside it: the FLAIR stays the FLAIR
    write_series(study / "t2", flair, affine, "AX T2 FSE", 1, 402, header=T2_FSE, **scale)
    t1_header = MPRAGE | {"ContrastBolusAgent": "Gadovist"}
    write_series(study / "t1", t1c, affine, "T1 MPRAGE", 1, 403, header=t1_header, **scale)
    code, row = _predict(study, tmp_path / "out_beside", capsys)
    assert code == 0 and row["sequences"] == "flair+t1c", row
    with_t1c = world_mask(next((tmp_path / "out_beside").rglob("*_pred.nii.gz")))
    score_t1c = dice3d(with_t1c, world_mask(truth_path))
    print(f"{case.name}: Dice FLAIR alone {score:.3f}, with T1c {score_t1c:.3f}")
    assert score_t1c > 0.45

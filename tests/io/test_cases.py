"""Case folders and the sequence naming rules; bad cases get one line, the others go on."""

from __future__ import annotations

import csv

import nibabel as nib
import numpy as np
import pytest

from brainseg.cli import main
from brainseg.io.inputs import find_inputs, read_item
from brainseg.io.sequences import sequence_of

AFFINE = np.diag([-1.0, -1.0, 2.0, 1.0])


@pytest.mark.parametrize(
    "name, sequence",
    [
        ("BraTS20_Training_001_flair.nii.gz", "flair"),
        ("sub-01_FLAIR.nii", "flair"),
        ("BraTS-GLI-00001-000-t2f.nii.gz", "flair"),
        ("case_t1.nii.gz", "t1"),
        ("case_T1w.nii.gz", "t1"),
        ("case-t1n.nii.gz", "t1"),
        ("case_t1ce.nii.gz", "t1c"),
        ("case_t1Gd.nii.gz", "t1c"),
        ("BraTS-GLI-00001-000-t1c.nii.gz", "t1c"),
        ("case_t1post.nii.gz", "t1c"),
        ("case_seg.nii.gz", "label"),
        ("case_mask.nii.gz", "label"),
        ("case_t2.nii.gz", "t2"),
        ("case_dwi.nii.gz", "ignored"),
        ("scan.nii.gz", None),
        ("t1_study_flair.nii.gz", "flair"),  # the last token wins
    ],
)
def test_sequence_names(name, sequence):
    assert sequence_of(name) == sequence


def _save(path, data=None, affine=AFFINE):
    if data is None:
        rng = np.random.default_rng(len(str(path)))
        data = rng.uniform(0, 400, (24, 20, 6)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, affine), path)


def test_case_folder_rules(tmp_path):
    good = tmp_path / "batch" / "good"
    good.mkdir(parents=True)
    for suffix in ("flair", "t1", "t1ce", "seg", "t2"):
        _save(good / f"good_{suffix}.nii.gz")
    two = tmp_path / "batch" / "two"
    two.mkdir()
    _save(two / "a_flair.nii.gz")
    _save(two / "b_flair.nii.gz")
    none = tmp_path / "batch" / "none"
    none.mkdir()
    _save(none / "x_t1.nii.gz")
    _save(none / "x_t1c.nii.gz")
    loose = tmp_path / "batch" / "loose"
    loose.mkdir()
    _save(loose / "one.nii.gz")
    _save(loose / "two.nii.gz")
    _save(loose / "two_mask.nii.gz")
    items, problems = find_inputs([tmp_path / "batch"])
    kinds = sorted((item.kind, item.name) for item in items)
    assert kinds == [("case", "good"), ("nifti", "one"), ("nifti", "two")]
    case = next(item for item in items if item.kind == "case")
    assert sorted(case.sequences) == ["flair", "t1", "t1c"]
    (volume,), _ = read_item(case)
    assert volume.channels == ("flair", "t1", "t1c") and volume.shape == (6, 20, 24)
    reasons = sorted(reason for _, reason in problems)
    assert reasons[0].startswith("case folder has no FLAIR file (sequences found: t1, t1c)")
    assert reasons[1].startswith("two or more FLAIR files (a_flair.nii.gz, b_flair.nii.gz)")


def test_bad_cases_get_one_line_and_the_others_are_processed(tmp_path, tiny_bundle, capsys):
    batch = tmp_path / "batch"
    cases = {}
    for name in ("ok", "apart", "singular", "flat", "five"):
        cases[name] = batch / name
        cases[name].mkdir(parents=True)
    _save(cases["ok"] / "ok_flair.nii.gz")
    _save(cases["apart"] / "apart_flair.nii.gz")
    far = AFFINE.copy()
    far[:3, 3] = [500.0, 0, 0]
    _save(cases["apart"] / "apart_t1ce.nii.gz", affine=far)
    singular = nib.Nifti1Image(np.ones((8, 8, 4), np.float32), None)
    singular.set_sform(np.diag([1.0, 0.0, 1.0, 1.0]), code=1)  # qform unset: sform rules
    nib.save(singular, cases["singular"] / "singular_flair.nii.gz")
    _save(cases["flat"] / "flat_flair.nii.gz", np.ones((20, 20), np.float32))
    _save(cases["five"] / "five_flair.nii.gz", np.ones((8, 8, 4, 1, 2), np.float32))
    out = tmp_path / "out"
    code = main(["predict", str(batch), "--out", str(out), "--model", str(tiny_bundle)])
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "apart_t1ce.nii.gz: does not overlap the FLAIR in space" in err
    assert "singular_flair.nii.gz: the affine is singular" in err
    assert "flat_flair.nii.gz: expected a 3D or 4D volume" in err
    assert "five_flair.nii.gz: expected a 3D or 4D volume" in err
    assert (out / "ok_pred.nii.gz").exists()
    with open(out / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert sum(1 for r in rows if not r["error"]) == 1 and len(rows) == 5


def test_explicit_case_files(tmp_path, tiny_bundle):
    _save(tmp_path / "my_scan.nii.gz")
    _save(tmp_path / "pre.nii.gz")
    out = tmp_path / "out"
    args = [
        "predict",
        "--flair",
        str(tmp_path / "my_scan.nii.gz"),
        "--t1",
        str(tmp_path / "pre.nii.gz"),
    ]
    assert main([*args, "--out", str(out), "--model", str(tiny_bundle)]) == 0
    with open(out / "predictions.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert row["sequences"] == "flair+t1" and (out / "my_scan_pred.nii.gz").exists()

"""Cluster-scale prediction: --num-parts/--part-id split the cases into disjoint parts whose
union is everything, and --skip-existing after a kill finishes only what was missing."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from brainseg.cli import main
from tests.conftest import real_data_or_skip


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _done_patients(out):
    return {p.name for p in out.iterdir() if p.is_dir() and any(p.glob("*_pred.png"))}


@pytest.mark.realdata
def test_three_parts_cover_the_80_patients_and_resume_after_a_kill(tmp_path, tiny_bundle, capsys):
    root = real_data_or_skip()
    patients = {p.name for p in root.iterdir() if p.is_dir()}
    out = tmp_path / "out"
    parts = []
    for part in range(3):
        args = ["predict", str(root), "--out", str(out), "--model", str(tiny_bundle)]
        assert main([*args, "--num-parts", "3", "--part-id", str(part)]) == 0
        rows = _rows(out / f"predictions_part{part}of3.csv")
        parts.append({r["input"].split("/")[-2] for r in rows})
    assert sum(len(p) for p in parts) == len(patients)  # disjoint ...
    assert set().union(*parts) == patients  # ... and complete
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1
    # Kill part 1's job for real after 5 of its cases (test-only hook), as a cluster would
    # when a job runs out of time, then run the same command with --skip-existing.
    out2 = tmp_path / "out2"
    command = [sys.executable, "-m", "brainseg", "predict", str(root), "--out", str(out2)]
    command += ["--model", str(tiny_bundle), "--num-parts", "3", "--part-id", "1"]
    env = {**os.environ, "BRAINSEG_TEST_KILL": "predict:5"}
    killed = subprocess.run(command, env=env, capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    finished = _done_patients(out2)
    assert len(finished) == 5 and finished <= parts[1]
    stamps = {p: p.stat().st_mtime_ns for name in finished for p in (out2 / name).glob("*")}
    resumed = subprocess.run([*command, "--skip-existing"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "(5 case(s) already done, skipped)" in resumed.stdout
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # finished cases untouched
    assert _done_patients(out2) == parts[1]
    assert not list(out2.rglob(".*.tmp"))
    rows = _rows(out2 / "predictions_part1of3.csv")
    assert {r["input"].split("/")[-2] for r in rows} == parts[1]


def test_part_id_out_of_range_is_one_line(tmp_path, synth_root, tiny_bundle, capsys):
    args = ["predict", str(synth_root), "--out", str(tmp_path), "--model", str(tiny_bundle)]
    assert main([*args, "--num-parts", "2", "--part-id", "2"]) == 1
    assert "--part-id must be in 0..1 for --num-parts 2, not 2" in capsys.readouterr().err


def test_probabilities_are_saved_on_the_input_grid(tmp_path, tiny_bundle):
    rng = np.random.default_rng(0)
    data = rng.uniform(0, 500, (30, 26, 5)).astype(np.float32)
    affine = np.diag([1.1, -1.0, 3.0, 1.0])
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "scan.nii.gz")
    out = tmp_path / "out"
    args = [
        "predict",
        str(tmp_path / "scan.nii.gz"),
        "--out",
        str(out),
        "--model",
        str(tiny_bundle),
    ]
    assert main([*args, "--save-probabilities"]) == 0
    prob, mask = nib.load(out / "scan_prob.nii.gz"), nib.load(out / "scan_pred.nii.gz")
    assert prob.shape == mask.shape == data.shape and np.allclose(prob.affine, affine)
    values = np.asarray(prob.dataobj)
    assert values.dtype == np.float32 and 0 <= values.min() and values.max() <= 1
    # the threshold of the probabilities is the mask, up to the frame round trip
    agree = ((values >= 0.5) == np.asarray(mask.dataobj).astype(bool)).mean()
    assert agree > 0.95


def test_a_second_call_into_the_same_folder_keeps_the_first_calls_rows(tmp_path, tiny_bundle):
    """predict A then predict B with one --out: the summary holds both cases, and a case run
    again replaces its own row instead of adding a second one."""
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        data = rng.uniform(0, 500, (30, 26, 5)).astype(np.float32)
        nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 3.0, 1.0])), tmp_path / f"{name}.nii.gz")
    out = tmp_path / "out"

    def predict(name):
        args = ["predict", str(tmp_path / f"{name}.nii.gz"), "--out", str(out)]
        assert main([*args, "--model", str(tiny_bundle)]) == 0
        return [r["output"].split("/")[-1] for r in _rows(out / "predictions.csv")]

    assert predict("a") == ["a_pred.nii.gz"]
    assert predict("b") == ["a_pred.nii.gz", "b_pred.nii.gz"]
    assert sorted(predict("a")) == ["a_pred.nii.gz", "b_pred.nii.gz"]
    (out / "b_pred.nii.gz").unlink()  # a row whose mask is gone is not kept
    assert predict("a") == ["a_pred.nii.gz"]

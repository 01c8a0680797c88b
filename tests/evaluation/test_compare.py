"""brainseg cv-compare: paired per-patient differences of two cross-validation reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from brainseg.cli import main
from brainseg.errors import BrainsegError
from brainseg.evaluation.compare import compare_reports, format_comparison, retraining_caution


def write_report(folder, rows, postprocess="rel:25"):
    """A cross-validation folder with only report/per_patient.csv and metrics.json."""
    report = folder / "report"
    report.mkdir(parents=True)
    lines = ["fold,patient,dice,dice_flair_only"]
    lines += [f"{fold},{patient},{d},{f}" for patient, fold, d, f in rows]
    (report / "per_patient.csv").write_text("\n".join(lines) + "\n")
    (report / "metrics.json").write_text(json.dumps({"postprocess_chosen_on_oof": postprocess}))
    return folder


def test_paired_difference_on_shared_patients(tmp_path):
    base = [(f"P{i}", i % 2, 0.5 + 0.05 * i, 0.4 + 0.05 * i) for i in range(8)]
    # the other run: +0.02 on every patient with three sequences, FLAIR unchanged except P0,
    # and it covers fold 0 only (P0, P2, P4, P6)
    other = [(p, k, d + 0.02, f + (0.3 if p == "P0" else 0.0)) for p, k, d, f in base if k == 0]
    a = write_report(tmp_path / "a", base)
    b = write_report(tmp_path / "b", other, postprocess="none")
    result = compare_reports(a, b)
    assert result["patients"] == 4 and result["folds"] == [0]
    assert result["unpaired"] == {"base": 4, "other": 0}
    assert result["postprocess"] == {"base": "rel:25", "other": "none"}
    three = result["scores"]["dice"]
    assert three["base_mean"] == pytest.approx(np.mean([0.5, 0.6, 0.7, 0.8]))
    assert three["difference"] == pytest.approx(0.02)
    assert three["difference_ci95"] == pytest.approx([0.02, 0.02])
    assert (three["better"], three["worse"]) == (4, 0)
    flair = result["scores"]["dice_flair_only"]
    assert flair["difference"] == pytest.approx(0.3 / 4)
    assert flair["largest_gains"][0] == ("P0", pytest.approx(0.4), pytest.approx(0.7))
    assert flair["better"] == 1 and flair["other_min"] == pytest.approx(0.5)
    # only four patients: "worst five" is the mean of all of them
    assert flair["base_worst_five"] == pytest.approx(np.mean([0.4, 0.5, 0.6, 0.7]))
    text = format_comparison(result)
    assert "| three sequences | 0.6500 | 0.6700 | +0.0200 |" in text
    assert "P0 0.400 -> 0.700" in text
    # one fold: the retraining spread is the measured one-fold figure; five folds: over sqrt(5)
    assert "moved one fold's mean by 0.034" in text and "about 0.034 over 1 fold(s)" in text
    assert "about 0.015 over 5 fold(s)" in retraining_caution(5)


def test_other_folds_are_refused(tmp_path):
    a = write_report(tmp_path / "a", [("P0", 0, 0.8, 0.7), ("P1", 1, 0.8, 0.7)])
    b = write_report(tmp_path / "b", [("P0", 1, 0.8, 0.7), ("P1", 0, 0.8, 0.7)])
    with pytest.raises(BrainsegError, match="other folds"):
        compare_reports(a, b)


def test_cli_writes_markdown_and_refuses_a_folder_without_report(tmp_path, capsys):
    a = write_report(tmp_path / "a", [("P0", 0, 0.8, 0.7), ("P1", 0, 0.6, 0.5)])
    b = write_report(tmp_path / "b", [("P0", 0, 0.9, 0.7), ("P1", 0, 0.6, 0.4)])
    out = tmp_path / "cmp.md"
    assert main(["cv", "compare", str(a), str(b / "report"), "--out", str(out)]) == 0
    assert "| three sequences | 0.7000 | 0.7500 | +0.0500 |" in out.read_text()
    assert main(["cv", "compare", str(a), str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no report/per_patient.csv" in err[0]


def test_the_committed_second_cycle_records_compare_to_their_figures(tmp_path, capsys):
    """cv_records/lgg_v3b holds the second-cycle recipe's five folds and, in stage1/, the records of
    the first cycle each of them started from: rebuilt from the records alone, the paired
    comparison gives the figures of docs/experiments.md."""
    records = tmp_path / "lgg_v3b"
    shutil.copytree(Path(__file__).parents[2] / "cv_records" / "lgg_v3b", records)
    assert main(["cv", "report", "--records", str(records / "stage1")]) == 0
    assert main(["cv", "report", "--records", str(records)]) == 0
    capsys.readouterr()
    result = compare_reports(records / "stage1" / "report", records / "report")
    assert result["patients"] == 80 and result["folds"] == [0, 1, 2, 3, 4]
    three, flair = result["scores"]["dice"], result["scores"]["dice_flair_only"]
    assert round(three["difference"], 3) == 0.022
    assert round(three["difference_ci95"][0], 3) == 0.012
    assert round(flair["difference"], 3) == 0.022
    assert round(flair["difference_ci95"][0], 3) == 0.015

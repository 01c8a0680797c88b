"""The pooled out-of-fold report on hand-made predictions: known Dice, interval and gap."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from brainseg.cli import main
from brainseg.data.volumes import load_clean_volumes
from brainseg.evaluation.crossval import (
    bootstrap_interval,
    read_oof,
    report_from_records,
    save_oof,
    write_cv_report,
)
from brainseg.evaluation.cv_layout import CVFolder
from brainseg.evaluation.evaluate import finite_json


def test_bootstrap_interval_known_values():
    assert bootstrap_interval(np.full(10, 0.8)) == pytest.approx((0.8, 0.8))
    low, high = bootstrap_interval(np.array([0.0, 1.0] * 50), seed=1)
    # the mean of 100 fair coin flips: 0.5 +- 1.96 * 0.05
    assert low == pytest.approx(0.402, abs=0.02) and high == pytest.approx(0.598, abs=0.02)
    assert np.isnan(bootstrap_interval(np.array([0.5]))[0])


def two_fold_split(names: list[str]) -> dict:
    """The synthetic cohort's first four patients held out by fold 0, the rest by fold 1."""
    return {
        "by": "patient",
        "seed": 0,
        "train": [],
        "val": [],
        "test": [],
        "folds": [{"train": names[4:], "val": names[:4]}, {"train": names[:4], "val": names[4:]}],
    }


def test_report_on_known_predictions(synth_root, tmp_path):
    volumes = load_clean_volumes(synth_root)
    names = [v.patient for v in volumes]
    split = two_fold_split(names)
    for i, v in enumerate(volumes):
        truth = v.masks.astype(np.float32)
        # three sequences: perfect on every patient but the last (nothing found);
        # FLAIR alone: perfect on the first half only
        probs = np.zeros_like(truth) if i == len(volumes) - 1 else truth
        flair = truth if i < 4 else np.zeros_like(truth)
        # INT8: like all sequences, but it also misses the first patient
        int8 = np.zeros_like(truth) if i == 0 else probs
        save_oof(tmp_path / f"fold{i // 4}" / "oof" / f"{v.patient}.npz", probs, flair, int8)
    assert sorted(read_oof(CVFolder(tmp_path), 2, "oof")) == sorted(names)
    (tmp_path / "fold0" / "oof" / "timing.json").write_text('{"seconds": 30, "patients": 4}')
    metrics = write_cv_report(synth_root, CVFolder(tmp_path), split, seed=0)
    assert metrics["complete"] and metrics["patients"] == 8
    raw = metrics["all_sequences"]
    assert raw["dice_per_patient_mean"] == pytest.approx(7 / 8)
    assert raw["dice_per_patient_median"] == 1.0 and raw["dice_per_patient_min"] == 0.0
    low, high = raw["dice_per_patient_ci95"]
    assert low < 7 / 8 < high <= 1.0
    assert metrics["flair_only"]["dice_per_patient_mean"] == pytest.approx(0.5)
    assert metrics["flair_only_gap"]["mean"] == pytest.approx(3 / 8)
    assert metrics["int8"]["dice_per_patient_mean"] == pytest.approx(6 / 8)
    assert metrics["int8_change"]["mean"] == pytest.approx(-1 / 8)
    assert metrics["worst_five"][0]["patient"] == names[-1]
    assert metrics["worst_five"][0]["fold"] == 1
    # fold 1 holds the missed patient (three sequences) and the FLAIR-only misses
    assert [b["patients"] for b in metrics["by_fold"]] == [4, 4]
    assert [b["dice_per_patient_mean"] for b in metrics["by_fold"]] == [1.0, 0.75]
    assert [b["flair_only_mean"] for b in metrics["by_fold"]] == [1.0, 0.0]
    picture = tmp_path / "report" / "worst_five.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((Path(tmp_path) / "report" / "metrics.json").read_text())
    assert saved["all_sequences"]["dice_per_patient_mean"] == pytest.approx(7 / 8)
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| three sequences | none | 0.875 |" in report
    assert "fold 1 0.750 / 0.000 (4 patients)" in report
    # the fold records alone rebuild the same figures (no predictions, no data)
    records = tmp_path / "report" / "records"
    assert sorted(p.name for p in records.iterdir()) == ["fold0.json", "fold1.json"]
    # each case's signals of its expected quality, and the fold's time
    fold0, fold1 = (json.loads((records / f"fold{k}.json").read_text()) for k in (0, 1))
    assert fold0["time"] == {"oof_predict": 0.5} and fold1["time"] == {}
    assert metrics["fold_minutes"] == {"0": {"oof_predict": 0.5, "total": 0.5}}
    assert "fold 0 0.5 = 0.5" in report
    perfect = fold0["patients"][names[1]]["inputs"]
    assert perfect["all"]["none"]["signals"]["soft_dice"] == 1.0
    assert perfect["all"]["none"]["signals"]["flair_only"] == 0.0
    assert perfect["flair"]["none"]["signals"]["flair_only"] == 1.0
    assert perfect["all"]["none"]["signals"]["components"] >= 1
    assert fold0["version"] == 4  # version 3: the extent signals; 4: the plan
    assert fold0["plan"] == fold1["plan"] == {"folds": 2, "patients": 8}
    assert 0.0 <= perfect["all"]["none"]["signals"]["ring_bright"] < 0.5
    assert perfect["all"]["none"]["signals"]["contrast"] > 0.0  # the lesion is brighter
    missed = fold1["patients"][names[-1]]["inputs"]["all"]["none"]["signals"]
    assert missed["soft_dice"] == 0.0 and missed["components"] == 0.0
    assert missed["ring_bright"] == 0.0 and missed["contrast"] == 0.0
    rebuilt = report_from_records(records, tmp_path / "rebuilt", seed=0)
    for key in ("all_sequences", "flair_only", "int8", "flair_only_gap", "int8_change"):
        assert rebuilt[key] == metrics[key], key
    for key in ("by_fold", "worst_five", "ablation", "thresholds", "lesion_detection"):
        assert finite_json(rebuilt[key]) == finite_json(metrics[key]), key  # NaN as None
    assert rebuilt["postprocess_chosen_on_oof"] == metrics["postprocess_chosen_on_oof"]
    assert rebuilt["fold_minutes"] == metrics["fold_minutes"]
    assert "| three sequences | none | 0.875 |" in (tmp_path / "rebuilt" / "report.md").read_text()
    assert main(["cv", "report", "--records", str(records)]) == 0
    assert json.loads((records / "report" / "metrics.json").read_text())["patients"] == 8


def test_partial_report_says_so(synth_root, tmp_path):
    volumes = load_clean_volumes(synth_root)
    names = [v.patient for v in volumes]
    split = {
        "folds": [{"train": names[4:], "val": names[:4]}, {"train": names[:4], "val": names[4:]}]
    }
    for v in volumes[:4]:
        path = tmp_path / "fold0" / "oof" / f"{v.patient}.npz"
        save_oof(path, v.masks * 1.0, v.masks * 1.0, v.masks * 1.0)
    # a file of an older version (no INT8 predictions) is not counted: it will be redone
    (tmp_path / "fold1" / "oof").mkdir(parents=True)
    np.savez_compressed(tmp_path / "fold1" / "oof" / f"{names[5]}.npz", prob=volumes[5].masks)
    metrics = write_cv_report(synth_root, CVFolder(tmp_path), split)
    assert not metrics["complete"] and metrics["folds_done"] == [0]
    assert "**Partial:** 4 of 8 patients" in (tmp_path / "report" / "report.md").read_text()


def test_records_of_some_folds_are_reported_as_partial(synth_root, tmp_path):
    """A record says which cross-validation it belongs to: one fold's record alone is a
    partial report; records of older versions are reported with a warning; records of
    different cross-validations are refused."""
    volumes = load_clean_volumes(synth_root)
    names = [v.patient for v in volumes]
    for i, v in enumerate(volumes):
        truth = v.masks.astype(np.float32)
        save_oof(tmp_path / f"fold{i // 4}" / "oof" / f"{v.patient}.npz", truth, truth, truth)
    write_cv_report(synth_root, CVFolder(tmp_path), two_fold_split(names), seed=0)
    records = tmp_path / "report" / "records"
    one = tmp_path / "one"
    one.mkdir()
    (one / "fold1.json").write_text((records / "fold1.json").read_text())
    partial = report_from_records(one, one / "report", seed=0)
    assert not partial["complete"] and partial["folds"] == 2 and partial["folds_done"] == [1]
    assert partial["patients"] == 4 and partial["patients_total"] == 8
    assert "**Partial:** 4 of 8 patients" in (one / "report" / "report.md").read_text()
    # a version-3 record has no plan: reported over its patients, and says so
    old = json.loads((records / "fold1.json").read_text())
    del old["plan"]
    (one / "fold1.json").write_text(json.dumps(old | {"version": 3}))
    assert main(["cv", "report", "--records", str(one)]) == 0
    assert "**Folds unknown:**" in (one / "report" / "report.md").read_text()
    # fold 0 of a 2-fold and fold 1 of a 5-fold cross-validation do not make one report
    other = json.loads((records / "fold0.json").read_text())
    (one / "fold0.json").write_text(json.dumps(other))
    (one / "fold1.json").write_text(json.dumps(old | {"plan": {"folds": 5, "patients": 80}}))
    assert main(["cv", "report", "--records", str(one)]) == 1

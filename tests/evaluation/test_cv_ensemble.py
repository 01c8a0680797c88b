"""Two hand-made cross-validations averaged out of fold: known Dice, shared patients only."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from brainseg.cli import main
from brainseg.data.splits import save_split
from brainseg.data.volumes import load_clean_volumes
from brainseg.errors import BrainsegError
from brainseg.evaluation.crossval import save_oof, write_cv_report
from brainseg.evaluation.cv_ensemble import ensemble_cv
from brainseg.evaluation.cv_layout import CVFolder
from tests.evaluation.test_crossval import two_fold_split


def make_member(folder, data, split, probs_of, stage=5, folds=(0, 1)):
    """A cross-validation folder as ``brainseg cv`` leaves it, with given probabilities."""
    save_split(split, folder / "folds.json")
    (folder / "cv.yaml").write_text(yaml.safe_dump({"data": str(data), "folds": 2}))
    for k in folds:
        for patient in split["folds"][k]["val"]:
            probs = probs_of(patient)
            path = folder / f"fold{k}" / f"stage{stage}" / "oof" / f"{patient}.npz"
            save_oof(path, probs, probs, probs)
    write_cv_report(data, CVFolder(folder), split, oof_dir=f"stage{stage}/oof")


@pytest.fixture(scope="module")
def cohort(synth_root):
    volumes = load_clean_volumes(synth_root)
    names = [v.patient for v in volumes]
    split = two_fold_split(names)
    truth = {v.patient: v.masks.astype(np.float32) for v in volumes}
    assert truth[names[0]].any(), "the first phantom patient needs a lesion for this test"
    return split, truth, names


def test_mean_of_members_is_scored(synth_root, tmp_path, cohort, capsys):
    split, truth, names = cohort
    # member a is sure everywhere; member b misses the first patient, so the mean there
    # (0.8 / 2 = 0.4) falls under the 0.5 threshold and that patient scores 0
    make_member(tmp_path / "a", synth_root, split, lambda p: 0.8 * truth[p])
    make_member(
        tmp_path / "b",
        synth_root,
        split,
        lambda p: 0 * truth[p] if p == names[0] else truth[p],
        stage=3,
    )
    metrics = ensemble_cv([tmp_path / "a", tmp_path / "b"], tmp_path / "ens")
    assert metrics["complete"] and metrics["patients"] == 8
    assert metrics["all_sequences"]["dice_per_patient_mean"] == pytest.approx(7 / 8)
    assert metrics["worst_five"][0]["patient"] == names[0]
    saved = np.load(tmp_path / "ens" / "fold1" / "oof" / f"{names[5]}.npz")
    inside = truth[names[5]] > 0
    assert saved["prob"][inside].min() == 230  # (0.8 + 1.0) / 2 x 255, rounded
    setup = yaml.safe_load((tmp_path / "ens" / "cv_ensemble.yaml").read_text())
    assert setup["members"] == [str(tmp_path / "a"), str(tmp_path / "b")]
    # the ensemble is a cross-validation that cv-compare can pair with a member
    assert main(["cv", "ensemble", str(tmp_path / "a"), str(tmp_path / "b"), "--out",
                 str(tmp_path / "ens2")]) == 0  # fmt: skip
    assert "8 out-of-fold patients, Dice per patient mean 0.8750" in capsys.readouterr().out
    assert main(["cv", "compare", str(tmp_path / "a"), str(tmp_path / "ens2")]) == 0
    assert "| three sequences | 1.0000 | 0.8750 | -0.1250 |" in capsys.readouterr().out


def test_gate_counts_the_others_only_where_the_first_reaches_it(synth_root, tmp_path, cohort):
    split, truth, names = cohort
    # the first member reaches 0.6 in the first patient's lesion, 0.4 elsewhere: with a gate
    # of 0.5 the second member (sure everywhere) counts only on the first patient's slices
    first = {p: (0.6 if p == names[0] else 0.4) * truth[p] for p in names}
    make_member(tmp_path / "a", synth_root, split, lambda p: first[p])
    make_member(tmp_path / "b", synth_root, split, lambda p: truth[p])
    ensemble_cv([tmp_path / "a", tmp_path / "b"], tmp_path / "ens", gate=0.5)
    for patient, inside in ((names[0], 204), (names[5], 51)):  # (153 + 255) / 2, 102 / 2
        fold = 0 if patient in split["folds"][0]["val"] else 1
        saved = np.load(tmp_path / "ens" / f"fold{fold}" / "oof" / f"{patient}.npz")["prob"]
        assert saved[truth[patient] > 0].min() == saved[truth[patient] > 0].max() == inside
    assert yaml.safe_load((tmp_path / "ens" / "cv_ensemble.yaml").read_text())["gate"] == 0.5


def test_only_patients_that_every_member_holds_out(synth_root, tmp_path, cohort):
    split, truth, _ = cohort
    make_member(tmp_path / "a", synth_root, split, lambda p: truth[p])
    make_member(tmp_path / "b", synth_root, split, lambda p: truth[p], folds=(1,))
    metrics = ensemble_cv([tmp_path / "a", tmp_path / "b"], tmp_path / "ens")
    assert not metrics["complete"] and metrics["folds_done"] == [1]
    assert metrics["patients"] == 4 and metrics["all_sequences"]["dice_per_patient_mean"] == 1.0


def test_bad_members_are_refused(synth_root, tmp_path, cohort, capsys):
    split, truth, names = cohort
    make_member(tmp_path / "a", synth_root, split, lambda p: truth[p])
    other = {**split, "folds": list(reversed(split["folds"]))}
    make_member(tmp_path / "b", synth_root, other, lambda p: truth[p])
    with pytest.raises(BrainsegError, match="folds differ"):
        ensemble_cv([tmp_path / "a", tmp_path / "b"], tmp_path / "ens")
    make_member(tmp_path / "c", synth_root, split, lambda p: truth[p])
    small = truth[names[0]][:, ::2]
    save_oof(tmp_path / "c" / "fold0" / "stage5" / "oof" / f"{names[0]}.npz", small, small, small)
    with pytest.raises(BrainsegError, match="shape"):
        ensemble_cv([tmp_path / "a", tmp_path / "c"], tmp_path / "ens")
    with pytest.raises(BrainsegError, match="is one of the members"):
        ensemble_cv([tmp_path / "a", tmp_path / "c"], tmp_path / "a")
    (tmp_path / "d").mkdir()
    assert main(["cv", "ensemble", str(tmp_path / "a"), str(tmp_path / "d"), "--out",
                 str(tmp_path / "ens")]) != 0  # fmt: skip
    err = capsys.readouterr().err
    assert "folds.json" in err and "Traceback" not in err

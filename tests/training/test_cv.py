"""``brainseg cv`` end to end on tiny synthetic data: folds, stages, resume and the report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import yaml

from brainseg.cli import main
from brainseg.training.stages import stage_done
from tests.conftest import TINY_CONFIG


def _cv(data: Path, out: Path) -> list[str]:
    """The start of a ``brainseg cv run`` command line."""
    return ["cv", "run", "--data", str(data), "--out", str(out)]


def _stage_configs(tmp_path: Path) -> list[str]:
    first = {k: dict(v) for k, v in TINY_CONFIG.items()}
    first["train"].update(epochs=1)
    second = {"extends": "stage1.yaml", "seed": 7, "train": {"lr": 1e-3, "epochs": 1}}
    (tmp_path / "stage1.yaml").write_text(yaml.safe_dump(first))
    (tmp_path / "stage2.yaml").write_text(yaml.safe_dump(second))
    return ["--config", str(tmp_path / "stage1.yaml"), "--config", str(tmp_path / "stage2.yaml")]


def test_cv_trains_every_fold_and_pools_out_of_fold(synth_root, tmp_path, capsys):
    out = tmp_path / "cv"
    args = [*_cv(synth_root, out), "--folds", "4", *_stage_configs(tmp_path)]
    assert main([*args, "--fold", "2"]) == 0
    assert "partial: folds [2]" in capsys.readouterr().out
    assert not (out / "fold0").exists()
    assert main(args) == 1  # a second start must not overwrite the first
    assert "already holds a cross-validation" in capsys.readouterr().err
    assert main([*_cv(synth_root, out), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "8 out-of-fold patients, Dice" in printed and "partial" not in printed

    folds = json.loads((out / "folds.json").read_text())["folds"]
    held_out = [p for f in folds for p in f["val"]]
    assert sorted(held_out) == sorted(p.name for p in synth_root.iterdir() if p.is_dir())
    for k, fold in enumerate(folds):
        assert not set(fold["train"]) & set(fold["val"])
        split = json.loads((out / f"fold{k}" / "split.json").read_text())
        assert split["val"] == fold["val"] and split["test"] == []
        assert stage_done(out / f"fold{k}" / "stage1") and stage_done(out / f"fold{k}" / "stage2")
        second = yaml.safe_load((out / f"fold{k}" / "stage2" / "config.yaml").read_text())
        assert second["seed"] == 7 and second["train"]["init_weights"].endswith("stage1/last.ckpt")
        saved = sorted(p.stem for p in (out / f"fold{k}" / "stage2" / "oof").glob("*.npz"))
        assert saved == sorted(fold["val"])
    with np.load(next((out / "fold0" / "stage2" / "oof").glob("*.npz"))) as oof:
        assert oof["prob"].dtype == np.uint8 and oof["prob"].shape == oof["prob_flair"].shape
        assert oof["prob"].shape[1:] == (64, 64) and oof["prob_int8"].shape == oof["prob"].shape
    assert (out / "fold0" / "stage2" / "model.int8.onnx").exists()
    assert not (out / "fold0" / "stage1" / "oof").exists()  # only the last stage is scored

    with open(out / "report" / "per_patient.csv") as handle:
        rows = list(csv.DictReader(handle))
    fold_of = {p: str(k) for k, f in enumerate(folds) for p in f["val"]}
    assert {r["patient"]: r["fold"] for r in rows} == fold_of
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert (
        metrics["complete"] and metrics["patients"] == 8 and metrics["folds_done"] == [0, 1, 2, 3]
    )
    dice = [float(r["dice"]) for r in rows]
    chosen = metrics["all_sequences_postprocessed"]
    assert abs(chosen["dice_per_patient_mean"] - np.mean(dice)) < 1e-5
    for name in ("report.md", "report.html", "ablation.csv", "worst_five.png"):
        assert (out / "report" / name).exists()

    # a finished cross-validation resumes to the same report, training nothing
    before = (out / "fold1" / "stage2" / "last.ckpt").stat().st_mtime_ns
    assert main([*_cv(synth_root, out), "--resume"]) == 0
    assert (out / "fold1" / "stage2" / "last.ckpt").stat().st_mtime_ns == before
    assert "cv: fold" not in capsys.readouterr().err


def test_cv_refuses_a_different_setup_on_resume(synth_root, tmp_path, capsys):
    out = tmp_path / "cv"
    stages = _stage_configs(tmp_path)[:2]
    assert main([*_cv(synth_root, out), "--folds", "2", *stages, "--fold", "0"]) == 0
    capsys.readouterr()
    assert main([*_cv(synth_root, out), "--folds", "3", "--resume"]) == 1
    assert "folds 2, not 3" in capsys.readouterr().err
    assert main([*_cv(synth_root, out), *stages, "--fold", "0"]) == 1
    assert "add --resume to continue fold 0" in capsys.readouterr().err
    # another job may start another fold of the same set-up without --resume (parallel runs)
    assert main([*_cv(synth_root, out), "--folds", "2", *stages, "--fold", "1"]) == 0
    assert "2 out-of-fold patients" not in capsys.readouterr().out
    assert main([*_cv(synth_root, out), "--resume", "--fold", "5"]) == 1
    assert "--fold 5 is not between 0 and 1" in capsys.readouterr().err
    # --resume with nothing to resume starts afresh (here refused at once for its --fold)
    none = tmp_path / "none"
    assert main([*_cv(synth_root, none), "--resume", "--fold", "9"]) == 1
    err = capsys.readouterr().err
    assert "nothing to resume yet (no folds.json): starting from the beginning" in err
    assert "--fold 9 is not between 0 and 4" in err and not none.exists()


def test_cv_recipe_extended_by_a_stage_and_an_earlier_stage_scored(synth_root, tmp_path, capsys):
    out = tmp_path / "cv"
    both = _stage_configs(tmp_path)
    first = [*_cv(synth_root, out), "--folds", "2"]
    assert main([*first, *both[:2]]) == 0
    one_stage = json.loads((out / "report" / "metrics.json").read_text())
    assert one_stage["predictions"] == "fold<k>/stage1/oof"
    before = (out / "fold0" / "stage1" / "last.ckpt").stat().st_mtime_ns
    # appending a stage together with another change is refused and changes nothing
    assert main([*_cv(synth_root, out), "--resume", *both, "--seed", "3"]) == 1
    assert "seed 42, not 3" in capsys.readouterr().err
    assert len(yaml.safe_load((out / "cv.yaml").read_text())["stages"]) == 1
    # the saved stage, then a new one: each fold continues from its last weights
    assert main([*_cv(synth_root, out), "--resume", *both]) == 0
    assert "recipe extended to 2 stages" in capsys.readouterr().err
    assert (out / "fold0" / "stage1" / "last.ckpt").stat().st_mtime_ns == before
    second = yaml.safe_load((out / "fold1" / "stage2" / "config.yaml").read_text())
    assert second["train"]["init_weights"].endswith("fold1/stage1/last.ckpt")
    assert len(yaml.safe_load((out / "cv.yaml").read_text())["stages"]) == 2
    assert (out / "recipe" / "stage2.yaml").exists()
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert metrics["predictions"] == "fold<k>/stage2/oof" and metrics["complete"]
    kept = json.loads((out / "report_stage1" / "metrics.json").read_text())
    assert kept == one_stage  # the one-stage report is kept for the comparison
    # --stage 1 scores the first stage's weights again, training nothing
    (out / "report_stage1" / "metrics.json").unlink()
    assert main(["cv", "report", str(out), "--stage", "1"]) == 0
    assert "report_stage1/report.md" in capsys.readouterr().out
    again = json.loads((out / "report_stage1" / "metrics.json").read_text())
    assert again["all_sequences"] == one_stage["all_sequences"]
    assert (out / "fold1" / "stage2" / "last.ckpt").stat().st_mtime_ns > before
    assert main(["cv", "report", str(out), "--stage", "3"]) == 1
    assert "--stage 3 is not between 1 and 2" in capsys.readouterr().err
    # a recipe that changes a saved stage (not only appends) is still refused
    assert main([*_cv(synth_root, out), "--resume", *both[2:]]) == 1
    assert "stages" in capsys.readouterr().err


def test_parse_overrides_known_values():
    import pytest

    from brainseg.commands import parse_overrides
    from brainseg.errors import BrainsegError

    got = parse_overrides(
        ["data.context=1", "loss.dice_per_slice=true", "data.tumor_sampling=area"]
    )
    assert got == {
        "data": {"context": 1, "tumor_sampling": "area"},
        "loss": {"dice_per_slice": True},
    }
    for bad in ("data.context", "=1", "data..context=1"):
        with pytest.raises(BrainsegError, match="expected KEY=VALUE"):
            parse_overrides([bad])


def test_cv_lever_set_in_every_stage_and_kept_on_resume(synth_root, tmp_path, capsys):
    out = tmp_path / "cv"
    stages = _stage_configs(tmp_path)
    lever = ["--set", "augment.skull_strip=0.5"]
    args = [*_cv(synth_root, out), "--folds", "2", *stages, *lever]
    assert main([*args, "--fold", "0"]) == 0
    for n in (1, 2):
        config = yaml.safe_load((out / "fold0" / f"stage{n}" / "config.yaml").read_text())
        assert config["augment"]["skull_strip"] == 0.5
    assert yaml.safe_load((out / "cv.yaml").read_text())["overrides"] == {
        "augment": {"skull_strip": 0.5}
    }
    capsys.readouterr()
    resume = [*_cv(synth_root, out), "--resume"]
    assert main([*resume, "--set", "augment.skull_strip=0.2"]) == 1
    assert "overrides" in capsys.readouterr().err
    assert main([*resume, "--fold", "1"]) == 0  # the saved lever applies
    config = yaml.safe_load((out / "fold1" / "stage1" / "config.yaml").read_text())
    assert config["augment"]["skull_strip"] == 0.5

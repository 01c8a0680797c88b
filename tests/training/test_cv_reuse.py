"""``brainseg cv --reuse``: the same leading stages are linked, not retrained; the rest trains."""

from __future__ import annotations

import yaml

from brainseg.cli import main
from tests.training.test_cv import _stage_configs


def test_cv_reuse_links_the_same_leading_stages_and_trains_the_rest(synth_root, tmp_path, capsys):
    old, new = tmp_path / "cv", tmp_path / "variant"
    stages = _stage_configs(tmp_path)
    assert (
        main(["cv", "run", "--data", str(synth_root), "--out", str(old), "--folds", "2", *stages])
        == 0
    )
    variant = {"extends": "stage1.yaml", "seed": 8, "train": {"lr": 1e-3, "epochs": 1}}
    (tmp_path / "variant2.yaml").write_text(yaml.safe_dump(variant))
    args = ["cv", "run", "--data", str(synth_root), "--out", str(new), "--folds", "2", *stages[:2]]
    args += ["--config", str(tmp_path / "variant2.yaml"), "--reuse", str(old)]
    capsys.readouterr()
    assert main([*args, "--fold", "0"]) == 0
    assert "cv: fold 0: stages [1] reused from" in capsys.readouterr().err
    first, second = (new / "fold0" / f"stage{n}" / "last.ckpt" for n in (1, 2))
    assert first.samefile(old / "fold0" / "stage1" / "last.ckpt")  # a hard link, not retrained
    assert not second.samefile(old / "fold0" / "stage2" / "last.ckpt")
    config = yaml.safe_load((new / "fold0" / "stage2" / "config.yaml").read_text())
    assert config["seed"] == 8 and config["train"]["init_weights"] == str(first)
    assert not (new / "fold1").exists()
    reused = yaml.safe_load((new / "cv.yaml").read_text())["reused"]
    assert reused == {"from": str(old.resolve()), "stages": {"fold0": [1]}}
    # a fold started later by --resume is linked from the recorded source too
    assert (
        main(["cv", "run", "--data", str(synth_root), "--out", str(new), "--resume", "--fold", "1"])
        == 0
    )
    assert "stages still reused from" in capsys.readouterr().err
    assert (new / "fold1" / "stage1" / "last.ckpt").samefile(old / "fold1" / "stage1" / "last.ckpt")
    reused = yaml.safe_load((new / "cv.yaml").read_text())["reused"]
    assert reused["stages"] == {"fold0": [1], "fold1": [1]}
    # another fold assignment cannot reuse anything
    other = [
        "cv",
        "run",
        "--data",
        str(synth_root),
        "--out",
        str(tmp_path / "three"),
        "--folds",
        "3",
    ]
    assert main([*other, *stages, "--reuse", str(old)]) == 1
    assert "its folds differ (2 folds, seed 42; here 3, seed 42)" in capsys.readouterr().err
    assert not (tmp_path / "three").exists()  # refused before anything was written


def test_cv_reuse_of_a_folder_that_is_no_cross_validation_is_refused(synth_root, tmp_path, capsys):
    stages = _stage_configs(tmp_path)
    out = tmp_path / "variant"
    args = ["cv", "run", "--data", str(synth_root), "--out", str(out), "--folds", "2", *stages]
    assert main([*args, "--reuse", str(tmp_path)]) == 1
    assert "not another cross-validation folder (no cv.yaml)" in capsys.readouterr().err
    assert not out.exists()

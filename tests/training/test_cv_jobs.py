"""``brainseg cv --jobs``: folds as processes side by side, pinned, logged, resumable."""

from __future__ import annotations

import json

from brainseg.cli import main
from brainseg.cores import available_cores
from brainseg.killpoints import KILL_ENV
from brainseg.training.cv_jobs import core_shares, visible_gpus
from brainseg.training.stages import stage_done
from tests.training.test_cv import _stage_configs


def test_cores_are_shared_out_evenly_and_never_twice():
    assert core_shares(5, list(range(16))) == [
        [0, 1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
        [10, 11, 12],
        [13, 14, 15],
    ]
    assert core_shares(5, [0, 1]) == [[0], [1]]  # no more jobs than cores
    assert core_shares(1, [2, 3]) == [[2, 3]]


def test_the_gpus_given_out_are_those_cuda_visible_devices_lists(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert visible_gpus() == ["2", "3"]
    for hidden in ("", "-1"):  # the usual ways of hiding every GPU
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert visible_gpus() == []


def test_folds_run_side_by_side_and_a_failed_one_resumes(synth_root, tmp_path, capsys, monkeypatch):
    out = tmp_path / "cv"
    args = [
        "cv",
        "run",
        "--data",
        str(synth_root),
        "--out",
        str(out),
        "--folds",
        "2",
        "--jobs",
        "2",
    ]
    # Every fold process is killed in its first epoch: the command fails and says where.
    monkeypatch.setenv(KILL_ENV, "train:0:1")
    assert main([*args, *_stage_configs(tmp_path)]) == 1
    err = capsys.readouterr().err
    for k in (0, 1):
        assert f"fold {k} failed (exit -9" in err and f"fold{k}/cv.log" in err
    assert "--resume continues them" in err
    first = core_shares(2, available_cores())[0]
    where = f"core {first[0]}" if len(first) == 1 else f"cores {first[0]}-{first[-1]}"
    assert f"fold 0 started ({where})" in err

    monkeypatch.delenv(KILL_ENV)
    assert main([*args, "--resume"]) == 0
    printed = capsys.readouterr()
    assert "8 out-of-fold patients" in printed.out and "partial" not in printed.out
    assert "fold 0 finished" in printed.err and "fold 1 finished" in printed.err
    for k in (0, 1):
        assert stage_done(out / f"fold{k}" / "stage2")
        assert "cv: fold" in (out / f"fold{k}" / "cv.log").read_text()
        held_out = json.loads((out / f"fold{k}" / "split.json").read_text())["val"]
        assert sorted(
            p.stem for p in (out / f"fold{k}" / "stage2" / "oof").glob("*.npz")
        ) == sorted(held_out)
    # the fold processes wrote no report of their own; the command wrote one for both
    metrics = json.loads((out / "report" / "metrics.json").read_text())
    assert metrics["complete"] and metrics["patients"] == 8


def test_jobs_must_be_positive(synth_root, tmp_path, capsys):
    assert (
        main(["cv", "run", "--data", str(synth_root), "--out", str(tmp_path / "cv"), "--jobs", "0"])
        == 1
    )
    assert "--jobs 0 must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "cv").exists()  # refused before the set-up is written

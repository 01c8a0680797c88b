"""A recipe of chained stages in one ``brainseg train``: init weights, resume, refusal."""

from __future__ import annotations

from pathlib import Path

import yaml

from brainseg.cli import main
from brainseg.training.stages import stage_done
from tests.conftest import TINY_CONFIG


def _configs(tmp_path: Path) -> list[str]:
    first = {k: dict(v) for k, v in TINY_CONFIG.items()}
    first["train"].update(epochs=1)
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(first))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({"extends": "a.yaml", "seed": 9}))
    return ["--config", str(tmp_path / "a.yaml"), "--config", str(tmp_path / "b.yaml")]


def test_train_chains_stages_and_resumes(synth_root, tmp_path, capsys):
    out = tmp_path / "recipe"
    args = ["train", "--data", str(synth_root), "--out", str(out), *_configs(tmp_path)]
    assert main(args) == 0
    assert "2 stages, final weights" in capsys.readouterr().out
    assert stage_done(out / "stage1") and stage_done(out / "stage2")
    second = yaml.safe_load((out / "stage2" / "config.yaml").read_text())
    assert second["seed"] == 9
    assert second["train"]["init_weights"] == str(out / "stage1" / "last.ckpt")
    assert main(args) == 1
    assert "already holds a recipe run; use --resume" in capsys.readouterr().err
    before = (out / "stage2" / "last.ckpt").stat().st_mtime_ns
    assert main([*args, "--resume"]) == 0  # everything is done: nothing is trained again
    assert (out / "stage2" / "last.ckpt").stat().st_mtime_ns == before
    assert "stage" not in capsys.readouterr().err

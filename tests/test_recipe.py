"""Recipes as data: the shipped recipe reads on its own and matches its configs; a recipe
trains its stages and further members and bundles them, by the same commands as the
shipped model (``make retrain-lgg``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from brainseg.cli import main
from brainseg.errors import BrainsegError
from brainseg.models.files import load_model_file
from brainseg.recipe import load_recipe
from tests.conftest import TINY_CONFIG

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_recipe():
    recipe = load_recipe(ROOT / "recipes" / "lgg_v2.1.yaml")
    assert (recipe.name, recipe.version, recipe.gate) == ("brainseg-lgg-unet16", "2.1", 0.01)
    assert [p.name for p in recipe.stage_configs] == [
        "lgg_v2.yaml",
        *(f"lgg_v2_stage{n}.yaml" for n in range(2, 6)),
    ]
    assert [m.resolution for m in recipe.members] == [128, 256]
    assert recipe.member_runs(Path("R")) == [Path("R/stage5"), Path("R/member2")]
    assert recipe.postprocess == "small+rel:25" and recipe.split_path.exists()
    assert load_recipe(ROOT / "recipes" / "archive" / "lgg_v1.2.yaml").version == "1.2"


def _write(tmp_path: Path, **changes) -> Path:
    stage1 = {k: dict(v) for k, v in TINY_CONFIG.items()}
    stage1["train"].update(epochs=1, max_train_batches=2)
    (tmp_path / "s1.yaml").write_text(yaml.safe_dump(stage1))
    (tmp_path / "s2.yaml").write_text("extends: s1.yaml\nseed: 7\n")
    (tmp_path / "big.yaml").write_text("extends: s1.yaml\ndata:\n  resolution: 32\n")
    recipe = {
        "name": "tiny",
        "version": "0.1",
        "stages": ["s1.yaml", "s2.yaml"],
        "members": [
            {"stage": 2, "resolution": 64},
            {"config": "big.yaml", "from_stage": 1, "resolution": 32},
        ],
        "gate": 0.01,
        "postprocess": "small",
    } | changes
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_a_recipe_that_contradicts_its_configs_is_refused(tmp_path):
    path = _write(tmp_path, members=[{"stage": 2, "resolution": 128}], gate=None)
    with pytest.raises(BrainsegError, match="trains at 64"):
        load_recipe(path)
    path = _write(tmp_path, members=[{"stage": 3, "resolution": 64}], gate=None)
    with pytest.raises(BrainsegError, match="names stage 3 of 2"):
        load_recipe(path)
    with pytest.raises(BrainsegError, match="unknown key"):
        load_recipe(_write(tmp_path, stagez=[]))


def test_train_then_bundle_a_recipe(synth_root, tmp_path, capsys):
    recipe, run, bundle = _write(tmp_path), tmp_path / "run", tmp_path / "model.pt"
    args = ["train", "--recipe", str(recipe), "--data", str(synth_root), "--out", str(run)]
    assert main(args) == 0
    capsys.readouterr()
    member = yaml.safe_load((run / "member2" / "config.yaml").read_text())
    assert member["train"]["init_weights"] == str(run / "stage1" / "last.ckpt")
    assert member["data"]["resolution"] == 32
    assert main(args) == 0  # the same command again: everything is done, nothing retrains
    assert "training" not in capsys.readouterr().err
    assert main(["bundle", "--recipe", str(recipe), "--runs", str(run), "--out", str(bundle)]) == 0
    config, _, meta = load_model_file(bundle)
    assert (meta["name"], meta["version"]) == ("tiny", "0.1")
    assert config.model.members == 2 and config.model.member_gate == 0.01
    assert config.model.member_resolutions == (64, 32) and config.inference.postprocess == "small"


def test_a_recipe_names_a_calibration_file_that_exists(tmp_path):
    shipped = Path(__file__).resolve().parents[1] / "recipes" / "lgg_v2.1.yaml"
    text = shipped.read_text().replace("../", str(shipped.parents[1]) + "/")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(text + "calibration: missing.json\n")
    with pytest.raises(BrainsegError, match="calibration missing.json is not a file"):
        load_recipe(recipe)
    (tmp_path / "missing.json").write_text("{}")
    assert load_recipe(recipe).calibration == "missing.json"

"""``make retrain-lgg`` and ``make cv-lgg`` chain exactly the recipe's numbered stages."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
V2_STAGES = [
    "configs/lgg_v2.yaml",
    *(f"configs/lgg_v2_stage{n}.yaml" for n in range(2, 6)),
]


def planned_configs(target: str, *variables: str) -> list[str]:
    """The --config files that ``make -n TARGET`` would pass to its first brainseg call."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    plan = subprocess.run(
        ["make", "-n", target, *variables], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.replace("\\\n", " ")
    line = next(line for line in plan.splitlines() if "--config" in line)
    return re.findall(r"--config (\S+)", line)


@pytest.mark.parametrize("target", ["retrain-lgg", "cv-lgg"])
def test_screened_stage_variants_are_not_chained(target):
    # configs/lgg_v2_stage5_256.yaml and the like are variants of stage 5, not stages 6-8
    assert (ROOT / "configs" / "lgg_v2_stage5_256.yaml").exists()
    assert planned_configs(target) == V2_STAGES


def test_the_v12_recipe_has_four_stages():
    assert planned_configs("retrain-lgg", "RECIPE=lgg") == [
        "configs/lgg.yaml",
        *(f"configs/lgg_stage{n}.yaml" for n in range(2, 5)),
    ]


def test_retrain_lgg_trains_and_gates_the_second_member():
    """v2.1: a 256-px stage 5 from the same stage 4, bundled with the 128-px one, gated."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    plan = subprocess.run(
        ["make", "-n", "retrain-lgg", "TRAIN_ARGS=--resume"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.replace("\\\n", " ")
    train_second = next(line for line in plan.splitlines() if "runs/lgg_v2_second " in line)
    assert "--init-weights runs/lgg_v2/stage4/last.ckpt" in train_second
    assert "--config configs/lgg_v2_stage5_256_long.yaml" in train_second
    assert "--resume" not in train_second  # nothing to resume from in a fresh checkout
    bundle = next(line for line in plan.splitlines() if " bundle " in line)
    assert "runs/lgg_v2/stage5/last.ckpt runs/lgg_v2_second/last.ckpt --gate 0.01" in bundle
